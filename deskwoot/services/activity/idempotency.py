"""Idempotency keys for agent writes (ARCHITECTURE §6): a retry never double-posts.

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

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from deskwoot.database.prebuilt import Prebuilt
from deskwoot.database.transactions import write_transaction
from deskwoot.errors import Conflict, Invalid
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


# Bind names unlike the columns': SQLAlchemy reserves those in an UPDATE's WHERE.
_KEY = (
    (IdempotencyKey.workspace_id == bindparam("k_workspace_id"))
    & (IdempotencyKey.token_id == bindparam("k_token_id"))
    & (IdempotencyKey.key == bindparam("k_key"))
)
_EXISTING = Prebuilt(select(IdempotencyKey.fingerprint, IdempotencyKey.result).where(_KEY))
_CLAIM = Prebuilt(
    insert(IdempotencyKey).values(
        workspace_id=bindparam("k_workspace_id"),
        token_id=bindparam("k_token_id"),
        key=bindparam("k_key"),
        fingerprint=bindparam("fingerprint"),
        created_at=bindparam("created_at"),
    )
)
_STORE = Prebuilt(update(IdempotencyKey).where(_KEY).values(result=bindparam("result")))


def _replay(row, print_: str) -> Outcome:
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
            with write_transaction():
                which = {
                    "k_workspace_id": actor.workspace_id,
                    "k_token_id": actor.token_id,
                    "k_key": key,
                }
                row = _EXISTING.first(which)
                if row is not None:
                    outcome = _replay(row, print_)
                else:
                    # Claim the key before the effect: a concurrent duplicate waits here.
                    _CLAIM.run({**which, "fingerprint": print_, "created_at": utcnow()})
                    outcome = Outcome(effect(), False)
                    _STORE.run({**which, "result": outcome.result})
                if on_commit is not None:
                    on_commit(outcome)
            return outcome
        except IntegrityError:
            # Lost a race for the key on PostgreSQL: the winner has committed; replay it.
            if attempt:
                raise
    raise AssertionError("unreachable")
