"""After the load: check, directly in the database, that nothing was lost or doubled.

- every acknowledged write is stored exactly once: by the id the server answered, by its
  idempotency key or source_id, and by its body (each body is unique, so a duplicate made
  by a retry would show up as a second row even under a new id);
- each has its event (message.created / draft.created) exactly once, and each MCP write its
  audit entry: exactly one `ok` among all the request ids it was sent under;
- every poller saw every event it may see, once each, in increasing id order;
- no 5xx, no "database is locked" (answers and server log), no traceback in the server log,
  no operation abandoned; on SQLite, PRAGMA integrity_check says ok.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from dataclasses import dataclass

from sqlalchemy import create_engine, select, text

from deskwoot.models import AuditEntry, Draft, Event, IdempotencyKey, Message
from stress.clients import WRITE_TOOLS, WRITES, Ledger, Poller, Write
from stress.databases import Database
from stress.world import World

MESSAGE_KINDS = {"reply": "outgoing", "note": "note", "inbound": "incoming"}
STRESS_BODY = "[stress "


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class Stored:
    """The workspace's rows that the checks need, read once."""

    messages: list
    drafts: list
    events: list
    audit: list
    keys: dict  # idempotency key -> stored result
    integrity: str | None  # SQLite: PRAGMA integrity_check; None on PostgreSQL
    foreign_key_problems: int | None


def read_back(database: Database, world: World) -> Stored:
    engine = create_engine(database.url)
    try:
        with engine.connect() as conn:
            ws = world.workspace_id
            m, d, e, a, k = (
                t.__table__ for t in (Message, Draft, Event, AuditEntry, IdempotencyKey)
            )
            messages = conn.execute(
                select(
                    m.c.id,
                    m.c.kind,
                    m.c.body,
                    m.c.source_id,
                    m.c.inbox_id,
                    m.c.token_id,
                    m.c.conversation_id,
                ).where(m.c.workspace_id == ws)
            ).all()
            drafts = conn.execute(
                select(d.c.id, d.c.body, d.c.token_id).where(d.c.workspace_id == ws)
            ).all()
            events = conn.execute(
                select(e.c.id, e.c.type, e.c.data, e.c.actor_type)
                .where(e.c.workspace_id == ws)
                .order_by(e.c.id)
            ).all()
            audit = conn.execute(
                select(a.c.request_id, a.c.action, a.c.outcome).where(
                    a.c.workspace_id == ws,
                    a.c.token_id == world.token_id,
                    a.c.action.in_(list(WRITE_TOOLS.values())),
                )
            ).all()
            keys = dict(
                conn.execute(
                    select(k.c.key, k.c.result).where(
                        k.c.workspace_id == ws, k.c.token_id == world.token_id
                    )
                ).all()
            )
            integrity = foreign = None
            if database.kind == "sqlite":
                integrity = "; ".join(
                    row[0] for row in conn.execute(text("PRAGMA integrity_check")).all()
                )
                foreign = len(conn.execute(text("PRAGMA foreign_key_check")).all())
    finally:
        engine.dispose()
    return Stored(messages, drafts, events, audit, keys, integrity, foreign)


