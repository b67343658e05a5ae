"""Idempotency keys for agent writes (DESIGN §5.6): a retry never double-posts.

Same token + same key + same arguments → the stored result is replayed and nothing new is
written. Same key + different arguments → Conflict, nothing written. Concurrent duplicates →
exactly one effect: the key row is inserted before the effect in the same transaction, so the
loser waits on the unique index (PostgreSQL) or on the write lock (SQLite) and then replays.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from deskwoot.database import write_transaction
from deskwoot.errors import Conflict, Invalid
from deskwoot.extensions import db
from deskwoot.models import IdempotencyKey, utcnow
from deskwoot.policy import Actor


@dataclass
class Outcome:
    result: dict
    replayed: bool


def check_key(key) -> str:
    if not isinstance(key, str) or not 1 <= len(key) <= 255 or not key.isprintable():
        raise Invalid(
            "idempotency_key must be 1-255 printable characters.", field="idempotency_key"
        )
    return key


def fingerprint(action: str, arguments: dict) -> str:
    canonical = json.dumps(
        {
            "action": action,
            "arguments": {k: v for k, v in arguments.items() if k != "idempotency_key"},
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def _existing(actor: Actor, key: str) -> IdempotencyKey | None:
    return db.session.execute(
        select(IdempotencyKey).where(
            IdempotencyKey.workspace_id == actor.workspace_id,
            IdempotencyKey.token_id == actor.token_id,
            IdempotencyKey.key == key,
        )
    ).scalar_one_or_none()


def _replay(row: IdempotencyKey, print_: str) -> Outcome:
    if row.fingerprint != print_:
        raise Conflict(
            "This idempotency_key was already used with different arguments. Use a new key "
            "for a new action, or resend the original arguments to get the original result.",
            reason="idempotency_mismatch",
        )
    return Outcome(row.result or {}, True)


def run_once(
    actor: Actor,
    action: str,
    key: str,
    arguments: dict,
    effect: Callable[[], dict],
    on_commit: Callable[[Outcome], None] | None = None,
) -> Outcome:
    """Run `effect` once per (token, key); `on_commit` adds rows (audit) to the same transaction."""
    key = check_key(key)
    print_ = fingerprint(action, arguments)
    for attempt in range(2):
        try:
            with write_transaction() as session:
                row = _existing(actor, key)
                if row is not None:
                    outcome = _replay(row, print_)
                else:
                    row = IdempotencyKey(
                        workspace_id=actor.workspace_id,
                        token_id=actor.token_id,
                        key=key,
                        fingerprint=print_,
                        created_at=utcnow(),
                    )
                    session.add(row)
                    session.flush()  # claim the key before the effect
                    outcome = Outcome(effect(), False)
                    row.result = outcome.result
                if on_commit is not None:
                    on_commit(outcome)
            return outcome
        except IntegrityError:
            # Lost a race for the key on PostgreSQL: the winner has committed; replay it.
            if attempt:
                raise
    raise AssertionError("unreachable")
