"""The Settings test buttons (and `deskwoot inbox test`): send a test message through an
inbox's SMTP server, look into its IMAP mailbox, and say in one sentence how it went.

Plain values in (the saved settings, in the clear), a `Probe` out; no database. Sending goes
through smtp.py's `send_message`, so the sentence an admin reads here is the one the worker
would record on a reply. Nothing here raises for anything a server or the network does.
"""

from __future__ import annotations

import contextlib
import imaplib
import re
import secrets
import socket
import ssl
from dataclasses import dataclass

from deskwoot.channels.email.compose import OutgoingMail, UnsendableMail, compose_new
from deskwoot.channels.email.identity import safe_domain
from deskwoot.channels.email.servers import (
    IMAP_SCHEMES,
    SMTP_SCHEMES,
    BadServerUrl,
    InsecureLogin,
    imap_connection,
    parse_url,
)
from deskwoot.channels.email.smtp import send_message
from deskwoot.channels.outcomes import Delivered

SERVER_WORDS = 300  # of a server's own text kept in a sentence
_EXISTS = re.compile(rb"^\d+$")


@dataclass(frozen=True)
class Probe:
    ok: bool
    message: str


def send_test(
    smtp_url: str | None,
    *,
    inbox_address: str | None,
    inbox_name: str,
    to_address: str,
    timeout: float,
) -> Probe:
    """Send "Deskwoot test from <inbox>" From the inbox's address to `to_address`."""
    if not smtp_url:
        return Probe(False, "No SMTP server is saved for this inbox.")
    if not inbox_address:
        return Probe(False, "No email address is saved for this inbox.")
    try:
        server = parse_url(smtp_url, SMTP_SCHEMES)
        domain = safe_domain(inbox_address.rpartition("@")[2])
        message = compose_new(
            OutgoingMail(
                inbox_address=inbox_address,
                sender_display=inbox_name,
                to_address=to_address,
                subject=f"Deskwoot test from {inbox_name}",
                body_text=(
                    f"This is a test message from the Deskwoot inbox {inbox_name} "
                    f"<{inbox_address}>.\n\nIf you can read it, the inbox's SMTP settings work."
                ),
                message_id=f"<deskwoot.test.{secrets.token_hex(8)}@{domain}>",
                inbox_name=inbox_name,
                auto_submitted="auto-generated",
            )
        )
    except (BadServerUrl, UnsendableMail, ValueError) as exc:
        return Probe(False, f"Cannot send a test: {exc}")
    outcome = send_message(smtp_url, message, timeout=timeout)
    if isinstance(outcome, Delivered):
        return Probe(True, f"Sent to {to_address} via {server.host}:{server.port}.")
    return Probe(False, outcome.reason.rstrip(".") + ".")


def _said(data) -> str:
    """The server's own words from an imaplib error or response."""
    items = data if isinstance(data, list | tuple) else [data]
    words = [d.decode("utf-8", "replace") if isinstance(d, bytes) else str(d) for d in items]
    return " ".join(" ".join(words).split())[:SERVER_WORDS]


def _quoted(folder: str) -> str:
    """A mailbox name as an IMAP quoted string (imaplib sends arguments as they are)."""
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def check_mailbox(imap_url: str | None, timeout: float) -> Probe:
    """Log in, SELECT the folder read-only and count: "<folder>: N messages, M unseen"."""
    if not imap_url:
        return Probe(False, "No IMAP mailbox is saved for this inbox.")
    try:
        server = parse_url(imap_url, IMAP_SCHEMES)
    except BadServerUrl as exc:
        return Probe(False, f"The inbox's IMAP settings are not usable: {exc}")
    where = f"{server.host}:{server.port}"
    try:
        imap = imap_connection(server, timeout)
    except imaplib.IMAP4.abort as exc:  # a subclass of error: the connection broke
        return Probe(False, f"The IMAP server at {where} broke off: {_said(exc.args)}")
    except imaplib.IMAP4.error as exc:
        return Probe(False, f"The IMAP server at {where} refused the login: {_said(exc.args)}")
    except InsecureLogin as exc:
        return Probe(False, str(exc))
    except ssl.SSLCertVerificationError as exc:
        return Probe(
            False,
            f"The IMAP server at {where} has a certificate that does not verify: "
            f"{exc.verify_message}.",
        )
    except ConnectionRefusedError:
        return Probe(False, f"The IMAP server at {where} refused the connection.")
    except socket.gaierror:
        return Probe(False, f"The IMAP server's name {server.host} could not be resolved.")
    except TimeoutError:
        return Probe(False, f"The IMAP server at {where} did not answer within {timeout:g} s.")
    except OSError as exc:
        return Probe(False, f"Could not talk to the IMAP server at {where}: {exc!s}"[:400])
    try:
        return _count(imap, server.folder, where)
    except (OSError, imaplib.IMAP4.error) as exc:
        return Probe(False, f"The IMAP server at {where} broke off: {exc!s}"[:400])
    finally:
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            imap.logout()


def _count(imap: imaplib.IMAP4, folder: str, where: str) -> Probe:
    status, data = imap.select(_quoted(folder), readonly=True)
    if status != "OK":
        return Probe(False, f"The folder '{folder}' cannot be opened on {where}: {_said(data)}")
    total = int(data[0]) if data and isinstance(data[0], bytes) and _EXISTS.match(data[0]) else 0
    status, data = imap.search(None, "UNSEEN")
    unseen = len(data[0].split()) if status == "OK" and data and data[0] else 0
    plural = "" if total == 1 else "s"
    return Probe(True, f"{folder}: {total} message{plural}, {unseen} unseen.")
