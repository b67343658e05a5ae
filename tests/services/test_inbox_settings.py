"""Configuring channels through services/directory/inboxes.py: an email inbox's address and
servers (sealed at rest, KEEP vs clear, one parser, IMAP state reset), an API inbox's webhook
and its signing secret; admins only, audited without secrets."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from deskwoot.errors import Conflict, Invalid, NotFound
from deskwoot.extensions import db
from deskwoot.models import AuditEntry, Inbox, utcnow
from deskwoot.services.access import sealed
from deskwoot.services.directory import inboxes
from deskwoot.services.directory.inboxes import KEEP
from tests import factories

SMTP = "smtps://ada%40acme.test:Sm7p-pa55@mail.acme.test:465"
SMTP_2 = "smtp://relay:R3lay-pa55@relay.acme.test:587"
IMAP = "imaps://support:1map-pa55@imap.acme.test/Support"
IMAP_2 = "imaps://support:0ther-pa55@imap2.acme.test"
PASSWORDS = ("Sm7p-pa55", "R3lay-pa55", "1map-pa55", "0ther-pa55", "whsec_")


@pytest.fixture
def ws(app):
    return factories.make_workspace("Acme")


@pytest.fixture
def admin(ws):
    return factories.actor_for(factories.make_user(ws, role="admin"), ws)


@pytest.fixture
def agent(ws):
    return factories.actor_for(factories.make_user(ws, role="agent"), ws)


@pytest.fixture
def mail_inbox(admin):
    inbox, _ = inboxes.create_inbox(admin, "Mail", "email")
    return inbox


@pytest.fixture
def api_inbox(admin):
    inbox, _ = inboxes.create_inbox(admin, "App", "api")
    return inbox


def stored(inbox_id: int) -> Inbox:
    db.session.expire_all()
    return db.session.get(Inbox, inbox_id)


def raw_columns(inbox_id: int) -> dict:
    """The row as the database holds it, read past the ORM."""
    row = db.session.execute(
        select(
            Inbox.__table__.c.smtp_url, Inbox.__table__.c.imap_url, Inbox.__table__.c.webhook_secret
        ).where(Inbox.__table__.c.id == inbox_id)
    ).one()
    return dict(row._mapping)


def audit_rows() -> list[AuditEntry]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def assert_no_secrets_in_audit() -> None:
    for entry in audit_rows():
        text = f"{entry.action} {entry.target} {entry.detail}"
        for secret in PASSWORDS:
            assert secret not in text, text


# --- email inboxes ---------------------------------------------------------------------------


def test_an_email_inbox_is_created_with_its_settings_sealed(admin):
    inbox, _ = inboxes.create_inbox(
        admin, "Support", "email", email_address=" Support@Acme.TEST ", smtp_url=SMTP, imap_url=IMAP
    )
    row = raw_columns(inbox.id)
    for column, password in (("smtp_url", "Sm7p-pa55"), ("imap_url", "1map-pa55")):
        assert row[column].startswith("sealed:v1:")
        assert password not in row[column] and "acme.test" not in row[column]
    settings = inboxes.email_settings(stored(inbox.id))
    assert settings == inboxes.EmailSettings("support@acme.test", SMTP, IMAP)
    shown = inboxes.shown_email_settings(stored(inbox.id))
    assert shown.smtp_url == "smtps://ada%40acme.test:••••@mail.acme.test:465"
    assert shown.imap_url == "imaps://support:••••@imap.acme.test/Support"
    [entry] = audit_rows()
    assert entry.action == "inbox.created"
    assert entry.detail == "channel=email; address, smtp_url, imap_url set"
    assert_no_secrets_in_audit()


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"smtp_url": "http://mail.acme.test"}, "smtp_url", "must start with smtp or smtps://"),
        ({"smtp_url": "smtps://u:p@:465"}, "smtp_url", "has no host"),
        ({"smtp_url": "smtps://u:p@mail.acme.test:99999"}, "smtp_url", "bad port"),
        ({"imap_url": "imaps://imap.acme.test"}, "imap_url", "user and a password"),
        ({"imap_url": SMTP}, "imap_url", "must start with imap or imaps://"),
        ({"email_address": "not an address"}, "address", "valid email address"),
        ({"email_address": "a@b.test, c@d.test"}, "address", "valid email address"),
        ({"email_address": "Ada <ada@acme.test>"}, "address", "valid email address"),
        ({"email_address": "jürgen@acme.test"}, "address", "one plain email address"),
        ({"smtp_url": SMTP}, "address", "Enter the inbox's email address"),
    ],
)
def test_bad_email_settings_are_refused_and_nothing_is_created(admin, fields, field, message):
    fields.setdefault("email_address", None)
    with pytest.raises(Invalid, match=message) as refused:
        inboxes.create_inbox(admin, "Support", "email", **fields)
    assert refused.value.field == field
    assert "p@" not in refused.value.message and "Sm7p" not in refused.value.message
    assert db.session.scalar(select(Inbox.id)) is None


def test_mail_settings_belong_to_email_inboxes_only(admin, api_inbox):
    with pytest.raises(Invalid, match="Only email inboxes") as refused:
        inboxes.create_inbox(admin, "App 2", "api", smtp_url=SMTP)
    assert refused.value.field == "smtp_url"
    with pytest.raises(Invalid, match="Only email inboxes"):
        inboxes.configure_email(admin, api_inbox.id, address="a@acme.test")


def test_keep_keeps_and_empty_clears(admin, mail_inbox):
    inbox, changes = inboxes.configure_email(
        admin, mail_inbox.id, address="support@acme.test", smtp_url=SMTP, imap_url=IMAP
    )
    assert changes == ["address changed", "smtp_url changed", "imap_url changed"]
    sealed_smtp = raw_columns(inbox.id)["smtp_url"]

    # A form that leaves the URL fields empty sends KEEP: nothing changes, nothing is audited.
    _, changes = inboxes.configure_email(
        admin, inbox.id, address="support@acme.test", smtp_url=KEEP, imap_url=KEEP
    )
    assert changes == []
    assert raw_columns(inbox.id)["smtp_url"] == sealed_smtp
    # The same URL typed again is no change either.
    assert inboxes.configure_email(admin, inbox.id, smtp_url=SMTP)[1] == []

    _, changes = inboxes.configure_email(admin, inbox.id, smtp_url=SMTP_2, imap_url="")
    assert changes == ["smtp_url changed", "imap_url cleared"]
    assert inboxes.email_settings(stored(inbox.id)) == inboxes.EmailSettings(
        "support@acme.test", SMTP_2, None
    )
    assert raw_columns(inbox.id)["imap_url"] is None
    # Without servers the address may go too; with a server it may not.
    with pytest.raises(Invalid, match="email address") as refused:
        inboxes.configure_email(admin, inbox.id, address="")
    assert refused.value.field == "address"
    _, changes = inboxes.configure_email(admin, inbox.id, address=None, smtp_url=None)
    assert changes == ["address cleared", "smtp_url cleared"]

    details = [e.detail for e in audit_rows() if e.action == "inbox.email_changed"]
    assert details == [
        "address changed, smtp_url changed, imap_url changed",
        "smtp_url changed, imap_url cleared",
        "address cleared, smtp_url cleared",
    ]
    assert_no_secrets_in_audit()


def test_a_bad_url_changes_nothing(admin, mail_inbox):
    inboxes.configure_email(admin, mail_inbox.id, address="support@acme.test", smtp_url=SMTP)
    before = raw_columns(mail_inbox.id)
    with pytest.raises(Invalid) as refused:
        inboxes.configure_email(admin, mail_inbox.id, address="new@acme.test", smtp_url="smtp://")
    assert refused.value.field == "smtp_url"
    assert raw_columns(mail_inbox.id) == before
    assert stored(mail_inbox.id).email_address == "support@acme.test"


def test_a_new_imap_url_forgets_the_old_mailboxs_place(admin, mail_inbox):
    inboxes.configure_email(admin, mail_inbox.id, address="support@acme.test", imap_url=IMAP)
    db.session.execute(
        update(Inbox)
        .where(Inbox.id == mail_inbox.id)
        .values(
            imap_uidvalidity=42,
            imap_last_uid=17,
            imap_error="boom",
            imap_checked_at=utcnow(),
            imap_claimed_by="worker-1",
            imap_claimed_until=utcnow() + timedelta(minutes=5),
        )
    )
    db.session.commit()
    inboxes.configure_email(admin, mail_inbox.id, smtp_url=SMTP)  # not the mailbox: kept
    assert (stored(mail_inbox.id).imap_uidvalidity, stored(mail_inbox.id).imap_last_uid) == (42, 17)
    inboxes.configure_email(admin, mail_inbox.id, imap_url=IMAP_2)
    inbox = stored(mail_inbox.id)
    assert (inbox.imap_uidvalidity, inbox.imap_last_uid, inbox.imap_error) == (None, None, None)
    # A poll of the old mailbox still under way loses its lease, so it can record nothing.
    assert (inbox.imap_checked_at, inbox.imap_claimed_by, inbox.imap_claimed_until) == (
        None,
        None,
        None,
    )


def test_settings_sealed_under_another_key_are_reported_and_can_be_replaced(app, admin, mail_inbox):
    db.session.execute(
        update(Inbox)
        .where(Inbox.id == mail_inbox.id)
        .values(email_address="support@acme.test", smtp_url=sealed.seal(SMTP, "an old key"))
    )
    db.session.commit()
    shown = inboxes.shown_email_settings(stored(mail_inbox.id))
    assert shown.unreadable == ("smtp_url",) and shown.smtp_url is None
    with pytest.raises(Invalid, match="SECRET_KEY"):
        inboxes.settings_to_test(admin, mail_inbox.id)
    # Typing the same URL again re-seals it under the current key.
    assert inboxes.configure_email(admin, mail_inbox.id, smtp_url=SMTP)[1] == ["smtp_url changed"]
    assert inboxes.email_settings(stored(mail_inbox.id)).smtp_url == SMTP


def test_only_admins_configure_inboxes(agent, ws, mail_inbox, api_inbox):
    for attempt in (
        lambda: inboxes.configure_email(agent, mail_inbox.id, smtp_url=SMTP),
        lambda: inboxes.configure_webhook(agent, api_inbox.id, "https://hooks.acme.test/x"),
        lambda: inboxes.rotate_webhook_secret(agent, api_inbox.id),
        lambda: inboxes.settings_to_test(agent, mail_inbox.id),
        lambda: inboxes.get_inbox(agent, mail_inbox.id),
    ):
        with pytest.raises(NotFound):
            attempt()
    assert raw_columns(mail_inbox.id)["smtp_url"] is None


def test_an_inbox_of_another_workspace_is_not_found(admin):
    other = factories.make_workspace("Elsewhere")
    theirs, _ = inboxes.create_inbox(
        factories.actor_for(factories.make_user(other, role="admin"), other), "Theirs", "email"
    )
    with pytest.raises(NotFound):
        inboxes.configure_email(admin, theirs.id, smtp_url=SMTP)


# --- webhooks --------------------------------------------------------------------------------


def test_setting_a_webhook_issues_a_sealed_secret_once(admin, api_inbox):
    secret = inboxes.configure_webhook(admin, api_inbox.id, "https://hooks.acme.test/in?k=v")
    assert secret.startswith("whsec_")
    row = raw_columns(api_inbox.id)
    assert row["webhook_secret"].startswith("sealed:v1:") and secret not in row["webhook_secret"]
    assert inboxes.webhook_secret_of(stored(api_inbox.id)) == secret
    # Changing the URL keeps the secret (receivers keep verifying); the same URL is no change.
    assert inboxes.configure_webhook(admin, api_inbox.id, "https://hooks2.acme.test/in") is None
    assert inboxes.configure_webhook(admin, api_inbox.id, "https://hooks2.acme.test/in") is None
    assert inboxes.webhook_secret_of(stored(api_inbox.id)) == secret

    rotated = inboxes.rotate_webhook_secret(admin, api_inbox.id)
    assert rotated != secret and inboxes.webhook_secret_of(stored(api_inbox.id)) == rotated

    assert inboxes.configure_webhook(admin, api_inbox.id, "") is None
    inbox = stored(api_inbox.id)
    assert (inbox.webhook_url, inbox.webhook_secret) == (None, None)
    again = inboxes.configure_webhook(admin, api_inbox.id, "https://hooks.acme.test/in")
    assert again.startswith("whsec_") and again not in (secret, rotated)

    details = [(e.action, e.detail) for e in audit_rows() if e.action.startswith("inbox.webhook")]
    assert details == [
        ("inbox.webhook_changed", "webhook_url set (host hooks.acme.test), signing secret issued"),
        ("inbox.webhook_changed", "webhook_url changed (host hooks2.acme.test)"),
        ("inbox.webhook_secret_rotated", None),
        ("inbox.webhook_changed", "webhook_url cleared, signing secret dropped"),
        ("inbox.webhook_changed", "webhook_url set (host hooks.acme.test), signing secret issued"),
    ]
    for entry in audit_rows():
        for value in (secret, rotated, again, "k=v"):
            assert value not in f"{entry.target} {entry.detail}"


def test_webhooks_belong_to_api_inboxes_and_need_a_real_url(admin, api_inbox, mail_inbox):
    with pytest.raises(Invalid, match="Only API inboxes") as refused:
        inboxes.configure_webhook(admin, mail_inbox.id, "https://hooks.acme.test/in")
    assert refused.value.field == "webhook_url"
    with pytest.raises(Invalid, match="http:// or https://"):
        inboxes.configure_webhook(admin, api_inbox.id, "ftp://hooks.acme.test/in")
    with pytest.raises(Conflict, match="no webhook"):
        inboxes.rotate_webhook_secret(admin, api_inbox.id)
    assert raw_columns(api_inbox.id)["webhook_secret"] is None
