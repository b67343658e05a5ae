"""Settings > Audit log: newest first, filters by token, action and outcome, keyset paging."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from deskwoot import policy
from deskwoot.errors import Invalid
from deskwoot.extensions import db
from deskwoot.models import AuditEntry, Workspace
from deskwoot.services.access import mcp_switch as mcp_settings
from deskwoot.services.access import tokens
from deskwoot.services.activity import audit_recorder as audit
from deskwoot.services.activity import audit_search as audit_log
from tests import factories

ROW_RE = re.compile(r'data-testid="audit-(\d+)"')


def audit_url(desk, **args) -> str:
    query = "&".join(f"{key}={value}" for key, value in args.items())
    return desk.url("/settings/audit") + (f"?{query}" if query else "")


def shown(response) -> list[int]:
    assert response.status_code == 200
    return [int(i) for i in ROW_RE.findall(response.get_data(as_text=True))]


def older_link(response) -> str | None:
    match = re.search(r'href="([^"]+)" rel="next"', response.get_data(as_text=True))
    return html.unescape(match.group(1)) if match else None


def newer_link(response) -> str | None:
    match = re.search(r'href="([^"]+)" rel="prev"', response.get_data(as_text=True))
    return html.unescape(match.group(1)) if match else None


def ids(where=None) -> list[int]:
    """Audit entry ids, newest first (optionally filtered)."""
    query = select(AuditEntry.id).order_by(AuditEntry.id.desc())
    if where is not None:
        query = query.where(where)
    return list(db.session.execute(query).scalars())


def record(actor: policy.Actor, action: str, outcome: str = "ok", **kwargs) -> AuditEntry:
    entry = audit.record(actor, action, outcome=outcome, **kwargs)
    db.session.commit()
    return entry


@pytest.fixture
def trail(desk):
    """Two bot tokens that called tools with every outcome, plus the admin's own actions."""
    ws = db.session.get(Workspace, desk.workspace.id)
    admin = factories.actor_for(desk.admin, ws)
    mcp_settings.set_enabled(admin, True)
    reader = tokens.mint(admin, "Reader", ["conversations:read"]).token
    writer = tokens.mint(admin, "Writer", list(policy.SCOPES)).token
    ws = db.session.get(Workspace, desk.workspace.id)
    as_reader = policy.token_actor(reader, ws, request_id="req-reader-1", remote_addr="10.0.0.7")
    as_writer = policy.token_actor(writer, ws, request_id="req-writer-1", remote_addr="10.0.0.8")
    record(as_reader, "get_conversation", target="conversation 1")
    record(as_reader, "reply_to_conversation", "denied", detail="missing scope")
    record(as_writer, "reply_to_conversation", target="conversation 1")
    record(as_writer, "reply_to_conversation", "replayed", target="conversation 1")
    record(as_writer, "update_conversation", "error", detail="Conversation 99 was not found.")
    # Another workspace's trail never shows.
    elsewhere = factories.make_workspace("Initech")
    record(policy.system_actor(elsewhere), "get_conversation")
    return {"reader": reader, "writer": writer, "workspace": ws}


def test_newest_first_with_every_column(as_admin, desk, trail):
    response = as_admin.get(audit_url(desk))
    ours = ids(AuditEntry.workspace_id == desk.workspace.id)
    assert shown(response) == ours  # fewer than a page: all of them, newest first
    page = response.get_data(as_text=True)
    row = page[page.index(f'data-testid="audit-{ours[1]}"') :]
    row = row[: row.index("</tr>")]
    for expected in (
        "Writer",
        "Bot",
        "reply_to_conversation",
        "conversation 1",
        "replayed",
        "req-writer-1",
        "10.0.0.8",
    ):
        assert expected in row, expected
    assert "Ada Admin" in page and "mcp.token_minted" in page and "mcp.enabled" in page
    assert "Conversation 99 was not found." in page
    assert older_link(response) is None and newer_link(response) is None


def test_filter_by_token(as_admin, desk, trail):
    reader = trail["reader"]
    response = as_admin.get(audit_url(desk, token=reader.id))
    assert shown(response) == ids(AuditEntry.token_id == reader.id)
    assert len(shown(response)) == 2
    page = response.get_data(as_text=True)
    assert f'<option value="{reader.id}" selected>Reader' in page
    assert tokens.display(trail["writer"]) in page  # offered in the select


