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


def delivery_table(runs: list[dict]) -> str:
    """The delivery side of each run: replies out through workers killed under them."""
    lines = [
        "| database | email replies acked / at the sink | webhooks acked / received | "
        "worker kill -9 (mid-delivery) | raw duplicate copies | 451 / 500 answered | "
        "retries recorded | drain s | result |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for run in runs:
        d = run["delivery"]
        email, api = d["email"], d["api"]
        lines.append(
            f"| {run['database']} | {email['acknowledged']:,} / {email['received']:,} | "
            f"{api['acknowledged']:,} / {api['received']:,} | "
            f"{len(d['worker_kills'])} ({d['worker_kills_mid_delivery']}) | "
            f"{email['duplicate_copies']} + {api['duplicate_copies']} | "
            f"{email['refused_transient']} / {api['refused_transient']} | "
            f"{d['retries_recorded']} | "
            + (f"{d['drain_s']:.1f}" if d["drained"] else "**timeout**")
            + f" | {'**pass**' if d['ok'] else '**FAIL**'} |"
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
        delivery_table(runs),
        "",
        f"{runs[0]['settings']['clients']} clients for {runs[0]['settings']['duration']:g} s "
        "per database. *Retried across a crash*: acknowledged writes that took more than one "
        "attempt because the server was killed under them or was still down. *Answer lost, "
        "replayed*: of those, "
        "the ones that had committed before the kill; the retry with the same idempotency key "
        "or source_id returned the stored result instead of writing again. *req/s* counts the "
        "outages in.",
        "",
        "Delivery: replies in the email inbox go to an SMTP sink, those in the API inbox to a "
        "webhook receiver, through delivery workers `kill -9`ed during the load (some by the "
        "receiver the moment it accepted a delivery, before the worker could record it). *Raw "
        "duplicate copies* (email + webhook): a message sent again after such a kill, under "
        "the same Message-ID / webhook-id and identical, which receivers collapse; each "
        "identity arrives exactly once. *451 / 500 answered*: transient refusals by the sink "
        "and the receiver; *retries recorded*: attempts the outbox counted beyond the "
        "successful one. *Drain*: from the end of the load until no email/api row was pending.",
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
    lines += ["", *_delivery_details(run)]
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


def _delivery_details(run: dict) -> list[str]:
    d = run["delivery"]
    s = run["settings"]
    lines = [
        f"Delivery: {s['delivery_workers']} workers (lease 5 s, backoff 0.2–2 s), the sink "
        f"deferring {s['smtp_defer_rate']:.0%} of messages with 451 and the receiver answering "
        f"{s['webhook_fail_rate']:.0%} of webhooks with 500; {d['workers_started']} workers "
        "started in all. Outbox at the end: "
        + ", ".join(
            f"{channel} {', '.join(f'{n:,} {status}' for status, n in counts.items())}"
            for channel, counts in sorted(d["outbox"].items())
        )
        + " (web replies stay pending by design). Drain after the load: "
        + (f"{d['drain_s']} s." if d["drained"] else "**timed out**."),
        "",
        "| channel | acknowledged | committed | identities received | copies | raw duplicates "
        "| of which after a kill | while the sender lived | transient refusals | lost | unknown "
        "| differing |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for channel in ("email", "api"):
        c = d[channel]
        lines.append(
            f"| {channel} | {c['acknowledged']:,} | {c['committed']:,} | {c['received']:,} | "
            f"{c['copies']:,} | {c['duplicate_copies']} | {c['duplicates_after_kill']} | "
            f"{c['duplicates_live_sender']} | {c['refused_transient']} | "
            f"{c['lost']} | {c['unknown']} | {c['differing']} |"
        )
    lines += [
        "",
        "| worker kill at s | how | pid | mid-delivery | down s |",
        "|---:|---|---:|---|---:|",
    ]
    for k in d["worker_kills"]:
        lines.append(
            f"| {k['at_s']} | {k['mode']} | {k['pid']} | {'yes' if k['mid_delivery'] else 'no'} "
            f"| {k['down_s']} |"
        )
    return lines
