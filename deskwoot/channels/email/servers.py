"""Mail server URLs and connections: the one place that knows smtp://, smtps://, imap:// and
imaps:// and how Deskwoot talks TLS to them.

An inbox stores one URL per server, credentials inside (sealed at rest:
services/access/sealed.py):

    smtp://USER:PASSWORD@HOST:587     STARTTLS when the server offers it (refused otherwise
                                      when there are credentials: they would go in the clear,
                                      unless the host is a loopback address)
    smtps://USER:PASSWORD@HOST:465    TLS from the first byte
    imaps://USER:PASSWORD@HOST:993/FOLDER   (imap:// with STARTTLS when offered)

USER and PASSWORD are percent-encoded (an '@' in a login is %40). Certificates are verified
against the system's trust store, plus MAIL_TLS_CAFILE when set (a private CA; the tests'
self-signed servers). Nothing here retries or touches the database: callers map the errors
(smtp.py's outcomes, the poller's state, the Settings test buttons' messages).
"""

from __future__ import annotations

import contextlib
import imaplib
import ipaddress
import smtplib
import ssl
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from flask import current_app, has_app_context

SMTP_SCHEMES = ("smtp", "smtps")
IMAP_SCHEMES = ("imap", "imaps")


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
    """Read a server URL; BadServerUrl says what is wrong."""
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
    defaults = {"smtp": 587, "smtps": 465, "imap": 143, "imaps": 993}
    folder = unquote(parts.path.lstrip("/")) or "INBOX"
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if kind == "IMAP" and (not user or password is None):
        raise BadServerUrl("The IMAP URL needs both a user and a password.")
    return ServerUrl(scheme, host, port or defaults[scheme], user, password, folder)


def tls_context() -> ssl.SSLContext:
    cafile = current_app.config.get("MAIL_TLS_CAFILE") if has_app_context() else None
    context = ssl.create_default_context()
    if cafile:
        context.load_verify_locations(cafile=cafile)
    return context


class InsecureLogin(Exception):
    """The server offers no TLS and the URL carries credentials for a non-loopback host."""


def smtp_connection(server: ServerUrl, timeout: float) -> smtplib.SMTP:
    """A connected, EHLO'd, TLS-protected (unless loopback without credentials or TLS offer)
    and logged-in SMTP session; the caller quits it. smtplib's exceptions pass through."""
    if server.implicit_tls:
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(
            server.host, server.port, timeout=timeout, context=tls_context()
        )
    else:
        smtp = smtplib.SMTP(server.host, server.port, timeout=timeout)
    try:
        smtp.ehlo()
        if not server.implicit_tls:
            if smtp.has_extn("starttls"):
                smtp.starttls(context=tls_context())
                smtp.ehlo()
            elif server.user and not server.loopback:
                raise InsecureLogin(
                    f"{server.host} offers no STARTTLS, so the password would be sent in the "
                    "clear; use smtps:// or a server that offers STARTTLS."
                )
        if server.user:
            smtp.login(server.user, server.password or "")
    except BaseException:
        smtp.close()
        raise
    return smtp


def imap_connection(server: ServerUrl, timeout: float) -> imaplib.IMAP4:
    """A connected, TLS-protected (as for SMTP) and logged-in IMAP session; the caller logs
    out. imaplib's exceptions pass through."""
    if server.implicit_tls:
        imap: imaplib.IMAP4 = imaplib.IMAP4_SSL(
            server.host, server.port, ssl_context=tls_context(), timeout=timeout
        )
    else:
        imap = imaplib.IMAP4(server.host, server.port, timeout=timeout)
    try:
        if not server.implicit_tls:
            if "STARTTLS" in imap.capabilities:
                imap.starttls(ssl_context=tls_context())
            elif not server.loopback:
                raise InsecureLogin(
                    f"{server.host} offers no STARTTLS, so the password would be sent in the "
                    "clear; use imaps://."
                )
        imap.login(server.user or "", server.password or "")
    except BaseException:
        with contextlib.suppress(OSError):  # the socket may be gone (a failed TLS handshake)
            imap.shutdown()
        raise
    return imap
