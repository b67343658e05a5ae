"""Two creations of the same name at the same moment: the loser gets the service's clear
Conflict, never an IntegrityError (a 500 in the browser, a traceback from the CLI).

On PostgreSQL both transactions can pass the service's "is the name free?" check; the unique
index then stops the second, and write_transaction turns that into the Conflict the service
named (database.Taken). SQLite runs one writer at a time, so there the race is staged by
making the check miss, which is exactly the state the PostgreSQL loser is in.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError

from deskwoot.database.transactions import Taken, violated_unique, write_transaction
from deskwoot.errors import Conflict
from deskwoot.extensions import db
from deskwoot.models import Inbox, Label, User, Workspace
from deskwoot.policy import member_actor
from deskwoot.services.conversations import labels
from deskwoot.services.directory import inboxes, workspaces
from tests import factories as f
from tests.conftest import PG_URL

pg_only = pytest.mark.skipif(not PG_URL, reason="SQLite has one writer: no two checks interleave")


@pytest.fixture
def admin(app):
    ws = f.make_workspace()
    return member_actor(f.make_user(ws, role="admin"), ws)


def count(model, *where) -> int:
    db.session.rollback()  # see what the other sessions committed
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def race(app, table: str, work: Callable[[int], object]) -> list:
    """Run work(0) and work(1) in two threads, each with its own session, and hold both at
    their INSERT INTO `table` until both have got there: both have passed the service's
    check, and the unique index decides. Returns what each returned or raised."""
    arrived = threading.Barrier(2, timeout=20)
    waited = threading.local()

    def hold(_conn, _cursor, statement, *_args):
        if statement.startswith(f"INSERT INTO {table} ") and not getattr(waited, "done", False):
            waited.done = True
            arrived.wait()

    outcomes: list = [None, None]

    def run(i: int) -> None:
        with app.app_context():
            try:
                outcomes[i] = work(i)
            except Exception as exc:  # the test asserts on it
                outcomes[i] = exc
            finally:
                db.session.remove()

    event.listen(db.engine, "before_cursor_execute", hold)
    try:
        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        event.remove(db.engine, "before_cursor_execute", hold)
    return outcomes


def one_won_one_conflict(outcomes: list, message: str, field: str) -> None:
    conflicts = [o for o in outcomes if isinstance(o, Conflict)]
    won = [o for o in outcomes if not isinstance(o, Exception)]
    assert len(won) == 1 and len(conflicts) == 1, outcomes
    assert conflicts[0].message == message
    assert conflicts[0].data.get("field") == field


# --- PostgreSQL: two real transactions racing ------------------------------------------------


@pg_only
def test_two_admins_adding_the_same_label_at_once(app, admin):
    outcomes = race(app, "labels", lambda _i: labels.create_label(admin, "Billing"))
    one_won_one_conflict(outcomes, "There is already a label called 'billing'.", "name")
    assert count(Label, Label.workspace_id == admin.workspace_id) == 1


@pg_only
def test_two_admins_adding_the_same_inbox_at_once(app, admin):
    outcomes = race(app, "inboxes", lambda _i: inboxes.create_inbox(admin, "Support"))
    one_won_one_conflict(outcomes, "There is already an inbox called 'Support'.", "name")
    assert count(Inbox, Inbox.workspace_id == admin.workspace_id) == 1


@pg_only
def test_two_signups_of_the_same_workspace_name_at_once(app):
    def sign_up(i: int):
        return workspaces.signup("Acme Support", f"Person {i}", f"p{i}@acme.test", "long enough pw")

    outcomes = race(app, "workspaces", sign_up)
    one_won_one_conflict(
        outcomes,
        "Another workspace with that name was created at the same moment. Try again.",
        "workspace_name",
    )
    assert count(Workspace) == 1
    assert count(User) == 1  # the loser's account went with its transaction


@pg_only
def test_two_signups_with_the_same_email_at_once(app):
    def sign_up(i: int):
        return workspaces.signup(f"Team {i}", "Ann", "ann@acme.test", "long enough pw")

    outcomes = race(app, "users", sign_up)
    one_won_one_conflict(
        outcomes, "An account with that email was created at the same moment. Try again.", "email"
    )
    assert count(User, User.email == "ann@acme.test") == 1


# --- Both databases: the sequential duplicate, and the lost race staged -----------------------


def test_the_same_label_twice_is_a_conflict(admin):
    labels.create_label(admin, "billing")
    with pytest.raises(Conflict, match="already a label called 'billing'"):
        labels.create_label(admin, "Billing")


def test_the_same_inbox_twice_is_a_conflict(admin):
    inboxes.create_inbox(admin, "Support")
    with pytest.raises(Conflict, match="already an inbox called 'Support'"):
        inboxes.create_inbox(admin, "Support")


def test_a_unique_violation_names_its_constraint_on_both_databases(admin):
    db.session.add(Label(workspace_id=admin.workspace_id, name="vip"))
    db.session.commit()
    db.session.add(Label(workspace_id=admin.workspace_id, name="vip"))
    with pytest.raises(IntegrityError) as caught:
        db.session.commit()
    db.session.rollback()
    assert violated_unique(caught.value) == "uq_labels_workspace_id_name"


def test_write_transaction_turns_a_named_constraint_into_its_conflict(admin):
    """What the PostgreSQL loser meets: the row appeared after its check said it was free."""
    db.session.add(Label(workspace_id=admin.workspace_id, name="vip"))
    db.session.commit()
    rule = Taken("uq_labels_workspace_id_name", "That label exists.", field="name")
    with pytest.raises(Conflict) as caught, write_transaction([rule]) as session:
        session.add(Label(workspace_id=admin.workspace_id, name="vip"))
    assert caught.value.message == "That label exists." and caught.value.data == {"field": "name"}
    assert count(Label) == 1


def test_other_integrity_errors_pass_through_untouched(admin):
    """Callers that handle their own (inbound dedupe, idempotency keys) still see them."""
    db.session.add(Label(workspace_id=admin.workspace_id, name="vip"))
    db.session.commit()
    rule = Taken("uq_inboxes_workspace_id_name", "not this one")
    with pytest.raises(IntegrityError), write_transaction([rule]) as session:
        session.add(Label(workspace_id=admin.workspace_id, name="vip"))


def test_a_signup_that_lost_the_slug_race_is_a_form_error(client, monkeypatch):
    f.make_workspace(name="Acme", slug="acme")
    # As on PostgreSQL when another signup took the slug between the check and the insert.
    monkeypatch.setattr(workspaces, "_unique_slug", lambda base: base)
    response = client.post(
        "/signup",
        data={
            "workspace_name": "Acme",
            "name": "Ann",
            "email": "ann@acme.test",
            "password": "long enough password",
        },
    )
    assert response.status_code == 200
    assert "created at the same moment" in response.get_data(as_text=True)
    assert count(User, User.email == "ann@acme.test") == 0


def test_a_cli_create_that_lost_the_slug_race_is_one_clear_line(runner, monkeypatch):
    f.make_workspace(name="Acme", slug="acme")
    monkeypatch.setattr(workspaces, "_unique_slug", lambda base: base)
    result = runner.invoke(args=["workspace", "create", "Acme", "--admin-email", "a@acme.test"])
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert lines == [
        "Error: Another workspace with that name was created at the same moment. Try again."
    ]
