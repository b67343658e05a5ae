"""Parity: for every MCP tool with a REST twin (all of them), the same call through /api/mcp
and through /api/v1 writes the same rows, but for the token (ARCHITECTURE §14).

Two workspaces are built alike, one called through MCP with an MCP token and one through
REST with an API token of the same name and scopes. The rows each call adds (messages,
drafts, notes, contacts, events, audit entries, idempotency keys, outbox…) are compared with
ids replaced by their place in the workspace, so "the conversation's first message" in one
matches the same message in the other; timestamps, request ids, token ids and the surface a
contact was created through (`mcp` / `api`) are left out.
"""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from deskwoot.extensions import db
from deskwoot.mcp import registry
from deskwoot.models import Base, Contact, Workspace
from deskwoot.policy import SCOPES
from deskwoot.rest.binding import KEY, KEY_HEADER, compile_route
from deskwoot.rest.routes import ROUTES
from deskwoot.services.access import mcp_switch
from tests.rest.conftest import Api, make_desk

ROUTE_OF_TOOL = {route.tool: route for route in ROUTES}
TABLES = [
    Base.metadata.tables[name]
    for name in (
        "inboxes",
        "labels",
        "contacts",
        "conversations",
        "messages",
        "drafts",
        "contact_notes",
        "events",
        "audit_entries",
        "idempotency_keys",
        "outbox",
    )
]
DROPPED = {"id", "workspace_id", "token_id", "request_id", "remote_addr", "fingerprint", "result"}
# Where an id in an event's data points.
DATA_IDS = {
    "message_id": "messages",
    "draft_id": "drafts",
    "note_id": "contact_notes",
    "contact_id": "contacts",
    "inbox_id": "inboxes",
    "assignee_id": "users",
}


def arguments(tool: str, world) -> dict:
    cid = world.conversation.display_id
    contact = world.conversation.contact_id
    return {
        "whoami": {},
        "list_inboxes": {},
        "list_labels": {},
        "list_conversations": {"status": "all"},
        "search_conversations": {"query": "parcel"},
        "get_conversation": {"conversation_id": cid},
        "reply_to_conversation": {"conversation_id": cid, "body": "Hi", KEY: "k-1"},
        "add_private_note": {"conversation_id": cid, "body": "note", KEY: "k-2"},
        "create_draft_reply": {"conversation_id": cid, "body": "draft", "note_to_reviewer": "?"},
        "list_drafts": {},
        "update_conversation": {
            "conversation_id": cid,
            "status": "pending",
            "priority": "high",
            "add_labels": ["billing"],
            "custom_attributes": {"plan": "pro"},
        },
        "assign_conversation": {"conversation_id": cid, "assignee_id": world.agent.id},
        "escalate_to_human": {"conversation_id": cid, "reason": "angry"},
        "list_agents": {},
        "start_conversation": {
            "inbox_id": world.inbox.id,
            "contact_id": contact,
            "body": "Hello",
            "subject": "Hi",
            KEY: "k-3",
        },
        "search_contacts": {"query": "customer"},
        "get_contact": {"contact_id": contact},
        "create_contact": {"name": "Grace", "phone": "+1 555", KEY: "k-4"},
        "update_contact": {"contact_id": contact, "name": "Renamed"},
        "add_contact_note": {"contact_id": contact, "body": "note"},
        "poll_events": {"types": ["message.created"]},
    }[tool]


