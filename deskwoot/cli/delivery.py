"""`deskwoot worker`: the delivery worker (deskwoot/delivery/), and its gunicorn companion.

`deskwoot serve` runs one worker beside gunicorn: gunicorn loads this module as a config
(`-c python:deskwoot.cli.delivery`), so its `on_starting` hook starts `deskwoot worker` and
its `on_exit` hook stops it when gunicorn stops. That worker also leaves if gunicorn's
master dies without running the hook (kill -9): it watches its parent process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import click
from flask import current_app
from flask.cli import with_appcontext

from deskwoot.cli.common import operation
from deskwoot.delivery.worker import Worker

PARENT_ENV = "DESKWOOT_WORKER_PARENT"
STOP_TIMEOUT = 30  # seconds gunicorn's exit waits for the worker's delivery under way


@click.command("worker")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit (tests, cron).")
@with_appcontext
@operation
def worker(once: bool) -> None:
    """Deliver outgoing messages (API webhooks) until stopped with SIGTERM or Ctrl-C."""
    runner = Worker(current_app._get_current_object())

    def stop(signum, frame) -> None:
        runner.stop.set()  # the delivery under way finishes; the rest of the batch goes back

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    parent = os.environ.get(PARENT_ENV)
    if parent and parent.isdigit():
        _leave_with_parent(int(parent), runner.stop)
    try:
        if not once:
            # Flushed: a supervisor (or make stress) reading a redirected log learns at once
            # that the worker is up and handles SIGTERM.
            click.echo(f"Delivery worker {runner.name} started.")
            sys.stdout.flush()
        handled = runner.run(once=once)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo(f"Delivery worker {runner.name} stopped after {handled} deliveries.")


def _leave_with_parent(parent_pid: int, stop: threading.Event) -> None:
    def watch() -> None:
        while not stop.wait(1.0):
            if os.getppid() != parent_pid:
                stop.set()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


# --- gunicorn hooks (`deskwoot serve` passes this module as a gunicorn config) -------------

_companion: subprocess.Popen | None = None


def on_starting(server) -> None:
    global _companion
    env = {**os.environ, PARENT_ENV: str(os.getpid())}
    _companion = subprocess.Popen(
        [sys.executable, "-c", "from deskwoot.cli import main; main()", "worker"], env=env
    )


def on_exit(server) -> None:
    if _companion is None or _companion.poll() is not None:
        return
    _companion.send_signal(signal.SIGTERM)
    try:
        _companion.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        _companion.kill()
