"""The delivery tests' app: retries due at once (tests/delivery/desk.py); and the real SMTP
sink (tests/mail_servers.py) for the email channel's tests."""

from tests.delivery.desk import app_config  # noqa: F401 (a fixture, found by name)
from tests.mail_servers import make_smtp_sink, smtp_sink  # noqa: F401 (fixtures, found by name)
