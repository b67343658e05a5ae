"""The bearer-token check every machine surface shares (services/access/bearer.py), without a
transport: what it admits, the service errors it refuses with, and the feature it checks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from deskwoot import policy
from deskwoot.errors import Locked, Unauthorized
from deskwoot.extensions import db
from deskwoot.models import AuditEntry, McpToken, Membership, utcnow
from deskwoot.services.access import bearer, tokens
from deskwoot.services.access import mcp_switch as mcp_settings
from tests import factories as f


@pytest.fixture
def desk(app):
    ws = f.make_workspace(plan="enterprise")
    admin = f.make_user(ws, role="admin")
    inbox = f.make_inbox(ws)
    actor = f.actor_for(admin, ws)
    mcp_settings.set_enabled(actor, True)
    minted = tokens.mint(actor, "Triage bot", ["conversations:read"], inbox_ids=[inbox.id])
    return {"ws": ws, "admin": admin, "inbox": inbox, "token": minted}


def header(desk) -> str:
    return "Bearer " + desk["token"].plaintext


@pytest.mark.parametrize(
    "value",
    [None, "", "Bearer", "Bearer   ", "Basic abc", "dw_mcp_x", "Token dw_mcp_x"],
)
def test_token_from_header_reads_only_a_bearer_value(value):
    assert bearer.token_from_header(value) is None


def test_token_from_header_takes_any_case_and_trims():
    assert bearer.token_from_header("bearer  dw_mcp_abc ") == "dw_mcp_abc"
    assert bearer.token_from_header("BEARER dw_mcp_abc") == "dw_mcp_abc"


def test_a_live_token_is_admitted_as_the_workspace_bot(desk):
    admitted = bearer.admit(header(desk), "mcp", request_id="r-1", remote_addr="10.0.0.9")
    actor = admitted.actor
    assert (actor.kind, actor.via, actor.workspace_id) == ("bot", "mcp", desk["ws"].id)
    assert actor.user_id == desk["ws"].bot_user_id
    assert actor.token_id == desk["token"].token.id
    assert actor.scopes == frozenset({"conversations:read"})
    assert actor.inbox_ids == frozenset({desk["inbox"].id})
    assert (actor.request_id, actor.remote_addr) == ("r-1", "10.0.0.9")
    assert admitted.rate_tat is None
    db.session.expire_all()
    assert db.session.get(McpToken, desk["token"].token.id).last_used_at is not None


@pytest.mark.parametrize(
    "value",
    [None, "Bearer dw_mcp_short", "Bearer dw_mcp_" + "A" * 38, "Basic abc"],
)
def test_a_bad_header_is_one_unauthorized(desk, value):
    with pytest.raises(Unauthorized) as refused:
        bearer.admit(value, "mcp")
    assert refused.value.reason == "invalid_token"
    assert refused.value.message == bearer.NOT_ADMITTED


def test_revoked_and_expired_tokens_are_refused_like_unknown_ones(desk):
    token = db.session.get(McpToken, desk["token"].token.id)
    token.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    with pytest.raises(Unauthorized) as expired:
        bearer.admit(header(desk), "mcp")
    token.expires_at, token.revoked_at = None, utcnow()
    db.session.commit()
    with pytest.raises(Unauthorized) as revoked:
        bearer.admit(header(desk), "mcp")
    assert expired.value.reason == revoked.value.reason == "invalid_token"


def test_a_token_whose_minter_is_no_longer_admin_is_suspended(desk):
    membership = db.session.scalar(select(Membership).where(Membership.user_id == desk["admin"].id))
    membership.role = "agent"
    db.session.commit()
    with pytest.raises(Unauthorized) as refused:
        bearer.admit(header(desk), "mcp")
    assert refused.value.reason == "token_suspended"
    assert "suspended" in refused.value.message


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"plan": "business"}, "plan_required"),
        ({"plan": "trial", "trial_ends_at": utcnow() - timedelta(days=1)}, "trial_expired"),
        ({"mcp_enabled": False}, "mcp_disabled"),
    ],
)
def test_a_locked_workspace_is_refused_with_the_token_actor_and_no_audit(desk, change, reason):
    ws = desk["ws"]
    for key, value in change.items():
        setattr(ws, key, value)
    db.session.commit()
    with pytest.raises(Locked) as refused:
        bearer.admit(header(desk), "mcp")
    locked = refused.value
    assert locked.reason == reason
    assert locked.message == policy.lock_message(reason, ws, "mcp")
    assert locked.actor.token_id == desk["token"].token.id
    # Auditing the refusal is the surface's call (the MCP transport counts them per minute).
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.outcome == "denied")) is None


def test_the_plan_check_is_per_feature_and_names_it(desk):
    ws = desk["ws"]
    ws.plan = "starter"
    db.session.commit()
    for feature, name in (("mcp", "The MCP server"), ("rest_api", "The REST API")):
        assert policy.feature_lock_reason(ws, feature) == "plan_required"
        message = policy.lock_message("plan_required", ws, feature)
        assert message.startswith(f"{name} is an Enterprise feature")
        assert f"deskwoot plan set {ws.slug} enterprise" in message
    with pytest.raises(ValueError):
        policy.feature_lock_reason(ws, "webhooks")


def test_the_switch_is_checked_after_the_plan(desk):
    ws = desk["ws"]
    ws.mcp_enabled, ws.plan = False, "business"
    db.session.commit()
    assert policy.switch_lock_reason(ws, "mcp") == "mcp_disabled"
    with pytest.raises(Locked) as refused:
        bearer.admit(header(desk), "mcp")
    assert refused.value.reason == "plan_required"
