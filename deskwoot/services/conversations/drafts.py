"""Bot drafts and their human review (ARCHITECTURE §10): nothing reaches a customer unapproved."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, bindparam, exists, func, literal_column, or_, select, update
from sqlalchemy.orm import aliased, selectinload

from deskwoot import policy
from deskwoot.database.prebuilt import Prebuilt
from deskwoot.database.transactions import write_transaction
from deskwoot.errors import Conflict, Invalid, NotFound
from deskwoot.extensions import db
from deskwoot.models import (
    Contact,
    Conversation,
    Draft,
    Inbox,
    McpToken,
    Message,
    User,
    Workspace,
    utcnow,
)
from deskwoot.models.conversation import DRAFT_STATUSES
from deskwoot.policy import Actor
from deskwoot.services import validation
from deskwoot.services.activity import audit_recorder as audit
from deskwoot.services.activity import event_recorder as events
from deskwoot.services.conversations import workflow as conversation_service
from deskwoot.services.conversations.rows import ContactRef, Ref, TokenRef


@dataclass
class Review:
    draft: Draft
    message: Message | None


def create_draft(
    actor: Actor, display_id: int, body: str, note_to_reviewer: str | None = None
) -> Draft:
    """Store a reply for a teammate to approve; earlier pending drafts by the same author on
    the same conversation are superseded."""
    policy.require_scope(actor, "conversations:draft")
    body = validation.body(body)
    note = validation.text(note_to_reviewer, "note_to_reviewer", max_len=2000)
    with write_transaction() as session:
        conversation = policy.get_conversation(actor, display_id)
        session.execute(
            update(Draft)
            .where(
                Draft.conversation_id == conversation.id,
                Draft.status == "pending",
                Draft.author_id == actor.user_id,
                Draft.token_id.is_(None)
                if actor.token_id is None
                else Draft.token_id == actor.token_id,
            )
            .values(status="superseded", reviewed_at=utcnow())
        )
        draft = Draft(
            workspace_id=actor.workspace_id,
            conversation_id=conversation.id,
            author_id=actor.user_id,
            token_id=actor.token_id,
            body=body,
            note_to_reviewer=note,
            status="pending",
            created_at=utcnow(),
        )
        session.add(draft)
        session.flush()
        events.append(
            actor,
            "draft.created",
            conversation=conversation,
            data={"display_id": display_id, "draft_id": draft.id},
        )
    return draft


def _claim(actor: Actor, draft_id: int, status: str, **values) -> Draft:
    """Move a pending draft to `status` exactly once; a second reviewer gets Conflict."""
    draft = db.session.execute(
        policy.drafts(actor).where(Draft.id == draft_id)
    ).scalar_one_or_none()
    if draft is None:
        raise NotFound(f"Draft {draft_id} was not found.")
    claimed = db.session.execute(
        update(Draft)
        .where(Draft.id == draft.id, Draft.status == "pending")
        .values(status=status, reviewer_id=actor.user_id, reviewed_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        db.session.refresh(draft)
        who = db.session.get(User, draft.reviewer_id).name if draft.reviewer_id else "someone"
        raise Conflict(
            f"This draft was already handled by {who} ({draft.status}).",
            reason="already_handled",
            status=draft.status,
            reviewer=who,
        )
    db.session.refresh(draft)
    return draft


def approve(actor: Actor, draft_id: int, edited_body: str | None = None) -> Review:
    """Send the draft (or the teammate's edit of it) as the bot, approved by the teammate."""
    policy.require_human(actor, "approve a draft")
    final = validation.body(edited_body) if edited_body is not None else None
    with write_transaction():
        draft = _claim(actor, draft_id, "approved")
        edited = final is not None and final != draft.body
        text = final if edited else draft.body
        conversation = db.session.get(Conversation, draft.conversation_id)
        bot_id = draft.author_id or db.session.get(Workspace, actor.workspace_id).bot_user_id
        message = conversation_service.send_approved_draft(
            actor, conversation, text, bot_user_id=bot_id, token_id=draft.token_id
        )
        draft.sent_message_id = message.id
        draft.final_body = text if edited else None
        events.append(
            actor,
            "draft.approved",
            conversation=conversation,
            data={
                "display_id": conversation.display_id,
                "draft_id": draft.id,
                "message_id": message.id,
                "edited": edited,
                "final_body": text,
            },
        )
        audit.record(
            actor,
            "draft.approved",
            target=f"draft {draft.id}",
            detail="approved with edits" if edited else "approved as is",
        )
    return Review(draft, message)


def reject(actor: Actor, draft_id: int, reason: str) -> Review:
    """Turn the draft down with a reason the bot can learn from."""
    policy.require_human(actor, "reject a draft")
    reason = validation.text(reason, "reason", max_len=2000, required=True)
    with write_transaction():
        draft = _claim(actor, draft_id, "rejected", rejection_reason=reason)
        conversation = db.session.get(Conversation, draft.conversation_id)
        events.append(
            actor,
            "draft.rejected",
            conversation=conversation,
            data={"display_id": conversation.display_id, "draft_id": draft.id, "reason": reason},
        )
        audit.record(actor, "draft.rejected", target=f"draft {draft.id}", detail=reason[:500])
    return Review(draft, None)


def pending(actor: Actor, limit: int = 50) -> list[Draft]:
    """The review queue: pending drafts in conversations the teammate can see, oldest first."""
    return list(
        db.session.execute(
            policy.drafts(actor)
            .where(Draft.status == "pending")
            .order_by(Draft.created_at, Draft.id)
            .limit(limit)
        ).scalars()
    )


def pending_count(actor: Actor, cap: int | None = None) -> int:
    """How many drafts wait for the actor; with `cap`, counting stops there (a badge says
    "99+" rather than scanning every pending draft on each page view)."""
    if cap is None:
        query = policy.drafts(actor).where(Draft.status == "pending")
        return db.session.execute(
            query.with_only_columns(func.count(Draft.id)).order_by(None)
        ).scalar_one()
    variant, params = policy.conversation_reach(actor)
    return _PENDING_UP_TO[variant].first({**params, "cap": cap})[0]


def _pending_up_to(reach) -> Prebuilt:
    rows = (
        select(literal_column("1"))
        .select_from(Draft)
        .join(Conversation, Conversation.id == Draft.conversation_id)
        .where(reach, Draft.status == "pending")
        .limit(bindparam("cap"))
        .subquery()
    )
    return Prebuilt(select(func.count()).select_from(rows))


# The badge's count on every page, per reach variant (policy.DRAFT_REACH): built once.
_PENDING_UP_TO = {variant: _pending_up_to(reach) for variant, reach in policy.DRAFT_REACH.items()}


def pending_for_conversation(actor: Actor, conversation: Conversation) -> list[Draft]:
    return list(
        db.session.execute(
            policy.drafts(actor)
            .where(Draft.status == "pending", Draft.conversation_id == conversation.id)
            .order_by(Draft.created_at)
        ).scalars()
    )


REPLIED_AFTER = "A teammate replied after this draft was written."


def _handoff_reason(conversation: Conversation) -> str | None:
    if conversation.handoff:
        return (conversation.handoff_reason or "A human has taken over").rstrip(".") + "."
    return None


def _human_reply_after(draft):
    """A human's outgoing message in the draft's conversation, newer than the draft (`draft`
    is a Draft, or the Draft class to correlate with a query over drafts)."""
    return exists().where(
        Message.conversation_id == draft.conversation_id,
        Message.kind == "outgoing",
        Message.sender_type == "user",
        Message.created_at > draft.created_at,
    )


def stale_reason(draft: Draft) -> str | None:
    """Why a pending draft may be out of date, in words, or None when it is current.

    A human replied after the draft was written, or a human has the conversation (take over,
    escalation): the reviewer should re-read the thread before sending. `stale_reasons` gives
    the same answers for many drafts in one query.
    """
    replied = db.session.execute(select(_human_reply_after(draft))).scalar()
    if replied:
        return REPLIED_AFTER
    return _handoff_reason(db.session.get(Conversation, draft.conversation_id))


# The drafts among :draft_ids that a human's reply came after (every queue page asks).
_REPLIED_AFTER = Prebuilt(
    select(Draft.id).where(
        Draft.id.in_(bindparam("draft_ids", expanding=True)), _human_reply_after(Draft)
    )
)


def stale_reasons(drafts: list[Draft]) -> dict[int, str | None]:
    """`stale_reason` for each draft (by id), with one query for all of them.

    The conversations' handoff flags come from `draft.conversation` (load them with the
    drafts, or have them in the session already).
    """
    if not drafts:
        return {}
    replied = {row.id for row in _REPLIED_AFTER.rows({"draft_ids": [d.id for d in drafts]})}
    return {
        d.id: REPLIED_AFTER if d.id in replied else _handoff_reason(d.conversation) for d in drafts
    }


def is_stale(draft: Draft) -> bool:
    return stale_reason(draft) is not None


# --- the review queue, a page at a time --------------------------------------------------------

QUEUE_PAGE = 25
CONTEXT_MESSAGES = 4


@dataclass(slots=True)
class ContextMessage:
    """A message of a queue card's thread excerpt, as the card shows it. Plain values rather
    than Message entities: a queue page shows a hundred, and loading each with its four
    relations cost several times more than the query."""

    id: int
    kind: str
    sender_type: str
    body: str
    created_at: datetime
    sender_user_name: str | None  # the teammate (or bot user) who sent it
    sender_contact_name: str | None  # the contact who sent it, by Contact.display_name
    token_name: str | None  # the MCP token of a bot message
    approved_by_name: str | None  # who approved a bot message


@dataclass(frozen=True, slots=True)
class QueueConversation:
    """What a queue card shows of a draft's conversation (the Conversation's own names)."""

    id: int
    display_id: int
    subject: str | None
    handoff: bool
    handoff_reason: str | None
    inbox: Ref
    contact: ContactRef


@dataclass(frozen=True, slots=True)
class QueueDraft:
    """A pending draft as a queue card shows it: plain values with the Draft's own names,
    read with its conversation, inbox, contact and token in one prebuilt statement."""

    id: int
    conversation_id: int
    body: str
    note_to_reviewer: str | None
    created_at: datetime
    token: TokenRef | None
    conversation: QueueConversation


@dataclass
class QueueItem:
    draft: QueueDraft
    messages: list[ContextMessage]  # the thread's latest few, oldest first
    earlier: bool  # the thread has older messages than `messages`
    stale_reason: str | None  # as `stale_reason(draft)` says


@dataclass
class QueuePage:
    items: list[QueueItem]
    older: int | None  # draft id for `before=`: the page of older drafts, None on the first
    newer: int | None  # draft id for `after=`: the page of newer drafts, None on the last


def _latest_messages_statement() -> Prebuilt:
    """Each conversation's newest :per_conversation messages with the names a card shows,
    in one statement: a window over the message index, then the rows by id."""
    partition = {"partition_by": Message.conversation_id}
    ranked = (
        select(
            Message.id.label("id"),
            func.row_number().over(**partition, order_by=Message.id.desc()).label("rank"),
            func.count().over(**partition).label("total"),
        )
        .where(Message.conversation_id.in_(bindparam("conversation_ids", expanding=True)))
        .subquery()
    )
    contact, sender, approver = aliased(Contact), aliased(User), aliased(User)
    return Prebuilt(
        select(
            Message.id,
            Message.conversation_id,
            Message.kind,
            Message.sender_type,
            Message.body,
            Message.created_at,
            contact.id.label("contact_id"),
            contact.name.label("contact_name"),
            contact.email.label("contact_email"),
            contact.identifier.label("contact_identifier"),
            contact.phone.label("contact_phone"),
            sender.name.label("sender_name"),
            approver.name.label("approver_name"),
            McpToken.name.label("token_name"),
            ranked.c.total,
        )
        .join(ranked, ranked.c.id == Message.id)
        .outerjoin(contact, contact.id == Message.sender_contact_id)
        .outerjoin(sender, sender.id == Message.sender_user_id)
        .outerjoin(approver, approver.id == Message.approved_by_id)
        .outerjoin(McpToken, McpToken.id == Message.token_id)
        .where(ranked.c.rank <= bindparam("per_conversation"))
        .order_by(Message.conversation_id, Message.id)
    )


# A queue page's thread excerpts: built once (the queue is a busy page).
_LATEST_MESSAGES = _latest_messages_statement()


def latest_messages(
    conversations: list[Conversation], per_conversation: int = CONTEXT_MESSAGES
) -> dict[int, tuple[list[ContextMessage], bool]]:
    """Each conversation's newest `per_conversation` messages (oldest first) and whether it
    has older ones, by conversation id, in one prebuilt statement that reads only what a
    card shows (the sender contact's name by Contact.display_name's rule)."""
    if not conversations:
        return {}
    rows = _LATEST_MESSAGES.rows(
        {
            "conversation_ids": sorted({c.id for c in conversations}),
            "per_conversation": per_conversation,
        }
    )
    found: dict[int, tuple[list[ContextMessage], bool]] = {}
    for row in rows:
        sender_contact = None
        if row.contact_id is not None:
            sender_contact = ContactRef(
                row.contact_id,
                row.contact_name,
                row.contact_email,
                row.contact_identifier,
                row.contact_phone,
            ).display_name
        message = ContextMessage(
            id=row.id,
            kind=row.kind,
            sender_type=row.sender_type,
            body=row.body,
            created_at=row.created_at,
            sender_user_name=row.sender_name,
            sender_contact_name=sender_contact,
            token_name=row.token_name,
            approved_by_name=row.approver_name,
        )
        found.setdefault(row.conversation_id, ([], row.total > per_conversation))[0].append(message)
    return found


def _keyset(at, draft_id, newer: bool):
    """Queue order is (created_at, id): the drafts after (newer) or before that position.

    Written as a range on created_at plus a tie-break, so the (workspace, status, created_at)
    index gives the rows in order and the LIMIT stops the scan.
    """
    if newer:
        return and_(Draft.created_at >= at, or_(Draft.created_at > at, Draft.id > draft_id))
    return and_(Draft.created_at <= at, or_(Draft.created_at < at, Draft.id < draft_id))


def _position(actor: Actor, draft_id: int, newer: bool):
    """Drafts after (newer) or before (older) the draft `draft_id`, whatever its status."""
    cursor = aliased(Draft)
    at = (
        select(cursor.created_at)
        .where(cursor.id == draft_id, cursor.workspace_id == actor.workspace_id)
        .scalar_subquery()
    )
    return _keyset(at, draft_id, newer)


def _queue_statement(variant: str, position: str | None) -> Prebuilt:
    """Pending drafts in the reach variant's conversations with what their cards show, oldest
    first (newest first before a position, for the page before it), after or before the
    draft :cursor_id, up to :limit: built once per variant and position."""
    key = (variant, position)
    if key not in _QUEUE:
        clauses = [policy.DRAFT_REACH[variant], Draft.status == "pending"]
        if position is not None:
            cursor = aliased(Draft)
            at = (
                select(cursor.created_at)
                .where(
                    cursor.id == bindparam("cursor_id"),
                    cursor.workspace_id == bindparam("reach_workspace_id"),
                )
                .scalar_subquery()
            )
            clauses.append(_keyset(at, bindparam("cursor_id"), newer=position == "after"))
        if position == "before":
            order = (Draft.created_at.desc(), Draft.id.desc())
        else:
            order = (Draft.created_at, Draft.id)
        _QUEUE[key] = Prebuilt(
            select(
                Draft.id,
                Draft.conversation_id,
                Draft.body,
                Draft.note_to_reviewer,
                Draft.created_at,
                McpToken.id.label("token_id"),
                McpToken.name.label("token_name"),
                Conversation.display_id,
                Conversation.subject,
                Conversation.handoff,
                Conversation.handoff_reason,
                Conversation.inbox_id,
                Inbox.name.label("inbox_name"),
                Conversation.contact_id,
                Contact.name.label("contact_name"),
                Contact.email.label("contact_email"),
                Contact.identifier.label("contact_identifier"),
                Contact.phone.label("contact_phone"),
            )
            .select_from(Draft)
            .join(Conversation, Conversation.id == Draft.conversation_id)
            .join(Inbox, Inbox.id == Conversation.inbox_id)
            .join(Contact, Contact.id == Conversation.contact_id)
            .outerjoin(McpToken, McpToken.id == Draft.token_id)
            .where(*clauses)
            .order_by(*order)
            .limit(bindparam("limit"))
        )
    return _QUEUE[key]


_QUEUE: dict[tuple, Prebuilt] = {}


def _queue_draft(row) -> QueueDraft:
    conversation = QueueConversation(
        id=row.conversation_id,
        display_id=row.display_id,
        subject=row.subject,
        handoff=row.handoff,
        handoff_reason=row.handoff_reason,
        inbox=Ref(row.inbox_id, row.inbox_name),
        contact=ContactRef(
            row.contact_id,
            row.contact_name,
            row.contact_email,
            row.contact_identifier,
            row.contact_phone,
        ),
    )
    return QueueDraft(
        id=row.id,
        conversation_id=row.conversation_id,
        body=row.body,
        note_to_reviewer=row.note_to_reviewer,
        created_at=row.created_at,
        token=TokenRef(row.token_name) if row.token_id is not None else None,
        conversation=conversation,
    )


def review_queue(
    actor: Actor,
    limit: int = QUEUE_PAGE,
    before: int | None = None,
    after: int | None = None,
    context: int = CONTEXT_MESSAGES,
) -> QueuePage:
    """A page of the review queue, oldest draft first, each with the end of its thread and
    whether it may be stale, in a fixed number of queries whatever the page size.

    Keyset paging by draft id: `after` gives the drafts queued after that one, `before` the
    ones queued before it; neither gives the oldest. A page that comes back empty (the
    cursor's neighbours were all reviewed meanwhile) is empty: callers start over.
    """
    policy.require_scope(actor, "conversations:read")
    limit = max(1, min(limit, 100))
    backwards = after is None and before is not None
    position = "after" if after is not None else "before" if before is not None else None
    variant, params = policy.conversation_reach(actor)
    params.update(limit=limit + 1, cursor_id=after if after is not None else before)
    drafts = [_queue_draft(row) for row in _queue_statement(variant, position).rows(params)]
    more = len(drafts) > limit
    drafts = drafts[:limit]
    if backwards:
        drafts.reverse()
    if not drafts:
        return QueuePage([], None, None)

    def any_beyond(draft: QueueDraft, newer: bool) -> bool:
        pending_drafts = policy.drafts(actor).where(Draft.status == "pending")
        return db.session.execute(
            select(pending_drafts.where(_keyset(draft.created_at, draft.id, newer)).exists())
        ).scalar()

    if backwards:
        older, newer = more, any_beyond(drafts[-1], newer=True)
    else:
        older = after is not None and any_beyond(drafts[0], newer=False)
        newer = more
    threads = latest_messages([d.conversation for d in drafts], context)
    reasons = stale_reasons(drafts)
    items = [
        QueueItem(d, *threads.get(d.conversation_id, ([], False)), stale_reason=reasons[d.id])
        for d in drafts
    ]
    return QueuePage(
        items,
        older=drafts[0].id if older else None,
        newer=drafts[-1].id if newer else None,
    )


def token_drafts(
    actor: Actor,
    status: str | None = None,
    display_id: int | None = None,
    before_id: int | None = None,
    limit: int = 25,
) -> tuple[list[Draft], bool]:
    """A page of the calling token's own drafts (MCP list_drafts), newest first, older than
    `before_id`, with their conversation and reviewer, and whether there are older ones."""
    policy.require_scope(actor, "conversations:draft")
    if status is not None and status not in DRAFT_STATUSES:
        raise Invalid(f"status must be one of: {', '.join(DRAFT_STATUSES)}.", field="status")
    query = policy.drafts(actor).where(Draft.token_id == actor.token_id)
    if status:
        query = query.where(Draft.status == status)
    if display_id is not None:
        conversation = policy.get_conversation(actor, display_id)
        query = query.where(Draft.conversation_id == conversation.id)
    if before_id is not None:
        query = query.where(Draft.id < before_id)
    rows = list(
        db.session.execute(
            query.options(selectinload(Draft.conversation), selectinload(Draft.reviewer))
            .order_by(Draft.id.desc())
            .limit(limit + 1)
        ).scalars()
    )
    return rows[:limit], len(rows) > limit
