"""Reading conversations, for the agent and the web alike: lists, counts, one conversation
and its messages, list previews.

Agents poll and read all day, so the lists, a conversation and its messages are read with
prebuilt Core statements (database/prebuilt.py) returning plain rows (rows.py) instead of
loading ORM objects (ARCHITECTURE §1); the web's list runs the same statements. Reach is
still decided by policy: every statement starts from policy.CONVERSATION_REACH, and the
caller's filters (filters.py) only narrow it (ARCHITECTURE §2). The conversation page's
thread is the one ORM read here: its sidebar forms and draft cards work on the entities.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime

from sqlalchemy import Integer, bindparam, func, literal_column, select, type_coerce
from sqlalchemy.orm import aliased, selectinload

from deskwoot import policy
from deskwoot.database.prebuilt import Prebuilt
from deskwoot.database.result_types import JSON_VALUE, UTC_DATETIME
from deskwoot.database.transactions import core
from deskwoot.errors import NotFound
from deskwoot.extensions import db
from deskwoot.models import (
    Contact,
    Conversation,
    ConversationLabel,
    Inbox,
    Label,
    McpToken,
    Message,
    Outbox,
    User,
)
from deskwoot.models.conversation import STATUSES
from deskwoot.policy import Actor
from deskwoot.services.activity import actor_names as naming
from deskwoot.services.conversations import attachments as attachment_store
from deskwoot.services.conversations import search
from deskwoot.services.conversations.filters import (
    KEYSET,
    ConversationFilters,
    SearchHit,
    check_filters,
    conversation_query,
    filter_clauses,
    filter_params,
    filter_shape,
    in_order,
    keyset,
    search_hits,
    search_rows,
)
from deskwoot.services.conversations.rows import (
    ContactRef,
    ConversationRow,
    DeliveryRef,
    InboxRef,
    LabelRef,
    MessageRow,
    Ref,
    TokenRef,
    UserRef,
)

MAX_LIMIT = 100

# Module-level: an alias made per call costs more to adapt its columns than the query takes.
_assignee = aliased(User)
_sender = aliased(User)
_approver = aliased(User)
_sender_contact = aliased(Contact)


def _utc(column):
    """A datetime column decoded in one call (database/result_types.py: the same values)."""
    return type_coerce(column, UTC_DATETIME).label(column.key)


CONVERSATION_COLUMNS = (
    Conversation.id,
    Conversation.display_id,
    Conversation.subject,
    Conversation.status,
    _utc(Conversation.snoozed_until),
    Conversation.priority,
    Conversation.handoff,
    Conversation.handoff_reason,
    type_coerce(Conversation.custom_attributes, JSON_VALUE).label("custom_attributes"),
    _utc(Conversation.last_activity_at),
    _utc(Conversation.created_at),
    Conversation.inbox_id,
    Inbox.name.label("inbox_name"),
    Conversation.contact_id,
    Contact.name.label("contact_name"),
    Contact.email.label("contact_email"),
    Contact.identifier.label("contact_identifier"),
    Contact.phone.label("contact_phone"),
    Conversation.assignee_id,
    _assignee.name.label("assignee_name"),
    _assignee.email.label("assignee_email"),
)
MESSAGE_COLUMNS = (
    Message.id,
    Message.conversation_id,
    Message.kind,
    Message.sender_type,
    Message.body,
    _utc(Message.created_at),
    Message.sender_contact_id,
    _sender_contact.name.label("contact_name"),
    Message.sender_user_id,
    _sender.name.label("sender_name"),
    Message.approved_by_id,
    _approver.name.label("approver_name"),
    McpToken.name.label("token_name"),
    Outbox.status.label("delivery_status"),
    Outbox.attempts.label("delivery_attempts"),
    Outbox.last_error.label("delivery_error"),
    type_coerce(Outbox.sent_at, UTC_DATETIME).label("delivered_at"),
    # Only the noise list, not the whole mail: agents read pages of messages all day.
    Message.mail["noise"].label("noise"),
)


def _leading_fields(columns: tuple, row_class) -> int:
    """How many of the first `columns` are, in order, the first fields of `row_class`: those
    pass to it positionally, straight from the statement's row."""
    names = [field.name for field in fields(row_class)]
    count = 0
    while count < len(names) and columns[count].key == names[count]:
        count += 1
    return count


