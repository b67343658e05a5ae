"""Start and stop the three servers the benchmark loads: Deskwoot, the ceiling and the peer.

All run with the same worker count on a free loopback port, without an access log, their
output (error log, tracebacks) in one log file each.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def clean_env(extra: dict) -> dict:
    """This environment without the test suite's database settings, plus `extra`."""
    inherited = {
        k: v for k, v in os.environ.items() if not k.startswith(("DESKWOOT_", "DATABASE_URL"))
    }
    return {**inherited, **extra}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    name: str
    process: subprocess.Popen
    base_url: str
    log: Path
    endpoint: str  # the URL the load goes to
    started: float = field(default_factory=time.monotonic)
    env: dict = field(default_factory=dict)  # what it was started with (a worker shares it)

    def log_size(self) -> int:
        return self.log.stat().st_size if self.log.exists() else 0

    def log_count(self, needle: str, since: int = 0) -> int:
        """How often `needle` appears in the log after byte offset `since`."""
        with self.log.open("rb") as fh:
            fh.seek(since)
            return fh.read().decode(errors="replace").count(needle)

    def workers(self) -> list[int]:
        """Worker pids: the master's children (uvicorn's resource tracker left out)."""
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == self.process.pid and b"resource_tracker" not in cmdline:
                pids.append(int(entry.name))
        return sorted(pids)

    def cpu_seconds(self) -> float:
        """User + system CPU time of the master and its workers so far."""
        total = 0
        for pid in [self.process.pid, *self.workers()]:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime (stat fields 14, 15)
        return total / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> list[float]:
        """VmRSS of each worker in MB."""
        out = []
        for pid in self.workers():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("VmRSS:"):
                    out.append(round(int(line.split()[1]) / 1024, 1))
        return out

    def stop(self) -> None:
        stop_process(self.process)


def _start(
    name: str,
    argv: list[str],
    env: dict,
    logdir: Path,
    base_url: str,
    endpoint: str,
    ready_path: str,
    ready_method: str = "GET",
) -> Server:
    logdir.mkdir(parents=True, exist_ok=True)
    log = logdir / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - our own fixed command line
            argv,
            cwd=ROOT,
            env=clean_env(env),  # the test suite's database settings must not leak in
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(name, process, base_url, log, endpoint, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited during start-up:\n{log.read_text()[-3000:]}")
        try:
            request = urllib.request.Request(  # noqa: S310 - loopback URL we built
                base_url + ready_path, method=ready_method
            )
            urllib.request.urlopen(request, timeout=2)  # noqa: S310 - loopback URL we built
            return server
        except urllib.error.HTTPError:
            return server  # it answers: 4xx/5xx are fine for "up"
        except OSError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"{name} did not answer within 60 s:\n{log.read_text()[-3000:]}")


def gunicorn_argv(app: str, port: int, workers: int) -> list[str]:
    """The README's one-VM settings: sync workers, loopback bind, no access log."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
        "--forwarded-allow-ips",
        "127.0.0.1",
        "--preload",  # README: workers forked from one imported app
        app,
    ]


def start_deskwoot(
    db_path: Path, workers: int, logdir: Path, secret: str, name: str = "deskwoot"
) -> Server:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        "DATABASE_URL": f"sqlite:///{db_path.resolve()}",
        "DESKWOOT_SECRET_KEY": secret,
        "DESKWOOT_PUBLIC_URL": base,
        # The rate limit stays on, so its bookkeeping is measured, but one bench token makes
        # thousands of calls a second: far more than a real agent's budget.
        "DESKWOOT_MCP_RATE_LIMIT": "100000000",
        "DESKWOOT_MCP_RATE_BURST": "100000000",
    }
    return _start(
        name,
        gunicorn_argv("deskwoot.wsgi:create()", port, workers),
        env,
        logdir,
        base,
        base + "/api/mcp",
        "/login",
    )


WORKER_ARGV = [sys.executable, "-c", "from deskwoot.cli import main; main()", "worker"]


def start_worker(desk: Server) -> subprocess.Popen:
    """A `deskwoot worker` on the same database and settings as a running Deskwoot, its output
    appended to that server's log."""
    with desk.log.open("ab") as out:
        return subprocess.Popen(  # noqa: S603 - our own fixed command line
            WORKER_ARGV,
            cwd=ROOT,
            env=clean_env(desk.env),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_process(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start_ceiling(workers: int, logdir: Path) -> Server:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    return _start(
        "ceiling",
        gunicorn_argv("bench.ceiling:app", port, workers),
        {},
        logdir,
        base,
        base + "/rpc",
        "/rpc",
        "GET",
    )


def start_peer(workers: int, logdir: Path, token: str) -> Server:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        "bench.peer:app",
        "--workers",
        str(workers),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    return _start("peer", argv, {"BENCH_PEER_TOKEN": token}, logdir, base, base + "/mcp", "/mcp")
