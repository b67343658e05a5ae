"""Query budgets for the busiest pages: a fixed number of SQL statements whatever the data.

Behavioural guards, not timings: the drafts queue must not issue queries per card (it used
to run six or so per draft), and the conversation list's counts must stay bounded.
"""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from sqlalchemy import event

from deskwoot.extensions import db
from deskwoot.models import Workspace
from deskwoot.models.conversation import STATUSES
from deskwoot.services.access import mcp_switch as mcp_settings
from deskwoot.services.access import tokens as token_service
from deskwoot.services.conversations import drafts as draft_service
from deskwoot.services.conversations import reads
from deskwoot.services.conversations import workflow as conversation_service
from deskwoot.web import templating
from tests import factories

# Whole requests: the session's user, workspace, membership and layout queries included.
DRAFTS_PAGE_BUDGET = 10
CONVERSATIONS_PAGE_BUDGET = 17


@contextmanager
def counted():
    """The SQL statements run inside the block (every connection of the app's engine)."""
    statements: list[str] = []

    def before(_conn, _cursor, sql, _params, _context, _many):
        statements.append(" ".join(sql.split()))

    event.listen(db.engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", before)


def _get(client, url: str) -> tuple[str, list[str]]:
    client.get(url)  # warm up: first-request work is not what is measured
    with counted() as statements:
        response = client.get(url)
    assert response.status_code == 200, url
    return response.get_data(as_text=True), list(statements)


@pytest.fixture
def bot(desk):
    admin = factories.actor_for(desk.admin, desk.workspace)
    mcp_settings.set_enabled(admin, True)
    minted = token_service.mint(admin, "Triage bot", ["conversations:draft", "conversations:read"])
    workspace = db.session.get(Workspace, desk.workspace.id)
    return factories.bot_actor(workspace, token_id=minted.token.id)


def _busy_drafts(desk, bot, n: int) -> None:
    """`n` drafts, each on its own conversation with a thread worth showing: customer
    messages, a teammate's reply, a note, an approved bot reply; some handed over."""
    agent = factories.actor_for(desk.agent, desk.workspace)
    admin = factories.actor_for(desk.admin, desk.workspace)
    for i in range(n):
        conversation = factories.make_conversation(desk.support, content=f"Question {i}")
        display_id = conversation.display_id
        if i % 2:
            conversation_service.reply(agent, display_id, f"Looking into {i}")
            conversation_service.add_note(agent, display_id, f"Note {i}")
        if i % 3 == 0:
            sent = draft_service.create_draft(bot, display_id, f"Earlier answer {i}")
            draft_service.approve(admin, sent.id)
        if i % 5 == 0:
            conversation_service.take_over(admin, display_id)
        draft_service.create_draft(bot, display_id, f"Draft answer {i}")


def test_drafts_page_runs_the_same_queries_for_5_or_30_drafts(as_admin, desk, bot):
    _busy_drafts(desk, bot, 5)
    page, few = _get(as_admin, desk.url("/drafts"))
    assert page.count('data-testid="draft-card"') == 5
    assert "Possibly stale" in page and "Looking into 1" in page

    _busy_drafts(desk, bot, 25)
    page, many = _get(as_admin, desk.url("/drafts"))
    assert page.count('data-testid="draft-card"') == 25  # one page; the rest behind "Newer"
    assert 'data-testid="newer-drafts"' in page

    assert len(many) == len(few) <= DRAFTS_PAGE_BUDGET, "\n".join(many)


def test_later_queue_pages_and_the_conversation_page_stay_within_budget(as_agent, desk, bot):
    _busy_drafts(desk, bot, 30)
    first = draft_service.review_queue(factories.actor_for(desk.agent, desk.workspace))
    db.session.rollback()
    page, statements = _get(as_agent, desk.url(f"/drafts?after={first.newer}"))
    assert page.count('data-testid="draft-card"') == 5
    assert 'data-testid="older-drafts"' in page
    assert len(statements) <= DRAFTS_PAGE_BUDGET + 1, "\n".join(statements)

    # The inline cards on a conversation page: one query for all their stale checks.
    conversation = first.items[0].draft.conversation
    workspace = db.session.get(Workspace, desk.workspace.id)
    for body in ("Second opinion", "Third opinion"):  # other bots: nothing is superseded
        draft_service.create_draft(factories.bot_actor(workspace), conversation.display_id, body)
    page, one = _get(as_agent, desk.conv_url(conversation))
    assert page.count('data-testid="draft-card"') == 3
    stale_checks = [s for s in one if "EXISTS" in s and "messages" in s]
    assert len(stale_checks) == 1, stale_checks


def test_conversation_list_queries_do_not_grow_with_the_data(as_admin, desk):
    _page, few = _get(as_admin, desk.url("/conversations"))
    for i in range(30):
        factories.make_conversation(desk.support if i % 2 else desk.sales)
    page, many = _get(as_admin, desk.url("/conversations"))
    assert page.count('class="conv-row"') == 25
    assert len(many) == len(few) <= CONVERSATIONS_PAGE_BUDGET, "\n".join(many)
    # The status tabs: one statement of LIMITed counts, no GROUP BY over the table.
    assert not [s for s in many if "GROUP BY conversations.status" in s]
    [counts] = [
        s for s in many if "FROM conversations WHERE" in s and "LIMIT" in s and "count(*)" in s
    ]
    assert counts.count("LIMIT") == len(STATUSES)


# --- the caps --------------------------------------------------------------------------------


def test_status_tabs_stop_counting_at_the_cap(as_admin, client, auth, desk, monkeypatch):
    monkeypatch.setattr(reads, "STATUS_COUNT_CAP", 2)
    factories.make_conversation(desk.support)  # three open now: two in Support, one in Sales
    page, _ = _get(as_admin, desk.url("/conversations"))
    assert 'Open <span class="count">2+</span>' in page
    assert 'All <span class="count">2+</span>' in page
    assert 'Resolved <span class="count">0</span>' in page

    # The inbox filter and the agent's inboxes still narrow what is counted.
    page, _ = _get(as_admin, desk.url(f"/conversations?inbox={desk.sales.id}"))
    assert 'Open <span class="count">1</span>' in page
    auth.logout()
    auth.login(desk.agent.email)
    page, _ = _get(client, desk.url("/conversations"))
    assert 'Open <span class="count">2</span>' in page
    assert 'All <span class="count">2</span>' in page


def test_status_counts_are_exact_below_the_cap(desk):
    admin = factories.actor_for(desk.admin, desk.workspace)
    agent = factories.actor_for(desk.agent, desk.workspace)
    conversation_service.set_status(admin, desk.conversation.display_id, "resolved")
    assert reads.status_counts(admin) == {"open": 1, "pending": 0, "snoozed": 0, "resolved": 1}
    assert reads.status_counts(agent) == {"open": 0, "pending": 0, "snoozed": 0, "resolved": 1}
    assert reads.status_counts(admin, desk.sales.id)["open"] == 1
    assert reads.status_counts(admin, desk.sales.id)["resolved"] == 0
    assert reads.status_counts(admin, cap=0) == {
        "open": 1,
        "pending": 0,
        "snoozed": 0,
        "resolved": 1,
    }  # 1 means "more than 0"


def test_drafts_badge_and_total_stop_counting_at_the_cap(client, auth, desk, bot, monkeypatch):
    monkeypatch.setattr(templating, "DRAFTS_BADGE_CAP", 2)
    for _ in range(2):
        draft_service.create_draft(
            bot, factories.make_conversation(desk.support).display_id, "Support answer"
        )
    draft_service.create_draft(bot, desk.hidden.display_id, "Sales answer")

    auth.login(desk.admin.email)
    for path in ("/conversations", "/drafts"):
        page, _ = _get(client, desk.url(path))
        assert 'aria-label="Drafts, 2+ waiting"' in page, path
        assert 'data-testid="drafts-badge" aria-hidden="true">2+<' in page, path
    assert 'data-testid="drafts-total">2+<' in page
    auth.logout()
    auth.login(desk.agent.email)
    page, _ = _get(client, desk.url("/drafts"))
    assert 'aria-label="Drafts, 2 waiting"' in page
    assert 'data-testid="drafts-total">2<' in page
    assert draft_service.pending_count(factories.actor_for(desk.admin, desk.workspace)) == 3
    assert draft_service.pending_count(factories.actor_for(desk.admin, desk.workspace), cap=2) == 2
