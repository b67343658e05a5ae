"""Fault injection for delivery: `kill -9` a delivery worker at random moments of the load,
some of them mid-delivery, and start a new one in its place.

The kills cycle through four ways:

- "smtp accepted": the SMTP sink, armed, kills the worker that is sending the moment it has
  accepted the message, before its 250 goes out: the sink has the mail, the outbox row
  still says pending. The row's lease runs out and another worker sends the same message
  again (same Message-ID, same text) — one raw duplicate copy a mail client collapses.
- "smtp after 250": the same, but a few milliseconds after the 250 went out, while the worker
  is closing the session or recording the row as sent.
- "webhook accepted": the webhook receiver kills the worker posting to it before its 200.
- "timed": whichever worker, whatever it is doing (claiming, loading, idle, committing).

An armed receiver that sees no delivery in ARM_TIMEOUT seconds is disarmed and a timed kill
is done instead (recorded as such).
"""

from __future__ import annotations

import random
import threading
import time
import traceback
from dataclasses import dataclass

from stress.mail_sink import MailSink
from stress.webhook_sink import WebhookSink
from stress.workers import WorkerPool

MODES = ("smtp accepted", "webhook accepted", "timed", "smtp after 250")
ARM_TIMEOUT = 8.0


@dataclass
class WorkerKill:
    at_s: float  # seconds into the load
    mode: str
    pid: int | None  # None: no live worker was found to kill
    mid_delivery: bool  # killed by a receiver while it was delivering to it
    down_s: float  # until a new worker was started in its place
    killed_at: float = 0.0  # time.monotonic(), to compare with the receivers' copies


def kill_moments(duration: float, kills: int, rng: random.Random) -> list[float]:
    """One random moment in each of `kills` equal slots of 10%–85% of the load."""
    start, end = 0.1 * duration, 0.85 * duration
    slot = (end - start) / kills if kills else 0
    return [start + (i + rng.uniform(0.1, 0.9)) * slot for i in range(kills)]


class WorkerChaos(threading.Thread):
    def __init__(
        self,
        pool: WorkerPool,
        mail: MailSink,
        webhooks: WebhookSink,
        moments: list[float],
        t0: float,
        seed: int,
    ):
        super().__init__(name="worker-chaos", daemon=True)
        self.pool = pool
        self.mail = mail
        self.webhooks = webhooks
        self.moments = moments
        self.t0 = t0
        self.rng = random.Random(seed)  # noqa: S311 - fault shaping, not secrets
        self.kills: list[WorkerKill] = []
        self.failure: str | None = None

    def run(self) -> None:
        try:
            for n, moment in enumerate(self.moments):
                time.sleep(max(0.0, self.t0 + moment - time.monotonic()))
                self.kills.append(self.kill(MODES[n % len(MODES)]))
        except Exception:
            self.failure = traceback.format_exc()

    def kill(self, mode: str) -> WorkerKill:
        at = time.monotonic()
        pid, mid_delivery = None, False
        if mode != "timed":
            pid = self._kill_at_receiver(mode)
            mid_delivery = pid is not None
            if pid is None:
                mode = f"timed ({mode}: no delivery to catch)"
        if pid is None:
            killed = self.pool.kill_any(self.rng)
            pid = killed[1] if killed else None
        killed_at = time.monotonic()
        time.sleep(self.rng.uniform(0.2, 1.0))  # the other worker carries on alone meanwhile
        self.pool.revive()
        return WorkerKill(
            at_s=round(at - self.t0, 2),
            mode=mode,
            pid=pid,
            mid_delivery=mid_delivery,
            down_s=round(time.monotonic() - killed_at, 2),
            killed_at=killed_at,
        )

    def _kill_at_receiver(self, mode: str) -> int | None:
        """Arm the receiver; the pid it had killed, or None when no delivery came (or its
        sender could not be told)."""
        receiver = self.webhooks if mode.startswith("webhook") else self.mail
        delay = self.rng.uniform(0.002, 0.03) if mode == "smtp after 250" else 0.0
        done = threading.Event()
        victim: list[int] = []

        def trigger(peer_port: int) -> None:
            # In the receiver's thread, before it answers: find the sender while its
            # connection is certainly open.
            pid = self.pool.owner_of(peer_port, receiver.port)
            if pid is not None:
                victim.append(pid)
                if delay:
                    timer = threading.Timer(delay, self._kill_then_signal, (pid, done))
                    timer.start()
                    return
                self.pool.kill(pid)
            done.set()

        receiver.recorder.arm(trigger)
        if not done.wait(ARM_TIMEOUT) and receiver.recorder.disarm():
            return None
        done.wait(ARM_TIMEOUT)  # fired: the kill itself is quick
        return victim[0] if victim else None

    def _kill_then_signal(self, pid: int, done: threading.Event) -> None:
        self.pool.kill(pid)
        done.set()
