"""Server CPU per stage of a request, in-process: where the time of one call goes.

    python -m bench.stages --db bench/data/run-small.sqlite3 [-n 300] [--json out.json]

Issue 15 gives `get_conversation` a budget per stage (envelope, gate, argument check, reads,
audit + rate limit, encoding, Flask/WSGI the rest). This runs the real app (Flask test
client, as bench/profile_tools.py does) on a working copy of a dataset and attributes each
request's CPU time to stages by wrapping the functions that make up each stage with timers,
at run time and in this process only (nothing in deskwoot/ changes). A stage's time is
*exclusive*: a timed function called inside another (the audit row inside the tool's body)
counts for its own stage only, so the stages add up to the request. What no named
function covers (Flask, Werkzeug, the test client, the call's own dispatch) is "the rest".

STAGES below is the one table that maps stages to functions. It names functions by module
and attribute, so a refactor that renames or moves one fails loudly here (resolve() raises,
tests/bench/test_stages.py checks the table) instead of silently attributing its time to
"the rest". When the code moves, move the names.

The wrappers cost about a microsecond per timed call; the report gives the request's CPU
with and without them, so that overhead is visible.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import random
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# One table: per profiled request kind, its stages in order, each with the functions whose
# (exclusive) CPU time it is. "module:attribute" or "module:Class.method".
STAGES: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "tool": (  # an MCP tools/call on /api/mcp
        (
            "envelope",  # HTTP checks, body read + JSON parse, JSON-RPC envelope, version
            ("deskwoot.mcp.transport:_serve",),
        ),
        (
            "gate",  # the token and the workspace's plan (per request), rate check, scope
            (
                "deskwoot.mcp.gate:admit",
                "deskwoot.mcp.gate:check_rate",
                "deskwoot.mcp.registry:allowed",
            ),
        ),
        (
            "arguments",  # the tool's input schema and the argument massaging
            (
                "deskwoot.mcp.invocation:_whole_numbers",
                "deskwoot.mcp.invocation:argument_problem",
                "deskwoot.mcp.invocation:_target",
            ),
        ),
        (
            "reads",  # the tool's body: its service calls, views; a write's transaction
            ("deskwoot.mcp.invocation:_run",),
        ),
        (
            "audit + rate limit",  # the audit row and the rate-limit spend, their commit
            ("deskwoot.mcp.invocation:audit_alone", "deskwoot.mcp.invocation:_account"),
        ),
        (
            "encoding",  # untrusted wrapping + the text block, the result, the response
            (
                "deskwoot.mcp.untrusted:render",
                "deskwoot.mcp.calls:result",
                "deskwoot.mcp.transport:_serialize",
                "deskwoot.mcp.jsonrpc:json_response",
            ),
        ),
    ),
    "page": (  # a logged-in HTML page
        (
            "session",  # the signed cookie, the login session's row, the workspace + actor
            (
                "deskwoot.web.cookie_session:BrowserOnlySessionInterface.open_session",
                "flask.sessions:SecureCookieSessionInterface.save_session",
                "deskwoot.services.access.logins:load_user",
                "deskwoot.web.common:load_workspace",
            ),
        ),
        (
            "queries",  # the services the conversation list calls
            (
                "deskwoot.services.conversations.workflow:wake_due_snoozes",
                "deskwoot.services.conversations.reads:list_conversations",
                "deskwoot.services.conversations.reads:status_counts",
                "deskwoot.services.conversations.reads:previews",
                "deskwoot.services.directory.inboxes:list_inboxes",
                "deskwoot.services.conversations.labels:list_labels",
                "deskwoot.services.directory.workspaces:team",
            ),
        ),
        ("render", ("flask:render_template",)),  # Jinja, lazy loads in the template included
    ),
}
REST = "Flask/WSGI + the rest"

# Issue 15's budget for one get_conversation, µs of server CPU (≈ 1.3 ms in all).
BUDGET_US = {
    "envelope": 60,
    "gate": 120,
    "arguments": 30,
    "reads": 400,
    "audit + rate limit": 200,
    "encoding": 80,
    REST: 410,  # the rest of the ≈ 1.3 ms
}
BUDGET_TOTAL_US = 1300

# What is profiled: (report name, stage table, how a request is sent).
PROFILED = (
    ("get_conversation", "tool"),
    ("reply_to_conversation", "tool"),
    ("page: conversation list", "page"),
)


class StageTableError(LookupError):
    """A function STAGES names is gone: update the table (see the module doc)."""


@dataclass
class Target:
    """One named function: where it lives and the object it is."""

    name: str
    owner: object  # the module or class that holds it
    attribute: str
    original: Callable


def resolve(kind: str) -> list[tuple[str, Target]]:
    """The (stage, function) pairs of a stage table, imported; StageTableError lists every
    name that no longer resolves."""
    found, missing = [], []
    for stage, names in STAGES[kind]:
        for name in names:
            module_name, _, path = name.partition(":")
            try:
                owner = importlib.import_module(module_name)
                *outer, attribute = path.split(".")
                for part in outer:
                    owner = getattr(owner, part)
                original = owner.__dict__[attribute] if outer else getattr(owner, attribute)
            except (ImportError, AttributeError, KeyError):
                missing.append(name)
                continue
            if not callable(original):
                missing.append(name)
                continue
            found.append((stage, Target(name, owner, attribute, original)))
    if missing:
        raise StageTableError(
            "bench/stages.py STAGES names functions that no longer exist: "
            + ", ".join(missing)
            + ". Point the table at the functions that do this work now."
        )
    return found


class StageClock:
    """Exclusive CPU time per stage, from timing wrappers around the table's functions."""

    def __init__(self) -> None:
        self.ns: dict[str, int] = {}
        self._children: list[int] = []  # per open timed call: its timed callees' time
        self._undo: list[tuple[object, str, object]] = []

    def _timed(self, stage: str, function: Callable) -> Callable:
        clock, children, totals = time.process_time_ns, self._children, self.ns

        @functools.wraps(function)
        def timed(*args, **kwargs):
            started = clock()
            children.append(0)
            try:
                return function(*args, **kwargs)
            finally:
                elapsed = clock() - started
                totals[stage] = totals.get(stage, 0) + elapsed - children.pop()
                if children:
                    children[-1] += elapsed

        return timed

    def install(self, kind: str) -> None:
        """Wrap every function of the table, where it is defined and wherever a module
        imported it by name (`from x import f` binds its own reference)."""
        for stage, target in resolve(kind):
            wrapper = self._timed(stage, target.original)
            self._set(target.owner, target.attribute, wrapper)
            if isinstance(target.owner, type):
                continue
            for module in list(sys.modules.values()):
                if module is target.owner or not _ours(module):
                    continue
                if module.__dict__.get(target.attribute) is target.original:
                    self._set(module, target.attribute, wrapper)

    def _set(self, owner, attribute: str, value) -> None:
        self._undo.append((owner, attribute, owner.__dict__[attribute]))
        setattr(owner, attribute, value)

    def uninstall(self) -> None:
        while self._undo:
            owner, attribute, original = self._undo.pop()
            setattr(owner, attribute, original)


