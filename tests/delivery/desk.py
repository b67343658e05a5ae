"""For the delivery tests: `Desk`, a workspace with an API inbox (with or without a webhook)
and replies to deliver, and the `app_config` fixture that makes retries due at once."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from deskwoot.extensions import db
from deskwoot.models import Outbox
from deskwoot.services.conversations import workflow
from deskwoot.services.directory import inboxes
from tests import factories as f


@pytest.fixture
def app_config(app_config):
    # Retries due at once, so `--once` runs drive a whole retry sequence in one call.
    return {**app_config, "DELIVERY_BACKOFF_BASE": 0, "WEBHOOK_TIMEOUT": 1}


class Desk:
    def __init__(self, webhook_url: str | None):
        self.workspace = f.make_workspace()
        self.agent = f.make_user(self.workspace, role="admin", name="Ada Agent")
        self.actor = f.actor_for(self.agent, self.workspace)
        self.inbox, _ = inboxes.create_inbox(self.actor, "API", "api", webhook_url=webhook_url)

    def reply(self, body: str = "Thanks, sorted!"):
        conversation = f.make_conversation(self.inbox, subject="Order")
        return workflow.reply(self.actor, conversation.display_id, body)

    def outbox(self, message_id: int) -> Outbox:
        db.session.rollback()
        return db.session.execute(
            select(Outbox).where(Outbox.message_id == message_id)
        ).scalar_one()
