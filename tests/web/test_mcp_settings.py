"""Settings > MCP Server: the switch and the bot account, minting a token (shown once), the
token list, revoking, and the plan lock."""

from __future__ import annotations

import html
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from deskwoot import policy
from deskwoot.extensions import db
from deskwoot.models import AuditEntry, McpToken, User, Workspace, utcnow
from deskwoot.services.access import mcp_switch as mcp_settings
from deskwoot.services.access import tokens
from deskwoot.services.directory import workspaces as workspace_service
from tests import factories

TOKEN_RE = re.compile(r"dw_mcp_[0-9A-Za-z]{38}")
SNIPPET_RE = re.compile(r'<pre class="code-block" id="mcp-snippet"[^>]*>(.*?)</pre>', re.S)


def mcp_url(desk, path: str = "") -> str:
    return desk.url("/settings/mcp" + path)


def workspace(desk) -> Workspace:
    db.session.expire_all()
    return db.session.get(Workspace, desk.workspace.id)


def audit_actions(desk) -> list[str]:
    return list(
        db.session.execute(
            select(AuditEntry.action)
            .where(AuditEntry.workspace_id == desk.workspace.id)
            .order_by(AuditEntry.id)
        ).scalars()
    )


def token_rows() -> list[McpToken]:
    db.session.expire_all()
    return list(db.session.execute(select(McpToken).order_by(McpToken.id)).scalars())


def admin_actor(desk) -> policy.Actor:
    return factories.actor_for(desk.admin, workspace(desk))


def mint(desk, name: str = "Bot", scopes=("conversations:read",), **kwargs) -> tokens.Minted:
    return tokens.mint(admin_actor(desk), name, list(scopes), **kwargs)


def text(response) -> str:
    return response.get_data(as_text=True)


# --- the switch and the bot account ------------------------------------------------------


def test_enabling_provisions_the_bot_once_and_is_audited(as_admin, desk):
    page = text(as_admin.get(mcp_url(desk)))
    assert 'role="switch" aria-checked="false"' in page
    assert "Not provisioned yet" in page
    assert "http://localhost/api/mcp" in page

    response = as_admin.post(mcp_url(desk, "/switch"), data={"enabled": "on"})
    assert response.status_code == 302
    ws = workspace(desk)
    assert ws.mcp_enabled and ws.bot_user_id is not None
    bot = db.session.get(User, ws.bot_user_id)
    assert bot.kind == "bot" and bot.password_hash is None
    entry = db.session.execute(
        select(AuditEntry).where(AuditEntry.action == "mcp.enabled")
    ).scalar_one()
    assert (entry.actor_id, entry.actor_type, entry.outcome) == (desk.admin.id, "user", "ok")

    page = text(as_admin.get(mcp_url(desk)))
    assert 'role="switch" aria-checked="true"' in page
    assert html.escape(bot.name) in page and "Not provisioned yet" not in page

    # Off and on again: the same bot account, each change audited.
    as_admin.post(mcp_url(desk, "/switch"), data={"enabled": "off"})
    assert not workspace(desk).mcp_enabled
    as_admin.post(mcp_url(desk, "/switch"), data={"enabled": "on"})
    ws = workspace(desk)
    assert ws.mcp_enabled and ws.bot_user_id == bot.id
    assert audit_actions(desk) == [
        "mcp.bot_provisioned",
        "mcp.enabled",
        "mcp.disabled",
        "mcp.enabled",
    ]
    bots = db.session.scalar(select(func.count()).select_from(User).where(User.kind == "bot"))
    assert bots == 1


def test_the_switch_ignores_anything_but_on_and_off(as_admin, desk):
    response = as_admin.post(mcp_url(desk, "/switch"), data={"enabled": "yes please"})
    assert response.status_code == 302
    assert not workspace(desk).mcp_enabled and workspace(desk).bot_user_id is None
    assert audit_actions(desk) == []


@pytest.mark.parametrize("path", ["/settings/mcp", "/settings/audit"])
def test_agents_do_not_find_the_pages(as_agent, desk, path):
    assert as_agent.get(desk.url(path)).status_code == 404


def test_agents_cannot_switch_mint_or_revoke(as_agent, desk):
    minted = mint(desk)
    assert as_agent.post(mcp_url(desk, "/switch"), data={"enabled": "on"}).status_code == 404
    response = as_agent.post(mcp_url(desk, "/tokens"), data={"name": "Sneaky", "preset": "full"})
    assert response.status_code == 404
    assert TOKEN_RE.search(text(response)) is None
    assert as_agent.post(mcp_url(desk, f"/tokens/{minted.token.id}/revoke")).status_code == 404
    assert not workspace(desk).mcp_enabled
    assert [t.name for t in token_rows()] == ["Bot"]
    assert tokens.status(token_rows()[0]) == "active"


