"""The browser's thread shows each outgoing message's delivery as the worker recorded it."""

from __future__ import annotations

import re

from deskwoot.delivery.worker import Worker
from deskwoot.extensions import db
from deskwoot.models import Conversation
from deskwoot.services.conversations import workflow
from tests.delivery.desk import Desk
from tests.delivery.receiver import Answer, Receiver


def _statuses(html: str) -> list[tuple[str, str]]:
    return re.findall(r'data-testid="delivery" data-status="(\w+)">([^<]+)<', html)


def test_the_thread_shows_sending_delivered_and_not_delivered(app, client, auth):
    with Receiver(Answer(200), Answer(410)) as receiver:
        desk = Desk(receiver.url)
        first = desk.reply("one")
        number = db.session.get(Conversation, first.conversation_id).display_id
        page_url = f"/w/{desk.workspace.slug}/conversations/{number}"
        auth.login(desk.agent.email)
        assert _statuses(client.get(page_url).get_data(as_text=True)) == [("pending", "sending…")]
        Worker(app).run(once=True)
        workflow.reply(desk.actor, number, "two")
        Worker(app).run(once=True)
    page = client.get(page_url).get_data(as_text=True)
    assert _statuses(page) == [("sent", "delivered"), ("failed", "not delivered")]
