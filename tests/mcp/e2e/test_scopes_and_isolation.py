"""What a token may see and call end to end: scopes decide the tool list and refuse the
rest, inbox restrictions hide other inboxes everywhere, and tampered cursors or unknown tools
are JSON-RPC errors; every refusal is audited."""

from __future__ import annotations

import pytest
from mcp import MCPError

from deskwoot.extensions import db
from deskwoot.mcp.tools import TOOL_ORDER
from deskwoot.models import Contact, ContactNote, Message
from deskwoot.services.access.tokens import PRESETS
from deskwoot.services.conversations import workflow as conversation_service
from tests import factories as f
from tests.mcp.conftest import MODES, connect, make_desk
from tests.mcp.helpers import (
    READ_TOOLS,
    audit_outcomes,
    count,
    fails,
    fresh,
    ok,
    rpc_error,
    run,
    token_row,
)

pytestmark = pytest.mark.parametrize("mode", MODES)

READ_ONLY = PRESETS["read_only"][1]


def test_read_only_token_sees_and_calls_only_read_tools(live, mode):
    desk = make_desk()
    conv = f.make_conversation(desk.inbox)
    token = desk.mint(READ_ONLY, name="Reader")
    drafts_token = desk.mint(PRESETS["drafts"][1], name="Drafter")

    async def main():
        async with connect(live.url, token, mode) as client:
            listed = [t.name for t in (await client.list_tools()).tools]
            await ok(client, "get_conversation", {"conversation_id": conv.display_id})
            denied = await rpc_error(
                client,
                "reply_to_conversation",
                {"conversation_id": conv.display_id, "body": "hi", "idempotency_key": "k"},
            )
            denied_contact = await rpc_error(client, "create_contact", {"name": "X"})
        async with connect(live.url, drafts_token, mode) as client:
            drafter = [t.name for t in (await client.list_tools()).tools]
            await ok(
                client, "create_draft_reply", {"conversation_id": conv.display_id, "body": "draft"}
            )
            denied_manage = await rpc_error(
                client,
                "assign_conversation",
                {"conversation_id": conv.display_id, "assignee_id": None},
            )
        return listed, denied, denied_contact, drafter, denied_manage

    listed, denied, denied_contact, drafter, denied_manage = run(main)
    assert listed == READ_TOOLS
    assert drafter == [
        "whoami",
        "list_inboxes",
        "list_labels",
        "list_conversations",
        "search_conversations",
        "get_conversation",
        "add_private_note",
        "create_draft_reply",
        "list_drafts",
        "search_contacts",
        "get_contact",
        "poll_events",
    ]
    assert denied.data == {"reason": "insufficient_scope", "required_scope": "conversations:reply"}
    assert "conversations:reply" in denied.message
    assert denied_contact.data["required_scope"] == "contacts:write"
    assert denied_manage.data["required_scope"] == "conversations:manage"
    fresh()
    assert (
        count(Message, Message.workspace_id == desk.workspace.id, Message.kind == "outgoing") == 0
    )
    assert count(Contact, Contact.workspace_id == desk.workspace.id) == 1
    token_id = token_row(desk.workspace.id, token).id
    assert audit_outcomes(desk.workspace.id, "reply_to_conversation", token_id) == ["denied"]
    assert audit_outcomes(desk.workspace.id, "create_contact", token_id) == ["denied"]
    assert audit_outcomes(desk.workspace.id, "get_conversation", token_id) == ["ok"]


def test_tool_annotations_and_schemas(live, mode):
    desk = make_desk()
    token = desk.mint()

    async def main():
        async with connect(live.url, token, mode) as client:
            return (await client.list_tools()).tools

    tools = run(main)
    assert [t.name for t in tools] == list(TOOL_ORDER)
    for tool in tools:
        assert tool.title and tool.description
        assert tool.input_schema["type"] == "object"
        assert tool.input_schema.get("additionalProperties") is False
        assert tool.output_schema["type"] == "object"
        assert tool.annotations.destructive_hint is False
        assert tool.annotations.open_world_hint is (
            tool.name in ("reply_to_conversation", "start_conversation")
        )
    read_only = {t.name for t in tools if t.annotations.read_only_hint}
    assert read_only == set(READ_TOOLS) | {"list_drafts", "list_agents"}


