"""What a channel's `deliver` answers: the one small interface every outgoing channel keeps.

A channel module (api_webhook.py, event_webhook.py, email/outgoing.py, product_mail.py) has
`deliver(outgoing, config) -> Outcome`, where `outgoing` is what
services/delivery/outbox.py loaded for the claimed row (the message, its conversation's
number, the contact and the inbox's delivery settings). It never touches the database: the
worker (deskwoot/delivery/worker.py) records the outcome.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Response:
    """What an HTTP receiver answered (signed_webhook.py), kept for the delivery log: its
    status (None: no answer — refused, timed out), a short body snippet, the time taken."""

    status: int | None
    snippet: str = ""
    duration_ms: int = 0


@dataclass(frozen=True)
class Delivered:
    """The channel took the message. `note` says anything the teammate should know."""

    note: str | None = None
    response: Response | None = None


@dataclass(frozen=True)
class Retry:
    """A transient failure: try again later (`after` seconds when the receiver said so)."""

    reason: str
    after: float | None = None
    response: Response | None = None


@dataclass(frozen=True)
class Failed:
    """A permanent failure: retrying would not help."""

    reason: str
    response: Response | None = None


Outcome = Delivered | Retry | Failed
