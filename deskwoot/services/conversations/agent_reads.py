"""The agent's hot read paths as plain rows (DESIGN §8).

Agents poll and read all day, so get_conversation and list_conversations read with SQLAlchemy
Core (a few joined statements returning plain rows) instead of loading ORM objects. The rows
are shaped like the models (`conv.inbox.name`, `msg.sender_user.name`), so the MCP views
render both alike. Reach is still decided by policy: every query starts from its filter.
"""

from __future__ import annotations

from types import SimpleNamespace

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import aliased

from deskwoot import policy
from deskwoot.database.prebuilt import Prebuilt
from deskwoot.database.transactions import core
from deskwoot.errors import NotFound
from deskwoot.models import (
    Contact,
    Conversation,
    ConversationLabel,
    Inbox,
    Label,
    McpToken,
    Message,
    User,
)
from deskwoot.policy import Actor
from deskwoot.services.conversations import listing

_assignee = aliased(User)
_sender = aliased(User)
_approver = aliased(User)
_sender_contact = aliased(Contact)

CONVERSATION_COLUMNS = (
    Conversation.id,
    Conversation.display_id,
    Conversation.subject,
    Conversation.status,
    Conversation.snoozed_until,
    Conversation.priority,
    Conversation.handoff,
    Conversation.handoff_reason,
    Conversation.custom_attributes,
    Conversation.last_activity_at,
    Conversation.created_at,
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
    Message.created_at,
    Message.sender_contact_id,
    _sender_contact.name.label("contact_name"),
    Message.sender_user_id,
    _sender.name.label("sender_name"),
    Message.approved_by_id,
    _approver.name.label("approver_name"),
    McpToken.name.label("token_name"),
)


def _with_joins(query):
    """Add inbox, contact and assignee columns to a conversations query built by policy."""
    return (
        query.with_only_columns(*CONVERSATION_COLUMNS, maintain_column_froms=False)
        .select_from(Conversation)
        .join(Inbox, Inbox.id == Conversation.inbox_id)
        .join(Contact, Contact.id == Conversation.contact_id)
        .outerjoin(_assignee, _assignee.id == Conversation.assignee_id)
    )


def _ref(ref_id, name):
    return SimpleNamespace(id=ref_id, name=name) if ref_id is not None else None


_LABEL_NAMES = Prebuilt(
    select(ConversationLabel.conversation_id, Label.name, Label.color)
    .join(Label, Label.id == ConversationLabel.label_id)
    .where(ConversationLabel.conversation_id.in_(bindparam("ids", expanding=True)))
    .order_by(Label.name)
)


def _contact(row) -> SimpleNamespace:
    contact = SimpleNamespace(
        id=row.contact_id,
        name=row.contact_name,
        email=row.contact_email,
        identifier=row.contact_identifier,
        phone=row.contact_phone,
    )
    contact.display_name = Contact.display_name.fget(contact)  # the model's own rule
    return contact


def _conversations(rows) -> list[SimpleNamespace]:
    ids = [row.id for row in rows]
    names: dict[int, list] = {}
    if ids:
        for conversation_id, name, color in _LABEL_NAMES.rows({"ids": ids}):
            names.setdefault(conversation_id, []).append(SimpleNamespace(name=name, color=color))
    return [
        SimpleNamespace(
            **{
                k: getattr(row, k)
                for k in (
                    "id",
                    "display_id",
                    "subject",
                    "status",
                    "snoozed_until",
                    "priority",
                    "handoff",
                    "handoff_reason",
                    "custom_attributes",
                    "last_activity_at",
                    "created_at",
                )
            },
            inbox=SimpleNamespace(id=row.inbox_id, name=row.inbox_name),
            contact=_contact(row),
            assignee=SimpleNamespace(
                id=row.assignee_id, name=row.assignee_name, email=row.assignee_email
            )
            if row.assignee_id is not None
            else None,
            labels=names.get(row.id, []),
        )
        for row in rows
    ]


def _message_select(query):
    return (
        query.with_only_columns(*MESSAGE_COLUMNS, maintain_column_froms=False)
        .select_from(Message)
        .outerjoin(_sender_contact, _sender_contact.id == Message.sender_contact_id)
        .outerjoin(_sender, _sender.id == Message.sender_user_id)
        .outerjoin(_approver, _approver.id == Message.approved_by_id)
        .outerjoin(McpToken, McpToken.id == Message.token_id)
    )


# A conversation's messages, newest first (optionally before an id): built once (hot path).
_NEWEST = (
    select(Message)
    .where(Message.conversation_id == bindparam("conversation_id"))
    .order_by(Message.id.desc())
    .limit(bindparam("limit"))
)
_PAGE = Prebuilt(_message_select(_NEWEST))
_PAGE_BEFORE = Prebuilt(_message_select(_NEWEST.where(Message.id < bindparam("before_id"))))


