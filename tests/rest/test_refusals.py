"""What /api/v1 refuses, and how: the bearer gate (401/403), scopes, the rate limit (429),
malformed requests (400/404/405/413/415/422) — always an RFC 9457 problem, never a 500."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from deskwoot import create_app
from deskwoot.extensions import db
from deskwoot.models import AuditEntry, McpToken, Message, Workspace, utcnow
from deskwoot.services.access import tokens
from deskwoot.services.access.random_secrets import digest
from tests.rest.conftest import PREFIX, Api, problem

CHALLENGE = 'Bearer realm="deskwoot", error="invalid_token"'


def unauthorized(response) -> dict:
    body = problem(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == CHALLENGE
    assert "RateLimit" not in response.headers
    return body


class TestGate:
    @pytest.mark.parametrize(
        "header",
        [None, "Basic abc", "Bearer", "Bearer dw_api_nope", "Bearer " + tokens.generate("api")],
    )
    def test_missing_malformed_or_unknown_token(self, client, desk, header):
        headers = {"Authorization": header} if header else {}
        unauthorized(client.get(PREFIX + "/me", headers=headers))

    def test_an_mcp_token_does_not_open_the_rest_api(self, client, desk):
        mcp_token = desk.token(kind="mcp")
        unauthorized(Api(client, mcp_token).get("/me"))

    def test_revoked_token(self, client, desk):
        plaintext = desk.token()
        row = db.session.scalar(select(McpToken).where(McpToken.token_hash == digest(plaintext)))
        tokens.revoke(desk.admin_actor, row.id)
        unauthorized(Api(client, plaintext).get("/me"))

    def test_expired_token(self, client, desk):
        plaintext = desk.token()
        db.session.execute(
            update(McpToken)
            .where(McpToken.token_hash == digest(plaintext))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
        unauthorized(Api(client, plaintext).get("/me"))

    @pytest.mark.parametrize(
        ("plan", "trial_ends", "reason"),
        [("trial", -1, "trial_expired"), ("business", 5, "plan_required")],
    )
    def test_plan_lock_is_read_on_every_request(self, client, desk, plan, trial_ends, reason):
        api = Api(client, desk.token())
        assert api.get("/me").status_code == 200
        db.session.execute(
            update(Workspace)
            .where(Workspace.id == desk.workspace.id)
            .values(plan=plan, trial_ends_at=utcnow() + timedelta(days=trial_ends))
        )
        db.session.commit()
        body = problem(api.get("/me"), 403, reason)
        assert body["reason"] == reason
        refusal = db.session.execute(
            select(AuditEntry).where(AuditEntry.action == "api.request")
        ).scalar_one()
        assert (refusal.outcome, refusal.detail, refusal.actor_name) == (
            "denied",
            reason,
            "Integration",
        )

    def test_missing_scope_names_it_and_is_audited(self, client, desk):
        api = Api(client, desk.token(scopes=["conversations:read"]))
        cid = desk.conversation.display_id
        response = api.post(f"/conversations/{cid}/notes", {"body": "x"})
        body = problem(response, 403, "insufficient_scope")
        assert body["required_scope"] == "conversations:note"
        assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
        entry = db.session.execute(
            select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)
        ).scalar_one()
        assert (entry.action, entry.outcome) == ("add_private_note", "denied")


class TestRateLimit:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "MCP_RATE_LIMIT": 60, "MCP_RATE_BURST": 2}

    def test_burst_then_429_with_retry_after(self, api):
        first = api.get("/me")
        assert first.headers["RateLimit-Policy"] == '"default";q=60;w=60'
        assert first.headers["RateLimit"] == '"default";r=1;t=1'
        assert api.get("/me").headers["RateLimit"].startswith('"default";r=0;')
        refused = api.get("/me")
        body = problem(refused, 429, "rate_limited")
        assert int(refused.headers["Retry-After"]) == body["retry_after"] >= 1
        assert refused.headers["RateLimit"].startswith('"default";r=0;')


class TestMalformed:
    def test_unknown_path_and_wrong_method(self, api, desk):
        problem(api.get("/nothing-here"), 404, "not_found")
        problem(api.get("/conversations/abc"), 404, "not_found")  # ids are numbers
        problem(api.patch("/conversations/search", {}), 405, "method_not_allowed")
        problem(api.get(""), 404, "not_found")
        response = api.request("DELETE", f"/conversations/{desk.conversation.display_id}")
        problem(response, 405, "method_not_allowed")
        assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "PATCH"}

    def test_malformed_json(self, api, desk):
        cid = desk.conversation.display_id
        for raw in (b"{", b'{"body": NaN}', b"[" * 40 + b"]" * 40):
            response = api.client.post(
                f"{PREFIX}/conversations/{cid}/notes",
                data=raw,
                headers=api.headers({"Content-Type": "application/json"}),
            )
            problem(response, 400, "malformed_json")
        # Valid JSON, but text that cannot be stored: a bad value.
        response = api.client.post(
            f"{PREFIX}/conversations/{cid}/notes",
            data=b'{"body": "a\\u0000b"}',
            headers=api.headers({"Content-Type": "application/json"}),
        )
        assert problem(response, 422, "invalid_arguments")["field"] == "body"

    def test_not_json_content_type(self, api, desk):
        response = api.client.post(
            f"{PREFIX}/conversations/{desk.conversation.display_id}/notes",
            data="body=hi",
            headers=api.headers({"Content-Type": "application/x-www-form-urlencoded"}),
        )
        problem(response, 415, "unsupported_media_type")

    def test_body_over_1_mib(self, api, desk):
        huge = json.dumps({"body": "x" * (1024 * 1024)})
        response = api.client.post(
            f"{PREFIX}/conversations/{desk.conversation.display_id}/notes",
            data=huge,
            headers=api.headers({"Content-Type": "application/json"}),
        )
        problem(response, 413, "payload_too_large")

    def test_unknown_query_parameter_and_body_field(self, api, desk):
        body = problem(api.get("/conversations?stauts=open"), 422, "invalid_arguments")
        assert body["errors"] == [{"field": "stauts", "in": "query", "detail": "unknown"}]
        cid = desk.conversation.display_id
        # A path argument is not a body field either.
        body = problem(
            api.patch(f"/conversations/{cid}", {"conversation_id": 1, "priority": "low"}),
            422,
            "invalid_arguments",
        )
        assert body["errors"] == [{"field": "conversation_id", "in": "body", "detail": "unknown"}]

    @pytest.mark.parametrize(
        ("path", "field", "where"),
        [
            ("/conversations?limit=500", "limit", "query"),
            ("/conversations?limit=ten", "limit", "query"),
            ("/conversations?limit=1&limit=2", "limit", "query"),
            ("/conversations?status=closed", "status", "query"),
            ("/conversations?label=a%00b", "label", "query"),
            ("/conversations/0", "conversation_id", "path"),
            ("/conversations/99999999999999999999999", "conversation_id", "path"),
            ("/events?types=nope", "types/0", "query"),
            ("/conversations/search", "query", "query"),
        ],
    )
    def test_bad_arguments_name_the_field(self, api, path, field, where):
        body = problem(api.get(path), 422, "invalid_arguments")
        assert body["field"] == field
        assert body["errors"][0]["in"] == where

    def test_body_must_be_an_object(self, api, desk):
        response = api.post(f"/conversations/{desk.conversation.display_id}/notes", ["x"])
        problem(response, 422, "invalid_arguments")

    def test_service_refusals(self, api, desk):
        problem(api.get("/conversations/search?query=%20"), 422, "invalid")
        problem(api.get("/conversations?cursor=forged"), 422, "invalid_cursor")
        problem(api.patch(f"/contacts/{desk.conversation.contact_id}", {}), 422, "invalid")
        api.post("/contacts", {"email": "twin@example.com"})
        problem(api.post("/contacts", {"email": "twin@example.com"}), 409, "conflict")

    def test_nothing_written_by_refusals(self, api, desk):
        before = db.session.scalar(select(func.count()).select_from(Message))
        cid = desk.conversation.display_id
        api.post(f"/conversations/{cid}/notes", {"body": ""})
        api.post(f"/conversations/{cid}/notes", {"body": "x", "extra": 1})
        api.post(f"/conversations/{cid}/messages", {"body": "x"})
        assert db.session.scalar(select(func.count()).select_from(Message)) == before


def test_an_unexpected_error_is_a_problem_500_and_logged(app_config, tmp_path, monkeypatch, caplog):
    app = create_app({**app_config, "TESTING": False, "PROPAGATE_EXCEPTIONS": False})
    with app.app_context():
        from tests.rest.conftest import make_desk

        desk = make_desk()
        token = desk.token()

        def broken(actor):
            raise RuntimeError("boom")

        monkeypatch.setattr(tokens, "whoami", broken)  # what the whoami tool reads
        response = app.test_client().get(
            PREFIX + "/me", headers={"Authorization": f"Bearer {token}"}
        )
        db.session.remove()
        db.engine.dispose()
    body = problem(response, 500, "internal")
    assert "boom" not in json.dumps(body)
    assert "unexpected error in /api/v1" in caplog.text
