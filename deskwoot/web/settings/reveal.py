"""Secrets shown exactly once, after a redirect (POST → redirect → GET).

Minting a token or an inbox secret used to render the secret as the POST's own response, so
reloading that page posted the form again and minted a second secret. Now the POST puts the
raw secret in the session for exactly one read and redirects; the GET page takes it out
(which rewrites the cookie without it) and shows it. Reloading finds nothing and says so.

The session is Flask's signed cookie (web/cookie_session.py): signed, not encrypted, so the
secret sits, base64-encoded, in the admin's own browser between the POST and the very next
page. That is the browser it is about to be shown in anyway; it never reaches the database,
the logs or the audit trail, and it leaves the cookie on the first read.
"""

from __future__ import annotations

from typing import Any

from flask import g, session

SESSION_KEY = "reveal_once"


def _key(kind: str, object_id: int) -> str:
    # The workspace is part of the key: a secret is only ever shown back in the workspace
    # (and for the object) it was made for.
    return f"{g.workspace.id}:{kind}:{object_id}"


def stash(kind: str, object_id: int, secret: Any) -> None:
    """Keep `secret` (a string, or a small JSON-able dict such as a link and whom it is for)
    for exactly one read by `take`, on the page the POST redirects to."""
    pending = dict(session.get(SESSION_KEY) or {})
    pending[_key(kind, object_id)] = secret
    session[SESSION_KEY] = pending


def take(kind: str, object_id: int) -> Any:
    """The stashed secret, removed from the session as it is read; None once shown."""
    pending = dict(session.get(SESSION_KEY) or {})
    secret = pending.pop(_key(kind, object_id), None)
    if secret is not None:
        if pending:
            session[SESSION_KEY] = pending
        else:
            session.pop(SESSION_KEY, None)
    return secret