def via_mcp(client, token: str, tool: str, args: dict) -> None:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": tool, "arguments": args},
    }
    response = client.post(
        "/api/mcp",
        data=json.dumps(body),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert response.status_code == 200
    assert response.get_json()["result"]["isError"] is False, response.get_data(as_text=True)


def via_rest(client, token: str, tool: str, args: dict) -> None:
    route = ROUTE_OF_TOOL[tool]
    compiled = compile_route(route)
    args = dict(args)
    headers = {KEY_HEADER: args.pop(KEY)} if KEY in args else {}
    path = route.path
    for name in compiled.path:
        path = path.replace("{" + name + "}", str(args.pop(name)))
    api = Api(client, token)
    if route.takes_body:
        response = api.request(route.method, path, args, headers=headers)
    else:
        query = "&".join(
            f"{k}={','.join(v) if isinstance(v, list) else v}" for k, v in args.items()
        )
        response = api.get(path + (f"?{query}" if query else ""), headers=headers)
    assert response.status_code == route.status, response.get_data(as_text=True)


def places(workspace_id: int, bot_id: int, world) -> dict:
    """Every row of the workspace as (table, id) → its place: "messages#3"."""
    found = {("users", world.admin.id): "admin", ("users", world.agent.id): "agent"}
    found[("users", bot_id)] = "bot"
    for table in TABLES:
        ids = db.session.scalars(
            select(table.c.id).where(table.c.workspace_id == workspace_id).order_by(table.c.id)
        )
        found |= {(table.name, row_id): f"{table.name}#{n}" for n, row_id in enumerate(ids)}
    return found


def normalized(table, row, where: dict):
    out = {}
    for column in table.c:
        name, value = column.name, row._mapping[column.name]
        if name in DROPPED or name.endswith("_at"):
            continue
        if column.foreign_keys and value is not None:
            value = where.get((next(iter(column.foreign_keys)).column.table.name, value), value)
        elif name == "actor_id" and value is not None:
            value = where.get(("users", value), value)
        elif name == "created_via" and value in ("mcp", "api"):
            value = "bot"
        elif name == "data":
            value = _places_in(value, where)
        elif name == "delivery_id" and value and value.startswith("msg_"):
            value = where.get(("messages", int(value.removeprefix("msg_"))), value)
        elif name == "target" and value:
            value = re.sub(
                r"^(contact|inbox|user) (\d+)",
                lambda m: where.get(
                    (m[1] + "s" if m[1] != "inbox" else "inboxes", int(m[2])), m[0]
                ),
                value,
            )
        out[name] = value
    return out


def _places_in(value, where: dict, table: str | None = None):
    """An event's data with the ids in it replaced by their places (nested too: a change of
    assignee is {"assignee_id": [old, new]})."""
    if isinstance(value, dict):
        return {k: _places_in(v, where, DATA_IDS.get(k, table)) for k, v in value.items()}
    if isinstance(value, list):
        return [_places_in(v, where, table) for v in value]
    if table is not None and isinstance(value, int) and not isinstance(value, bool):
        return where.get((table, value), value)
    return value


def new_rows(workspace_id: int, before: dict, world, bot_id: int) -> dict:
    db.session.expire_all()
    where = places(workspace_id, bot_id, world)
    rows = {}
    for table in TABLES:
        found = db.session.execute(
            select(table).where(table.c.workspace_id == workspace_id).order_by(table.c.id)
        ).all()
        rows[table.name] = [
            normalized(table, row, where)
            for row in found
            if (table.name, row._mapping["id"]) not in before
        ]
    return rows


@pytest.fixture
def twins(app):
    worlds = []
    for kind in ("mcp", "api"):
        world = make_desk()
        # The same customers in both (the factories number their names and emails).
        for n, conversation in enumerate((world.conversation, world.hidden)):
            contact = db.session.get(Contact, conversation.contact_id)
            contact.name, contact.email = f"Customer {n}", f"customer{n}@example.test"
        db.session.commit()
        mcp_switch.set_enabled(world.admin_actor, True)  # provisions the bot both act as
        token = world.token(scopes=SCOPES, name="Parity bot", kind=kind)
        bot_id = db.session.get(Workspace, world.workspace.id).bot_user_id
        worlds.append((world, token, bot_id))
    return worlds


@pytest.mark.parametrize("tool", list(registry.REGISTRY))
def test_mcp_and_rest_write_the_same_rows(client, twins, tool):
    assert tool in ROUTE_OF_TOOL
    results = []
    for (world, token, bot_id), call in zip(twins, (via_mcp, via_rest), strict=True):
        before = set(places(world.workspace.id, bot_id, world))
        call(client, token, tool, arguments(tool, world))
        results.append(new_rows(world.workspace.id, before, world, bot_id))
    mcp_rows, rest_rows = results
    assert mcp_rows["audit_entries"], "every call leaves an audit row"
    for table in mcp_rows:
        assert mcp_rows[table] == rest_rows[table], repr((table, mcp_rows[table], rest_rows[table]))
