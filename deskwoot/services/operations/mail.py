"""Outgoing mail: one pluggable sender, so features that email people are built once.

Deskwoot does not send mail yet. Features that would (password resets, invitations) build
their `Message` and call `send`; with no sender registered that is a no-op that answers
False, and each feature falls back to what works without mail (a link shown to the admin, a
CLI command for the operator). An SMTP sender registers itself with `register_sender` at app
start; tests register one that captures the messages.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app

log = logging.getLogger(__name__)

EXTENSION = "deskwoot_mail_sender"


@dataclass(frozen=True)
class Message:
    to: str
    subject: str
    body: str


Sender = Callable[[Message], None]


def register_sender(app, sender: Sender | None) -> None:
    """Install (or with None, remove) the app's mail sender."""
    if sender is None:
        app.extensions.pop(EXTENSION, None)
    else:
        app.extensions[EXTENSION] = sender


def configured() -> bool:
    """Whether outgoing mail works: features that only make sense with it (forgot password)
    are hidden until it does."""
    return current_app.extensions.get(EXTENSION) is not None


def send(message: Message) -> bool:
    """Hand the message to the sender; False when there is none or it failed (the caller then
    falls back to its mail-less way, and a failure is logged, never shown to the recipient)."""
    sender = current_app.extensions.get(EXTENSION)
    if sender is None:
        return False
    try:
        sender(message)
    except Exception:
        log.exception("Sending mail to %s failed", message.to)
        return False
    return True


def link(path: str) -> str:
    """An absolute link into this Deskwoot, for mail and the CLI (PUBLIC_URL + path)."""
    return f"{current_app.config['PUBLIC_URL']}{path}"
