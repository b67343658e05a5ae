"""The demo workspace seeder and the retention pruner."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from deskwoot.errors import Invalid
from deskwoot.extensions import db
from deskwoot.models import (
    Contact,
    Conversation,
    Event,
    IdempotencyKey,
    Label,
    LoginThrottle,
    McpToken,
    Message,
    PasswordToken,
    User,
    WebSession,
    Workspace,
    utcnow,
)
from deskwoot.policy import member_actor
from deskwoot.services.access.password_hashing import verify_password
from deskwoot.services.conversations import reads
from deskwoot.services.conversations.filters import ConversationFilters
from deskwoot.services.directory import workspaces
from deskwoot.services.operations import demo
from deskwoot.services.operations import prune as maintenance
from tests import factories as f

# --- demo ----------------------------------------------------------------------------------


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def user(email: str) -> User:
    return db.session.execute(select(User).where(User.email == email)).scalar_one()


def visible(email: str, **filters) -> list[Conversation]:
    ws = workspaces.get_by_slug(demo.SLUG)
    actor = member_actor(user(email), ws)
    rows, _ = reads.list_conversations(
        actor, ConversationFilters(status="all", **filters), limit=100
    )
    return rows


def test_seed_demo_builds_a_lived_in_workspace(app):
    info = demo.seed_demo()
    assert info.created and info.slug == "demo" and len(info.admin_password) >= 10
    ws = workspaces.get_by_slug("demo")
    assert ws.plan == "trial" and workspaces.trial_days_left(ws) == 7
    assert verify_password(user(info.admin_email).password_hash, info.admin_password)
    assert verify_password(user(info.agent_email).password_hash, info.admin_password)
    assert [i.name for i in ws.inboxes] == sorted(demo.INBOXES)
    labels = db.session.execute(select(Label.name, Label.color)).all()
    assert dict(labels) == demo.LABELS
    contacts = db.session.scalars(select(Contact)).all()
    assert len(contacts) == len(demo.CONTACTS) >= 10
    assert all(c.custom_attributes.get("company") for c in contacts)

    everything = visible(info.admin_email)
    assert len(everything) == info.conversations == len(demo.THREADS)
    assert {c.status for c in everything} == {"open", "pending", "snoozed", "resolved"}
    [snoozed] = [c for c in everything if c.status == "snoozed"]
    assert snoozed.snoozed_until > utcnow()
    # Teammates replied almost everywhere, but only two stay taken over: the bot has work.
    taken_over = [c for c in everything if c.handoff]
    assert len(taken_over) == sum(t.taken_over for t in demo.THREADS) == 2
    open_ones = [c for c in everything if c.status == "open"]
    assert sum(not c.handoff for c in open_ones) > len(open_ones) * 3 / 4
    assert {c.priority for c in everything} >= {"none", "low", "medium", "high", "urgent"}
    assert {c.assignee.email for c in everything if c.assignee} == {
        info.admin_email,
        info.agent_email,
    }
    assert any(c.labels for c in everything) and any(not c.assignee for c in everything)
    kinds = db.session.execute(select(Message.kind, func.count()).group_by(Message.kind)).all()
    assert {"incoming", "outgoing", "note"} <= dict(kinds).keys()
    # History is spread over the past days, newest activity first in the list.
    assert everything[0].last_activity_at > everything[-1].last_activity_at + timedelta(days=3)
    assert max(c.last_activity_at for c in everything) <= utcnow()


def test_demo_agent_sees_only_their_inboxes(app):
    info = demo.seed_demo()
    mine = visible(info.agent_email)
    assert mine and len(mine) < len(demo.THREADS)
    assert {c.inbox.name for c in mine} == set(demo.AGENT_INBOXES)
    assert all(c.inbox.name != "Sales" for c in mine)
    assert len(visible(info.agent_email, assignee="me")) >= 5


def test_seed_demo_twice_changes_nothing(app):
    assert demo.seed_demo().created
    before = {m.__name__: count(m) for m in (Workspace, User, Conversation, Message, Event)}
    again = demo.seed_demo()
    assert not again.created and again.admin_email == demo.ADMIN_EMAIL
    assert {m.__name__: count(m) for m in (Workspace, User, Conversation, Message, Event)} == before


def test_seed_demo_leaves_other_workspaces_alone(app):
    other = f.make_workspace(name="Acme", slug="acme")
    demo.seed_demo()
    assert count(Workspace) == 2
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(Conversation)
            .where(Conversation.workspace_id == other.id)
        )
        == 0
    )


# --- prune ---------------------------------------------------------------------------------


def _event(ws: Workspace, age: timedelta) -> Event:
    event = Event(
        workspace_id=ws.id,
        type="conversation.updated",
        actor_type="system",
        data={},
        created_at=utcnow() - age,
    )
    db.session.add(event)
    return event


@pytest.fixture
def aged_rows(app):
    """Rows on both sides of every retention line."""
    ws = f.make_workspace()
    person = f.make_user(ws)
    now = utcnow()
    token = McpToken(
        workspace_id=ws.id,
        name="bot",
        token_hash="h" * 64,
        prefix="dw_mcp_x",
        last4="abcd",
        scopes=[],
        inbox_ids=[],
    )
    db.session.add(token)
    db.session.flush()
    for key, age in (("old", timedelta(hours=49)), ("fresh", timedelta(hours=47))):
        db.session.add(
            IdempotencyKey(
                workspace_id=ws.id,
                token_id=token.id,
                key=key,
                fingerprint="f",
                result={},
                created_at=now - age,
            )
        )
    _event(ws, timedelta(days=31))
    _event(ws, timedelta(days=10))
    _event(ws, timedelta(hours=1))
    sessions = {  # created, last seen, ended
        "ended long ago": (
            now - timedelta(days=60),
            now - timedelta(days=31),
            now - timedelta(days=31),
        ),
        "ended lately": (
            now - timedelta(days=60),
            now - timedelta(days=2),
            now - timedelta(days=2),
        ),
        "still open": (now - timedelta(days=90), now - timedelta(hours=1), None),
        "abandoned": (now - timedelta(days=90), now - timedelta(days=50), None),  # idle > 14+30
    }
    for n, (created, seen, ended) in enumerate(sessions.values()):
        db.session.add(
            WebSession(
                sid_hash=f"{n}" * 64,
                user_id=person.id,
                created_at=created,
                last_seen_at=seen,
                ended_at=ended,
            )
        )
    links = {
        "expired": (now - timedelta(hours=1), None),
        "used": (now + timedelta(days=1), now),
        "live": (now + timedelta(days=1), None),
    }
    for name, (expires, used) in links.items():
        db.session.add(
            PasswordToken(
                token_hash=name.ljust(64, "x"), user_id=person.id, expires_at=expires, used_at=used
            )
        )
    throttles = {
        "stale": (now - timedelta(days=2), None),
        "recent": (now - timedelta(minutes=5), now + timedelta(seconds=30)),
        "stale but blocked": (now - timedelta(days=2), now + timedelta(minutes=1)),
    }
    for key, (failed, blocked) in throttles.items():
        db.session.add(
            LoginThrottle(key=key, failures=9, last_failure_at=failed, blocked_until=blocked)
        )
    db.session.commit()
    return ws


EXPECTED = {
    "idempotency_keys": 1,
    "events": 1,
    "web_sessions": 2,
    "password_tokens": 2,
    "login_throttles": 1,
}


def _counts(result: maintenance.PruneResult) -> dict[str, int]:
    return {name: getattr(result, name) for name in EXPECTED}


def test_prune_deletes_old_rows_and_keeps_fresh_ones(aged_rows):
    assert _counts(maintenance.prune()) == EXPECTED
    assert db.session.scalars(select(IdempotencyKey.key)).all() == ["fresh"]
    assert count(Event) == 2
    assert count(WebSession) == 2
    assert db.session.scalars(select(PasswordToken.token_hash)).one().startswith("live")
    assert sorted(db.session.scalars(select(LoginThrottle.key))) == ["recent", "stale but blocked"]
    assert _counts(maintenance.prune()) == dict.fromkeys(EXPECTED, 0)


def test_prune_dry_run_only_counts(aged_rows):
    result = maintenance.prune(dry_run=True)
    assert result.dry_run and _counts(result) == EXPECTED
    assert count(Event) == 3 and count(IdempotencyKey) == 2 and count(PasswordToken) == 3


def test_prune_events_older_than_overrides_retention(aged_rows):
    assert maintenance.prune(events_older_than_days=7).events == 2
    assert count(Event) == 1
    with pytest.raises(Invalid):
        maintenance.prune(events_older_than_days=0)


def test_prune_uses_configured_retention(aged_rows, app):
    app.config["EVENT_RETENTION_DAYS"] = 5
    app.config["IDEMPOTENCY_RETENTION_HOURS"] = 24
    result = maintenance.prune()
    assert (result.events, result.idempotency_keys) == (2, 2)


def test_prune_deletes_in_batches(app, monkeypatch):
    monkeypatch.setattr(maintenance, "BATCH", 2)
    ws = f.make_workspace()
    for _ in range(5):
        _event(ws, timedelta(days=40))
    keep = _event(ws, timedelta(days=1))
    db.session.commit()
    assert maintenance.prune().events == 5
    assert db.session.scalars(select(Event.id)).all() == [keep.id]


def test_prune_via_cli_prints_counts(aged_rows, runner):
    result = runner.invoke(args=["prune"])
    assert result.exit_code == 0, result.output
    lines = dict(line.rsplit(None, 1) for line in result.stdout.splitlines()[1:])
    assert {k.strip(): int(v) for k, v in lines.items()} == {
        "idempotency keys": 1,
        "events": 1,
        "ended or idle web sessions": 2,
        "password links": 2,
        "login throttle rows": 1,
        "finished webhook deliveries": 0,
        "OAuth codes": 0,
        "OAuth token issuances": 0,
        "OAuth clients never granted": 0,
        "OAuth registration throttle rows": 0,
    }
