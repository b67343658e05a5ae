"""poll_events cursors that can no longer be used: past the retention window, or signed with
a secret key the server no longer has (DESKWOOT_SECRET_KEY rotated). Both tell the agent to
resync; a cursor that is not one of ours stays "Invalid cursor" (-32602)."""

from __future__ import annotations

import json

import pytest

from deskwoot.mcp import cursors
from deskwoot.policy import SCOPES, member_actor
from deskwoot.services.access import mcp_switch as mcp_settings
from deskwoot.services.access import tokens
from tests import factories as f

NO_TYPES = {"types": []}


@pytest.fixture
def desk(app):
    ws = f.make_workspace()
    admin = member_actor(f.make_user(ws, role="admin"), ws)
    f.make_conversation(f.make_inbox(ws), content="Where is my parcel?")
    mcp_settings.set_enabled(admin, True)
    return {"ws": ws, "token": tokens.mint(admin, "Bot", list(SCOPES)).plaintext}


def poll(client, desk, **arguments) -> dict:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "poll_events", "arguments": arguments},
    }
    response = client.post(
        "/api/mcp",
        data=json.dumps(body),
        headers={"Authorization": f"Bearer {desk['token']}", "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def business_error(answer: dict) -> dict:
    """The error of an isError tool result, read from its text block (the same JSON with or
    without structuredContent)."""
    result = answer["result"]
    assert result["isError"] is True, result
    return json.loads(result["content"][0]["text"])["error"]


def test_an_expired_cursor_asks_for_a_resync(app, client, desk):
    old = cursors.encode(desk["ws"].id, "events", NO_TYPES, [0, 0])  # issued in 1970
    error = business_error(poll(client, desk, cursor=old))
    assert error["reason"] == "resync_required"


@pytest.mark.parametrize("types", [None, ["message.created"]])
def test_a_cursor_signed_with_a_rotated_key_asks_for_a_resync(app, client, desk, types):
    """Was: -32602 "Invalid cursor", which does not tell the agent what to do."""
    arguments = {"types": types} if types else {}
    cursor = poll(client, desk, **arguments)["result"]["structuredContent"]["next_cursor"]
    assert not poll(client, desk, cursor=cursor, **arguments)["result"]["isError"]

    app.config["SECRET_KEY"] = "a-new-secret-key"
    error = business_error(poll(client, desk, cursor=cursor, **arguments))
    assert error["code"] == "invalid" and error["reason"] == "resync_required"
    assert "poll again without a cursor" in error["message"]
    # Starting over without a cursor works, and the new cursor verifies.
    fresh = poll(client, desk, **arguments)["result"]
    assert not fresh["isError"]
    again = poll(client, desk, cursor=fresh["structuredContent"]["next_cursor"], **arguments)
    assert not again["result"]["isError"]


def not_ours(app, desk) -> dict[str, str]:
    """Cursors that fail the signature check and are not this query's events cursor."""
    with app.test_request_context():
        events = cursors.encode(desk["ws"].id, "events", NO_TYPES, [1, 2])
        return {
            "garbage": "not-a-cursor",
            "truncated": events[: len(events) // 2],
            "flipped payload": "x" + events[1:],
            "other workspace": cursors.encode(desk["ws"].id + 1, "events", NO_TYPES, [1, 2]),
            "other filters": cursors.encode(
                desk["ws"].id, "events", {"types": ["message.created"]}, [1, 2]
            ),
            "a list cursor": cursors.encode(desk["ws"].id, "conversations", {}, 5),
            "bad position": cursors.encode(desk["ws"].id, "events", NO_TYPES, ["1", None]),
        }


def test_cursors_that_are_not_ours_stay_invalid(app, client, desk):
    candidates = not_ours(app, desk)
    app.config["SECRET_KEY"] = "a-new-secret-key"  # none of them verifies now
    for name, cursor in candidates.items():
        answer = poll(client, desk, cursor=cursor)
        assert answer.get("error", {}).get("code") == -32602, (name, answer)
        assert "Invalid cursor" in answer["error"]["message"], name
