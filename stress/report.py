"""latest.json and latest.md: the figures and checks of each database's run."""

from __future__ import annotations

import json
import platform
from datetime import UTC, datetime
from pathlib import Path

from stress.clients import KINDS, WRITES


def write(runs: list[dict], out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    document = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": _cpus(), "python": platform.python_version()},
        "ok": all(run["ok"] for run in runs),
        "runs": runs,
    }
    json_path, md_path = out / "latest.json", out / "latest.md"
    json_path.write_text(json.dumps(document, indent=2) + "\n")
    md_path.write_text(markdown(document))
    return json_path, md_path


def _cpus() -> int:
    import os

    return os.cpu_count() or 0


def summary_table(runs: list[dict]) -> str:
    """The one-line-per-database table (also what README's Reliability section shows)."""
    lines = [
        "| database | requests | req/s | 5xx | locked | writes acked | stored exactly once | "
        "duplicates | retried across a crash | answer lost, replayed | events polled / expected | "
        "kill -9 | recovery s | result |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for run in runs:
        writes = run["writes"].values()
        recovery = [c["recovery_s"] for c in run["crashes"]]
        lines.append(
            "| {db} | {req:,} | {rps:,.0f} | {fivexx} | {locked} | {acked:,} | {verified:,} | "
            "{dups} | {retried} | {replayed} | {polled:,} / {expected:,} | {crashes} | "
            "{recovery} | {result} |".format(
                db=run["database"],
                req=run["requests_answered"],
                rps=run["req_per_s"],
                fivexx=run["http_5xx"],
                locked=run["locked"],
                acked=sum(w["acknowledged"] for w in writes),
                verified=sum(w["verified"] for w in writes),
                dups=sum(w["duplicates"] for w in writes),
                retried=sum(w["retried"] for w in writes),
                replayed=sum(w["replayed"] for w in writes),
                polled=run["events"]["polled"],
                expected=run["events"]["expected"],
                crashes=len(run["crashes"]),
                recovery=", ".join(f"{r:.1f}" for r in recovery) or "—",
                result="**pass**" if run["ok"] else "**FAIL**",
            )
        )
    return "\n".join(lines)


def markdown(document: dict) -> str:
    runs = document["runs"]
    parts = [
        "# Deskwoot stress run",
        "",
        f"{document['generated_at']}, {document['machine']['cpus']} CPUs, Python "
        f"{document['machine']['python']}. Result: "
        + ("**every check passed**." if document["ok"] else "**some checks FAILED**."),
        "",
        summary_table(runs),
        "",
        f"{runs[0]['settings']['clients']} clients for {runs[0]['settings']['duration']:g} s "
        "per database. *Retried across a crash*: acknowledged writes that took more than one "
        "attempt because the server was killed under them or was still down. *Answer lost, "
        "replayed*: of those, "
        "the ones that had committed before the kill; the retry with the same idempotency key "
        "or source_id returned the stored result instead of writing again. *req/s* counts the "
        "outages in.",
    ]
    for run in runs:
        parts += ["", *_details(run)]
    return "\n".join(parts) + "\n"


def _details(run: dict) -> list[str]:
    s = run["settings"]
    lines = [
        f"## {run['database']}",
        "",
        f"{s['clients']} clients ({s['pollers']} pollers) for {s['duration']:g} s on gunicorn "
        f"with {s['workers']} workers, {s['crashes']} kill -9 crashes planned, seed {s['seed']}. "
        f"Setup {run['setup_s']} s, server start {run['startup_s']} s, load {run['load_s']} s: "
        f"{run['req_per_s']} req/s overall, {run['req_per_s_serving']} req/s while the server "
        "was up.",
        "",
        "| request | sent | answered | ok | 5xx | failed | interrupted (crash) | p50 ms | p99 ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for kind in KINDS:
        r = run["requests"][kind]
        lines.append(
            f"| {kind} | {r['attempts']:,} | {r['answered']:,} | {r['ok']:,} | {r['http_5xx']} | "
            f"{r['failed']} | {r['interrupted']} | {r['p50_ms'] or '—'} | {r['p99_ms'] or '—'} |"
        )
    lines += [
        "",
        "| write | acknowledged | stored exactly once | missing | duplicates | retried | "
        "answer lost, replayed |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for kind in WRITES:
        w = run["writes"][kind]
        lines.append(
            f"| {kind} | {w['acknowledged']:,} | {w['verified']:,} | {w['missing']} | "
            f"{w['duplicates']} | {w['retried']} | {w['replayed']} |"
        )
    lines += ["", "| crash at s | processes killed | down s | recovery s | outage s |"]
    lines.append("|---:|---:|---:|---:|---:|")
    for c in run["crashes"]:
        lines.append(
            f"| {c['at_s']} | {c['processes_killed']} | {c['down_s']} | {c['recovery_s']} | "
            f"{c['outage_s']} |"
        )
    events = run["events"]
    lines += [
        "",
        f"Events in the database: {events['in_database']:,}. Pollers: "
        + ", ".join(
            f"{p['poller']} ({'filtered' if p['types'] != 'all' else 'all'}) "
            f"{p['polled']:,}/{p['expected']:,}"
            for p in events["pollers"]
        )
        + ".",
        "",
        f"PRAGMA integrity_check: {run['integrity']}. Load generator CPU: "
        f"{run['client_cpu_s']} s over {run['load_s']} s (it is not the bottleneck when this "
        "stays well under the load time).",
        "",
        "Checks:",
        "",
    ]
    lines += [
        f"- {'✅' if c['ok'] else '❌'} {c['name']}" + (f" — {c['detail']}" if c["detail"] else "")
        for c in run["checks"]
    ]
    if run["failure_samples"]:
        lines += ["", "First failures:", ""]
        lines += [f"- `{sample[:300]}`" for sample in run["failure_samples"][:10]]
    return lines
