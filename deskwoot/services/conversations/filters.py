"""What a conversation list asks for, narrowed by policy: the filters and the keyset.

A caller's filters are intersected with the actor's reach, never substituted for it
(ARCHITECTURE §2). The clauses are built once per filter *shape* with the values as bind
parameters, so the hot lists (services/conversations/reads.py) run prebuilt statements; a
text query goes through the search index (search.py) with the same reach and filters.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache

from sqlalchemy import and_, bindparam, func, or_, select

from deskwoot import policy
from deskwoot.errors import Invalid
from deskwoot.extensions import db
from deskwoot.models import Conversation, ConversationLabel, Label
from deskwoot.models.conversation import PRIORITIES, STATUSES
from deskwoot.policy import Actor
from deskwoot.services.conversations import search


@dataclass(frozen=True)
class ConversationFilters:
    """What a person or agent asked for; always narrowed further by policy."""

    status: str | None = None  # one of STATUSES, or "all"
    inbox_id: int | None = None
    assignee: str | int | None = None  # "me", "unassigned" or a user id
    label: str | None = None
    priority: str | None = None
    query: str | None = None
    updated_since: datetime | None = None
    conversation_ids: tuple[int, ...] | None = None  # only these (e.g. one page of a search)

    def validate(self) -> None:
        if self.status not in (None, "all", *STATUSES):
            raise Invalid(f"status must be one of: {', '.join(STATUSES)}.", field="status")
        if self.priority not in (None, *PRIORITIES):
            raise Invalid(f"priority must be one of: {', '.join(PRIORITIES)}.", field="priority")
        if isinstance(self.assignee, str) and self.assignee not in ("me", "unassigned"):
            raise Invalid("assignee must be 'me', 'unassigned' or a user id.", field="assignee")


def check_filters(actor: Actor, filters: ConversationFilters) -> None:
    """Refuse filters that make no sense or name something out of the actor's reach (an
    inbox or teammate out of reach is "not found", not an empty list)."""
    policy.require_scope(actor, "conversations:read")
    filters.validate()
    if filters.inbox_id is not None:
        policy.require_inbox(actor, filters.inbox_id)
    if filters.assignee not in (None, "me", "unassigned"):
        policy.get_teammate(actor, int(filters.assignee))


def filter_shape(filters: ConversationFilters) -> tuple:
    """Which filters are set (not their values): the statement's shape."""
    assignee = filters.assignee
    return (
        bool(filters.status and filters.status != "all"),
        filters.inbox_id is not None,
        None if assignee is None else ("unassigned" if assignee == "unassigned" else "id"),
        bool(filters.priority),
        bool(filters.label),
        filters.updated_since is not None,
        filters.conversation_ids is not None,
    )


@cache
def filter_clauses(shape: tuple) -> tuple:
    """The WHERE clauses of a filter shape, with the values as bind parameters (filled by
    filter_params): built once per shape, for the prebuilt statements of the agent's lists."""
    status, inbox, assignee, priority, label, since, ids = shape
    clauses = []
    if status:
        clauses.append(Conversation.status == bindparam("f_status"))
    if inbox:
        clauses.append(Conversation.inbox_id == bindparam("f_inbox_id"))
    if assignee == "unassigned":
        clauses.append(Conversation.assignee_id.is_(None))
    elif assignee == "id":
        clauses.append(Conversation.assignee_id == bindparam("f_assignee_id"))
    if priority:
        clauses.append(Conversation.priority == bindparam("f_priority"))
    if label:
        clauses.append(
            Conversation.id.in_(
                select(ConversationLabel.conversation_id)
                .join(Label, Label.id == ConversationLabel.label_id)
                .where(
                    Label.workspace_id == bindparam("f_workspace_id"),
                    func.lower(Label.name) == bindparam("f_label"),
                )
            )
        )
    if since:
        clauses.append(Conversation.updated_at >= bindparam("f_updated_since"))
    if ids:
        clauses.append(Conversation.id.in_(bindparam("f_ids", expanding=True)))
    return tuple(clauses)


