"""channels/email/smtp.py gaps found while wiring the email deliverer, against the real sink."""

from __future__ import annotations

import pytest

from deskwoot.channels.email.smtp import send_message
from deskwoot.channels.outcomes import Failed
from tests.channels.email.test_smtp import mail

pytestmark = pytest.mark.mail


def test_a_login_to_a_server_without_auth_fails_at_once(app, smtp_sink):
    outcome = send_message(f"smtp://ada:pw@{smtp_sink.host}:{smtp_sink.port}", mail(), timeout=5)
    assert outcome == Failed(
        f"The mail server at {smtp_sink.host}:{smtp_sink.port} cannot log in ada: "
        "SMTP AUTH extension not supported by server."
    )
    assert smtp_sink.messages() == []
