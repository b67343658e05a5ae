"""Incoming mail: raw RFC 5322 bytes (from IMAP or the MTA pipe) → `IncomingMail`.

Everything in a message is written by a stranger, so this module assumes the worst: it never
raises anything but `UnreadableMail` (for input that is not mail at all), bounds the work any
input can cause (total size, header length, MIME depth and part count, attachment sizes,
text length), never keeps HTML (HTML-only mail is converted to text by inscriptis, which drops
scripts and styles), and returns only text that is safe to store (no NUL, no lone surrogate).
"""

from __future__ import annotations

import codecs
import hashlib
import logging
import mimetypes
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.policy import EmailPolicy
from email.utils import getaddresses, parsedate_to_datetime

import inscriptis
import puremagic
from mailparser_reply import EmailReplyParser

from deskwoot.channels.email import classify
from deskwoot.channels.email.classify import Bounce
from deskwoot.channels.email.identity import (
    normalise_message_id,
    parse_id_list,
    single_line,
)

log = logging.getLogger(__name__)

MAX_BYTES = 25 * 1024 * 1024
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
MAX_TOTAL_ATTACHMENT_BYTES = 25 * 1024 * 1024
MAX_DEPTH = 12  # MIME nesting; real mail rarely goes past 4
MAX_PARTS = 200
MAX_TEXT_CHARS = 500_000
MAX_HTML_CHARS = 2_000_000  # HTML fed to the converter; the rest is dropped
REPLY_SCAN_CHARS = 100_000  # text the reply parser reads (its regexes are not linear)
# Languages whose "On … wrote:" lines and signatures the reply parser knows.
REPLY_LANGUAGES = ("en", "de", "fr", "es", "it", "nl", "pl", "sv", "da", "cs", "ja", "ko", "zh")

# Structured parsing of a header by the stdlib is superlinear in its length; nothing legitimate
# needs more than this (the id headers are read raw by our own linear regexes instead).
_HEADER_CAP = 8_000
_RAW_HEADERS = frozenset({"message-id", "in-reply-to", "references", "return-path"})
_RAW_HEADER_CAP = 64_000
# The machine-readable parts of a delivery report: read by the bounce code, never shown as text.
_REPORT_PARTS = frozenset(
    {
        "message/delivery-status",
        "message/global-delivery-status",
        "text/rfc822-headers",
        "text/global-headers",
    }
)
_TEXT_UNSAFE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufeff\ufffe\uffff]")
_FILENAME_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*\u2028\u2029\u202a-\u202e\u2066-\u2069]')


