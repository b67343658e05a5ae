"""The REST API's response headers that describe more than the body: the token's rate limit
(the IETF RateLimit header fields draft), pagination links (RFC 8288) and entity tags."""

from __future__ import annotations

import hashlib
import math
import time
from urllib.parse import urlencode

from werkzeug.datastructures import MultiDict

from deskwoot.services.access.rate_limit import Limit


def rate_limit(
    limit: Limit | None, rate_tat: float | None, *, charged: bool, now: float | None = None
) -> dict[str, str]:
    """`RateLimit-Policy` and `RateLimit` for a token whose limit state was `rate_tat` when the
    request came in (services/access/rate_limit.py: GCRA), after this request's charge.

    The policy names the sustained rate (q per w seconds); r is how many calls the token may
    make right now (at most the burst), t the seconds until its budget is full again."""
    if limit is None:
        return {}
    now = time.time() if now is None else now
    tat = max(rate_tat or now, now)
    if charged:
        tat += limit.interval
    backlog = tat - now
    remaining = max(0, math.floor((limit.burst * limit.interval - backlog) / limit.interval + 1e-9))
    return {
        "RateLimit-Policy": f'"default";q={limit.per_minute};w=60',
        "RateLimit": f'"default";r={remaining};t={math.ceil(backlog - 1e-9)}',
    }


def etag(body: bytes) -> str:
    """A strong entity tag over the exact bytes of the body (quoted)."""
    return '"' + hashlib.sha256(body).hexdigest()[:40] + '"'


def next_link(path: str, query: MultiDict, param: str, cursor: str) -> str:
    """`Link: <same path and filters, with the next cursor>; rel="next"` (a relative
    reference, so it is right behind any proxy)."""
    pairs = [(k, v) for k, v in query.items(multi=True) if k != param]
    pairs.append((param, cursor))
    return f'<{path}?{urlencode(pairs)}>; rel="next"'
