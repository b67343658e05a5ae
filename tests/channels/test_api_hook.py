"""The inbound hook: customers' messages arrive here; bad input gets a JSON error."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from deskwoot.extensions import db
from deskwoot.models import Conversation, Message
from tests import factories as f

SECRET = "dw_in_test-secret-value"


@pytest.fixture
def inbox(app):
    ws = f.make_workspace()
    return f.make_inbox(ws, secret=SECRET)


def post(client, inbox, payload=None, *, secret=SECRET, raw=None, headers=None):
    hdrs = {"Content-Type": "application/json"}
    if secret is not None:
        hdrs["Authorization"] = f"Bearer {secret}"
    hdrs.update(headers or {})
    data = raw if raw is not None else json.dumps(payload)
    return client.post(f"/hooks/inbound/{inbox.uid}", data=data, headers=hdrs)


def message_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Message))


def test_message_creates_conversation(client, inbox):
    res = post(
        client,
        inbox,
        {
            "contact": {"email": "jane@example.com", "name": "Jane"},
            "content": "Hi there",
            "subject": "Help",
        },
    )
    assert res.status_code == 201
    body = res.get_json()
    assert body["conversation_id"] == 1 and body["duplicate"] is False
    conv = db.session.execute(select(Conversation)).scalar_one()
    assert conv.subject == "Help" and conv.contact.name == "Jane"


def test_duplicate_source_id_returns_existing_message(client, inbox):
    payload = {"contact": {"email": "j@example.com"}, "content": "Hi", "source_id": "abc"}
    first = post(client, inbox, payload)
    second = post(client, inbox, payload)
    assert second.status_code == 200
    assert second.get_json()["message_id"] == first.get_json()["message_id"]
    assert second.get_json()["duplicate"] is True
    assert message_count() == 1


@pytest.mark.parametrize("secret", [None, "wrong", "", SECRET + "x"])
def test_wrong_or_missing_secret_is_401(client, inbox, secret):
    res = post(
        client, inbox, {"contact": {"email": "j@example.com"}, "content": "Hi"}, secret=secret
    )
    assert res.status_code == 401
    assert res.get_json()["error"]["code"] == "unauthorized"
    assert "Bearer" in res.headers["WWW-Authenticate"]
    assert message_count() == 0


def test_unknown_inbox_is_404(client, app):
    res = client.post(
        "/hooks/inbound/nope", json={"content": "x"}, headers={"Authorization": f"Bearer {SECRET}"}
    )
    assert res.status_code == 404 and res.is_json


@pytest.mark.parametrize(
    "raw",
    [
        "{not json",
        "[]",
        '"just a string"',
        json.dumps({"contact": {"email": "j@example.com"}}),  # no content
        json.dumps({"contact": {"email": "j@example.com"}, "content": "   "}),
        json.dumps({"contact": {"email": "j@example.com"}, "content": 5}),
        json.dumps({"contact": {"email": "not-an-email"}, "content": "x"}),
        json.dumps({"contact": {}, "content": "x"}),
        json.dumps({"contact": "jane", "content": "x"}),
        json.dumps({"contact": {"email": "j@example.com"}, "content": "x", "extra": 1}),
        json.dumps({"contact": {"email": "j@example.com"}, "content": "x", "conversation_id": "1"}),
        '{"contact": {"email": "j@example.com"}, "content": NaN}',
        '{"contact": {"email": "j@example.com"}, "content": "\\ud800"}',
        '{"contact": {"email": "j@example.com"}, "content": "a\\u0000b"}',
        '{"contact": {"email": "j@example.com"}, "content": "x", "subject": '
        + "[" * 40
        + "]" * 40
        + "}",
        b"\xff\xfe not utf-8",
    ],
)
def test_malformed_bodies_are_400_json_and_write_nothing(client, inbox, raw):
    res = post(client, inbox, raw=raw)
    assert res.status_code == 400, res.get_data(as_text=True)
    assert res.get_json()["error"]["code"] == "invalid"
    assert message_count() == 0


def test_unknown_conversation_id_is_404(client, inbox):
    res = post(
        client,
        inbox,
        {"contact": {"email": "j@example.com"}, "content": "x", "conversation_id": 99},
    )
    assert res.status_code == 404 and message_count() == 0


def test_oversized_body_is_413_json(client, inbox):
    big = json.dumps({"contact": {"email": "j@example.com"}, "content": "x" * (1024 * 1024)})
    res = post(client, inbox, raw=big)
    assert res.status_code == 413 and res.is_json
    assert message_count() == 0


def test_get_is_405_json(client, inbox):
    res = client.get(f"/hooks/inbound/{inbox.uid}")
    assert res.status_code == 405 and "POST" in res.headers["Allow"] and res.is_json


def test_hook_needs_no_csrf_token(csrf_app):
    ws = f.make_workspace()
    inbox = f.make_inbox(ws, secret=SECRET)
    res = post(
        csrf_app.test_client(), inbox, {"contact": {"email": "j@example.com"}, "content": "Hi"}
    )
    assert res.status_code == 201