def check_all(
    database: Database,
    world: World,
    ledger: Ledger,
    pollers: list[Poller],
    server_log: str,
    crashes_wanted: int,
    crashes: list,
    chaos_failure: str | None,
) -> tuple[list[Check], dict]:
    stored = read_back(database, world)
    checks: list[Check] = []
    figures: dict = {}

    stats = ledger.stats.values()
    fivexx = sum(s.http_5xx for s in stats)
    errors = sum(s.errors for s in stats)
    gave_up = sum(s.gave_up for s in stats)
    locked_log = server_log.count("database is locked")
    tracebacks = server_log.count("Traceback")
    figures.update(
        http_5xx=fivexx,
        failed_calls=errors,
        locked=ledger.locked_answers + locked_log,
        tracebacks=tracebacks,
    )
    checks += [
        Check("no 5xx answer", fivexx == 0, f"{fivexx} answers were 5xx"),
        Check("no failed call (JSON-RPC error, isError, 4xx)", errors == 0, f"{errors} failed"),
        Check("no operation abandoned", gave_up == 0, f"{gave_up} gave up after retrying"),
        Check(
            'no "database is locked"',
            ledger.locked_answers + locked_log == 0,
            f"{ledger.locked_answers} in answers, {locked_log} in the server log",
        ),
        Check("no traceback in the server log", tracebacks == 0, f"{tracebacks} tracebacks"),
        Check(
            "no client thread failed",
            not ledger.thread_failures,
            "; ".join(f[:300] for f in ledger.thread_failures[:3]),
        ),
    ]

    write_checks, figures["writes"] = _writes(ledger.writes, stored)
    checks += write_checks
    checks += _globals(stored)
    poll_checks, figures["events"] = _pollers(pollers, stored)
    checks += poll_checks

    killed_ok = all(c.processes_killed >= 2 for c in crashes)
    checks.append(
        Check(
            "every crash injected (kill -9 of master and workers) and recovered",
            chaos_failure is None and len(crashes) == crashes_wanted and killed_ok,
            chaos_failure.strip().splitlines()[-1]
            if chaos_failure
            else f"{len(crashes)}/{crashes_wanted} crashes, processes killed: "
            + ", ".join(str(c.processes_killed) for c in crashes),
        )
    )
    if stored.integrity is not None:
        checks.append(
            Check("SQLite PRAGMA integrity_check", stored.integrity == "ok", stored.integrity)
        )
        checks.append(
            Check(
                "SQLite PRAGMA foreign_key_check",
                stored.foreign_key_problems == 0,
                f"{stored.foreign_key_problems} rows",
            )
        )
    figures["integrity"] = stored.integrity or "n/a (PostgreSQL)"
    return checks, figures


def _writes(writes: list[Write], stored: Stored) -> tuple[list[Check], dict]:
    by_body: dict[str, list] = defaultdict(list)
    for row in stored.messages:
        by_body[row.body].append(row)
    drafts_by_body: dict[str, list] = defaultdict(list)
    for row in stored.drafts:
        drafts_by_body[row.body].append(row)
    by_source = defaultdict(list)
    for row in stored.messages:
        if row.source_id is not None:
            by_source[(row.inbox_id, row.source_id)].append(row)
    audit_by_request = defaultdict(list)
    for row in stored.audit:
        audit_by_request[row.request_id].append(row)
    event_actors = _event_actors(stored.events)

    figures = {
        kind: Counter(acknowledged=0, verified=0, missing=0, duplicates=0, retried=0, replayed=0)
        for kind in WRITES
    }
    problems: dict[str, list[str]] = defaultdict(list)
    for write in writes:
        tally = figures[write.kind]
        rows = (drafts_by_body if write.kind == "draft" else by_body).get(write.body, [])
        if len(rows) > 1:
            tally["duplicates"] += len(rows) - 1
            problems["stored once"].append(f"{write.kind} {write.key}: {len(rows)} rows")
        if write.acked_id is None:
            continue  # never acknowledged (failed or abandoned: counted elsewhere)
        tally["acknowledged"] += 1
        tally["retried"] += len(write.request_ids) > 1
        if write.kind == "inbound":
            tally["replayed"] += write.ack_duplicate
            found = _inbound_problem(write, rows, by_source)
        else:
            outcomes = [
                (r.action, r.outcome)
                for rid in write.request_ids
                for r in audit_by_request.get(rid, [])
            ]
            ack_outcomes = [r.outcome for r in audit_by_request.get(write.ack_request_id, [])]
            tally["replayed"] += ack_outcomes == ["replayed"]
            found = _mcp_problem(write, rows, stored.keys.get(write.key)) or _audit_problem(
                write, outcomes, ack_outcomes
            )
        found = found or _event_problem(write, event_actors)
        if found:
            kind, detail = found
            problems[kind].append(f"{write.kind} {write.key}: {detail}")
            if kind == "missing":
                tally["missing"] += 1
        else:
            tally["verified"] += 1

    acked = sum(t["acknowledged"] for t in figures.values())
    verified = sum(t["verified"] for t in figures.values())
    duplicates = sum(t["duplicates"] for t in figures.values())
    checks = [
        Check(
            "every acknowledged write stored exactly once (id, key/source_id, body)",
            verified == acked and not problems["missing"] and not problems["mismatch"],
            f"{verified}/{acked} verified; " + _first(problems["missing"] + problems["mismatch"]),
        ),
        Check(
            "no write stored twice (retries with the same key/source_id)",
            duplicates == 0,
            f"{duplicates} duplicates; " + _first(problems["stored once"]),
        ),
        Check(
            "every acknowledged write has its created event, by the right actor",
            not problems["event"],
            _first(problems["event"]) or "message.created / draft.created: ok",
        ),
        Check(
            "every acknowledged MCP write audited exactly once as ok",
            not problems["audit"],
            _first(problems["audit"]) or "ok",
        ),
        Check(
            "no write kind left unexercised",
            all(t["acknowledged"] > 0 for t in figures.values()),
            ", ".join(f"{k}: {t['acknowledged']}" for k, t in figures.items()),
        ),
    ]
    return checks, {kind: dict(t) for kind, t in figures.items()}


