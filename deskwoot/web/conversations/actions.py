"""What a teammate does to a conversation: one POST per action, each redirecting back (PRG)."""

from __future__ import annotations

from collections.abc import Callable

from flask import flash, g, redirect, url_for

from deskwoot.errors import Conflict, Forbidden, Invalid
from deskwoot.services.conversations import reads
from deskwoot.services.conversations import workflow as conversation_service
from deskwoot.services.conversations.attachments import Upload
from deskwoot.services.delivery import redelivery
from deskwoot.web.common import (
    flash_error,
    flash_form_errors,
    parse_id,
    parse_local_datetime,
)
from deskwoot.web.conversations import (
    downloads,  # noqa: F401 (its routes join the blueprint)
    render_show,
)
from deskwoot.web.conversations.blueprint import bp
from deskwoot.web.conversations.forms import LABEL_SEPARATOR, ComposerForm, DetailsForm
from deskwoot.web.forms import (
    ActionForm,
    AssignForm,
    LabelsForm,
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


def _act(display_id: int, form, action: Callable[[], str], anchor: str | None = None):
    """Validate `form`, run `action` (which returns the success message) and redirect back."""
    if not form.validate_on_submit():
        flash_form_errors(form)
    else:
        try:
            flash(action(), "success")
        except REFUSALS as error:
            flash_error(error)
    return _back(display_id, anchor)


def _post_message(display_id: int, kind: str):
    """Send a reply or add a note, with its files; on failure re-render with the text kept."""
    form = ComposerForm()
    if form.validate_on_submit():
        post = conversation_service.reply if kind == "reply" else conversation_service.add_note
        try:
            post(g.actor, display_id, form.body.data, attachments=_uploads(form))
        except REFUSALS as error:
            # A refused file under the file input; anything else under the text.
            field = (
                form.attachments if getattr(error, "field", None) == "attachments" else form.body
            )
            field.errors = [error.message]
        else:
            flash("Reply sent." if kind == "reply" else "Private note added.", "success")
            return _back(display_id, anchor="latest")
    forms = {"reply_form": form} if kind == "reply" else {"note_form": form}
    return render_show(display_id, tab=kind, status=422, **forms)


def _uploads(form: ComposerForm) -> list[Upload]:
    """The files the person picked (a browser sends one empty part when they picked none)."""
    return [
        Upload(file.filename, file.mimetype, file.read())
        for file in form.attachments.data or []
        if file and file.filename
    ]


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
        until = _snooze_time(form) if form.status.data == "snoozed" else None
        conversation_service.set_status(g.actor, display_id, form.status.data, until)
        return STATUS_DONE[form.status.data]

    return _act(display_id, form, action)


def _snooze_time(form):
    """The form's "snooze until" as UTC, or Invalid (a form error, never a 500)."""
    try:
        return parse_local_datetime(form.snoozed_until.data, form.tz_offset.data)
    except OverflowError:
        # Year 9999 late in the evening west of UTC (or year 1 east of it) has no UTC time.
        raise Invalid(
            "Snooze until is outside the range of dates Deskwoot can store.",
            field="snoozed_until",
        ) from None


@bp.post("/conversations/<int:display_id>/details")
def details(display_id: int):
    """Save the sidebar in one go: whichever of status (and snooze time), priority, assignee
    and labels the person changed, each through its usual service."""
    form = DetailsForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return _back(display_id)
    saved: list[str] = []
    refused = False
    try:
        for step in _detail_steps(display_id, form):
            saved.append(step())
    except REFUSALS as error:
        flash_error(error)
        refused = True
    if saved:
        flash(" ".join(saved), "success")
    elif not refused:
        flash("Nothing to save: nothing was changed.", "info")
    return _back(display_id)


def _shown(field, current):
    """What the page showed for a control (its hidden `shown_*` twin), or, from a client that
    did not send one, the conversation's current value."""
    return field.data if field.raw_data else current


def _detail_steps(display_id: int, form: DetailsForm) -> list[Callable[[], str]]:
    """One call per changed control, each returning what it did. Everything that can be
    refused without writing (the snooze time, the assignee id) is checked before any runs."""
    actor = g.actor
    current = reads.conversation(actor, display_id)
    steps: list[Callable[[], str]] = []

    status = form.status.data
    until = _snooze_time(form) if status == "snoozed" else None
    if status != _shown(form.shown_status, current.status) or (
        until is not None and until != _to_the_minute(current.snoozed_until)
    ):
        steps.append(
            lambda: _done(
                conversation_service.set_status(actor, display_id, status, until),
                STATUS_DONE[status],
            )
        )

    priority = form.priority.data
    if priority != _shown(form.shown_priority, current.priority):
        steps.append(
            lambda: _done(
                conversation_service.set_priority(actor, display_id, priority),
                f"Priority set to {priority}.",
            )
        )

    raw = (form.assignee_id.data or "").strip()
    shown_assignee = _shown(
        form.shown_assignee_id, str(current.assignee.id if current.assignee else "")
    )
    if raw != (shown_assignee or "").strip():
        assignee_id = parse_id(raw)
        if raw and assignee_id is None:
            raise Invalid("Pick a teammate from the list.", field="assignee_id")
        steps.append(lambda: _assigned(conversation_service.assign(actor, display_id, assignee_id)))

    current_labels = LABEL_SEPARATOR.join(label.name for label in current.labels)
    shown_labels = _shown(form.shown_labels, current_labels)
    before = {name for name in (shown_labels or "").split(LABEL_SEPARATOR) if name}
    after = set(form.labels.data or [])
    if before != after:
        add, remove = sorted(after - before), sorted(before - after)
        steps.append(
            lambda: _done(
                conversation_service.update_labels(actor, display_id, add=add, remove=remove),
                "Labels saved.",
            )
        )
    return steps


def _to_the_minute(moment):
    # The form says minutes; a stored time with seconds is the same choice, not a change.
    return moment.replace(second=0, microsecond=0) if moment is not None else None


def _done(_conversation, message: str) -> str:
    return message


def _assigned(conversation) -> str:
    if conversation.assignee is None:
        return "Conversation unassigned."
    return f"Assigned to {conversation.assignee.name}."


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


@bp.post("/conversations/<int:display_id>/messages/<int:message_id>/retry")
def retry_delivery(display_id: int, message_id: int):
    """Send an outgoing message that was not delivered again."""

    def action() -> str:
        redelivery.retry(g.actor, message_id)
        return "Sending it again."

    return _act(display_id, ActionForm(), action, anchor=f"message-{message_id}")


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
