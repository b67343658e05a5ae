"""Mail server connections: how Deskwoot talks TLS to the servers an inbox's URLs name
(the URLs are read by services/directory/mail_urls.py, re-exported here):

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
import smtplib
import ssl

from flask import current_app, has_app_context

# The URLs themselves are read by the inbox service's parser, re-exported here for the
# channel's callers: one parser for Settings and the worker.
from deskwoot.services.directory.mail_urls import (  # noqa: F401 (re-exported)
    IMAP_SCHEMES,
    SMTP_SCHEMES,
    BadServerUrl,
    ServerUrl,
    parse_url,
)


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
