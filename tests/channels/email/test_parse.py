"""Reading incoming mail: a corpus of real-world shapes, charsets, attachments, threading."""

import pytest

from deskwoot.channels.email.parse import UnreadableMail, parse_incoming
from tests.channels.email import corpus


def test_gmail_reply_in_english():
    mail = parse_incoming(corpus.GMAIL_REPLY_EN)
    assert mail.message_id == "<CAFx9=abc123@mail.gmail.com>"
    assert mail.in_reply_to == "<deskwoot.m17.inbox1@acme.test>"
    assert mail.references == ("<CAFx9=root@mail.gmail.com>", "<deskwoot.m17.inbox1@acme.test>")
    assert (mail.from_address, mail.from_name) == ("john@example.com", "John Smith")
    assert mail.to == ("support@acme.test",)
    assert mail.subject == "Re: Printer offline [#42]"  # kept as written
    assert mail.date.isoformat() == "2025-03-03T10:04:59+00:00"
    # The plain alternative is preferred; the quote and the signature are not the reply…
    assert mail.visible_text == "Thanks, that fixed it! The printer is back online."
    # …but the whole text is kept for teammates.
    assert "please switch it off and on again" in mail.text
    assert not mail.from_html and not mail.is_noise and mail.bounce is None
    assert mail.defects == ()


@pytest.mark.parametrize(
    ("raw", "visible", "in_full"),
    [
        (corpus.APPLE_MAIL_REPLY_DE, "Danke, die Rechnung ist angekommen. Grüße aus München.",
         "anbei die Rechnung"),
        (corpus.OUTLOOK_REPLY_FR, "Merci beaucoup, c'est réglé !", "votre commande est partie"),
        (corpus.OUTLOOK_REPLY_ES, "Perfecto, gracias.", "su pedido ha salido"),
    ],
)  # fmt: skip
def test_replies_in_other_languages_lose_their_quoted_history(raw, visible, in_full):
    mail = parse_incoming(raw)
    assert mail.visible_text == visible
    assert in_full in mail.text


def test_encoded_headers_are_decoded():
    mail = parse_incoming(corpus.APPLE_MAIL_REPLY_DE)
    assert mail.from_name == "Jürgen Müller"
    assert mail.subject == "AW: Rechnung für März"
    assert mail.message_id == "<6F1C2D3E-AAAA-BBBB-CCCC-1234567890AB@beispiel.de>"


def test_html_only_newsletter_becomes_text_without_scripts():
    mail = parse_incoming(corpus.HTML_NEWSLETTER)
    assert mail.from_html
    assert "Spring sale" in mail.text and "Everything 50% off." in mail.text
    assert "Shoes" in mail.text and "Shop now" in mail.text
    for leftover in ("<", "script", "document.cookie", "stealEverything", "alert", "color: red"):
        assert leftover not in mail.text
    assert mail.subject == "🎉 Spring sale"
    assert "precedence: bulk" in mail.noise and "mailing list" in mail.noise


def test_mixed_charsets_across_parts_and_a_windows_1252_subject():
    mail = parse_incoming(corpus.MIXED_CHARSETS)
    assert mail.subject == "Café – € price"
    assert mail.from_name == "Renée “Quotes”"
    assert "Le café coûte cher." in mail.text
    assert "Die Straße ist grün. 日本語" in mail.text


def test_unknown_and_wrong_charsets_fall_back():
    raw = corpus.crlf(
        "From: a@example.com\nSubject: x\nContent-Type: text/plain; charset=x-klingon\n\n"
    ) + "naïve café".encode("latin-1")
    mail = parse_incoming(raw)
    assert mail.text == "naïve café"  # not UTF-8, so read as Windows-1252
    assert any("unknown charset" in d for d in mail.defects)
    raw = corpus.crlf("From: a@example.com\nContent-Type: text/plain; charset=utf-8\n\n")
    assert parse_incoming(raw + b"ok \xff\xfe bytes").text == "ok \ufffd\ufffd bytes"


def test_eight_bit_garbage_in_headers_is_decoded_not_fatal():
    raw = (
        b"From: \xc4\xe4rger <a@example.com>\r\nSubject: Gr\xfc\xdfe \xff\xfe\r\n"
        b"Message-ID: <x\xff@example.com>\r\n\r\nbody"
    )
    mail = parse_incoming(raw)
    assert mail.from_address == "a@example.com"
    assert mail.subject.startswith("Grüße")
    assert mail.message_id.endswith("@deskwoot.invalid>")  # a non-ASCII id becomes a digest


