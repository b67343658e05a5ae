"""Settings > API tokens: minting a REST API token (shown once, with a curl example), the list
of API tokens only, revoking, the plan lock, admins only, and CSRF."""

from __future__ import annotations

import html
import json
import re
from datetime import timedelta

import pytest
from markupsafe import escape
from sqlalchemy import select

from deskwoot import policy
from deskwoot.database.transactions import write_transaction
from deskwoot.extensions import db
from deskwoot.models import AuditEntry, McpToken, User, Workspace, utcnow
from deskwoot.services.access import bearer, tokens
from deskwoot.services.access.random_secrets import digest
from deskwoot.services.activity import audit_recorder
from tests import factories
from tests.web.test_csrf_everywhere import CSRF_PAGE
from tests.web.test_csrf_everywhere import TOKEN_RE as CSRF_RE
from tests.web.test_mcp_settings import assert_not_stored

API_TOKEN_RE = re.compile(r"dw_api_[0-9A-Za-z]{38}")
MCP_TOKEN_RE = re.compile(r"dw_mcp_[0-9A-Za-z]{38}")
CURL_RE = re.compile(r'<pre class="code-block" id="api-curl"[^>]*>(.*?)</pre>', re.S)


def api_url(desk, path: str = "") -> str:
    return desk.url("/settings/api-tokens" + path)


def text(response) -> str:
    return response.get_data(as_text=True)


def workspace(desk) -> Workspace:
    db.session.expire_all()
    return db.session.get(Workspace, desk.workspace.id)


def token_rows() -> list[McpToken]:
    db.session.expire_all()
    return list(db.session.execute(select(McpToken).order_by(McpToken.id)).scalars())


def audit_rows(desk) -> list[AuditEntry]:
    db.session.expire_all()
    return list(
        db.session.execute(
            select(AuditEntry)
            .where(AuditEntry.workspace_id == desk.workspace.id)
            .order_by(AuditEntry.id)
        ).scalars()
    )


def mint(desk, name: str = "Sync", kind: str = "api", **kwargs) -> tokens.Minted:
    actor = factories.actor_for(desk.admin, workspace(desk))
    return tokens.mint(actor, name, ["conversations:read"], kind=kind, **kwargs)


def mint_and_follow(client, desk, data: dict):
    """POST the mint form, check it redirects (PRG), then GET the one-time reveal page."""
    response = client.post(api_url(desk), data=data)
    assert response.status_code == 302, text(response)
    location = response.headers["Location"]
    assert re.search(r"/settings/api-tokens/\d+/minted$", location)
    return location, client.get(location)


def item(page: str, token: McpToken) -> str:
    start = page.index(f'data-testid="token-{token.id}"')
    return page[start : page.index("</li>", start)]


def test_the_page_explains_the_api_and_links_its_reference(as_admin, desk):
    page = text(as_admin.get(api_url(desk)))
    assert re.search(
        r'data-testid="settings-nav-api_tokens"\s+aria-current="page">API tokens<', page
    )
    assert 'href="http://localhost/api/v1/docs"' in page
    assert 'href="http://localhost/api/v1/openapi.json"' in page
    assert "http://localhost/api/v1</code>" in page
    assert 'data-testid="no-tokens"' in page and "Not provisioned yet" in page
    assert 'data-testid="api-locked"' not in page and 'role="switch"' not in page


