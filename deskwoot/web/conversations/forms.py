"""The composer's form (text and files) and the conversation sidebar's one form: status
(with snooze), priority, assignee and labels.

Each `shown_*` field carries the value the page showed, so Save changes only what the person
changed: a label the bot added, or an assignment a colleague made, while the page was open
is left alone unless this person touched that control too.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import DateTimeLocalField, HiddenField, IntegerField, SelectField
from wtforms.validators import Optional

from deskwoot.models.conversation import PRIORITIES, STATUSES
from deskwoot.web.forms import MessageForm, MultiCheckboxField, choices

LABEL_SEPARATOR = "\n"  # label names are one line each: never in a name


class ComposerForm(MessageForm):
    """A reply or a private note, with files (the composer's POST raises the request size
    limit for them: blueprint.py)."""

    attachments = MultipleFileField("Attach files")


class DetailsForm(FlaskForm):
    status = SelectField("Status", choices=choices((s, s.capitalize()) for s in STATUSES))
    snoozed_until = DateTimeLocalField(
        "Snooze until", format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"], validators=[Optional()]
    )
    tz_offset = IntegerField(validators=[Optional()], default=0)
    priority = SelectField("Priority", choices=choices((p, p.capitalize()) for p in PRIORITIES))
    assignee_id = SelectField("Assignee", choices=[], validate_choice=False)
    labels = MultiCheckboxField("Labels", choices=[], validate_choice=False)
    shown_status = HiddenField()
    shown_priority = HiddenField()
    shown_assignee_id = HiddenField()
    shown_labels = HiddenField()


def details_form(conversation, team, labels) -> DetailsForm:
    """The form as the page shows it: the conversation's current values, remembered."""
    assignee = str(conversation.assignee_id or "")
    names = [label.name for label in conversation.labels]
    form = DetailsForm(
        formdata=None,
        status=conversation.status,
        priority=conversation.priority,
        assignee_id=assignee,
        labels=names,
        shown_status=conversation.status,
        shown_priority=conversation.priority,
        shown_assignee_id=assignee,
        shown_labels=LABEL_SEPARATOR.join(names),
    )
    set_choices(form, team, labels)
    return form


def set_choices(form: DetailsForm, team, labels) -> None:
    form.assignee_id.choices = choices(
        [("", "Unassigned")] + [(str(user.id), user.name) for user, _role in team]
    )
    form.labels.choices = choices((label.name, label.name) for label in labels)
