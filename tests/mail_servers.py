"""Real mail servers for the email channel's tests: an SMTP sink and the test run's IMAP server.

- SMTP: `SmtpSink`, an aiosmtpd server in a thread of the test process on 127.0.0.1 (random
  port) that records every message it accepts (envelope and raw bytes). It can be told to
  answer 4xx or 5xx to the next N messages (`fail_next`), be stopped and started again on the
  same port (`stop`/`start`: a server that is down for a while), require AUTH with one
  login and password, and offer STARTTLS with a self-signed certificate. Fixtures:
  `smtp_sink` (a plain sink) and `make_smtp_sink(auth=…, starttls=…)`.
- IMAP: Debian's dovecot, started for the whole run by scripts/test.sh through
  scripts/dovecot-instance.sh, which exports DESKWOOT_TEST_IMAP_URL
  (imap://USER:PASSWORD@127.0.0.1:PORT/INBOX), DESKWOOT_TEST_IMAPS_URL (implicit TLS),
  DESKWOOT_TEST_IMAP_CA (its self-signed certificate) and DESKWOOT_TEST_IMAP_URL_2 (a second
  account). The SQLite and PostgreSQL runs share it, so a test works in its own folder
  (`imap_mailbox`, deleted afterwards) rather than in INBOX. Without DESKWOOT_TEST_IMAP_URL the
  IMAP tests are skipped — unless DESKWOOT_TEST_REQUIRE_MAIL is set (scripts/test.sh sets it),
  in which case they fail: under `make test` a missing server is an error, not a skip.

Tests that use either carry the `mail` marker (`make check` deselects them). Load the fixtures
with `from tests.mail_servers import …` in a conftest.py (tests/channels/conftest.py does).
"""

from __future__ import annotations

import imaplib
import os
import secrets
import socket
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass, replace
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

HOST = "127.0.0.1"

# --- SMTP ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedMail:
    """One message the sink accepted."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes  # the message as transmitted (dot-unstuffed), CRLF line ends
    login: str | None  # the AUTH login of the session, when it authenticated
    peer: tuple = ()  # the client's (host, port): one per SMTP connection

    def parsed(self) -> EmailMessage:
        return BytesParser(policy=policy.default).parsebytes(self.data)


class _Controller(Controller):
    """aiosmtpd's Controller binds the port it is given and then connects to it to check the
    server is up, so port 0 would not work: bind the socket here and remember its port."""

    def _create_server(self):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.hostname, self.port))
        except OSError:
            sock.close()
            raise
        self.port = sock.getsockname()[1]
        return self.loop.create_server(self._factory_invoker, sock=sock, ssl=self.ssl_context)


class SmtpSink:
    """An SMTP server that keeps what it receives; see the module docstring."""

    def __init__(
        self,
        *,
        auth: tuple[str, str] | None = None,
        tls_context: ssl.SSLContext | None = None,
        cafile: Path | None = None,
    ):
        self.host = HOST
        self.port = 0  # chosen at the first start, kept across restarts
        self.auth = auth
        self.cafile = cafile  # the certificate to trust for STARTTLS
        self.received: list[ReceivedMail] = []
        self._tls_context = tls_context
        self._failures: list[tuple[int, str]] = []
        self._lock = threading.Lock()
        self._controller: _Controller | None = None

    # -- control -----------------------------------------------------------------------------

    def start(self) -> SmtpSink:
        if self._controller is not None:
            return self
        options = {}
        if self.auth is not None:
            options.update(
                authenticator=self._authenticate,
                auth_required=True,
                auth_require_tls=False,  # plain AUTH on loopback keeps the fault tests simple
            )
        if self._tls_context is not None:
            options["tls_context"] = self._tls_context
        controller = _Controller(
            _Handler(self), hostname=self.host, port=self.port, ready_timeout=10, **options
        )
        controller.start()
        self.port = controller.port
        self._controller = controller
        return self

    def stop(self) -> None:
        """Close the port: connections are refused until `start` opens it again."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def fail_next(self, count: int = 1, code: int = 451, text: str | None = None) -> None:
        """Answer DATA of the next `count` messages with `code` (4xx: try again later, 5xx:
        rejected) instead of accepting them; they are not recorded."""
        if not 400 <= code <= 599:
            raise ValueError("a failure code is 4xx or 5xx")
        if text is None:
            text = (
                "4.3.0 Temporary failure, try again later"
                if code < 500
                else "5.7.1 Message rejected"
            )
        with self._lock:
            self._failures.extend([(code, text)] * count)

    def messages(self) -> list[ReceivedMail]:
        with self._lock:
            return list(self.received)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[ReceivedMail]:
        """The received messages once there are at least `count` (for senders in another
        thread or process); AssertionError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.messages()
            if len(got) >= count or time.monotonic() > deadline:
                assert len(got) >= count, f"the SMTP sink got {len(got)} of {count} messages"
                return got
            time.sleep(0.05)

    # -- server side (called in the server's thread) -----------------------------------------

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = (
            self.auth is not None
            and isinstance(auth_data, LoginPassword)
            and (auth_data.login, auth_data.password)
            == (self.auth[0].encode(), self.auth[1].encode())
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    def _take(self, envelope, session) -> str:
        with self._lock:
            if self._failures:
                code, text = self._failures.pop(0)
                return f"{code} {text}"
            login = session.auth_data.login.decode() if session.auth_data else None
            self.received.append(
                ReceivedMail(
                    mail_from=envelope.mail_from,
                    rcpt_tos=tuple(envelope.rcpt_tos),
                    data=bytes(envelope.original_content or envelope.content),
                    login=login,
                    peer=tuple(session.peer or ()),
                )
            )
        return "250 2.0.0 OK: queued"


class _Handler:
    def __init__(self, sink: SmtpSink):
        self.sink = sink

    async def handle_DATA(self, server, session, envelope):
        return self.sink._take(envelope, session)


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, made with openssl: (cert, key)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec",
            "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def make_smtp_sink(tmp_path):
    """make_smtp_sink(auth=("user", "password"), starttls=True) → a started SmtpSink; all of
    them are stopped after the test."""
    sinks: list[SmtpSink] = []

    def make(*, auth: tuple[str, str] | None = None, starttls: bool = False) -> SmtpSink:
        tls_context = cafile = None
        if starttls:
            folder = tmp_path / f"smtp-tls-{len(sinks)}"
            folder.mkdir()
            cafile, key = self_signed_certificate(folder)
            tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            tls_context.load_cert_chain(cafile, key)
        sink = SmtpSink(auth=auth, tls_context=tls_context, cafile=cafile)
        sinks.append(sink)
        return sink.start()

    yield make
    for sink in sinks:
        sink.stop()


@pytest.fixture
def smtp_sink(make_smtp_sink) -> SmtpSink:
    """A running SMTP sink without AUTH or TLS."""
    return make_smtp_sink()


# --- IMAP ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImapAccount:
    host: str
    port: int
    user: str
    password: str
    folder: str = "INBOX"
    tls: bool = False  # implicit TLS (imaps://)
    cafile: str | None = None  # the certificate to trust for TLS

    @classmethod
    def from_url(cls, url: str, cafile: str | None = None) -> ImapAccount:
        parts = urlsplit(url)
        if parts.scheme not in ("imap", "imaps") or not parts.hostname or not parts.username:
            raise ValueError(f"not an imap[s]://USER:PASSWORD@HOST:PORT/FOLDER URL: {url!r}")
        tls = parts.scheme == "imaps"
        return cls(
            host=parts.hostname,
            port=parts.port or (993 if tls else 143),
            user=unquote(parts.username),
            password=unquote(parts.password or ""),
            folder=unquote(parts.path.lstrip("/")) or "INBOX",
            tls=tls,
            cafile=cafile,
        )

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.cafile)

    def connect(self, *, login: bool = True) -> imaplib.IMAP4:
        """A new session (logged in unless told otherwise); the caller logs out."""
        if self.tls:
            imap = imaplib.IMAP4_SSL(
                self.host, self.port, ssl_context=self.ssl_context(), timeout=10
            )
        else:
            imap = imaplib.IMAP4(self.host, self.port, timeout=10)
        if login:
            try:
                imap.login(self.user, self.password)
            except BaseException:
                imap.shutdown()
                raise
        return imap


@dataclass(frozen=True)
class ImapServer:
    """The run's dovecot: its first account over plain IMAP and implicit TLS, a second one."""

    account: ImapAccount
    tls_account: ImapAccount | None
    other_account: ImapAccount | None


