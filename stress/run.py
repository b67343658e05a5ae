"""One stress run on one database: build the workspace, serve it, load it while crashing the
server and killing delivery workers, drain the outbox and the pollers, stop, verify. Used by
`python -m stress` and the test suite."""

from __future__ import annotations

import random
import secrets
import threading
import time
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

from sqlalchemy import create_engine

from stress import verify_delivery
from stress import world as world_module
from stress.chaos import Chaos, crash_moments
from stress.clients import KINDS, Agent, Ledger, Plan, Poller
from stress.databases import Database
from stress.mail_sink import MailSink
from stress.server import StressServer
from stress.verify import check_all
from stress.verify_delivery import DeliveryRun
from stress.webhook_sink import WebhookSink
from stress.worker_chaos import WorkerChaos, kill_moments
from stress.workers import WorkerPool, wait_until

# One poller follows only these types, so a filtered cursor is checked as well.
FILTERED_TYPES = ["message.created", "draft.created"]


@dataclass
class Settings:
    clients: int = 64  # concurrent clients in all, pollers included
    pollers: int = 0  # of which follow the events feed (0: an eighth, at least 2)
    duration: float = 60.0  # seconds of load
    crashes: int = 3  # kill -9 of the whole server during the load
    workers: int = 4  # gunicorn workers (the README's setting for 2 cores)
    seed: int | None = None
    request_timeout: float = 60.0
    give_up_after: float = 120.0  # seconds one operation may keep retrying
    load_after_recovery: float = 2.0  # at least this much load after the last restart
    delivery_workers: int = 2  # `deskwoot worker` processes
    worker_kills: int = 6  # kill -9 of one delivery worker during the load
    smtp_defer_rate: float = 0.05  # of messages the SMTP sink answers 451
    webhook_fail_rate: float = 0.05  # of webhooks the receiver answers 500
    drain_timeout: float = 120.0  # seconds the workers get to empty the outbox after the load

    def poller_count(self) -> int:
        return self.pollers or max(2, self.clients // 8)


@dataclass
class Load:
    """What the load left behind for the checks."""

    ledger: Ledger
    pollers: list[Poller]
    chaos: Chaos
    delivery: DeliveryRun
    seconds: float
    client_cpu_s: float
    answered: int


def run(settings: Settings, database: Database, workdir: Path) -> dict:
    """Run the load on `database` (fresh and empty); returns the figures and checks."""
    seed = settings.seed if settings.seed is not None else secrets.randbelow(2**31)
    rng = random.Random(seed)  # noqa: S311 - load shaping, not secrets
    secret_key = secrets.token_urlsafe(32)
    log = workdir / f"gunicorn-{database.kind}.log"
    log.unlink(missing_ok=True)
    server = StressServer(database.url, settings.workers, log, secret_key)
    mail = MailSink(settings.smtp_defer_rate, rng.randrange(2**31))
    webhooks = WebhookSink(settings.webhook_fail_rate, rng.randrange(2**31))
    worker_log = workdir / f"workers-{database.kind}.log"
    worker_log.unlink(missing_ok=True)
    pool = WorkerPool(server.env, settings.delivery_workers, worker_log)

    setup_started = time.monotonic()
    world_module.migrate_schema(database.url)
    mail.start()
    webhooks.start()
    server.start()  # its workers boot while the workspace is being built
    try:
        world = world_module.build(
            database.url, secret_key, server.base_url, mail.url, webhooks.url
        )
        webhooks.verify_with(world.webhook_secret)
        for receiver in (mail, webhooks):
            receiver.recorder.identify = partial(pool.owner_of, remote_port=receiver.port)
        pool.start()
        setup_s = time.monotonic() - setup_started
        startup_s = server.wait_ready(world.token)
        load = _drive(settings, server, world, rng, (pool, mail, webhooks), database.url)
    finally:
        server.stop()
        pool.stop()
        mail.stop()
        webhooks.stop()

    checks, figures = check_all(
        database,
        world,
        load.ledger,
        load.pollers,
        server.log_text(),
        settings.crashes,
        load.chaos.crashes,
        load.chaos.failure,
    )
    delivery_checks, delivery = verify_delivery.check(database, world, load.ledger, load.delivery)
    checks += delivery_checks
    delivery["ok"] = all(c.ok for c in delivery_checks)
    outages = sum(c.outage_s for c in load.chaos.crashes)
    return {
        "database": database.kind,
        "ok": all(c.ok for c in checks),
        "settings": {**asdict(settings), "seed": seed, "pollers": len(load.pollers)},
        "setup_s": round(setup_s, 2),  # migrate and build the workspace
        "startup_s": round(startup_s, 2),  # then until the server answered
        "load_s": round(load.seconds, 2),
        "client_cpu_s": round(load.client_cpu_s, 1),
        "requests_answered": load.answered,
        "req_per_s": round(load.answered / load.seconds, 1),
        # the same while the server was up (crash outages left out)
        "req_per_s_serving": round(load.answered / max(1.0, load.seconds - outages), 1),
        "requests": {kind: _kind_figures(load.ledger.stats[kind]) for kind in KINDS},
        "crashes": [asdict(c) for c in load.chaos.crashes],
        "failure_samples": load.ledger.samples,
        **figures,
        "delivery": delivery,
        "checks": [asdict(c) for c in checks],
    }


def _drive(
    settings: Settings,
    server: StressServer,
    world,
    rng: random.Random,
    delivery: tuple[WorkerPool, MailSink, WebhookSink],
    database_url: str,
) -> Load:
    """Start the clients, the crashes and the worker kills, stop after the duration, let the
    workers empty the outbox, stop them, then let the pollers drain the feed."""
    pool, mail, webhooks = delivery
    ledger = Ledger(world.conversations)
    plan = Plan(
        base_url=server.base_url,
        mcp_url=server.mcp_url,
        world=world,
        ledger=ledger,
        stop=threading.Event(),
        drain=threading.Event(),
        request_timeout=settings.request_timeout,
        give_up_after=settings.give_up_after,
    )
    n_pollers = min(settings.poller_count(), settings.clients - 1)
    pollers = [
        Poller(n, plan, rng.randrange(2**31), FILTERED_TYPES if n == 0 else None)
        for n in range(n_pollers)
    ]
    agents = [Agent(n, plan, rng.randrange(2**31)) for n in range(settings.clients - n_pollers)]
    t0, cpu0 = time.monotonic(), time.process_time()
    moments = crash_moments(settings.duration, settings.crashes, rng)
    chaos = Chaos(server, world.token, moments, t0, rng.randrange(2**31))
    worker_chaos = WorkerChaos(
        pool,
        mail,
        webhooks,
        kill_moments(settings.duration, settings.worker_kills, rng),
        t0,
        rng.randrange(2**31),
    )
    for client in (*agents, *pollers):
        client.start()
    chaos.start()
    worker_chaos.start()
    time.sleep(max(0.0, t0 + settings.duration - time.monotonic()))
    chaos.join()
    if chaos.crashes:
        # Load the recovered server a little longer, whatever the duration said.
        back = t0 + chaos.crashes[-1].at_s + chaos.crashes[-1].outage_s
        time.sleep(max(0.0, back + settings.load_after_recovery - time.monotonic()))
    plan.stop.set()
    for agent in agents:
        agent.join()
    seconds = time.monotonic() - t0
    cpu = time.process_time() - cpu0
    answered = sum(ledger.stats[kind].answered for kind in KINDS)
    delivered = _drain_outbox(settings, pool, worker_chaos, database_url, world.workspace_id)
    plan.drain.set()  # nobody writes any more: the pollers read to the end
    for poller in pollers:
        poller.join()
    return Load(ledger, pollers, chaos, delivered, seconds, cpu, answered)


def _drain_outbox(
    settings: Settings, pool: WorkerPool, chaos: WorkerChaos, database_url: str, workspace_id: int
) -> DeliveryRun:
    """After the load: the kills end, workers run in every slot until no email/api row is
    pending (or the timeout), then stop with SIGTERM — before the pollers' final read, so
    the feed they drain gets no more message.delivered events."""
    chaos.join()
    pool.revive()
    engine = create_engine(database_url)
    try:
        drain_s = wait_until(
            lambda: verify_delivery.pending_deliveries(engine, workspace_id) == 0,
            settings.drain_timeout,
        )
    finally:
        engine.dispose()
    stopped = pool.stop()
    return DeliveryRun(
        mail=chaos.mail.recorder,
        webhooks=chaos.webhooks.recorder,
        kills=chaos.kills,
        kills_wanted=len(chaos.moments),
        chaos_failure=chaos.failure,
        workers_started=pool.started,
        drain_s=drain_s,
        drain_timeout=settings.drain_timeout,
        worker_log=pool.log_text(),
        stop_codes=[s.returncode for s in stopped],
    )


def _kind_figures(stats) -> dict:
    latencies = sorted(stats.latencies)

    def pct(p: float) -> float | None:
        if not latencies:
            return None
        return round(1000 * latencies[min(len(latencies) - 1, int(p * len(latencies)))], 1)

    return {
        "attempts": stats.attempts,
        "answered": stats.answered,
        "ok": stats.ok,
        "http_5xx": stats.http_5xx,
        "failed": stats.errors,
        "interrupted": stats.interrupted,
        "gave_up": stats.gave_up,
        "p50_ms": pct(0.5),
        "p99_ms": pct(0.99),
    }
