"""`deskwoot inbox create --channel email …`, `inbox email`, `inbox webhook`, `inbox test`:
passwords never printed back, bad values one line and exit 1, the tests against real servers."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from deskwoot.extensions import db
from deskwoot.models import AuditEntry, Inbox
from deskwoot.services.directory import inboxes
from tests import factories as f
from tests.cli.helpers import assert_error, last_line, ok
from tests.mail_servers import imap_mailbox, imap_server, make_smtp_sink  # noqa: F401 (fixtures)

PASSWORD = "cli-Pa55-w0rd"
SMTP = f"smtps://ada:{PASSWORD}@mail.acme.test:465"
IMAP = "imaps://support:1map-pa55w0rd@imap.acme.test/Support"


def inbox_named(name: str) -> Inbox:
    db.session.expire_all()
    return db.session.execute(select(Inbox).where(Inbox.name == name)).scalar_one()


def create_mail_inbox(runner, *extra: str):
    return runner.invoke(
        args=["inbox", "create", "acme", "Mail", "--channel", "email", *extra],
    )


def test_create_an_email_inbox_with_its_servers(runner, ws):
    result = create_mail_inbox(
        runner, "--address", "Support@Acme.test", "--smtp-url", SMTP, "--imap-url", IMAP
    )
    out = ok(result)
    assert "Address: support@acme.test" in out
    assert "SMTP: smtps://ada:••••@mail.acme.test:465" in out
    assert "IMAP: imaps://support:••••@imap.acme.test/Support" in out
    assert PASSWORD not in result.output and "1map-pa55w0rd" not in result.output
    assert last_line(result).startswith("dw_in_")
    inbox = inbox_named("Mail")
    assert inbox.smtp_url.startswith("sealed:v1:") and PASSWORD not in inbox.smtp_url
    assert inboxes.email_settings(inbox) == inboxes.EmailSettings("support@acme.test", SMTP, IMAP)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--address", "a@acme.test", "--smtp-url", "http://x.test"], "must start with smtp"),
        (["--address", "a@acme.test", "--imap-url", "imaps://host"], "user and a password"),
        (["--address", "nope", "--smtp-url", SMTP], "valid email address"),
        (["--smtp-url", SMTP], "Enter the inbox's email address"),
    ],
)
def test_bad_values_are_one_line_and_nothing_is_created(runner, ws, args, message):
    result = create_mail_inbox(runner, *args)
    assert_error(result, message)
    assert PASSWORD not in result.output
    assert db.session.scalar(select(Inbox.id)) is None


def test_mail_settings_on_an_api_inbox_are_refused(runner, ws):
    result = runner.invoke(args=["inbox", "create", "acme", "App", "--smtp-url", SMTP])
    assert_error(result, "Only email inboxes have mail settings.")


def test_inbox_email_changes_what_it_is_given_and_keeps_the_rest(runner, ws):
    ok(create_mail_inbox(runner, "--address", "support@acme.test", "--smtp-url", SMTP))
    result = runner.invoke(args=["inbox", "email", "acme", "mail", "--imap-url", IMAP])
    out = ok(result)
    assert "Mail: imap_url changed." in out
    assert "SMTP: smtps://ada:••••@mail.acme.test:465" in out and PASSWORD not in out
    assert inboxes.email_settings(inbox_named("Mail")).smtp_url == SMTP

    out = ok(runner.invoke(args=["inbox", "email", "acme", "Mail", "--clear-imap"]))
    assert "Mail: imap_url cleared." in out and "IMAP: (not set)" in out
    out = ok(runner.invoke(args=["inbox", "email", "acme", "Mail"]))
    assert "Mail: nothing changed." in out

    assert_error(
        runner.invoke(args=["inbox", "email", "acme", "Mail", "--smtp-url", "smtp://"]),
        "has no host",
    )
    assert_error(
        runner.invoke(args=["inbox", "email", "acme", "Nope", "--address", "a@acme.test"]),
        "No inbox called 'Nope'",
    )
    assert_error(
        runner.invoke(args=["inbox", "email", "acme", "Mail", "--imap-url", IMAP, "--clear-imap"]),
        "not both",
    )
    details = db.session.scalars(select(AuditEntry.detail).order_by(AuditEntry.id)).all()
    assert details[-2:] == ["imap_url changed", "imap_url cleared"]
    assert not any(PASSWORD in (d or "") for d in details)


def test_inbox_webhook_set_rotate_clear(runner, ws):
    f.make_inbox(ws, name="App")
    result = runner.invoke(
        args=["inbox", "webhook", "acme", "App", "--url", "https://u:hunter22@hooks.acme.test/in"]
    )
    out = ok(result)
    secret = last_line(result)
    assert secret.startswith("whsec_") and inboxes.webhook_secret_of(inbox_named("App")) == secret
    assert "POSTed to https://u:••••@hooks.acme.test/in" in out and "hunter22" not in out

    result = runner.invoke(args=["inbox", "webhook", "acme", "App", "--rotate-secret"])
    ok(result)
    rotated = last_line(result)
    assert rotated.startswith("whsec_") and rotated != secret
    assert inboxes.webhook_secret_of(inbox_named("App")) == rotated

    out = ok(runner.invoke(args=["inbox", "webhook", "acme", "App", "--clear"]))
    assert "no webhook: replies are read from the events feed" in out and "whsec_" not in out
    assert inbox_named("App").webhook_secret is None

    assert_error(runner.invoke(args=["inbox", "webhook", "acme", "App"]), "exactly one of")
    assert_error(
        runner.invoke(args=["inbox", "webhook", "acme", "App", "--clear", "--rotate-secret"]),
        "exactly one of",
    )
    assert_error(
        runner.invoke(args=["inbox", "webhook", "acme", "App", "--rotate-secret"]), "no webhook"
    )
    assert_error(
        runner.invoke(args=["inbox", "webhook", "acme", "App", "--url", "ftp://x.test"]),
        "http:// or https://",
    )


def test_inbox_test_needs_something_to_test(runner, ws):
    ok(create_mail_inbox(runner))
    assert_error(
        runner.invoke(args=["inbox", "test", "acme", "Mail"]), "no SMTP server or IMAP mailbox"
    )
    f.make_inbox(ws, name="App")
    assert_error(runner.invoke(args=["inbox", "test", "acme", "App"]), "Only email inboxes")


# --- against the real servers ------------------------------------------------------------------


def _imap_url(account, password=None, folder=None) -> str:
    return (
        f"imap://{account.user}:{password or account.password}@{account.host}:{account.port}/"
        f"{folder or account.folder}"
    )


@pytest.mark.mail
def test_inbox_test_sends_and_checks(app, runner, ws, request):
    sink = request.getfixturevalue("make_smtp_sink")()
    mailbox = request.getfixturevalue("imap_mailbox")
    app.config["MAIL_TLS_CAFILE"] = mailbox.cafile  # dovecot offers STARTTLS
    with mailbox.connect() as imap:
        message = b"From: jane@example.com\r\nSubject: Hi\r\n\r\nHello\r\n"
        assert imap.append(mailbox.folder, None, time.time(), message)[0] == "OK"
    ok(
        create_mail_inbox(
            runner,
            "--address",
            "support@acme.test",
            "--smtp-url",
            f"smtp://{sink.host}:{sink.port}",
            "--imap-url",
            _imap_url(mailbox),
        )
    )
    out = ok(runner.invoke(args=["inbox", "test", "acme", "Mail", "--to", "ops@acme.test"]))
    assert f"SMTP: Sent to ops@acme.test via {sink.host}:{sink.port}." in out
    assert f"IMAP: {mailbox.folder}: 1 message, 1 unseen." in out
    [received] = sink.wait_for(1)
    assert received.rcpt_tos == ("ops@acme.test",)
    assert received.parsed()["Subject"] == "Deskwoot test from Mail"

    # Without --to the test goes to the inbox's own address.
    ok(runner.invoke(args=["inbox", "test", "acme", "Mail"]))
    assert sink.wait_for(2)[1].rcpt_tos == ("support@acme.test",)

    # Both fail: one line each, exit 1, no password.
    sink.fail_next(1, 554, "5.7.1 Rejected for policy reasons")
    ok(
        runner.invoke(
            args=["inbox", "email", "acme", "Mail", "--imap-url", _imap_url(mailbox, "bad-pw")]
        )
    )
    result = runner.invoke(args=["inbox", "test", "acme", "Mail"])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2, result.stderr
    assert lines[0] == (
        "Error: SMTP: The mail server refused the message: 554 5.7.1 Rejected for policy reasons."
    )
    assert lines[1].startswith(
        f"Error: IMAP: The IMAP server at {mailbox.host}:{mailbox.port} refused the login: "
    )
    assert "bad-pw" not in result.output and "Traceback" not in result.output
