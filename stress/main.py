"""python -m stress: the full stress run (`make stress` calls it through stress/run.sh).

    python -m stress [--db sqlite|postgresql|both] [--clients 64] [--duration 60]
                     [--crashes 3] [--workers 4] [--delivery-workers 2] [--worker-kills 6]
                     [--pg-url URL] [--out stress/results]

SQLite runs on a new file in a temp dir. PostgreSQL runs on a new database created on the
server named by --pg-url, or, without it, on a throwaway cluster started with
scripts/pg-cluster.sh and stopped afterwards. Writes latest.md and latest.json to --out and
exits 1 when any check failed.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import tempfile
import traceback
from pathlib import Path

from stress import report
from stress.databases import postgres_database, sqlite_database, throwaway_cluster
from stress.run import Settings, run

ROOT = Path(__file__).resolve().parents[1]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m stress", description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--clients", type=int, default=64, help="concurrent clients (default 64)")
    parser.add_argument("--pollers", type=int, default=0, help="of which poll events (0: 1/8)")
    parser.add_argument("--duration", type=float, default=60, help="seconds of load (default 60)")
    parser.add_argument("--crashes", type=int, default=3, help="kill -9 during the load")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (default 4)")
    parser.add_argument(
        "--delivery-workers", type=int, default=2, help="deskwoot worker processes (default 2)"
    )
    parser.add_argument(
        "--worker-kills", type=int, default=6, help="kill -9 of a delivery worker (default 6)"
    )
    parser.add_argument(
        "--smtp-defer-rate", type=float, default=0.05, help="451s from the SMTP sink (0.05)"
    )
    parser.add_argument(
        "--webhook-fail-rate", type=float, default=0.05, help="500s from the receiver (0.05)"
    )
    parser.add_argument("--seed", type=int)
    parser.add_argument("--pg-url", help="a PostgreSQL server to create the database on")
    parser.add_argument("--out", type=Path, default=ROOT / "stress" / "results")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, SQLite)")
    args = parser.parse_args(argv)
    if args.clients < 2:
        parser.error("--clients must be at least 2 (an agent and a poller)")
    if args.delivery_workers < 1:
        parser.error("--delivery-workers must be at least 1")
    for name in ("smtp_defer_rate", "webhook_fail_rate"):
        if not 0 <= getattr(args, name) < 0.5:
            parser.error(f"--{name.replace('_', '-')} must be from 0 to under 0.5")
    return args


def run_on(kind: str, settings: Settings, workdir: Path, pg_url: str | None) -> dict:
    with contextlib.ExitStack() as stack:
        if kind == "sqlite":
            database = stack.enter_context(sqlite_database(workdir))
        else:
            server_url = pg_url or stack.enter_context(throwaway_cluster())
            database = stack.enter_context(postgres_database(server_url))
        return run(settings, database, workdir)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = Settings(
        clients=args.clients,
        pollers=args.pollers,
        duration=args.duration,
        crashes=args.crashes,
        workers=args.workers,
        seed=args.seed,
        delivery_workers=args.delivery_workers,
        worker_kills=args.worker_kills,
        smtp_defer_rate=args.smtp_defer_rate,
        webhook_fail_rate=args.webhook_fail_rate,
    )
    kinds = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    workdir = Path(tempfile.mkdtemp(prefix="deskwoot-stress."))
    runs = []
    failed = False
    try:
        for kind in kinds:
            print(
                f"==> stress on {kind}: {settings.clients} clients, {settings.duration:g} s, "
                f"{settings.crashes} crashes, {settings.delivery_workers} delivery workers, "
                f"{settings.worker_kills} worker kills",
                flush=True,
            )
            try:
                result = run_on(kind, settings, workdir, args.pg_url)
            except Exception:
                traceback.print_exc()
                failed = True
                continue
            runs.append(result)
            for check in result["checks"]:
                mark = "ok  " if check["ok"] else "FAIL"
                print(f"    {mark} {check['name']}: {check['detail']}", flush=True)
        if runs:
            json_path, md_path = report.write(runs, args.out)
            print()
            print(report.summary_table(runs))
            print()
            print(report.delivery_table(runs))
            print(f"\nreport: {md_path} and {json_path.name}")
    finally:
        if args.keep or failed or not all(r["ok"] for r in runs):
            # Keep the server logs and the SQLite file of a failed run for a look.
            print(f"logs and databases kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0 if runs and not failed and all(r["ok"] for r in runs) else 1
