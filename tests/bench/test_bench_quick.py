"""The benchmark in quick mode on the tiny dataset, so that it cannot rot.

It generates the tiny database, starts the ceiling, the peer and Deskwoot, runs every
scenario for about a second with two connections, and checks that each produced a report row
without a non-2xx answer and that the JSON report was written. No performance assertions:
performance is what `make bench` reports, not what a test decides.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.scenarios import CEILING, DESKWOOT, PEER
from bench.stages import PROFILED
from tests.conftest import PG_URL

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(PG_URL), reason="the benchmark runs Deskwoot on SQLite only"),
]


def test_quick_benchmark_reports_every_scenario(tmp_path, artifacts):
    assert shutil.which("wrk"), "wrk is missing: apt-get install wrk (scripts/test.sh does)"
    out = artifacts / "bench"
    shutil.rmtree(out, ignore_errors=True)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.main",
            "--size",
            "tiny",
            "--duration",
            "1",
            "--warmup",
            "0",
            "--connections",
            "2",
            "--threads",
            "1",
            "--workers",
            "2",
            "--delivery-count",
            "50",
            "--no-scaling",
            "--data-dir",
            str(tmp_path / "data"),
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    (artifacts / "bench-quick.log").write_text(proc.stdout + proc.stderr)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    result = json.loads((out / "latest.json").read_text())
    assert (out / "latest.md").exists()
    rows = {row["name"]: row for row in [*result["reference"], *result["scenarios"]]}
    assert {s.name for s in (CEILING, PEER, *DESKWOOT)} <= set(rows)
    for name, row in rows.items():
        assert row["status"] in ("ok", "skipped"), f"{name}: {row['status']}: {row['note']}"
        if row["status"] == "ok":
            assert row["requests"] > 0, name
            assert row["non2xx"] == 0, f"{name}: {row['non2xx']} non-2xx answers"
    for name in (CEILING.name, PEER.name, "tools/list", "get_conversation"):
        assert rows[name]["status"] == "ok", name
    # The stage profile (bench/stages.py): every profiled request, its stages summing to it.
    stages = result["stages"]
    assert "error" not in stages, stages
    assert [r["name"] for r in stages["scenarios"]] == [name for name, _ in PROFILED]
    for row in stages["scenarios"]:
        total = sum(s["us"] for s in row["stages"])
        assert abs(total - row["cpu_us_timed"]) < 1 + len(row["stages"]) * 0.1, row
    assert "Server CPU per stage" in (out / "latest.md").read_text()
    # Delivery: every reply sent once, on both channels, to receivers that count copies.
    for row in result["delivery"]["channels"]:
        assert (row["sent"], row["failed"], row["pending"]) == (row["messages"], 0, 0), row
        assert row["receiver"]["unique"] == row["messages"], row
        assert row["receiver"]["duplicates"] == 0, row