def test_minting_shows_the_token_once_with_a_curl_example(app, as_admin, desk):
    location, response = mint_and_follow(
        as_admin, desk, {"name": "CRM sync", "preset": "read_only"}
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = text(response)
    plaintext = API_TOKEN_RE.search(page).group(0)
    assert tokens.well_formed(plaintext, "api")
    assert f'value="{plaintext}"' in page and "will not be shown again" in page
    assert html.unescape(CURL_RE.search(page).group(1)) == (
        f'curl -H "Authorization: Bearer {plaintext}" http://localhost/api/v1/conversations'
    )
    assert re.search(r'data-testid="settings-nav-api_tokens"\s+aria-current="page"', page)
    assert not re.search(r"\sstyle=|<script(?![^>]*\bsrc=)", page)  # the CSP would block them

    # Stored as a hash of kind "api", acting as the bot it provisioned (audited, no plaintext).
    [token] = token_rows()
    assert (token.kind, token.name, token.created_by_id) == ("api", "CRM sync", desk.admin.id)
    assert token.token_hash == digest(plaintext)
    assert token.scopes == sorted(tokens.PRESETS["read_only"][1])
    bot = db.session.get(User, workspace(desk).bot_user_id)
    assert bot.kind == "bot"
    assert [(e.action, e.actor_id) for e in audit_rows(desk)] == [
        ("api.bot_provisioned", desk.admin.id),
        ("api.token_minted", desk.admin.id),
    ]
    admitted = bearer.admit(f"Bearer {plaintext}", "rest_api")
    assert admitted.actor.user_id == bot.id and admitted.actor.name == "CRM sync"
    assert admitted.actor.via == "api"

    # Never again: the reload shows no token and mints none; the list has prefix…last4 only.
    again = text(as_admin.get(location))
    assert API_TOKEN_RE.search(again) is None and 'data-testid="token-already-shown"' in again
    assert "Whatever uses it is refused" in again
    listing = text(as_admin.get(api_url(desk)))
    assert API_TOKEN_RE.search(listing) is None and tokens.display(token) in listing
    assert html.escape(bot.name) in listing
    with as_admin.session_transaction() as session:
        assert plaintext not in json.dumps(dict(session), default=str)
    assert len(token_rows()) == 1
    assert_not_stored(plaintext, app)


def test_inboxes_scopes_and_expiry_are_saved(as_admin, desk):
    _, response = mint_and_follow(
        as_admin,
        desk,
        {
            "name": "Support export",
            "scopes": ["conversations:read", "contacts:read"],
            "inboxes": [str(desk.support.id)],
            "expires_in_days": "7",
        },
    )
    page = text(response)
    [token] = token_rows()
    assert token.inbox_ids == [desk.support.id]
    assert token.scopes == ["contacts:read", "conversations:read"]
    assert timedelta(days=6, hours=23) < token.expires_at - utcnow() <= timedelta(days=7)
    assert "Support" in page and "All inboxes" not in page
    plaintext = API_TOKEN_RE.search(page).group(0)
    actor = bearer.admit(f"Bearer {plaintext}", "rest_api").actor
    assert actor.inbox_ids == frozenset({desk.support.id})
    listed = item(text(as_admin.get(api_url(desk))), token)
    assert "Support" in listed and "Ada Admin" in listed and "Active" in listed


def test_a_refused_mint_stores_nothing(as_admin, desk):
    response = as_admin.post(api_url(desk), data={"name": "Nothing"})
    assert response.status_code == 422
    assert "Choose at least one scope." in text(response)
    assert API_TOKEN_RE.search(text(response)) is None and token_rows() == []


def test_each_page_lists_and_revokes_only_its_own_kind(as_admin, desk):
    api = mint(desk, "Api one")
    mcp = mint(desk, "Mcp one", kind="mcp")
    api_page = text(as_admin.get(api_url(desk)))
    mcp_page = text(as_admin.get(desk.url("/settings/mcp")))
    assert "Api one" in api_page and "Mcp one" not in api_page
    assert "Mcp one" in mcp_page and "Api one" not in mcp_page

    # Neither page revokes nor reveals the other kind: it is not found there.
    assert as_admin.post(api_url(desk, f"/{mcp.token.id}/revoke")).status_code == 404
    assert as_admin.post(desk.url(f"/settings/mcp/tokens/{api.token.id}/revoke")).status_code == 404
    assert as_admin.get(api_url(desk, f"/{mcp.token.id}/minted")).status_code == 404
    assert as_admin.get(desk.url(f"/settings/mcp/tokens/{api.token.id}/minted")).status_code == 404
    assert all(t.revoked_at is None for t in token_rows())


def test_revoking_refuses_the_next_request(as_admin, desk):
    minted = mint(desk, "Leaky")
    other = mint(desk, "Other")
    response = as_admin.post(api_url(desk, f"/{minted.token.id}/revoke"))
    assert response.status_code == 302 and response.headers["Location"].endswith("/api-tokens")
    assert tokens.lookup(minted.plaintext, "api") is None
    assert tokens.lookup(other.plaintext, "api") is not None
    [entry] = [e for e in audit_rows(desk) if e.action == "api.token_revoked"]
    assert entry.actor_id == desk.admin.id and "Leaky" in entry.target
    page = text(as_admin.get(api_url(desk)))
    assert "Revoked tokens (1)" in page and f'data-testid="revoke-{minted.token.id}"' not in page


def test_agents_do_not_find_the_page(as_agent, desk):
    minted = mint(desk)
    assert as_agent.get(api_url(desk)).status_code == 404
    response = as_agent.post(api_url(desk), data={"name": "Sneaky", "preset": "full"})
    assert response.status_code == 404 and API_TOKEN_RE.search(text(response)) is None
    assert as_agent.post(api_url(desk, f"/{minted.token.id}/revoke")).status_code == 404
    assert as_agent.get(api_url(desk, f"/{minted.token.id}/minted")).status_code == 404
    assert [(t.name, t.revoked_at) for t in token_rows()] == [("Sync", None)]


def test_another_workspaces_token_is_not_found(as_admin, desk):
    elsewhere = factories.make_workspace("Initech")
    foreign = tokens.mint(policy.system_actor(elsewhere), "Theirs", ["events:read"], kind="api")
    assert as_admin.post(api_url(desk, f"/{foreign.token.id}/revoke")).status_code == 404
    assert tokens.lookup(foreign.plaintext, "api") is not None
    assert "Theirs" not in text(as_admin.get(api_url(desk)))


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"trial_ends_at": utcnow() - timedelta(days=1)}, "trial has ended"),
        ({"plan": "business"}, "the REST API needs the Enterprise plan"),
    ],
)
def test_a_locked_plan_explains_refuses_minting_and_still_revokes(as_admin, desk, change, says):
    existing = mint(desk, "Before the lock")
    ws = workspace(desk)
    for key, value in change.items():
        setattr(ws, key, value)
    db.session.commit()

    page = text(as_admin.get(api_url(desk)))
    reason = policy.feature_lock_reason(ws, "rest_api")
    assert 'data-testid="api-locked"' in page and says in page
    assert str(escape(policy.lock_message(reason, ws, "rest_api"))) in page
    assert 'data-testid="mint-locked"' in page
    assert re.search(r'<fieldset class="bare stack"\s+disabled>', page)
    assert f'data-testid="revoke-{existing.token.id}"' in page

    response = as_admin.post(api_url(desk), data={"name": "Sneaky", "preset": "full"})
    assert response.status_code == 422 and "Enterprise" in text(response)
    assert API_TOKEN_RE.search(text(response)) is None
    assert [t.name for t in token_rows()] == ["Before the lock"]

    as_admin.post(api_url(desk, f"/{existing.token.id}/revoke"))
    assert tokens.status(token_rows()[0]) == "revoked"


