"""The consent form: which workspace, which scopes (with the mint form's presets), which
inboxes; approve or deny. A FlaskForm, so the decision carries the session's CSRF token."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, SubmitField
from wtforms.validators import Optional

from deskwoot.policy import SCOPES
from deskwoot.services.access.tokens import PRESETS
from deskwoot.web.forms import MultiCheckboxField, choices


class ConsentForm(FlaskForm):
    workspace = SelectField("Workspace", coerce=int, choices=[], validate_choice=False)
    preset = RadioField(
        "Preset",
        choices=choices([("", "Custom"), *((key, label) for key, (label, _s) in PRESETS.items())]),
        default="",
        validators=[Optional()],
    )
    scopes = MultiCheckboxField("Scopes", choices=choices((s, s) for s in SCOPES))
    inboxes = MultiCheckboxField("Inboxes", coerce=int, choices=[], validate_choice=False)
    approve = SubmitField("Approve")
    deny = SubmitField("Deny")