def filter_params(actor: Actor, filters: ConversationFilters) -> dict:
    """The values for filter_clauses(filter_shape(filters))."""
    params: dict = {}
    if filters.status and filters.status != "all":
        params["f_status"] = filters.status
    if filters.inbox_id is not None:
        params["f_inbox_id"] = filters.inbox_id
    if filters.assignee == "me":
        params["f_assignee_id"] = actor.user_id
    elif filters.assignee not in (None, "unassigned"):
        params["f_assignee_id"] = int(filters.assignee)
    if filters.priority:
        params["f_priority"] = filters.priority
    if filters.label:
        params["f_workspace_id"] = actor.workspace_id
        params["f_label"] = filters.label.strip().lower()
    if filters.updated_since is not None:
        params["f_updated_since"] = filters.updated_since
    if filters.conversation_ids is not None:
        params["f_ids"] = list(filters.conversation_ids)
    return params


def conversation_query(actor: Actor, filters: ConversationFilters):
    """The actor's conversations narrowed by `filters` (the values bound in)."""
    check_filters(actor, filters)
    query = policy.conversations(actor)
    clauses = filter_clauses(filter_shape(filters))
    if clauses:
        query = query.where(*clauses).params(filter_params(actor, filters))
    if filters.query:
        match = search.conversation_match(filters.query)
        if match is not None:
            query = query.where(match)
    return query


KEYSET = or_(
    Conversation.last_activity_at < bindparam("before_at"),
    and_(
        Conversation.last_activity_at == bindparam("before_at"),
        Conversation.id < bindparam("before_id"),
    ),
)


def keyset(query, before: tuple[datetime, int] | None):
    """Continue a newest-activity-first list after (last_activity_at, id) of the last row."""
    if before is None:
        return query
    at, conversation_id = before
    return query.where(KEYSET).params(before_at=at, before_id=conversation_id)


@dataclass(frozen=True)
class SearchHit:
    key: int  # the search order's position (search.py): the cursor after this row
    conversation_id: int


def search_hits(
    actor: Actor,
    filters: ConversationFilters,
    limit: int,
    offset: int = 0,
    before_key: int | None = None,
) -> list[SearchHit]:
    """Up to `limit` + 1 conversations matching filters.query within the other filters, most
    recent activity first (search.py), after the search key `before_key` if given."""
    scope = search_scope(actor, replace(filters, query=None))
    hits = search.hits(scope, filters.query, _reach(actor, filters), limit + 1, offset, before_key)
    return [SearchHit(key, conversation_id) for key, conversation_id in hits]


def search_rows(
    actor: Actor,
    filters: ConversationFilters,
    limit: int,
    offset: int,
    before_key: int | None,
    widen: search.Widen,
) -> list:
    """search_hits' walk with the caller's columns (search.hits' `widen`; SQLite only):
    up to `limit` + 1 rows in the search's order, under the same reach and filters."""
    scope = search_scope(actor, replace(filters, query=None))
    reach = _reach(actor, filters)
    return search.hits(scope, filters.query, reach, limit + 1, offset, before_key, widen)


def search_scope(actor: Actor, filters: ConversationFilters) -> search.Scope:
    """The actor's reach and the filters as a search.Scope (filters checked first)."""
    check_filters(actor, filters)
    variant, params = policy.conversation_reach(actor)
    shape = filter_shape(filters)
    return search.Scope(
        key=(variant, shape),
        clauses=(policy.CONVERSATION_REACH[variant], *filter_clauses(shape)),
        params={**params, **filter_params(actor, filters)},
    )


def _reach(actor: Actor, filters: ConversationFilters) -> search.Reach:
    """What of `filters` and the actor's reach the search index can apply by itself."""
    inbox_ids = actor.inbox_ids if filters.inbox_id is None else {filters.inbox_id}
    assignee = filters.assignee
    if assignee is not None:
        assignee = {"me": actor.user_id, "unassigned": None}.get(assignee, assignee)
        assignee = int(assignee or 0)  # 0: unassigned
    label_ids = None
    if filters.label:
        label_ids = db.session.execute(
            select(Label.id).where(
                Label.workspace_id == actor.workspace_id,
                func.lower(Label.name) == filters.label.strip().lower(),
            )
        ).scalars()
    return search.Reach(
        workspace_id=actor.workspace_id,
        inbox_ids=frozenset(inbox_ids) if inbox_ids is not None else None,
        status=filters.status if filters.status != "all" else None,
        priority=filters.priority,
        assignee_id=assignee,
        label_ids=frozenset(label_ids) if label_ids is not None else None,
    )


def in_order(rows: list, hits: list[SearchHit]) -> list:
    """`rows` (anything with an .id) in the order of `hits`, leaving out any not there."""
    by_id = {row.id: row for row in rows}
    return [by_id[hit.conversation_id] for hit in hits if hit.conversation_id in by_id]
