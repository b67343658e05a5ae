"""Every web form; each POST in the app goes through one of these (CSRF included)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    ColorField,
    DateTimeLocalField,
    EmailField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TelField,
    TextAreaField,
)
from wtforms.validators import (
    AnyOf,
    DataRequired,
    EqualTo,
    InputRequired,
    Length,
    NumberRange,
    Optional,
)
from wtforms.widgets import CheckboxInput, ListWidget

from deskwoot.models.conversation import PRIORITIES, STATUSES
from deskwoot.models.workspace import CHANNELS, ROLES
from deskwoot.policy import SCOPES
from deskwoot.services.access.password_hashing import MIN_LENGTH as MIN_PASSWORD
from deskwoot.services.access.tokens import PRESETS

try:
    from wtforms import SelectChoice
except ImportError:  # wtforms < 3.3 takes plain (value, label) pairs

    def SelectChoice(value, label):
        return (value, label)


PASSWORD_LENGTH = (
    Length(min=MIN_PASSWORD, message=f"Use at least {MIN_PASSWORD} characters."),
    Length(max=1024, message="That password is too long."),
)


def choices(pairs) -> list:
    """Options for a select or checkbox list from (value, label) pairs."""
    return [SelectChoice(value, label) for value, label in pairs]


class MultiCheckboxField(SelectMultipleField):
    """A list of checkboxes (labels, inbox members) instead of a multi-select box."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ActionForm(FlaskForm):
    """A button-only POST (logout, take over, delete…): nothing but the CSRF token."""


# --- auth ------------------------------------------------------------------------------------


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[InputRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[InputRequired(), Length(max=1024)])
    next = HiddenField()


class SignupForm(FlaskForm):
    workspace_name = StringField(
        "Workspace name",
        validators=[InputRequired(), Length(max=120)],
        description="Usually your company or team, e.g. “Acme Support”.",
    )
    name = StringField("Your name", validators=[InputRequired(), Length(max=120)])
    email = EmailField("Work email", validators=[InputRequired(), Length(max=254)])
    password = PasswordField(
        "Password",
        validators=[InputRequired(), *PASSWORD_LENGTH],
        description=f"At least {MIN_PASSWORD} characters.",
    )


class NewPasswordMixin:
    new_password = PasswordField(
        "New password",
        validators=[InputRequired(), *PASSWORD_LENGTH],
        description=f"At least {MIN_PASSWORD} characters.",
    )
    confirm = PasswordField(
        "Repeat new password",
        validators=[InputRequired(), EqualTo("new_password", "The two passwords differ.")],
    )


class ChangePasswordForm(FlaskForm, NewPasswordMixin):
    current_password = PasswordField("Current password", validators=[InputRequired()])


class SetPasswordForm(FlaskForm, NewPasswordMixin):
    pass


class ForgotPasswordForm(FlaskForm):
    email = EmailField("Email", validators=[InputRequired(), Length(max=254)])


class JoinForm(FlaskForm, NewPasswordMixin):
    """Accept an invitation with a new account: the invitee's own name and password."""

    name = StringField("Your name", validators=[Optional(), Length(max=120)])
    new_password = PasswordField(
        "Password",
        validators=[InputRequired(), *PASSWORD_LENGTH],
        description=f"At least {MIN_PASSWORD} characters.",
    )
    confirm = PasswordField(
        "Repeat password",
        validators=[InputRequired(), EqualTo("new_password", "The two passwords differ.")],
    )


# --- conversations ---------------------------------------------------------------------------


class MessageForm(FlaskForm):
    """A reply, a private note or a contact note: just the text."""

    body = TextAreaField("Message", validators=[InputRequired("Write something first.")])


class StatusForm(FlaskForm):
    status = SelectField("Status", choices=choices((s, s.capitalize()) for s in STATUSES))
    snoozed_until = DateTimeLocalField(
        "Snooze until", format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"], validators=[Optional()]
    )
    tz_offset = IntegerField(validators=[Optional()], default=0)


class PriorityForm(FlaskForm):
    priority = SelectField("Priority", choices=choices((p, p.capitalize()) for p in PRIORITIES))


