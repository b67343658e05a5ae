"""Every REST operation through the Flask test client: status, body shape (the tool's
outputSchema), and the headers that come with it (Location, Link, ETag, Idempotent-Replayed,
RateLimit)."""

from __future__ import annotations

import uuid

import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import func, select

from deskwoot.extensions import db
from deskwoot.mcp import registry
from deskwoot.models import AuditEntry, Contact, Draft, Message
from deskwoot.rest.routes import ROUTES
from tests.rest.conftest import problem

OPERATIONS = {route.operation_id: route for route in ROUTES}


def conforms(response, operation_id: str) -> dict:
    route = OPERATIONS[operation_id]
    assert response.status_code == route.status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    Draft202012Validator(registry.get(route.tool).output_schema).validate(body)
    return body


def key() -> dict:
    return {"Idempotency-Key": str(uuid.uuid4())}


def test_me_inboxes_labels_agents(api, desk):
    me = conforms(api.get("/me"), "getMe")
    assert me["token"]["name"] == "Integration"
    assert me["workspace"]["id"] == desk.workspace.id
    inboxes = conforms(api.get("/inboxes"), "listInboxes")["inboxes"]
    assert {i["name"] for i in inboxes} == {"Support", "Billing"}
    labels = conforms(api.get("/labels"), "listLabels")["labels"]
    assert [label["name"] for label in labels] == ["billing"]
    agents = conforms(api.get("/agents"), "listAgents")["agents"]
    assert {a["name"] for a in agents} >= {"Ada Admin", "Sam Agent"}


def test_list_search_and_get_conversation(api, desk):
    listed = conforms(api.get("/conversations?status=all&limit=10"), "listConversations")
    assert {c["display_id"] for c in listed["conversations"]} == {
        desk.conversation.display_id,
        desk.hidden.display_id,
    }
    assert listed["has_more"] is False and listed["next_cursor"] is None
    found = conforms(api.get("/conversations/search?query=parcel"), "searchConversations")
    assert [c["display_id"] for c in found["conversations"]] == [desk.conversation.display_id]
    one = conforms(api.get(f"/conversations/{desk.conversation.display_id}"), "getConversation")
    assert one["conversation"]["display_id"] == desk.conversation.display_id
    assert one["messages"][0]["body"] == "My parcel is late"
    assert one["messages"][0]["author_role"] == "customer"


def test_filters_from_the_query_string(api, desk):
    inbox_only = api.get(f"/conversations?status=all&inbox_id={desk.inbox.id}").get_json()
    assert [c["display_id"] for c in inbox_only["conversations"]] == [desk.conversation.display_id]
    unassigned = api.get("/conversations?assignee=unassigned").get_json()
    assert len(unassigned["conversations"]) == 2
    assert api.get(f"/conversations?assignee={desk.agent.id}").get_json()["conversations"] == []


def test_reply_note_and_draft(api, desk):
    cid = desk.conversation.display_id
    reply = conforms(
        api.post(f"/conversations/{cid}/messages", {"body": "On its way"}, headers=key()),
        "replyToConversation",
    )
    assert reply["message"]["kind"] == "outgoing"
    assert reply["message"]["token_name"] == "Integration"
    note = conforms(api.post(f"/conversations/{cid}/notes", {"body": "VIP"}), "addPrivateNote")
    assert note["message"]["private"] is True
    draft = conforms(
        api.post(f"/conversations/{cid}/drafts", {"body": "Proposed", "note_to_reviewer": "ok?"}),
        "createDraftReply",
    )
    assert draft["draft"]["status"] == "pending"
    drafts = conforms(api.get("/drafts?status=pending"), "listDrafts")
    assert [d["id"] for d in drafts["drafts"]] == [draft["draft"]["id"]]


def test_update_assign_escalate(api, desk):
    cid = desk.conversation.display_id
    updated = conforms(
        api.patch(
            f"/conversations/{cid}",
            {"status": "pending", "priority": "high", "add_labels": ["billing"]},
        ),
        "updateConversation",
    )["conversation"]
    assert (updated["status"], updated["priority"], updated["labels"]) == (
        "pending",
        "high",
        ["billing"],
    )
    assigned = conforms(
        api.put(f"/conversations/{cid}/assignee", {"assignee_id": desk.agent.id}),
        "assignConversation",
    )
    assert assigned["conversation"]["assignee"]["id"] == desk.agent.id
    unassigned = api.put(f"/conversations/{cid}/assignee", {"assignee_id": None}).get_json()
    assert unassigned["conversation"]["assignee"] is None
    escalated = conforms(
        api.post(f"/conversations/{cid}/escalation", {"reason": "Angry"}), "escalateToHuman"
    )
    assert escalated["conversation"]["handoff"] is True
    # A human has it now: a reply is refused with the handoff problem, nothing sent.
    before = db.session.scalar(select(func.count()).select_from(Message))
    refused = api.post(f"/conversations/{cid}/messages", {"body": "Hi"}, headers=key())
    problem(refused, 409, "handoff")
    assert db.session.scalar(select(func.count()).select_from(Message)) == before


