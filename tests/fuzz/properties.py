"""What must hold for every fuzzed request: the answer's shape, and what it may have written.

Each answer is checked on its own and turned into a Verdict: which audit rows it may have
added and whether it may have changed the domain. The database is then read through one
aggregate query over the domain tables (row counts, plus the newest `updated_at` of the tables
updated in place) and the new audit rows, and compared with the verdicts (see `verify`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import mcp.types as T
from mcp.types.version import HANDSHAKE_PROTOCOL_VERSIONS
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from deskwoot.extensions import db
from deskwoot.mcp import registry
from deskwoot.mcp.gate import CHALLENGE
from deskwoot.models import AuditEntry, Base

# Everything a tool or the hook may write, except the audit trail (checked row by row) and
# the token's bookkeeping (last_used_at, the rate-limit state), which every admitted request
# may touch.
COUNTED = (
    "workspaces",
    "users",
    "memberships",
    "inboxes",
    "inbox_members",
    "contacts",
    "contact_notes",
    "conversations",
    "conversation_labels",
    "labels",
    "messages",
    "drafts",
    "events",
    "outbox",
    "idempotency_keys",
    "mcp_tokens",
)
UPDATED = ("conversations", "contacts")
LOCK_REASONS = {"plan_required", "trial_expired", "mcp_disabled"}
RESULT_MODELS = {
    "initialize": T.InitializeResult,
    "tools/list": T.ListToolsResult,
    "server/discover": T.DiscoverResult,
    "tools/call": T.CallToolResult,
}


@dataclass(frozen=True)
class State:
    domain: tuple
    last_audit_id: int


def _snapshot_statement():
    tables = Base.metadata.tables
    return select(
        *[select(func.count()).select_from(tables[name]).scalar_subquery() for name in COUNTED],
        *[select(func.max(tables[name].c.updated_at)).scalar_subquery() for name in UPDATED],
        select(func.coalesce(func.max(AuditEntry.id), 0)).scalar_subquery(),
    )


class Ledger:
    """Reads the database on a DB-API connection of its own, in autocommit: it sees exactly
    what the app committed, at one round trip per request (plus one when audit rows appeared).
    """

    def __init__(self):
        self._dialect = db.engine.dialect
        pooled = db.engine.raw_connection()
        self._connection = pooled.driver_connection
        # Out of the pool for good: handed back in autocommit, it would later serve the app,
        # whose rollbacks would then undo nothing.
        pooled.detach()
        if self._dialect.name == "postgresql":
            self._connection.autocommit = True
        self._snapshot_sql = self._sql(_snapshot_statement())

    def _sql(self, statement) -> str:
        # Literal binds: the only values are our own table names and an audit id.
        return str(statement.compile(dialect=self._dialect, compile_kwargs={"literal_binds": True}))

    def _rows(self, sql: str) -> list[tuple]:
        cursor = self._connection.cursor()
        try:
            cursor.execute(sql)
            return [tuple(row) for row in cursor.fetchall()]
        finally:
            cursor.close()

    def snapshot(self) -> State:
        row = self._rows(self._snapshot_sql)[0]
        return State(domain=row[:-1], last_audit_id=row[-1])

    def audit_rows(self, before: State, after: State) -> list[tuple[str, str]]:
        """The (action, outcome) of every audit row written between two snapshots."""
        if after.last_audit_id == before.last_audit_id:
            return []
        query = (
            select(AuditEntry.action, AuditEntry.outcome)
            .where(AuditEntry.id > before.last_audit_id)
            .order_by(AuditEntry.id)
        )
        return self._rows(self._sql(query))

    def close(self) -> None:
        self._connection.close()


def _reject_constant(name: str):
    raise ValueError(f"{name} in a response")


def strict_json(data: bytes) -> Any:
    """Parse a response body as a strict client would: UTF-8, no NaN, no lone surrogates."""
    decoded = data.decode("utf-8")  # raises on invalid UTF-8
    value = json.loads(decoded, parse_constant=_reject_constant)
    json.dumps(value, ensure_ascii=False).encode("utf-8")  # raises on a lone surrogate
    return value


def parse_request(raw: bytes) -> Any:
    """The request body as JSON, or None when it is not JSON at all."""
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return None


class Why:
    """An assertion message that is only built when an assertion fails."""

    def __init__(self, res: TestResponse, raw: bytes, headers: list):
        self.res, self.raw, self.headers = res, raw, headers

    def __repr__(self) -> str:
        return (
            f"status {self.res.status_code}, headers sent {self.headers!r}, "
            f"body sent {self.raw[:600]!r}, answer {self.res.get_data()[:600]!r}"
        )

    __str__ = __repr__


@dataclass
class Verdict:
    """What one exchange's answer allows the database to show afterwards."""

    kind: str  # for the run's summary
    why: Why
    audit: list[list[tuple[str, str]]]  # the audit rows it may have added, as alternatives
    writes: str = "nothing"  # "nothing", "anything" (a write tool succeeded), "one message"


