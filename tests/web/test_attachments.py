"""Files on messages in the browser: a teammate attaches files to a reply or a note, the
thread lists every message's files (a refused one says why, with no link), and the download
is always a download — never a page the browser renders — for teammates who can see the
conversation and nobody else. Too large is a form error that keeps the typed text."""

from __future__ import annotations

import io
import re
from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from deskwoot.database.transactions import write_transaction
from deskwoot.extensions import db
from deskwoot.models import Attachment, Message
from deskwoot.services.conversations import attachments
from deskwoot.services.conversations.steps import upload_name
from tests import factories

TOKEN_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
LINK_RE = re.compile(r'href="([^"]+/attachments/(\d+))"')


@pytest.fixture
def app_config(app_config, tmp_path):
    return {**app_config, "ATTACHMENTS_DIR": str(tmp_path / "attachments")}


def _files(*files):
    return [(io.BytesIO(data), name, content_type) for name, content_type, data in files]


def _reply(client, desk, body, *files, kind="reply"):
    return client.post(
        desk.conv_url(action=kind),
        data={"body": body, "attachments": _files(*files)},
        content_type="multipart/form-data",
    )


def _messages() -> int:
    return db.session.execute(select(func.count()).select_from(Message)).scalar_one()


def _incoming(desk) -> Message:
    return db.session.execute(
        select(Message).where(
            Message.conversation_id == desk.conversation.id, Message.kind == "incoming"
        )
    ).scalar_one()


def test_a_reply_with_files_lists_them_and_downloads_them(as_agent, desk):
    response = _reply(
        as_agent,
        desk,
        "Here is the label.",
        ("label.pdf", "application/pdf", b"%PDF-1.4 label"),
        ("notes.txt", "text/plain", b"two\nlines"),
    )
    assert response.status_code == 302
    message = db.session.execute(
        select(Message).where(Message.body == "Here is the label.")
    ).scalar_one()
    rows = attachments.rows_for([message.id])[message.id]
    assert [(a.filename, a.content_type, a.size) for a in rows] == [
        ("label.pdf", "application/pdf", 14),
        ("notes.txt", "text/plain", 9),
    ]
    page = as_agent.get(desk.conv_url()).get_data(as_text=True)
    assert "label.pdf" in page and "notes.txt" in page
    assert "application/pdf · 14 Bytes" in page
    links = dict((int(i), href) for href, i in LINK_RE.findall(page))
    assert sorted(links) == [a.id for a in rows]

    download = as_agent.get(links[rows[1].id])
    assert download.status_code == 200
    assert download.data == b"two\nlines"
    assert download.headers["Content-Type"].startswith("text/plain")
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert "filename*=UTF-8''notes.txt" in download.headers["Content-Disposition"]
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Content-Security-Policy"] == "sandbox"
    # A PDF viewer runs scripts: it downloads as bytes, not as a document.
    pdf = as_agent.get(links[rows[0].id])
    assert pdf.headers["Content-Type"] == "application/octet-stream"


def test_a_note_takes_files_too(as_agent, desk):
    assert (
        _reply(
            as_agent, desk, "Screenshot", ("s.png", "image/png", b"\x89PNG..."), kind="note"
        ).status_code
        == 302
    )
    note = db.session.execute(select(Message).where(Message.kind == "note")).scalar_one()
    assert [a.filename for a in attachments.rows_for([note.id])[note.id]] == ["s.png"]


def test_html_and_svg_download_as_octet_stream(as_agent, desk):
    _reply(
        as_agent,
        desk,
        "Files",
        ("page.html", "text/html", b"<script>alert(1)</script>"),
        ("logo.svg", "image/svg+xml", b"<svg onload=alert(1)></svg>"),
        ("../../etc/passwd", "text/plain", b"root"),
    )
    rows = db.session.execute(select(Attachment).order_by(Attachment.id)).scalars().all()
    # A browser may send a path: only the file's own name is kept.
    assert [a.filename for a in rows] == ["page.html", "logo.svg", "passwd"]
    assert upload_name("C:\\Users\\ada\\boot.ini") == "boot.ini"
    assert upload_name("a\x00b\r\n.txt") == "ab.txt"
    assert upload_name("..") == upload_name("") == "attachment"
    for row in rows[:2]:
        response = as_agent.get(desk.url(f"/attachments/{row.id}"))
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "application/octet-stream"
        assert response.headers["Content-Security-Policy"] == "sandbox"
        assert response.headers["Content-Disposition"].startswith("attachment;")


def test_a_hostile_name_cannot_break_the_header(as_agent, desk):
    # As an email's attachment might be named (the email parser keeps what it was given).
    name = 'évil"; filename=x.html\r\nX-Injected: 1.html'
    with write_transaction() as session:
        row = attachments.add(session, _incoming(desk), name, "text/html", b"<b>hi</b>")
    response = as_agent.get(desk.url(f"/attachments/{row.id}"))
    assert response.status_code == 200
    assert "X-Injected" not in response.headers
    disposition = response.headers["Content-Disposition"]
    assert disposition == (
        'attachment; filename="_vil__ filename=x.html__X-Injected: 1.html"; '
        f"filename*=UTF-8''{quote(name, safe='')}"
    )


