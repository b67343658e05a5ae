"""Settings > Inboxes > one inbox: email servers (masked, never echoed, KEEP vs remove), the
"Send a test" and "Check mailbox" buttons against the real SMTP sink and dovecot, and an API
inbox's webhook with its signing secret shown once."""

from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import select, update

from deskwoot.extensions import db
from deskwoot.models import AuditEntry, Inbox, utcnow
from deskwoot.services.directory import inboxes
from tests import factories

# The real mail servers' fixtures, found by name (the tests ask for them through `request`,
# so the names stay free).
from tests.mail_servers import (  # noqa: F401
    imap_mailbox,
    imap_server,
    make_smtp_sink,
)

PASSWORD = "Sm7p-pa55w0rd"
SMTP = f"smtps://ada:{PASSWORD}@mail.acme.test:465"
IMAP = "imaps://support:1map-pa55w0rd@imap.acme.test/Support"
WEBHOOK_SECRET_RE = re.compile(r"whsec_[A-Za-z0-9+/=]{20,}")


@pytest.fixture
def mail_inbox(desk) -> Inbox:
    inbox, _ = inboxes.create_inbox(
        factories.actor_for(desk.admin, desk.workspace), "Support Mail", "email"
    )
    return inbox


def reread(inbox_id: int) -> Inbox:
    db.session.expire_all()
    return db.session.get(Inbox, inbox_id)


def settings_url(desk, inbox: Inbox, action: str = "") -> str:
    return desk.url(f"/settings/inboxes/{inbox.id}{action}")


def save_email(client, desk, inbox, **fields):
    data = {"address": "support@acme.test", "smtp_url": "", "imap_url": "", **fields}
    return client.post(settings_url(desk, inbox, "/email"), data=data)


def text_of(response) -> str:
    return response.get_data(as_text=True)


def input_values(page: str) -> list[str]:
    return re.findall(r'<input[^>]*\bvalue="([^"]*)"', page)


# --- email settings --------------------------------------------------------------------------


def test_the_inbox_list_links_each_inbox_to_its_settings(as_admin, desk, mail_inbox):
    page = text_of(as_admin.get(desk.url("/settings/inboxes")))
    assert f'href="/w/{desk.workspace.slug}/settings/inboxes/{mail_inbox.id}"' in page
    assert f'href="/w/{desk.workspace.slug}/settings/inboxes/{desk.support.id}"' in page


def test_saved_urls_are_sealed_shown_masked_and_never_put_in_an_input(as_admin, desk, mail_inbox):
    response = save_email(as_admin, desk, mail_inbox, smtp_url=SMTP, imap_url=IMAP)
    assert response.status_code == 302
    raw = db.session.execute(
        select(Inbox.__table__.c.smtp_url).where(Inbox.__table__.c.id == mail_inbox.id)
    ).scalar_one()
    assert raw.startswith("sealed:v1:") and PASSWORD not in raw

    page = text_of(as_admin.get(response.headers["Location"]))
    assert "Email settings of Support Mail saved." in page
    assert "smtps://ada:••••@mail.acme.test:465" in page
    assert "imaps://support:••••@imap.acme.test/Support" in page
    assert PASSWORD not in page and "1map-pa55w0rd" not in page
    assert not any("acme.test:465" in value for value in input_values(page))
    assert 'value="support@acme.test"' in page  # the address is no secret


def test_empty_url_fields_keep_and_remove_clears(as_admin, desk, mail_inbox):
    save_email(as_admin, desk, mail_inbox, smtp_url=SMTP, imap_url=IMAP)
    response = save_email(as_admin, desk, mail_inbox)
    assert response.status_code == 302
    assert "Nothing changed." in text_of(as_admin.get(response.headers["Location"]))
    assert inboxes.email_settings(reread(mail_inbox.id)).smtp_url == SMTP

    response = save_email(as_admin, desk, mail_inbox, remove_imap="y")
    assert response.status_code == 302
    settings = inboxes.email_settings(reread(mail_inbox.id))
    assert (settings.smtp_url, settings.imap_url) == (SMTP, None)
    details = db.session.scalars(
        select(AuditEntry.detail).where(AuditEntry.action == "inbox.email_changed")
    ).all()
    assert details == ["address changed, smtp_url changed, imap_url changed", "imap_url cleared"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"smtp_url": f"http://ada:{PASSWORD}@mail.acme.test"}, "must start with smtp or smtps"),
        ({"imap_url": f"imaps://imap.acme.test:99999/{PASSWORD}"}, "bad port"),
        ({"address": "two@acme.test three@acme.test", "smtp_url": SMTP}, "valid email address"),
    ],
)
def test_bad_settings_are_form_errors_and_the_typed_url_is_not_echoed(
    as_admin, desk, mail_inbox, fields, message
):
    response = save_email(as_admin, desk, mail_inbox, **fields)
    assert response.status_code == 422
    page = text_of(response)
    assert message in page and 'class="field-error"' in page
    assert PASSWORD not in page
    inbox = reread(mail_inbox.id)
    assert (inbox.email_address, inbox.smtp_url, inbox.imap_url) == (None, None, None)


