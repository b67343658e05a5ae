"""One poll of an IMAP mailbox: take the messages that arrived since the last poll, in order.

The mailbox's state is two numbers the caller keeps (services/delivery/mailbox_polls.py):
UIDVALIDITY, the generation of the folder's UIDs, and the last UID taken. A poll SELECTs the
URL's folder; when UIDVALIDITY changed (the folder was recreated, the server restored) every
UID means something new, so it starts over from UID 1 — the Message-ID dedupe keeps that from
storing anything twice. It asks for `UID SEARCH UID last+1:*` and keeps only UIDs above the
last one (a server answers "n:*" with the highest UID even when that is below n), fetches each
with BODY.PEEK[] (not marking it read before it is stored), hands the bytes to `receive`,
flags it \\Seen, and calls `advance` after EACH message, so a crash re-reads at most one.

No database here (ARCHITECTURE §12): `receive` and `advance` are the caller's. `receive`
answers what to do with the message; either may raise `Stop` to end the poll without taking
the message (the database is unavailable, the lease was lost). Server and network errors end
the poll too, with the reason in `PollResult.error`.
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field

from deskwoot.channels.email.servers import (
    IMAP_SCHEMES,
    BadServerUrl,
    InsecureLogin,
    imap_connection,
    parse_url,
)

log = logging.getLogger(__name__)

BATCH = 50  # messages taken per poll; the next poll takes the rest
_UIDVALIDITY = re.compile(rb"UIDVALIDITY (\d+)", re.IGNORECASE)


class Stop(Exception):
    """Raised by a callback: end the poll now, without taking the current message."""


@dataclass(frozen=True)
class Taken:
    """What `receive` made of one message: a line for the log, and whether to flag it
    \\Seen (False leaves it unread in the mailbox for a person to look at)."""

    summary: str
    seen: bool = True


@dataclass
class PollResult:
    uidvalidity: int | None = None
    last_uid: int = 0
    taken: list[tuple[int, str]] = field(default_factory=list)  # (UID, summary)
    error: str | None = None  # why the poll stopped early; None when it ran through
    more: bool = False  # there is more than one batch waiting


_SERVER_ERRORS = (OSError, imaplib.IMAP4.error, ssl.SSLError, InsecureLogin, EOFError)


def poll(
    url: str,
    *,
    uidvalidity: int | None,
    last_uid: int,
    receive: Callable[[bytes], Taken],
    advance: Callable[[int, int], None],
    timeout: float,
    batch: int = BATCH,
) -> PollResult:
    """Poll the mailbox at `url` once; see the module docstring."""
    result = PollResult(uidvalidity=uidvalidity, last_uid=last_uid)
    try:
        server = parse_url(url, IMAP_SCHEMES)
    except BadServerUrl as exc:
        result.error = str(exc)
        return result
    try:
        imap = imap_connection(server, timeout)
    except _SERVER_ERRORS as exc:
        result.error = f"{server.display()}: {_describe(exc)}"
        return result
    try:
        _take(imap, server.folder, result, receive, advance, batch)
    except Stop as exc:
        result.error = str(exc) or "stopped"
    except _SERVER_ERRORS as exc:
        result.error = f"{server.display()}: {_describe(exc)}"
    finally:
        with contextlib.suppress(*_SERVER_ERRORS):  # the connection may be gone already
            imap.logout()
    return result


def _take(imap, folder: str, result: PollResult, receive, advance, batch: int) -> None:
    status, data = imap.select(_quoted(folder))
    if status != "OK":
        raise imaplib.IMAP4.error(f"cannot open folder {folder!r}: {_text(data)}")
    validity = _uidvalidity(imap, folder)
    if result.uidvalidity is not None and validity != result.uidvalidity:
        log.warning(
            "IMAP folder %r: UIDVALIDITY changed from %s to %s; reading it again from the start",
            folder,
            result.uidvalidity,
            validity,
        )
        result.last_uid = 0
    result.uidvalidity = validity
    status, data = imap.uid("SEARCH", None, f"UID {result.last_uid + 1}:*")
    if status != "OK":
        raise imaplib.IMAP4.error(f"search failed: {_text(data)}")
    found = {int(n) for n in b" ".join(d for d in data if d).split() if n.isdigit()}
    uids = sorted(uid for uid in found if uid > result.last_uid)
    result.more = len(uids) > batch
    for uid in uids[:batch]:
        raw = _fetch(imap, uid)
        if raw is None:
            summary = "gone (expunged before it was fetched)"
        else:
            taken = receive(raw)
            summary = taken.summary
            if taken.seen:
                imap.uid("STORE", str(uid), "+FLAGS", "(\\Seen)")
        advance(validity, uid)
        result.last_uid = uid
        result.taken.append((uid, summary))


def _fetch(imap, uid: int) -> bytes | None:
    status, data = imap.uid("FETCH", str(uid), "(BODY.PEEK[])")
    if status != "OK":
        raise imaplib.IMAP4.error(f"fetching UID {uid} failed: {_text(data)}")
    for item in data or ():
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes):
            return item[1]
    return None


def _uidvalidity(imap, folder: str) -> int:
    _, data = imap.response("UIDVALIDITY")
    for item in data or ():
        if isinstance(item, bytes) and item.strip().isdigit():
            return int(item)
    # Not announced on SELECT (rare): ask for it.
    status, data = imap.status(_quoted(folder), "(UIDVALIDITY)")
    match = _UIDVALIDITY.search(b" ".join(d for d in data if isinstance(d, bytes)))
    if status != "OK" or not match:
        raise imaplib.IMAP4.error("the server did not say the folder's UIDVALIDITY")
    return int(match.group(1))


def _quoted(folder: str) -> str:
    """A folder name as an IMAP quoted string (imaplib sends arguments as given)."""
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _text(data) -> str:
    parts = [d.decode("utf-8", "replace") if isinstance(d, bytes) else str(d) for d in data or ()]
    return " ".join(parts)[:300]


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, TimeoutError):
        text = "timed out"
    elif isinstance(exc, ConnectionRefusedError):
        text = "connection refused"
    return text[:500]