def test_start_conversation_has_location(api, desk):
    response = api.post(
        "/conversations",
        {"inbox_id": desk.inbox.id, "contact": {"email": "new@example.com"}, "body": "Hello"},
        headers=key(),
    )
    body = conforms(response, "startConversation")
    display_id = body["conversation"]["display_id"]
    assert response.headers["Location"] == f"/api/v1/conversations/{display_id}"
    assert api.get(response.headers["Location"].removeprefix("/api/v1")).status_code == 200


def test_contacts(api, desk):
    created = api.post("/contacts", {"name": "Grace", "email": "grace@example.com"})
    contact = conforms(created, "createContact")["contact"]
    assert created.headers["Location"] == f"/api/v1/contacts/{contact['id']}"
    found = conforms(api.get("/contacts/search?query=grace"), "searchContacts")
    assert [c["id"] for c in found["contacts"]] == [contact["id"]]
    got = conforms(api.get(f"/contacts/{contact['id']}"), "getContact")
    assert got["contact"]["email"] == "grace@example.com"
    updated = conforms(
        api.patch(f"/contacts/{contact['id']}", {"custom_attributes": {"tier": "gold"}}),
        "updateContact",
    )
    assert updated["contact"]["custom_attributes"] == {"tier": "gold"}
    note = conforms(
        api.post(f"/contacts/{contact['id']}/notes", {"body": "Nice"}), "addContactNote"
    )
    assert note["note"]["body"] == "Nice"


def test_events_types_repeated_or_comma_separated(api, desk):
    api.post(f"/conversations/{desk.conversation.display_id}/notes", {"body": "n"})
    both = "types=message.created&types=conversation.created"
    repeated = conforms(api.get(f"/events?{both}"), "pollEvents")
    commas = api.get("/events?types=message.created,conversation.created").get_json()
    assert [e["id"] for e in repeated["events"]] == [e["id"] for e in commas["events"]]
    assert {e["type"] for e in repeated["events"]} == {"message.created", "conversation.created"}
    assert any(e["actor"]["is_self"] for e in repeated["events"])
    # The feed always hands back where to continue.
    assert 'rel="next"' in api.get("/events").headers["Link"]


def test_link_header_pages_with_the_same_filters(api, desk):
    for n in range(3):
        api.post("/contacts", {"name": f"Parcel fan {n}"})
    first = api.get("/contacts/search?query=parcel&limit=2")
    assert first.get_json()["has_more"] is True
    link = first.headers["Link"]
    assert link.startswith("</api/v1/contacts/search?query=parcel&limit=2&cursor=")
    assert link.endswith('>; rel="next"')
    second = api.get(link[1 : link.index(">")].removeprefix("/api/v1"))
    assert second.status_code == 200
    assert second.get_json()["has_more"] is False
    assert "Link" not in second.headers
    names = [c["name"] for c in first.get_json()["contacts"] + second.get_json()["contacts"]]
    assert sorted(names) == [f"Parcel fan {n}" for n in range(3)]


def test_messages_page_links_with_messages_cursor(api, desk):
    cid = desk.conversation.display_id
    for n in range(3):
        api.post(f"/conversations/{cid}/notes", {"body": f"note {n}"})
    page = api.get(f"/conversations/{cid}?messages_limit=2")
    assert page.get_json()["messages_has_more"] is True
    assert "messages_cursor=" in page.headers["Link"]


@pytest.mark.parametrize("path", ["/me", "/conversations/{cid}", "/contacts/{contact}"])
def test_etag_and_not_modified(api, desk, path):
    path = path.format(cid=desk.conversation.display_id, contact=desk.conversation.contact_id)
    first = api.get(path)
    tag = first.headers["ETag"]
    assert tag.startswith('"') and tag.endswith('"')
    again = api.get(path, headers={"If-None-Match": tag})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == tag
    assert api.get(path, headers={"If-None-Match": '"other"'}).status_code == 200