def verify(before: State, after: State, added: list, verdicts: list[Verdict]) -> None:
    """Check what a run of exchanges did to the database against what their answers allow.

    Exchanges that may write are verified alone (see McpProbe.post), so only the last
    verdict of a run can allow a write."""
    why = "; ".join(repr(v.why) for v in verdicts) + f"; audit rows added {added!r}"
    assert _explained(added, [v.audit for v in verdicts]), f"unexpected audit rows: {why}"
    writes = verdicts[-1].writes if len(verdicts) == 1 else "nothing"
    if writes == "nothing":
        assert after.domain == before.domain, f"data changed ({_changes(before, after)}): {why}"
    elif writes == "one message":
        messages = COUNTED.index("messages")
        assert after.domain[messages] == before.domain[messages] + 1, why


def _changes(before: State, after: State) -> str:
    names = [*COUNTED, *(f"{name} updated_at" for name in UPDATED)]
    return ", ".join(
        f"{name} {old!r} -> {new!r}"
        for name, old, new in zip(names, before.domain, after.domain, strict=True)
        if old != new
    )


def _explained(rows: list, alternatives: list[list[list]]) -> bool:
    """Whether `rows` are, in order, one allowed alternative per exchange."""
    if not alternatives:
        return not rows
    first, rest = alternatives[0], alternatives[1:]
    return any(
        rows[: len(option)] == option and _explained(rows[len(option) :], rest) for option in first
    )


