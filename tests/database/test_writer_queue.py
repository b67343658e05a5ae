"""SQLite writers queue on a kernel lock beside the database (database.WriterQueue), so the
next writer starts the moment the last one commits instead of polling in SQLite's busy
handler."""

from __future__ import annotations

import fcntl
import os
import threading
import time

import pytest
from sqlalchemy import select

from deskwoot.database.engine import is_sqlite
from deskwoot.database.transactions import write_transaction
from deskwoot.extensions import db
from deskwoot.models import Label
from tests import factories


@pytest.fixture
def queue_path(app):
    if not is_sqlite():
        pytest.skip("PostgreSQL queues writers itself, row by row")
    return app.extensions["deskwoot_writer_queue"].path


def test_the_queue_file_lives_beside_the_database(app, queue_path):
    """The README names this file: operators see it next to the database."""
    assert queue_path == db.engine.url.database + "-writers"
    with write_transaction():
        pass
    assert os.path.isfile(queue_path)


def test_a_writer_waits_for_the_one_holding_the_queue_then_runs(app, queue_path):
    workspace = factories.make_workspace()
    db.session.commit()
    workspace_id = workspace.id
    done = threading.Event()

    def other_writer():
        with app.app_context():
            with write_transaction() as session:
                session.add(Label(workspace_id=workspace_id, name="queued", color="#000000"))
            db.session.remove()
        done.set()

    # Another process's turn: an exclusive flock on its own open file description.
    holder = os.open(queue_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)
        thread = threading.Thread(target=other_writer)
        thread.start()
        time.sleep(0.3)
        assert not done.is_set(), "the writer did not wait for its turn"
        fcntl.flock(holder, fcntl.LOCK_UN)
        assert done.wait(10), "the writer did not run once the queue was free"
        thread.join()
    finally:
        os.close(holder)
    db.session.rollback()  # a fresh snapshot, after the other writer's commit
    names = db.session.scalars(select(Label.name).where(Label.workspace_id == workspace_id))
    assert list(names) == ["queued"]


def test_a_failed_write_gives_up_its_turn(app, queue_path):
    with pytest.raises(RuntimeError), write_transaction():
        raise RuntimeError("boom")
    probe = os.open(queue_path, os.O_RDWR)
    try:
        fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)  # would raise if still held
    finally:
        os.close(probe)
