"""Contacts through the MCP tools: what an inbox-restricted token learns about contacts it
cannot see (README, "Contacts outside a restricted token's inboxes"), and phone numbers.

- create_contact / update_contact colliding with another contact's email or identifier get
  one `conflict`, identical whether the token can see that contact or not;
- start_conversation with an existing customer's email or identifier attaches that contact
  and opens the conversation in the token's inbox, after which the contact is in reach;
- get_contact on a contact out of reach stays "not found".
"""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import func, select

from deskwoot.extensions import db
from deskwoot.models import Contact, Conversation
from deskwoot.policy import SCOPES, member_actor
from deskwoot.services.access import mcp_switch as mcp_settings
from deskwoot.services.access import tokens
from tests import factories as f


@pytest.fixture
def world(app):
    ws = f.make_workspace()
    admin = member_actor(f.make_user(ws, role="admin"), ws)
    allowed = f.make_inbox(ws, name="Allowed")
    forbidden = f.make_inbox(ws, name="Forbidden")
    seen = f.make_contact(ws, name="Seen Sparrow", email="seen@example.test", identifier="seen-1")
    f.make_conversation(allowed, seen, content="Hello from the allowed inbox")
    hidden = f.make_contact(
        ws, name="Hidden Heron", email="hidden@example.test", identifier="hidden-1"
    )
    f.make_conversation(forbidden, hidden, content="Hello from the forbidden inbox")
    mcp_settings.set_enabled(admin, True)
    restricted = tokens.mint(admin, "Restricted", list(SCOPES), inbox_ids=[allowed.id])
    unrestricted = tokens.mint(admin, "Everywhere", list(SCOPES))
    return {
        "ws": ws,
        "allowed": allowed.id,
        "forbidden": forbidden.id,
        "seen": seen.id,
        "hidden": hidden.id,
        "restricted": restricted.plaintext,
        "unrestricted": unrestricted.plaintext,
    }


def call(client, token: str, name: str, arguments: dict) -> dict:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments},
    }
    response = client.post(
        "/api/mcp",
        data=json.dumps(body),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["result"]


def ok(client, token: str, name: str, arguments: dict) -> dict:
    result = call(client, token, name, arguments)
    assert not result["isError"], result["content"][0]["text"]
    return result["structuredContent"]


def error(client, token: str, name: str, arguments: dict) -> dict:
    """A business error, read from the text block (the same JSON with or without
    structuredContent)."""
    result = call(client, token, name, arguments)
    assert result["isError"] is True, result
    return json.loads(result["content"][0]["text"])["error"]


def contacts() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(Contact))


def own_contact(client, token: str, email: str) -> int:
    """A contact the token created itself (so in its reach), to update."""
    return ok(client, token, "create_contact", {"email": email})["contact"]["id"]


# --- collisions on create and update ---------------------------------------------------------


@pytest.mark.parametrize("token", ["restricted", "unrestricted"])
@pytest.mark.parametrize("field", ["email", "identifier"])
def test_create_contact_collisions_answer_the_same_for_visible_and_hidden(
    client, world, token, field
):
    """Was: "A contact with that email already exists." for a contact the token could not
    otherwise find (get_contact: not found)."""
    values = {
        "email": ("seen@example.test", "hidden@example.test"),
        "identifier": ("seen-1", "hidden-1"),
    }[field]
    before = contacts()
    visible, hidden = (
        error(client, world[token], "create_contact", {"name": "Copy", field: value})
        for value in values
    )
    assert visible == hidden
    assert visible["code"] == "conflict"
    assert visible["message"] == (
        f"That {field} cannot be used for this contact: each email and identifier can belong "
        "to only one contact in the workspace."
    )
    assert "exists" not in visible["message"]
    assert contacts() == before


@pytest.mark.parametrize("token", ["restricted", "unrestricted"])
def test_update_contact_collisions_answer_the_same_for_visible_and_hidden(client, world, token):
    mine = own_contact(client, world[token], f"{token}-bot-made@example.test")
    visible, hidden = (
        error(client, world[token], "update_contact", {"contact_id": mine, "email": email})
        for email in ("seen@example.test", "hidden@example.test")
    )
    assert visible == hidden and visible["code"] == "conflict"
    assert "exists" not in visible["message"]
    db.session.expire_all()
    assert db.session.get(Contact, mine).email == f"{token}-bot-made@example.test"


