"""`deskwoot email receive WORKSPACE INBOX < message.eml`, the MTA pipe: what it stores and the
exit codes an MTA acts on (0 taken, 65 no mail, 67 no such inbox, 75 try again later)."""

from __future__ import annotations

import os

import pytest

from deskwoot.channels.email.parse import MAX_BYTES
from tests import factories as f
from tests.channels.email import corpus
from tests.channels.email.inboxes import email_inbox, mail, messages
from tests.database.helpers import read_only_connections


@pytest.fixture
def inbox(app):
    return email_inbox(f.make_workspace(slug="acme"))


def pipe(runner, raw: bytes, workspace: str = "acme", inbox: str = "Support"):
    return runner.invoke(args=["email", "receive", workspace, inbox], input=raw)


def test_a_mail_is_stored_then_its_copy_is_a_duplicate(runner, inbox):
    first = pipe(runner, mail())
    assert first.exit_code == 0, first.output
    assert first.stdout.strip() == "stored: conversation #1, message 1"
    again = pipe(runner, mail())
    assert again.exit_code == 0
    assert again.stdout.strip() == "duplicate: conversation #1, message 1"
    assert len(messages(inbox)) == 1


def test_own_address_mail_and_bounces_exit_0_with_a_line_saying_so(runner, inbox):
    own = pipe(runner, mail(sender="support@acme.test"))
    assert own.exit_code == 0 and own.stdout.startswith("ignored: ")
    bounce = pipe(runner, corpus.POSTFIX_DSN)
    assert bounce.exit_code == 0 and bounce.stdout.startswith("bounce: ")
    assert messages(inbox) == []


def test_input_that_is_no_mail_is_ex_dataerr(runner, inbox):
    for raw in (b"", b"\r\n\r\njust a body", b"x" * (MAX_BYTES + 10)):
        result = pipe(runner, raw)
        assert result.exit_code == os.EX_DATAERR, result.output
        assert result.stderr.startswith("refused: ") and len(result.stderr.splitlines()) == 1
    assert messages(inbox) == []


def test_unknown_workspace_or_inbox_or_a_non_email_inbox_is_ex_nouser(runner, inbox):
    f.make_inbox(inbox.workspace, name="API")
    for workspace, name, words in [
        ("nope", "Support", "No workspace"),
        ("acme", "Nope", "No inbox called 'Nope'"),
        ("acme", "API", "not an email inbox"),
    ]:
        result = pipe(runner, mail(), workspace, name)
        assert result.exit_code == os.EX_NOUSER, result.output
        assert words in result.stderr and len(result.stderr.splitlines()) == 1


def test_an_unavailable_database_is_ex_tempfail_and_the_retry_is_stored(runner, inbox):
    inbox_id = inbox.id  # the session is thrown away with the read-only connections
    with read_only_connections():
        result = pipe(runner, mail())
    assert result.exit_code == os.EX_TEMPFAIL, result.output
    assert result.stderr.startswith("temporary failure: the database is unavailable")
    assert "Traceback" not in result.output
    retried = pipe(runner, mail())  # what the MTA does next
    assert retried.exit_code == 0 and retried.stdout.startswith("stored: ")
    assert len(messages(inbox_id)) == 1


HOSTILE = [
    corpus.nesting_bomb(50_000),
    corpus.nesting_bomb(30),
    corpus.MIXED_CHARSETS,
    corpus.HTML_NEWSLETTER,
    corpus.EXIM_BOUNCE,
    b"From: a@example.com\r\nSubject: " + b"=?utf-8?q?a?= " * 50_000 + b"\r\n\r\nbody",
    corpus.crlf("From: =?utf-8?q?Eve=0D=0ABcc:_x@y?= <eve@example.com>\nSubject: hi\n\nhello"),
    corpus.crlf("From: a@example.com\nContent-Type: multipart/mixed\n\n--x\nfoo\n"),
    corpus.crlf("From: not an address\nSubject: x\n\nbody"),
    corpus.crlf("From: a@example.com\nSubject: a\x00b\n\n") + b"he\x00llo\x07 \xff\xfe garbage",
    corpus.crlf("From: a@example.com\nContent-Type: text/html\n\n<script>evil()</script><p>Hi"),
    corpus.with_attachments(("zip.zip", "application/zip", b"PK\x03\x04" + b"\0" * 3_000_000)),
    bytes(range(256)) * 40,
    b"\x00\x01\x02",
]


@pytest.mark.parametrize("raw", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_mail_is_stored_safely_or_refused_never_a_traceback(runner, inbox, raw):
    result = pipe(runner, raw)
    assert result.exit_code in (0, os.EX_DATAERR), result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    out = result.stdout if result.exit_code == 0 else result.stderr
    assert len(out.strip().splitlines()) == 1
    for message in messages(inbox):
        assert "<script" not in message.body and "\x00" not in message.body
