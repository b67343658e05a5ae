"""The conversation list's rows (web/conversation_rows.py) are exactly the markup the Jinja
loop they replace wrote: the same HTML for every shape of row, hostile text escaped the same
way, on rows read from the database (SQLite and PostgreSQL) and on made-up ones."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask import g

from deskwoot.extensions import db
from deskwoot.models import Conversation, utcnow
from deskwoot.services.activity.actor_names import ActorName
from deskwoot.services.conversations import reads
from deskwoot.services.conversations.filters import ConversationFilters
from deskwoot.services.conversations.reads import YOU, Preview
from deskwoot.services.conversations.rows import (
    ContactRef,
    ConversationRow,
    LabelRef,
    Ref,
    UserRef,
)
from deskwoot.web.conversation_rows import PREVIEW_READ, rendered
from tests import factories

# The loop conversations/index.html ran before the rows moved to Python, verbatim.
REFERENCE = (Path(__file__).parent / "conversation_rows_reference.html").read_text()

HOSTILE = '"><script>alert(1)</script>&amp;'


def reference(app, rows, previews, status: str) -> str:
    template = app.jinja_env.from_string(REFERENCE)
    filters = ConversationFilters(status=status)
    return template.render(rows=rows, previews=previews, filters=filters)


def fast(rows, previews, status: str) -> str:
    # The rows write "—" and "…" as character references (their markup stays ASCII, so a page
    # of ASCII text encodes as a copy); a browser reads the same characters.
    html = "".join(rendered(rows, previews, show_status=status == "all"))
    return html.replace("&mdash;", "—").replace("&hellip;", "…")


def made_up_rows() -> tuple[list[ConversationRow], dict[int, Preview]]:
    """Every combination that changes the markup, with hostile text in every slot."""
    now = utcnow()
    contacts = [
        ContactRef(1, HOSTILE, None, None, None),
        ContactRef(2, None, "jane@example.com", None, None),
        ContactRef(3, None, None, None, None),
    ]
    labels = [[], [LabelRef("vip", "#ff0000")], [LabelRef(HOSTILE, HOSTILE), LabelRef("b", "")]]
    bodies = [
        "short",
        "x" * 165,  # within truncate's leeway: kept whole
        "y" * 166,  # cut to 159 characters and an ellipsis
        HOSTILE * 20,  # cut inside an entity-to-be: escaped after the cut
        "",
    ]
    authors = [None, YOU, ActorName(HOSTILE), ActorName("Triage bot", is_bot=True)]
    rows, previews = [], {}
    shapes = itertools.product(
        [None, "", "Lost parcel", HOSTILE],  # subject
        [True, False],  # handoff
        ["none", "low", "urgent", HOSTILE],  # priority
        ["open", "resolved", HOSTILE],  # status
    )
    for n, (subject, handoff, priority, status) in enumerate(shapes, start=1):
        rows.append(
            ConversationRow(
                id=n,
                display_id=n * 7,
                subject=subject,
                status=status,
                snoozed_until=None,
                priority=priority,
                handoff=handoff,
                handoff_reason=None,
                custom_attributes=None,
                last_activity_at=now - timedelta(minutes=n * 37),
                created_at=now,
                inbox=Ref(1, HOSTILE if n % 2 else "Support"),
                contact=contacts[n % len(contacts)],
                assignee=None if n % 3 else UserRef(5, HOSTILE, None),
                labels=labels[n % len(labels)],
            )
        )
        if n % 7:  # some rows have no preview
            body = bodies[n % len(bodies)]
            previews[n] = Preview("incoming", body, authors[n % len(authors)])
    return rows, previews


@pytest.mark.parametrize("status", ["open", "all"])
def test_rows_are_the_templates_markup(app, status):
    rows, previews = made_up_rows()
    with app.test_request_context("/w/acme/conversations"):
        g.workspace = SimpleNamespace(slug="acme")
        expected = reference(app, rows, previews, status)
        assert fast(rows, previews, status) == expected
    assert "<script>" not in expected


def test_a_long_ago_row_shows_its_date(app):
    rows, previews = made_up_rows()
    old = [replace(rows[0], last_activity_at=datetime(2020, 2, 3, 4, 5, tzinfo=UTC))]
    with app.test_request_context("/w/acme/conversations"):
        g.workspace = SimpleNamespace(slug="acme")
        assert fast(old, previews, "open") == reference(app, old, previews, "open")


def test_rows_read_from_the_database_render_alike(app, desk):
    """Rows and previews as the page reads them, on this run's database."""
    ws = desk.workspace
    vip = factories.make_label(ws, "vip", color="#ff0000")
    odd = factories.make_label(ws, HOSTILE.lower()[:40], color='"<b>&')  # varchar(7)
    contact = factories.make_contact(ws, name=HOSTILE, email="h@example.com")
    conversation = factories.make_conversation(
        desk.support, contact, content=HOSTILE * 10, subject=HOSTILE
    )
    factories.make_conversation(desk.sales, desk.contact, content="No subject here")
    entity = db.session.get(Conversation, conversation.id)
    entity.labels = [vip, odd]
    entity.handoff, entity.priority, entity.assignee_id = True, "urgent", desk.agent.id
    db.session.commit()
    actor = factories.actor_for(desk.admin, ws)
    rows, _ = reads.list_conversations(actor, ConversationFilters(status="all"), limit=25)
    previews = reads.previews(actor, [c.id for c in rows], chars=PREVIEW_READ)
    assert len(rows) == 4 and any(c.labels for c in rows)
    with app.test_request_context(f"/w/{ws.slug}/conversations"):
        g.workspace = ws
        for status in ("open", "all"):
            assert fast(rows, previews, status) == reference(app, rows, previews, status)


def test_the_row_cache_never_serves_a_changed_row_stale(app):
    """Rows are cached by everything they show: change any one thing a row shows and the
    next render shows it, exactly as the template would."""
    row = made_up_rows()[0][0]
    last = Preview("outgoing", "Before", ActorName("Ada"))
    later = row.last_activity_at - timedelta(days=3)
    changes = [
        {"display_id": 999},
        {"subject": "Changed subject"},
        {"status": "pending"},
        {"priority": "high"},
        {"handoff": not row.handoff},
        {"last_activity_at": later},
        {"inbox": Ref(1, "Renamed inbox")},
        {"contact": ContactRef(1, "Renamed contact", None, None, None)},
        {"assignee": UserRef(6, "New assignee", None)},
        {"labels": [LabelRef("new-label", "#00ff00")]},
    ]
    previews_changed = [
        Preview("outgoing", "After", ActorName("Ada")),
        Preview("outgoing", "Before", ActorName("Bob")),
        Preview("outgoing", "Before", ActorName("Ada", is_bot=True)),
        None,
    ]
    with app.test_request_context("/w/acme/conversations"):
        g.workspace = SimpleNamespace(slug="acme")
        for status in ("all", "open"):
            fast([row], {row.id: last}, status)  # cached
            for change in changes:
                changed = replace(row, **change)
                assert fast([changed], {row.id: last}, status) == reference(
                    app, [changed], {row.id: last}, status
                )
            for other in previews_changed:
                shown = {row.id: other} if other else {}
                assert fast([row], shown, status) == reference(app, [row], shown, status)
