"""Fault injection: `kill -9` the whole server (master and every worker) at random moments of
the load, leave it down for a moment, restart it on the same database and port, and time how
long until it serves a tool call again."""

from __future__ import annotations

import random
import threading
import time
import traceback
from dataclasses import dataclass

from stress.server import StressServer


@dataclass
class Crash:
    at_s: float  # seconds into the load
    processes_killed: int
    down_s: float  # how long nothing listened
    recovery_s: float  # restart until the first answered tools/call
    outage_s: float  # kill until the first answered tools/call


def crash_moments(duration: float, crashes: int, rng: random.Random) -> list[float]:
    """One random moment in each of `crashes` equal slots of the middle of the run (from 15%
    to 80% of it), so crashes hit a loaded server and the run ends on a recovered one."""
    start, end = 0.15 * duration, 0.8 * duration
    slot = (end - start) / crashes if crashes else 0
    return [start + (i + rng.uniform(0.15, 0.85)) * slot for i in range(crashes)]


class Chaos(threading.Thread):
    def __init__(
        self, server: StressServer, token: str, moments: list[float], t0: float, seed: int
    ):
        super().__init__(name="chaos", daemon=True)
        self.server = server
        self.token = token
        self.moments = moments
        self.t0 = t0
        self.rng = random.Random(seed)  # noqa: S311 - load shaping, not secrets
        self.crashes: list[Crash] = []
        self.failure: str | None = None

    def run(self) -> None:
        try:
            for moment in self.moments:
                time.sleep(max(0.0, self.t0 + moment - time.monotonic()))
                self.crashes.append(self.crash())
        except Exception:
            self.failure = traceback.format_exc()

    def crash(self) -> Crash:
        killed_at = time.monotonic()
        killed = self.server.kill9()
        time.sleep(self.rng.uniform(0.2, 1.0))  # clients meet a closed port meanwhile
        restarted_at = time.monotonic()
        self.server.start()
        recovery = self.server.wait_ready(self.token)
        return Crash(
            at_s=round(killed_at - self.t0, 2),
            processes_killed=killed,
            down_s=round(restarted_at - killed_at, 2),
            recovery_s=round(recovery, 2),
            outage_s=round(restarted_at + recovery - killed_at, 2),
        )
