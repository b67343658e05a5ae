"""Delivery throughput (issue 13): how fast one `deskwoot worker` drains the outbox.

For each channel — email to a local SMTP sink, an API inbox's webhook to a local HTTP receiver
(bench/sinks.py, each in a process of its own) — a fresh SQLite workspace gets `count`
conversations and one teammate reply in each through the real services (timed: the request
side of a reply, which must not include delivery), then one worker subprocess delivers them.
Reported per channel: messages/s between the first and the last `sent_at` (start-up left
out), the worker's CPU ms per message, the receiver's CPU ms per message (measured apart, so
the worker's own cost is not flattered or blamed for the sink's), duplicates seen by the
receiver (same Message-ID / webhook-id), and what did not end as sent.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from bench.servers import ROOT, WORKER_ARGV, clean_env, free_port, stop_process
from deskwoot import create_app
from deskwoot.database import migrate
from deskwoot.extensions import db
from deskwoot.policy import member_actor
from deskwoot.services.conversations import inbound, workflow
from deskwoot.services.directory import inboxes, workspaces

REPLY = "Thanks for your patience: your parcel left our warehouse this morning."
TIMEOUT_S = 600


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _populate(db_path: Path, secret: str, channel: str, port: int, count: int) -> list[float]:
    """The workspace, `count` customer conversations and one reply in each; the reply times."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_path}", "SECRET_KEY": secret})
    with app.app_context():
        try:
            migrate.upgrade()
            ws, admin = workspaces.create_workspace(
                "Delivery", "admin@delivery.bench", None, admin_name="Ada Admin",
                plan="enterprise",
            )  # fmt: skip
            actor = member_actor(admin, ws)
            if channel == "email":
                inbox, _ = inboxes.create_inbox(
                    actor, "Acme Support", "email", email_address="support@acme.bench",
                    smtp_url=f"smtp://127.0.0.1:{port}",
                )  # fmt: skip
            else:
                inbox, _ = inboxes.create_inbox(
                    actor, "Integration", "api", webhook_url=f"http://127.0.0.1:{port}/hook"
                )
            ids = [
                inbound.receive_inbound(
                    inbox,
                    {"email": f"customer{n}@example.bench", "name": f"Customer {n}"},
                    "Where is my parcel? It was due on Monday.",
                    source_id=f"<order-{n}@example.bench>",
                    subject=f"Parcel {n}",
                ).conversation.display_id
                for n in range(count)
            ]
            timings = []
            for display_id in ids:
                started = time.perf_counter()
                workflow.reply(actor, display_id, REPLY)
                timings.append(time.perf_counter() - started)
            return timings
        finally:
            db.session.remove()
            db.engine.dispose()


def _start(argv: list[str], env: dict, log: Path) -> subprocess.Popen:
    with log.open("wb") as out:
        return subprocess.Popen(  # noqa: S603 - our own fixed command line
            argv, cwd=ROOT, env=clean_env(env), stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip


def _outbox(db_path: Path) -> tuple[int, int, float | None, float | None]:
    """(sent, failed, first sent_at, last sent_at as epoch seconds)."""
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30) as conn:
        sent, failed, first, last = conn.execute(
            "SELECT sum(status = 'sent'), sum(status = 'failed'), min(sent_at), max(sent_at)"
            " FROM outbox"
        ).fetchone()
    return sent or 0, failed or 0, _epoch(first), _epoch(last)


def _epoch(stored: str | None) -> float | None:
    return datetime.fromisoformat(stored).timestamp() if stored else None


def run_channel(channel: str, count: int, workdir: Path) -> dict:
    workdir.mkdir(parents=True, exist_ok=True)
    db_path = workdir / f"delivery-{channel}.sqlite3"
    for leftover in workdir.glob(f"delivery-{channel}.sqlite3*"):
        leftover.unlink()
    secret = secrets.token_urlsafe(32)
    port = free_port()
    report = workdir / f"sink-{channel}.json"
    report.unlink(missing_ok=True)
    kind = "smtp" if channel == "email" else "webhook"
    sink = _start(
        [sys.executable, "-m", "bench.sinks", kind, str(port), str(report)],
        {}, workdir / f"sink-{channel}.log",
    )  # fmt: skip
    worker = None
    try:
        timings = _populate(db_path, secret, channel, port, count)
        worker = _start(
            WORKER_ARGV,
            {
                "DATABASE_URL": f"sqlite:///{db_path}",
                "DESKWOOT_SECRET_KEY": secret,
                "DESKWOOT_DELIVERY_POLL_INTERVAL": "0.05",
                "DESKWOOT_DELIVERY_BATCH": "50",
            },
            workdir / f"worker-{channel}.log",
        )
        sink_cpu0 = _cpu_seconds(sink.pid)
        worker_cpu0 = None
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline:
            sent, failed, _, _ = _outbox(db_path)
            if sent and worker_cpu0 is None:
                worker_cpu0 = _cpu_seconds(worker.pid)  # start-up left out
            if sent + failed >= count or worker.poll() is not None:
                break
            time.sleep(0.02)
        worker_cpu = _cpu_seconds(worker.pid) - (worker_cpu0 or 0.0)
        sink_cpu = _cpu_seconds(sink.pid) - sink_cpu0
        sent, failed, first, last = _outbox(db_path)
    finally:
        if worker is not None:
            stop_process(worker)
        stop_process(sink)
    received = _read_report(report)
    span = (last - first) if first is not None and last is not None else None
    timings_ms = sorted(1000 * t for t in timings)
    return {
        "channel": channel,
        "messages": count,
        "sent": sent,
        "failed": failed,
        "pending": count - sent - failed,
        "seconds": None if span is None else round(span, 2),
        "msgs_per_s": None if not span else round((sent - 1) / span, 1),
        "worker_cpu_ms_per_msg": round(1000 * worker_cpu / max(1, sent), 2),
        "receiver_cpu_ms_per_msg": round(1000 * sink_cpu / max(1, sent), 2),
        "receiver": received,
        "reply_ms_mean": round(statistics.fmean(timings_ms), 2),
        "reply_ms_p99": round(timings_ms[min(len(timings_ms) - 1, int(0.99 * len(timings_ms)))], 2),
    }


def _read_report(path: Path) -> dict:
    for _ in range(50):
        if path.exists():
            return json.loads(path.read_text())
        time.sleep(0.1)
    return {"received": None, "unique": None, "duplicates": None}


def run(count: int, workdir: Path) -> dict:
    """Both channels, and how an email delivery compares to a webhook delivery."""
    rows = [run_channel(channel, count, workdir) for channel in ("email", "api")]
    email, api = rows
    for row in rows:
        print(
            f"  delivery | {row['channel']:<5} {row['msgs_per_s'] or 0:>7,.0f} msg/s  worker "
            f"{row['worker_cpu_ms_per_msg']:.2f} ms/msg  receiver "
            f"{row['receiver_cpu_ms_per_msg']:.2f} ms/msg  reply (request side) "
            f"{row['reply_ms_mean']:.2f} ms mean, {row['reply_ms_p99']:.2f} ms p99  "
            f"sent {row['sent']}/{row['messages']}  duplicates {row['receiver']['duplicates']}",
            flush=True,
        )
    return {
        "count": count,
        "channels": rows,
        "email_vs_api_worker_cpu": _ratio(
            email["worker_cpu_ms_per_msg"], api["worker_cpu_ms_per_msg"]
        ),
        "email_vs_api_reply_ms": _ratio(email["reply_ms_mean"], api["reply_ms_mean"]),
    }


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None