def test_the_settings_menu_lists_mcp_and_audit(as_admin, desk):
    page = text(as_admin.get(mcp_url(desk)))
    assert re.search(r'data-testid="settings-nav-mcp"\s+aria-current="page">MCP Server<', page)
    assert f'href="{desk.url("/settings/audit")}"' in page
    page = text(as_admin.get(desk.url("/settings/audit")))
    assert re.search(r'data-testid="settings-nav-audit"\s+aria-current="page">Audit log<', page)


# --- minting -----------------------------------------------------------------------------


def assert_not_stored(plaintext: str, app) -> None:
    """The plaintext is nowhere in the token rows, the audit trail or the database file."""
    for row in token_rows():
        values = [str(getattr(row, column.key)) for column in McpToken.__table__.columns]
        assert not any(plaintext in value for value in values), values
    for entry in db.session.execute(select(AuditEntry)).scalars():
        assert plaintext not in f"{entry.target} {entry.detail} {entry.action}"
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("sqlite:///"):
        db.session.commit()
        db.session.execute(db.text("PRAGMA wal_checkpoint(FULL)"))
        path = Path(uri.removeprefix("sqlite:///"))
        for file in (path, path.with_name(path.name + "-wal")):
            if file.exists():
                assert plaintext.encode() not in file.read_bytes()


def mint_and_follow(client, desk, data: dict):
    """POST the mint form, check it redirects (PRG), then GET the one-time reveal page."""
    response = client.post(mcp_url(desk, "/tokens"), data=data)
    assert response.status_code == 302, text(response)
    location = response.headers["Location"]
    assert re.search(r"/settings/mcp/tokens/\d+/minted$", location)
    return location, client.get(location)


def test_minting_with_a_preset_shows_the_token_once(app, as_admin, desk):
    as_admin.post(mcp_url(desk, "/switch"), data={"enabled": "on"})
    location, response = mint_and_follow(
        as_admin, desk, {"name": "OpenClaw triage bot", "preset": "drafts"}
    )
    assert response.status_code == 200
    page = text(response)
    plaintext = TOKEN_RE.search(page).group(0)
    assert "will not be shown again" in page
    assert f'value="{plaintext}"' in page and "readonly" in page
    assert response.headers["Cache-Control"] == "no-store"  # not kept for the back button
    assert not re.search(r"\sstyle=|<script(?![^>]*\bsrc=)", page)  # the CSP would block them

    # The ready mcpServers snippet, in the product's shape, with this token.
    snippet = json.loads(html.unescape(SNIPPET_RE.search(page).group(1)))
    assert snippet == {
        "mcpServers": {
            "deskwoot": {
                "url": "http://localhost/api/mcp",
                "headers": {"Authorization": f"Bearer {plaintext}"},
            }
        }
    }
    assert "http://localhost/api/mcp" in page

    [token] = token_rows()
    assert token.name == "OpenClaw triage bot"
    assert token.scopes == sorted(tokens.PRESETS["drafts"][1])
    assert (token.inbox_ids, token.expires_at, token.created_by_id) == ([], None, desk.admin.id)
    live, ws = tokens.authenticate(plaintext)
    assert (live.id, ws.id) == (token.id, desk.workspace.id)
    assert "mcp.token_minted" in audit_actions(desk)

    # Never again: reloading the page shows no token and mints none.
    again = as_admin.get(location)
    assert again.status_code == 200
    assert TOKEN_RE.search(text(again)) is None
    assert 'data-testid="token-already-shown"' in text(again)
    assert "revoke it and mint another" in text(again)
    assert len(token_rows()) == 1
    # Not on the list, not in the session, not in the database.
    listing = text(as_admin.get(mcp_url(desk)))
    assert plaintext not in listing and TOKEN_RE.search(listing) is None
    assert tokens.display(token) in listing
    with as_admin.session_transaction() as session:
        assert plaintext not in json.dumps(dict(session), default=str)
    assert_not_stored(plaintext, app)


