"""What a teammate does to a conversation: one POST per action, each redirecting back (PRG)."""

from __future__ import annotations

from collections.abc import Callable

from flask import flash, g, redirect, url_for

from deskwoot.errors import Conflict, Forbidden, Invalid
from deskwoot.services import conversations as conversation_service
from deskwoot.web.common import flash_error, flash_form_errors, parse_id, parse_local_datetime
from deskwoot.web.conversations import bp, render_show
from deskwoot.web.forms import (
    ActionForm,
    AssignForm,
    LabelsForm,
    MessageForm,
    PriorityForm,
    StatusForm,
)

# What a refused action looks like to the person: a message, never an error page.
REFUSALS = (Invalid, Conflict, Forbidden)

STATUS_DONE = {
    "open": "Conversation reopened.",
    "pending": "Marked as pending.",
    "snoozed": "Conversation snoozed.",
    "resolved": "Conversation resolved.",
}


def _back(display_id: int, anchor: str | None = None):
    return redirect(url_for(".show", display_id=display_id, _anchor=anchor))


def _act(display_id: int, form, action: Callable[[], str]):
    """Validate `form`, run `action` (which returns the success message) and redirect back."""
    if not form.validate_on_submit():
        flash_form_errors(form)
    else:
        try:
            flash(action(), "success")
        except REFUSALS as error:
            flash_error(error)
    return _back(display_id)


def _post_message(display_id: int, kind: str):
    """Send a reply or add a note; on failure re-render with the text kept."""
    form = MessageForm()
    if form.validate_on_submit():
        try:
            if kind == "reply":
                conversation_service.reply(g.actor, display_id, form.body.data)
            else:
                conversation_service.add_note(g.actor, display_id, form.body.data)
        except REFUSALS as error:
            form.body.errors = [error.message]
        else:
            flash("Reply sent." if kind == "reply" else "Private note added.", "success")
            return _back(display_id, anchor="latest")
    forms = {"reply_form": form} if kind == "reply" else {"note_form": form}
    return render_show(display_id, tab=kind, status=422, **forms)


@bp.post("/conversations/<int:display_id>/reply")
def reply(display_id: int):
    """Reply to the customer."""
    return _post_message(display_id, "reply")


@bp.post("/conversations/<int:display_id>/note")
def note(display_id: int):
    """Leave a private note for the team."""
    return _post_message(display_id, "note")


@bp.post("/conversations/<int:display_id>/status")
def status(display_id: int):
    """Open, set pending, snooze or resolve."""
    form = StatusForm()

    def action() -> str:
        until = None
        if form.status.data == "snoozed":
            until = parse_local_datetime(form.snoozed_until.data, form.tz_offset.data)
        conversation_service.set_status(g.actor, display_id, form.status.data, until)
        return STATUS_DONE[form.status.data]

    return _act(display_id, form, action)


@bp.post("/conversations/<int:display_id>/priority")
def priority(display_id: int):
    """Set the priority."""
    form = PriorityForm()

    def action() -> str:
        conversation_service.set_priority(g.actor, display_id, form.priority.data)
        return f"Priority set to {form.priority.data}."

    return _act(display_id, form, action)


@bp.post("/conversations/<int:display_id>/labels")
def labels(display_id: int):
    """Make the conversation's labels exactly the ticked ones."""
    form = LabelsForm()

    def action() -> str:
        conversation_service.set_labels(g.actor, display_id, form.labels.data or [])
        return "Labels saved."

    return _act(display_id, form, action)


@bp.post("/conversations/<int:display_id>/assign")
def assign(display_id: int):
    """Give the conversation to a teammate, or unassign it."""
    form = AssignForm()

    def action() -> str:
        raw = (form.assignee_id.data or "").strip()
        assignee_id = parse_id(raw)
        if raw and assignee_id is None:
            raise Invalid("Pick a teammate from the list.", field="assignee_id")
        conversation = conversation_service.assign(g.actor, display_id, assignee_id)
        if conversation.assignee is None:
            return "Conversation unassigned."
        return f"Assigned to {conversation.assignee.name}."

    return _act(display_id, form, action)


@bp.post("/conversations/<int:display_id>/take-over")
def take_over(display_id: int):
    """Take the conversation from the bot."""

    def action() -> str:
        conversation_service.take_over(g.actor, display_id)
        return "You have taken over. The bot can no longer reply here."

    return _act(display_id, ActionForm(), action)


@bp.post("/conversations/<int:display_id>/hand-back")
def hand_back(display_id: int):
    """Let the bot reply again."""

    def action() -> str:
        conversation_service.hand_back(g.actor, display_id)
        return "Handed back to the bot."

    return _act(display_id, ActionForm(), action)
