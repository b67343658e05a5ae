"""The product's own mail (DESKWOOT_SMTP_URL / DESKWOOT_MAIL_FROM): an invitation and a
password reset become outbox rows the worker sends to the real SMTP sink, machine-written and
with the link; a refusal fails the row, is logged, and stops nothing else."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from deskwoot.delivery.worker import Worker
from deskwoot.extensions import db
from deskwoot.models import Event, Outbox
from deskwoot.services.access import logins
from deskwoot.services.directory import invitations
from deskwoot.services.operations import mail
from tests import factories as f
from tests.delivery.mail_desk import sink_url, text_of

pytestmark = pytest.mark.mail

MAIL_FROM = "Acme Desk <desk@acme.test>"


@pytest.fixture
def product_sink(make_smtp_sink):
    return make_smtp_sink()


@pytest.fixture
def app_config(app_config, product_sink):
    return {**app_config, "SMTP_URL": sink_url(product_sink), "MAIL_FROM": MAIL_FROM}


def _rows() -> list[Outbox]:
    db.session.rollback()
    return list(db.session.execute(select(Outbox).order_by(Outbox.id)).scalars())


def test_an_invitation_is_queued_and_the_worker_mails_it(app, client, product_sink):
    assert mail.configured()
    assert 'data-testid="forgot-password"' in client.get("/login").get_data(as_text=True)
    workspace = f.make_workspace(name="Acme")
    admin = f.make_user(workspace, role="admin", name="Ann Admin")
    issued = invitations.invite(f.actor_for(admin, workspace), "bea@example.com", "agent")
    assert issued.emailed
    [row] = _rows()
    assert (row.channel, row.workspace_id, row.message_id, row.status) == (
        "mail",
        None,
        None,
        "pending",
    )
    assert row.payload["to"] == "bea@example.com"
    assert product_sink.messages() == []  # the request did not wait for the mail server
    assert Worker(app).run(once=True) == 1
    [received] = product_sink.wait_for(1)
    sent = received.parsed()
    assert received.rcpt_tos == ("bea@example.com",)
    assert sent["From"] == MAIL_FROM
    assert sent["Subject"] == "Join Acme on Deskwoot"
    assert sent["Auto-Submitted"] == "auto-generated"
    assert sent["Message-ID"] == f"<deskwoot.{row.delivery_id}@acme.test>"
    assert issued.url in text_of(sent)
    [row] = _rows()
    assert (row.status, row.attempts) == ("sent", 1)
    # No conversation, so nothing in any workspace's events feed.
    assert db.session.execute(select(Event).where(Event.type.like("message.%"))).all() == []


def test_a_password_reset_link_is_mailed(app, product_sink):
    workspace = f.make_workspace()
    user = f.make_user(workspace, email="ann@example.test", name="Ann")
    logins.request_password_reset("ann@example.test", "198.51.100.7")
    Worker(app).run(once=True)
    [received] = product_sink.wait_for(1)
    sent = received.parsed()
    assert received.rcpt_tos == (user.email,)
    assert sent["Subject"] == "Reset your Deskwoot password"
    assert "http://localhost/set-password/" in text_of(sent)


def test_a_refused_mail_fails_is_logged_and_stops_nothing(app, product_sink, caplog):
    workspace = f.make_workspace(name="Acme")
    actor = f.actor_for(f.make_user(workspace, role="admin"), workspace)
    invitations.invite(actor, "nobody@example.com", "agent")
    invitations.invite(actor, "bea@example.com", "agent")
    product_sink.fail_next(1, 550, "5.1.1 No such user")
    with caplog.at_level(logging.WARNING, logger="deskwoot.services.delivery.outbox"):
        assert Worker(app).run(once=True) == 2
    refused, delivered = _rows()
    assert (refused.status, refused.attempts) == ("failed", 1)
    assert "550 5.1.1 No such user" in refused.last_error
    assert refused.last_error in caplog.text
    assert delivered.status == "sent"
    assert [m.rcpt_tos for m in product_sink.messages()] == [("bea@example.com",)]


def test_a_capture_sender_registered_by_a_test_still_wins(app):
    captured: list[mail.Message] = []
    mail.register_sender(app, captured.append)
    try:
        logins.request_password_reset("nobody@example.test", "10.0.0.1")  # unknown: no mail
        f.make_user(f.make_workspace(), email="ann@example.test", name="Ann")
        logins.request_password_reset("ann@example.test", "10.0.0.1")
    finally:
        mail.register_sender(app, None)
    assert [m.to for m in captured] == ["ann@example.test"]
    assert _rows() == []