def test_the_audit_log_shows_api_tokens_and_their_bot(as_admin, desk):
    minted = mint(desk, "Nightly report")
    mcp = mint(desk, "Triage", kind="mcp")
    actor = bearer.admit(f"Bearer {minted.plaintext}", "rest_api").actor
    with write_transaction():  # as the REST API will audit a call
        audit_recorder.record(actor, "conversations.list")

    page = text(as_admin.get(desk.url("/settings/audit")))
    for action in ("api.bot_provisioned", "api.token_minted", "conversations.list"):
        assert action in page
    # Both kinds in the token filter; the API call attributed to the bot by its token's name.
    assert f'<option value="{minted.token.id}" >Nightly report (dw_api_' in page
    assert f'<option value="{mcp.token.id}" >Triage (dw_mcp_' in page
    filtered = text(as_admin.get(desk.url(f"/settings/audit?token={minted.token.id}")))
    [row] = re.findall(r'<tr data-testid="audit-\d+">(.*?)</tr>', filtered, re.S)
    actor_cell = row[row.index('class="audit-actor"') :]
    assert "Nightly report" in actor_cell[: actor_cell.index("</td>")]
    assert "<code>conversations.list</code>" in row


def test_minting_needs_the_csrf_token(csrf_app):
    desk_ws = factories.make_workspace("Csrf Co")
    admin = factories.make_user(desk_ws, role="admin", email="admin@csrf.test")
    client = csrf_app.test_client()
    login_token = CSRF_RE.search(text(client.get("/login"))).group(1)
    client.post(
        "/login",
        data={"email": admin.email, "password": factories.PASSWORD, "csrf_token": login_token},
    )
    url = f"/w/{desk_ws.slug}/settings/api-tokens"
    response = client.post(url, data={"name": "Forged", "preset": "full"})
    assert response.status_code == 400 and CSRF_PAGE in text(response)
    assert token_rows() == []

    page_token = CSRF_RE.search(text(client.get(url))).group(1)
    response = client.post(url, data={"name": "Real", "preset": "full", "csrf_token": page_token})
    assert response.status_code == 302
    assert [t.name for t in token_rows()] == ["Real"]
