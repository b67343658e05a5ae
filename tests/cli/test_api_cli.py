"""`deskwoot api …`: mint, list and revoke REST API tokens (the code is shared with `deskwoot
mcp`, whose tests cover the options in depth; these check the API kind end to end)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from deskwoot.errors import Unauthorized
from deskwoot.extensions import db
from deskwoot.models import AuditEntry, User, utcnow
from deskwoot.services.access import bearer, tokens
from tests.cli.helpers import (
    acme_with_two_inboxes,
    all_tokens,
    assert_error,
    current_acme,
    last_line,
    mint_in_acme,
    ok,
)


@pytest.fixture
def ws(app):
    return acme_with_two_inboxes()


def mint(runner, *args) -> str:
    return mint_in_acme(runner, "api", *args)


def test_mint_prints_an_api_token_that_opens_only_the_rest_api(runner, ws):
    result = runner.invoke(
        args=[
            "api",
            "mint",
            "acme",
            "--name",
            "CRM sync",
            "--scopes",
            "conversations:read,contacts:read",
            "--inbox",
            "support",
            "--expires-in",
            "30",
        ]
    )
    out = ok(result)
    plaintext = last_line(result)
    assert result.stdout.endswith(plaintext + "\n") and out.count(plaintext) == 1
    assert tokens.well_formed(plaintext, "api") and plaintext.startswith("dw_api_")
    assert "API base URL: http://localhost/api/v1" in out
    assert "Reference: http://localhost/api/v1/docs" in out
    assert "Inboxes: Support" in out

    admitted = bearer.admit(f"Bearer {plaintext}", "rest_api")
    acme = current_acme()
    assert admitted.actor.workspace_id == acme.id and admitted.actor.name == "CRM sync"
    assert admitted.actor.user_id == acme.bot_user_id is not None  # the bot it provisioned
    assert db.session.get(User, acme.bot_user_id).kind == "bot"
    support = next(inbox for inbox in acme.inboxes if inbox.name == "Support")
    assert admitted.actor.inbox_ids == frozenset({support.id})
    with pytest.raises(Unauthorized):
        bearer.admit(f"Bearer {plaintext}", "mcp")

    [token] = all_tokens()
    assert (token.kind, token.created_by_id) == ("api", None)
    assert timedelta(days=29, hours=23) < token.expires_at - utcnow() <= timedelta(days=30)
    actions = db.session.execute(
        select(AuditEntry.action, AuditEntry.actor_type).order_by(AuditEntry.id)
    ).all()
    assert [tuple(a) for a in actions] == [
        ("api.bot_provisioned", "system"),
        ("api.token_minted", "system"),
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scopes", "conversations:read,settings:write"], "Unknown scope(s): settings:write."),
        (["--preset", "root"], "Unknown preset 'root'"),
        ([], "Give --scopes a,b or --preset"),
    ],
)
def test_bad_input_is_one_line_and_a_non_zero_exit(runner, ws, args, message):
    assert_error(runner.invoke(args=["api", "mint", "acme", "--name", "X", *args]), message)
    assert all_tokens() == []


def test_a_locked_plan_refuses_minting(runner, ws):
    acme = current_acme()
    acme.plan = "business"
    db.session.commit()
    result = runner.invoke(args=["api", "mint", "acme", "--name", "X", "--preset", "full"])
    assert_error(result, "The REST API is an Enterprise feature")
    assert all_tokens() == []


def test_tokens_and_revoke_see_only_api_tokens(runner, ws):
    solo = mint(runner, "--name", "Solo", "--preset", "read_only")
    full = mint(runner, "--name", "Full", "--preset", "full")
    mcp = runner.invoke(args=["mcp", "mint", "acme", "--name", "Agent", "--preset", "full"])
    mcp_plaintext = last_line(mcp)

    out = ok(runner.invoke(args=["api", "tokens", "acme"]))
    assert out.splitlines()[0].split()[:3] == ["NAME", "TOKEN", "SCOPES"]
    assert "Solo" in out and "Full" in out and "Agent" not in out
    assert solo not in out and full not in out
    assert "Agent" not in ok(runner.invoke(args=["api", "tokens", "acme"]))
    assert "Solo" not in ok(runner.invoke(args=["mcp", "tokens", "acme"]))

    # An MCP token is not found by `api revoke`, by name or whole.
    for needle in ("Agent", mcp_plaintext):
        assert_error(runner.invoke(args=["api", "revoke", "acme", needle]), "No active token")
    assert tokens.lookup(mcp_plaintext, "mcp") is not None

    out = ok(runner.invoke(args=["api", "revoke", "acme", solo]))
    assert "Revoked 'Solo'" in out and solo not in out
    assert tokens.lookup(solo, "api") is None and tokens.lookup(full, "api") is not None
    row = next(
        line
        for line in ok(runner.invoke(args=["api", "tokens", "acme"])).splitlines()
        if line.startswith("Solo")
    )
    assert row.rstrip().endswith("revoked")
    entry = db.session.execute(
        select(AuditEntry).where(AuditEntry.action == "api.token_revoked")
    ).scalar_one()
    assert entry.actor_type == "system" and "Solo" in entry.target


def test_tokens_on_an_empty_workspace(runner, ws):
    out = ok(runner.invoke(args=["api", "tokens", "acme"]))
    assert "No tokens in 'acme' yet: `deskwoot api mint acme" in out