_CONVERSATION_OWN = _leading_fields(CONVERSATION_COLUMNS, ConversationRow)
_MESSAGE_OWN = _leading_fields(MESSAGE_COLUMNS, MessageRow)


def _with_joins(query):
    """Add inbox, contact and assignee columns to a conversations query built by policy."""
    return (
        query.with_only_columns(*CONVERSATION_COLUMNS, maintain_column_froms=False)
        .select_from(Conversation)
        .join(Inbox, Inbox.id == Conversation.inbox_id)
        .join(Contact, Contact.id == Conversation.contact_id)
        .outerjoin(_assignee, _assignee.id == Conversation.assignee_id)
    )


def with_sender(query):
    """A query over messages as MESSAGE_COLUMNS: each message with its sender's, approver's
    and token's names (the one message-with-sender statement)."""
    return (
        query.with_only_columns(*MESSAGE_COLUMNS, maintain_column_froms=False)
        .select_from(Message)
        .outerjoin(_sender_contact, _sender_contact.id == Message.sender_contact_id)
        .outerjoin(_sender, _sender.id == Message.sender_user_id)
        .outerjoin(_approver, _approver.id == Message.approved_by_id)
        .outerjoin(McpToken, McpToken.id == Message.token_id)
        .outerjoin(Outbox, Outbox.message_id == Message.id)
    )


def _in_reach(query, reach):
    """Only messages of conversations in the reach clause `reach` (policy.CONVERSATION_REACH)."""
    return query.join(Conversation, Conversation.id == Message.conversation_id).where(reach)


# --- rows ----------------------------------------------------------------------------------

_LABEL_NAMES = Prebuilt(
    select(ConversationLabel.conversation_id, Label.name, Label.color)
    .join(Label, Label.id == ConversationLabel.label_id)
    .where(ConversationLabel.conversation_id.in_(bindparam("ids", expanding=True)))
    .order_by(Label.name)
)


def _contact(row) -> ContactRef:
    return ContactRef(
        row.contact_id,
        row.contact_name,
        row.contact_email,
        row.contact_identifier,
        row.contact_phone,
    )


def _conversations(rows) -> list[ConversationRow]:
    ids = [row.id for row in rows]
    labels: dict[int, list[LabelRef]] = {}
    if ids:
        for conversation_id, name, color in _LABEL_NAMES.rows({"ids": ids}):
            labels.setdefault(conversation_id, []).append(LabelRef(name, color))
    return [
        ConversationRow(
            *row[:_CONVERSATION_OWN],
            inbox=InboxRef(row.inbox_id, row.inbox_name),
            contact=_contact(row),
            assignee=UserRef(row.assignee_id, row.assignee_name, row.assignee_email)
            if row.assignee_id is not None
            else None,
            labels=labels.get(row.id, []),
        )
        for row in rows
    ]


def _ref(ref_id: int | None, name: str | None) -> Ref | None:
    return Ref(ref_id, name) if ref_id is not None else None


def _messages(rows, attachments: dict[int, list] | None = None) -> list[MessageRow]:
    """The rows as MessageRows; `attachments` (by message id, attachments.rows_for) when the
    caller read them for the whole page."""
    attachments = attachments or {}
    return [
        MessageRow(
            *row[:_MESSAGE_OWN],
            sender_contact=_ref(row.sender_contact_id, row.contact_name),
            sender_user=_ref(row.sender_user_id, row.sender_name),
            approved_by=_ref(row.approved_by_id, row.approver_name),
            token=TokenRef(row.token_name) if row.token_name is not None else None,
            delivery=DeliveryRef(
                row.delivery_status, row.delivery_attempts, row.delivery_error, row.delivered_at
            )
            if row.delivery_status is not None
            else None,
            attachments=attachments.get(row.id, []),
            auto_submitted=bool(row.noise),
        )
        for row in rows
    ]


# --- conversation lists --------------------------------------------------------------------


