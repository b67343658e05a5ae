"""A real Deskwoot under gunicorn (several workers) on a throwaway database, for MCP tests."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx2

ROOT = Path(__file__).resolve().parents[2]


class LiveServer:
    def __init__(self, process: subprocess.Popen, url: str, log: Path):
        self.process = process
        self.base_url = url
        self.mcp_url = url + "/api/mcp"
        self.log = log

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def gunicorn(database_url: str, tmp: Path, workers: int = 2, env: dict | None = None):
    """Start `gunicorn deskwoot.wsgi:create()` on a free loopback port; stop it afterwards."""
    log = tmp / "gunicorn.log"
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DESKWOOT_SECRET_KEY": "test-secret-key",
        "DESKWOOT_PUBLIC_URL": "http://127.0.0.1",
        **(env or {}),
    }
    environment.pop("DESKWOOT_TEST_DATABASE_URL", None)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--workers",
                str(workers),
                "--bind",
                "127.0.0.1:0",
                "--access-logfile",
                "-",
                "--graceful-timeout",
                "2",
                "--preload",
                "deskwoot.wsgi:create()",
            ],
            cwd=tmp,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        url = _wait_for_listen(process, log)
        _wait_for_workers(url, workers)
        yield LiveServer(process, url, log)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_listen(process: subprocess.Popen, log: Path, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace") if log.exists() else ""
        match = re.search(r"Listening at: (http://127\.0\.0\.1:\d+)", text)
        if match:
            return match.group(1)
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited early:\n{text}")
        time.sleep(0.05)
    raise RuntimeError(f"gunicorn did not start:\n{log.read_text(errors='replace')}")


def _wait_for_workers(url: str, workers: int, timeout: float = 30) -> None:
    """Wait until the app answers (workers import the app lazily)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx2.get(url + "/login", timeout=2).status_code < 500:
                return
        except httpx2.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the app never answered")
