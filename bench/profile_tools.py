"""Profile MCP requests in-process: SQL statements per request and where the time goes.

    python -m bench.profile_tools [--size full] [--tool get_conversation,...] [-n 300]

Runs the real app (Flask test client, POST /api/mcp with the benchmark token) on a copy of
a generated dataset, counts the SQL statements of one request with a SQLAlchemy event
listener (with each one's execute time — until its first row, so an aggregate that streams
its groups shows less than its full cost), times N requests, and prints cProfile's top
functions. Nothing in deskwoot/ is changed; no server, no network.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import random
import secrets
import shutil
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench import generate

ROOT = Path(__file__).resolve().parents[1]
TOOLS = (
    "tools/list",
    "get_conversation",
    "list_conversations",
    "search_conversations",
    "poll_events",
    "reply_to_conversation",
)


def _no_handoff(display_id: int) -> int:
    """Every 50th conversation is handed off to a human (no bot replies); take its neighbour."""
    return display_id - 1 if display_id % 50 == 0 else display_id


def arguments(tool: str, meta: dict, cursor: str, rng: random.Random, n: int) -> dict:
    """Arguments like the wrk scripts send."""
    if tool == "get_conversation":
        return {"conversation_id": rng.randint(1, meta["conversations"])}
    if tool == "list_conversations":
        return {
            "status": rng.choice(("open", "pending", "snoozed", "resolved")),
            "inbox_id": rng.choice(meta["inbox_ids"]),
        }
    if tool == "search_conversations":
        return {"query": rng.choice(meta["search_queries"])}
    if tool == "poll_events":
        return {"cursor": cursor}
    return {
        "conversation_id": _no_handoff(rng.randint(1, meta["conversations"])),
        "body": "Thanks, we are on it.",
        "idempotency_key": f"profile-{n}",
    }


def bodies(tool: str, meta: dict, cursor: str, rng: random.Random):
    """An endless stream of request bodies."""
    n = 0
    while True:
        n += 1
        if tool == "tools/list":
            yield {"jsonrpc": "2.0", "id": n, "method": "tools/list", "params": {}}
        else:
            yield {
                "jsonrpc": "2.0",
                "id": n,
                "method": "tools/call",
                "params": {"name": tool, "arguments": arguments(tool, meta, cursor, rng, n)},
            }


def explain(path: Path, sql: str, params) -> None:
    """Print SQLite's query plan for a slow statement."""
    with sqlite3.connect(path) as conn:
        for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params or ()):
            print("        plan:", row[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="full")
    parser.add_argument("--tool", default=",".join(TOOLS))
    parser.add_argument("-n", type=int, default=300, help="requests timed and profiled")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--callers", help="also print who calls functions matching this")
    parser.add_argument("--sort", default="tottime", help="pstats order: tottime, cumulative…")
    parser.add_argument("--pages", action="store_true", help="also the two HTML pages")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "bench" / "data")
    args = parser.parse_args()

    from bench.scenarios import poll_cursor
    from deskwoot.extensions import db

    source = args.data_dir / f"{args.size}.sqlite3"
    meta = json.loads(generate.meta_path(source).read_text())
    token = generate.token_path(source).read_text().strip()
    copy = source.with_name(f"profile-{args.size}.sqlite3")
    shutil.copyfile(source, copy)
    secret = secrets.token_urlsafe(16)
    cursor, _ = poll_cursor(copy, meta["workspace_id"], secret)
    app = make_app(copy, secret)
    statements: list[list] = []  # [sql, params, milliseconds]

    def before(conn, cursor, sql, params, context, many):
        statements.append([sql, params, time.perf_counter()])

    def after(conn, cursor, sql, params, context, many):
        statements[-1][2] = (time.perf_counter() - statements[-1][2]) * 1000

    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    def send(body: dict) -> None:
        response = client.post("/api/mcp", json=body, headers=headers)
        answer = response.get_json()
        if response.status_code != 200 or "error" in answer or answer["result"].get("isError"):
            raise SystemExit(f"{body['method']} failed: {json.dumps(answer)[:400]}")

    for tool in [t for t in args.tool.split(",") if t]:
        stream = bodies(tool, meta, cursor, random.Random(7))  # noqa: S311 - test data
        for _ in range(20):  # warm caches, compile statements, touch last_used_at
            send(next(stream))
        statements.clear()
        with counting(app, before, after):
            send(next(stream))
        one = list(statements)
        started, cpu = time.perf_counter(), time.process_time()
        for _ in range(args.n):
            send(next(stream))
        per_request = (time.perf_counter() - started) / args.n * 1000
        cpu_per_request = (time.process_time() - cpu) / args.n * 1000
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(args.n):
            send(next(stream))
        profiler.disable()
        print(
            f"\n=== {tool}: {per_request:.2f} ms per request in-process "
            f"({cpu_per_request:.2f} ms CPU, test client included), "
            f"{len(one)} SQL statements per request"
        )
        for sql, params, ms in one:
            print(f"   SQL {ms:7.2f} ms:", " ".join(sql.split())[:140])
            if ms > 2 and sql.lstrip().upper().startswith("SELECT"):
                explain(copy, sql, params)
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).strip_dirs()
        # Function calls are a steadier yardstick than seconds on a shared machine.
        print(f"   {stats.total_calls / args.n:,.0f} Python function calls per request")
        stats.sort_stats(args.sort).print_stats(args.top)
        if args.callers:
            stats.print_callers(args.callers)
        print("\n".join(out.getvalue().splitlines()[4:]))
    if args.pages:
        profile_pages(client, meta, statements, args, copy, lambda: counting(app, before, after))
    with app.app_context():
        db.engine.dispose()
    for path in (copy, Path(f"{copy}-wal"), Path(f"{copy}-shm")):
        path.unlink(missing_ok=True)


