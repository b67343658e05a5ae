"""Draft cards (web/draft_card_html.py) are exactly the markup the Jinja include they replace
wrote (kept verbatim as tests/web/draft_card_reference.html): for every shape of card, in the
queue and inline on a conversation's page, hostile text escaped the same way, on made-up
cards and on the queue's own cards read from the database (SQLite and PostgreSQL)."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask import g
from flask_wtf.csrf import generate_csrf

from deskwoot.extensions import db
from deskwoot.models import Draft, utcnow
from deskwoot.services.conversations.drafts import ContextMessage
from deskwoot.web import drafts as draft_views
from deskwoot.web.draft_card_html import draft_card
from deskwoot.web.draft_cards import DraftCard
from tests import factories

REFERENCE = (Path(__file__).parent / "draft_card_reference.html").read_text()
HOSTILE = '"><script>alert(1)</script>&amp;'


def reference(app, card, inline: bool, next_url) -> str:
    template = app.jinja_env.from_string(REFERENCE)
    return template.render(card=card, inline=inline, next_url=next_url)


def fast(card, inline: bool, next_url) -> str:
    # The cards write "’" and "·" as character references (their markup stays ASCII, so a
    # queue of ASCII text encodes as a copy); a browser reads the same characters.
    html = str(draft_card(card, inline, next_url, generate_csrf()))
    return html.replace("&rsquo;", "’").replace("&middot;", "·")


def message(n: int, kind: str, sender_type: str, **names) -> ContextMessage:
    values = {
        "sender_user_name": None,
        "sender_contact_name": None,
        "token_name": None,
        "approved_by_name": None,
        **names,
    }
    at = datetime(2024, 3, 5, 14, 7, tzinfo=UTC) + timedelta(hours=n)
    return ContextMessage(n, kind, sender_type, f"body {n} {HOSTILE}", at, **values)


THREADS = [
    [],
    [message(1, "incoming", "contact", sender_contact_name=HOSTILE)],
    [
        message(2, "incoming", "contact"),  # named after the conversation's contact
        message(3, "outgoing", "user", sender_user_name=HOSTILE),
        message(4, "outgoing", "bot", token_name="Triage", approved_by_name=HOSTILE),
        message(5, "note", "user", sender_user_name="Ada"),
    ],
    [message(6, "activity", "system"), message(7, "outgoing", "bot")],
]


def made_up_cards():
    """Every combination that changes a card's markup, hostile text in every slot."""
    now = utcnow()
    shapes = itertools.product(
        THREADS,
        [None, "A teammate replied after this draft was written.", HOSTILE],  # stale reason
        [None, "edit", "reject"],  # open panel, with errors when open
        [True, False],  # earlier messages / handoff / subject / note / token
    )
    for n, (thread, stale, panel, flag) in enumerate(shapes, start=1):
        contact = SimpleNamespace(display_name=HOSTILE if flag else "Jane")
        conversation = SimpleNamespace(
            display_id=n + 100,
            subject=HOSTILE if flag else None,
            contact=contact,
            inbox=SimpleNamespace(name=HOSTILE if n % 2 else "Support"),
            handoff=flag,
        )
        draft = SimpleNamespace(
            id=n,
            body=f"Draft {n} {HOSTILE}",
            note_to_reviewer=HOSTILE if flag else None,
            created_at=now - timedelta(minutes=n * 13),
            token=SimpleNamespace(name=HOSTILE) if flag else None,
        )
        errors = [HOSTILE, "Too long."] if panel else ()
        yield DraftCard(
            draft=draft,
            conversation=conversation,
            messages=thread,
            earlier=flag,
            stale_reason=stale,
            edit_text=f"edit {HOSTILE}",
            edit_errors=errors if panel == "edit" else (),
            reject_text=f"reject {HOSTILE}" if panel == "reject" else "",
            reject_errors=errors if panel == "reject" else (),
            open_panel=panel,
        )


@pytest.mark.parametrize("inline", [False, True])
@pytest.mark.parametrize("next_url", [None, "/w/acme/drafts?after=3", HOSTILE])
def test_cards_are_the_includes_markup(app, inline, next_url):
    with app.test_request_context("/w/acme/drafts"):
        g.workspace = SimpleNamespace(slug="acme")
        for card in made_up_cards():
            expected = reference(app, card, inline, next_url)
            assert fast(card, inline, next_url) == expected
            assert "<script>" not in expected


def test_the_queue_s_own_cards_render_alike(app, desk):
    ws = desk.workspace
    for n, conversation in enumerate((desk.conversation, desk.hidden)):
        db.session.add(
            Draft(
                workspace_id=ws.id,
                conversation_id=conversation.id,
                body=f"{HOSTILE} draft {n}",
                note_to_reviewer=HOSTILE if n else None,
                status="pending",
                created_at=utcnow(),
            )
        )
    db.session.commit()
    with app.test_request_context(f"/w/{ws.slug}/drafts"):
        g.workspace = ws
        g.actor = factories.actor_for(desk.admin, ws)
        queue = draft_views.queue(args={})
        assert len(queue.cards) == 2
        for card in queue.cards:
            for inline, next_url in ((False, None), (True, f"/w/{ws.slug}/conversations/1")):
                assert fast(card, inline, next_url) == reference(app, card, inline, next_url)


def test_the_cached_message_lines_never_show_a_change_stale(app):
    """A context message's who-and-when line is cached by what it shows: change any of it
    and the next card shows the change, exactly as the include would."""
    card = next(made_up_cards())
    base = message(8, "outgoing", "bot", token_name="Triage", approved_by_name="Ada")
    changes = [
        {"kind": "note"},
        {"sender_type": "user", "sender_user_name": "Bea"},
        {"token_name": "Renamed bot"},
        {"approved_by_name": "Someone else"},
        {"approved_by_name": None},
        {"created_at": base.created_at - timedelta(days=400)},
        {"body": "Another body"},
    ]
    with app.test_request_context("/w/acme/drafts"):
        g.workspace = SimpleNamespace(slug="acme")
        first = replace(card, messages=[base])
        assert fast(first, False, None) == reference(app, first, False, None)
        for change in changes:
            changed = replace(card, messages=[replace(base, **change)])
            assert fast(changed, False, None) == reference(app, changed, False, None)
