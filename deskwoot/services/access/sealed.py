"""Secrets Deskwoot must read back (SMTP/IMAP passwords, webhook signing secrets), sealed at rest.

Tokens and passwords people log in with are hashed; these cannot be, because the worker has
to present them to a mail server or sign with them. They are encrypted with Fernet (the
`cryptography` package: AES-128-CBC + HMAC-SHA256, authenticated, versioned) under a key
derived from SECRET_KEY with HKDF, so a copy of the database alone reveals nothing. A sealed
value reads "sealed:v1:<fernet token>"; changing SECRET_KEY makes old values unreadable
(`SealBroken`: the admin re-enters them in Settings), which is said in the README.
"""

from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

PREFIX = "sealed:v1:"


class SealBroken(Exception):
    """A sealed value that this SECRET_KEY cannot open (the key changed, or the row was edited)."""


@lru_cache(maxsize=4)
def _fernet(secret_key: str) -> Fernet:
    key = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=b"deskwoot sealed settings",
        info=b"fernet v1",
    ).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def _key(secret_key: str | None) -> Fernet:
    return _fernet(secret_key if secret_key is not None else current_app.config["SECRET_KEY"])


def seal(value: str | None, secret_key: str | None = None) -> str | None:
    """The value encrypted for storage (None stays None)."""
    if value is None:
        return None
    return PREFIX + _key(secret_key).encrypt(value.encode()).decode("ascii")


def unseal(stored: str | None, secret_key: str | None = None) -> str | None:
    """The plain value of a stored one. A value stored before sealing existed (no prefix) is
    returned as it is; migration 0007 sealed those, so only hand-edited rows have one."""
    if stored is None:
        return None
    if not stored.startswith(PREFIX):
        return stored
    try:
        return _key(secret_key).decrypt(stored[len(PREFIX) :].encode("ascii")).decode()
    except (InvalidToken, ValueError) as exc:
        raise SealBroken(
            "A stored credential cannot be decrypted with this server's SECRET_KEY "
            "(was it changed?). Enter it again in Settings → Inboxes."
        ) from exc


def is_sealed(stored: str | None) -> bool:
    return stored is not None and stored.startswith(PREFIX)