def make_app(path: Path, secret: str):
    """The real app on a copy of a dataset, as the benchmark's server runs it (CSRF off, so
    the in-process client can log in with a plain POST)."""
    from deskwoot import create_app

    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
            "SECRET_KEY": secret,
            "PUBLIC_URL": "http://127.0.0.1",
            "WTF_CSRF_ENABLED": False,
            "MCP_RATE_LIMIT": 100_000_000,  # on, as in the benchmark, with a huge budget
            "MCP_RATE_BURST": 100_000_000,
        }
    )


@contextmanager
def counting(app, before, after) -> Iterator[None]:
    """Listen for cursor executions only while one request is counted: while anything
    listens, prebuilt statements take SQLAlchemy's ordinary path (deskwoot/database/prebuilt.py), so
    the timed and profiled requests run without the listeners."""
    from sqlalchemy import event

    from deskwoot.extensions import db

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", before)
        event.listen(db.engine, "after_cursor_execute", after)
    try:
        yield
    finally:
        with app.app_context():
            event.remove(db.engine, "before_cursor_execute", before)
            event.remove(db.engine, "after_cursor_execute", after)


def profile_pages(client, meta: dict, statements: list, args, copy: Path, counted) -> None:
    """The logged-in HTML pages, the same way (CSRF is off in this in-process app)."""
    client.post("/login", data={"email": meta["admin_email"], "password": meta["admin_password"]})
    for path in ("/w/bench/conversations", "/w/bench/drafts"):
        for _ in range(3):
            response = client.get(path)
        if response.status_code != 200:
            print(f"\n=== GET {path}: {response.status_code}")
            continue
        statements.clear()
        with counted():
            client.get(path)
        one = list(statements)
        n = max(3, args.n // 10)
        started = time.perf_counter()
        for _ in range(n):
            client.get(path)
        per_request = (time.perf_counter() - started) / n * 1000
        print(
            f"\n=== GET {path}: {per_request:.2f} ms per request in-process, "
            f"{len(one)} SQL statements per request, {len(response.data):,} bytes"
        )
        for sql, params, ms in sorted(one, key=lambda s: -s[2])[:8]:
            print(f"   SQL {ms:7.2f} ms:", " ".join(sql.split())[:140])
            if ms > 2 and sql.lstrip().upper().startswith("SELECT"):
                explain(copy, sql, params)
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(n):
            client.get(path)
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(args.sort).print_stats(args.top)
        print("\n".join(out.getvalue().splitlines()[4:]))


if __name__ == "__main__":
    main()