def test_a_hidden_contact_stays_not_found(client, world):
    assert error(client, world["restricted"], "get_contact", {"contact_id": world["hidden"]})[
        "code"
    ] == ("not_found")
    found = ok(client, world["unrestricted"], "get_contact", {"contact_id": world["hidden"]})
    assert found["contact"]["id"] == world["hidden"]


# --- start_conversation reaches the existing customer ----------------------------------------


def start(client, token: str, inbox_id: int, contact: dict):
    return call(
        client,
        token,
        "start_conversation",
        {
            "inbox_id": inbox_id,
            "contact": contact,
            "body": "Following up on your message",
            "idempotency_key": str(uuid.uuid4()),
        },
    )


@pytest.mark.parametrize("field", ["email", "identifier"])
def test_start_conversation_attaches_a_hidden_customer_in_the_tokens_inbox(client, world, field):
    """Was: a conflict ("already exists") while the token could not see the contact."""
    value = {"email": "hidden@example.test", "identifier": "hidden-1"}[field]
    before = contacts()
    result = start(client, world["restricted"], world["allowed"], {field: value, "name": "X"})
    assert not result["isError"], result["content"][0]["text"]
    started = result["structuredContent"]["conversation"]
    assert contacts() == before, "a duplicate contact was created"
    conversation = db.session.execute(
        select(Conversation).where(Conversation.display_id == started["display_id"])
    ).scalar_one()
    assert (conversation.contact_id, conversation.inbox_id) == (world["hidden"], world["allowed"])
    # The customer now has a conversation in the token's inbox, so the token sees them.
    profile = ok(client, world["restricted"], "get_contact", {"contact_id": world["hidden"]})
    assert profile["contact"]["name"] == "Hidden Heron"  # attached as is, not renamed
    assert [c["display_id"] for c in profile["conversations"]] == [started["display_id"]]


@pytest.mark.parametrize("token", ["restricted", "unrestricted"])
def test_start_conversation_with_a_visible_customer_attaches_them(client, world, token):
    before = contacts()
    result = start(client, world[token], world["allowed"], {"email": "seen@example.test"})
    assert not result["isError"], result["content"][0]["text"]
    display_id = result["structuredContent"]["conversation"]["display_id"]
    conversation = db.session.execute(
        select(Conversation).where(Conversation.display_id == display_id)
    ).scalar_one()
    assert conversation.contact_id == world["seen"] and contacts() == before


def test_start_conversation_outside_the_tokens_inboxes_reveals_nothing(client, world):
    """The inbox is checked first: the same "not found" for a known and an unknown email."""
    before = contacts()
    known, unknown = (
        error(
            client,
            world["restricted"],
            "start_conversation",
            {
                "inbox_id": world["forbidden"],
                "contact": {"email": email},
                "body": "Hi",
                "idempotency_key": str(uuid.uuid4()),
            },
        )
        for email in ("hidden@example.test", "nobody@example.test")
    )
    assert known == unknown and known["code"] == "not_found"
    assert contacts() == before


def test_start_conversation_with_a_new_email_creates_the_contact(client, world):
    before = contacts()
    result = start(client, world["restricted"], world["allowed"], {"email": "new@example.test"})
    assert not result["isError"], result["content"][0]["text"]
    assert contacts() == before + 1


# --- phone numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "phone",
    [
        "١٢٣٤٥٦٧",  # Arabic-Indic digits: str.isdigit() says yes
        "１２３ ４５６７",  # fullwidth digits
        "+1 555 ٠١٠٠",  # ASCII with a few foreign digits mixed in
        "۱۲۳۴",  # Extended Arabic-Indic (Persian)
        "१२३४",  # Devanagari
        "555\u00a00100",  # a no-break space is not a space here
        "555_0100",
    ],
)
def test_phone_numbers_take_ascii_digits_only(client, world, phone):
    before = contacts()
    problem = error(client, world["unrestricted"], "create_contact", {"name": "P", "phone": phone})
    assert problem["code"] == "invalid" and "0-9" in problem["message"]
    assert contacts() == before
    mine = own_contact(client, world["unrestricted"], "phone-owner@example.test")
    problem = error(
        client, world["unrestricted"], "update_contact", {"contact_id": mine, "phone": phone}
    )
    assert problem["code"] == "invalid"


@pytest.mark.parametrize("phone", ["+1 (555) 010-0100", "555.0100", "0049 30 1234567"])
def test_usual_phone_numbers_are_accepted(client, world, phone):
    made = ok(client, world["unrestricted"], "create_contact", {"name": "P", "phone": phone})
    assert made["contact"]["phone"] == phone
