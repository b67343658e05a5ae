"""Bot drafts and their human review (DESIGN §6): nothing reaches a customer unapproved."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exists, func, select, update

from deskwoot import policy
from deskwoot.database import write_transaction
from deskwoot.errors import Conflict, Invalid, NotFound
from deskwoot.extensions import db
from deskwoot.models import Conversation, Draft, Message, User, Workspace, utcnow
from deskwoot.models.conversation import DRAFT_STATUSES
from deskwoot.policy import Actor
from deskwoot.services import audit, events, validation
from deskwoot.services import conversations as conversation_service


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
                Draft.token_id.is_(None) if actor.token_id is None
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
            actor, "draft.created", conversation=conversation,
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
            reason="already_handled", status=draft.status, reviewer=who,
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
            actor, "draft.approved", conversation=conversation,
            data={"display_id": conversation.display_id, "draft_id": draft.id,
                  "message_id": message.id, "edited": edited, "final_body": text},
        )
        audit.record(actor, "draft.approved", target=f"draft {draft.id}",
                     detail="approved with edits" if edited else "approved as is")
    return Review(draft, message)


def reject(actor: Actor, draft_id: int, reason: str) -> Review:
    """Turn the draft down with a reason the bot can learn from."""
    policy.require_human(actor, "reject a draft")
    reason = validation.text(reason, "reason", max_len=2000, required=True)
    with write_transaction():
        draft = _claim(actor, draft_id, "rejected", rejection_reason=reason)
        conversation = db.session.get(Conversation, draft.conversation_id)
        events.append(
            actor, "draft.rejected", conversation=conversation,
            data={"display_id": conversation.display_id, "draft_id": draft.id,
                  "reason": reason},
        )
        audit.record(actor, "draft.rejected", target=f"draft {draft.id}", detail=reason[:500])
    return Review(draft, None)


def pending(actor: Actor, limit: int = 50) -> list[Draft]:
    """The review queue: pending drafts in conversations the teammate can see, oldest first."""
    return list(db.session.execute(
        policy.drafts(actor).where(Draft.status == "pending")
        .order_by(Draft.created_at, Draft.id).limit(limit)
    ).scalars())


def pending_count(actor: Actor) -> int:
    return db.session.execute(
        policy.drafts(actor).where(Draft.status == "pending")
        .with_only_columns(func.count(Draft.id)).order_by(None)
    ).scalar_one()


def pending_for_conversation(actor: Actor, conversation: Conversation) -> list[Draft]:
    return list(db.session.execute(
        policy.drafts(actor).where(Draft.status == "pending",
                                   Draft.conversation_id == conversation.id)
        .order_by(Draft.created_at)
    ).scalars())


def stale_reason(draft: Draft) -> str | None:
    """Why a pending draft may be out of date, in words, or None when it is current.

    A human replied after the draft was written, or a human has the conversation (take over,
    escalation): the reviewer should re-read the thread before sending.
    """
    replied = db.session.execute(
        select(exists().where(
            Message.conversation_id == draft.conversation_id,
            Message.kind == "outgoing",
            Message.sender_type == "user",
            Message.created_at > draft.created_at,
        ))
    ).scalar()
    if replied:
        return "A teammate replied after this draft was written."
    conversation = db.session.get(Conversation, draft.conversation_id)
    if conversation.handoff:
        return (conversation.handoff_reason or "A human has taken over").rstrip(".") + "."
    return None


def is_stale(draft: Draft) -> bool:
    return stale_reason(draft) is not None


def drafts_by_token(
    actor: Actor, status: str | None = None, display_id: int | None = None
):
    """Query for the calling token's own drafts (MCP list_drafts), newest first."""
    policy.require_scope(actor, "conversations:draft")
    if status is not None and status not in DRAFT_STATUSES:
        raise Invalid(f"status must be one of: {', '.join(DRAFT_STATUSES)}.", field="status")
    query = policy.drafts(actor).where(Draft.token_id == actor.token_id)
    if status:
        query = query.where(Draft.status == status)
    if display_id is not None:
        conversation = policy.get_conversation(actor, display_id)
        query = query.where(Draft.conversation_id == conversation.id)
    return query.order_by(Draft.id.desc())
