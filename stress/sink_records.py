"""What the harness's receivers (the SMTP sink, the webhook receiver) record, shared by both.

Each receiver keeps every copy it accepted under its delivery identity (the email Message-ID,
the `webhook-id`) with a digest of what it carried, so the checks can count copies per
identity and see that a redelivery was the same message. It refuses a random fraction of
deliveries with a transient answer (451, HTTP 500) so the worker's retries run under load,
and it can be armed to call the chaos back at its next acceptance — from the receiving
thread, before its answer goes out — so a worker can be killed mid-delivery.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

# Called with the sender's local TCP port (to find the worker process that sent it).
Trigger = Callable[[int], None]


@dataclass(frozen=True)
class Copy:
    key: str  # Message-ID or webhook-id
    digest: str  # of what the delivery carried, so two copies can be compared
    at: float  # time.monotonic() of its acceptance
    sender: int | None = None  # pid of the worker that sent it, when known


class Recorder:
    def __init__(self, refuse_rate: float, seed: int):
        self.refuse_rate = refuse_rate
        self._rng = random.Random(seed)  # noqa: S311 - fault shaping, not secrets
        self._lock = threading.Lock()
        self._copies: list[Copy] = []
        self._trigger: Trigger | None = None
        self.refused = 0  # transient refusals answered
        self.rejected: list[str] = []  # deliveries the receiver could not read (a check fails)
        # Names the process behind a sender's port (the run sets it: WorkerPool.owner_of),
        # so a duplicate copy can be told apart: resent after its sender's kill, or sent
        # by a second worker while the first was alive.
        self.identify: Callable[[int], int | None] | None = None

    def refuse(self) -> bool:
        """Whether to answer this delivery with a transient failure (and count it)."""
        with self._lock:
            if self._rng.random() < self.refuse_rate:
                self.refused += 1
                return True
            return False

    def accept(self, key: str, digest: str, peer_port: int) -> None:
        """Record an accepted copy; fire the armed trigger, if any, once."""
        sender = self.identify(peer_port) if self.identify is not None else None
        with self._lock:
            self._copies.append(Copy(key, digest, time.monotonic(), sender))
            trigger, self._trigger = self._trigger, None
        if trigger is not None:
            trigger(peer_port)

    def reject(self, why: str) -> None:
        with self._lock:
            self.rejected.append(why)

    def arm(self, trigger: Trigger) -> None:
        with self._lock:
            self._trigger = trigger

    def disarm(self) -> bool:
        """Take the trigger back; False when it fired meanwhile."""
        with self._lock:
            armed, self._trigger = self._trigger is not None, None
            return armed

    def copies(self) -> list[Copy]:
        with self._lock:
            return list(self._copies)

    def counts(self) -> Counter:
        return Counter(copy.key for copy in self.copies())
