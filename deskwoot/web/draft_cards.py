"""The draft cards: a pending draft with its review forms, shown by the draft queue
(drafts.py) and above the reply box of a conversation's page (conversations/)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from flask import flash, g

from deskwoot.models import Conversation, Draft, Message
from deskwoot.services.conversations import drafts as draft_service
from deskwoot.services.conversations.drafts import ContextMessage, QueueConversation, QueueDraft
from deskwoot.web.forms import DraftEditForm, DraftRejectForm, review_text

GONE = "That draft is no longer waiting for review."


@dataclass
class Failed:
    """A review form that did not validate, to show again with what the teammate typed."""

    draft_id: int
    panel: str  # "edit" or "reject"
    form: DraftEditForm | DraftRejectForm


@dataclass
class DraftCard:
    """What a draft's card shows. The review forms are plain HTML with the page's CSRF token
    (the POST handlers validate theirs): building three FlaskForms per card cost more than
    rendering it. Only a form that failed is kept, to show its text and errors again."""

    draft: Draft | QueueDraft  # a queue page's are plain rows (services.drafts.review_queue)
    conversation: Conversation | QueueConversation
    messages: list[ContextMessage]  # the thread's latest few, oldest first (empty inline)
    earlier: bool  # the thread has older messages than `messages`
    stale_reason: str | None  # set when services.drafts.stale_reason(s) says so
    edit_text: str  # the "edit then approve" box: the draft, or what the teammate typed
    edit_errors: Sequence[str] = ()
    reject_text: str = ""
    reject_errors: Sequence[str] = ()
    open_panel: str | None = None


def card(
    draft: Draft | QueueDraft,
    messages: list[ContextMessage],
    earlier: bool,
    stale_reason: str | None,
    failed: Failed | None,
) -> DraftCard:
    """The card of one draft; `failed`, when it is this draft's, reopens its form."""
    made = DraftCard(
        draft=draft,
        conversation=draft.conversation,
        messages=messages,
        earlier=earlier,
        stale_reason=stale_reason,
        edit_text=review_text(draft.body),  # as DraftEditForm(body=draft.body) would show it
    )
    if failed is not None and failed.draft_id == draft.id:
        form = failed.form
        if failed.panel == "edit":
            made.edit_text, made.edit_errors = form.body.data or "", form.body.errors
        else:
            made.reject_text, made.reject_errors = form.reason.data or "", form.reason.errors
        made.open_panel = failed.panel
    return made


def warn_if_gone(drafts: list[Draft] | list[QueueDraft], failed: Failed | None) -> None:
    if failed is not None and failed.draft_id not in {d.id for d in drafts}:
        flash(GONE, "warning")


def conversation_cards(
    conversation: Conversation, thread: list[Message], failed: Failed | None = None
) -> list[DraftCard]:
    """Cards for the drafts waiting on one conversation (its page shows the thread itself)."""
    drafts = draft_service.pending_for_conversation(g.actor, conversation)
    warn_if_gone(drafts, failed)
    reasons = draft_service.stale_reasons(drafts)
    return [card(draft, [], False, reasons[draft.id], failed) for draft in drafts]