def _imap_server_from_environment() -> ImapServer:
    url = os.environ.get("DESKWOOT_TEST_IMAP_URL")
    if not url:
        if os.environ.get("DESKWOOT_TEST_REQUIRE_MAIL"):
            pytest.fail(
                "no IMAP server: scripts/test.sh could not start dovecot "
                "(scripts/dovecot-instance.sh; see its output above the test logs)"
            )
        pytest.skip(
            "no IMAP server (DESKWOOT_TEST_IMAP_URL unset): scripts/test.sh starts one; by hand, "
            "start scripts/dovecot-instance.sh and set DESKWOOT_TEST_IMAP_URL="
            "imap://$IMAP_USER:$IMAP_PASSWORD@127.0.0.1:$IMAP_PORT/INBOX from what it prints"
        )
    cafile = os.environ.get("DESKWOOT_TEST_IMAP_CA") or None
    tls_url = os.environ.get("DESKWOOT_TEST_IMAPS_URL")
    other_url = os.environ.get("DESKWOOT_TEST_IMAP_URL_2")
    return ImapServer(
        account=ImapAccount.from_url(url, cafile),
        tls_account=ImapAccount.from_url(tls_url, cafile) if tls_url else None,
        other_account=ImapAccount.from_url(other_url, cafile) if other_url else None,
    )


@pytest.fixture(scope="session")
def imap_server() -> ImapServer:
    """The run's IMAP server; skipped or failed as the module docstring says. Reachable and
    accepting the account's login, or the test fails."""
    server = _imap_server_from_environment()
    try:
        server.account.connect().logout()
    except (OSError, imaplib.IMAP4.error) as exc:
        pytest.fail(f"the IMAP server at {server.account.host}:{server.account.port}: {exc!r}")
    return server


def expect_ok(result: tuple[str, list]) -> list:
    status, data = result
    assert status == "OK", f"IMAP said {status}: {data!r}"
    return data


@pytest.fixture
def imap_mailbox(imap_server) -> ImapAccount:
    """The first account with `folder` set to a new, empty folder of this test's own
    (the two test runs share the server); the folder is deleted after the test."""
    folder = f"DeskwootTest-{secrets.token_hex(6)}"
    with imap_server.account.connect() as imap:
        expect_ok(imap.create(folder))
    yield replace(imap_server.account, folder=folder)
    with imap_server.account.connect() as imap:
        imap.delete(folder)
