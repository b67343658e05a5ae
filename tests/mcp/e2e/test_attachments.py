"""get_conversation lists each message's files and flags automatic email, in both protocol
eras: `attachments` on every message (an empty list when none; a customer's file names are
untrusted text), `auto_submitted` on incoming ones."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from deskwoot.database.transactions import write_transaction
from deskwoot.extensions import db
from deskwoot.models import Message
from deskwoot.services.conversations import attachments
from deskwoot.services.conversations import workflow as conversation_service
from deskwoot.services.conversations.attachments import Upload
from tests import factories as f
from tests.mcp.conftest import MODES, connect, make_desk
from tests.mcp.helpers import fresh, ok, run, text_of

pytestmark = pytest.mark.parametrize("mode", MODES)


def test_get_conversation_lists_attachments_and_automatic_mail(live, mode, monkeypatch, tmp_path):
    monkeypatch.setitem(live.app.config, "ATTACHMENTS_DIR", str(tmp_path))
    desk = make_desk()
    conv = f.make_conversation(desk.inbox, content="Invoice attached", subject="Invoice")
    auto = f.make_conversation(desk.inbox, content="I am out of the office", subject="Away")
    fresh()
    with write_transaction() as session:
        incoming = session.execute(
            select(Message).where(Message.conversation_id == conv.id)
        ).scalar_one()
        kept = attachments.add(session, incoming, "invoice.pdf", "application/pdf", b"%PDF")
        refused = attachments.add(
            session,
            incoming,
            "bomb.zip",
            "application/zip",
            b"",
            skipped="larger than 10 MB",
            size=99_000_000,
        )
        incoming.mail = {"message_id": "<i@example.com>", "noise": []}
        away = session.execute(
            select(Message).where(Message.conversation_id == auto.id)
        ).scalar_one()
        away.mail = {"message_id": "<o@example.com>", "noise": ["auto-submitted: auto-replied"]}
    kept_id, refused_id = kept.id, refused.id
    reply = conversation_service.reply(
        desk.admin_actor,
        conv.display_id,
        "Here is the corrected one.",
        attachments=[Upload("corrected.pdf", "application/pdf", b"%PDF-2")],
    )
    reply_file = attachments.rows_for([reply.id])[reply.id][0]
    fresh()
    token = desk.mint()

    async def main():
        async with connect(live.url, token, mode) as client:
            first = await client.call_tool("get_conversation", {"conversation_id": conv.display_id})
            second = await ok(client, "get_conversation", {"conversation_id": auto.display_id})
        return first, second

    first, second = run(main)
    assert not first.is_error
    incoming_out, reply_out = first.structured_content["messages"]
    assert incoming_out["attachments"] == [
        {
            "id": kept_id,
            "filename": "invoice.pdf",
            "content_type": "application/pdf",
            "size": 4,
            "skipped": None,
        },
        {
            "id": refused_id,
            "filename": "bomb.zip",
            "content_type": "application/zip",
            "size": 99_000_000,
            "skipped": "larger than 10 MB",
        },
    ]
    assert incoming_out["auto_submitted"] is False
    assert reply_out["attachments"] == [
        {
            "id": reply_file.id,
            "filename": "corrected.pdf",
            "content_type": "application/pdf",
            "size": 6,
            "skipped": None,
        }
    ]
    assert "auto_submitted" not in reply_out  # incoming messages only
    [away_out] = second["messages"]
    assert away_out["auto_submitted"] is True and away_out["attachments"] == []
    # A customer's file name is their text: fenced in the text block like their words.
    text = text_of(first)
    assert "invoice.pdf</untrusted-customer-text-" in text
    assert "corrected.pdf</untrusted" not in text
    db.session.rollback()
