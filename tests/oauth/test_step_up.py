"""A client that asks again (a step-up for a scope it lacked, or a reconnect) gets a new grant
when its new code is exchanged, and the grant the same admin approved for it before is
revoked then: no unused, still valid grant is left beside the new one. A grant another admin
approved for the same client stays, and so does the old one while the new approval's code
has not been exchanged."""

from __future__ import annotations

from sqlalchemy import select

from deskwoot.extensions import db
from deskwoot.models import AuditEntry, McpToken
from tests import factories
from tests.oauth import flow
from tests.oauth.flow import Pkce

NOTE = ("conversations:read", "conversations:note")


def approve_again(client, client_id: str, desk, scopes) -> tuple[str, Pkce]:
    pkce = Pkce.new()
    query = flow.authorize_query(client_id, pkce, scope=" ".join(scopes))
    return flow.code_from(flow.approve(client, query, desk.workspace.id, scopes=scopes)), pkce


def live_grants() -> list[tuple[str, list[str]]]:
    db.session.rollback()
    rows = db.session.execute(
        select(McpToken).where(McpToken.kind == "oauth", McpToken.revoked_at.is_(None))
    ).scalars()
    return [(grant.name, sorted(grant.scopes)) for grant in rows]


def test_a_step_up_replaces_the_grant_it_widens(client, auth, desk):
    client_id, first = flow.full(client, auth, desk)  # read only
    code, pkce = approve_again(client, client_id, desk, NOTE)
    assert len(live_grants()) == 2  # approved, not yet exchanged: the old grant still works
    assert flow.call(client, first["access_token"]).status_code == 200

    second = flow.exchange(client, client_id, code, pkce.verifier)
    assert second.status_code == 200, second.get_data(as_text=True)
    assert live_grants() == [("Hostile Test Client", sorted(NOTE))]
    assert flow.call(client, first["access_token"]).status_code == 401
    refreshed = flow.refresh(client, client_id, first["refresh_token"])
    assert refreshed.status_code == 400 and refreshed.get_json()["error"] == "invalid_grant"
    assert flow.call(client, second.get_json()["access_token"]).status_code == 200
    revoked = db.session.execute(
        select(AuditEntry).where(AuditEntry.action == "oauth.grant_revoked")
    ).scalar_one()
    assert revoked.detail == "replaced by a newer approval for the same app"


def test_another_admins_grant_for_the_same_client_stays(client, auth, desk):
    client_id, first = flow.full(client, auth, desk)
    factories.make_user(desk.workspace, role="admin", name="Ben Admin", email="ben@acme.test")
    auth.logout()
    auth.login("ben@acme.test")
    code, pkce = approve_again(client, client_id, desk, NOTE)
    assert flow.exchange(client, client_id, code, pkce.verifier).status_code == 200
    assert len(live_grants()) == 2
    assert flow.call(client, first["access_token"]).status_code == 200
