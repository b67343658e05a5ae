"""channels/email/smtp.py against the real SMTP sink: what is delivered, what is retried, what
fails at once — the sentences teammates read on a message and in Settings' test button."""

from __future__ import annotations

import socket
from email.message import EmailMessage

import pytest

from deskwoot.channels.email.smtp import close_sessions, send_message
from deskwoot.channels.outcomes import Delivered, Failed, Retry

pytestmark = pytest.mark.mail


def mail() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Ada from Acme Support <support@acme.test>"
    message["To"] = "john@example.com"
    message["Subject"] = "Re: Order 1234 [#7]"
    message["Message-ID"] = "<deskwoot.m7.inbox1@acme.test>"
    message.set_content("Your order is on its way.")
    return message


def url(sink, login: str = "") -> str:
    return f"smtp://{login}{sink.host}:{sink.port}"


def test_a_message_is_delivered_once(app, smtp_sink):
    assert send_message(url(smtp_sink), mail(), timeout=5) == Delivered()
    [received] = smtp_sink.wait_for(1)
    assert received.parsed()["Message-ID"] == "<deskwoot.m7.inbox1@acme.test>"


def test_a_4xx_is_retried_with_the_servers_words(app, smtp_sink):
    smtp_sink.fail_next(1, 451, "4.7.1 Greylisted, try again")
    outcome = send_message(url(smtp_sink), mail(), timeout=5)
    assert isinstance(outcome, Retry)
    assert "451 4.7.1 Greylisted, try again" in outcome.reason
    assert send_message(url(smtp_sink), mail(), timeout=5) == Delivered()
    assert len(smtp_sink.wait_for(1)) == 1


def test_a_5xx_fails_at_once(app, smtp_sink):
    smtp_sink.fail_next(1, 550, "5.1.1 No such user")
    outcome = send_message(url(smtp_sink), mail(), timeout=5)
    assert isinstance(outcome, Failed)
    assert "550 5.1.1 No such user" in outcome.reason
    assert smtp_sink.messages() == []


def test_a_server_that_is_down_is_retried(app, smtp_sink):
    smtp_sink.stop()
    outcome = send_message(url(smtp_sink), mail(), timeout=5)
    assert isinstance(outcome, Retry)
    assert "refused the connection" in outcome.reason


def test_a_server_that_never_answers_is_a_timeout_retry(app):
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        host, port = silent.getsockname()
        outcome = send_message(f"smtp://{host}:{port}", mail(), timeout=0.5)
    assert isinstance(outcome, Retry)
    assert "did not answer within 0.5 s" in outcome.reason


def test_a_wrong_password_fails_and_the_right_one_goes_over_starttls(app, make_smtp_sink):
    sink = make_smtp_sink(auth=("ada", "s3cret"), starttls=True)
    app.config["MAIL_TLS_CAFILE"] = str(sink.cafile)
    outcome = send_message(url(sink, "ada:wrong@"), mail(), timeout=5)
    assert isinstance(outcome, Failed)
    assert "refused the login: 535" in outcome.reason
    assert send_message(url(sink, "ada:s3cret@"), mail(), timeout=5) == Delivered()


def test_an_untrusted_certificate_fails_with_the_reason(app, make_smtp_sink):
    sink = make_smtp_sink(starttls=True)
    outcome = send_message(url(sink), mail(), timeout=5)
    assert isinstance(outcome, Failed)
    assert "certificate that does not verify: self-signed certificate" in outcome.reason


def test_no_or_bad_settings_fail_with_what_to_fix(app):
    assert "Enter the SMTP server" in send_message(None, mail(), timeout=5).reason
    assert "must start with smtp" in send_message("http://x", mail(), timeout=5).reason


def test_the_worker_reuses_one_session_per_server_and_survives_a_closed_one(app, smtp_sink):
    try:
        for _ in range(3):
            assert send_message(url(smtp_sink), mail(), timeout=5, reuse=True) == Delivered()
        first = smtp_sink.wait_for(3)
        assert len({m.peer for m in first}) == 1  # one connection for the three
        smtp_sink.stop()  # the kept session dies with the server
        smtp_sink.start()
        assert send_message(url(smtp_sink), mail(), timeout=5, reuse=True) == Delivered()
        received = smtp_sink.wait_for(4)
        assert received[3].peer != first[0].peer  # NOOP failed: a fresh session
    finally:
        close_sessions()
    # Without reuse (the Settings test button), every message opens its own session.
    send_message(url(smtp_sink), mail(), timeout=5)
    send_message(url(smtp_sink), mail(), timeout=5)
    received = smtp_sink.wait_for(6)
    assert received[4].peer != received[5].peer


def test_a_refused_message_does_not_keep_the_session(app, smtp_sink):
    try:
        smtp_sink.fail_next(1, 451)
        assert isinstance(send_message(url(smtp_sink), mail(), timeout=5, reuse=True), Retry)
        assert send_message(url(smtp_sink), mail(), timeout=5, reuse=True) == Delivered()
        assert send_message(url(smtp_sink), mail(), timeout=5, reuse=True) == Delivered()
        a, b = smtp_sink.wait_for(2)
        assert a.peer == b.peer
    finally:
        close_sessions()
