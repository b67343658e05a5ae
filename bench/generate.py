"""Build a benchmark database fast: migrate, make the workspace through the real services,
then bulk-load the big tables with sqlite3 in one transaction.

    python -m bench.generate --size full|small|tiny --out bench/data/full.sqlite3

Writes OUT, OUT.token (the Full agent token's plaintext) and OUT.json (ids, counts, search
words, timings). The triggers and the big tables' indexes are dropped for the load and
recreated afterwards from their own SQL in sqlite_master (so exactly as the migrations made
them); the conversations' search documents are written from the generated text (keys in
order of last activity, as the migration's backfill does); the FTS indexes are rebuilt in
one pass each; then ANALYZE.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sqlite3
import time
from collections import defaultdict
from pathlib import Path

from bench.dataset import (
    COLORS,
    FIRST,
    INBOXES,
    LABELS,
    LAST,
    SEARCH_CANDIDATES,
    SIZES,
    Generator,
    World,
    load_words,
)

ROOT = Path(__file__).resolve().parents[1]
SLUG = "bench"
ADMIN_EMAIL = "admin@bench.deskwoot.test"
ADMIN_PASSWORD = "bench-admin-password"  # noqa: S105 - a throwaway benchmark account
AGENTS = 12
BULK_TABLES = (
    "contacts",
    "conversations",
    "conversation_labels",
    "messages",
    "drafts",
    "events",
    "conversation_search",
)
FTS_TABLES = ("contacts", "conversation_search")
MAX_AGE_DAYS = 7  # snooze times and the 24-hour event window are relative to generation

COLUMNS = {
    "contacts": "id, workspace_id, name, email, phone, identifier, custom_attributes, "
    "created_via, created_at, updated_at",
    "conversations": "id, workspace_id, display_id, inbox_id, contact_id, subject, status, "
    "snoozed_until, priority, assignee_id, custom_attributes, handoff, "
    "handoff_reason, last_activity_at, created_at, updated_at",
    "conversation_labels": "conversation_id, label_id",
    "messages": "id, workspace_id, conversation_id, inbox_id, kind, sender_type, "
    "sender_contact_id, sender_user_id, token_id, approved_by_id, body, source_id, "
    "delivery_status, created_at",
    "drafts": "id, workspace_id, conversation_id, author_id, token_id, body, note_to_reviewer, "
    "status, reviewer_id, reviewed_at, sent_message_id, final_body, rejection_reason, "
    "created_at",
    "events": "id, workspace_id, inbox_id, type, conversation_id, contact_id, actor_type, "
    "actor_id, actor_name, token_id, data, created_at",
}


def fingerprint() -> str:
    """Changes whenever the generator, the word list or the migrations change."""
    digest = hashlib.sha256()
    files = [Path(__file__), ROOT / "bench" / "dataset.py", ROOT / "bench" / "words.txt"]
    files += sorted((ROOT / "deskwoot" / "migrations").rglob("*.py"))
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def meta_path(out: Path) -> Path:
    return out.with_name(out.name + ".json")


def token_path(out: Path) -> Path:
    return out.with_name(out.name + ".token")


def is_fresh(out: Path, size: str) -> bool:
    """Whether a cached database can be reused (same code and schema, not too old)."""
    try:
        meta = json.loads(meta_path(out).read_text())
    except (OSError, ValueError):
        return False
    return (
        out.exists()
        and token_path(out).exists()
        and meta.get("size") == size
        and meta.get("fingerprint") == fingerprint()
        and time.time() - meta.get("generated_at", 0) < MAX_AGE_DAYS * 86400
    )


def _make_workspace() -> tuple[World, str]:
    """The workspace, admin, agents, inboxes, labels, MCP switch and token, via the services."""
    from deskwoot.extensions import db
    from deskwoot.models import Workspace
    from deskwoot.policy import SCOPES, member_actor, system_actor
    from deskwoot.services.access import mcp_switch as mcp_settings
    from deskwoot.services.access import tokens
    from deskwoot.services.conversations import labels
    from deskwoot.services.directory import inboxes, workspaces

    ws, admin = workspaces.create_workspace(
        "Bench", ADMIN_EMAIL, ADMIN_PASSWORD, admin_name="Bench Admin", plan="enterprise", slug=SLUG
    )
    actor = member_actor(admin, ws)
    mcp_settings.set_enabled(actor, True)
    agents = []
    operator = system_actor(ws, name="Bench generator")  # puts people on the team directly
    for i in range(AGENTS):
        user = workspaces.add_teammate(
            operator,
            f"agent{i + 1}@bench.deskwoot.test",
            "agent",
            name=f"{FIRST[i * 5]} {LAST[i * 3]}",
        )
        agents.append((user.id, user.name))
    inbox_agents = {}
    for j, (name, channel) in enumerate(INBOXES):
        members = [a for i, (a, _) in enumerate(agents) if j in (i % 5, (i + 1) % 5)]
        inbox, _secret = inboxes.create_inbox(actor, name, channel, member_ids=members)
        inbox_agents[inbox.id] = members
    label_ids = [
        labels.create_label(actor, name, COLORS[i % len(COLORS)]).id
        for i, name in enumerate(LABELS)
    ]
    minted = tokens.mint(actor, "Bench agent", list(SCOPES))
    ws = db.session.get(Workspace, ws.id)
    world = World(
        workspace_id=ws.id,
        admin_id=admin.id,
        bot_id=ws.bot_user_id,
        token_id=minted.token.id,
        agents=agents,
        inbox_agents=inbox_agents,
        label_ids=label_ids,
        now=time.time(),
    )
    return world, minted.plaintext


def _next_id(conn: sqlite3.Connection, table: str) -> int:
    return conn.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {table}").fetchone()[0]  # noqa: S608


def _insert(conn: sqlite3.Connection, table: str, rows) -> int:
    columns = COLUMNS[table]
    marks = ", ".join("?" * len(columns.split(",")))
    cursor = conn.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)  # noqa: S608
    return cursor.rowcount


def _collect_bodies(rows, bodies: dict[int, list[str]]):
    """Pass message rows through, keeping each conversation's texts for its search document."""
    for row in rows:
        bodies[row[2]].append(row[10])  # conversation_id, body
        yield row


