"""Deskwoot under gunicorn for the stress run, and the crash that takes all of it down.

The server runs with the benchmark's (and the README's) settings: sync workers, loopback
bind, no access log. It gets its own process group, so `kill -9` reaches the master and
every worker at once, like a power cut of the service; it restarts on the same port and the
same database. Its output accumulates in one log across restarts, for the "database is
locked" and traceback greps.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx2

from bench.servers import free_port, gunicorn_argv

ROOT = Path(__file__).resolve().parents[1]
READY_TIMEOUT = 90


def unthrottled_settings() -> dict[str, str]:
    """Lift the per-token MCP rate limit far above the load instead of turning it off: the
    harness's one token carries the calls of 64 agents, and the limiter's bookkeeping (one
    UPDATE of the token row per call) stays on the path being stressed."""
    from deskwoot.config import DEFAULTS

    if "MCP_RATE_LIMIT" not in DEFAULTS:
        return {}
    return {"DESKWOOT_MCP_RATE_LIMIT": "1000000000", "DESKWOOT_MCP_RATE_BURST": "1000000000"}


class StressServer:
    def __init__(self, database_url: str, workers: int, log: Path, secret_key: str):
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.mcp_url = self.base_url + "/api/mcp"
        self.workers = workers
        self.log = log
        self.process: subprocess.Popen | None = None
        # The suite's database settings must not leak in; the rate limit must not bite.
        inherited = {
            k: v for k, v in os.environ.items() if not k.startswith(("DESKWOOT_", "DATABASE_URL"))
        }
        self.env = {
            **inherited,
            "DATABASE_URL": database_url,
            "DESKWOOT_SECRET_KEY": secret_key,
            "DESKWOOT_PUBLIC_URL": self.base_url,
            **unthrottled_settings(),
        }

    def start(self) -> None:
        """Start gunicorn (not waiting for it: see wait_ready)."""
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(  # noqa: S603 - our own fixed command line
                gunicorn_argv("deskwoot.wsgi:create()", self.port, self.workers),
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: one killpg takes all of it
            )

    def wait_ready(self, token: str) -> float:
        """Wait until a tools/call is answered; returns the seconds it took."""
        started = time.monotonic()
        body = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": "whoami", "arguments": {}},
        }
        headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            "MCP-Protocol-Version": "2025-11-25",
            "X-Request-Id": "stress-probe",
        }
        while time.monotonic() - started < READY_TIMEOUT:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited during start-up:\n{self.log_tail()}")
            try:
                # A long timeout: once connected, the probe waits in the listen queue for the
                # first worker to boot; reconnecting would put it behind every client.
                answer = httpx2.post(
                    self.mcp_url, json=body, headers=headers, timeout=READY_TIMEOUT
                )
                if answer.status_code == 200 and "result" in answer.json():
                    return time.monotonic() - started
            except httpx2.HTTPError:
                pass
            time.sleep(0.02)
        raise RuntimeError(f"gunicorn did not answer within {READY_TIMEOUT} s:\n{self.log_tail()}")

    def group_members(self) -> list[int]:
        """Live (non-zombie) processes in the server's process group."""
        if self.process is None:
            return []
        members = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            state, pgrp = fields[0], int(fields[2])
            if pgrp == self.process.pid and state != "Z":
                members.append(int(entry.name))
        return members

    def kill9(self) -> int:
        """SIGKILL the master and every worker at once; returns how many processes died."""
        victims = self.group_members()
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        deadline = time.monotonic() + 10
        while self.group_members() and time.monotonic() < deadline:
            time.sleep(0.01)
        if self.group_members():
            raise RuntimeError(f"processes survived kill -9: {self.group_members()}")
        return len(victims)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_text()[-chars:]