def test_etag_changes_with_the_resource(api, desk):
    cid = desk.conversation.display_id
    tag = api.get(f"/conversations/{cid}").headers["ETag"]
    api.patch(f"/conversations/{cid}", {"priority": "urgent"})
    changed = api.get(f"/conversations/{cid}", headers={"If-None-Match": tag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != tag


def test_rate_limit_headers_on_every_admitted_response(api, desk):
    ok = api.get("/me")
    assert ok.headers["RateLimit-Policy"] == '"default";q=600;w=60'
    assert ok.headers["RateLimit"].startswith('"default";r=')
    refused = api.get("/conversations/999999")
    assert refused.status_code == 404
    assert "RateLimit" in refused.headers


def test_calls_are_audited_like_mcp(api, desk):
    api.get(f"/conversations/{desk.conversation.display_id}")
    api.get("/conversations/999999")
    rows = db.session.execute(
        select(AuditEntry.action, AuditEntry.outcome, AuditEntry.actor_name, AuditEntry.target)
        .where(AuditEntry.action == "get_conversation")
        .order_by(AuditEntry.id)
    ).all()
    assert [(r.outcome, r.actor_name) for r in rows] == [
        ("ok", "Integration"),
        ("denied", "Integration"),
    ]
    assert rows[0].target == f"conversation {desk.conversation.display_id}"


class TestIdempotency:
    def test_replay_returns_the_stored_response(self, api, desk):
        cid = desk.conversation.display_id
        headers = key()
        first = api.post(f"/conversations/{cid}/messages", {"body": "Once"}, headers=headers)
        second = api.post(f"/conversations/{cid}/messages", {"body": "Once"}, headers=headers)
        assert first.status_code == second.status_code == 201
        assert "Idempotent-Replayed" not in first.headers
        assert second.headers["Idempotent-Replayed"] == "true"
        assert first.get_json() == second.get_json()
        assert (
            db.session.scalar(
                select(func.count()).select_from(Message).where(Message.body == "Once")
            )
            == 1
        )

    def test_same_key_other_request_is_422(self, api, desk):
        cid = desk.conversation.display_id
        headers = key()
        api.post(f"/conversations/{cid}/messages", {"body": "One"}, headers=headers)
        refused = api.post(f"/conversations/{cid}/messages", {"body": "Two"}, headers=headers)
        problem(refused, 422, "idempotency_mismatch")
        assert (
            db.session.scalar(
                select(func.count()).select_from(Message).where(Message.body == "Two")
            )
            == 0
        )

    @pytest.mark.parametrize(
        ("path", "body"),
        [("/conversations/{cid}/messages", {"body": "x"}), ("/conversations", {"body": "x"})],
    )
    def test_required_where_a_customer_receives_it(self, api, desk, path, body):
        if path == "/conversations":
            body = {**body, "inbox_id": desk.inbox.id, "contact": {"email": "a@example.com"}}
        response = api.post(path.format(cid=desk.conversation.display_id), body)
        assert "Idempotency-Key" in problem(response, 400, "idempotency_key_required")["detail"]

    def test_optional_on_other_creates(self, api, desk):
        headers = key()
        first = api.post("/contacts", {"name": "Once"}, headers=headers)
        again = api.post("/contacts", {"name": "Once"}, headers=headers)
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.headers["Location"] == first.headers["Location"]
        assert (
            db.session.scalar(
                select(func.count()).select_from(Contact).where(Contact.name == "Once")
            )
            == 1
        )
        api.post("/contacts", {"name": "Twice"})
        api.post("/contacts", {"name": "Twice"})
        assert (
            db.session.scalar(
                select(func.count()).select_from(Contact).where(Contact.name == "Twice")
            )
            == 2
        )

    def test_refused_where_the_operation_takes_none(self, api, desk):
        cid = desk.conversation.display_id
        response = api.patch(f"/conversations/{cid}", {"priority": "low"}, headers=key())
        problem(response, 422, "idempotency_key_unsupported")

    def test_bad_key_names_the_header(self, api, desk):
        cid = desk.conversation.display_id
        response = api.post(
            f"/conversations/{cid}/drafts", {"body": "x"}, headers={"Idempotency-Key": "é" * 3}
        )
        body = problem(response, 422, "invalid_arguments")
        assert body["field"] == "Idempotency-Key"
        assert body["errors"][0]["in"] == "header"
        assert db.session.scalar(select(func.count()).select_from(Draft)) == 0
