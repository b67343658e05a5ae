"""The forms of Settings → Webhooks."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import InputRequired, Length, Optional

from deskwoot.services.activity.event_feed import EVENT_TYPES
from deskwoot.web.forms import MultiCheckboxField, choices


class WebhookEndpointForm(FlaskForm):
    """Add or edit an endpoint: no event type ticked means every type, no inbox every inbox."""

    url = StringField(
        "Endpoint URL",
        validators=[InputRequired(message="Enter the URL."), Length(max=2000)],
        description="http:// or https://, without a user name or password.",
        render_kw={"autocomplete": "off", "spellcheck": "false", "placeholder": "https://"},
    )
    description = StringField(
        "Description", validators=[Optional(), Length(max=200)], description="Optional."
    )
    event_types = MultiCheckboxField(
        "Events", choices=choices((t, t) for t in EVENT_TYPES), validate_choice=False
    )
    inboxes = MultiCheckboxField(
        "Only these inboxes", coerce=int, choices=[], validate_choice=False
    )