def _ours(module) -> bool:
    name = getattr(module, "__name__", "") or ""
    return name.startswith(("deskwoot.", "flask."))


def _cpu_ns(send: Callable[[], None], n: int) -> int:
    started = time.process_time_ns()
    for _ in range(n):
        send()
    return time.process_time_ns() - started


def profile(send: Callable[[], None], kind: str, n: int, rounds: int = 3) -> dict:
    """CPU µs per request, without and with the timers, and per stage (exclusive). The
    untimed and timed requests alternate in `rounds`, so a machine that gets busier or
    quieter meanwhile weighs on both alike."""
    clock = StageClock()
    plain = timed = 0
    per_round = max(1, n // rounds)
    n = per_round * rounds
    for _ in range(rounds):
        plain += _cpu_ns(send, per_round)
        clock.install(kind)
        try:
            timed += _cpu_ns(send, per_round)
        finally:
            clock.uninstall()
    stages = [
        {"stage": stage, "us": clock.ns.get(stage, 0) / n / 1000} for stage, _ in STAGES[kind]
    ]
    named = sum(s["us"] for s in stages)
    stages.append({"stage": REST, "us": timed / n / 1000 - named})
    for s in stages:
        s["us"] = round(s["us"], 1)
        s["share"] = round(s["us"] / (timed / n / 1000), 3) if timed else None
    return {
        "requests": n,
        "cpu_us": round(plain / n / 1000, 1),
        "cpu_us_timed": round(timed / n / 1000, 1),
        "stages": stages,
    }


def run(db_path: Path, meta: dict, token: str, n: int) -> dict:
    """Profile the PROFILED requests on `db_path` (a working copy: the reply writes)."""
    from bench.profile_tools import arguments, make_app

    app = make_app(db_path, secrets.token_urlsafe(16))
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    rng = random.Random(15)  # noqa: S311 - test data
    run_id = secrets.token_hex(4)  # fresh idempotency keys on a reused working copy
    counter = iter(range(1, 10**9))

    def tool_call(tool: str) -> Callable[[], None]:
        def send() -> None:
            i = next(counter)
            args = arguments(tool, meta, "", rng, i)
            if "idempotency_key" in args:
                args["idempotency_key"] = f"stages-{run_id}-{i}"
            body = {
                "jsonrpc": "2.0",
                "id": i,
                "method": "tools/call",
                "params": {"name": tool, "arguments": args},
            }
            response = client.post("/api/mcp", json=body, headers=headers)
            answer = response.get_json()
            if response.status_code != 200 or "error" in answer or answer["result"]["isError"]:
                raise RuntimeError(f"{tool} failed: {json.dumps(answer)[:300]}")

        return send

    def page(path: str) -> Callable[[], None]:
        def send() -> None:
            response = client.get(path)
            if response.status_code != 200:
                raise RuntimeError(f"GET {path}: {response.status_code}")

        return send

    senders = {
        "get_conversation": (tool_call("get_conversation"), n),
        "reply_to_conversation": (tool_call("reply_to_conversation"), n),
        # A page costs ~5× a tool call: fewer of them take as long.
        "page: conversation list": (page("/w/bench/conversations"), max(12, n // 5)),
    }
    login = {"email": meta["admin_email"], "password": meta["admin_password"]}
    client.post("/login", data=login)
    out = []
    try:
        for name, kind in PROFILED:
            send, count = senders[name]
            for _ in range(min(20, count)):  # warm caches and compiled statements
                send()
            row = {"name": name, "kind": kind, **profile(send, kind, count)}
            if name == "get_conversation":
                row["budget_us"] = BUDGET_TOTAL_US
                for s in row["stages"]:
                    s["budget_us"] = BUDGET_US.get(s["stage"])
            out.append(row)
    finally:
        from deskwoot.extensions import db

        with app.app_context():
            db.engine.dispose()
    return {"requests_per_tool": n, "scenarios": out}


def main(argv: list[str] | None = None) -> None:
    from bench import generate

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True, help="a working copy of a dataset")
    parser.add_argument("--source", type=Path, help="the dataset it copies (its .json, .token)")
    parser.add_argument("-n", type=int, default=300, help="tool calls per scenario")
    parser.add_argument("--json", type=Path, help="write the result here")
    args = parser.parse_args(argv)
    source = args.source or args.db
    meta = json.loads(generate.meta_path(source).read_text())
    token = generate.token_path(source).read_text().strip()
    result = run(args.db, meta, token, args.n)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    from bench.report import stage_lines

    print("\n".join(stage_lines(result)))


if __name__ == "__main__":
    main()