def conversation_page(
    actor: Actor,
    filters: ConversationFilters,
    limit: int,
    before: tuple[datetime, int] | None = None,
    offset: int = 0,
) -> tuple[list[ConversationRow], bool]:
    """The actor's conversations narrowed by `filters`, newest activity first, after the
    keyset position `before` or skipping `offset`: one prebuilt statement per reach variant
    and filter shape (a text query here is only a filter and builds its own;
    list_conversations and the search tool page a search in its own order)."""
    if filters.query:
        query = keyset(conversation_query(actor, filters), before)
        rows = core(_newest_first(_with_joins(query)).limit(limit + 1).offset(offset)).all()
    else:
        check_filters(actor, filters)
        variant, params = policy.conversation_reach(actor)
        params.update(filter_params(actor, filters), limit=limit + 1, offset=offset)
        if before is not None:
            params["before_at"], params["before_id"] = before
        statement = _page_statement(variant, filter_shape(filters), before is not None)
        rows = statement.rows(params)
    return _conversations(rows[:limit]), len(rows) > limit


def _newest_first(query):
    return query.order_by(Conversation.last_activity_at.desc(), Conversation.id.desc())


def _page_statement(variant: str, shape: tuple, after_keyset: bool) -> Prebuilt:
    key = (variant, shape, after_keyset)
    if key not in _PAGES:
        clauses = [policy.CONVERSATION_REACH[variant], *filter_clauses(shape)]
        if after_keyset:
            clauses.append(KEYSET)
        query = _with_joins(select(Conversation).where(*clauses))
        _PAGES[key] = Prebuilt(
            _newest_first(query).limit(bindparam("limit")).offset(bindparam("offset"))
        )
    return _PAGES[key]


_PAGES: dict[tuple, Prebuilt] = {}


def _walk_with_columns(walk, key):
    """The search walk (search.hits' `widen`) as the list's rows: CONVERSATION_COLUMNS
    first (so _conversations reads them as from any list statement), the search key last."""
    return (
        walk.with_only_columns(
            *CONVERSATION_COLUMNS, key.label("search_key"), maintain_column_froms=False
        )
        .join(Inbox, Inbox.id == Conversation.inbox_id)
        .join(Contact, Contact.id == Conversation.contact_id)
        .outerjoin(_assignee, _assignee.id == Conversation.assignee_id)
    )


def search_page(
    actor: Actor,
    filters: ConversationFilters,
    limit: int,
    offset: int = 0,
    before_key: int | None = None,
) -> tuple[list[ConversationRow], list[SearchHit], bool]:
    """One page of a search (filters.query), in the search's order (search.py): the rows,
    the page's hits (their keys are the cursor) and whether there are more."""
    if search.walks_with_columns():  # the walk reads the rows itself: one statement
        rows = search_rows(actor, filters, limit, offset, before_key, _walk_with_columns)
        page_rows = rows[:limit]
        page = [SearchHit(row.search_key, row.id) for row in page_rows]
        return _conversations(page_rows), page, len(rows) > limit
    hits = search_hits(actor, filters, limit, offset, before_key)
    page = hits[:limit]
    ids = tuple(hit.conversation_id for hit in page)
    only = ConversationFilters(status="all", conversation_ids=ids)
    rows, _ = conversation_page(actor, only, limit=max(1, len(page)))
    return in_order(rows, page), page, len(hits) > limit


def list_conversations(
    actor: Actor,
    filters: ConversationFilters,
    limit: int = 25,
    offset: int = 0,
    before: tuple[datetime, int] | None = None,
) -> tuple[list[ConversationRow], bool]:
    """One page of conversations (newest activity first) and whether there are more, with
    their inbox, contact, assignee and labels: the web's list and the agent's are the same
    statements.

    `before` is a keyset position (last_activity_at, id) from the previous page's last row.
    With filters.query the page is a search's, in the search's order (search.py), paged
    by `offset`.
    """
    limit = max(1, min(limit, MAX_LIMIT))
    if not search.terms(filters.query):
        plain = replace(filters, query=None)
        return conversation_page(actor, plain, limit, before=before, offset=offset)
    if before is not None:
        raise ValueError("a search pages by offset or by search_page(before_key=...)")
    rows, _page, has_more = search_page(actor, filters, limit, offset)
    return rows, has_more


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
    variant, params = policy.conversation_reach(actor)
    params["count_limit"] = cap + 1
    if inbox_id is not None:
        params["inbox_id"] = inbox_id
    row = _STATUS_COUNTS[variant, inbox_id is not None].first(params)
    return dict(zip(STATUSES, row, strict=True))