def test_an_email_inbox_is_created_with_its_servers_from_the_list(as_admin, desk):
    response = as_admin.post(
        desk.url("/settings/inboxes"),
        data={"name": "Help", "channel": "email", "address": "Help@Acme.test", "smtp_url": SMTP},
    )
    assert response.status_code == 302
    inbox = db.session.execute(select(Inbox).where(Inbox.name == "Help")).scalar_one()
    assert inboxes.email_settings(inbox) == inboxes.EmailSettings("help@acme.test", SMTP, None)

    refused = as_admin.post(
        desk.url("/settings/inboxes"),
        data={"name": "Api", "channel": "api", "smtp_url": SMTP, "address": "a@acme.test"},
    )
    assert refused.status_code == 422
    assert "Only email inboxes have mail settings." in text_of(refused)
    assert PASSWORD not in text_of(refused)


def test_the_last_poll_is_shown(as_admin, desk, mail_inbox):
    db.session.execute(
        update(Inbox)
        .where(Inbox.id == mail_inbox.id)
        .values(imap_checked_at=utcnow(), imap_error="The IMAP server refused the login")
    )
    db.session.commit()
    page = text_of(as_admin.get(settings_url(desk, mail_inbox)))
    assert "Failed" in page and "The IMAP server refused the login" in page


def test_agents_get_the_usual_refusal(as_agent, desk, mail_inbox):
    assert as_agent.get(settings_url(desk, mail_inbox)).status_code == 404
    for action in ("/email", "/email/test", "/email/check", "/webhook", "/webhook/rotate"):
        response = as_agent.post(
            settings_url(desk, mail_inbox, action), data={"smtp_url": SMTP, "address": "x@y.test"}
        )
        assert response.status_code == 404, action
    assert reread(mail_inbox.id).smtp_url is None


def test_an_inbox_of_another_workspace_is_not_found(as_admin, desk):
    other = factories.make_workspace("Elsewhere")
    theirs = factories.make_inbox(other, name="Theirs")
    assert as_admin.get(settings_url(desk, theirs)).status_code == 404
    assert as_admin.post(settings_url(desk, theirs, "/webhook"), data={}).status_code == 404


def test_testing_an_inbox_without_settings_says_so(as_admin, desk, mail_inbox):
    response = as_admin.post(settings_url(desk, mail_inbox, "/email/test"), follow_redirects=True)
    assert "No SMTP server is saved for this inbox." in text_of(response)
    response = as_admin.post(settings_url(desk, mail_inbox, "/email/check"), follow_redirects=True)
    assert "No IMAP mailbox is saved for this inbox." in text_of(response)


# --- webhooks --------------------------------------------------------------------------------


def webhook_page(client, desk, inbox=None, **data):
    inbox = inbox or desk.support
    response = client.post(settings_url(desk, inbox, "/webhook"), data=data)
    assert response.status_code == 302, text_of(response)
    return text_of(client.get(response.headers["Location"]))


def test_a_webhook_secret_is_shown_once_rotated_and_dropped(as_admin, desk):
    assert "No webhook: replies in this inbox are marked sent" in text_of(
        as_admin.get(settings_url(desk, desk.support))
    )
    page = webhook_page(as_admin, desk, webhook_url="https://user:hunter22@hooks.acme.test/in")
    [secret] = WEBHOOK_SECRET_RE.findall(page)
    assert inboxes.webhook_secret_of(reread(desk.support.id)) == secret
    assert "https://user:••••@hooks.acme.test/in" in page and "hunter22" not in page
    again = text_of(as_admin.get(settings_url(desk, desk.support)))
    assert secret not in again and not WEBHOOK_SECRET_RE.search(again)

    # Changing the URL keeps the secret, so nothing new is shown.
    page = webhook_page(as_admin, desk, webhook_url="https://hooks2.acme.test/in")
    assert not WEBHOOK_SECRET_RE.search(page)

    response = as_admin.post(settings_url(desk, desk.support, "/webhook/rotate"))
    [rotated] = WEBHOOK_SECRET_RE.findall(text_of(as_admin.get(response.headers["Location"])))
    assert rotated != secret and inboxes.webhook_secret_of(reread(desk.support.id)) == rotated

    page = webhook_page(as_admin, desk, remove="y")
    assert "Webhook removed." in page and "No webhook" in page
    assert (reread(desk.support.id).webhook_url, reread(desk.support.id).webhook_secret) == (
        None,
        None,
    )
    for entry in db.session.scalars(select(AuditEntry)):
        assert secret not in f"{entry.detail}" and rotated not in f"{entry.detail}"
        assert "hunter22" not in f"{entry.detail}"


def test_a_bad_webhook_url_is_a_form_error(as_admin, desk, mail_inbox):
    response = as_admin.post(
        settings_url(desk, desk.support, "/webhook"), data={"webhook_url": "ftp://x.test/secret9"}
    )
    assert response.status_code == 422
    assert "http:// or https://" in text_of(response) and "secret9" not in text_of(response)
    response = as_admin.post(
        settings_url(desk, desk.support, "/webhook/rotate"), follow_redirects=True
    )
    assert "no webhook: set a webhook URL first" in text_of(response)


