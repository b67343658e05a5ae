"""The real mail servers (tests/mail_servers.py) for the channel tests."""

from tests.mail_servers import (  # noqa: F401 (fixtures, found by name)
    imap_mailbox,
    imap_server,
    make_smtp_sink,
    smtp_sink,
)
