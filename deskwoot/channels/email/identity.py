"""Message identity and threading: Message-IDs, References chains, reply subjects, markers.

Shared by compose (what we send) and parse (what arrives), so both sides agree on what an id
looks like. Every function here is pure and total: any string in, a safe value (or None) out.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

# References grows by one id per message in a thread; mail clients and servers cope badly with
# very long ones (some truncate the header), so keep the thread's root and the most recent ones.
MAX_REFERENCES = 20
# RFC 5322 sets no limit, but a database column and a header line need one; longer ids are
# replaced by a digest of themselves, which is still stable for threading.
MAX_ID_CHARS = 250

_BRACKETED = re.compile(r"<([^<>\s]+)>")
_BARE = re.compile(r"[^<>\s]+")
# Printable ASCII without whitespace, brackets or a second '@': safe to put in a header as is.
_SAFE_ID = re.compile(r"<[!-;=?-~]+@[!-;=?-~]+>")
_OWN_ID = re.compile(r"<deskwoot\.m(\d{1,18})\.([A-Za-z0-9_-]{1,64})@[^<>\s]+>")
_UID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")

# Reply and forward prefixes as mail clients write them in several languages: Re, Aw (German),
# Sv (Scandinavian), Antw (Dutch), Odp (Polish), Vs (Finnish), R/Rif (Italian), Fwd, Fw,
# Wg (German), Tr (French), Enc (Portuguese); "Re[2]:" and "Re(2):" counters; a bracketed tag
# such as "[#123]" or "[Acme]" between two prefixes goes with them ("Re: [#1] Re: x").
_PREFIX = re.compile(
    r"^\s*(?:(?:\[[^\]\n]{1,40}\]\s*)*"
    r"(?:re|aw|sv|antw|odp|vs|r|rif|fwd?|wg|tr|enc)\s*(?:\[\d+\]|\(\d+\))?\s*[:：]\s*)+",
    re.IGNORECASE,
)
_MARKER = re.compile(r"\[#(\d{1,12})\]")


def _digest_id(text: str) -> str:
    return f"<{hashlib.sha256(text.encode('utf-8', 'replace')).hexdigest()[:40]}@deskwoot.invalid>"


def _clean_id(token: str) -> str | None:
    token = _CONTROL.sub("", token).strip("<> ")
    if not token:
        return None
    if len(token) > MAX_ID_CHARS or not token.isascii():
        return _digest_id(token)
    return f"<{token}>"


def normalise_message_id(value: str | None) -> str | None:
    """The first message id in a header value, as '<local@domain>'; None when there is none.

    Accepts ids without angle brackets (some mailers write them so); case is kept, because
    the local part of an id is case-sensitive. Over-long or non-ASCII ids become a digest.
    """
    if not value:
        return None
    bracketed = _BRACKETED.search(value)
    if bracketed:
        return _clean_id(bracketed.group(1))
    bare = _BARE.search(value)
    return _clean_id(bare.group(0)) if bare else None


def parse_id_list(value: str | None, *, cap: int = MAX_REFERENCES) -> list[str]:
    """Every bracketed id in a References/In-Reply-To value, in order, without repeats, capped."""
    ids: list[str] = []
    seen: set[str] = set()
    for match in _BRACKETED.finditer(value or ""):
        cleaned = _clean_id(match.group(1))
        if cleaned and cleaned not in seen:
            seen.add(cleaned)
            ids.append(cleaned)
    return cap_references(ids, cap)


def cap_references(ids: list[str], cap: int = MAX_REFERENCES) -> list[str]:
    """Keep the thread's root (the first id) and the most recent ones (RFC 5322 §3.6.4)."""
    if len(ids) <= cap:
        return ids
    return [ids[0], *ids[len(ids) - cap + 1 :]] if cap > 1 else ids[-cap:]


def references_chain(references: list[str] | tuple[str, ...], in_reply_to: str | None) -> list[str]:
    """The References of a reply: the parent's chain, then the parent itself, most recent last."""
    chain = [i for i in (normalise_message_id(r) for r in references) if i]
    parent = normalise_message_id(in_reply_to)
    if parent:
        chain = [i for i in chain if i != parent] + [parent]
    deduplicated = list(dict.fromkeys(chain))
    return cap_references(deduplicated)


def is_safe_id(message_id: str) -> bool:
    """Whether an id can go into an outgoing header verbatim (no spaces, controls, non-ASCII)."""
    return bool(_SAFE_ID.fullmatch(message_id))


def safe_domain(domain: str) -> str:
    """A domain for an id or an address, IDNA-encoded; ValueError when it is not one."""
    try:
        ascii_domain = domain.strip().rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError as exc:
        raise ValueError(f"not a domain name: {domain!r}") from exc
    if not _DOMAIN.fullmatch(ascii_domain) or len(ascii_domain) > 253:
        raise ValueError(f"not a domain name: {domain!r}")
    return ascii_domain


def message_id_for(message_id: int, inbox_uid: str, domain: str) -> str:
    """The Message-ID of our outgoing message `message_id`: the same on every delivery attempt,
    so a redelivery after a crash carries the same identity and receivers drop the duplicate."""
    uid = _UID_UNSAFE.sub("", inbox_uid)[:64] or "inbox"
    return f"<deskwoot.m{int(message_id)}.{uid}@{safe_domain(domain)}>"


@dataclass(frozen=True)
class OwnMessageRef:
    message_id: int
    inbox_uid: str


def own_message_ref(value: str | None) -> OwnMessageRef | None:
    """Which of our messages an id names, when it is one message_id_for made (for threading
    a customer's reply and matching a bounce to the message that bounced)."""
    match = _OWN_ID.fullmatch(normalise_message_id(value) or "")
    return OwnMessageRef(int(match.group(1)), match.group(2)) if match else None


def single_line(value: str | None, *, limit: int = 998) -> str:
    """A value fit for one header line: control characters (CR, LF, NUL, tab…) and Unicode
    line separators become spaces, runs of whitespace collapse, ends are stripped."""
    text = (value or "").encode("utf-8", "replace").decode("utf-8")  # lone surrogates → '?'
    text = " ".join(_CONTROL.sub(" ", text).split())
    return text[:limit].rstrip()


def strip_reply_prefixes(subject: str) -> str:
    """'Re: AW: Fwd: Printer' → 'Printer' (also 'Re[2]:' and full-width colons)."""
    return _PREFIX.sub("", subject, count=1).strip()


def subject_marker(display_id: int) -> str:
    """The conversation marker put in subjects when an inbox is configured to: '[#123]'."""
    return f"[#{int(display_id)}]"


def find_subject_marker(subject: str | None) -> int | None:
    """The display id of the first '[#123]' marker in a subject (the threading fallback)."""
    match = _MARKER.search(subject or "")
    return int(match.group(1)) if match else None


def reply_subject(original: str | None, marker: str | None = None) -> str:
    """'Re: <original>' without stacking prefixes; a marker is appended unless present."""
    base = strip_reply_prefixes(single_line(original))
    if marker and marker not in base:
        base = f"{base} {marker}".strip()
    return f"Re: {base}" if base else "Re:"