def _event_actors(events: list) -> dict[tuple[str, int], list[str]]:
    """("message" | "draft", id) -> the actor types of its created events."""
    actors = defaultdict(list)
    for event in events:
        if event.type == "message.created":
            actors[("message", event.data.get("message_id"))].append(event.actor_type)
        elif event.type == "draft.created":
            actors[("draft", event.data.get("draft_id"))].append(event.actor_type)
    return actors


def _event_problem(write: Write, event_actors: dict) -> tuple[str, str] | None:
    # Inbound messages are the customer's (the hook writes no audit entry: ARCHITECTURE §6 audits
    # tool calls and admin actions); MCP writes are the bot's.
    target = ("draft" if write.kind == "draft" else "message", write.acked_id)
    expected = ["contact"] if write.kind == "inbound" else ["bot"]
    if event_actors.get(target, []) != expected:
        return "event", f"created events by {event_actors.get(target, [])}, want {expected}"
    return None


def _inbound_problem(write: Write, rows: list, by_source) -> tuple[str, str] | None:
    stored = by_source.get((write.inbox_id, write.key), [])
    if not stored or not rows:
        return "missing", f"no message for source_id (answered id {write.acked_id})"
    if len(stored) != 1 or stored[0].id != write.acked_id or rows[0].id != write.acked_id:
        return "mismatch", f"answered id {write.acked_id}, stored {[r.id for r in stored]}"
    if stored[0].kind != "incoming":
        return "mismatch", f"stored as {stored[0].kind}"
    if write.ack_duplicate and len(write.request_ids) == 1:
        return "mismatch", "first and only delivery answered as a duplicate"
    return None


def _mcp_problem(write: Write, rows: list, key_result: dict | None) -> tuple[str, str] | None:
    if not rows:
        return "missing", f"no row with this body (answered id {write.acked_id})"
    row = rows[0]
    if row.id != write.acked_id:
        return "mismatch", f"answered id {write.acked_id}, stored {[r.id for r in rows]}"
    if write.kind != "draft" and row.kind != MESSAGE_KINDS[write.kind]:
        return "mismatch", f"stored as {row.kind}"
    if key_result is None:
        return "missing", "no idempotency key row"
    stored_id = key_result.get("draft" if write.kind == "draft" else "message", {}).get("id")
    if stored_id != write.acked_id:
        return "mismatch", f"idempotency key stores id {stored_id}, answered {write.acked_id}"
    return None


def _audit_problem(write: Write, outcomes: list, ack_outcomes: list) -> tuple[str, str] | None:
    tool = WRITE_TOOLS[write.kind]
    oks = [o for o in outcomes if o == (tool, "ok")]
    if len(oks) != 1:
        return "audit", f"{len(oks)} ok audit entries over {len(write.request_ids)} attempts"
    if len(ack_outcomes) != 1 or ack_outcomes[0] not in ("ok", "replayed"):
        return "audit", f"acknowledged attempt audited as {ack_outcomes}"
    if len(write.request_ids) == 1 and ack_outcomes != ["ok"]:
        return "audit", "a first and only attempt was audited as replayed"
    return None