def test_filter_by_action_and_outcome(as_admin, desk, trail):
    replies = ids(AuditEntry.action == "reply_to_conversation")
    assert shown(as_admin.get(audit_url(desk, action="reply_to_conversation"))) == replies
    assert len(replies) == 3
    denied = shown(as_admin.get(audit_url(desk, outcome="denied")))
    assert denied == ids(AuditEntry.outcome == "denied") and len(denied) == 1
    both = shown(
        as_admin.get(
            audit_url(
                desk, action="reply_to_conversation", outcome="replayed", token=trail["writer"].id
            )
        )
    )
    assert len(both) == 1
    assert shown(as_admin.get(audit_url(desk, action="delete_everything"))) == []
    page = as_admin.get(audit_url(desk, action="delete_everything")).get_data(as_text=True)
    assert "Nothing matches these filters" in page

    # Every distinct action of this workspace is offered, and only those.
    page = as_admin.get(audit_url(desk)).get_data(as_text=True)
    select_html = page[
        page.index('id="filter-action"') : page.index("</select>", page.index('id="filter-action"'))
    ]
    for action in ("get_conversation", "reply_to_conversation", "mcp.token_minted"):
        assert f'<option value="{action}"' in select_html


def test_nonsense_filters_are_ignored(as_admin, desk, trail):
    everything = shown(as_admin.get(audit_url(desk)))
    for args in ({"outcome": "maybe"}, {"token": "abc"}, {"before": "x"}, {"after": "-1"}):
        assert shown(as_admin.get(audit_url(desk, **args))) == everything, args


def test_paging_50_at_a_time_with_older_and_newer_links(as_admin, desk, trail):
    ws = trail["workspace"]
    as_reader = policy.token_actor(trail["reader"], ws)
    for n in range(110):
        audit.record(as_reader, "list_conversations", target=f"page {n}")
    db.session.commit()
    everything = ids(AuditEntry.workspace_id == desk.workspace.id)

    first = as_admin.get(audit_url(desk))
    assert shown(first) == everything[:50] and newer_link(first) is None
    second = as_admin.get(older_link(first))
    assert shown(second) == everything[50:100]
    third = as_admin.get(older_link(second))
    assert shown(third) == everything[100:] and older_link(third) is None
    back = as_admin.get(newer_link(third))
    assert shown(back) == everything[50:100]
    assert shown(as_admin.get(newer_link(back))) == everything[:50]

    # Filters survive paging.
    listing = ids(AuditEntry.action == "list_conversations")
    filtered = as_admin.get(audit_url(desk, action="list_conversations"))
    assert shown(filtered) == listing[:50]
    link = older_link(filtered)
    assert "action=list_conversations" in link
    assert shown(as_admin.get(link)) == listing[50:100]


def test_the_service_pages_by_id_and_requires_an_admin(desk, trail):
    ws = trail["workspace"]
    admin = factories.actor_for(desk.admin, ws)
    full = audit_log.page(admin, limit=3)
    assert [e.id for e in full.entries] == ids(AuditEntry.workspace_id == ws.id)[:3]
    older = audit_log.page(admin, before=full.older, limit=3)
    assert older.newer == older.entries[0].id
    assert [e.id for e in audit_log.page(admin, after=older.newer, limit=3).entries] == [
        e.id for e in full.entries
    ]
    with pytest.raises(Invalid):
        audit_log.page(admin, audit_log.AuditFilters(outcome="maybe"))
    agent = factories.actor_for(desk.agent, ws)
    with pytest.raises(Exception, match="Not found"):
        audit_log.page(agent)
    bot = policy.token_actor(trail["writer"], ws)
    with pytest.raises(Exception, match="Not found"):
        audit_log.actions(bot)


def test_refusals_at_the_gate_show_as_one_row_with_their_count(as_admin, desk, trail):
    """A locked-out token's refusals are counted on one row a minute: the row says how many."""
    as_reader = policy.token_actor(trail["reader"], trail["workspace"])
    for _ in range(37):
        audit.record_refusal(as_reader, "mcp_disabled")
    [entry] = db.session.execute(
        select(AuditEntry).where(AuditEntry.action == "mcp.request")
    ).scalars()
    assert entry.count == 37
    page = as_admin.get(audit_url(desk)).get_data(as_text=True)
    row = page[page.index(f'data-testid="audit-{entry.id}"') :]
    row = row[: row.index("</tr>")]
    assert ">denied</span>" in row and 'data-testid="count"' in row and "×37" in row
    assert "mcp_disabled" in row
    # A row that stands for one occurrence shows no count.
    single = ids(AuditEntry.token_id == trail["writer"].id)[0]
    row = page[page.index(f'data-testid="audit-{single}"') :]
    assert 'data-testid="count"' not in row[: row.index("</tr>")]
