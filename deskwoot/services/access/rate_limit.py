"""A per-token rate limit for the MCP server that holds across every worker (ARCHITECTURE §3).

The generic cell rate algorithm (GCRA): each token keeps one number, its "theoretical arrival
time" (`mcp_tokens.rate_tat`, epoch seconds). Every tools/call pushes it one interval
(60 s / MCP_RATE_LIMIT) into the future; a call is refused while the backlog it would leave
is more than MCP_RATE_BURST intervals ahead of now, and the refusal says exactly how long to
wait. A token can therefore spend a burst of MCP_RATE_BURST calls at once and then
MCP_RATE_LIMIT calls a minute, evenly.

The state lives on the token row, so every worker and every server on the database shares
one budget. The check reads the value the gate already loaded and the spend is one UPDATE in
the call's own audit transaction: no extra round trip and no extra write. The price is that
calls already in flight when the budget runs out still finish (at most one per worker).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import bindparam, case, update

from deskwoot.database.prebuilt import Prebuilt
from deskwoot.models import McpToken


@dataclass(frozen=True)
class Limit:
    per_minute: int
    burst: int

    @property
    def interval(self) -> float:
        return 60.0 / self.per_minute


def configured() -> Limit | None:
    """The limit from config; MCP_RATE_LIMIT 0 or None turns it off."""
    per_minute = current_app.config.get("MCP_RATE_LIMIT")
    if not per_minute:
        return None
    burst = current_app.config.get("MCP_RATE_BURST") or per_minute
    return Limit(int(per_minute), max(1, int(burst)))


def retry_after(rate_tat: float | None, limit: Limit | None, now: float | None = None) -> int:
    """Seconds to wait before the next call is allowed; 0 when it is allowed now."""
    if limit is None:
        return 0
    now = time.time() if now is None else now
    backlog = max(rate_tat or now, now) + limit.interval - now
    excess = backlog - limit.burst * limit.interval
    return math.ceil(excess) if excess > 1e-9 else 0


# Built once: this runs on every tools/call. A NULL or past value restarts from now.
_TOKENS = McpToken.__table__
_SPEND = Prebuilt(
    update(_TOKENS)
    .where(_TOKENS.c.id == bindparam("token_id"))
    .values(
        rate_tat=case(
            (_TOKENS.c.rate_tat > bindparam("now"), _TOKENS.c.rate_tat), else_=bindparam("now")
        )
        + bindparam("interval")
    )
)


def spend(token_id: int | None, now: float | None = None) -> None:
    """Charge one call to the token (inside the caller's write transaction)."""
    charge = spend_statement(token_id, now)
    if charge is not None:
        charge[0].run(charge[1])


def spend_statement(token_id: int | None, now: float | None = None) -> tuple[Prebuilt, dict] | None:
    """`spend`'s UPDATE and its values (None when nothing is charged), for
    prebuilt.write_alone to run with the call's audit row."""
    limit = configured()
    if token_id is None or limit is None:
        return None
    return _SPEND, {
        "token_id": token_id,
        "now": time.time() if now is None else now,
        "interval": limit.interval,
    }
