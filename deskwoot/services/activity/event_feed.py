"""The events feed for agents (ARCHITECTURE §6): commit order, never a skip or a repeat."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import bindparam, func, select, type_coerce

from deskwoot import policy
from deskwoot.database.prebuilt import Prebuilt
from deskwoot.database.result_types import JSON_VALUE, UTC_DATETIME
from deskwoot.errors import Invalid
from deskwoot.models import Conversation, Event, utcnow
from deskwoot.policy import Actor

EVENT_TYPES = (
    "conversation.created",
    "conversation.updated",
    "message.created",
    "message.delivered",  # the delivery worker: the channel took an outgoing message
    "message.failed",  # … or it will not be delivered (data.reason says why)
    "draft.created",
    "draft.approved",
    "draft.rejected",
    "contact.created",
    "contact.updated",
)
DEFAULT_LOOKBACK = timedelta(hours=24)


@dataclass
class Page:
    events: list  # rows with the Event columns as attributes
    next_after_id: int  # pass back as after_id to continue exactly where this page ended
    has_more: bool


# Built once per shape (reach variant × type filter): agents poll all day.
_HIGH_WATER = Prebuilt(
    select(func.coalesce(func.max(Event.id), 0)).where(
        Event.workspace_id == bindparam("workspace_id")
    )
)
# Where the look-back starts: the oldest recent event through the created_at index.
# (Filtering the id-ordered scan by time, or asking for min(id), walks every older event
# first: 0.5 s on a million.)
_FIRST_RECENT = Prebuilt(
    select(Event.id)
    .where(Event.created_at >= bindparam("since"))
    .order_by(Event.created_at)
    .limit(1)
)
_DISPLAY_IDS = Prebuilt(
    select(Conversation.id, Conversation.display_id).where(
        Conversation.id.in_(bindparam("ids", expanding=True))
    )
)


# Every column of an event, its data and time decoded in one call each (50 of each per
# page; database/result_types.py: the same values as the model's types give).
_EVENT_COLUMNS = [
    type_coerce(column, JSON_VALUE).label(column.key)
    if column.key == "data"
    else type_coerce(column, UTC_DATETIME).label(column.key)
    if column.key == "created_at"
    else column
    for column in Event.__table__.columns
]


def _page_statement(variant: str, typed: bool) -> Prebuilt:
    key = (variant, typed)
    if key not in _PAGES:
        query = select(*_EVENT_COLUMNS).where(
            policy.EVENT_REACH[variant],
            Event.id > bindparam("after_id"),
            Event.id <= bindparam("high_water"),
        )
        if typed:
            query = query.where(Event.type.in_(bindparam("types", expanding=True)))
        _PAGES[key] = Prebuilt(query.order_by(Event.id).limit(bindparam("limit")))
    return _PAGES[key]


_PAGES: dict[tuple[str, bool], Prebuilt] = {}


def poll(
    actor: Actor, after_id: int | None, limit: int = 50, types: list[str] | None = None
) -> Page:
    """Events after `after_id` (or from 24 h back) that the actor may see, oldest first."""
    policy.require_scope(actor, "events:read")
    if types:
        unknown = sorted(set(types) - set(EVENT_TYPES))
        if unknown:
            raise Invalid(
                f"Unknown event type(s): {', '.join(unknown)}. Known: {', '.join(EVENT_TYPES)}.",
                field="types",
            )
    # Take the high-water mark first: anything committed later has a larger id (appends are
    # serialised per workspace), so reading up to it can never skip an event.
    high_water = _HIGH_WATER.first({"workspace_id": actor.workspace_id})[0]
    start_after = after_id
    if start_after is None:
        first_recent = _FIRST_RECENT.first({"since": utcnow() - DEFAULT_LOOKBACK})
        start_after = (first_recent[0] if first_recent else high_water + 1) - 1
    variant, params = policy.event_reach(actor)
    params.update(after_id=start_after, high_water=high_water, limit=limit + 1)
    if types:
        params["types"] = list(types)
    # Plain rows, not ORM objects: agents poll all day and only read these.
    rows = _page_statement(variant, bool(types)).rows(params)
    if len(rows) > limit:
        return Page(rows[:limit], rows[limit - 1].id, True)
    return Page(rows, max(high_water, after_id or 0), False)


def display_ids(conversation_ids: set[int]) -> dict[int, int]:
    """Conversation id → display id, for events (which store the id)."""
    if not conversation_ids:
        return {}
    return dict(_DISPLAY_IDS.rows({"ids": list(conversation_ids)}))
