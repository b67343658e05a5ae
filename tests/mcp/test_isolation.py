"""The isolation matrix, generated from the tool registry (ARCHITECTURE §6).

For every tool and every argument that names an object, a foreign workspace's id and an id
from an inbox the token may not touch must answer "not found", change no rows, and leave a
`denied` audit entry. A new tool with an id argument and no base case here fails the suite.
"""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import func, select

from deskwoot.extensions import db
from deskwoot.mcp import registry, tools
from deskwoot.models import AuditEntry, Base
from deskwoot.policy import SCOPES, member_actor
from deskwoot.services.access import mcp_switch as mcp_settings
from deskwoot.services.access import tokens
from deskwoot.services.directory import contacts
from tests import factories as f
from tests.mcp.helpers import tool_error

assert tools.TOOL_ORDER  # importing the tools registers them
ID_TOOLS = [spec for spec in registry.REGISTRY.values() if spec.id_args]


def base_arguments(name: str, world: dict) -> dict:
    """Arguments that succeed for the token, before one id is swapped out."""
    key = str(uuid.uuid4())
    conv = {"conversation_id": world["conversation"]}
    return {
        "list_conversations": {},
        "search_conversations": {"query": "parcel"},
        "get_conversation": conv,
        "reply_to_conversation": {**conv, "body": "Hi", "idempotency_key": key},
        "add_private_note": {**conv, "body": "note"},
        "create_draft_reply": {**conv, "body": "draft"},
        "list_drafts": {},
        "update_conversation": {**conv, "priority": "high"},
        "assign_conversation": {**conv, "assignee_id": None},
        "escalate_to_human": {**conv, "reason": "angry customer"},
        "start_conversation": {
            "inbox_id": world["inbox"],
            "contact_id": world["contact"],
            "body": "Hello",
            "idempotency_key": key,
        },
        "get_contact": {"contact_id": world["contact"]},
        "update_contact": {"contact_id": world["contact"], "name": "Renamed"},
        "add_contact_note": {"contact_id": world["contact"], "body": "note"},
    }[name]


def test_every_id_argument_is_declared():
    for spec in registry.REGISTRY.values():
        named = {p for p in spec.input_schema["properties"] if p.endswith("_id") or p == "assignee"}
        assert named == set(spec.id_args), f"{spec.name}: declare id_args for {named}"


@pytest.fixture
def world(app):
    home = f.make_workspace()
    admin = f.make_user(home, role="admin")
    allowed = f.make_inbox(home, name="Allowed")
    forbidden = f.make_inbox(home, name="Forbidden")
    colleague = f.make_user(home, inboxes=[allowed])
    mine = f.make_conversation(allowed, content="My parcel is late")
    hidden = f.make_conversation(forbidden, content="Secret parcel talk")
    foreign_ws = f.make_workspace()
    foreign_inbox = f.make_inbox(foreign_ws)
    foreign_user = f.make_user(foreign_ws, role="admin", inboxes=[foreign_inbox])
    for _ in range(5):  # push its display ids past ours
        foreign_conv = f.make_conversation(foreign_inbox, content="Foreign parcel")
    admin_actor = member_actor(admin, home)
    mcp_settings.set_enabled(admin_actor, True)
    token = tokens.mint(admin_actor, "Restricted", list(SCOPES), inbox_ids=[allowed.id])
    bot_contact = contacts.create_contact(
        f.bot_actor(home, inbox_ids=[allowed.id], token_id=token.token.id),
        email="made-by-bot@example.test",
    )
    del bot_contact
    return {
        "token": token.plaintext,
        "valid": {
            "conversation": mine.display_id,
            "inbox": allowed.id,
            "contact": mine.contact_id,
            "user": colleague.id,
        },
        "foreign": {
            "conversation": foreign_conv.display_id,
            "inbox": foreign_inbox.id,
            "contact": foreign_conv.contact_id,
            "user": foreign_user.id,
        },
        "forbidden": {
            "conversation": hidden.display_id,
            "inbox": forbidden.id,
            "contact": hidden.contact_id,
        },
    }


def call(client, token, name, arguments):
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments},
    }
    res = client.post(
        "/api/mcp",
        data=json.dumps(body),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert res.status_code == 200, res.get_data(as_text=True)
    return res.get_json()["result"]


def row_counts() -> dict:
    db.session.expire_all()
    return {
        table.name: db.session.scalar(select(func.count()).select_from(table))
        for table in Base.metadata.sorted_tables
        if table.name not in ("audit_entries", "mcp_tokens")
    }


CASES = [
    (spec.name, argument, kind, reach)
    for spec in ID_TOOLS
    for argument, kind in spec.id_args.items()
    for reach in ("foreign", "forbidden")
    if not (reach == "forbidden" and kind == "user")  # a teammate is not inside an inbox
]


@pytest.mark.parametrize(("tool", "argument", "kind", "reach"), CASES)
def test_out_of_reach_ids_are_not_found(client, world, tool, argument, kind, reach):
    arguments = base_arguments(tool, world["valid"])
    assert not call(client, world["token"], tool, dict(arguments))["isError"], (
        "the base case must succeed, or this test proves nothing"
    )
    if "idempotency_key" in arguments:
        arguments["idempotency_key"] = str(uuid.uuid4())
    arguments[argument] = world[reach][kind]
    before = row_counts()
    result = call(client, world["token"], tool, arguments)
    assert tool_error(result)["code"] == "not_found"
    assert row_counts() == before
    entry = db.session.execute(
        select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)
    ).scalar_one()
    assert (entry.action, entry.outcome) == (tool, "denied")
