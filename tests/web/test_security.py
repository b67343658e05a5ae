"""CSRF, escaping of customer text, response headers, and pages that obey the CSP."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from deskwoot.extensions import db
from deskwoot.models import Message
from tests import factories

XSS = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
TOKEN_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def _message_count() -> int:
    return db.session.execute(select(func.count()).select_from(Message)).scalar_one()


def test_posts_without_a_csrf_token_are_refused(csrf_app):
    ws = factories.make_workspace()
    admin = factories.make_user(ws, role="admin")
    inbox = factories.make_inbox(ws)
    conversation = factories.make_conversation(inbox)
    client = csrf_app.test_client()

    assert (
        client.post(
            "/login", data={"email": admin.email, "password": factories.PASSWORD}
        ).status_code
        == 400
    )
    token = TOKEN_RE.search(client.get("/login").get_data(as_text=True)).group(1)
    login = client.post(
        "/login", data={"email": admin.email, "password": factories.PASSWORD, "csrf_token": token}
    )
    assert login.status_code == 302

    reply_url = f"/w/{ws.slug}/conversations/{conversation.display_id}/reply"
    before = _message_count()
    refused = client.post(reply_url, data={"body": "forged"})
    assert refused.status_code == 400
    assert "did not save anything" in refused.get_data(as_text=True)
    assert _message_count() == before

    page = client.get(f"/w/{ws.slug}/conversations/{conversation.display_id}")
    token = TOKEN_RE.search(page.get_data(as_text=True)).group(1)
    accepted = client.post(reply_url, data={"body": "genuine", "csrf_token": token})
    assert accepted.status_code == 302
    assert _message_count() == before + 1


def test_customer_text_is_escaped_everywhere(as_admin, desk):
    contact = factories.make_contact(desk.workspace, name=XSS, email="x@example.com")
    conversation = factories.make_conversation(desk.support, contact, content=XSS, subject=XSS)
    as_admin.post(desk.url(f"/contacts/{contact.id}/notes"), data={"body": XSS})
    for path in (
        "/conversations",
        f"/conversations/{conversation.display_id}",
        f"/contacts/{contact.id}",
        "/contacts",
        f"/contacts/{contact.id}/edit",
    ):
        page = as_admin.get(desk.url(path)).get_data(as_text=True)
        assert XSS not in page, path
        assert ESCAPED in page, path


def test_line_breaks_in_messages_are_kept_by_css_not_markup(as_admin, desk):
    factories.make_conversation(desk.support, desk.contact, content="line one\nline two")
    page = as_admin.get(desk.conv_url()).get_data(as_text=True)
    assert '<div class="msg-body">line one\nline two</div>' in page
    css = as_admin.get("/static/app.css").get_data(as_text=True)
    assert re.search(r"\.msg-body \{[^}]*white-space: pre-wrap", css)


def test_security_headers_on_html(client, as_admin, desk):
    for response in (client.get("/login"), as_admin.get(desk.url("/conversations"))):
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"]


@pytest.mark.parametrize(
    "path",
    [
        "/conversations",
        "/conversations/1",
        "/contacts",
        "/contacts/new",
        "/settings/inboxes",
        "/settings/team",
        "/settings/labels",
        "/settings/mcp",
        "/settings/audit",
        "/settings/billing",
    ],
)
def test_pages_have_no_inline_scripts_or_styles(as_admin, desk, path):
    factories.make_label(desk.workspace, "vip", "#ff0000")
    page = as_admin.get(desk.url(path)).get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)
    assert not re.search(r"\sstyle=", page)
    assert "<style" not in page
    assert not re.search(r"\son[a-z]+=", page)


def test_session_cookie_is_httponly_and_lax(client, desk):
    response = client.post(
        "/login", data={"email": desk.admin.email, "password": factories.PASSWORD}
    )
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_no_state_changes_over_get(as_admin, desk):
    before = _message_count()
    for action in ("reply", "note", "status", "take-over"):
        assert as_admin.get(desk.conv_url(action=action)).status_code == 405
    assert _message_count() == before
