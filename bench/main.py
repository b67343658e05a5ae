"""Run the benchmark end to end (bench/run.sh and `make bench` call this).

    python -m bench.main [--quick] [--size full|small|tiny] [--duration S] [--connections N]

Generates the datasets when missing (cached under bench/data/), then in turn starts the
ceiling, the peer and Deskwoot on the main dataset (and on the small one for the scaling
check), loads each scenario with wrk, stops the server, and writes latest.md / latest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from bench import api_token, delivery, generate, report
from bench.dataset import SIZES
from bench.loadgen import Load, measure, wrk_binary
from bench.scenarios import (
    CEILING,
    CEILING_AGAIN,
    DESKWOOT,
    PEER,
    PEER_WIDE,
    Scenario,
    ScenarioFailed,
    SkipScenario,
    Target,
    login,
    poll_cursor,
    sample_check,
)
from bench.servers import (
    Server,
    start_ceiling,
    start_deskwoot,
    start_peer,
    start_worker,
    stop_process,
)

ROOT = Path(__file__).resolve().parents[1]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="small dataset, 2 s per scenario, no scaling check"
    )
    parser.add_argument("--size", choices=sorted(SIZES), help="main dataset (default full)")
    parser.add_argument("--duration", type=float, help="measured seconds per scenario")
    parser.add_argument("--warmup", type=float, help="unmeasured seconds before each")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=4, help="per server (README: 4)")
    parser.add_argument(
        "--scaling",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also run the reads on the small dataset (default: with full)",
    )
    parser.add_argument(
        "--recheck",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="the ceiling again at the end and the peer with 64 connections "
        "(default: not with --quick)",
    )
    parser.add_argument(
        "--only", help="comma-separated scenario names (plus ceiling, peer, delivery, stages)"
    )
    parser.add_argument(
        "--delivery-count",
        type=int,
        help="replies per channel in the delivery measurement (default 2000; 200 quick/tiny)",
    )
    parser.add_argument("--data-dir", type=Path, default=ROOT / "bench" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    args.size = args.size or ("small" if args.quick else "full")
    args.duration = args.duration or (2 if args.quick else 10)
    args.warmup = args.warmup if args.warmup is not None else (1 if args.quick else 2)
    if args.scaling is None:
        args.scaling = args.size == "full" and not args.quick
    if args.recheck is None:
        args.recheck = not args.quick and args.size != "tiny"
    if args.delivery_count is None:
        args.delivery_count = 200 if args.quick or args.size == "tiny" else 2000
    return args


def dataset(size: str, data_dir: Path) -> tuple[Path, dict, bool]:
    path = data_dir / f"{size}.sqlite3"
    if generate.is_fresh(path, size):
        return path, json.loads(generate.meta_path(path).read_text()), True
    print(f"generating the {size} dataset into {path} …", flush=True)
    meta = generate.build(path, size)
    print(f"  done in {meta['seconds']} s ({meta['timings']})", flush=True)
    return path, meta, False


def working_copy(path: Path, label: str) -> Path:
    """A fresh copy per run, so the reply scenario never changes the cached dataset."""
    copy = path.with_name(f"run-{label}.sqlite3")
    for stale in (copy, Path(f"{copy}-wal"), Path(f"{copy}-shm")):
        stale.unlink(missing_ok=True)
    shutil.copyfile(path, copy)
    return copy


def _row(scenario: Scenario, server: str) -> dict:
    return {
        "name": scenario.name,
        "server": server,
        "kind": scenario.kind,
        "is_mcp": scenario.is_mcp,
        "rest_twin_of": scenario.rest_twin_of,
        "status": "ok",
        "note": "",
    }


def run_scenario(
    scenario: Scenario, server: Server, target: Target, load: Load, label: str
) -> dict:
    row = _row(scenario, label)
    url = server.base_url + scenario.path
    try:
        row["note"] = sample_check(scenario, url, target)
    except SkipScenario as skip:
        row.update(status="skipped", note=str(skip))
    except (ScenarioFailed, OSError) as failure:
        row.update(status="error", note=str(failure))
    if row["status"] == "ok":
        offset = server.log_size()
        worker = start_worker(server) if scenario.with_worker else None
        try:
            row.update(measure(scenario.script, url, target.env(), load, cpu=server.cpu_seconds))
        finally:
            if worker is not None:
                stop_process(worker)
        row["db_locked"] = server.log_count("database is locked", offset)
        row["tracebacks"] = server.log_count("Traceback", offset)
        row["loadavg_1m"] = round(os.getloadavg()[0], 2)
        print(
            f"  {label:>14} | {scenario.name:<28} {row['rps']:>8,.0f} req/s  p50 "
            f"{row['p50_ms']:>7} ms  p99 {row['p99_ms']:>7} ms  CPU {row['cpu_ms']:.2f}"
            f"+{row['wrk_cpu_ms']:.2f} ms/req  "
            f"non-2xx {row['non2xx']}  "
            f"errors {report.errors(row) - row['non2xx']}  locked {row['db_locked']}",
            flush=True,
        )
    else:
        print(
            f"  {label:>14} | {scenario.name:<28} {row['status'].upper()}: {row['note']}",
            flush=True,
        )
    return row


def run_reference(
    runs: list[tuple[Scenario, Load]], server: Server, token: str
) -> tuple[list[dict], list[float]]:
    target = Target(server.base_url, token, 1, [1], ["x"])
    try:
        rows = [
            run_scenario(scenario, server, target, load, server.name) for scenario, load in runs
        ]
        return rows, server.rss_mb()
    finally:
        server.stop()


@dataclass
class Desk:
    """One running Deskwoot and what its scripts need."""

    label: str
    server: Server
    target: Target
    login_error: str | None = None


def start_desk(label: str, db_path: Path, meta: dict, token: str, args: argparse.Namespace) -> Desk:
    secret = secrets.token_urlsafe(32)
    cursor, after = poll_cursor(db_path, meta["workspace_id"], secret)
    rest_token = api_token.mint(db_path, meta["workspace_id"])  # before the server opens it
    server = start_deskwoot(
        db_path, args.workers, args.data_dir / "logs", secret, name=f"deskwoot-{label}"
    )
    desk = Desk(
        label,
        server,
        Target(
            server.base_url,
            token,
            meta["conversations"],
            meta["inbox_ids"],
            meta["search_queries"],
            cursor=cursor,
            cursor_after=after,
            api_token=rest_token,
        ),
    )
    try:
        desk.target.cookie = login(server.base_url, meta["admin_email"], meta["admin_password"])
    except (ScenarioFailed, OSError) as error:
        desk.login_error = f"login failed: {error}"
    return desk


def run_desks(desks: list[Desk], scenarios, load: Load) -> dict[str, list[dict]]:
    """Each scenario on every Deskwoot back to back (the first one alone takes the writes),
    so that the scaling check compares measurements taken seconds apart."""
    rows: dict[str, list[dict]] = {desk.label: [] for desk in desks}
    for scenario in scenarios:
        for n, desk in enumerate(desks):
            if n and scenario.kind == "write":
                continue
            if scenario.kind == "html" and desk.login_error:
                rows[desk.label].append(
                    {
                        **_row(scenario, desk.server.name),
                        "status": "error",
                        "note": desk.login_error,
                    }
                )
                continue
            rows[desk.label].append(
                run_scenario(scenario, desk.server, desk.target, load, desk.server.name)
            )
    return rows


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None


def scaling(full: list[dict], small: list[dict]) -> list[dict]:
    small_by_name = {r["name"]: r for r in small if r["status"] == "ok"}
    out = []
    for row in full:
        other = small_by_name.get(row["name"])
        if row["status"] != "ok" or other is None or row["kind"] == "write":
            continue
        out.append(
            {
                "name": row["name"],
                "p50_full": row["p50_ms"],
                "p50_small": other["p50_ms"],
                "p50_ratio": round(row["p50_ms"] / other["p50_ms"], 2),
                "mean_ratio": round(row["mean_ms"] / other["mean_ms"], 2),
                "rps_full": row["rps"],
                "rps_small": other["rps"],
                "cpu_full": row["cpu_ms"],
                "cpu_small": other["cpu_ms"],
                "cpu_ratio": _ratio(row["cpu_ms"], other["cpu_ms"]),
            }
        )
    return out


def stage_profile(copy: Path, source: Path, args: argparse.Namespace) -> dict:
    """Server CPU per stage of get_conversation, the reply and the list page (bench/stages.py),
    in a process of its own (its timers wrap deskwoot's functions) on the run's working copy,
    after the servers stopped. An error is reported, loudly, instead of the table."""
    n = 50 if args.size == "tiny" else 100 if args.quick else 300
    out = copy.with_name(f"{copy.stem}-stages.json")
    out.unlink(missing_ok=True)
    print(f"stage profile (bench/stages.py, {n} calls per tool, in-process)", flush=True)
    command = [sys.executable, "-m", "bench.stages", "--db", str(copy), "--source", str(source)]
    proc = subprocess.run(  # noqa: S603 - our own fixed command line
        [*command, "-n", str(n), "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if proc.returncode != 0 or not out.exists():
        error = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"  STAGE PROFILE FAILED: {error}\n{proc.stderr[-2000:]}", flush=True)
        return {"error": error}
    print(proc.stdout, flush=True)
    return json.loads(out.read_text())


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    wrk_binary()
    started = time.time()
    only = set(args.only.split(",")) if args.only else None
    picked = [s for s in DESKWOOT if only is None or s.name in only]
    load = Load(args.duration, args.warmup, args.connections, args.threads)
    loadavg_start = [round(x, 2) for x in os.getloadavg()]

    sizes = [args.size, *(["small"] if args.scaling and args.size != "small" else [])]
    datasets, copies = {}, {}
    for size in sizes:
        path, meta, cached = dataset(size, args.data_dir)
        datasets[size] = {
            "counts": meta["counts"],
            "generation_seconds": meta["seconds"],
            "phases": meta["timings"],
            "cached": cached,
            "generated_at": meta["generated_at"],
            "meta": meta,
        }
        copies[size] = working_copy(path, size)
    token = generate.token_path(args.data_dir / f"{args.size}.sqlite3").read_text().strip()
    logs = args.data_dir / "logs"

    reference, rss = [], {}
    if only is None or "ceiling" in only:
        measured, rss["ceiling"] = run_reference(
            [(CEILING, load)], start_ceiling(args.workers, logs), token
        )
        reference += measured
    if only is None or "peer" in only:
        runs = [(PEER, load)]
        if args.recheck:
            runs.append((PEER_WIDE, replace(load, connections=64)))
        measured, rss["peer"] = run_reference(runs, start_peer(args.workers, logs, token), token)
        reference += measured
    desks: list[Desk] = []
    try:
        for size in sizes:  # the main size first; it alone takes the writes
            size_token = generate.token_path(args.data_dir / f"{size}.sqlite3").read_text()
            desks.append(
                start_desk(size, copies[size], datasets[size]["meta"], size_token.strip(), args)
            )
        by_label = run_desks(desks, picked, load)
        for desk in desks:
            name = "deskwoot" if desk.label == args.size else f"deskwoot-{desk.label}"
            rss[name] = desk.server.rss_mb()
    finally:
        for desk in desks:
            desk.server.stop()
    stages = None
    if only is None or "stages" in only:
        stages = stage_profile(copies[args.size], args.data_dir / f"{args.size}.sqlite3", args)
    delivered = None
    if only is None or "delivery" in only:
        print("delivery worker throughput (bench/delivery.py)", flush=True)
        delivered = delivery.run(args.delivery_count, args.data_dir / "delivery")
    rows = by_label[args.size]
    small_rows = by_label.get("small", []) if args.size != "small" else []

    if args.recheck and (only is None or "ceiling" in only):
        # The machine may have got busier or quieter meanwhile: the ratios use the mean.
        measured, _ = run_reference(
            [(CEILING_AGAIN, load)], start_ceiling(args.workers, logs), token
        )
        reference += measured
    ceilings = [
        r
        for r in reference
        if r["status"] == "ok" and r["name"] in (CEILING.name, CEILING_AGAIN.name)
    ]
    ceiling = (
        {
            key: sum(r[key] or 0 for r in ceilings) / len(ceilings)
            for key in ("rps", "cpu_ms", "wrk_cpu_ms")
        }
        if ceilings
        else None
    )
    peer = next((r for r in reference if r["name"] == PEER.name and r["status"] == "ok"), None)
    report.add_ratios([*reference, *rows, *small_rows], ceiling, peer)
    scale = scaling(rows, small_rows)
    for d in datasets.values():
        d.pop("meta")
    result = {
        "started_at": datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds"),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "elapsed_seconds": round(time.time() - started, 1),
        "settings": {
            "size": args.size,
            "quick": args.quick,
            "duration": args.duration,
            "warmup": args.warmup,
            "connections": args.connections,
            "threads": args.threads,
            "workers": args.workers,
            "scaling": args.scaling,
            "recheck": args.recheck,
        },
        "ceiling_rps": None if ceiling is None else round(ceiling["rps"], 1),
        "ceiling_cpu_ms": None if ceiling is None else round(ceiling["cpu_ms"], 3),
        "ceiling_wrk_cpu_ms": None if ceiling is None else round(ceiling["wrk_cpu_ms"], 3),
        "machine": {
            "cpus": os.cpu_count(),
            "loadavg_start": loadavg_start,
            "loadavg_end": [round(x, 2) for x in os.getloadavg()],
        },
        "datasets": datasets,
        "reference": reference,
        "scenarios": rows,
        "scenarios_small": small_rows,
        "scaling": scale,
        "rss_mb": rss,
        "delivery": delivered,
        "stages": stages,
        "targets": report.evaluate(rows, scale, rss.get("deskwoot", [])),
    }
    md, js = report.write(result, args.out)
    print()
    print(report.markdown(result))
    print(f"wrote {md} and {js}")
    return result


if __name__ == "__main__":
    main()
