"""The conversation page says how each outgoing message's delivery went, as the worker
recorded it: Sending… (and, after a failed attempt, why and when it tries again), Sent, Not
delivered with a Retry button, or — an API inbox without a webhook — not sent anywhere."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import update

from deskwoot.delivery.worker import Worker
from deskwoot.extensions import db
from deskwoot.models import Conversation, Outbox, utcnow
from deskwoot.services.conversations import workflow
from tests.delivery.desk import (
    Desk,
    app_config,  # noqa: F401 (a fixture: retries due at once)
)
from tests.delivery.receiver import Answer, Receiver

DELIVERY = re.compile(
    r'data-testid="delivery" data-status="(\w+)">.*?data-testid="delivery-label">([^<]+)<', re.S
)


def _labels(client, url: str) -> list[tuple[str, str]]:
    html = client.get(url).get_data(as_text=True)
    return [(status, " ".join(label.split())) for status, label in DELIVERY.findall(html)]


def _page(desk: Desk, message) -> str:
    number = db.session.get(Conversation, message.conversation_id).display_id
    return f"/w/{desk.workspace.slug}/conversations/{number}"


def test_sending_sent_and_not_delivered(app, client, auth):
    with Receiver(Answer(200), Answer(410)) as receiver:
        desk = Desk(receiver.url)
        first = desk.reply("one")
        url = _page(desk, first)
        auth.login(desk.agent.email)
        assert _labels(client, url) == [("pending", "Sending…")]
        Worker(app).run(once=True)
        workflow.reply(
            desk.actor, db.session.get(Conversation, first.conversation_id).display_id, "two"
        )
        Worker(app).run(once=True)
    html = client.get(url).get_data(as_text=True)
    assert _labels(client, url) == [
        ("sent", "Sent"),
        ("failed", "Not delivered: HTTP 410 (after 1 attempt)"),
    ]
    # One Retry button, on the failed message only, posting to its retry route.
    assert html.count('data-testid="retry-delivery"') == 1
    assert "/retry" in html


def test_a_failed_attempt_says_why_and_when_it_tries_again(app, client, auth):
    desk = Desk("http://127.0.0.1:9/hook")
    message = desk.reply()
    later = utcnow() + timedelta(minutes=5)
    db.session.execute(
        update(Outbox)
        .where(Outbox.message_id == message.id)
        .values(attempts=2, last_error="HTTP 503", next_attempt_at=later)
    )
    db.session.commit()
    auth.login(desk.agent.email)
    html = client.get(_page(desk, message)).get_data(as_text=True)
    assert _labels(client, _page(desk, message)) == [("pending", "Sending…")]
    assert "attempt 2 failed: HTTP 503; trying again at" in html
    assert f'datetime="{later.isoformat()}"' in html
    assert 'data-testid="retry-delivery"' not in html


def test_an_api_inbox_without_a_webhook_says_it_sent_nowhere(app, client, auth):
    desk = Desk(None)
    message = desk.reply()
    Worker(app).run(once=True)
    assert desk.outbox(message.id).status == "sent"
    auth.login(desk.agent.email)
    [(status, label)] = _labels(client, _page(desk, message))
    assert status == "sent"
    assert label.startswith("Not sent anywhere: this API inbox has no webhook")
    assert "Sent" not in label


def test_retry_button_puts_the_message_back_and_the_worker_delivers_it(app, client, auth):
    with Receiver(Answer(500), Answer(200)) as receiver:
        app.config["DELIVERY_MAX_ATTEMPTS"] = 1
        desk = Desk(receiver.url)
        message = desk.reply()
        Worker(app).run(once=True)
        url = _page(desk, message)
        auth.login(desk.agent.email)
        [(status, label)] = _labels(client, url)
        assert (status, label) == (
            "failed",
            "Not delivered: gave up after 1 attempts: HTTP 500 (after 1 attempt)",
        )
        response = client.post(f"{url}/messages/{message.id}/retry")
        assert response.status_code == 302
        assert response.headers["Location"].endswith(f"#message-{message.id}")
        assert _labels(client, url) == [("pending", "Sending…")]
        Worker(app).run(once=True)
        # (desk.outbox also ends the test session's read transaction: the page reads anew.)
        assert desk.outbox(message.id).status == "sent"
    assert _labels(client, url) == [("sent", "Sent")]
    # Retrying a delivered message is refused with words, not an error page.
    page = client.post(f"{url}/messages/{message.id}/retry", follow_redirects=True)
    assert page.status_code == 200
    assert "was delivered: only a message that was not delivered can be retried" in page.get_data(
        as_text=True
    )


def test_retry_out_of_reach_is_not_found(app, client, auth):
    with Receiver(Answer(410)) as receiver:
        desk = Desk(receiver.url)
        message = desk.reply()
        Worker(app).run(once=True)
    other = Desk(None)
    auth.login(other.agent.email)
    url = f"/w/{other.workspace.slug}/conversations/1/messages/{message.id}/retry"
    assert client.post(url).status_code == 404
    assert desk.outbox(message.id).status == "failed"
