"""The stress harness in quick mode, on the database this suite runs on (issue 6).

The same code as `make stress`, scaled down: 12 clients for 5 s (and at least 2 s after the
restart) against gunicorn with two workers, with one `kill -9` of the whole server in the
middle. It runs on a database of its
own (a new SQLite file, or a new database created on the suite's PostgreSQL server and
dropped afterwards), then checks in that database that every acknowledged write is stored
exactly once with its event and audit entry, that the pollers saw the whole feed once and in
order, and that no request got a 5xx or "database is locked".

Two delivery workers send the replies to the harness's SMTP sink and webhook receiver (which
refuse a few with 451 / 500) and are `kill -9`ed three times: once by the sink the moment it
accepted a message, once by the receiver before its 200, once at a random moment. Every
acknowledged reply must arrive, each Message-ID / webhook-id exactly once (a copy resent
after a kill is identical), and the outbox must drain.
"""

from __future__ import annotations

import contextlib
import json

import pytest

from stress import report
from stress.databases import postgres_database, sqlite_database
from stress.run import Settings, run
from tests.conftest import PG_URL

pytestmark = pytest.mark.slow

QUICK = Settings(clients=12, pollers=2, duration=5, crashes=1, workers=2, worker_kills=3)


def test_nothing_is_lost_or_doubled_under_load_and_a_kill_9(tmp_path, artifacts):
    with contextlib.ExitStack() as stack:
        database = stack.enter_context(
            postgres_database(PG_URL) if PG_URL else sqlite_database(tmp_path)
        )
        result = run(QUICK, database, tmp_path)
    out = artifacts / f"stress-{result['database']}"
    report.write([result], out)
    for log in ("gunicorn", "workers"):
        (out / f"{log}.log").write_text((tmp_path / f"{log}-{result['database']}.log").read_text())

    failed = [f"{c['name']}: {c['detail']}" for c in result["checks"] if not c["ok"]]
    assert not failed, "\n".join(failed + result["failure_samples"][:10])

    # The crash really happened, took master and both workers, and clients felt it.
    (crash,) = result["crashes"]
    assert crash["processes_killed"] == 1 + QUICK.workers
    assert sum(kind["interrupted"] for kind in result["requests"].values()) > 0
    # Every write kind was acknowledged and found exactly once; some had to be retried.
    writes = result["writes"]
    for kind, figures in writes.items():
        assert figures["acknowledged"] > 0, kind
        assert figures["verified"] == figures["acknowledged"], kind
        assert figures["duplicates"] == 0, kind
    assert sum(figures["retried"] for figures in writes.values()) > 0
    assert result["http_5xx"] == 0
    assert result["locked"] == 0
    events = result["events"]
    assert events["polled"] == events["expected"] > 0
    if database.kind == "sqlite":
        assert result["integrity"] == "ok"
    assert json.loads((out / "latest.json").read_text())["ok"] is True

    # Replies left through workers killed under them: all arrived, at least one kill caught a
    # worker mid-delivery, and the copy it caused was counted, not lost or doubled by id.
    delivery = result["delivery"]
    assert delivery["ok"] is True
    for channel in ("email", "api"):
        figures = delivery[channel]
        assert 0 < figures["acknowledged"] <= figures["received"] == figures["committed"], channel
        assert figures["lost"] == figures["unknown"] == figures["differing"] == 0, channel
    assert len(delivery["worker_kills"]) == QUICK.worker_kills
    assert delivery["worker_kills_mid_delivery"] >= 1
    assert delivery["drained"] is True
    assert delivery["outbox"]["email"] == {"sent": delivery["email"]["committed"]}
    assert delivery["outbox"]["api"] == {"sent": delivery["api"]["committed"]}