def _globals(stored: Stored) -> list[Check]:
    """Whole-workspace consistency, beyond the writes the clients saw acknowledged."""
    message_events = Counter()
    draft_events = Counter()
    for event in stored.events:
        if event.type == "message.created":
            message_events[event.data.get("message_id")] += 1
        elif event.type == "draft.created":
            draft_events[event.data.get("draft_id")] += 1
    message_ids = {m.id for m in stored.messages}
    draft_ids = {d.id for d in stored.drafts}
    bad_messages = [i for i in message_ids if message_events[i] != 1]
    bad_drafts = [i for i in draft_ids if draft_events[i] != 1]
    orphans = (set(message_events) - message_ids) | (set(draft_events) - draft_ids)
    bodies = Counter(
        row.body for row in (*stored.messages, *stored.drafts) if row.body.startswith(STRESS_BODY)
    )
    doubled = [b for b, n in bodies.items() if n > 1]
    oks = sum(1 for row in stored.audit if row.outcome == "ok")
    dangling = [
        key
        for key, result in stored.keys.items()
        if (result or {}).get("message", {}).get("id") not in message_ids
        and (result or {}).get("draft", {}).get("id") not in draft_ids
    ]
    return [
        Check(
            "every message and draft has exactly one created event (and no event is orphaned)",
            not bad_messages and not bad_drafts and not orphans,
            f"{len(message_ids)} messages, {len(draft_ids)} drafts; wrong event count for "
            f"messages {bad_messages[:5]} drafts {bad_drafts[:5]}; orphans {sorted(orphans)[:5]}",
        ),
        Check(
            "no body stored twice anywhere in the workspace",
            not doubled,
            f"{len(bodies)} stress bodies; doubled: {doubled[:3]}",
        ),
        Check(
            "idempotency keys, effects and ok audit entries commit together",
            len(stored.keys) == oks and not dangling,
            f"{len(stored.keys)} keys, {oks} ok audit entries, {len(dangling)} keys without "
            "their row",
        ),
    ]


def _pollers(pollers: list[Poller], stored: Stored) -> tuple[list[Check], dict]:
    all_ids = [e.id for e in stored.events]
    results = []
    problems = []
    for poller in pollers:
        expected = (
            [e.id for e in stored.events if e.type in poller.types] if poller.types else all_ids
        )
        seen = poller.seen
        increasing = all(a < b for a, b in itertools.pairwise(seen))
        repeats = len(seen) - len(set(seen))
        missing = len(set(expected) - set(seen))
        extra = len(set(seen) - set(expected))
        ok = increasing and not repeats and not missing and not extra
        results.append(
            {
                "poller": poller.name,
                "types": poller.types or "all",
                "polled": len(seen),
                "expected": len(expected),
                "pages": poller.pages,
                "repeats": repeats,
                "missing": missing,
                "unexpected": extra,
                "in_order": increasing,
                "ok": ok,
            }
        )
        if not ok:
            problems.append(
                f"{poller.name}: {len(seen)}/{len(expected)} seen, {repeats} repeats, "
                f"{missing} missing, {extra} unexpected, in order: {increasing}"
            )
    polled = sum(r["polled"] for r in results)
    expected = sum(r["expected"] for r in results)
    check = Check(
        "every poller saw every event once, in order, without gaps",
        not problems and bool(pollers),
        _first(problems) or f"{len(pollers)} pollers, {polled}/{expected} events",
    )
    return [check], {
        "in_database": len(all_ids),
        "polled": polled,
        "expected": expected,
        "pollers": results,
    }


def _first(items: list[str], n: int = 3) -> str:
    return "; ".join(items[:n]) + (f" (+{len(items) - n} more)" if len(items) > n else "")