class UnreadableMail(Exception):
    """Input that is not a usable message: too large, or no header at all. `reason` says why,
    in words fit for a log line; everything else, however broken, is parsed."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class _CappedPolicy(EmailPolicy):
    """policy.default, but header values are cut to a sane length before the stdlib's parser
    sees them, the id headers come back as raw text, and a header the parser chokes on comes
    back as raw text instead of an exception."""

    def header_fetch_parse(self, name, value):
        if hasattr(value, "name"):
            return value
        raw = "".join(value.splitlines())
        if name.lower() in _RAW_HEADERS:
            return _decode_surrogates(raw[:_RAW_HEADER_CAP])
        # Unlabelled 8-bit bytes are decoded here; the stdlib would make them all U+FFFD.
        raw = _decode_surrogates(raw[:_HEADER_CAP])
        try:
            return super().header_fetch_parse(name, raw)
        except Exception:  # any parser bug on hostile input
            return raw


_POLICY = _CappedPolicy()


@dataclass(frozen=True)
class Attachment:
    filename: str  # sanitised: no path, no control characters, at most 200 characters
    content_type: str  # as declared, 'maintype/subtype'
    sniffed_type: str | None  # from the first bytes, when recognisable
    size: int  # decoded bytes (estimated when skipped unread)
    data: bytes  # empty when skipped
    content_id: str | None = None  # for inline images referenced from HTML
    skipped: str | None = None  # why it was not kept (size limits); None when kept


@dataclass(frozen=True)
class IncomingMail:
    message_id: str  # normalised '<…>'; generated from the content when the mail has none
    message_id_generated: bool
    in_reply_to: str | None
    references: tuple[str, ...]
    from_address: str | None  # lower-cased
    from_name: str
    reply_to_address: str | None
    to: tuple[str, ...]
    cc: tuple[str, ...]
    subject: str  # decoded, one line, 'Re:' kept
    date: datetime | None
    text: str  # the whole text body (quoted history included), for teammates
    visible_text: str  # what the customer wrote this time: quotes and signature stripped
    from_html: bool  # the text was converted from an HTML-only body
    attachments: tuple[Attachment, ...]
    noise: tuple[str, ...]  # why not to auto-answer (RFC 3834); empty for a person's mail
    bounce: Bounce | None
    defects: tuple[str, ...] = field(default=())  # what was cut, skipped or repaired, for logs
    size: int = 0

    @property
    def is_auto_submitted(self) -> bool:
        return any(reason.startswith("auto-submitted") for reason in self.noise)

    @property
    def is_noise(self) -> bool:
        """Never auto-answer, never re-open a conversation with it (bounces included)."""
        return bool(self.noise) or self.bounce is not None


def _decode_surrogates(value: str) -> str:
    """Raw 8-bit header bytes (kept by the parser as surrogate escapes) as text: UTF-8 when
    they are, Windows-1252 otherwise (what unlabelled 8-bit headers almost always are)."""
    if not any("\udc80" <= ch <= "\udcff" for ch in value):
        return value
    data = value.encode("utf-8", "surrogateescape")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


def _safe_text(text: str, limit: int) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _TEXT_UNSAFE.sub("", text.encode("utf-8", "replace").decode("utf-8"))
    return text[:limit]


class _Reader:
    """One parse: the limits, what was found, and what went wrong along the way."""

    def __init__(self, *, max_attachment_bytes: int, max_total: int, max_depth: int, max_parts):
        self.max_attachment_bytes = max_attachment_bytes
        self.max_total = max_total
        self.max_depth = max_depth
        self.max_parts = max_parts
        self.parts = 0
        self.kept_bytes = 0
        self.plain: list[str] = []
        self.html: list[str] = []
        self.attachments: list[Attachment] = []
        self.defects: list[str] = []
        self.report: Message | None = None

    def defect(self, text: str) -> None:
        if text not in self.defects:
            self.defects.append(text)

    # -- structure -------------------------------------------------------------------------

    def walk(self, part: Message, depth: int = 0) -> None:
        self.parts += 1
        if self.parts > self.max_parts:
            self.defect(f"more than {self.max_parts} MIME parts; the rest ignored")
            return
        ctype = _content_type(part)
        if ctype == "multipart/report" and self.report is None:
            self.report = part
        if depth > 0 and ctype in ("message/rfc822", "message/global"):
            self.attachment(part, ctype)  # a forwarded or returned message: keep it whole
            return
        if part.is_multipart():
            if depth >= self.max_depth:
                self.defect(f"MIME nesting deeper than {self.max_depth}; inner parts ignored")
                return
            children = _children(part)
            if ctype == "multipart/alternative":
                children = _preferred_alternative(children)
            for child in children:
                self.walk(child, depth + 1)
            return
        if ctype in _REPORT_PARTS:
            return  # read by the bounce code, not a body
        if _is_attachment(part, ctype):
            self.attachment(part, ctype)
        elif ctype == "text/html":
            self.html.append(self.text_of(part))
        elif ctype.startswith("text/"):
            self.plain.append(self.text_of(part))

    # -- content ---------------------------------------------------------------------------

    def payload(self, part: Message) -> bytes:
        try:
            data = part.get_payload(decode=True)
        except Exception:  # broken transfer encodings
            self.defect("a part's transfer encoding could not be decoded")
            data = None
        if isinstance(data, bytes):
            return data
        raw = part.get_payload()
        return raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""

    def text_of(self, part: Message) -> str:
        data = self.payload(part)
        try:
            declared = part.get_content_charset()
        except Exception:
            declared = None
        return _safe_text(_decode(data, declared, self.defect), MAX_HTML_CHARS)

    def attachment(self, part: Message, ctype: str) -> None:
        filename = _filename(part, ctype, len(self.attachments) + 1)
        content_id = normalise_message_id(str(part.get("Content-ID") or "")) or None
        if ctype.startswith("message/"):
            try:
                data = part.get_payload(0).as_bytes(policy=_POLICY)
            except Exception:
                data = b""
        else:
            estimate = _estimated_size(part)
            if estimate > self.max_attachment_bytes:
                self.skip(filename, ctype, estimate, content_id, "larger than the attachment limit")
                return
            data = self.payload(part)
        if len(data) > self.max_attachment_bytes:
            self.skip(filename, ctype, len(data), content_id, "larger than the attachment limit")
        elif self.kept_bytes + len(data) > self.max_total:
            self.skip(filename, ctype, len(data), content_id, "over the total attachment limit")
        else:
            self.kept_bytes += len(data)
            self.attachments.append(
                Attachment(filename, ctype, _sniff(data), len(data), data, content_id)
            )

    def skip(self, filename, ctype, size, content_id, reason) -> None:
        self.defect(f"attachment {filename!r} skipped: {reason}")
        self.attachments.append(Attachment(filename, ctype, None, size, b"", content_id, reason))


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:
        return "application/octet-stream"


def _children(part: Message) -> list[Message]:
    payload = part.get_payload()
    return [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else []


def _preferred_alternative(children: list[Message]) -> list[Message]:
    """Of multipart/alternative, the plain text version when there is one (we store text),
    else the last (richest) one, per RFC 2046 order."""
    for child in children:
        if _content_type(child) == "text/plain":
            return [child]
    return children[-1:]


def _disposition(part: Message) -> str | None:
    try:
        return part.get_content_disposition()
    except Exception:
        return None


def _raw_filename(part: Message) -> str | None:
    try:
        return part.get_filename()
    except Exception:
        return None


def _is_attachment(part: Message, ctype: str) -> bool:
    if _disposition(part) == "attachment" or _raw_filename(part):
        return True
    return not ctype.startswith("text/")


def _estimated_size(part: Message) -> int:
    raw = part.get_payload()
    if not isinstance(raw, str):
        return 0
    encoding = str(part.get("Content-Transfer-Encoding") or "").strip().lower()
    return len(raw) * 3 // 4 if encoding == "base64" else len(raw)


def _filename(part: Message, ctype: str, number: int) -> str:
    name = _decode_surrogates(_raw_filename(part) or "")
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = " ".join(_FILENAME_UNSAFE.sub("_", name).split()).lstrip(".")
    if len(name) > 200:
        stem, dot, ext = name.rpartition(".")
        name = f"{stem[: 190 - len(ext)]}.{ext[:9]}" if dot and len(ext) <= 9 else name[:200]
    if not name:
        if ctype in ("message/rfc822", "message/global"):
            extension = ".eml"
        else:
            extension = mimetypes.guess_extension(ctype) or ".bin"
        name = f"attachment-{number}{extension}"
    return name


def _sniff(data: bytes) -> str | None:
    """The type the bytes say they are (magic numbers), whatever the sender declared."""
    if not data:
        return None
    try:
        return puremagic.from_string(data[:65536], mime=True) or None
    except Exception:  # PureError for unknown bytes, and any parser trouble
        return None


def _decode(data: bytes, declared: str | None, defect) -> str:
    """Bytes in their declared charset; an unknown or wrong one falls back to UTF-8, then to
    Windows-1252 (a superset of ISO-8859-1 in practice), with replacement characters."""
    if declared:
        try:
            if codecs.lookup(declared).name == "utf-7":
                raise LookupError  # UTF-7 smuggles markup past filters; treat as undeclared
            return data.decode(declared, errors="replace")
        except (LookupError, ValueError, TypeError):
            defect(f"unknown charset {single_line(declared, limit=40)!r}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def html_to_text(html: str) -> str:
    """Readable text from HTML (inscriptis: layout-aware, scripts and styles dropped)."""
    if not html.strip():
        return ""
    try:
        return inscriptis.get_text(html[:MAX_HTML_CHARS])
    except Exception:  # lxml on hostile markup
        log.info("mail HTML could not be converted to text")
        return ""


def visible_reply(text: str, languages=REPLY_LANGUAGES) -> str:
    """The part of a reply its sender wrote this time: quoted history (in any of `languages`'
    "On … wrote:" forms, Outlook headers, '>' blocks after them) and signatures removed. When
    nothing would be left (a reply that is all quote), the whole text."""
    if not text.strip():
        return ""
    try:
        message = EmailReplyParser(languages=list(languages)).read(text[:REPLY_SCAN_CHARS])
        replies = message.replies
        split = len(replies) > 1
        if len(text) > REPLY_SCAN_CHARS and not split:
            return text.strip()  # the history may start past what was scanned: keep it all
        visible = replies[0].body if replies else ""
    except Exception:  # a regex library on hostile text
        return text.strip()
    return visible.strip() or text.strip()


def _header(msg: Message):
    def read(name: str) -> str:
        try:
            value = msg.get(name)
        except Exception:
            return ""
        return single_line(str(value)) if value is not None else ""

    return read


def _addresses(msg: Message, name: str) -> list[tuple[str, str]]:
    """(display name, lower-cased address) pairs of an address header, however malformed."""
    try:
        value = msg.get(name)
    except Exception:
        value = None
    if value is None:
        return []
    pairs: list[tuple[str, str]] = []
    try:
        pairs = [(a.display_name, a.addr_spec) for a in value.addresses]  # type: ignore[union-attr]
    except Exception:  # raw text from the policy's fallback, or a parse bug
        pairs = getaddresses([str(value)])
    cleaned = []
    for display, addr in pairs[:200]:
        addr = single_line(addr, limit=320).lower()
        if "@" in addr and " " not in addr:
            cleaned.append((single_line(display, limit=200), addr))
    return cleaned


def _date(msg: Message) -> datetime | None:
    try:
        value = msg.get("Date")
        when = getattr(value, "datetime", None)
        return when or (parsedate_to_datetime(str(value)) if value else None)
    except Exception:
        return None


def _parse(raw: bytes, headersonly: bool) -> EmailMessage:
    return BytesParser(policy=_POLICY).parsebytes(raw, headersonly=headersonly)


def _structure_too_complex(raw: bytes, max_depth: int, max_parts: int) -> str | None:
    """The stdlib parser recurses once per nested container (and fails with RecursionError
    around a thousand levels), so count what could nest before letting it parse the body."""
    lowered = raw.lower()
    containers = lowered.count(b"boundary") + lowered.count(b"message/")
    if containers > max_parts or containers > 4 * max_depth + 50:
        return f"{containers} MIME containers"
    if lowered.count(b"\n--") > 20 * max_parts:
        return "too many MIME delimiters"
    return None


def parse_incoming(
    raw: bytes,
    *,
    max_bytes: int = MAX_BYTES,
    max_attachment_bytes: int = MAX_ATTACHMENT_BYTES,
    max_total_attachment_bytes: int = MAX_TOTAL_ATTACHMENT_BYTES,
    max_depth: int = MAX_DEPTH,
    max_parts: int = MAX_PARTS,
    own_addresses: frozenset[str] | set[str] | tuple[str, ...] = (),
    reply_languages: tuple[str, ...] = REPLY_LANGUAGES,
) -> IncomingMail:
    """Parse one message. Raises UnreadableMail only when `raw` is over `max_bytes` or has no
    header at all; any other damage is repaired or skipped and listed in `defects`."""
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise UnreadableMail(f"expected bytes, got {type(raw).__name__}")
    raw = bytes(raw)
    if len(raw) > max_bytes:
        raise UnreadableMail(f"message of {len(raw)} bytes is over the {max_bytes}-byte limit")
    try:
        return _parse_incoming(
            raw,
            max_attachment_bytes=max_attachment_bytes,
            max_total=max_total_attachment_bytes,
            max_depth=max_depth,
            max_parts=max_parts,
            own=frozenset(a.lower() for a in own_addresses),
            languages=reply_languages,
        )
    except UnreadableMail:
        raise
    except (RecursionError, MemoryError) as exc:  # a bomb the guards above did not foresee
        reason = f"message structure could not be parsed ({type(exc).__name__})"
        raise UnreadableMail(reason) from exc
    except Exception as exc:
        # A parser bug on some input we did not think of: refuse with a reason, do not crash
        # the worker; logged with the trace so it can be fixed.
        log.exception("unexpected error parsing incoming mail")
        raise UnreadableMail(f"message could not be parsed ({type(exc).__name__})") from exc


def _parse_incoming(raw, *, max_attachment_bytes, max_total, max_depth, max_parts, own, languages):
    top = _parse(raw, headersonly=True)
    if not top.keys():
        raise UnreadableMail("no headers")
    reader = _Reader(
        max_attachment_bytes=max_attachment_bytes,
        max_total=max_total,
        max_depth=max_depth,
        max_parts=max_parts,
    )
    top_type = _content_type(top)
    complex_reason = None
    if top_type.startswith(("multipart/", "message/")):
        complex_reason = _structure_too_complex(raw, max_depth, max_parts)
    if complex_reason:
        reader.defect(f"body not parsed: {complex_reason}")
        msg = top
    else:
        msg = _parse(raw, headersonly=False)
        for problem in msg.defects[:5]:
            reader.defect(f"MIME: {type(problem).__name__}")
        reader.walk(msg)

    header = _header(msg)
    if reader.plain:
        text, from_html = "\n\n".join(t.strip("\n") for t in reader.plain), False
    else:
        text = "\n\n".join(html_to_text(h) for h in reader.html)
        from_html = bool(reader.html)
    text = _safe_text(text, MAX_TEXT_CHARS).strip("\n")
    if len(text) == MAX_TEXT_CHARS:
        reader.defect(f"text cut at {MAX_TEXT_CHARS} characters")

    senders = _addresses(msg, "From") or _addresses(msg, "Sender")
    from_name, from_address = senders[0] if senders else ("", None)
    subject = header("Subject")
    reply_to = _addresses(msg, "Reply-To")
    bounce = _bounce(msg, reader, header, from_address, subject, text)

    message_id = normalise_message_id(header("Message-ID"))
    generated = message_id is None
    if message_id is None:
        # Stable across transports (IMAP and the pipe add different Received lines), so the
        # same mail fetched twice is still stored once.
        basis = "\0".join([from_address or "", header("To"), header("Date"), subject, text])
        message_id = f"<{hashlib.sha256(basis.encode()).hexdigest()[:40]}@generated.deskwoot>"

    return IncomingMail(
        message_id=message_id,
        message_id_generated=generated,
        in_reply_to=normalise_message_id(header("In-Reply-To")),
        references=tuple(parse_id_list(header("References"))),
        from_address=from_address,
        from_name=from_name,
        reply_to_address=reply_to[0][1] if reply_to else None,
        to=tuple(a for _, a in _addresses(msg, "To")),
        cc=tuple(a for _, a in _addresses(msg, "Cc")),
        subject=subject,
        date=_date(msg),
        text=text,
        visible_text=_safe_text(visible_reply(text, languages), MAX_TEXT_CHARS),
        from_html=from_html,
        attachments=tuple(reader.attachments),
        noise=tuple(classify.noise_reasons(header, from_address, own)),
        bounce=bounce,
        defects=tuple(reader.defects),
        size=len(raw),
    )


def _bounce(msg, reader: _Reader, header, from_address, subject, text) -> Bounce | None:
    report = reader.report
    if report is not None:
        try:
            report_type = str(report.get_param("report-type") or "").lower()
        except Exception:
            report_type = ""
        if report_type == "delivery-status":
            status_blocks: list[Message] = []
            returned: list[Message] = []
            returned_text = None
            for part in _children(report):
                ctype = _content_type(part)
                if ctype in ("message/delivery-status", "message/global-delivery-status"):
                    status_blocks = _children(part) or _header_blocks(part)
                elif ctype in ("message/rfc822", "message/global"):
                    returned = _children(part)
                elif ctype in ("text/rfc822-headers", "text/global-headers"):
                    returned_text = _decode(reader.payload(part), None, reader.defect)
            return classify.dsn_bounce(status_blocks, returned, returned_text)
    if classify.looks_like_text_bounce(header, from_address, subject):
        # The returned copy is in the text (Exim, qmail) or attached as a message (Exchange).
        returned = [a.data[:200_000].decode("utf-8", "replace") for a in reader.attachments]
        return classify.text_bounce("\n".join([text, *returned]))
    return None


def _header_blocks(part: Message) -> list[Message]:
    """A delivery-status body the parser left as text: its blank-line-separated blocks."""
    raw = part.get_payload()
    if not isinstance(raw, str):
        return []
    return [
        BytesParser(policy=_POLICY).parsebytes(block.encode("utf-8", "surrogateescape"))
        for block in re.split(r"\r?\n\r?\n", raw.strip())[:50]
        if block.strip()
    ]


# Bounce is re-exported so callers need only this module for the incoming side.
__all__ = ["Attachment", "Bounce", "IncomingMail", "UnreadableMail", "parse_incoming"]