def test_out_of_reach_is_not_found(client, auth, desk):
    with write_transaction() as session:
        hidden = session.execute(
            select(Message).where(Message.conversation_id == desk.hidden.id)
        ).scalar_one()
        secret = attachments.add(session, hidden, "price-list.txt", "text/plain", b"secret")
    secret_id = secret.id
    assert auth.login(desk.agent.email).status_code == 302  # works Support, not Sales
    assert client.get(desk.url(f"/attachments/{secret_id}")).status_code == 404
    assert client.get(desk.url("/attachments/999999")).status_code == 404
    # An admin of another workspace, through their own workspace's URL or this one's.
    other = factories.make_workspace("Other")
    stranger = factories.make_user(other, role="admin", email="boss@other.test")
    auth.logout()
    assert auth.login(stranger.email).status_code == 302
    assert client.get(f"/w/{other.slug}/attachments/{secret_id}").status_code == 404
    assert client.get(desk.url(f"/attachments/{secret_id}")).status_code == 404
    # Their admin can.
    auth.logout()
    auth.login(desk.admin.email)
    assert client.get(desk.url(f"/attachments/{secret_id}")).data == b"secret"


def test_a_refused_file_is_listed_with_why_and_no_link(as_agent, desk):
    with write_transaction() as session:
        attachments.add(
            session,
            _incoming(desk),
            "huge.zip",
            "application/zip",
            b"",
            skipped="larger than 10 MB",
            size=50_000_000,
        )
    page = as_agent.get(desk.conv_url()).get_data(as_text=True)
    assert "huge.zip" in page and "not kept: larger than 10 MB" in page
    assert not LINK_RE.search(page)


def test_too_large_is_a_form_error_that_keeps_the_text(app, as_agent, desk):
    app.config["ATTACHMENT_MAX_BYTES"] = 1000
    before = _messages()
    response = _reply(
        as_agent, desk, "My carefully typed answer", ("big.bin", "application/zip", b"x" * 2000)
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "My carefully typed answer</textarea>" in page
    assert 'data-testid="attachments-error"' in page and "big.bin is larger than" in page
    assert _messages() == before
    assert db.session.execute(select(func.count()).select_from(Attachment)).scalar_one() == 0
    app.config["ATTACHMENT_MAX_BYTES"] = 10_000
    app.config["ATTACHMENT_MAX_TOTAL_BYTES"] = 3000
    response = _reply(
        as_agent,
        desk,
        "Second try",
        ("a.bin", "application/zip", b"a" * 2000),
        ("b.bin", "application/zip", b"b" * 2000),
    )
    assert response.status_code == 422
    assert "The attachments together are too large." in response.get_data(as_text=True)
    assert _messages() == before


def test_the_composer_takes_more_than_the_app_limit_with_csrf_on(csrf_app, desk):
    """The app refuses bodies over 1 MiB; the composer's POST allows the attachment limit,
    raised before CSRFProtect reads the form. Beyond that: a clear message, no 500."""
    csrf_app.config["ATTACHMENT_MAX_TOTAL_BYTES"] = 2 * 1024 * 1024
    client = csrf_app.test_client()
    token = TOKEN_RE.search(client.get("/login").get_data(as_text=True)).group(1)
    login = {"email": desk.agent.email, "password": factories.PASSWORD, "csrf_token": token}
    assert client.post("/login", data=login).status_code == 302
    page = client.get(desk.conv_url()).get_data(as_text=True)
    token = TOKEN_RE.search(page).group(1)
    big = b"z" * (1536 * 1024)  # 1.5 MiB: over the app's limit, under the composer's
    response = client.post(
        desk.conv_url(action="reply"),
        data={"body": "Big file", "csrf_token": token, "attachments": _files(("big.bin", "", big))},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    assert response.headers["Location"].endswith("#latest"), response.headers["Location"]
    db.session.rollback()  # the test's session began before that request wrote
    stored = db.session.execute(select(Attachment)).scalar_one()
    assert stored.size == len(big)
    huge = b"z" * (3 * 1024 * 1024 + 1024 * 1024 + 10)
    response = client.post(
        desk.conv_url(action="reply"),
        data={"body": "Too big", "csrf_token": token, "attachments": _files(("h.bin", "", huge))},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"{desk.conv_url()}#composer")
    shown = client.get(desk.conv_url()).get_data(as_text=True)
    assert "The files were too large to send: at most 2 MB together." in shown
    # Every other request keeps the app's 1 MiB limit.
    too_big = client.post(
        desk.conv_url(action="status"), data={"status": "resolved", "pad": "p" * (1024 * 1024)}
    )
    assert too_big.status_code == 413


def test_the_full_email_is_a_disclosure_of_escaped_text(as_agent, desk):
    with write_transaction() as session:
        message = session.get(Message, _incoming(desk).id)
        message.full_body = (
            "My parcel never arrived\n\n> On Monday you wrote:\n> <script>x()</script>"
        )
        message.mail = {"message_id": "<a@example.com>", "noise": []}
    page = as_agent.get(desk.conv_url()).get_data(as_text=True)
    assert 'data-testid="full-email"' in page and "Show the full email" in page
    assert "&lt;script&gt;x()&lt;/script&gt;" in page and "<script>x()" not in page
    assert 'data-testid="auto-submitted"' not in page


def test_an_automatic_email_is_marked(as_agent, desk):
    with write_transaction() as session:
        message = session.get(Message, _incoming(desk).id)
        message.mail = {"message_id": "<b@example.com>", "noise": ["auto-submitted: auto-replied"]}
    page = as_agent.get(desk.conv_url()).get_data(as_text=True)
    assert 'data-testid="auto-submitted"' in page
    assert 'data-testid="full-email"' not in page  # no full body stored: nothing to disclose
