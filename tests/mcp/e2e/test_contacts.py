"""The contact tools end to end: create (idempotent), update, note, get and search."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from deskwoot.extensions import db
from deskwoot.models import Contact, ContactNote
from deskwoot.services.directory import contacts as contact_service
from tests import factories as f
from tests.mcp.conftest import MODES, connect, make_desk
from tests.mcp.helpers import audit_outcomes, count, fails, fresh, ok, run, token_row, walk

pytestmark = pytest.mark.parametrize("mode", MODES)


def test_contact_tools(live, mode):
    desk = make_desk()
    existing = f.make_contact(desk.workspace, name="Zelda Zebra", email="zelda@example.test")
    conv = f.make_conversation(desk.inbox, contact=existing)
    contact_service.add_note(desk.admin_actor, existing.id, "Prefers email")
    for n in range(3):
        f.make_contact(desk.workspace, name=f"Pelican {n}")
    token = desk.mint()

    async def main():
        async with connect(live.url, token, mode) as client:
            created = await ok(
                client,
                "create_contact",
                {
                    "name": "Marta Moose",
                    "email": "Marta@Example.test",
                    "phone": "+1 555 0100",
                    "identifier": "cust-42",
                    "custom_attributes": {"plan": "pro", "seats": 3},
                    "idempotency_key": "contact-1",
                },
            )
            replay = await ok(
                client,
                "create_contact",
                {
                    "name": "Marta Moose",
                    "email": "Marta@Example.test",
                    "phone": "+1 555 0100",
                    "identifier": "cust-42",
                    "custom_attributes": {"plan": "pro", "seats": 3},
                    "idempotency_key": "contact-1",
                },
            )
            duplicate = await fails(client, "create_contact", {"email": "zelda@example.test"})
            empty = await fails(client, "create_contact", {"custom_attributes": {"a": 1}})
            cid = created["contact"]["id"]
            updated = await ok(
                client,
                "update_contact",
                {
                    "contact_id": cid,
                    "name": "Marta M.",
                    "custom_attributes": {"seats": None, "tier": "gold"},
                },
            )
            noted = await ok(
                client,
                "add_contact_note",
                {"contact_id": existing.id, "body": "Called about a refund"},
            )
            profile = await ok(client, "get_contact", {"contact_id": existing.id})
            found = await ok(client, "search_contacts", {"query": "zelda"})
            by_identifier = await ok(client, "search_contacts", {"query": "cust-42"})
            pelicans = await walk(
                client, "search_contacts", {"query": "pelican", "limit": 2}, "contacts"
            )
            missing = await fails(client, "get_contact", {"contact_id": 999999})
        return (
            created,
            replay,
            duplicate,
            empty,
            updated,
            noted,
            profile,
            found,
            by_identifier,
            pelicans,
            missing,
        )

    (
        created,
        replay,
        duplicate,
        empty,
        updated,
        noted,
        profile,
        found,
        by_identifier,
        pelicans,
        missing,
    ) = run(main)
    assert replay == created
    contact = created["contact"]
    assert contact["email"] == "marta@example.test"
    assert contact["custom_attributes"] == {"plan": "pro", "seats": 3}
    assert duplicate["code"] == "conflict"
    assert empty["code"] == "invalid"
    assert updated["contact"]["name"] == "Marta M."
    assert updated["contact"]["custom_attributes"] == {"plan": "pro", "tier": "gold"}
    assert noted["note"]["body"] == "Called about a refund"
    assert profile["contact"]["email"] == "zelda@example.test"
    assert sorted(n["body"] for n in profile["notes"]) == ["Called about a refund", "Prefers email"]
    assert [c["display_id"] for c in profile["conversations"]] == [conv.display_id]
    assert [c["id"] for c in found["contacts"]] == [existing.id]
    assert [c["id"] for c in by_identifier["contacts"]] == [contact["id"]]
    names = [c["name"] for c in pelicans]
    assert sorted(names) == ["Pelican 0", "Pelican 1", "Pelican 2"]
    assert missing["code"] == "not_found"
    fresh()
    token_id = token_row(desk.workspace.id, token).id
    row = db.session.get(Contact, contact["id"])
    assert (row.name, row.phone, row.identifier, row.created_via) == (
        "Marta M.",
        "+1 555 0100",
        "cust-42",
        "mcp",
    )
    assert row.custom_attributes == {"plan": "pro", "tier": "gold"}
    assert (
        count(
            Contact,
            Contact.workspace_id == desk.workspace.id,
            Contact.email == "marta@example.test",
        )
        == 1
    )
    note = db.session.execute(
        select(ContactNote).where(
            ContactNote.contact_id == existing.id, ContactNote.token_id == token_id
        )
    ).scalar_one()
    assert note.body == "Called about a refund"
    assert audit_outcomes(desk.workspace.id, "create_contact", token_id) == [
        "ok",
        "replayed",
        "error",
        "error",
    ]
    assert audit_outcomes(desk.workspace.id, "get_contact", token_id) == ["ok", "denied"]
