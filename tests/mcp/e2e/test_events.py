"""poll_events end to end: the feed from a cursor, whose action each event was (is_self),
type filters, and paging to the end."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from deskwoot.extensions import db
from deskwoot.models import Event
from deskwoot.services.conversations import workflow as conversation_service
from tests import factories as f
from tests.mcp.conftest import MODES, connect, make_desk
from tests.mcp.helpers import fails, fresh, ok, rpc_error, run

pytestmark = pytest.mark.parametrize("mode", MODES)


def test_poll_events(live, mode):
    desk = make_desk()
    conv = f.make_conversation(desk.inbox)
    token = desk.mint()
    other_token = desk.mint(name="Other bot")
    cid = conv.display_id

    def workspace_events(after: int = 0) -> list[int]:
        fresh()
        return list(
            db.session.execute(
                select(Event.id)
                .where(Event.workspace_id == desk.workspace.id, Event.id > after)
                .order_by(Event.id)
            ).scalars()
        )

    async def main():
        out = {}
        async with (
            connect(live.url, token, mode) as client,
            connect(live.url, other_token, mode) as other,
        ):
            first = await ok(client, "poll_events")
            out["first"] = first
            out["setup"] = workspace_events()
            # This token's action, a human's, and another token's.
            await ok(client, "add_private_note", {"conversation_id": cid, "body": "mine"})
            conversation_service.add_note(desk.admin_actor, cid, "a human's")
            await ok(other, "update_conversation", {"conversation_id": cid, "priority": "low"})
            out["new"] = workspace_events(max(out["setup"]))
            second = await ok(client, "poll_events", {"cursor": first["next_cursor"]})
            out["second"] = second
            empty = await ok(client, "poll_events", {"cursor": second["next_cursor"]})
            out["empty"] = empty
            await ok(client, "create_contact", {"name": "After Empty"})
            out["after_empty"] = await ok(client, "poll_events", {"cursor": empty["next_cursor"]})
            out["typed"] = await ok(client, "poll_events", {"types": ["message.created"]})
            out["typed_cursor"] = await rpc_error(
                client,
                "poll_events",
                {"cursor": first["next_cursor"], "types": ["message.created"]},
            )
            out["walk"] = []
            cursor = None
            while True:
                page = await ok(
                    client, "poll_events", {"limit": 2, **({"cursor": cursor} if cursor else {})}
                )
                out["walk"].extend(page["events"])
                cursor = page["next_cursor"]
                if not page["has_more"]:
                    break
            out["bad_type"] = await fails(client, "poll_events", {"types": ["nope"]})
        return out

    out = run(main)
    first = out["first"]
    assert [e["id"] for e in first["events"]] == out["setup"]
    assert [e["type"] for e in first["events"]] == ["conversation.created", "message.created"]
    created = next(e for e in first["events"] if e["type"] == "conversation.created")
    assert created["conversation_id"] == cid and created["inbox_id"] == desk.inbox.id
    assert created["actor"]["type"] == "customer" and created["actor"]["is_self"] is False
    assert first["has_more"] is False

    second = out["second"]["events"]
    assert [e["id"] for e in second] == out["new"]
    assert [(e["type"], e["actor"]["is_self"]) for e in second] == [
        ("message.created", True),
        ("message.created", False),
        ("conversation.updated", False),
    ]
    assert second[0]["data"]["kind"] == "note" and second[0]["actor"]["type"] == "bot"
    assert second[1]["actor"] == {"type": "agent", "name": "Ada Admin", "is_self": False}
    assert second[2]["data"]["changes"]["priority"] == ["none", "low"]
    assert out["empty"]["events"] == [] and out["empty"]["has_more"] is False
    after = out["after_empty"]["events"]
    assert [(e["type"], e["actor"]["is_self"]) for e in after] == [("contact.created", True)]
    assert after[0]["id"] == workspace_events()[-1]
    assert {e["type"] for e in out["typed"]["events"]} == {"message.created"}
    assert len(out["typed"]["events"]) == 3
    assert out["typed_cursor"].code == -32602
    walked = [e["id"] for e in out["walk"]]
    assert walked == workspace_events()
    assert out["bad_type"]["code"] == "invalid_arguments"
