"""After the load and the drain: check that every reply left Deskwoot once, and only once by
its identity, through workers that were killed under it.

- every acknowledged reply in the email inbox reached the SMTP sink under its Message-ID
  (`identity.message_id_for`), and every one in the API inbox the webhook receiver under its
  `webhook-id`; none lost;
- the receivers got nothing else: no identity that is not a committed reply's, nothing
  unreadable or unsigned;
- every committed reply arrived under its identity, and when a kill between the receiver's
  acceptance and the worker's commit made the worker send it again, the copy was the same
  message (raw duplicate copies are counted: mail clients and webhook receivers collapse
  them by identity);
- the outbox drained: every email/api row sent, none failed or pending ("web" inbox replies
  stay pending by design: there is nothing to deliver them to), each sent row with exactly
  one `message.delivered` event;
- every planned worker kill happened, and no worker log has a traceback; the workers stopped
  cleanly on SIGTERM at the end.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field

from sqlalchemy import create_engine, func, select

from deskwoot.channels.email.identity import message_id_for
from deskwoot.models import Event, Message, Outbox
from stress.clients import Ledger
from stress.databases import Database
from stress.sink_records import Copy, Recorder
from stress.verify import Check, _first
from stress.world import API_INBOX, EMAIL_ADDRESS, EMAIL_INBOX, World

DELIVERED_CHANNELS = ("email", "api")


@dataclass
class DeliveryRun:
    """What the delivery side of the run left for the checks."""

    mail: Recorder
    webhooks: Recorder
    kills: list  # worker_chaos.WorkerKill
    kills_wanted: int
    chaos_failure: str | None
    workers_started: int
    drain_s: float | None  # None: the outbox still had pending rows at the timeout
    drain_timeout: float
    worker_log: str
    stop_codes: list = field(default_factory=list)  # exit codes after the final SIGTERM


def pending_deliveries(engine, workspace_id: int) -> int:
    """Rows of the delivered channels still pending (the drain waits for 0)."""
    with engine.connect() as conn:
        return conn.execute(
            select(func.count())
            .select_from(Outbox.__table__)
            .where(
                Outbox.workspace_id == workspace_id,
                Outbox.status == "pending",
                Outbox.channel.in_(DELIVERED_CHANNELS),
            )
        ).scalar_one()


def _read(database: Database, world: World):
    engine = create_engine(database.url)
    try:
        with engine.connect() as conn:
            o, m, e = Outbox.__table__, Message.__table__, Event.__table__
            outbox = conn.execute(
                select(o.c.message_id, o.c.channel, o.c.status, o.c.attempts, o.c.delivery_id)
                .where(o.c.workspace_id == world.workspace_id)
                .order_by(o.c.id)
            ).all()
            outgoing = conn.execute(
                select(m.c.id, m.c.inbox_id).where(
                    m.c.workspace_id == world.workspace_id, m.c.kind == "outgoing"
                )
            ).all()
            fates = conn.execute(
                select(e.c.type, e.c.data).where(
                    e.c.workspace_id == world.workspace_id,
                    e.c.type.in_(("message.delivered", "message.failed")),
                )
            ).all()
    finally:
        engine.dispose()
    return outbox, outgoing, fates


def check(
    database: Database, world: World, ledger: Ledger, run: DeliveryRun
) -> tuple[list[Check], dict]:
    return evaluate(*_read(database, world), world, ledger, run)


def evaluate(
    outbox: list, outgoing: list, fates: list, world: World, ledger: Ledger, run: DeliveryRun
) -> tuple[list[Check], dict]:
    """The checks on rows read back (outbox rows, outgoing messages, delivery events)."""
    email, api = world.inbox(EMAIL_INBOX), world.inbox(API_INBOX)
    domain = EMAIL_ADDRESS.rpartition("@")[2]
    identity = {
        email.id: lambda message_id: message_id_for(message_id, email.uid, domain),
        api.id: lambda message_id: f"msg_{message_id}",
    }
    # Committed replies, by where they go: identity -> message id.
    committed: dict[int, dict[str, int]] = {email.id: {}, api.id: {}}
    inbox_of = {}
    for row in outgoing:
        inbox_of[row.id] = row.inbox_id
        if row.inbox_id in committed:
            committed[row.inbox_id][identity[row.inbox_id](row.id)] = row.id
    acknowledged = defaultdict(list)
    for write in ledger.writes:
        if write.kind == "reply" and write.acked_id is not None:
            inbox_id = inbox_of.get(write.acked_id)
            if inbox_id in committed:
                acknowledged[inbox_id].append(identity[inbox_id](write.acked_id))

    checks: list[Check] = []
    figures: dict = {}
    kills = {kill.pid: kill.killed_at for kill in run.kills if kill.pid is not None}
    for label, inbox, recorder, what in (
        ("email", email, run.mail, "SMTP sink, by Message-ID"),
        ("api", api, run.webhooks, "webhook receiver, by webhook-id"),
    ):
        found, tally = _receiver(label, acknowledged[inbox.id], committed[inbox.id], recorder, what)
        tally.update(_duplicate_causes(recorder.copies(), kills))
        checks += found
        figures[label] = tally

    checks += _outbox(outbox, fates, figures)
    checks += _workers(run, figures)
    return checks, figures


def _receiver(
    label: str, acknowledged: list[str], committed: dict[str, int], recorder: Recorder, what: str
) -> tuple[list[Check], dict]:
    copies = recorder.copies()
    counts = Counter(copy.key for copy in copies)
    digests = defaultdict(set)
    for copy in copies:
        digests[copy.key].add(copy.digest)
    lost = [key for key in acknowledged if key not in counts]
    unknown = [key for key in counts if key not in committed]
    never_arrived = [key for key in committed if key not in counts]
    differing = [key for key, seen in digests.items() if len(seen) > 1]
    duplicates = sum(n - 1 for n in counts.values())
    tally = {
        "acknowledged": len(acknowledged),
        "committed": len(committed),
        "received": len(counts),
        "copies": len(copies),
        "duplicate_copies": duplicates,
        "refused_transient": recorder.refused,
        "lost": len(lost),
        "unknown": len(unknown),
        "differing": len(differing),
        "rejected": len(recorder.rejected),
    }
    checks = [
        Check(
            f"every acknowledged {label} reply reached the {what} (none lost)",
            not lost and bool(acknowledged),
            f"{len(acknowledged) - len(lost)}/{len(acknowledged)} arrived; lost: {_first(lost)}",
        ),
        Check(
            f"the {what.split(',')[0]} got only committed replies",
            not unknown and not recorder.rejected,
            f"{len(unknown)} unknown ({_first(unknown)}); {len(recorder.rejected)} unreadable "
            f"or unsigned ({_first(recorder.rejected)})",
        ),
        Check(
            f"every committed {label} reply delivered exactly once by its identity, "
            "redelivered copies the same message",
            not never_arrived and not differing,
            f"{len(counts)}/{len(committed)} identities, {duplicates} raw duplicate copies "
            f"(identical), {recorder.refused} transient refusals; missing: "
            f"{_first(never_arrived)}; copies that differ: {_first(differing)}",
        ),
    ]
    return checks, tally


def _duplicate_causes(copies: list[Copy], kills: dict[int, float]) -> dict:
    """Why each copy after an identity's first was sent: its previous sender was killed
    before it ("after_kill": the lease ran out and another worker sent it again), or the
    previous sender was alive ("live_sender": a worker still delivering a row whose lease
    had run out, or a sender the receiver could not name)."""
    causes = Counter(after_kill=0, live_sender=0)
    samples = []
    previous: dict[str, Copy] = {}
    for copy in sorted(copies, key=lambda c: c.at):
        before = previous.get(copy.key)
        previous[copy.key] = copy
        if before is None:
            continue
        killed_at = kills.get(before.sender) if before.sender is not None else None
        if killed_at is not None and before.at <= killed_at <= copy.at:
            causes["after_kill"] += 1
        else:
            causes["live_sender"] += 1
            samples.append(
                f"{copy.key}: sent by {before.sender}, again by {copy.sender} "
                f"{copy.at - before.at:.1f} s later"
            )
    return {
        **{f"duplicates_{cause}": n for cause, n in causes.items()},
        "live_sender_samples": samples[:5],
    }


def _outbox(outbox: list, fates: list, figures: dict) -> list[Check]:
    by_status: dict[str, Counter] = defaultdict(Counter)
    for row in outbox:
        by_status[row.channel][row.status] += 1
    figures["outbox"] = {channel: dict(counts) for channel, counts in by_status.items()}
    delivered = [row for row in outbox if row.channel in DELIVERED_CHANNELS]
    unsent = [f"{row.delivery_id} {row.status}" for row in delivered if row.status != "sent"]
    sent_ids = {row.message_id for row in delivered if row.status == "sent"}
    figures["retries_recorded"] = sum(row.attempts for row in delivered) - len(sent_ids)
    events = Counter((fate.type, (fate.data or {}).get("message_id")) for fate in fates)
    wrong_events = [
        f"msg_{message_id}: {events[('message.delivered', message_id)]} delivered events"
        for message_id in sent_ids
        if events[("message.delivered", message_id)] != 1
    ]
    failed_events = sum(n for (kind, _), n in events.items() if kind == "message.failed")
    web_pending = by_status.get("web", Counter())["pending"]
    return [
        Check(
            "every email/api outbox row sent (none failed or pending)",
            not unsent and bool(delivered),
            ", ".join(f"{c}: {dict(by_status.get(c, {}))}" for c in DELIVERED_CHANNELS)
            + f"; web replies pending by design: {web_pending}; not sent: {_first(unsent)}",
        ),
        Check(
            "every sent row has exactly one message.delivered event, none message.failed",
            not wrong_events and failed_events == 0,
            f"{len(sent_ids)} sent; {failed_events} message.failed; {_first(wrong_events)}",
        ),
    ]


def _workers(run: DeliveryRun, figures: dict) -> list[Check]:
    tracebacks = run.worker_log.count("Traceback")
    mid_delivery = sum(1 for kill in run.kills if kill.mid_delivery)
    figures.update(
        worker_kills=[asdict(kill) for kill in run.kills],
        worker_kills_mid_delivery=mid_delivery,
        workers_started=run.workers_started,
        drain_s=None if run.drain_s is None else round(run.drain_s, 2),
        drained=run.drain_s is not None,
        worker_tracebacks=tracebacks,
        worker_stop_codes=run.stop_codes,
    )
    killed = [kill for kill in run.kills if kill.pid is not None]
    return [
        Check(
            "every worker kill -9 injected, a new worker started after each",
            run.chaos_failure is None and len(killed) == len(run.kills) == run.kills_wanted,
            run.chaos_failure.strip().splitlines()[-1]
            if run.chaos_failure
            else f"{len(killed)}/{run.kills_wanted} kills, {mid_delivery} mid-delivery "
            f"(by a receiver), {run.workers_started} workers started in all",
        ),
        Check(
            "the workers drained the outbox after the load",
            run.drain_s is not None,
            f"in {run.drain_s:.1f} s"
            if run.drain_s is not None
            else f"rows still pending after {run.drain_timeout:g} s",
        ),
        Check("no traceback in the worker logs", tracebacks == 0, f"{tracebacks} tracebacks"),
        Check(
            "the workers stopped cleanly on SIGTERM",
            bool(run.stop_codes) and all(code == 0 for code in run.stop_codes),
            f"exit codes {run.stop_codes}",
        ),
    ]
