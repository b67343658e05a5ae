"""Small things a browser review caught: menus that know where you are, no link to the page
you are on, nothing to filter in an empty workspace, hooks for browser tests."""

from __future__ import annotations

import re

from tests import factories


def text(response) -> str:
    assert response.status_code == 200
    return response.get_data(as_text=True)


def current_settings_section(page: str) -> str:
    match = re.search(r'data-testid="settings-nav-(\w+)"\s+aria-current="page"', page)
    return match.group(1) if match else ""


def test_the_inbox_created_page_highlights_inboxes(as_admin, desk):
    response = as_admin.post(
        desk.url("/settings/inboxes"), data={"name": "Billing", "channel": "api"}
    )
    page = text(as_admin.get(response.headers["Location"]))  # the one-time secret page
    assert current_settings_section(page) == "inboxes"
    # The command keeps its lines (the stylesheet scrolls it sideways instead of breaking it).
    curl = re.search(r'<pre class="code-block" id="curl-example">(.*?)</pre>', page, re.S).group(1)
    assert curl.startswith("curl -X POST http://localhost/hooks/inbound/")
    assert len(curl.splitlines()) == 4 and all(
        line.endswith(" \\") for line in curl.splitlines()[:-1]
    )


def test_every_settings_page_highlights_its_section(as_admin, desk):
    for section in ("inboxes", "team", "labels", "mcp", "audit", "billing"):
        page = text(as_admin.get(desk.url(f"/settings/{section}")))
        assert current_settings_section(page) == section
    response = as_admin.post(
        desk.url("/settings/team"),
        data={"email": "new@acme.test", "role": "agent"},
        follow_redirects=True,
    )
    assert current_settings_section(text(response)) == "team"  # the one-time link page


def test_logged_out_top_bar_does_not_link_to_the_page_itself(client):
    signup = text(client.get("/signup"))
    assert "Start free trial" not in signup and 'class="btn btn-ghost" href="/login"' in signup
    login = text(client.get("/login"))
    assert "Start free trial" in login and 'class="btn btn-ghost" href="/login"' not in login


def test_a_new_workspace_shows_the_way_forward_without_empty_controls(client, auth, app):
    ws = factories.make_workspace("Fresh")
    admin = factories.make_user(ws, role="admin")
    auth.login(admin.email)
    page = text(client.get(f"/w/{ws.slug}/conversations"))
    assert "No inboxes yet" in page
    assert 'data-testid="tab-all"' not in page
    assert 'data-testid="filters"' not in page and 'role="search"' not in page
    # One inbox is enough to bring them back (conversations arrive there).
    factories.make_inbox(ws, name="Support")
    page = text(client.get(f"/w/{ws.slug}/conversations"))
    assert 'data-testid="tab-all"' in page and 'data-testid="filters"' in page


def test_filters_disclosure_is_open_when_a_filter_is_in_use(as_admin, desk):
    page = text(as_admin.get(desk.url("/conversations")))
    assert re.search(r'<details class="filters-panel" data-filters data-testid="filters">', page)
    page = text(as_admin.get(desk.url(f"/conversations?inbox={desk.support.id}")))
    assert '<details class="filters-panel" data-filters data-testid="filters" open>' in page
    assert 'placeholder="Search conversations&hellip;"' in page


def test_conversation_page_has_test_hooks(as_admin, desk):
    as_admin.post(desk.conv_url(action="reply"), data={"body": "On its way."})
    as_admin.post(desk.conv_url(action="note"), data={"body": "Checked the warehouse."})
    page = text(as_admin.get(desk.conv_url()))
    assert re.search(
        r'<span class="badge badge-status badge-open" '
        r'data-testid="conversation-status">Open</span>',
        page,
    )
    kinds = re.findall(r'data-testid="message" data-kind="(\w+)"', page)
    assert kinds == ["incoming", "outgoing", "note"]
