"""Issue 13's acceptance tests, end to end with real parts only: a live Deskwoot (the browser
tests' werkzeug server, CSRF on) on the test's database, the delivery worker in-process on the
same database, `deskwoot email receive` as a subprocess, the run's dovecot (IMAP over
implicit TLS) and an aiosmtpd sink that wants STARTTLS and AUTH (tests/mail_servers.py).

The server and the worker trust one CA file holding both servers' self-signed certificates.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from tests import mail_servers
from tests.browser.conftest import (  # noqa: F401 (fixtures and the report hook, by name)
    live_server,
    live_server_app,
    page,
    page_log,
    pytest_runtest_makereport,
)
from tests.e2e_email.desk import SMTP_LOGIN
from tests.mail_servers import ImapAccount, SmtpSink

# The real mail servers' fixtures (tests/mail_servers.py), found by name.
imap_server = mail_servers.imap_server
imap_mailbox = mail_servers.imap_mailbox
make_smtp_sink = mail_servers.make_smtp_sink


@pytest.fixture
def sink(make_smtp_sink) -> SmtpSink:
    """The inbox's SMTP server: STARTTLS and AUTH, as a real provider's submission port."""
    return make_smtp_sink(auth=SMTP_LOGIN, starttls=True)


@pytest.fixture
def ca_bundle(sink, tmp_path):
    """The certificates the mail servers present, in one file for MAIL_TLS_CAFILE."""
    pems = [sink.cafile.read_text()]
    imap_ca = os.environ.get("DESKWOOT_TEST_IMAP_CA")
    if imap_ca:
        pems.append(Path(imap_ca).read_text())
    bundle = tmp_path / "mail-ca.pem"
    bundle.write_text("\n".join(pems))
    return bundle


@pytest.fixture
def app_config(app_config, ca_bundle):
    # The worker polls every email inbox at each pass and retries at once; both the live
    # server and the worker's app are built from this.
    return {
        **app_config,
        "MAIL_TLS_CAFILE": str(ca_bundle),
        "MAIL_TIMEOUT": 10,
        "IMAP_POLL_INTERVAL": 0,
        "DELIVERY_BACKOFF_BASE": 0,
    }


@pytest.fixture
def mailbox(imap_server, imap_mailbox) -> ImapAccount:
    """This test's IMAP folder, reached over implicit TLS (imaps://) when the server has it."""
    if imap_server.tls_account is None:
        return imap_mailbox
    return replace(imap_server.tls_account, folder=imap_mailbox.folder)