def test_inbox_restricted_token_never_sees_other_inbox(live, mode):
    desk = make_desk()
    shared = f.make_contact(desk.workspace, name="Shared Person", email="shared@example.test")
    mine = f.make_conversation(desk.inbox, contact=shared, content="walrus in support")
    theirs = f.make_conversation(desk.other_inbox, contact=shared, content="walrus in billing")
    hidden_contact = f.make_contact(desk.workspace, name="Hidden Heron", email="heron@example.test")
    hidden = f.make_conversation(desk.other_inbox, contact=hidden_contact, content="walrus secret")
    conversation_service.add_note(desk.admin_actor, theirs.display_id, "billing note")
    token = desk.mint(inbox_ids=[desk.inbox.id], name="Support only")

    async def main():
        out = {}
        async with connect(live.url, token, mode) as client:
            out["list"] = await ok(client, "list_conversations", {"status": "all"})
            out["list_other"] = await fails(
                client, "list_conversations", {"status": "all", "inbox_id": desk.other_inbox.id}
            )
            out["search"] = await ok(client, "search_conversations", {"query": "walrus"})
            out["get_mine"] = await ok(
                client, "get_conversation", {"conversation_id": mine.display_id}
            )
            out["get_theirs"] = await fails(
                client, "get_conversation", {"conversation_id": theirs.display_id}
            )
            out["reply_theirs"] = await fails(
                client,
                "reply_to_conversation",
                {"conversation_id": hidden.display_id, "body": "x", "idempotency_key": "k"},
            )
            out["events"] = await ok(client, "poll_events", {"limit": 100})
            out["shared"] = await ok(client, "get_contact", {"contact_id": shared.id})
            out["hidden"] = await fails(client, "get_contact", {"contact_id": hidden_contact.id})
            out["search_contacts"] = await ok(client, "search_contacts", {"query": "heron"})
            out["start"] = await fails(
                client,
                "start_conversation",
                {
                    "inbox_id": desk.other_inbox.id,
                    "contact_id": shared.id,
                    "body": "x",
                    "idempotency_key": "s",
                },
            )
            out["inboxes"] = await ok(client, "list_inboxes")
            # A contact this token creates has no inbox yet, but stays in its reach.
            made = await ok(client, "create_contact", {"name": "Fresh Finch"})
            out["made_profile"] = await ok(
                client, "get_contact", {"contact_id": made["contact"]["id"]}
            )
            out["made_events"] = await ok(
                client, "poll_events", {"cursor": out["events"]["next_cursor"]}
            )
            out["update_hidden"] = await fails(
                client, "update_contact", {"contact_id": hidden_contact.id, "name": "X"}
            )
            out["note_hidden"] = await fails(
                client, "add_contact_note", {"contact_id": hidden_contact.id, "body": "X"}
            )
        return out

    out = run(main)
    assert [c["display_id"] for c in out["list"]["conversations"]] == [mine.display_id]
    assert out["list_other"]["code"] == "not_found"
    assert [c["display_id"] for c in out["search"]["conversations"]] == [mine.display_id]
    assert out["get_mine"]["conversation"]["display_id"] == mine.display_id
    assert out["get_theirs"]["code"] == "not_found"
    assert out["reply_theirs"]["code"] == "not_found"
    events = out["events"]["events"]
    assert events
    assert {e["inbox_id"] for e in events} <= {desk.inbox.id, None}
    assert {e["conversation_id"] for e in events} <= {mine.display_id, None}
    assert hidden_contact.id not in {e["contact_id"] for e in events}
    assert [c["display_id"] for c in out["shared"]["conversations"]] == [mine.display_id]
    assert out["hidden"]["code"] == "not_found"
    assert out["search_contacts"]["contacts"] == []
    assert out["start"]["code"] == "not_found"
    assert [i["id"] for i in out["inboxes"]["inboxes"]] == [desk.inbox.id]
    assert out["made_profile"]["contact"]["name"] == "Fresh Finch"
    assert [(e["type"], e["actor"]["is_self"]) for e in out["made_events"]["events"]] == [
        ("contact.created", True)
    ]
    assert out["update_hidden"]["code"] == "not_found"
    assert out["note_hidden"]["code"] == "not_found"
    fresh()
    assert (
        count(Message, Message.workspace_id == desk.workspace.id, Message.kind == "outgoing") == 0
    )
    assert db.session.get(Contact, hidden_contact.id).name == "Hidden Heron"
    assert count(ContactNote, ContactNote.contact_id == hidden_contact.id) == 0


def test_cursor_tampering_and_unknown_tool(live, mode):
    desk = make_desk()
    for _ in range(3):
        f.make_conversation(desk.inbox)
    token = desk.mint()
    foreign_desk = make_desk()
    for _ in range(3):
        f.make_conversation(foreign_desk.inbox)
    foreign_token = foreign_desk.mint()

    async def main():
        async with connect(live.url, foreign_token, mode) as client:
            foreign = await ok(client, "list_conversations", {"limit": 1})
        async with connect(live.url, token, mode) as client:
            page = await ok(client, "list_conversations", {"limit": 1})
            cursor = page["next_cursor"]
            flipped = cursor[:-3] + ("A" if cursor[-3] != "A" else "B") + cursor[-2:]
            tampered = await rpc_error(
                client, "list_conversations", {"limit": 1, "cursor": flipped}
            )
            other_query = await rpc_error(
                client, "list_conversations", {"limit": 1, "cursor": cursor, "priority": "high"}
            )
            foreign_cursor = await rpc_error(
                client, "list_conversations", {"limit": 1, "cursor": foreign["next_cursor"]}
            )
            events = await ok(client, "poll_events")
            events_cursor = await rpc_error(
                client, "list_conversations", {"cursor": events["next_cursor"]}
            )
            unknown = await rpc_error(client, "delete_everything", {})
            still_fine = await ok(client, "list_conversations", {"limit": 1, "cursor": cursor})
        return tampered, other_query, foreign_cursor, events_cursor, unknown, still_fine

    tampered, other_query, foreign_cursor, events_cursor, unknown, still_fine = run(main)
    for error in (tampered, other_query, foreign_cursor, events_cursor, unknown):
        assert isinstance(error, MCPError)
        assert error.code == -32602
    assert "cursor" in tampered.message.lower()
    assert "delete_everything" in unknown.message
    assert len(still_fine["conversations"]) == 1
    fresh()
    token_id = token_row(desk.workspace.id, token).id
    assert audit_outcomes(desk.workspace.id, "list_conversations", token_id) == [
        "ok",
        "error",
        "error",
        "error",
        "error",
        "ok",
    ]
    assert audit_outcomes(desk.workspace.id, "delete_everything", token_id) == ["error"]
