"""The stress run's delivery workers: `deskwoot worker` processes beside the server, on the
same database and with the server's environment, tuned so a killed worker's rows come back
within the run (a short lease, a short backoff).

Each worker has a slot; the chaos kills a slot's process with SIGKILL and starts a new one
in its place. `owner_of` finds which worker holds a TCP connection, so a receiver can name
the worker that is delivering to it. Their output accumulates in one log, for the traceback
check.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from stress.server import ROOT

# Short enough that a killed worker's claimed rows are delivered again within the run.
WORKER_SETTINGS = {
    "DESKWOOT_DELIVERY_LEASE": "5",
    "DESKWOOT_DELIVERY_BACKOFF_BASE": "0.2",
    "DESKWOOT_DELIVERY_BACKOFF_CAP": "2",
    "DESKWOOT_DELIVERY_POLL_INTERVAL": "0.2",
    # A small batch: the lease must outlast a batch even on a loaded machine, or a second
    # worker takes rows over from a live one and sends them again.
    "DESKWOOT_DELIVERY_BATCH": "3",
    "DESKWOOT_MAIL_TIMEOUT": "10",
    "DESKWOOT_WEBHOOK_TIMEOUT": "10",
}
STOP_TIMEOUT = 30  # seconds a SIGTERM'd worker may take to finish its delivery
WORKER_ARGV = (sys.executable, "-c", "from deskwoot.cli import main; main()", "worker")


@dataclass
class Stopped:
    slot: int
    pid: int
    returncode: int | None  # None: it had to be killed


class WorkerPool:
    def __init__(
        self, env: dict[str, str], count: int, log: Path, argv: tuple[str, ...] = WORKER_ARGV
    ):
        self.env = {**env, **WORKER_SETTINGS}
        self.log = log
        self.argv = list(argv)
        self._lock = threading.Lock()
        self._slots: list[subprocess.Popen | None] = [None] * count
        self.started = 0

    def start(self) -> WorkerPool:
        for slot in range(len(self._slots)):
            self.restart(slot)
        return self

    def restart(self, slot: int) -> int:
        """Start a worker in `slot` (whose process must be gone); its pid."""
        with self.log.open("ab") as out:
            process = subprocess.Popen(  # noqa: S603 - deskwoot worker (tests: a stand-in)
                self.argv,
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        with self._lock:
            self._slots[slot] = process
            self.started += 1
        return process.pid

    def pids(self) -> dict[int, int]:
        """pid -> slot of the live workers."""
        with self._lock:
            return {
                p.pid: slot
                for slot, p in enumerate(self._slots)
                if p is not None and p.poll() is None
            }

    def kill(self, pid: int) -> int | None:
        """SIGKILL the live worker `pid`; its slot, or None when it is not a live worker."""
        with self._lock:
            for slot, process in enumerate(self._slots):
                if process is not None and process.pid == pid and process.poll() is None:
                    process.kill()
                    process.wait()
                    return slot
        return None

    def kill_any(self, rng: random.Random) -> tuple[int, int] | None:
        """SIGKILL a random live worker; (slot, pid)."""
        live = sorted(self.pids())
        if not live:
            return None
        pid = rng.choice(live)
        slot = self.kill(pid)
        return None if slot is None else (slot, pid)

    def revive(self) -> int:
        """Start a worker in every slot whose process is gone; how many were started."""
        with self._lock:
            dead = [s for s, p in enumerate(self._slots) if p is None or p.poll() is not None]
        for slot in dead:
            self.restart(slot)
        return len(dead)

    def stop(self, wait_started: bool = True) -> list[Stopped]:
        """SIGTERM every worker and wait (the graceful stop the README promises).

        A worker revived just before the end may still be starting Python: until it has said
        "started" it has no SIGTERM handler yet, and the signal's default action would end
        it with -15 — harmless (it holds no claim) but not the graceful stop under test. So
        each is given until then (at most STOP_TIMEOUT) to come up first, unless
        `wait_started` is False (stand-ins that never say it)."""
        with self._lock:
            running = [(s, p) for s, p in enumerate(self._slots) if p is not None]
        deadline = time.monotonic() + STOP_TIMEOUT
        for _slot, process in running:
            while wait_started and process.poll() is None and time.monotonic() < deadline:
                if f":{process.pid}:" in self._started_lines():
                    break
                time.sleep(0.1)
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        stopped = []
        for slot, process in running:
            try:
                code = process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                code = None
            stopped.append(Stopped(slot, process.pid, code))
        return stopped

    def _started_lines(self) -> str:
        return "\n".join(
            line for line in self.log_text().splitlines() if line.startswith("Delivery worker")
        )

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def owner_of(self, local_port: int, remote_port: int) -> int | None:
        """The pid of the live worker holding the loopback TCP connection from `local_port`
        to `remote_port` (read from /proc), or None."""
        inode = _socket_inode(local_port, remote_port)
        if inode is None:
            return None
        wanted = f"socket:[{inode}]"
        for pid in self.pids():
            try:
                for fd in os.listdir(f"/proc/{pid}/fd"):
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == wanted:
                        return pid
            except OSError:
                continue  # it exited meanwhile
        return None


def _socket_inode(local_port: int, remote_port: int) -> str | None:
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, remote, inode = fields[1], fields[2], fields[9]
            if (
                int(local.rsplit(":", 1)[1], 16) == local_port
                and int(remote.rsplit(":", 1)[1], 16) == remote_port
                and inode != "0"
            ):
                return inode
    return None


def wait_until(condition, timeout: float, step: float = 0.2) -> float | None:
    """Seconds until `condition()` held, or None after `timeout`."""
    started = time.monotonic()
    while True:
        if condition():
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            return None
        time.sleep(step)