# The newest non-note message of each of some conversations (list previews).
_LAST_MESSAGES = Prebuilt(
    _message_select(
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


def _rows_to_messages(rows) -> list[SimpleNamespace]:
    return [
        SimpleNamespace(
            id=row.id,
            conversation_id=row.conversation_id,
            kind=row.kind,
            sender_type=row.sender_type,
            body=row.body,
            created_at=row.created_at,
            sender_contact=_ref(row.sender_contact_id, row.contact_name),
            sender_user=_ref(row.sender_user_id, row.sender_name),
            approved_by=_ref(row.approved_by_id, row.approver_name),
            token=SimpleNamespace(name=row.token_name) if row.token_name is not None else None,
        )
        for row in rows
    ]


def conversation_page(
    actor: Actor,
    filters: listing.ConversationFilters,
    limit: int,
    before=None,
    offset: int = 0,
) -> tuple[list[SimpleNamespace], bool]:
    """The actor's conversations narrowed by `filters`, newest activity first, after the
    keyset position `before` or skipping `offset`, as plain rows: one prebuilt statement per
    reach variant and filter shape (a text query here is only a filter and builds its own;
    listing.list_conversations pages a search in its own order)."""
    if filters.query:
        query = listing.keyset(listing.conversation_query(actor, filters), before)
        rows = core(_newest_first(_with_joins(query)).limit(limit + 1).offset(offset)).all()
    else:
        listing.check_filters(actor, filters)
        variant, params = policy.conversation_reach(actor)
        params.update(listing.filter_params(actor, filters), limit=limit + 1, offset=offset)
        if before is not None:
            params["before_at"], params["before_id"] = before
        statement = _page_statement(variant, listing.filter_shape(filters), before is not None)
        rows = statement.rows(params)
    return _conversations(rows[:limit]), len(rows) > limit


def _newest_first(query):
    return query.order_by(Conversation.last_activity_at.desc(), Conversation.id.desc())


def _page_statement(variant: str, shape: tuple, keyset: bool) -> Prebuilt:
    key = (variant, shape, keyset)
    if key not in _PAGES:
        clauses = [policy.CONVERSATION_REACH[variant], *listing.filter_clauses(shape)]
        if keyset:
            clauses.append(listing.KEYSET)
        query = _with_joins(select(Conversation).where(*clauses))
        _PAGES[key] = Prebuilt(
            _newest_first(query).limit(bindparam("limit")).offset(bindparam("offset"))
        )
    return _PAGES[key]


_PAGES: dict[tuple, Prebuilt] = {}


# One conversation by display id, per reach variant (policy.CONVERSATION_REACH).
_BY_DISPLAY_ID = {
    variant: Prebuilt(
        _with_joins(
            select(Conversation).where(reach, Conversation.display_id == bindparam("display_id"))
        )
    )
    for variant, reach in policy.CONVERSATION_REACH.items()
}


def conversation(actor: Actor, display_id: int) -> SimpleNamespace:
    """One conversation in the actor's reach, as a plain row; NotFound otherwise."""
    policy.require_scope(actor, "conversations:read")
    variant, params = policy.conversation_reach(actor)
    row = _BY_DISPLAY_ID[variant].first({**params, "display_id": display_id})
    if row is None:
        raise NotFound(f"Conversation {display_id} was not found.")
    return _conversations([row])[0]


def messages(
    conversation_id: int, before_id: int | None, limit: int
) -> tuple[list[SimpleNamespace], bool]:
    """The newest `limit` messages older than `before_id`, oldest first (call after
    `conversation`, which checks reach)."""
    params = {"conversation_id": conversation_id, "limit": limit + 1}
    statement = _PAGE
    if before_id is not None:
        statement, params["before_id"] = _PAGE_BEFORE, before_id
    rows = _rows_to_messages(statement.rows(params))
    return list(reversed(rows[:limit])), len(rows) > limit


_BY_ID = Prebuilt(_message_select(select(Message).where(Message.id == bindparam("message_id"))))


def message(message_id: int) -> SimpleNamespace:
    """One message with its sender, approver and token names in one statement: for results
    about a message just written (call after the write's flush, in its transaction)."""
    return _rows_to_messages([_BY_ID.first({"message_id": message_id})])[0]


def last_messages(conversation_ids: list[int]) -> dict[int, SimpleNamespace]:
    """The newest non-note message of each conversation (list previews)."""
    if not conversation_ids:
        return {}
    rows = _LAST_MESSAGES.rows({"conversation_ids": list(conversation_ids)})
    return {m.conversation_id: m for m in _rows_to_messages(rows)}
