"""`deskwoot mcp …`: switch the MCP server, mint, list and revoke bot tokens."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from deskwoot import policy
from deskwoot.extensions import db
from deskwoot.models import AuditEntry, McpToken, User, utcnow
from deskwoot.services.access import tokens
from tests import factories as f
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
    return mint_in_acme(runner, "mcp", *args)


def test_enable_provisions_the_bot_and_disable_keeps_it(runner, ws):
    out = ok(runner.invoke(args=["mcp", "enable", "acme"]))
    assert "MCP server enabled for 'acme'." in out
    assert "Bot service account: Acme bot" in out
    assert "Connection URL: http://localhost/api/mcp" in out
    acme = current_acme()
    assert acme.mcp_enabled and acme.bot_user_id is not None
    assert db.session.get(User, acme.bot_user_id).kind == "bot"

    assert "MCP server disabled for 'acme'." in ok(runner.invoke(args=["mcp", "disable", "acme"]))
    assert not current_acme().mcp_enabled and current_acme().bot_user_id == acme.bot_user_id
    actions = db.session.execute(
        select(AuditEntry.action, AuditEntry.actor_type).order_by(AuditEntry.id)
    ).all()
    assert [tuple(a) for a in actions] == [
        ("mcp.bot_provisioned", "system"),
        ("mcp.enabled", "system"),
        ("mcp.disabled", "system"),
    ]


def test_enable_on_a_locked_plan_says_what_unlocks_it(runner, ws):
    acme = current_acme()
    acme.plan = "business"
    db.session.commit()
    out = ok(runner.invoke(args=["mcp", "enable", "acme"]))
    assert "deskwoot plan set acme enterprise" in out


def test_mint_prints_the_token_alone_on_the_last_line(runner, ws):
    ok(runner.invoke(args=["mcp", "enable", "acme"]))
    plaintext = mint(
        runner,
        "--name",
        "OpenClaw triage bot",
        "--scopes",
        "conversations:read, conversations:draft",
    )
    live, found = tokens.authenticate(plaintext)
    assert found.slug == "acme"
    assert live.name == "OpenClaw triage bot"
    assert live.scopes == ["conversations:draft", "conversations:read"]
    assert live.inbox_ids == [] and live.expires_at is None and live.created_by_id is None
    assert plaintext not in str([live.token_hash, live.prefix, live.last4])


def test_mint_with_a_preset_inboxes_and_expiry(runner, ws):
    result = runner.invoke(
        args=[
            "mcp",
            "mint",
            "acme",
            "--name",
            "Drafter",
            "--preset",
            "drafts",
            "--inbox",
            "support",
            "--inbox",
            "Sales",
            "--expires-in",
            "10",
        ]
    )
    out = ok(result)
    assert "(preset drafts)" in out and "Inboxes: Support, Sales" in out
    assert "Note: the MCP server is off" in out
    [token] = all_tokens()
    assert token.scopes == sorted(tokens.PRESETS["drafts"][1])
    assert sorted(token.inbox_ids) == sorted(inbox.id for inbox in current_acme().inboxes)
    assert timedelta(days=9, hours=23) < token.expires_at - utcnow() <= timedelta(days=10)
    assert f"Minted token 'Drafter' ({tokens.display(token)})" in out
    assert tokens.authenticate(last_line(result)) is not None


def test_a_preset_and_scopes_together_add_up(runner, ws):
    mint(runner, "--name", "Reader+", "--preset", "read_only", "--scopes", "conversations:note")
    [token] = all_tokens()
    assert set(token.scopes) == {*tokens.PRESETS["read_only"][1], "conversations:note"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scopes", "conversations:read,settings:write"], "Unknown scope(s): settings:write."),
        (["--preset", "root"], "Unknown preset 'root'"),
        ([], "Give --scopes a,b or --preset"),
        (["--scopes", "events:read", "--inbox", "Nope"], "No inbox called 'Nope'"),
        (["--scopes", "events:read", "--expires-in", "0"], "between 1 and 3650 days"),
    ],
)
def test_mint_refuses_bad_input_in_one_line(runner, ws, args, message):
    assert_error(runner.invoke(args=["mcp", "mint", "acme", "--name", "X", *args]), message)
    assert all_tokens() == []


def test_mint_on_a_locked_plan_is_refused(runner, ws):
    acme = current_acme()
    acme.trial_ends_at = utcnow() - timedelta(days=1)
    db.session.commit()
    assert_error(
        runner.invoke(args=["mcp", "mint", "acme", "--name", "X", "--preset", "full"]),
        "trial has ended",
    )
    assert all_tokens() == []


def test_unknown_workspace(runner, ws):
    for args in (
        ["enable", "nope"],
        ["mint", "nope", "--name", "X", "--preset", "full"],
        ["revoke", "nope", "X"],
        ["tokens", "nope"],
    ):
        assert_error(runner.invoke(args=["mcp", *args]), "No workspace with slug 'nope'.")


@pytest.fixture
def three(runner, ws):
    """Three live tokens: two share a name."""
    return {
        "solo": mint(runner, "--name", "Solo", "--preset", "read_only"),
        "twin1": mint(runner, "--name", "Twin", "--preset", "read_only"),
        "twin2": mint(runner, "--name", "Twin", "--preset", "full"),
    }


def _row(plaintext: str) -> McpToken:
    live, _ = tokens.authenticate(plaintext) or (None, None)
    return live


@pytest.mark.parametrize("how", ["name", "display", "dots", "whole"])
def test_revoke_by_name_display_or_whole_token(runner, three, how):
    token = _row(three["solo"])
    needle = {
        "name": "Solo",
        "display": tokens.display(token),
        "dots": f"{token.prefix}...{token.last4}",
        "whole": three["solo"],
    }[how]
    out = ok(runner.invoke(args=["mcp", "revoke", "acme", needle]))
    assert f"Revoked 'Solo' ({tokens.display(token)})" in out
    assert three["solo"] not in out
    assert tokens.authenticate(three["solo"]) is None
    assert _row(three["twin1"]) is not None and _row(three["twin2"]) is not None
    entry = db.session.execute(
        select(AuditEntry).where(AuditEntry.action == "mcp.token_revoked")
    ).scalar_one()
    assert entry.actor_type == "system" and "Solo" in entry.target


def test_an_ambiguous_name_lists_the_matches_and_revokes_nothing(runner, three):
    twins = [_row(three["twin1"]), _row(three["twin2"])]
    result = runner.invoke(args=["mcp", "revoke", "acme", "Twin"])
    assert_error(result, "matches several tokens")
    for twin in twins:
        assert tokens.display(twin) in result.stderr
    assert all(_row(three[key]) is not None for key in three)
    # The displayed prefix…last4 tells them apart.
    ok(runner.invoke(args=["mcp", "revoke", "acme", tokens.display(twins[1])]))
    assert tokens.authenticate(three["twin2"]) is None
    assert tokens.authenticate(three["twin1"]) is not None


def test_revoking_something_unknown_or_already_revoked(runner, three):
    assert_error(runner.invoke(args=["mcp", "revoke", "acme", "Nobody"]), "No active token")
    ok(runner.invoke(args=["mcp", "revoke", "acme", "Solo"]))
    assert_error(runner.invoke(args=["mcp", "revoke", "acme", "Solo"]), "No active token")
    # A well-formed token that is not this workspace's: not found, and nothing leaks.
    other = f.make_workspace(name="Initech", slug="initech")
    theirs = tokens.mint(policy.system_actor(other), "Theirs", ["events:read"]).plaintext
    assert_error(runner.invoke(args=["mcp", "revoke", "acme", theirs]), "No active token")
    assert tokens.authenticate(theirs) is not None


def test_tokens_lists_without_the_secrets(runner, three):
    ok(runner.invoke(args=["mcp", "revoke", "acme", "Solo"]))
    out = ok(runner.invoke(args=["mcp", "tokens", "acme"]))
    lines = out.splitlines()
    assert lines[0].split() == [
        "NAME",
        "TOKEN",
        "SCOPES",
        "INBOXES",
        "CREATED",
        "LAST",
        "USED",
        "EXPIRES",
        "STATUS",
    ]
    for key, plaintext in three.items():
        assert plaintext not in out, key
    rows = {line.split()[1]: line for line in lines[2:]}
    solo = next(line for line in rows.values() if line.startswith("Solo"))
    assert solo.rstrip().endswith("revoked") and "preset read_only" in solo
    assert sum(line.rstrip().endswith("active") for line in rows.values()) == 2
    assert any("preset full" in line for line in rows.values())


def test_tokens_on_an_empty_workspace(runner, ws):
    assert "No tokens in 'acme' yet" in ok(runner.invoke(args=["mcp", "tokens", "acme"]))
