"""A deadlock the stress run found on PostgreSQL, replayed deterministically.

Inbound from a new customer appends contact.created (taking the workspace's feed lock), then
numbers its new conversation (the workspaces row lock). A second writer numbering a
conversation at the same moment took the row lock first and then waited for the feed lock:
each waited for the other, PostgreSQL killed one, and the hook answered 500. Numbering now
takes the feed lock first, so both writers queue in the same order and both commit.
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text

from deskwoot.database.transactions import write_transaction
from deskwoot.extensions import db
from deskwoot.policy import system_actor
from deskwoot.services.activity import event_recorder as events
from deskwoot.services.conversations.steps import next_display_id
from tests import factories as f
from tests.conftest import PG_URL

pytestmark = pytest.mark.skipif(not PG_URL, reason="row and advisory locks of PostgreSQL")


def _in_thread(app, fn, errors: list) -> threading.Thread:
    def body():
        with app.app_context():
            try:
                fn()
            except Exception as exc:  # the deadlock victim's error, for the assertion
                errors.append(exc)
            finally:
                db.session.remove()

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    return thread


def _someone_waits_for_a_lock(timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.rollback()
        if db.session.execute(text("SELECT count(*) FROM pg_locks WHERE NOT granted")).scalar():
            return True
        time.sleep(0.02)
    return False


def test_a_new_contact_and_a_new_conversation_at_once_do_not_deadlock(app):
    ws = f.make_workspace()
    actor, ws_id = system_actor(ws), ws.id  # plain values: threads must not touch our session
    db.session.commit()
    holding_feed, go_on = threading.Event(), threading.Event()
    errors: list[Exception] = []
    numbers: list[int] = []

    def new_customer():  # contact.created first, then the conversation number
        with write_transaction():
            events.append(actor, "contact.created", data={"contact_id": 1})
            holding_feed.set()
            assert go_on.wait(30)
            numbers.append(next_display_id(ws_id))
            events.append(actor, "conversation.created", data={})

    def new_conversation():  # the number first, then its event
        with write_transaction():
            numbers.append(next_display_id(ws_id))
            events.append(actor, "conversation.created", data={})

    first = _in_thread(app, new_customer, errors)
    assert holding_feed.wait(10)
    second = _in_thread(app, new_conversation, errors)
    assert _someone_waits_for_a_lock()  # the second writer is queued behind the first
    go_on.set()
    first.join(30)
    second.join(30)

    assert errors == []
    assert sorted(numbers) == [1, 2]
