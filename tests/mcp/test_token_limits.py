"""Tokens under pressure (issue 6): a rate limit that holds across processes, expiry, and the
suspension rule for tokens whose minter is no longer an admin (ARCHITECTURE §3).

Two gunicorn servers (two workers each) on one database stand in for "every worker": the
budget must be shared because it lives in the database, not in a process.
"""

from __future__ import annotations

import time
from datetime import timedelta
from itertools import cycle

import httpx2
import pytest
from sqlalchemy import update

from deskwoot.extensions import db
from deskwoot.models import AuditEntry, McpToken, Membership, User, utcnow
from deskwoot.policy import SCOPES, member_actor, system_actor
from deskwoot.services.access import tokens
from deskwoot.services.directory import workspaces
from tests import factories as f
from tests.conftest import fresh_database
from tests.mcp.conftest import make_desk, side_app
from tests.mcp.helpers import (
    count,
    fresh,
    raw_call,
    raw_headers,
    rpc_body,
    run,
    token_row,
)
from tests.mcp.server import gunicorn

BURST = 4
PER_MINUTE = 30  # one call every 2 s once the burst is spent
LIMITS = {"DESKWOOT_MCP_RATE_LIMIT": str(PER_MINUTE), "DESKWOOT_MCP_RATE_BURST": str(BURST)}


@pytest.fixture(scope="module")
def pair(template_db, tmp_path_factory):
    """Two independent servers on one database, and an app context on it."""
    tmp = tmp_path_factory.mktemp("limits")
    url = fresh_database(template_db, tmp / "limits.sqlite3")
    app = side_app(url, MCP_RATE_LIMIT=PER_MINUTE, MCP_RATE_BURST=BURST)
    (tmp / "a").mkdir()
    (tmp / "b").mkdir()
    with (
        app.app_context(),
        gunicorn(url, tmp / "a", workers=2, env=LIMITS) as first,
        gunicorn(url, tmp / "b", workers=2, env=LIMITS) as second,
    ):
        yield first.mcp_url, second.mcp_url
        db.session.remove()
        db.engine.dispose()


def _list_conversations(urls, token: str, n: int) -> list[httpx2.Response]:
    """n calls, alternating between the servers, each on a new connection."""

    async def scenario():
        answers = []
        for _, url in zip(range(n), cycle(urls), strict=False):
            async with httpx2.AsyncClient(timeout=30) as http:
                answers.append(await raw_call(http, url, token, "list_conversations", {}))
        return answers

    return run(scenario)


def _post(url: str, token: str, method: str) -> httpx2.Response:
    async def scenario():
        async with httpx2.AsyncClient(timeout=30) as http:
            return await http.post(url, json=rpc_body(method), headers=raw_headers(token))

    return run(scenario)


def test_the_burst_is_shared_by_every_process_and_the_refusal_says_when_to_retry(pair):
    desk = make_desk()
    token = desk.mint(name="Hasty bot")
    token_id = token_row(desk.workspace.id, token).id

    answers = _list_conversations(pair, token, BURST + 3)

    statuses = [a.status_code for a in answers]
    assert statuses[:BURST] == [200] * BURST, statuses
    assert statuses[BURST:] == [429] * 3, statuses
    refused = answers[BURST]
    error = refused.json()["error"]
    assert error["code"] == -32014
    assert error["data"]["reason"] == "rate_limited"
    retry_after = int(refused.headers["Retry-After"])
    assert retry_after == error["data"]["retry_after"]
    assert 1 <= retry_after <= 60 / PER_MINUTE + 1
    assert "Retry after" in error["message"]
    # Exactly the admitted calls were audited: a client hammering past its limit writes nothing.
    assert count(AuditEntry, AuditEntry.token_id == token_id) == BURST

    time.sleep(retry_after + 0.05)
    again = _list_conversations(pair[::-1], token, 1)[0]
    assert again.status_code == 200, again.text
    assert "error" not in again.json()


