"""Fixtures for the REST API tests: a workspace with two inboxes, a conversation, a contact, a
label and a teammate, API tokens minted through the service, and a client that speaks
JSON with a bearer token."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from deskwoot.extensions import db
from deskwoot.policy import SCOPES, member_actor
from deskwoot.services.access import tokens
from tests import factories as f

PREFIX = "/api/v1"


@dataclass
class Desk:
    workspace: object
    admin: object
    agent: object
    inbox: object
    other_inbox: object
    conversation: object  # in `inbox`
    hidden: object  # in `other_inbox`

    @property
    def admin_actor(self):
        return member_actor(self.admin, self.workspace)

    def token(self, scopes=SCOPES, inbox_ids=None, name="Integration", kind="api") -> str:
        minted = tokens.mint(self.admin_actor, name, list(scopes), inbox_ids=inbox_ids, kind=kind)
        return minted.plaintext


def make_desk(plan: str = "trial") -> Desk:
    ws = f.make_workspace(plan=plan)
    admin = f.make_user(ws, role="admin", name="Ada Admin")
    inbox = f.make_inbox(ws, name="Support")
    other = f.make_inbox(ws, name="Billing")
    agent = f.make_user(ws, inboxes=[inbox], name="Sam Agent")
    f.make_label(ws, "billing")
    conversation = f.make_conversation(inbox, content="My parcel is late")
    hidden = f.make_conversation(other, content="Secret invoice talk")
    db.session.expire_all()
    return Desk(ws, admin, agent, inbox, other, conversation, hidden)


@pytest.fixture
def desk(app) -> Desk:
    return make_desk()


class Api:
    """The Flask test client, with a bearer token and JSON bodies."""

    def __init__(self, client, token: str | None):
        self.client = client
        self.token = token

    def headers(self, extra: dict | None = None) -> dict:
        base = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return {**base, **(extra or {})}

    def request(self, method: str, path: str, body=None, headers=None, **kwargs):
        if body is not None:
            kwargs["data"] = json.dumps(body)
            kwargs["content_type"] = "application/json"
        return self.client.open(
            PREFIX + path, method=method, headers=self.headers(headers), **kwargs
        )

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, body=None, **kwargs):
        return self.request("POST", path, body, **kwargs)

    def patch(self, path, body=None, **kwargs):
        return self.request("PATCH", path, body, **kwargs)

    def put(self, path, body=None, **kwargs):
        return self.request("PUT", path, body, **kwargs)


@pytest.fixture
def api(client, desk) -> Api:
    """A client holding a full-scope API token for `desk`."""
    return Api(client, desk.token())


def problem(response, status: int, code: str) -> dict:
    """The response is an RFC 9457 problem with `status` and `code`; returns its body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json", response.headers
    body = response.get_json(force=True)
    assert body["status"] == status
    assert body["code"] == code, body
    assert body["type"] == f"/api/v1/docs#problem-{code}"
    assert body["title"] and body["detail"]
    return body
