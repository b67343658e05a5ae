"""The data model (ARCHITECTURE §7). Import models from here."""

from deskwoot.models.access import LoginThrottle, McpToken, PasswordToken, WebSession
from deskwoot.models.activity import AuditEntry, Event, IdempotencyKey, Outbox
from deskwoot.models.base import Base, utcnow
from deskwoot.models.contact import Contact, ContactNote
from deskwoot.models.conversation import (
    Attachment,
    Conversation,
    ConversationLabel,
    Draft,
    Label,
    Message,
)
from deskwoot.models.oauth import (
    OAuthClient,
    OAuthCode,
    OAuthGrantClient,
    OAuthRegistrationLimit,
    OAuthToken,
)
from deskwoot.models.webhooks import WebhookEndpoint
from deskwoot.models.workspace import (
    Inbox,
    InboxMember,
    Invitation,
    Membership,
    User,
    Workspace,
)

__all__ = [
    "Attachment",
    "AuditEntry",
    "Base",
    "Contact",
    "ContactNote",
    "Conversation",
    "ConversationLabel",
    "Draft",
    "Event",
    "IdempotencyKey",
    "Inbox",
    "InboxMember",
    "Invitation",
    "Label",
    "LoginThrottle",
    "McpToken",
    "Membership",
    "Message",
    "OAuthClient",
    "OAuthCode",
    "OAuthGrantClient",
    "OAuthRegistrationLimit",
    "OAuthToken",
    "Outbox",
    "PasswordToken",
    "User",
    "WebSession",
    "WebhookEndpoint",
    "Workspace",
    "utcnow",
]