def test_minting_with_scopes_inboxes_and_expiry(as_admin, desk):
    _, response = mint_and_follow(
        as_admin,
        desk,
        {
            "name": "Support replier",
            "preset": "full",  # ticked boxes win over the preset
            "scopes": ["conversations:read", "conversations:reply"],
            "inboxes": [str(desk.support.id)],
            "expires_in_days": "30",
        },
    )
    assert response.status_code == 200
    page = text(response)
    plaintext = TOKEN_RE.search(page).group(0)
    [token] = token_rows()
    assert token.scopes == ["conversations:read", "conversations:reply"]
    assert token.inbox_ids == [desk.support.id]
    assert timedelta(days=29, hours=23) < token.expires_at - utcnow() <= timedelta(days=30)
    assert "Support" in page and "conversations: read · reply" in page
    # MCP is still off: the page says what to do about it.
    assert 'data-testid="token-server-off"' in page

    live, ws = tokens.authenticate(plaintext)
    actor = policy.token_actor(live, ws)
    assert actor.inbox_ids == frozenset({desk.support.id})
    assert actor.scopes == frozenset({"conversations:read", "conversations:reply"})

    listing = text(as_admin.get(mcp_url(desk)))
    item = listing[listing.index(f'data-testid="token-{token.id}"') :]
    item = item[: item.index("</li>")]
    assert "Support" in item and "All inboxes" not in item
    assert "Active" in item and "Ada Admin" in item and "Revoke" in item


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "", "preset": "read_only"}, "Give the token a name."),
        ({"name": "Nothing"}, "Choose at least one scope."),
        ({"name": "Odd", "scopes": ["settings:write"]}, "valid choice"),
        ({"name": "Odd", "preset": "root"}, "valid choice"),
        ({"name": "Forever", "preset": "full", "expires_in_days": "0"}, "1 to 3650 days"),
        ({"name": "Elsewhere", "preset": "full", "inboxes": ["999999"]}, "was not found"),
    ],
)
def test_a_refused_mint_stores_nothing_and_shows_why(as_admin, desk, data, message):
    response = as_admin.post(mcp_url(desk, "/tokens"), data=data)
    assert response.status_code == 422
    page = text(response)
    assert html.escape(message, quote=True) in page or message in page
    assert TOKEN_RE.search(page) is None
    assert token_rows() == []


def test_a_token_list_row_says_everything_but_the_token(as_admin, desk):
    restricted = mint(
        desk,
        "Narrow",
        ["conversations:read", "contacts:read"],
        inbox_ids=[desk.sales.id],
        expires_in_days=5,
    )
    old = mint(desk, "Old", ["events:read"], expires_in_days=1)
    operator = tokens.mint(policy.system_actor(workspace(desk)), "From the CLI", ["events:read"])
    old.token.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()

    page = text(as_admin.get(mcp_url(desk)))
    for minted in (restricted, old, operator):
        assert minted.plaintext not in page
        assert tokens.display(minted.token) in page

    def item(token) -> str:
        start = page.index(f'data-testid="token-{token.id}"')
        return page[start : page.index("</li>", start)]

    narrow = item(restricted.token)
    assert "Sales" in narrow and "conversations: read" in narrow and "contacts: read" in narrow
    assert "Active" in narrow and "Ada Admin" in narrow and "never" in narrow  # last used
    assert "Expired" in item(old.token)
    cli = item(operator.token)
    assert "the operator (CLI)" in cli and "All inboxes" in cli


# --- revoking ----------------------------------------------------------------------------


def test_revoking_stops_the_token_at_once(as_admin, desk):
    minted = mint(desk, "Leaky bot")
    other = mint(desk, "Other bot")
    assert tokens.authenticate(minted.plaintext) is not None

    response = as_admin.post(mcp_url(desk, f"/tokens/{minted.token.id}/revoke"))
    assert response.status_code == 302
    token = db.session.get(McpToken, minted.token.id)
    db.session.refresh(token)
    assert tokens.status(token) == "revoked"
    assert tokens.authenticate(minted.plaintext) is None
    assert tokens.authenticate(other.plaintext) is not None
    entry = db.session.execute(
        select(AuditEntry).where(AuditEntry.action == "mcp.token_revoked")
    ).scalar_one()
    assert entry.actor_id == desk.admin.id and "Leaky bot" in entry.target

    page = text(as_admin.get(mcp_url(desk)))
    assert "Revoked tokens (1)" in page
    assert f'data-testid="revoke-{minted.token.id}"' not in page
    assert f'data-testid="revoke-{other.token.id}"' in page

    # Again: nothing changes, nothing more is audited.
    as_admin.post(mcp_url(desk, f"/tokens/{minted.token.id}/revoke"))
    assert audit_actions(desk).count("mcp.token_revoked") == 1


