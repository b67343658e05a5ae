"""The events feed when writers commit out of id order (issue 6 §4, ARCHITECTURE §6).

On PostgreSQL a sequence hands out ids before commit, so a transaction that took id N can
commit after one that took N+1; a poller reading "everything after my cursor" in between would
jump past N forever. These tests make that happen with real concurrent transactions (threads,
each with its own connection) and check that pollers still see every event exactly once. The
same tests run on SQLite, where writers are serialised by the database itself.
"""

from __future__ import annotations

import random
import threading
import time
from datetime import timedelta

import pytest

from deskwoot.database.transactions import write_transaction
from deskwoot.extensions import db
from deskwoot.models import Event
from deskwoot.policy import system_actor
from deskwoot.services.activity import event_feed as feed
from deskwoot.services.activity import event_recorder as events
from tests import factories as f


def _in_thread(app, fn, *args) -> threading.Thread:
    """Run fn in a thread with its own app context, so its own session and connection."""

    def body():
        with app.app_context():
            try:
                fn(*args)
            finally:
                db.session.remove()

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    return thread


def _append_and_hold(actor, appended: threading.Event, release: threading.Event, ids: list):
    with write_transaction():
        event = events.append(actor, "contact.updated", data={"n": 1})
        db.session.flush()
        ids.append(event.id)
        appended.set()
        assert release.wait(30)


def _poll_all(actor, cursor: int) -> tuple[list[int], int]:
    db.session.rollback()  # a fresh snapshot, as a new request would have
    seen = []
    while True:
        page = feed.poll(actor, after_id=cursor, limit=5)
        seen += [row.id for row in page.events]
        cursor = page.next_after_id
        if not page.has_more:
            return seen, cursor


def test_a_second_appender_in_the_workspace_waits_for_the_first_to_commit(app):
    ws = f.make_workspace()
    actor = system_actor(ws)
    cursor = events.latest_id(ws.id)
    db.session.commit()

    first_appended, release_first = threading.Event(), threading.Event()
    second_appended, release_second = threading.Event(), threading.Event()
    first_ids, second_ids = [], []
    first = _in_thread(app, _append_and_hold, actor, first_appended, release_first, first_ids)
    assert first_appended.wait(10)
    second = _in_thread(app, _append_and_hold, actor, second_appended, release_second, second_ids)

    # The second writer cannot even take its id while the first is uncommitted, so it can
    # never commit a larger id ahead of a smaller one.
    assert not second_appended.wait(0.5)
    seen, cursor = _poll_all(actor, cursor)
    assert seen == []

    release_first.set()
    first.join(10)
    assert second_appended.wait(10)
    seen, cursor = _poll_all(actor, cursor)
    assert seen == first_ids  # the second is appended but not committed: not visible yet

    release_second.set()
    second.join(10)
    more, cursor = _poll_all(actor, cursor)
    assert more == second_ids
    assert first_ids[0] < second_ids[0]


def test_commits_out_of_id_order_across_workspaces_skip_nothing(app):
    """Different workspaces do not wait for each other: ids really do commit out of order."""
    if db.engine.dialect.name == "sqlite":
        pytest.skip("SQLite has one writer at a time: ids cannot commit out of order there")
    ours, theirs = f.make_workspace("Ours"), f.make_workspace("Theirs")
    ours_actor, theirs_actor = system_actor(ours), system_actor(theirs)
    our_cursor = events.latest_id(ours.id)
    db.session.commit()

    appended, release = threading.Event(), threading.Event()
    early_ids: list[int] = []
    slow = _in_thread(app, _append_and_hold, theirs_actor, appended, release, early_ids)
    assert appended.wait(10)
    with write_transaction():  # a later id, committed first, in the other workspace
        late = events.append(ours_actor, "contact.updated")
        db.session.flush()
        late_id = late.id
    assert late_id > early_ids[0]

    seen, our_cursor = _poll_all(ours_actor, our_cursor)
    assert seen == [late_id]
    their_seen, their_cursor = _poll_all(theirs_actor, 0)
    assert early_ids[0] not in their_seen

    release.set()
    slow.join(10)
    their_more, _ = _poll_all(theirs_actor, their_cursor)
    assert their_more == early_ids  # the smaller id, committed last, is not skipped
    assert _poll_all(ours_actor, our_cursor)[0] == []


def test_racing_appenders_and_pollers_see_every_event_exactly_once(app):
    """6 writers × 20 events, random pauses before commit, 2 workspaces, 2 pollers each."""
    workspaces = [f.make_workspace("Alpha"), f.make_workspace("Beta")]
    actors = [system_actor(ws) for ws in workspaces]
    starts = {a.workspace_id: events.latest_id(a.workspace_id) for a in actors}
    db.session.commit()
    rng = random.Random(6)
    pauses = [[rng.uniform(0, 0.01) for _ in range(20)] for _ in range(6)]
    writers_done = threading.Event()
    seen: dict[tuple[int, int], list[int]] = {}
    errors: list[BaseException] = []

    def writer(n: int):
        actor = actors[n % 2]
        for pause in pauses[n]:
            with write_transaction():
                events.append(actor, "contact.updated", data={"writer": n})
                db.session.flush()
                time.sleep(pause)  # hold the transaction open: commits interleave

    def poller(actor, key):
        cursor = starts[actor.workspace_id]
        got = seen.setdefault(key, [])
        try:
            while True:
                done = writers_done.is_set()  # read before polling: the last poll is complete
                more, cursor = _poll_all(actor, cursor)
                got.extend(more)
                if done:
                    return
                time.sleep(0.002)
        except BaseException as exc:  # surfaced below: a thread's assertion is not a failure
            errors.append(exc)
            raise

    pollers = [_in_thread(app, poller, a, (a.workspace_id, i)) for a in actors for i in (0, 1)]
    writers = [_in_thread(app, writer, n) for n in range(6)]
    for thread in writers:
        thread.join(60)
    writers_done.set()
    for thread in pollers:
        thread.join(60)

    assert not errors, errors
    db.session.rollback()
    for actor in actors:
        stored = [
            row.id
            for row in db.session.query(Event.id)
            .filter(Event.workspace_id == actor.workspace_id, Event.id > starts[actor.workspace_id])
            .order_by(Event.id)
        ]
        assert len(stored) == 60
        for i in (0, 1):
            assert seen[(actor.workspace_id, i)] == stored  # all of them, once, in order


def test_a_first_poll_without_a_cursor_starts_24_hours_back(app):
    ws, other = f.make_workspace("Now"), f.make_workspace("Elsewhere")
    actor = system_actor(ws)
    with write_transaction():
        old = events.append(actor, "contact.updated", data={"age": "old"})
        recent_elsewhere = events.append(system_actor(other), "contact.updated")
        recent = [events.append(actor, "contact.updated", data={"n": n}) for n in range(3)]
        db.session.flush()
        old.created_at -= timedelta(hours=25)
        recent_elsewhere.created_at -= timedelta(hours=1)
    page = feed.poll(actor, after_id=None, limit=10)
    assert [row.id for row in page.events] == [e.id for e in recent]
    assert not page.has_more
    # The cursor it hands back continues exactly after them.
    with write_transaction():
        newer = events.append(actor, "contact.updated")
    assert [row.id for row in feed.poll(actor, page.next_after_id).events] == [newer.id]
