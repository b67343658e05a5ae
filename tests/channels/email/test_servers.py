"""Mail server URLs and connections (channels/email/servers.py) against the real SMTP sink and
the run's dovecot: STARTTLS with a verified certificate, AUTH, a refused insecure login."""

from __future__ import annotations

import imaplib
import smtplib
import ssl

import pytest

from deskwoot.channels.email import servers
from deskwoot.channels.email.servers import IMAP_SCHEMES, SMTP_SCHEMES, BadServerUrl, parse_url


def test_urls_are_read_with_defaults_and_percent_decoding():
    url = parse_url("smtps://ada%40acme.test:p%3Ass@mail.acme.test", SMTP_SCHEMES)
    assert (url.host, url.port, url.user, url.password) == (
        "mail.acme.test",
        465,
        "ada@acme.test",
        "p:ss",
    )
    assert url.display() == "smtps://ada@acme.test@mail.acme.test:465"
    assert parse_url("smtp://mail.acme.test", SMTP_SCHEMES).port == 587
    imap = parse_url("imaps://u:p@imap.acme.test/Support%20Mail", IMAP_SCHEMES)
    assert (imap.port, imap.folder) == (993, "Support Mail")
    assert parse_url("imap://u:p@127.0.0.1:1143", IMAP_SCHEMES).folder == "INBOX"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "Enter the SMTP server"),
        ("http://mail.acme.test", "must start with smtp or smtps://"),
        ("smtp://:25", "no host"),
        ("smtp://mail.acme.test:99999", "bad port"),
        ("smtp://mail.acme.test\r\nX: y", "not valid"),
    ],
)
def test_bad_smtp_urls_say_what_is_wrong(url, message):
    with pytest.raises(BadServerUrl, match=message):
        parse_url(url, SMTP_SCHEMES)


def test_an_imap_url_needs_a_login():
    with pytest.raises(BadServerUrl, match="user and a password"):
        parse_url("imaps://imap.acme.test", IMAP_SCHEMES)


@pytest.mark.mail
def test_starttls_is_used_and_the_certificate_verified(app, make_smtp_sink):
    sink = make_smtp_sink(auth=("ada", "s3cret"), starttls=True)
    url = parse_url(f"smtp://ada:s3cret@{sink.host}:{sink.port}", SMTP_SCHEMES)
    with pytest.raises(ssl.SSLCertVerificationError):
        servers.smtp_connection(url, timeout=5)  # self-signed, not trusted yet
    app.config["MAIL_TLS_CAFILE"] = str(sink.cafile)
    smtp = servers.smtp_connection(url, timeout=5)
    try:
        assert smtp.sock.version() is not None  # the session is TLS
        smtp.sendmail("support@acme.test", ["john@example.com"], b"Subject: hi\r\n\r\nhello\r\n")
    finally:
        smtp.quit()
    assert len(sink.wait_for(1)) == 1


@pytest.mark.mail
def test_a_wrong_password_is_smtplibs_authentication_error(app, make_smtp_sink):
    sink = make_smtp_sink(auth=("ada", "s3cret"))
    url = parse_url(f"smtp://ada:wrong@{sink.host}:{sink.port}", SMTP_SCHEMES)
    with pytest.raises(smtplib.SMTPAuthenticationError):
        servers.smtp_connection(url, timeout=5)


@pytest.mark.mail
def test_credentials_are_never_sent_in_the_clear_to_a_remote_host(app, smtp_sink):
    # The sink offers no STARTTLS; "localhost" is loopback, so name it by a non-loopback alias:
    # the refusal happens before any AUTH command, so the address only has to answer EHLO.
    url = servers.ServerUrl("smtp", smtp_sink.host, smtp_sink.port, "ada", "pw", "INBOX")
    remote = servers.ServerUrl("smtp", "127.0.0.1", smtp_sink.port, "ada", "pw", "INBOX")
    assert url.loopback and remote.loopback

    # Pretend the host is remote by checking the rule on a ServerUrl subclass.
    class Remote(servers.ServerUrl):
        @property
        def loopback(self) -> bool:
            return False

    with pytest.raises(servers.InsecureLogin, match="in the clear"):
        servers.smtp_connection(Remote(*remote.__dict__.values()), timeout=5)


@pytest.mark.mail
def test_imap_login_over_plain_loopback_and_implicit_tls(app, imap_server):
    account = imap_server.account
    app.config["MAIL_TLS_CAFILE"] = account.cafile  # dovecot offers STARTTLS even on loopback
    url = parse_url(
        f"imap://{account.user}:{account.password}@{account.host}:{account.port}", IMAP_SCHEMES
    )
    imap = servers.imap_connection(url, timeout=5)
    try:
        assert imap.select("INBOX", readonly=True)[0] == "OK"
    finally:
        imap.logout()
    if imap_server.tls_account is not None:
        tls = imap_server.tls_account
        url = parse_url(f"imaps://{tls.user}:{tls.password}@{tls.host}:{tls.port}", IMAP_SCHEMES)
        imap = servers.imap_connection(url, timeout=5)
        imap.logout()
    bad = parse_url(f"imap://{account.user}:wrong@{account.host}:{account.port}", IMAP_SCHEMES)
    with pytest.raises(imaplib.IMAP4.error):
        servers.imap_connection(bad, timeout=5)
