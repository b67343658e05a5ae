"""The isolation matrix for /api/v1, generated from the route table (ARCHITECTURE §2, §14).

For every operation and every argument that names an object (in the path, the query or the
body), a foreign workspace's id and an id from an inbox the token may not use must answer
404, change no rows, and leave a `denied` audit entry for the operation's tool. A new route
with an id and no base case here fails the suite.
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from deskwoot.extensions import db
from deskwoot.models import AuditEntry, Base
from deskwoot.policy import SCOPES, member_actor
from deskwoot.rest.binding import compile_route
from deskwoot.rest.routes import ROUTES
from deskwoot.services.access import tokens
from deskwoot.services.directory import contacts
from tests import factories as f
from tests.rest.conftest import Api, problem

ID_ROUTES = [route for route in ROUTES if compile_route(route).spec.id_args]


def base_request(operation_id: str, world: dict) -> tuple[dict, dict]:
    """Arguments (by name, wherever they travel) that succeed for the token, and headers."""
    key = {"Idempotency-Key": str(uuid.uuid4())}
    conv = {"conversation_id": world["conversation"]}
    contact = {"contact_id": world["contact"]}
    return {
        "listConversations": ({}, {}),
        "searchConversations": ({"query": "parcel"}, {}),
        "getConversation": (conv, {}),
        "updateConversation": ({**conv, "priority": "high"}, {}),
        "replyToConversation": ({**conv, "body": "Hi"}, key),
        "addPrivateNote": ({**conv, "body": "note"}, {}),
        "assignConversation": ({**conv, "assignee_id": None}, {}),
        "escalateToHuman": ({**conv, "reason": "angry customer"}, {}),
        "startConversation": (
            {"inbox_id": world["inbox"], "contact_id": world["contact"], "body": "Hello"},
            key,
        ),
        "createDraftReply": ({**conv, "body": "draft"}, {}),
        "listDrafts": ({}, {}),
        "getContact": (contact, {}),
        "updateContact": ({**contact, "name": "Renamed"}, {}),
        "addContactNote": ({**contact, "body": "note"}, {}),
    }[operation_id]


def send(api: Api, route, arguments: dict, headers: dict):
    compiled = compile_route(route)
    path = route.path
    for name in compiled.path:
        path = path.replace("{" + name + "}", str(arguments[name]))
    rest = {k: v for k, v in arguments.items() if k not in compiled.path}
    if route.takes_body:
        return api.request(route.method, path, rest, headers=headers)
    query = "&".join(f"{k}={v}" for k, v in rest.items())
    return api.get(path + (f"?{query}" if query else ""), headers=headers)


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
    token = tokens.mint(admin_actor, "Restricted", list(SCOPES), [allowed.id], kind="api")
    contacts.create_contact(
        f.bot_actor(home, inbox_ids=[allowed.id], token_id=token.token.id),
        email="made-by-bot@example.test",
    )
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


def row_counts() -> dict:
    db.session.expire_all()
    return {
        table.name: db.session.scalar(select(func.count()).select_from(table))
        for table in Base.metadata.sorted_tables
        if table.name not in ("audit_entries", "mcp_tokens")
    }


CASES = [
    (route.operation_id, argument, kind, reach)
    for route in ID_ROUTES
    for argument, kind in compile_route(route).spec.id_args.items()
    for reach in ("foreign", "forbidden")
    if not (reach == "forbidden" and kind == "user")  # a teammate is not inside an inbox
]
ROUTE_OF = {route.operation_id: route for route in ROUTES}


def test_every_route_with_an_id_is_in_the_matrix():
    assert {case[0] for case in CASES} == {route.operation_id for route in ID_ROUTES}
    assert len(ID_ROUTES) == 14


@pytest.mark.parametrize(("operation", "argument", "kind", "reach"), CASES)
def test_out_of_reach_ids_are_not_found(client, world, operation, argument, kind, reach):
    route = ROUTE_OF[operation]
    api = Api(client, world["token"])
    arguments, headers = base_request(operation, world["valid"])
    ok = send(api, route, dict(arguments), headers)
    assert ok.status_code == route.status, "the base case must succeed: " + ok.get_data(
        as_text=True
    )
    if headers:
        headers = {"Idempotency-Key": str(uuid.uuid4())}
    arguments[argument] = world[reach][kind]
    before = row_counts()
    problem(send(api, route, arguments, headers), 404, "not_found")
    assert row_counts() == before
    entry = db.session.execute(
        select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)
    ).scalar_one()
    assert (entry.action, entry.outcome) == (route.tool, "denied")
