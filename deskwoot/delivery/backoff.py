"""The retry schedule: exponential backoff with full jitter.

Attempt n (1-based) that failed transiently waits a random time between 0 and
min(cap, base × 2^(n-1)) seconds: the randomness spreads the retries of many messages that
failed together (a receiver's outage) instead of sending them back in one burst. A receiver
that says when to come back (HTTP Retry-After) is believed, up to the cap.
"""

from __future__ import annotations

import random


def delay(attempt: int, base: float, cap: float, retry_after: float | None = None) -> float:
    """Seconds to wait before the next attempt after failed attempt number `attempt`."""
    if retry_after is not None:
        return min(max(retry_after, 0.0), cap)
    ceiling = min(cap, base * 2 ** max(attempt - 1, 0))
    return random.uniform(0, ceiling)  # noqa: S311 - jitter, not a secret
