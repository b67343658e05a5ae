"""Reading the queue: filtered conversation lists, threads and counts."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache

from sqlalchemy import and_, bindparam, func, literal_column, or_, select
from sqlalchemy.orm import selectinload

from deskwoot import policy
from deskwoot.errors import Invalid
from deskwoot.extensions import db
from deskwoot.models import Conversation, ConversationLabel, Label, Message
from deskwoot.models.conversation import PRIORITIES, STATUSES
from deskwoot.policy import Actor
from deskwoot.services.activity import actor_names as naming
from deskwoot.services.conversations import search

MAX_LIMIT = 100


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


def list_conversations(
    actor: Actor,
    filters: ConversationFilters,
    limit: int = 25,
    offset: int = 0,
    before: tuple[datetime, int] | None = None,
) -> tuple[list, bool]:
    """One page of conversations (newest activity first) and whether there are more, as
    plain rows with their inbox, contact, assignee and labels (agent_reads.conversation_page:
    the web's list and the agent's are the same statements).

    `before` is a keyset position (last_activity_at, id) from the previous page's last row.
    With filters.query the page is a search's, in the search's order (search.py), paged
    by `offset`.
    """
    from deskwoot.services.conversations import agent_reads

    limit = max(1, min(limit, MAX_LIMIT))
    if not search.terms(filters.query):
        plain = replace(filters, query=None)
        return agent_reads.conversation_page(actor, plain, limit, before=before, offset=offset)
    if before is not None:
        raise ValueError("a search pages by offset or by search_hits(before_key=...)")
    hits = search_hits(actor, filters, limit, offset)
    page = hits[:limit]
    only = ConversationFilters(
        status="all", conversation_ids=tuple(h.conversation_id for h in page)
    )
    rows, _ = agent_reads.conversation_page(actor, only, limit=max(1, len(page)))
    return in_order(rows, page), len(hits) > limit


def last_messages(conversation_ids: list[int]) -> dict:
    """The newest non-note message of each conversation, for list previews (plain rows)."""
    from deskwoot.services.conversations import agent_reads

    return agent_reads.last_messages(conversation_ids)


YOU = naming.ActorName("You")


@dataclass(frozen=True)
class Preview:
    """A conversation row's one-line preview: its newest non-note message and, for a reply,
    who sent it, as the viewer should read it."""

    kind: str
    body: str
    author: naming.ActorName | None  # None: not a reply (the row already names the customer)


def previews(actor: Actor, conversation_ids: list[int]) -> dict[int, Preview]:
    """The list previews for `actor`: a reply is "You" only when the viewing teammate sent it
    themselves; anyone else's (a colleague's, the bot's, a draft someone approved, which the
    bot sent) is named by services.naming's rule."""
    return {
        conversation_id: Preview(message.kind, message.body, _reply_author(actor, message))
        for conversation_id, message in last_messages(conversation_ids).items()
    }


def _reply_author(actor: Actor, message) -> naming.ActorName | None:
    if message.kind != "outgoing":
        return None
    sender = message.sender_user
    if message.sender_type == "user" and sender is not None and sender.id == actor.user_id:
        return YOU
    return naming.of_message(message)


# The status tabs count this far and no further ("1,000+"): a bounded scan per status, so the
# list page costs the same with 1k or 1M conversations.
STATUS_COUNT_CAP = 1000


def status_counts(
    actor: Actor, inbox_id: int | None = None, cap: int | None = None
) -> dict[str, int]:
    """How many conversations the actor can see in each status, counted up to `cap` + 1 (a
    value above `cap` means "more than `cap`"; default STATUS_COUNT_CAP), in one statement
    of LIMITed subqueries that the status and inbox indexes answer."""
    cap = STATUS_COUNT_CAP if cap is None else cap
    where = [policy.conversation_filter(actor)]
    if inbox_id is not None:
        where.append(Conversation.inbox_id == inbox_id)

    def bounded(status: str):
        rows = (
            select(literal_column("1"))
            .select_from(Conversation)
            .where(*where, Conversation.status == status)
            .limit(cap + 1)
            .subquery()
        )
        return select(func.count()).select_from(rows).scalar_subquery().label(status)

    row = db.session.execute(select(*(bounded(status) for status in STATUSES))).one()
    return dict(zip(STATUSES, row, strict=True))


def thread(actor: Actor, display_id: int) -> tuple[Conversation, list[Message]]:
    """A conversation with all its messages, oldest first (the conversation page)."""
    policy.require_scope(actor, "conversations:read")
    conversation = policy.get_conversation(actor, display_id)
    messages = list(
        db.session.execute(
            select(Message)
            .where(Message.conversation_id == conversation.id)
            .options(
                selectinload(Message.sender_user),
                selectinload(Message.sender_contact),
                selectinload(Message.approved_by),
                selectinload(Message.token),
            )
            .order_by(Message.id)
        ).scalars()
    )
    return conversation, messages


def messages_page(
    actor: Actor, display_id: int, before_id: int | None = None, limit: int = 20
) -> tuple[Conversation, list[Message], bool]:
    """The newest `limit` messages (older than `before_id`), returned oldest first."""
    policy.require_scope(actor, "conversations:read")
    conversation = policy.get_conversation(actor, display_id)
    query = select(Message).where(Message.conversation_id == conversation.id)
    if before_id is not None:
        query = query.where(Message.id < before_id)
    rows = list(
        db.session.execute(
            query.options(
                selectinload(Message.sender_user),
                selectinload(Message.sender_contact),
                selectinload(Message.approved_by),
                selectinload(Message.token),
            )
            .order_by(Message.id.desc())
            .limit(limit + 1)
        ).scalars()
    )
    has_more = len(rows) > limit
    return conversation, list(reversed(rows[:limit])), has_more
