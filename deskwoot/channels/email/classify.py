"""Loop and noise protection (RFC 3834) and bounces (RFC 3464), read from a parsed message.

A help desk that answers an auto-reply, a mailing list or a bounce starts a mail loop; these
functions say which incoming mail must never be auto-answered or re-threaded, and which is a
delivery failure of one of our own messages. They read headers only through the capped, safe
accessors parse.py hands them, and never raise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message

from deskwoot.channels.email.identity import normalise_message_id, single_line

BULK_PRECEDENCE = frozenset({"bulk", "list", "junk"})
_DAEMON_LOCALPARTS = frozenset({"mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon"})
# Subjects of non-standard (Exim, qmail, Exchange, older Postfix) bounces, in a few languages.
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|delivery (?:status notification|failure|failed|has failed)|returned mail|"
    r"failure notice|mail delivery (?:failed|system)|non-?delivery|could not be delivered|"
    r"unzustellbar|nicht zustellbar|non remis|no entregado|non recapitato",
    re.IGNORECASE,
)
_STATUS = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
_HEADER_ID = re.compile(r"^[ \t]*message-id:[ \t]*(\S[^\r\n]*)", re.IGNORECASE | re.MULTILINE)
# Exim: "  user@example.com\n    host mx... said: 550 ..."; qmail: "<user@example.com>:\n..."
_EXIM_FAILED = re.compile(
    r"following address(?:\(es\)|es)? failed:\s*\n\s*\n?\s*<?([^\s<>@]+@[^\s<>]+)>?[^\n]*\n"
    r"((?:[ \t]+\S[^\n]*\n?){0,4})",
    re.IGNORECASE,
)
_QMAIL_FAILED = re.compile(r"^<([^\s<>@]+@[^\s<>]+)>:\s*\n([^\n]{0,500})", re.MULTILINE)
_MAX_SCAN = 200_000  # characters of a text bounce searched for the returned headers


@dataclass(frozen=True)
class Bounce:
    """A delivery failure report about a message we sent."""

    original_message_id: str | None  # the Message-ID of the message that bounced
    status: str | None  # RFC 3463 code, '5.1.1'
    diagnostic: str | None  # the remote server's words, '550 5.1.1 user unknown'
    recipient: str | None
    action: str = "failed"  # 'failed' or 'delayed' (RFC 3464 Action); delayed is not final

    @property
    def permanent(self) -> bool:
        return self.action == "failed" and not (self.status or "").startswith("4.")


def _value(raw: str | None) -> str:
    """'rfc822; user@example.com' → 'user@example.com' (the address-type prefix dropped)."""
    text = single_line(raw, limit=500)
    return text.split(";", 1)[1].strip() if ";" in text else text


def noise_reasons(header, from_address: str | None, own_addresses: frozenset[str]) -> list[str]:
    """Why a message must not be auto-answered; empty for mail a person wrote to us.

    `header(name)` returns a header's value as one safe line, or '' when absent."""
    reasons = []
    auto = header("Auto-Submitted").split(";", 1)[0].strip().lower()
    if auto and auto != "no":
        reasons.append(f"auto-submitted: {auto}")
    precedence = header("Precedence").strip().lower()
    if precedence in BULK_PRECEDENCE:
        reasons.append(f"precedence: {precedence}")
    if header("X-Auto-Response-Suppress").strip():
        reasons.append("x-auto-response-suppress")
    if header("X-Autoreply").strip() or header("X-Autorespond").strip():
        reasons.append("x-autoreply")
    if header("List-Id").strip() or header("List-Unsubscribe").strip():
        reasons.append("mailing list")
    if from_address and from_address.lower() in own_addresses:
        reasons.append("from our own address")
    return reasons


def looks_like_text_bounce(header, from_address: str | None, subject: str) -> bool:
    """A bounce without an RFC 3464 report: from the mailer daemon (or with the null
    Return-Path) and a subject that says so. Auto-replies have a null Return-Path too, which
    is why the subject must agree."""
    local = (from_address or "").rpartition("@")[0].lower()
    from_daemon = local in _DAEMON_LOCALPARTS or (from_address or "").lower() in _DAEMON_LOCALPARTS
    null_path = header("Return-Path").replace(" ", "") == "<>"
    return (from_daemon or null_path) and bool(_BOUNCE_SUBJECT.search(subject))


def _returned_id(parts: list[Message], returned_text: str | None) -> str | None:
    for part in parts:
        try:
            value = part.get("Message-ID")
        except Exception:  # a hostile header must not stop the report
            value = None
        if value:
            return normalise_message_id(str(value))
    if returned_text:
        match = _HEADER_ID.search(returned_text[:_MAX_SCAN])
        if match:
            return normalise_message_id(match.group(1))
    return None


def dsn_bounce(status_blocks: list[Message], returned: list[Message], returned_text: str | None):
    """A Bounce from a multipart/report: the delivery-status blocks (per-message, then one per
    recipient) and the returned message or its headers."""
    chosen = None
    for block in status_blocks[1:] or status_blocks:
        action = _value(block.get("Action")).lower()
        if chosen is None or action == "failed":
            chosen = block
        if action == "failed":
            break
    status = diagnostic = recipient = None
    action = "failed"
    if chosen is not None:
        match = _STATUS.search(_value(chosen.get("Status")))
        status = match.group(1) if match else None
        diagnostic = _value(chosen.get("Diagnostic-Code")) or None
        recipient = _value(chosen.get("Final-Recipient") or chosen.get("Original-Recipient"))
        action = _value(chosen.get("Action")).lower() or "failed"
    return Bounce(
        original_message_id=_returned_id(returned, returned_text),
        status=status,
        diagnostic=diagnostic,
        recipient=recipient or None,
        action="delayed" if action in {"delayed", "relayed", "delivered", "expanded"} else "failed",
    )


def text_bounce(text: str) -> Bounce:
    """Best effort for Exim/qmail-style bounces: the failed recipient, the server's words, a
    status code if one is quoted, and the Message-ID of the returned copy."""
    text = text[:_MAX_SCAN]
    recipient = diagnostic = None
    match = _EXIM_FAILED.search(text) or _QMAIL_FAILED.search(text)
    if match:
        recipient = match.group(1).lower()
        diagnostic = single_line(match.group(2), limit=500) or None
    status = _STATUS.search(diagnostic or text)
    return Bounce(
        original_message_id=_returned_id([], text),
        status=status.group(1) if status else None,
        diagnostic=diagnostic,
        recipient=recipient,
    )
