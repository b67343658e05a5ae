"""The workspace the load works on, built with the real services on a freshly migrated
database: an enterprise workspace with MCP on, three inboxes, contacts with one open
conversation each, and a bot token with every scope.

The inboxes deliver where the harness listens: "Billing" (email) has an address and the
SMTP sink's URL, "Support" (api) the webhook receiver's URL and a signing secret; "Sales"
(web) has nowhere to deliver, so its replies stay pending by design (ARCHITECTURE §12)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from deskwoot import create_app
from deskwoot.database import migrate
from deskwoot.extensions import db
from deskwoot.models import Inbox
from deskwoot.policy import SCOPES, member_actor
from deskwoot.services.access import mcp_switch as mcp_settings
from deskwoot.services.access import tokens
from deskwoot.services.conversations import inbound
from deskwoot.services.directory import contacts, inboxes, workspaces

# Words the bodies are made of, so search_conversations has something to find.
WORDS = (
    *("order", "parcel", "refund", "invoice", "delivery", "courier", "address", "password"),
    *("login", "account", "subscription", "upgrade", "discount", "warranty", "return"),
    *("label", "tracking", "payment", "card", "receipt", "shipping", "delay", "broken"),
    *("replacement", "size", "colour", "exchange", "voucher"),
)
INBOXES = (("Support", "api"), ("Billing", "email"), ("Sales", "web"))
API_INBOX, EMAIL_INBOX = "Support", "Billing"
EMAIL_ADDRESS = "billing@stress.deskwoot.test"
SEED_CONTACTS = 24


@dataclass(frozen=True)
class InboxAccess:
    id: int
    uid: str
    secret: str
    name: str = ""
    channel: str = ""


@dataclass(frozen=True)
class World:
    workspace_id: int
    token: str
    token_id: int
    inboxes: tuple[InboxAccess, ...]
    conversations: tuple[int, ...]  # display ids of the seeded conversations
    contact_emails: tuple[str, ...]
    webhook_secret: str | None = None  # the API inbox's signing secret

    def inbox(self, name: str) -> InboxAccess:
        return next(inbox for inbox in self.inboxes if inbox.name == name)


def customer_email(n: int) -> str:
    return f"customer{n}@stress.deskwoot.test"


@contextmanager
def _app(database_url: str, secret_key: str, public_url: str) -> Iterator[None]:
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": secret_key,
            "PUBLIC_URL": public_url,
        }
    )
    with app.app_context():
        try:
            yield
        finally:
            db.session.remove()
            db.engine.dispose()


def migrate_schema(database_url: str) -> None:
    """Bring the empty database to the current schema (the server refuses to serve before)."""
    with _app(database_url, "stress-migrate", "http://127.0.0.1"):
        migrate.upgrade()


def build(
    database_url: str,
    secret_key: str,
    public_url: str,
    smtp_url: str | None = None,
    webhook_url: str | None = None,
) -> World:
    """Create the workspace on the migrated database, through the services; the email inbox
    sends through `smtp_url`, the API inbox posts to `webhook_url`."""
    with _app(database_url, secret_key, public_url):
        return _populate(smtp_url, webhook_url)


def _populate(smtp_url: str | None, webhook_url: str | None) -> World:
    ws, admin = workspaces.create_workspace(
        "Stress", "admin@stress.deskwoot.test", None, admin_name="Stress Admin", plan="enterprise"
    )
    actor = member_actor(admin, ws)
    mcp_settings.set_enabled(actor, True)
    access = []
    webhook_secret = None
    for name, channel in INBOXES:
        if name == EMAIL_INBOX:
            inbox, secret = inboxes.create_inbox(
                actor, name, channel, email_address=EMAIL_ADDRESS, smtp_url=smtp_url
            )
        elif name == API_INBOX:
            inbox, secret = inboxes.create_inbox(actor, name, channel, webhook_url=webhook_url)
            webhook_secret = inboxes.webhook_secret_of(inbox)
        else:
            inbox, secret = inboxes.create_inbox(actor, name, channel)
        access.append(InboxAccess(inbox.id, inbox.uid, secret, name, channel))
    emails = []
    display_ids = []
    for n in range(SEED_CONTACTS):
        email = customer_email(n)
        contacts.create_contact(actor, name=f"Customer {n}", email=email)
        inbox = db.session.get(Inbox, access[n % len(access)].id)
        received = inbound.receive_inbound(
            inbox,
            {"email": email},
            f"Hello, my {WORDS[n % len(WORDS)]} needs help (seed {n}).",
            source_id=f"seed-{n}",
            subject=f"Seed conversation {n}",
        )
        emails.append(email)
        display_ids.append(received.conversation.display_id)
    minted = tokens.mint(actor, "Stress agent", list(SCOPES))
    return World(
        workspace_id=ws.id,
        token=minted.plaintext,
        token_id=minted.token.id,
        inboxes=tuple(access),
        conversations=tuple(display_ids),
        contact_emails=tuple(emails),
        webhook_secret=webhook_secret,
    )
