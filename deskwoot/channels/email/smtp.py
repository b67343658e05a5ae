"""Send one email over SMTP and say how it went, as the worker's Outcome.

The delivery worker's email deliverer and the Settings "send a test" button both call
`send_message`, so a teammate reads the same sentence in both places. What retries and what
fails at once (ARCHITECTURE §12):

- Retry: SMTP 4xx (the server's "try again later", greylisting, a full mailbox queue), the
  connection refused, reset or timed out, a TLS handshake cut off — the server may be back soon.
- Failed: SMTP 5xx (a refused recipient or sender, a message refused as spam, a wrong password:
  535), a login the server offers no AUTH for, a certificate that does not verify, a password
  that would go in the clear, a URL that names no server — sending again without someone
  changing something would fail the same way.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
import threading
import time
from email.message import EmailMessage

from deskwoot.channels.email.servers import (
    SMTP_SCHEMES,
    BadServerUrl,
    InsecureLogin,
    ServerUrl,
    parse_url,
    smtp_connection,
)
from deskwoot.channels.outcomes import Delivered, Failed, Outcome, Retry

REPLY_CHARS = 300  # of the server's own text kept in a reason


def _said(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {' '.join(text.split())}"[:REPLY_CHARS]


def _by_code(code: int, what: str) -> Outcome:
    if 400 <= code < 500:
        return Retry(f"{what} (the server asked to try again later)")
    return Failed(what)


def _timed_out(exc: BaseException) -> bool:
    # smtplib turns a socket timeout while reading a reply into SMTPServerDisconnected.
    return isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError)


def send_message(
    server_url: str | None, message: EmailMessage, timeout: float, *, reuse: bool = False
) -> Outcome:
    """Send `message` (its From/To headers give the envelope) through the SMTP server at
    `server_url`. Never raises for anything the network or the server does. With `reuse` (the
    delivery worker), a session left open by the previous delivery to the same server is used
    and this one is left open for the next (`close_sessions` ends them)."""
    try:
        server = parse_url(server_url, SMTP_SCHEMES)
    except BadServerUrl as exc:
        return Failed(f"The inbox's SMTP settings are not usable: {exc}")
    smtp = _SESSIONS.take(server_url) if reuse else None
    if smtp is None:
        opened = _open(server, timeout)
        if not isinstance(opened, smtplib.SMTP):
            return opened
        smtp = opened
    outcome = _send(smtp, message, f"{server.host}:{server.port}")
    if reuse and isinstance(outcome, Delivered):
        _SESSIONS.keep(server_url, smtp)
    else:
        _quit(smtp)
    return outcome


def _quit(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()


class _Sessions:
    """SMTP sessions the delivery worker keeps open between deliveries to one server.

    Opening one costs a TCP connection, EHLO, often a TLS handshake and a login — several round
    trips to a remote relay, far more than sending a reply — so a backlog of replies through
    one server goes through one session. A kept session is checked with NOOP before it is
    used again (a server may have closed it meanwhile) and dropped after IDLE_S unused. A
    worker is one thread; gunicorn's processes never reuse (the Settings test button opens
    its own session every time)."""

    IDLE_S = 30.0

    def __init__(self) -> None:
        self._open: dict[str, tuple[smtplib.SMTP, float]] = {}
        self._lock = threading.Lock()

    def take(self, url: str) -> smtplib.SMTP | None:
        with self._lock:
            entry = self._open.pop(url, None)
        if entry is None:
            return None
        smtp, last_used = entry
        if time.monotonic() - last_used > self.IDLE_S:
            _quit(smtp)
            return None
        try:
            code, _ = smtp.noop()
        except (OSError, smtplib.SMTPException):
            smtp.close()
            return None
        if code != 250:
            _quit(smtp)
            return None
        return smtp

    def keep(self, url: str, smtp: smtplib.SMTP) -> None:
        with self._lock:
            previous = self._open.pop(url, None)
            self._open[url] = (smtp, time.monotonic())
        if previous is not None:
            _quit(previous[0])

    def close(self) -> None:
        with self._lock:
            sessions, self._open = list(self._open.values()), {}
        for smtp, _ in sessions:
            _quit(smtp)


_SESSIONS = _Sessions()


def close_sessions() -> None:
    """End the sessions kept for reuse (the worker calls it when the outbox is empty and when
    it stops)."""
    _SESSIONS.close()


def _open(server: ServerUrl, timeout: float) -> smtplib.SMTP | Outcome:
    """A ready session, or the Outcome that says why there is none."""
    where = f"{server.host}:{server.port}"
    try:
        return smtp_connection(server, timeout)
    except smtplib.SMTPAuthenticationError as exc:
        return Failed(
            f"The mail server at {where} refused the login: {_said(exc.smtp_code, exc.smtp_error)}"
        )
    except InsecureLogin as exc:
        return Failed(str(exc))
    except ssl.SSLCertVerificationError as exc:
        return Failed(
            f"The mail server at {where} has a certificate that does not verify: "
            f"{exc.verify_message}"
        )
    except smtplib.SMTPResponseException as exc:
        return _by_code(
            exc.smtp_code, f"The mail server at {where} said {_said(exc.smtp_code, exc.smtp_error)}"
        )
    except smtplib.SMTPNotSupportedError as exc:
        # The URL has a login but the server offers no AUTH: asking again will not change that.
        return Failed(f"The mail server at {where} cannot log in {server.user}: {exc}")
    except ConnectionRefusedError:
        return Retry(f"The mail server at {where} refused the connection")
    except socket.gaierror as exc:
        return Retry(f"The mail server's name {server.host} could not be resolved: {exc.strerror}")
    except (OSError, smtplib.SMTPException) as exc:
        if _timed_out(exc):
            return Retry(f"The mail server at {where} did not answer within {timeout:g} s")
        if type(exc) is smtplib.SMTPException:
            # smtplib's own verdict, not a network fault ("No suitable authentication method
            # found": the server's AUTH mechanisms are none it speaks).
            return Failed(f"The mail server at {where} cannot log in {server.user}: {exc}")
        return Retry(f"Could not talk to the mail server at {where}: {exc!s}"[:REPLY_CHARS])


def _send(smtp: smtplib.SMTP, message: EmailMessage, where: str) -> Outcome:
    try:
        refused = smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        code, text = next(iter(exc.recipients.values()))
        return _by_code(code, f"The mail server refused the recipient: {_said(code, text)}")
    except smtplib.SMTPSenderRefused as exc:
        return _by_code(
            exc.smtp_code,
            f"The mail server refused the sender {exc.sender}: "
            f"{_said(exc.smtp_code, exc.smtp_error)}",
        )
    except smtplib.SMTPDataError as exc:
        return _by_code(
            exc.smtp_code,
            f"The mail server refused the message: {_said(exc.smtp_code, exc.smtp_error)}",
        )
    except smtplib.SMTPResponseException as exc:
        return _by_code(
            exc.smtp_code, f"The mail server said {_said(exc.smtp_code, exc.smtp_error)}"
        )
    except (OSError, smtplib.SMTPException) as exc:
        if _timed_out(exc):
            return Retry(f"The mail server at {where} stopped answering while sending")
        return Retry(f"The connection to {where} broke while sending: {exc!s}"[:REPLY_CHARS])
    if refused:  # some recipients refused: we send to one, so this only happens with Cc
        code, text = next(iter(refused.values()))
        return Failed(f"The mail server refused a recipient: {_said(code, text)}")
    return Delivered()
