"""Run wrk with a scenario's Lua script and read the line its done() prints."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass

from bench.scenarios import LUA


@dataclass(frozen=True)
class Load:
    duration: float  # seconds measured
    warmup: float  # seconds of the same load first, not measured
    connections: int
    threads: int
    timeout: int = 10  # seconds before wrk counts a request as timed out


def wrk_binary() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("bench: wrk is missing. Install it (as root): apt-get install -y wrk")
    return path


def _run(script: str, url: str, env: dict, seconds: float, load: Load, seed: int) -> dict:
    argv = [
        wrk_binary(),
        "-t",
        str(min(load.threads, load.connections)),
        "-c",
        str(load.connections),
        "-d",
        f"{max(1, round(seconds))}s",
        "--timeout",
        f"{load.timeout}s",
        "-s",
        str(LUA / script),
        url,
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(  # noqa: S603 - fixed wrk command line
        argv,
        env={**os.environ, **env, "BENCH_SEED": str(seed)},
        capture_output=True,
        text=True,
        timeout=seconds + load.timeout + 60,
        check=False,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # only wrk was reaped meanwhile
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            fields = {k: int(v) for k, v in (item.split("=", 1) for item in line.split()[1:])}
            fields["wrk_cpu_s"] = (
                after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
            )
            return fields
    raise RuntimeError(
        f"wrk printed no result (exit {proc.returncode}):\n"
        f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    )


def measure(
    script: str,
    url: str,
    env: dict,
    load: Load,
    seed: int = 1,
    cpu: Callable[[], float] | None = None,
) -> dict:
    """Warm up (discarded), then measure; req/s and latencies in the usual units.

    `cpu` reads the server's CPU seconds: the CPU time per request it yields hardly depends
    on what else the machine is doing, unlike req/s and latency.
    """
    if load.warmup > 0:
        _run(script, url, env, load.warmup, load, seed + 1000)
    cpu_before = cpu() if cpu else 0.0
    raw = _run(script, url, env, load.duration, load, seed)
    cpu_used = (cpu() - cpu_before) if cpu else 0.0
    seconds = raw["duration_us"] / 1e6
    socket_errors = (
        raw["connect_errors"] + raw["read_errors"] + raw["write_errors"] + raw["timeouts"]
    )
    return {
        "requests": raw["requests"],
        "seconds": round(seconds, 2),
        "rps": round(raw["requests"] / seconds, 1) if seconds else 0.0,
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p90_ms": round(raw["p90_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "mean_ms": round(raw["mean_us"] / 1000, 2),
        "max_ms": round(raw["max_us"] / 1000, 2),
        "non2xx": raw["non2xx"],
        "socket_errors": socket_errors,
        "rpc_errors": raw["rpc_errors"],
        "tool_errors": raw["tool_errors"],
        "cpu_ms": round(cpu_used * 1000 / raw["requests"], 3) if cpu and raw["requests"] else None,
        "wrk_cpu_ms": round(raw["wrk_cpu_s"] * 1000 / raw["requests"], 3)
        if raw["requests"]
        else None,
    }
