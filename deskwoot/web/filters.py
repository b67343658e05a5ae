"""Formatting helpers for templates: times, initials, capped counts and cheap id URLs. The app
factory registers FILTERS as Jinja filters and GLOBALS as template globals; components.py
builds its HTML pieces with them."""

from __future__ import annotations

from datetime import datetime

from flask import g, request, url_for

from deskwoot.models import utcnow

# strftime's %b in the C locale (Python never calls setlocale on its own), without the
# strftime call: the busy lists format a hundred times a page.
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def ago(value: datetime | None, now: datetime | None = None) -> str:
    """Say how long ago `value` was, briefly: "just now", "5m", "3h", "2d", or a date."""
    if value is None:
        return ""
    seconds = int(((now or utcnow()) - value).total_seconds())
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60}m ago"
    if seconds < 86400:
        return f"{seconds // 3600}h ago"
    if seconds < 7 * 86400:
        return f"{seconds // 86400}d ago"
    return f"{value.day} {MONTHS[value.month - 1]} {value.year}"


def stamp(value: datetime | None) -> str:
    """Format an aware UTC time for people (app.js swaps in the reader's local time)."""
    if not value:
        return ""
    return (
        f"{value.day} {MONTHS[value.month - 1]} {value.year}, {value.hour:02}:{value.minute:02} UTC"
    )


def iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""


def initials(name: str | None) -> str:
    """Two letters for an avatar bubble."""
    parts = [p for p in (name or "").replace("@", " ").split() if p[:1].isalnum()]
    letters = "".join(p[0] for p in parts[:2]).upper()
    return letters or "?"


def _request_cache(name: str) -> dict:
    """A dict that lives as long as this request (tests may reuse `g` across requests)."""
    owner = request._get_current_object()
    cached = g.get(name)
    if cached is None or cached[0] is not owner:
        cached = (owner, {})
        setattr(g, name, cached)
    return cached[1]


# An id no row has, to find where a route puts the id in its URL.
_PLACEHOLDER = 987_654_321_987_654_321


def id_url(endpoint: str, **value: int) -> str:
    """url_for(endpoint, <name>=<id>) for one integer id, for pages that link every row:
    url_for (~10 µs a call) runs once per request and endpoint, and each id goes where it put
    a placeholder. The workspace comes from g, as with url_for."""
    ((name, ident),) = value.items()
    built = _request_cache("_id_urls")
    parts = built.get((endpoint, name))
    if parts is None:
        parts = built[endpoint, name] = url_for(endpoint, **{name: _PLACEHOLDER}).split(
            str(_PLACEHOLDER)
        )
    if type(ident) is not int or ident < 0 or len(parts) != 2:
        return url_for(endpoint, **value)
    return f"{parts[0]}{ident}{parts[1]}"


def capped(value: int, cap: int) -> str:
    """A count that stopped counting past `cap` (see status_counts, pending_count): "1,000+"."""
    return f"{cap:,}+" if value > cap else f"{value:,}"


FILTERS = {"ago": ago, "stamp": stamp, "iso": iso, "initials": initials, "capped": capped}
GLOBALS = {"id_url": id_url}
