"""Mail server URLs: the one parser for smtp://, smtps://, imap:// and imaps://.

An email inbox stores one URL per server, credentials inside (sealed at rest:
services/access/sealed.py):

    smtp://USER:PASSWORD@HOST:587     STARTTLS when the server offers it
    smtps://USER:PASSWORD@HOST:465    TLS from the first byte
    imaps://USER:PASSWORD@HOST:993/FOLDER   (imap:// with STARTTLS when offered)

USER and PASSWORD are percent-encoded (an '@' in a login is %40). It lives with the inbox
service, which checks what an admin types before sealing it, and channels/email/servers.py
(which opens the connections) reads URLs through it too: one parser, so a URL Settings
accepts is one the worker can use (ARCHITECTURE §1: services never import the channels).
Pure: no network, no database.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

SMTP_SCHEMES = ("smtp", "smtps")
IMAP_SCHEMES = ("imap", "imaps")
DEFAULT_PORTS = {"smtp": 587, "smtps": 465, "imap": 143, "imaps": 993}


class BadServerUrl(ValueError):
    """A URL that names no usable server; the message says what is wrong, for a form."""


@dataclass(frozen=True)
class ServerUrl:
    scheme: str
    host: str
    port: int
    user: str | None
    password: str | None
    folder: str  # IMAP only: the mailbox to poll ("INBOX" unless the path names another)

    @property
    def implicit_tls(self) -> bool:
        return self.scheme.endswith("s")

    @property
    def loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    def display(self) -> str:
        """The URL without the password, for logs and messages."""
        who = f"{self.user}@" if self.user else ""
        path = f"/{self.folder}" if self.scheme in IMAP_SCHEMES else ""
        return f"{self.scheme}://{who}{self.host}:{self.port}{path}"


def parse_url(url: str | None, schemes: tuple[str, ...]) -> ServerUrl:
    """Read a server URL; BadServerUrl says what is wrong (never repeating the URL, which
    may hold a password)."""
    text = (url or "").strip()
    kind = "SMTP" if schemes == SMTP_SCHEMES else "IMAP"
    example = (
        "smtps://USER:PASSWORD@HOST:465 or smtp://USER:PASSWORD@HOST:587"
        if kind == "SMTP"
        else "imaps://USER:PASSWORD@HOST:993/INBOX"
    )
    if not text:
        raise BadServerUrl(f"Enter the {kind} server as {example}.")
    if len(text) > 2000 or any(ord(c) < 32 for c in text):
        raise BadServerUrl(f"That {kind} URL is not valid; use {example}.")
    parts = urlsplit(text)
    if parts.scheme.lower() not in schemes:
        raise BadServerUrl(f"The {kind} URL must start with {' or '.join(schemes)}://")
    try:
        port = parts.port
        host = parts.hostname
    except ValueError as exc:
        raise BadServerUrl(f"That {kind} URL has a bad port: {exc}.") from None
    if not host:
        raise BadServerUrl(f"The {kind} URL has no host; use {example}.")
    scheme = parts.scheme.lower()
    folder = unquote(parts.path.lstrip("/")) or "INBOX"
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if kind == "IMAP" and (not user or password is None):
        raise BadServerUrl("The IMAP URL needs both a user and a password.")
    return ServerUrl(scheme, host, port or DEFAULT_PORTS[scheme], user, password, folder)