def test_another_workspaces_token_is_not_found(as_admin, desk):
    elsewhere = factories.make_workspace("Initech")
    foreign = tokens.mint(policy.system_actor(elsewhere), "Theirs", ["events:read"])
    response = as_admin.post(mcp_url(desk, f"/tokens/{foreign.token.id}/revoke"))
    assert response.status_code == 404
    assert tokens.authenticate(foreign.plaintext) is not None
    assert "Theirs" not in text(as_admin.get(mcp_url(desk)))
    assert as_admin.get(mcp_url(desk, f"/tokens/{foreign.token.id}/minted")).status_code == 404


def test_the_reveal_page_can_revoke_a_token_that_was_lost(as_admin, desk):
    location, _shown = mint_and_follow(as_admin, desk, {"name": "Lost", "preset": "read_only"})
    page = text(as_admin.get(location))  # the reload: nothing to show any more
    assert "Token already shown" in page
    [token] = token_rows()
    assert f'action="/w/{desk.workspace.slug}/settings/mcp/tokens/{token.id}/revoke"' in page
    assert as_admin.post(mcp_url(desk, f"/tokens/{token.id}/revoke")).status_code == 302
    assert token_rows()[0].revoked_at is not None
    assert "It has been revoked." in text(as_admin.get(location))


# --- the plan lock -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "reason", "says"),
    [
        ({"plan": "business"}, "plan_required", "needs the Enterprise plan"),
        ({"plan": "starter"}, "plan_required", "needs the Enterprise plan"),
        ({"trial_ends_at": utcnow() - timedelta(days=1)}, "trial_expired", "trial has ended"),
    ],
)
def test_a_locked_plan_explains_and_refuses_minting(as_admin, desk, change, reason, says):
    existing = mint(desk, "Before the lock")
    ws = workspace(desk)
    for key, value in change.items():
        setattr(ws, key, value)
    db.session.commit()
    assert policy.mcp_lock_reason(ws) == reason

    page = text(as_admin.get(mcp_url(desk)))
    assert 'data-testid="mcp-locked"' in page and says in page
    assert f"deskwoot plan set {ws.slug} enterprise" in page
    assert 'data-testid="mint-locked"' in page
    assert re.search(r'<fieldset class="bare stack"\s+disabled>', page)
    assert "Before the lock" in page  # still listed…
    assert f'data-testid="revoke-{existing.token.id}"' in page  # …and revocable

    response = as_admin.post(mcp_url(desk, "/tokens"), data={"name": "Sneaky", "preset": "full"})
    assert response.status_code == 422
    assert "Enterprise" in text(response) and TOKEN_RE.search(text(response)) is None
    assert [t.name for t in token_rows()] == ["Before the lock"]

    as_admin.post(mcp_url(desk, f"/tokens/{existing.token.id}/revoke"))
    assert tokens.status(token_rows()[0]) == "revoked"


def test_the_service_refuses_minting_on_a_locked_plan(desk):
    ws = workspace(desk)
    ws.plan = "business"
    db.session.commit()
    with pytest.raises(Exception, match="Enterprise") as info:
        mint(desk)
    assert info.value.data["reason"] == "plan_required"


def test_the_client_config_is_the_products_shape():
    config = json.loads(mcp_settings.client_config("https://help.example.com/", "dw_mcp_x"))
    assert config == {
        "mcpServers": {
            "deskwoot": {
                "url": "https://help.example.com/api/mcp",
                "headers": {"Authorization": "Bearer dw_mcp_x"},
            }
        }
    }
    assert list(config["mcpServers"]["deskwoot"]) == ["url", "headers"]


def test_a_token_whose_minter_lost_admin_shows_suspended(as_admin, desk):
    colleague = factories.make_user(desk.workspace, role="admin", name="Cleo Colleague")
    theirs = tokens.mint(
        factories.actor_for(colleague, workspace(desk)), "Cleo's bot", ["events:read"]
    )
    mine = mint(desk, "Ada's bot")
    workspace_service.set_role(admin_actor(desk), colleague.id, "agent")

    page = text(as_admin.get(mcp_url(desk)))
    start = page.index(f'data-testid="token-{theirs.token.id}"')
    item = page[start : page.index("</li>", start)]
    assert "Suspended" in item and 'data-testid="token-suspended-note"' in item
    assert "Cleo Colleague, who minted it, is no longer an active admin" in item
    start = page.index(f'data-testid="token-{mine.token.id}"')
    assert "Active" in page[start : page.index("</li>", start)]
    assert tokens.authenticate(theirs.plaintext) is None
    assert tokens.authenticate(mine.plaintext) is not None