def _is_id(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def may_write(sent: Any) -> bool:
    """Whether a request could legitimately write: a tools/call of a tool that is not
    read-only. Decided before sending, so that such a request gets snapshots of its own."""
    name = _tool_name(sent)
    spec = registry.get(name) if name and sent.get("method") == "tools/call" else None
    return spec is not None and not spec.read_only


def check_mcp_answer(
    res: TestResponse, raw: bytes, headers: list, expect_auth: str | None
) -> Verdict:
    """Check the shape of one /api/mcp answer (ARCHITECTURE §3-6, §9) and say what it allows the
    database to show."""
    sent = parse_request(raw)
    why = Why(res, raw, headers)
    assert res.status_code < 500, why

    if res.status_code == 202:  # an accepted notification: empty, and nothing written
        assert res.get_data() == b"" and "Content-Type" not in res.headers, why
        assert isinstance(sent, dict) and "id" not in sent, why
        assert expect_auth in (None, "live"), why
        return Verdict("202 notification accepted", why, [[]])

    assert res.mimetype == "application/json", why
    answer = strict_json(res.get_data())
    assert isinstance(answer, dict) and answer.get("jsonrpc") == "2.0", why
    assert "id" in answer and set(answer) <= {"jsonrpc", "id", "result", "error"}, why
    assert ("result" in answer) != ("error" in answer), why
    if "error" in answer:
        audit = _check_error(res, answer, sent, expect_auth, why)
        return Verdict(f"{res.status_code} error {answer['error']['code']}", why, audit)
    return _check_result(res, answer, sent, headers, expect_auth, why)


def _check_error(res, answer, sent, expect_auth, why) -> list[list]:
    error = answer["error"]
    assert isinstance(error, dict) and set(error) <= {"code", "message", "data"}, why
    assert isinstance(error["code"], int) and not isinstance(error["code"], bool), why
    assert isinstance(error["message"], str) and error["message"], why
    assert res.status_code in (200, 400, 401, 403, 404, 405, 406, 413, 415, 429), why
    if answer["id"] is not None:
        assert isinstance(sent, dict) and _is_id(sent.get("id")), why
        assert answer["id"] == sent["id"] and type(answer["id"]) is type(sent["id"]), why

    data = error.get("data") if isinstance(error.get("data"), dict) else {}
    reason = data.get("reason")
    if res.status_code == 401:
        assert res.headers.get("WWW-Authenticate", "").startswith(CHALLENGE), why
        assert expect_auth in (None, "invalid"), why
    if res.status_code == 405:
        assert res.headers.get("Allow") == "POST", why
    if expect_auth == "invalid":
        # Gate order: a bad token learns nothing beyond the HTTP-level checks before the gate.
        assert res.status_code in (401, 403, 406) and reason is None, why
    elif expect_auth in LOCK_REASONS and res.status_code != 406 and reason is not None:
        assert res.status_code == 403 and reason == expect_auth, why

    # Refusals are audited by design: a known token's request refused by the workspace's
    # plan or switch, and every tools/call that reached a tool. Nothing else writes a row.
    # A refusal is counted into the token's row for that minute and reason, so it adds a
    # row only when that minute has none yet.
    name = _tool_name(sent) or ""
    if reason in LOCK_REASONS:
        return [[("mcp.request", "denied")], []]
    if reason == "unknown_tool":
        return [[(name[:64], "error")]]
    if reason == "insufficient_scope":
        assert res.status_code == 403, why
        return [[(name, "denied")]]
    if error["code"] == T.INVALID_PARAMS and registry.get(name) is not None:
        # A tool may refuse with a JSON-RPC error after it was admitted (a tampered cursor):
        # then it is audited once, as an error; a malformed tools/call never reaches it.
        return [[], [(name, "error")]]
    return [[]]


def _check_result(res, answer, sent, headers, expect_auth, why) -> Verdict:
    assert res.status_code == 200 and expect_auth in (None, "live"), why
    assert isinstance(sent, dict) and _is_id(sent.get("id")), why
    assert answer["id"] == sent["id"] and type(answer["id"]) is type(sent["id"]), why
    method = sent.get("method")
    result = answer["result"]
    assert isinstance(result, dict), why
    if method in RESULT_MODELS:
        RESULT_MODELS[method].model_validate(result)
    else:
        assert method == "ping" and result in ({}, {"_meta": result.get("_meta")}), why
    version = _header(headers, "MCP-Protocol-Version")
    if version is not None and version not in HANDSHAKE_PROTOCOL_VERSIONS:
        assert result.get("resultType") == "complete", why
    if method != "tools/call":
        return Verdict(f"200 {method}", why, [[]])

    assert isinstance(result["content"], list) and result["content"], why
    assert isinstance(result["isError"], bool), why
    name = sent["params"]["name"]
    spec = registry.get(name)
    assert spec is not None, why
    if result["isError"]:
        # No structuredContent on an error: it would not match the tool's outputSchema.
        assert "structuredContent" not in result, why
        error = json.loads(result["content"][0]["text"])["error"]
        assert isinstance(error["code"], str) and isinstance(error["message"], str), why
        return Verdict("200 tools/call isError", why, [[(name, "denied")], [(name, "error")]])
    assert isinstance(result["structuredContent"], dict), why
    if spec.read_only:
        return Verdict("200 tools/call ok", why, [[(name, "ok")]])
    # A replay writes nothing but its audit row; the first run may write anything.
    return Verdict(
        "200 tools/call ok", why, [[(name, "ok")], [(name, "replayed")]], writes="anything"
    )


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    """The first value sent for `name`, as the server reads it."""
    return next((value for key, value in headers if key.lower() == name.lower()), None)


def _tool_name(sent: Any) -> str | None:
    if isinstance(sent, dict) and isinstance(sent.get("params"), dict):
        name = sent["params"].get("name")
        return name if isinstance(name, str) else None
    return None


HOOK_OK_KEYS = {"conversation_id", "message_id", "contact_id", "duplicate"}


def may_deliver(sent: Any) -> bool:
    """Whether a delivery could store a message: a JSON object with text content."""
    return isinstance(sent, dict) and isinstance(sent.get("content"), str)


def check_hook_answer(res: TestResponse, raw: bytes, headers: list) -> Verdict:
    """Check one inbound-hook answer (JSON always) and say what it allows: one new message
    on a 201, nothing otherwise, and never an audit row."""
    why = Why(res, raw, headers)
    assert res.status_code < 500, why
    assert res.mimetype == "application/json", why
    answer = strict_json(res.get_data())
    assert isinstance(answer, dict), why
    if res.status_code in (200, 201):
        assert set(answer) == HOOK_OK_KEYS, why
        assert all(_is_id(answer[key]) for key in HOOK_OK_KEYS - {"duplicate"}), why
        assert answer["duplicate"] is (res.status_code == 200), why
        writes = "one message" if res.status_code == 201 else "nothing"
        return Verdict(f"{res.status_code} delivered", why, [[]], writes=writes)
    assert set(answer) == {"error"} and isinstance(answer["error"], dict), why
    assert isinstance(answer["error"].get("code"), str), why
    assert isinstance(answer["error"].get("message"), str), why
    assert res.status_code in (400, 401, 404, 405, 409, 413), why
    if res.status_code == 401:
        assert "Bearer" in res.headers.get("WWW-Authenticate", ""), why
    return Verdict(f"{res.status_code} {answer['error']['code']}", why, [[]])
