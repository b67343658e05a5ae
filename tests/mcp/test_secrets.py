"""A token's plaintext is shown once and then lives nowhere (ARCHITECTURE §3): not in the database
(file bytes, WAL, any table), not in the server log, not in audit rows. Only prefix…last4."""

from __future__ import annotations

import re
from pathlib import Path

import httpx2
import pytest
from sqlalchemy import inspect, select, text

from deskwoot.extensions import db
from deskwoot.models import AuditEntry
from deskwoot.services.access import tokens
from deskwoot.services.access.random_secrets import digest
from tests import factories as f
from tests.mcp.conftest import MODES, connect, make_desk
from tests.mcp.helpers import CHALLENGE, fails, fresh, ok, raw_call, run, token_row

TOKEN_RE = re.compile(r"dw_mcp_[0-9A-Za-z]{38}")


pytestmark = pytest.mark.usefixtures("fresh_session")


def secret_fragments(token: str) -> list[str]:
    """The plaintext, and every 10-character window of its secret part past the displayed
    prefix: none of them may be stored or logged."""
    shown = len(tokens.PREFIX) + 4
    hidden = token[shown:-4]
    return [token, hidden] + [hidden[i : i + 10] for i in range(len(hidden) - 9)]


def altered(token: str) -> list[str]:
    """Near misses: a wrong checksum (rejected before the DB), and a well-formed unknown
    token (the random part changed, checksum recomputed, so it reaches the lookup)."""
    last = token[-1]
    bad_checksum = token[:-1] + ("A" if last != "A" else "B")
    body = token[len(tokens.PREFIX) : len(tokens.PREFIX) + tokens.RANDOM_LEN]
    body = body[:-1] + ("x" if body[-1] != "x" else "y")
    unknown = tokens.PREFIX + body + tokens._checksum(body)
    assert tokens.well_formed(unknown) and not tokens.well_formed(bad_checksum)
    return [bad_checksum, unknown]


def use(url: str, token: str, conversation_id: int) -> None:
    """Successful calls, business failures and a replay in both eras, then near-miss 401s."""

    async def main():
        for mode in MODES:
            async with connect(url, token, mode) as client:
                await ok(client, "whoami")
                await ok(client, "list_conversations", {"limit": 1})
                await fails(client, "get_conversation", {"conversation_id": 987654})
                args = {
                    "conversation_id": conversation_id,
                    "body": f"hi ({mode})",
                    "idempotency_key": f"secret-{mode}",
                }
                await ok(client, "reply_to_conversation", args)
                await ok(client, "reply_to_conversation", args)
                await fails(
                    client,
                    "update_conversation",
                    {"conversation_id": conversation_id, "add_labels": ["nope"]},
                )
        async with httpx2.AsyncClient(timeout=30) as http:
            for wrong in altered(token):
                response = await raw_call(http, url, wrong, "whoami", {})
                assert response.status_code == 401
                assert response.headers["WWW-Authenticate"] == CHALLENGE
                assert wrong not in response.text and token not in response.text

    run(main)


def table_dump() -> str:
    """Every row of every table (virtual FTS tables included on SQLite), as text."""
    fresh()
    out = []
    for table in inspect(db.engine).get_table_names():
        # The names come from the schema inspector, not from input.
        rows = db.session.execute(text(f'SELECT * FROM "{table}"')).all()  # noqa: S608
        out.append(f"{table}: {[tuple(r) for r in rows]!r}")
    fresh()
    return "\n".join(out)


def sqlite_bytes(database_url: str) -> bytes:
    path = Path(database_url.removeprefix("sqlite:///"))
    data = b""
    for suffix in ("", "-wal", "-journal"):
        part = Path(str(path) + suffix)
        if part.exists():
            data += part.read_bytes()
    assert len(data) > 4096
    return data


def assert_nowhere(live, plaintexts: list[str], workspace_id: int) -> None:
    dump = table_dump()
    log = live.server.log_text()
    audit = "\n".join(
        repr({c.key: getattr(entry, c.key) for c in AuditEntry.__table__.columns})
        for entry in db.session.execute(
            select(AuditEntry).where(AuditEntry.workspace_id == workspace_id)
        ).scalars()
    )
    raw = sqlite_bytes(live.database_url) if live.database_url.startswith("sqlite") else b""
    assert "mcp_tokens" in dump and "audit_entries" in dump
    assert "reply_to_conversation" in audit and "/api/mcp" in log
    for plaintext in plaintexts:
        for fragment in secret_fragments(plaintext):
            assert fragment not in dump
            assert fragment not in log
            assert fragment not in audit
            assert fragment.encode() not in raw
        for wrong in altered(plaintext):
            assert wrong not in dump and wrong not in log
        # What is stored instead: the hash, and the displayed prefix…last4.
        row = token_row(workspace_id, plaintext)
        assert row.token_hash == digest(plaintext) and row.token_hash in dump
        assert (row.prefix, row.last4) == (plaintext[:11], plaintext[-4:])
        assert tokens.display(row) in audit  # the mint entry names it by prefix…last4
    assert not TOKEN_RE.search(dump) and not TOKEN_RE.search(log)
    assert not TOKEN_RE.search(audit)


def test_service_minted_token_is_stored_nowhere(live):
    desk = make_desk()
    conv = f.make_conversation(desk.inbox)
    token = desk.mint(name="Secret keeper")
    assert TOKEN_RE.fullmatch(token)
    use(live.url, token, conv.display_id)
    fresh()
    row = token_row(desk.workspace.id, token)
    assert row.last_used_at is not None
    entries = (
        db.session.execute(
            select(AuditEntry.outcome).where(
                AuditEntry.workspace_id == desk.workspace.id, AuditEntry.token_id == row.id
            )
        )
        .scalars()
        .all()
    )
    assert {"ok", "replayed", "error", "denied"} <= set(entries)
    assert_nowhere(live, [token], desk.workspace.id)


def test_cli_minted_token_is_stored_nowhere(live):
    assert live.app.cli.get_command(None, "mcp").get_command(None, "mint") is not None
    desk = make_desk()
    conv = f.make_conversation(desk.inbox)
    runner = live.app.test_cli_runner()
    result = runner.invoke(
        args=["mcp", "mint", desk.workspace.slug, "--name", "CLI bot", "--preset", "full"]
    )
    if result.exit_code == 2:  # a usage error: the command takes other arguments
        pytest.skip(f"`deskwoot mcp mint` has another signature:\n{result.output}")
    assert result.exit_code == 0, result.output
    found = TOKEN_RE.findall(result.output)
    assert len(set(found)) == 1, result.output
    token = found[0]
    use(live.url, token, conv.display_id)
    assert_nowhere(live, [token], desk.workspace.id)