def _write_search_documents(conn: sqlite3.Connection, bodies: dict[int, list[str]]) -> None:
    """One search document per new conversation, as the triggers would have left it: the
    head from the migration's own view, the message texts joined by newlines, and keys in
    order of last activity (what the migration's backfill does)."""
    conn.execute("CREATE TEMP TABLE search_bodies (conversation_id INTEGER PRIMARY KEY, body TEXT)")
    conn.executemany(
        "INSERT INTO search_bodies VALUES (?, ?)",
        (
            (conversation_id, "\n".join(texts).replace("\ue000", ""))  # as the triggers do
            for conversation_id, texts in bodies.items()
        ),
    )
    conn.execute("""
        INSERT INTO conversation_search (key, conversation_id, head, body)
        SELECT (SELECT coalesce(max(key), 0) FROM conversation_search)
               + row_number() OVER (ORDER BY c.last_activity_at, c.id),
               c.id, h.head, coalesce(b.body, '')
        FROM conversations c
        JOIN conversation_search_heads h ON h.conversation_id = c.id
        LEFT JOIN search_bodies b ON b.conversation_id = c.id
        WHERE c.id NOT IN (SELECT conversation_id FROM conversation_search)
    """)
    conn.execute("DROP TABLE search_bodies")


def _bulk_load(path: Path, gen: Generator, timings: dict) -> dict:
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in (
        "journal_mode = DELETE",
        "journal_mode = OFF",
        "synchronous = OFF",
        "cache_size = -1000000",
        "temp_store = MEMORY",
    ):
        conn.execute(f"PRAGMA {pragma}")
    schema = (
        "SELECT name, sql FROM sqlite_master WHERE type = ? AND sql IS NOT NULL AND "
        "tbl_name IN (SELECT value FROM json_each(?))"
    )
    triggers = conn.execute(schema, ("trigger", json.dumps(BULK_TABLES))).fetchall()
    indexes = conn.execute(schema, ("index", json.dumps(BULK_TABLES))).fetchall()
    counts = {}

    def phase(name, started):
        timings[name] = round(time.perf_counter() - started, 2)
        return time.perf_counter()

    t = time.perf_counter()
    conn.execute("BEGIN")
    for name, _ in triggers:
        conn.execute(f'DROP TRIGGER "{name}"')
    for name, _ in indexes:
        conn.execute(f'DROP INDEX "{name}"')
    ws = gen.world
    contact0, conv0 = _next_id(conn, "contacts"), _next_id(conn, "conversations")
    message0, draft0 = _next_id(conn, "messages"), _next_id(conn, "drafts")
    event0 = _next_id(conn, "events")
    counts["contacts"] = _insert(conn, "contacts", gen.contact_rows(contact0))
    gen.plan_conversations(sorted(ws.inbox_agents))
    counts["conversations"] = _insert(conn, "conversations", gen.conversation_rows(conv0, contact0))
    counts["conversation_labels"] = _insert(conn, "conversation_labels", gen.label_rows(conv0))
    t = phase("contacts_conversations", t)
    bodies: dict[int, list[str]] = defaultdict(list)
    messages = gen.message_rows(message0, conv0, contact0)
    counts["messages"] = _insert(conn, "messages", _collect_bodies(messages, bodies))
    t = phase("messages", t)
    _write_search_documents(conn, bodies)
    del bodies
    t = phase("search_documents", t)
    counts["drafts"] = _insert(conn, "drafts", gen.draft_rows(draft0, conv0))
    counts["events"] = _insert(
        conn, "events", gen.event_rows(event0, conv0, contact0, message0 + counts["messages"] - 1)
    )
    conn.execute(
        "UPDATE workspaces SET next_display_id = ? WHERE id = ?",
        (len(gen.convs) + 1, ws.workspace_id),
    )
    conn.execute("COMMIT")
    t = phase("events", t)
    for _, sql in indexes:
        conn.execute(sql)
    t = phase("indexes", t)
    for table in FTS_TABLES:
        for command in ("rebuild", "optimize"):  # optimize: one segment, as after a migration
            conn.execute(f"INSERT INTO {table}_fts ({table}_fts) VALUES ('{command}')")  # noqa: S608
    t = phase("fts_rebuild", t)
    for _, sql in triggers:
        conn.execute(sql)
    conn.execute("ANALYZE")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.close()
    phase("analyze", t)
    return counts