# --- the test buttons, against real servers --------------------------------------------------


def press(client, desk, inbox, button: str) -> str:
    """Press "Send a test" (/email/test) or "Check mailbox" (/email/check): the flashed line."""
    response = client.post(settings_url(desk, inbox, button), follow_redirects=True)
    assert response.status_code == 200
    [line] = re.findall(r'<div class="flash flash-\w+"[^>]*>([^<]*)</div>', text_of(response))
    return line.replace("&#39;", "'")


def configure(desk, inbox, **urls) -> None:
    inboxes.configure_email(
        factories.actor_for(desk.admin, desk.workspace),
        inbox.id,
        address="support@acme.test",
        **urls,
    )


@pytest.mark.mail
def test_send_a_test_reaches_the_admin(app, as_admin, desk, mail_inbox, request):
    sink = request.getfixturevalue("make_smtp_sink")(auth=("ada", "s3cret"), starttls=True)
    app.config["MAIL_TLS_CAFILE"] = str(sink.cafile)
    configure(desk, mail_inbox, smtp_url=f"smtp://ada:s3cret@{sink.host}:{sink.port}")
    line = press(as_admin, desk, mail_inbox, "/email/test")
    assert line == f"Send a test: Sent to ada@acme.test via {sink.host}:{sink.port}."
    [received] = sink.wait_for(1)
    mail = received.parsed()
    assert received.rcpt_tos == ("ada@acme.test",) and received.login == "ada"
    assert mail["Subject"] == "Deskwoot test from Support Mail"
    assert mail["From"].addresses[0].addr_spec == "support@acme.test"
    assert mail["From"].addresses[0].display_name == "Support Mail"


@pytest.mark.mail
def test_send_a_test_reports_the_exact_reason(app, as_admin, desk, mail_inbox, request):
    new_sink = request.getfixturevalue("make_smtp_sink")
    sink = new_sink()
    configure(desk, mail_inbox, smtp_url=f"smtp://{sink.host}:{sink.port}")
    sink.fail_next(1, 550, "5.7.1 Relaying denied")
    assert press(as_admin, desk, mail_inbox, "/email/test") == (
        "Send a test: The mail server refused the message: 550 5.7.1 Relaying denied."
    )
    sink.stop()
    line = press(as_admin, desk, mail_inbox, "/email/test")
    assert line == (
        f"Send a test: The mail server at {sink.host}:{sink.port} refused the connection."
    )

    guarded = new_sink(auth=("ada", "s3cret"))
    configure(desk, mail_inbox, smtp_url=f"smtp://ada:wrong@{guarded.host}:{guarded.port}")
    line = press(as_admin, desk, mail_inbox, "/email/test")
    assert line.startswith(
        f"Send a test: The mail server at {guarded.host}:{guarded.port} refused the login: 535"
    ), line
    assert "wrong" not in line and guarded.messages() == []


def _append(account, folder: str, subject: str, seen: bool) -> None:
    message = f"From: jane@example.com\r\nSubject: {subject}\r\n\r\nHello\r\n".encode()
    with account.connect() as imap:
        status, _ = imap.append(folder, "(\\Seen)" if seen else None, time.time(), message)
        assert status == "OK"


def _imap_url(account, password=None, folder=None) -> str:
    return (
        f"imap://{account.user}:{password or account.password}@{account.host}:{account.port}/"
        f"{folder or account.folder}"
    )


@pytest.mark.mail
def test_check_mailbox_counts_and_reports_errors(app, as_admin, desk, mail_inbox, request):
    mailbox = request.getfixturevalue("imap_mailbox")
    app.config["MAIL_TLS_CAFILE"] = mailbox.cafile  # dovecot offers STARTTLS
    _append(mailbox, mailbox.folder, "One", seen=True)
    _append(mailbox, mailbox.folder, "Two", seen=False)
    configure(desk, mail_inbox, imap_url=_imap_url(mailbox))
    assert press(as_admin, desk, mail_inbox, "/email/check") == (
        f"Check mailbox: {mailbox.folder}: 2 messages, 1 unseen."
    )

    configure(desk, mail_inbox, imap_url=_imap_url(mailbox, password="not-it"))
    line = press(as_admin, desk, mail_inbox, "/email/check")
    assert line.startswith(
        f"Check mailbox: The IMAP server at {mailbox.host}:{mailbox.port} refused the login: "
    ), line
    assert "AUTHENTICATIONFAILED" in line or "failed" in line.lower()
    assert "not-it" not in line

    configure(desk, mail_inbox, imap_url=_imap_url(mailbox, folder="NoSuchFolder"))
    line = press(as_admin, desk, mail_inbox, "/email/check")
    assert line.startswith("Check mailbox: The folder 'NoSuchFolder' cannot be opened"), line
    with mailbox.connect() as imap:  # read-only: nothing was marked seen
        imap.select(mailbox.folder)
        assert len(imap.search(None, "UNSEEN")[1][0].split()) == 1
