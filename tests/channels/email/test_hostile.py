"""Hostile and broken mail: parsed safely, bounded in time, or refused as UnreadableMail."""

import base64
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deskwoot.channels.email.parse import UnreadableMail, parse_incoming
from tests.channels.email import corpus


def safe(mail) -> None:
    """What every parsed message promises: storable text, one-line headers."""
    for text in (mail.text, mail.visible_text, mail.subject, mail.from_name):
        assert "\x00" not in text
        text.encode("utf-8")  # no lone surrogates
    for line in (mail.subject, mail.from_name, mail.message_id):
        assert "\r" not in line and "\n" not in line


def test_a_deep_nesting_bomb_is_parsed_without_recursion():
    started = time.monotonic()
    mail = parse_incoming(corpus.nesting_bomb(50_000))
    assert time.monotonic() - started < 2
    assert any("body not parsed" in d for d in mail.defects)
    assert mail.from_address == "bomb@example.com"  # the headers are still read
    moderate = parse_incoming(corpus.nesting_bomb(30))
    assert any("nesting deeper" in d for d in moderate.defects)


def test_too_many_parts_are_cut():
    parts = "".join(f"--b\nContent-Type: text/plain\n\npart {i}\n" for i in range(300))
    raw = corpus.crlf(
        "From: a@example.com\nContent-Type: multipart/mixed; boundary=b\n\n" + parts + "--b--\n"
    )
    mail = parse_incoming(raw, max_parts=50)
    assert any("more than 50 MIME parts" in d for d in mail.defects)
    assert "part 0" in mail.text and "part 299" not in mail.text


def test_huge_headers_stay_fast():
    raw = (
        b"From: a@example.com\r\nSubject: " + b"=?utf-8?q?a?= " * 200_000 + b"\r\n"
        b"To: " + b"x@example.com, " * 100_000 + b"\r\n"
        b"References: " + b"<r@x> " * 200_000 + b"\r\n"
        b"X-Junk: " + b"(" * 500_000 + b"\r\n\r\nbody"
    )
    started = time.monotonic()
    mail = parse_incoming(raw)
    assert time.monotonic() - started < 3
    assert mail.text == "body" and len(mail.subject) <= 998
    assert len(mail.references) <= 20
    safe(mail)


def test_malformed_mime_missing_boundaries_and_broken_base64():
    raw = corpus.crlf(
        "From: a@example.com\nSubject: broken\nMIME-Version: 1.0\n"
        "Content-Type: multipart/mixed; boundary=never-used\n\n"
        "text with no boundary at all\n"
    )
    safe(parse_incoming(raw))
    raw = corpus.crlf(
        "From: a@example.com\nContent-Type: multipart/mixed\n\n--x\nfoo\n"  # no boundary param
    )
    safe(parse_incoming(raw))
    raw = (
        corpus.crlf(
            "From: a@example.com\nContent-Type: text/plain; charset=utf-8\n"
            "Content-Transfer-Encoding: base64\n\n"
        )
        + base64.b64encode("héllo".encode())[:-2]
        + b"!!*&\r\n"
    )
    safe(parse_incoming(raw))


def test_encoded_line_breaks_in_incoming_headers_stay_on_one_line():
    raw = corpus.crlf(
        "From: =?utf-8?q?Eve=0D=0ABcc:_x@y?= <eve@example.com>\n"
        "Subject: =?utf-8?q?Hi=0D=0ABcc:_victim@example.com?=\n\nhello"
    )
    mail = parse_incoming(raw)
    assert mail.subject == "Hi Bcc: victim@example.com"
    assert "\n" not in mail.from_name
    safe(mail)


def test_nul_bytes_and_controls_never_reach_the_text():
    raw = corpus.crlf("From: a@example.com\nSubject: a\x00b\n\n") + b"he\x00llo\x07 \x1b[31mred"
    mail = parse_incoming(raw)
    assert mail.text == "hello [31mred"
    safe(mail)


def test_html_with_scripts_in_every_hiding_place():
    html = (
        "<p>Hello<script>evil()</script></p><SCRIPT src=x>bad()</SCRIPT>"
        "<svg><script>svgEvil()</script></svg><style>body{}</style>"
        "<iframe src=javascript:alert(1)>frameText</iframe><p onclick=alert(2)>Bye</p>"
        "<!-- <script>commented()</script> --><noscript>nos</noscript>"
    )
    raw = corpus.crlf("From: a@example.com\nContent-Type: text/html\n\n" + html)
    mail = parse_incoming(raw)
    assert "Hello" in mail.text and "Bye" in mail.text
    for bad in ("evil", "bad()", "svgEvil", "alert", "commented", "<", "body{}"):
        assert bad not in mail.text


def test_utf7_is_not_trusted_as_a_charset():
    raw = corpus.crlf("From: a@example.com\nContent-Type: text/plain; charset=utf-7\n\n")
    mail = parse_incoming(raw + b"+ADw-script+AD4-")
    assert "<script>" not in mail.text


def test_not_bytes_is_unreadable():
    with pytest.raises(UnreadableMail) as caught:
        parse_incoming("a str, not bytes")  # type: ignore[arg-type]
    assert "bytes" in caught.value.reason


SEEDS = [
    corpus.GMAIL_REPLY_EN,
    corpus.POSTFIX_DSN,
    corpus.MIXED_CHARSETS,
    corpus.HTML_NEWSLETTER,
    corpus.with_attachments(("a.png", "image/png", b"\x89PNG\r\n\x1a\n" + b"\0" * 50)),
]


def _parse_or_refuse(raw: bytes) -> None:
    try:
        mail = parse_incoming(raw, max_bytes=200_000)
    except UnreadableMail:
        return
    safe(mail)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_random_bytes_parse_or_are_refused(raw):
    _parse_or_refuse(raw)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(SEEDS),
    edits=st.lists(
        st.tuples(
            st.floats(0, 1),
            st.sampled_from(["delete", "insert", "flip", "duplicate"]),
            st.binary(min_size=1, max_size=40)
            | st.sampled_from(
                [b"\r\n", b"\r\n\r\n", b"--", b"boundary=", b"=?utf-8?q?=0D=0A?=", b"\xff\xfe",
                 b"Content-Type: multipart/mixed; boundary=z\r\n", b"base64", b"charset=x"]
            ),
        ),
        max_size=6,
    ),
)  # fmt: skip
def test_mutated_messages_parse_or_are_refused(seed, edits):
    raw = bytearray(seed)
    for where, operation, data in edits:
        at = int(where * len(raw))
        if operation == "delete":
            del raw[at : at + len(data)]
        elif operation == "insert":
            raw[at:at] = data
        elif operation == "flip" and raw:
            raw[min(at, len(raw) - 1)] ^= data[0] or 1
        else:
            raw[at:at] = raw[at : at + 200]
    _parse_or_refuse(bytes(raw))