class LabelsForm(FlaskForm):
    labels = MultiCheckboxField("Labels", choices=[], validate_choice=False)


class AssignForm(FlaskForm):
    assignee_id = SelectField("Assignee", choices=[], validate_choice=False)


class StartConversationForm(FlaskForm):
    inbox_id = SelectField("Inbox", coerce=int, choices=[], validate_choice=False)
    subject = StringField("Subject", validators=[Optional(), Length(max=300)])
    body = TextAreaField("Message", validators=[InputRequired("Write the first message.")])


# --- contacts --------------------------------------------------------------------------------


class AttributeRow(Form):
    key = StringField("Attribute", validators=[Optional(), Length(max=64)])
    value = StringField("Value", validators=[Optional(), Length(max=2000)])


class ContactForm(FlaskForm):
    name = StringField("Name", validators=[Optional(), Length(max=200)])
    email = EmailField("Email", validators=[Optional(), Length(max=254)])
    phone = TelField("Phone", validators=[Optional(), Length(max=40)])
    identifier = StringField(
        "Identifier",
        validators=[Optional(), Length(max=200)],
        description="Your own id for this customer, e.g. from your app's database.",
    )
    attributes = FieldList(FormField(AttributeRow), min_entries=0, max_entries=60)


# --- settings --------------------------------------------------------------------------------


def server_url_field(label: str, example: str) -> StringField:
    """A mail server URL with its password inside: typed, never shown back (the page renders
    these empty and shows the saved value masked beside them)."""
    return StringField(
        label,
        validators=[Optional(), Length(max=2000, message="That URL is too long.")],
        description=example,
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )


SMTP_EXAMPLE = "smtps://USER:PASSWORD@HOST:465 or smtp://USER:PASSWORD@HOST:587"
IMAP_EXAMPLE = "imaps://USER:PASSWORD@HOST:993/INBOX"


class EmailAddressMixin:
    address = EmailField(
        "Email address",
        validators=[Optional(), Length(max=254)],
        description="The address customers write to; replies are sent from it.",
    )


class InboxForm(FlaskForm, EmailAddressMixin):
    name = StringField("Inbox name", validators=[InputRequired(), Length(max=120)])
    channel = SelectField(
        "Channel",
        choices=choices((c, c.upper() if c == "api" else c.capitalize()) for c in CHANNELS),
    )
    members = MultiCheckboxField("Members", coerce=int, choices=[], validate_choice=False)
    # Email inboxes only (the page says so); the same settings can be given later.
    smtp_url = server_url_field("SMTP server", SMTP_EXAMPLE)
    imap_url = server_url_field("IMAP mailbox (optional)", IMAP_EXAMPLE)

    secret_fields = ("smtp_url", "imap_url")


class EmailSettingsForm(FlaskForm, EmailAddressMixin):
    """An email inbox's settings: an empty URL field keeps the saved URL, a ticked "remove"
    clears it."""

    smtp_url = server_url_field("SMTP server", SMTP_EXAMPLE)
    remove_smtp = BooleanField("Remove the saved SMTP server")
    imap_url = server_url_field("IMAP mailbox", IMAP_EXAMPLE)
    remove_imap = BooleanField("Remove the saved IMAP mailbox")

    secret_fields = ("smtp_url", "imap_url")


class WebhookForm(FlaskForm):
    """An API inbox's webhook: empty keeps the saved URL, a ticked "remove" clears it."""

    webhook_url = StringField(
        "Webhook URL",
        validators=[Optional(), Length(max=2000, message="That URL is too long.")],
        description="Each reply is POSTed here as JSON, signed per Standard Webhooks.",
        render_kw={"autocomplete": "off", "spellcheck": "false", "placeholder": "https://"},
    )
    remove = BooleanField("Remove the webhook")

    secret_fields = ("webhook_url",)


class MembersForm(FlaskForm):
    members = MultiCheckboxField("Members", coerce=int, choices=[], validate_choice=False)


