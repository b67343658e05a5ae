"""CSRF on every state-changing route, found by walking app.url_map (ARCHITECTURE §8).

A new POST (or PUT/PATCH/DELETE) route is covered the day it is added. Only the machine
endpoints, authenticated by a bearer secret and never by a cookie, may skip the token, and
they must be named in EXEMPT below.
"""

from __future__ import annotations

import re

from sqlalchemy import select

from deskwoot.extensions import csrf, db
from tests.web.route_params import blueprint_of, build_world, path_for

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
# blueprint -> why it takes no CSRF token
EXEMPT = {
    "hooks": "inbound hook: the inbox secret in Authorization, no cookies",
    "mcp": "MCP endpoint: a bot bearer token, no cookies",
    "rest": "REST API (/api/v1): an API bearer token, never a cookie (no session is opened)",
    "oauth_client": "OAuth token, registration and revocation endpoints: called by MCP clients "
    "with a code, a refresh token or a client secret, never a cookie (the consent page is not "
    "exempt)",
}
CSRF_PAGE = "did not save anything"
TOKEN_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
# Everything a form might want, so a route that skipped the check would really write.
FORGED = {
    "body": "forged",
    "name": "Forged",
    "email": "forged@evil.test",
    "password": "forged password 123",
    "new_password": "forged password 123",
    "confirm": "forged password 123",
    "workspace_name": "Forged Inc",
    "status": "resolved",
    "priority": "urgent",
    "role": "admin",
    "reason": "forged",
    "labels": "vip",
    "assignee_id": "",
    "enabled": "y",
    "preset": "full",
    "subject": "forged",
    "color": "#ff0000",
}


def _snapshot() -> dict[str, list[str]]:
    """Every row of every table, read on a connection of its own (not the test's session).
    A session's last-seen time is bookkeeping, not a write anyone asked for."""
    out = {}
    with db.engine.connect() as conn:
        for table in db.metadata.sorted_tables:
            columns = [
                c for c in table.c if (table.name, c.name) != ("web_sessions", "last_seen_at")
            ]
            out[table.name] = sorted(repr(tuple(row)) for row in conn.execute(select(*columns)))
    return out


def _changed(before: dict, after: dict) -> list[str]:
    return [name for name in before if before[name] != after[name]]


def _state_changing_routes(app) -> list[tuple[str, object]]:
    routes = []
    for rule in app.url_map.iter_rules():
        if blueprint_of(rule).split(".")[0] in EXEMPT:
            continue
        for method in sorted(rule.methods & STATE_CHANGING):
            routes.append((method, rule))
    return sorted(routes, key=lambda mr: (mr[1].rule, mr[0]))


def _logged_in(app, email: str):
    client = app.test_client()
    token = TOKEN_RE.search(client.get("/login").get_data(as_text=True)).group(1)
    response = client.post(
        "/login", data={"email": email, "password": "correct horse battery", "csrf_token": token}
    )
    assert response.status_code == 302
    return client


def test_only_the_machine_endpoints_are_exempt(csrf_app):
    assert csrf_app.config["WTF_CSRF_ENABLED"] and csrf_app.config["WTF_CSRF_CHECK_DEFAULT"]
    assert set(csrf_app.config["WTF_CSRF_METHODS"]) >= STATE_CHANGING
    exempt_blueprints = {bp.name for bp in csrf._exempt_blueprints}
    assert exempt_blueprints <= set(EXEMPT), exempt_blueprints - set(EXEMPT)
    assert csrf._exempt_views == set(), "exempt views must be added to EXEMPT with a reason"
    # The exempt blueprints really are the bearer-authenticated ones.
    for rule in csrf_app.url_map.iter_rules():
        if blueprint_of(rule) in EXEMPT:
            assert rule.rule.startswith(("/api/mcp", "/api/v1/", "/hooks/", "/oauth/")), rule.rule


def test_every_state_changing_route_refuses_a_post_without_a_token(csrf_app):
    world = build_world()
    routes = _state_changing_routes(csrf_app)
    # Enough routes to be the real walk (conversation actions, settings, auth…), not none.
    assert len(routes) >= 25, [rule.rule for _, rule in routes]
    browsers = {
        "admin": _logged_in(csrf_app, world.admin.email),
        "visitor": csrf_app.test_client(),
    }
    failures = []
    before = _snapshot()
    for method, rule in routes:
        path = path_for(rule, world.values)
        for who, browser in browsers.items():
            response = browser.open(path, method=method, data=FORGED)
            text = response.get_data(as_text=True)
            if response.status_code != 400 or CSRF_PAGE not in text:
                failures.append(f"{method} {path} as {who}: {response.status_code}")
            after = _snapshot()
            if _changed(before, after):
                failures.append(f"{method} {path} as {who} wrote {_changed(before, after)}")
                before = after
    assert not failures, "\n".join(failures)
    # Still logged in: not even /logout worked without a token.
    home = browsers["admin"].get(f"/w/{world.workspace.slug}/conversations")
    assert home.status_code == 200


def test_a_token_from_another_browser_is_refused(csrf_app):
    """Tokens are bound to their session: an attacker's own valid token is no use."""
    world = build_world()
    victim = _logged_in(csrf_app, world.admin.email)
    attacker = _logged_in(csrf_app, world.agent.email)
    conversation = f"/w/{world.workspace.slug}/conversations/{world.values['display_id']}"
    attackers_token = TOKEN_RE.search(attacker.get(conversation).get_data(as_text=True)).group(1)
    before = _snapshot()

    for data, headers in (
        ({"body": "forged", "csrf_token": attackers_token}, {}),
        ({"body": "forged"}, {"X-CSRFToken": attackers_token}),
        ({"body": "forged", "csrf_token": "not-even-a-token"}, {}),
    ):
        response = victim.post(conversation + "/reply", data=data, headers=headers)
        assert response.status_code == 400
        assert CSRF_PAGE in response.get_data(as_text=True)
    assert not _changed(before, _snapshot())

    # The victim's own token works: the refusals above were the token, not the route.
    own = TOKEN_RE.search(victim.get(conversation).get_data(as_text=True)).group(1)
    response = victim.post(conversation + "/reply", data={"body": "genuine", "csrf_token": own})
    assert response.status_code == 302
    assert _changed(before, _snapshot())