def test_each_token_has_its_own_budget_and_cheap_methods_are_free(pair):
    desk = make_desk()
    spender, bystander = desk.mint(name="Spender"), desk.mint(name="Bystander")
    assert [a.status_code for a in _list_conversations(pair, spender, BURST + 1)][-1] == 429

    # Another token of the same workspace is untouched…
    assert {a.status_code for a in _list_conversations(pair, bystander, BURST)} == {200}
    # …and the exhausted one can still list tools and ping: only tools/call is charged.
    assert _post(pair[0], spender, "tools/list").status_code == 200
    assert _post(pair[1], spender, "ping").status_code == 200


def test_an_expired_token_is_refused_like_an_unknown_one(pair):
    desk = make_desk()
    plaintext = tokens.mint(desk.admin_actor, "Short-lived", list(SCOPES), expires_in_days=1)
    assert _list_conversations(pair, plaintext.plaintext, 1)[0].status_code == 200

    db.session.execute(
        update(McpToken)
        .where(McpToken.id == plaintext.token.id)
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()

    expired = _list_conversations(pair, plaintext.plaintext, 1)[0]
    unknown = _list_conversations(pair, tokens.generate(), 1)[0]
    assert expired.status_code == unknown.status_code == 401
    assert expired.json()["error"] == unknown.json()["error"]
    assert expired.headers["WWW-Authenticate"] == unknown.headers["WWW-Authenticate"]
    fresh()
    assert tokens.status(db.session.get(McpToken, plaintext.token.id)) == "expired"


def _suspended(answer: httpx2.Response) -> bool:
    return answer.status_code == 401 and answer.json()["error"]["data"] == {
        "reason": "token_suspended"
    }


def test_a_token_lives_only_while_its_minter_is_an_active_admin(pair):
    desk = make_desk()
    second_admin = f.make_user(desk.workspace, role="admin", name="Bea Backup")
    boss = member_actor(second_admin, desk.workspace)
    token = desk.mint(name="Ada's bot")
    row_id = token_row(desk.workspace.id, token).id

    def state() -> str:
        fresh()
        return tokens.status(db.session.get(McpToken, row_id))

    def works() -> bool:
        answer = _list_conversations(pair, token, 1)[0]
        assert answer.status_code == 200 or _suspended(answer), answer.text
        return answer.status_code == 200

    assert works() and state() == "active"

    # Demoted to agent: the broader token she minted stops with her admin rights…
    workspaces.set_role(boss, desk.admin.id, "agent")
    assert not works() and state() == "suspended"
    # …and comes back if she is made admin again (suspended, not revoked).
    workspaces.set_role(boss, desk.admin.id, "admin")
    assert works() and state() == "active"

    # Deactivated account: suspended.
    db.session.execute(update(User).where(User.id == desk.admin.id).values(is_active=False))
    db.session.commit()
    assert not works() and state() == "suspended"
    db.session.execute(update(User).where(User.id == desk.admin.id).values(is_active=True))
    db.session.commit()
    assert works()

    # Removed from the workspace: suspended.
    workspaces.remove_teammate(boss, desk.admin.id)
    assert not works() and state() == "suspended"
    fresh()
    assert (
        db.session.query(Membership)
        .filter_by(workspace_id=desk.workspace.id, user_id=desk.admin.id)
        .count()
        == 0
    )


def test_operator_minted_tokens_have_no_minter_to_lose(pair):
    desk = make_desk()
    # What `deskwoot mcp mint` does: the operator, not a person, stands behind the token.
    token = tokens.mint(system_actor(desk.workspace), "Operator bot", list(SCOPES)).plaintext
    assert token_row(desk.workspace.id, token).created_by_id is None
    workspaces.set_role(
        member_actor(f.make_user(desk.workspace, role="admin"), desk.workspace),
        desk.admin.id,
        "agent",
    )
    assert _list_conversations(pair, token, 1)[0].status_code == 200