def build(out: Path, size: str, seed: int = 5) -> dict:
    """Generate the database OUT (written aside, then renamed) and return its metadata."""
    from deskwoot import create_app
    from deskwoot.database import migrate
    from deskwoot.extensions import db

    started = time.perf_counter()
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    for path in (
        tmp,
        Path(f"{tmp}-wal"),
        Path(f"{tmp}-shm"),
        Path(f"{out}-wal"),
        Path(f"{out}-shm"),
    ):
        path.unlink(missing_ok=True)
    timings: dict = {}
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}", "SECRET_KEY": "bench-generate"}
    )
    with app.app_context():
        migrate.upgrade()
        world, plaintext = _make_workspace()
        db.session.remove()
        db.engine.dispose()
    timings["migrate_services"] = round(time.perf_counter() - started, 2)
    gen = Generator(SIZES[size], world, seed=seed)
    counts = _bulk_load(tmp, gen, timings)
    os.replace(tmp, out)
    words = set(load_words())
    queries = [w for w in SEARCH_CANDIDATES if w in words]
    queries += ["damaged package", "payment error", "account email", "order delivery"]
    meta = {
        "size": size,
        "seed": seed,
        "fingerprint": fingerprint(),
        "generated_at": world.now,
        "workspace": SLUG,
        "workspace_id": world.workspace_id,
        "token_id": world.token_id,
        "admin_email": ADMIN_EMAIL,
        "admin_password": ADMIN_PASSWORD,
        "inbox_ids": sorted(world.inbox_agents),
        "conversations": counts["conversations"],
        "counts": counts,
        "search_queries": queries,
        "timings": timings,
        "seconds": round(time.perf_counter() - started, 1),
    }
    token_path(out).write_text(plaintext + "\n")
    meta_path(out).write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    out = args.out or ROOT / "bench" / "data" / f"{args.size}.sqlite3"
    meta = build(out, args.size, args.seed)
    counts = ", ".join(f"{v:,} {k}" for k, v in meta["counts"].items())
    print(f"generated {out} ({args.size}) in {meta['seconds']} s: {counts}")
    print("  phases (s): " + ", ".join(f"{k} {v}" for k, v in meta["timings"].items()))


if __name__ == "__main__":
    main()