class InviteForm(FlaskForm):
    """Invite someone: no name and no password, which the invitee chooses (or already has)."""

    email = EmailField("Email", validators=[InputRequired(), Length(max=254)])
    role = SelectField("Role", choices=choices((r, r.capitalize()) for r in ROLES), default="agent")
    inboxes = MultiCheckboxField("Inboxes", coerce=int, choices=[], validate_choice=False)


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=choices((r, r.capitalize()) for r in ROLES))


class LabelForm(FlaskForm):
    name = StringField("Name", validators=[InputRequired(), Length(max=64)])
    color = ColorField("Colour", default="#2563eb", validators=[InputRequired(), Length(max=7)])
    description = StringField("Description", validators=[Optional(), Length(max=200)])


# --- drafts ----------------------------------------------------------------------------------


def review_text(value):
    """Browsers send textarea line breaks as CRLF: store \\n, and trim the ends."""
    return value.replace("\r\n", "\n").strip() if isinstance(value, str) else value


class DraftApproveForm(FlaskForm):
    """Approve a bot draft as it is (nothing but CSRF and where to go back to)."""

    next = HiddenField()


class DraftEditForm(FlaskForm):
    """Edit then approve: the teammate's version is sent; the draft keeps the original."""

    body = TextAreaField(
        "Reply to send",
        filters=[review_text],
        validators=[
            DataRequired("Write the reply to send, or use Approve to send the draft as it is."),
            Length(max=20_000, message="Keep the reply under 20,000 characters."),
        ],
    )
    next = HiddenField()


class DraftRejectForm(FlaskForm):
    """Turn a draft down; the reason goes back to the bot."""

    reason = TextAreaField(
        "Why reject it?",
        filters=[review_text],
        validators=[
            DataRequired("Give a reason. The bot reads it and learns from it."),
            Length(max=2000, message="Keep the reason under 2,000 characters."),
        ],
    )
    next = HiddenField()


# --- MCP server ------------------------------------------------------------------------------

# One line per scope, for the people choosing them (the README has the tools behind each).
SCOPE_HINTS = {
    "conversations:read": "List, search and read conversations, inboxes and labels.",
    "conversations:reply": "Reply to customers directly: the message is sent straight away.",
    "conversations:note": "Leave private notes that only your team sees.",
    "conversations:draft": "Draft replies that wait for a teammate to approve, edit or reject.",
    "conversations:manage": "Set status, priority, labels and assignee; escalate to a person.",
    "conversations:create": "Start new outbound conversations with contacts.",
    "contacts:read": "Find contacts and read their profiles, notes and conversations.",
    "contacts:write": "Create and update contacts and add notes to them.",
    "events:read": "Poll the events feed to learn what changed since it last looked.",
}
PRESET_HINTS = {
    "read_only": "Reads conversations, contacts and events. Changes nothing.",
    "drafts": "Reads, leaves private notes and drafts replies; a teammate approves every "
    "reply before a customer sees it.",
    "full": "Every scope: replies on its own, manages conversations and contacts, starts "
    "conversations.",
}


class McpSwitchForm(FlaskForm):
    """The MCP server's on/off switch: the button posts the state it switches to."""

    enabled = HiddenField(validators=[AnyOf(("on", "off"))])


class MintTokenForm(FlaskForm):
    name = StringField(
        "Name",
        validators=[InputRequired("Give the token a name."), Length(max=120)],
        description="So you recognise it later, e.g. “OpenClaw triage bot”.",
    )
    preset = RadioField(
        "Preset",
        choices=choices([("", "Custom"), *((key, label) for key, (label, _s) in PRESETS.items())]),
        default="",
        validators=[Optional()],
    )
    scopes = MultiCheckboxField("Scopes", choices=choices((s, s) for s in SCOPES))
    inboxes = MultiCheckboxField("Inboxes", coerce=int, choices=[], validate_choice=False)
    expires_in_days = IntegerField(
        "Expires after (days)",
        validators=[Optional(), NumberRange(1, 3650, "Use 1 to 3650 days, or leave it empty.")],
        description="Leave empty for a token that does not expire.",
    )