def _status_counts(reach, by_inbox: bool) -> Prebuilt:
    where = [reach]
    if by_inbox:
        where.append(Conversation.inbox_id == bindparam("inbox_id"))

    def bounded(status: str):
        rows = (
            select(literal_column("1"))
            .select_from(Conversation)
            .where(*where, Conversation.status == status)
            .limit(bindparam("count_limit"))
            .subquery()
        )
        return select(func.count()).select_from(rows).scalar_subquery().label(status)

    return Prebuilt(select(*(bounded(status) for status in STATUSES)))


# Per reach variant (policy.CONVERSATION_REACH) and inbox filter: the list page's tabs.
_STATUS_COUNTS = {
    (variant, by_inbox): _status_counts(reach, by_inbox)
    for variant, reach in policy.CONVERSATION_REACH.items()
    for by_inbox in (False, True)
}


# --- one conversation and its messages ------------------------------------------------------

# One conversation by display id, per reach variant (policy.CONVERSATION_REACH).
_BY_DISPLAY_ID = {
    variant: Prebuilt(
        _with_joins(
            select(Conversation).where(reach, Conversation.display_id == bindparam("display_id"))
        )
    )
    for variant, reach in policy.CONVERSATION_REACH.items()
}


def conversation(actor: Actor, display_id: int) -> ConversationRow:
    """One conversation in the actor's reach, as a plain row; NotFound otherwise."""
    policy.require_scope(actor, "conversations:read")
    variant, params = policy.conversation_reach(actor)
    row = _BY_DISPLAY_ID[variant].first({**params, "display_id": display_id})
    if row is None:
        raise NotFound(f"Conversation {display_id} was not found.")
    return _conversations([row])[0]


# A conversation's messages, newest first (optionally before an id), per reach variant:
# built once (hot path). The reach is part of the statement, so a conversation out of the
# actor's reach has no messages to show whoever calls.
_NEWEST = (
    select(Message)
    .where(Message.conversation_id == bindparam("conversation_id"))
    .order_by(Message.id.desc())
    .limit(bindparam("limit"))
)
_PAGE = {
    (variant, before): Prebuilt(
        _in_reach(
            with_sender(_NEWEST.where(Message.id < bindparam("before_id")) if before else _NEWEST),
            reach,
        )
    )
    for variant, reach in policy.CONVERSATION_REACH.items()
    for before in (False, True)
}


def messages(
    actor: Actor, conversation_id: int, before_id: int | None, limit: int
) -> tuple[list[MessageRow], bool]:
    """The newest `limit` messages of a conversation in the actor's reach (none of one out of
    it), older than `before_id`, oldest first, and whether there are older ones."""
    policy.require_scope(actor, "conversations:read")
    variant, params = policy.conversation_reach(actor)
    params.update(conversation_id=conversation_id, limit=limit + 1)
    if before_id is not None:
        params["before_id"] = before_id
    rows = _PAGE[variant, before_id is not None].rows(params)
    page = rows[:limit]
    found = attachment_store.rows_for([row.id for row in page])  # one query for the page
    return list(reversed(_messages(page, found))), len(rows) > limit


_BY_ID = {
    variant: Prebuilt(
        _in_reach(with_sender(select(Message).where(Message.id == bindparam("message_id"))), reach)
    )
    for variant, reach in policy.CONVERSATION_REACH.items()
}


def message(actor: Actor, message_id: int) -> MessageRow:
    """One message in the actor's reach with its sender, approver and token names in one
    statement: for results about a message just written (call after the write's flush, in
    its transaction); NotFound otherwise."""
    variant, params = policy.conversation_reach(actor)
    row = _BY_ID[variant].first({**params, "message_id": message_id})
    if row is None:
        raise NotFound(f"Message {message_id} was not found.")
    return _messages([row])[0]


def thread(actor: Actor, display_id: int) -> tuple[Conversation, list[Message]]:
    """A conversation with all its messages, oldest first (the web's conversation page, whose
    forms and draft cards work on the entities)."""
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


_DELIVERIES = Prebuilt(
    select(
        Outbox.message_id,
        Outbox.status,
        Outbox.attempts,
        Outbox.last_error,
        Outbox.sent_at,
        Outbox.next_attempt_at,
    ).where(Outbox.message_id.in_(bindparam("message_ids", expanding=True)))
)