def test_missing_message_id_gets_a_stable_generated_one():
    raw = corpus.crlf(
        "From: a@example.com\nSubject: hello\nDate: Mon, 3 Mar 2025 10:00:00 +0000\n\nhi"
    )
    first = parse_incoming(raw)
    again = parse_incoming(b"Received: from relay.example by mx; Mon, 3 Mar 2025\r\n" + raw)
    assert first.message_id_generated and first.message_id == again.message_id
    assert first.message_id != parse_incoming(raw.replace(b"hello", b"other")).message_id


def test_attachments_under_and_over_the_limits():
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 200
    pdf = b"%PDF-1.4\n" + b"x" * 5000
    raw = corpus.with_attachments(
        ("../../etc/passwd\x07.png", "image/png", png),
        ("report.pdf", "application/pdf", pdf),
        ("big.bin", "application/octet-stream", b"\0" * 20_000),
        ("disguised.txt", "text/plain", b"<html><script>alert(1)</script></html>"),
    )
    mail = parse_incoming(raw, max_attachment_bytes=10_000, max_total_attachment_bytes=5_100)
    by_name = {a.filename: a for a in mail.attachments}
    assert set(by_name) == {"passwd_.png", "report.pdf", "big.bin", "disguised.txt"}
    image = by_name["passwd_.png"]
    assert (image.content_type, image.sniffed_type, image.size, image.data) == (
        "image/png", "image/png", len(png), png
    )  # fmt: skip
    assert by_name["report.pdf"].skipped == "over the total attachment limit"
    assert by_name["report.pdf"].data == b""
    assert by_name["big.bin"].skipped == "larger than the attachment limit"
    assert by_name["big.bin"].size >= 20_000
    assert by_name["disguised.txt"].sniffed_type == "text/html"  # declared text, really HTML
    assert mail.text == "See the attached files."  # an attached text file is not the body
    assert any("big.bin" in d for d in mail.defects)


def test_a_zip_bomb_sized_attachment_is_skipped_without_being_kept():
    bomb = b"PK\x03\x04" + b"\0" * 3_000_000
    mail = parse_incoming(corpus.with_attachments(("bomb.zip", "application/zip", bomb)))
    (attachment,) = mail.attachments
    assert (attachment.skipped, attachment.size) == (None, len(bomb))  # under the 10 MB default
    small = parse_incoming(
        corpus.with_attachments(("bomb.zip", "application/zip", bomb)),
        max_attachment_bytes=1_000_000,
    )
    assert small.attachments[0].skipped == "larger than the attachment limit"
    assert small.attachments[0].data == b""


def test_attachment_names_are_sanitised_or_made_up():
    raw = corpus.with_attachments(
        ("", "application/pdf", b"%PDF-1.4\n"),
        ("..\\..\\windows\\evil.exe", "application/octet-stream", b"MZ"),
        ("a" * 300 + ".docx", "application/octet-stream", b"x"),
        ("rtl\u202eexe.txt", "text/plain", b"x"),
    )
    names = [a.filename for a in parse_incoming(raw).attachments]
    assert names[0].startswith("attachment-") and names[0].endswith(".pdf")
    assert "\\" not in names[1] and "/" not in names[1] and not names[1].startswith(".")
    assert names[1].endswith("evil.exe")
    assert len(names[2]) <= 200 and names[2].endswith(".docx")
    assert "\u202e" not in names[3]


def test_rfc_2231_filenames_are_decoded():
    raw = corpus.crlf(
        "From: a@example.com\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n"
        "--b\nContent-Type: text/plain\n\nhi\n--b\nContent-Type: application/pdf\n"
        "Content-Disposition: attachment; filename*=utf-8''Pr%C3%BCfbericht%20M%C3%A4rz.pdf\n\n"
        "%PDF\n--b--\n"
    )
    assert parse_incoming(raw).attachments[0].filename == "Prüfbericht März.pdf"


def test_a_forwarded_message_is_an_attachment_not_the_body():
    inner = "From: x@example.com\nSubject: old\nMessage-ID: <inner@example.com>\n\nold text\n"
    raw = corpus.crlf(
        "From: a@example.com\nMessage-ID: <outer@example.com>\nMIME-Version: 1.0\n"
        "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\n"
        "See below.\n--b\nContent-Type: message/rfc822\n\n" + inner + "--b--\n"
    )
    mail = parse_incoming(raw)
    assert mail.message_id == "<outer@example.com>"
    assert mail.text == "See below."
    (attached,) = mail.attachments
    assert attached.filename.endswith(".eml") and b"<inner@example.com>" in attached.data


def test_over_max_bytes_and_headerless_input_are_unreadable():
    with pytest.raises(UnreadableMail) as caught:
        parse_incoming(corpus.GMAIL_REPLY_EN, max_bytes=100)
    assert "limit" in caught.value.reason
    for raw in (b"", b"just some text without any header", b"\r\n\r\nbody only"):
        with pytest.raises(UnreadableMail):
            parse_incoming(raw)