@dataclass(frozen=True)
class ThreadDetails:
    """What the conversation page shows beside each message of reads.thread: the delivery
    of each outgoing one and the attachments of each, by message id."""

    deliveries: dict[int, DeliveryRef]
    attachments: dict[int, list]


def thread_details(messages: list[Message]) -> ThreadDetails:
    """Deliveries and attachments of a thread's messages (already read in the actor's reach):
    two queries for the whole thread."""
    ids = [m.id for m in messages]
    outgoing = [m.id for m in messages if m.kind == "outgoing"]
    deliveries = {
        row.message_id: DeliveryRef(
            row.status, row.attempts, row.last_error, row.sent_at, row.next_attempt_at
        )
        for row in (_DELIVERIES.rows({"message_ids": outgoing}) if outgoing else [])
    }
    return ThreadDetails(deliveries, attachment_store.rows_for(ids))


# --- list previews --------------------------------------------------------------------------

# The newest non-note message of each of some conversations.
_LAST_MESSAGES = Prebuilt(
    with_sender(
        select(Message).where(
            Message.id.in_(
                select(func.max(Message.id))
                .where(
                    Message.conversation_id.in_(bindparam("conversation_ids", expanding=True)),
                    Message.kind != "note",
                )
                .group_by(Message.conversation_id)
            )
        )
    )
)


def last_messages(conversation_ids: list[int]) -> dict[int, MessageRow]:
    """The newest non-note message of each conversation, by conversation id (list previews;
    the ids come from rows already read in the actor's reach)."""
    if not conversation_ids:
        return {}
    rows = _LAST_MESSAGES.rows({"conversation_ids": list(conversation_ids)})
    return {m.conversation_id: m for m in _messages(rows)}


YOU = naming.ActorName("You")


@dataclass(frozen=True)
class Preview:
    """A conversation row's one-line preview: its newest non-note message and, for a reply,
    who sent it, as the viewer should read it."""

    kind: str
    body: str
    author: naming.ActorName | None  # None: not a reply (the row already names the customer)


# The list's previews: the newest non-note message of each conversation, only what a preview
# shows — the start of its body (:chars characters) and who sent it. A body may be a long
# email; the list shows 160 characters of it.
_PREVIEWS = Prebuilt(
    select(
        Message.conversation_id,
        Message.kind,
        Message.sender_type,
        func.substr(Message.body, 1, bindparam("chars", type_=Integer)).label("body"),
        Message.sender_contact_id,
        _sender_contact.name.label("contact_name"),
        Message.sender_user_id,
        _sender.name.label("sender_name"),
        McpToken.name.label("token_name"),
    )
    .outerjoin(_sender_contact, _sender_contact.id == Message.sender_contact_id)
    .outerjoin(_sender, _sender.id == Message.sender_user_id)
    .outerjoin(McpToken, McpToken.id == Message.token_id)
    .where(
        Message.id.in_(
            select(func.max(Message.id))
            .where(
                Message.conversation_id.in_(bindparam("conversation_ids", expanding=True)),
                Message.kind != "note",
            )
            .group_by(Message.conversation_id)
        )
    )
)


def previews(actor: Actor, conversation_ids: list[int], chars: int) -> dict[int, Preview]:
    """The list previews for `actor` (the first `chars` characters of each body): a reply is
    "You" only when the viewing teammate sent it themselves; anyone else's (a colleague's,
    the bot's, a draft someone approved, which the bot sent) is named by services.naming's
    rule. The ids come from rows already read in the actor's reach."""
    if not conversation_ids:
        return {}
    rows = _PREVIEWS.rows({"conversation_ids": list(conversation_ids), "chars": chars})
    return {
        row.conversation_id: Preview(row.kind, row.body, _reply_author(actor, row)) for row in rows
    }


def _reply_author(actor: Actor, row) -> naming.ActorName | None:
    if row.kind != "outgoing":
        return None
    mine = row.sender_user_id is not None and row.sender_user_id == actor.user_id
    if row.sender_type == "user" and mine:
        return YOU
    # naming.of_message's rule, from the row's names.
    if row.sender_type == "contact":
        return naming.name_actor("contact", row.contact_name)
    return naming.name_actor(row.sender_type, row.sender_name, row.token_name)
