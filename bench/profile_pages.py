"""Profile the logged-in HTML pages in-process: CPU per request and where it goes, by stage.

    python -m bench.profile_pages [--size small] [--page conversations,drafts] [-n 200]

Runs the real app on a copy of a generated dataset, logs in as the workspace's admin (the
Flask test client keeps the session cookie), and for each page prints:

- CPU µs per request (process time, the best of 5 runs of N/5 requests, the test client
  included) and the same
  for a bare route added to the same app (`floor`: Flask, werkzeug and the test client with
  nothing of Deskwoot's, so "page − floor" is what Deskwoot spends);
- Python function calls per request (steadier than seconds on a shared machine);
- the stage profile: µs per request spent in each stage, exclusive of the stages nested in
  it, from thread CPU-time wrappers around the functions that start each stage (a pass of its
  own, after the CPU pass, so the wrappers do not inflate the CPU figure);
- the SQL statements of one request and cProfile's top functions.

Nothing in deskwoot/ is changed; no server, no network. (`profile_tools --pages` gives the
older, shorter view: wall time and cProfile only.)
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import secrets
import shutil
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from bench import generate

ROOT = Path(__file__).resolve().parents[1]
PAGES = {"conversations": "/w/bench/conversations", "drafts": "/w/bench/drafts"}
FLOOR = "/_profile_floor"


class Stages:
    """Exclusive CPU time per stage: a stage nested in another is not counted twice."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = defaultdict(float)
        self._stack: list[list] = []  # [name, started, time spent in nested stages]
        self.enabled = False

    def wrap(self, name: str, function: Callable) -> Callable:
        def timed(*args, **kwargs):
            if not self.enabled:
                return function(*args, **kwargs)
            frame = [name, time.thread_time(), 0.0]
            self._stack.append(frame)
            try:
                return function(*args, **kwargs)
            finally:
                self._stack.pop()
                elapsed = time.thread_time() - frame[1]
                self.totals[name] += elapsed - frame[2]
                if self._stack:
                    self._stack[-1][2] += elapsed

        timed.__wrapped__ = function
        return timed


def install_stages(app, stages: Stages) -> None:
    """Wrap the functions where each stage of a page request starts."""
    import flask.templating

    from deskwoot.extensions import login_manager
    from deskwoot.web import common

    interface = app.session_interface
    interface.open_session = stages.wrap("session cookie: open", interface.open_session)
    interface.save_session = stages.wrap("session cookie: save", interface.save_session)
    login_manager._user_callback = stages.wrap(
        "login: web_sessions + user", login_manager._user_callback
    )
    common.load_workspace = stages.wrap("workspace + actor", common.load_workspace)
    for endpoint in ("conversations.index", "drafts.index"):
        app.view_functions[endpoint] = stages.wrap("view: reads", app.view_functions[endpoint])
    app.update_template_context = stages.wrap("context processors", app.update_template_context)
    # render_template calls the module's _render after the context processors.
    flask.templating._render = stages.wrap("template render", flask.templating._render)
    wsgi = app.wsgi_app
    app.wsgi_app = stages.wrap("request (whole)", wsgi)


def make_app(size: str, data_dir: Path):
    from deskwoot import create_app

    source = data_dir.resolve() / f"{size}.sqlite3"
    meta = json.loads(generate.meta_path(source).read_text())
    copy = source.with_name(f"profile-pages-{size}.sqlite3")
    shutil.copyfile(source, copy)
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{copy}",
            "SECRET_KEY": secrets.token_urlsafe(16),
            "PUBLIC_URL": "http://127.0.0.1",
            "WTF_CSRF_ENABLED": False,  # the login form below posts without its token
        }
    )
    app.add_url_rule(FLOOR, "profile_floor", lambda: "ok")
    return app, meta, copy


def cpu_per_request(client, path: str, n: int, repeat: int = 5) -> tuple[float, float]:
    """CPU and wall µs per GET: the best of `repeat` runs of n / repeat requests, as timeit
    does (on a shared machine the other processes only ever add time)."""
    runs = []
    for _ in range(repeat):
        count = max(1, n // repeat)
        started, cpu = time.perf_counter(), time.process_time()
        for _ in range(count):
            client.get(path)
        runs.append(
            (
                (time.process_time() - cpu) / count * 1e6,
                (time.perf_counter() - started) / count * 1e6,
            )
        )
    return min(runs)


def sql_of_one(app, client, path: str) -> list[tuple[str, float]]:
    """The statements one request runs, each with its time until its first row (ms)."""
    from bench.profile_tools import counting

    statements: list[list] = []

    def before(conn, cursor, sql, params, context, many):
        statements.append([sql, time.perf_counter()])

    def after(conn, cursor, sql, params, context, many):
        statements[-1][1] = (time.perf_counter() - statements[-1][1]) * 1000

    with counting(app, before, after):
        client.get(path)
    return [(sql, ms) for sql, ms in statements]


def profile_page(app, client, name: str, path: str, args, floor_cpu: float) -> None:
    for _ in range(10):  # warm: templates compiled, statements prebuilt
        response = client.get(path)
    if response.status_code != 200:
        print(f"\n=== GET {path}: {response.status_code}")
        return
    cpu, wall = cpu_per_request(client, path, args.n)
    statements = sql_of_one(app, client, path)

    stages = Stages()
    install_stages(app, stages)
    stages.enabled = True
    for _ in range(args.n):
        client.get(path)
    stages.enabled = False
    unwrap(app)

    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(args.n):
        client.get(path)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()

    print(
        f"\n=== {name}: GET {path}: {cpu:,.0f} µs CPU per request in-process "
        f"({wall:,.0f} µs wall; floor {floor_cpu:,.0f} µs CPU, so Deskwoot's own "
        f"{cpu - floor_cpu:,.0f} µs), {stats.total_calls / args.n:,.0f} Python calls, "
        f"{len(statements)} SQL statements, {len(response.data):,} bytes"
    )
    print("   stage profile (CPU µs per request, exclusive of nested stages):")
    whole = stages.totals.pop("request (whole)", 0.0)
    for stage, seconds in stages.totals.items():
        print(f"     {stage:<28} {seconds / args.n * 1e6:8,.0f}")
    print(f"     {'Flask, werkzeug, the rest':<28} {whole / args.n * 1e6:8,.0f}")
    everything = sum((whole, *stages.totals.values())) / args.n * 1e6
    print(f"     {'(all of the request)':<28} {everything:8,.0f}")
    for sql, ms in statements:
        print(f"   SQL {ms:6.2f} ms:", " ".join(sql.split())[:130])
    stats.sort_stats(args.sort).print_stats(args.top)
    print("\n".join(out.getvalue().splitlines()[4:]))


def unwrap(app) -> None:
    """Undo install_stages, so the next pass runs the plain functions."""
    import flask.templating

    from deskwoot.extensions import login_manager
    from deskwoot.web import common

    def plain(function):
        return getattr(function, "__wrapped__", function)

    interface = app.session_interface
    for attribute in ("open_session", "save_session"):
        setattr(interface, attribute, plain(getattr(interface, attribute)))
    login_manager._user_callback = plain(login_manager._user_callback)
    common.load_workspace = plain(common.load_workspace)
    for endpoint in ("conversations.index", "drafts.index"):
        app.view_functions[endpoint] = plain(app.view_functions[endpoint])
    app.update_template_context = plain(app.update_template_context)
    flask.templating._render = plain(flask.templating._render)
    app.wsgi_app = plain(app.wsgi_app)


def run(args) -> None:
    from deskwoot.extensions import db

    app, meta, copy = make_app(args.size, args.data_dir)
    client = app.test_client()
    client.post("/login", data={"email": meta["admin_email"], "password": meta["admin_password"]})
    for _ in range(10):
        client.get(FLOOR)
    floor_cpu, _ = cpu_per_request(client, FLOOR, args.n * 5)
    try:
        for name in [p for p in args.page.split(",") if p]:
            profile_page(app, client, name, PAGES[name], args, floor_cpu)
    finally:
        with app.app_context():
            db.engine.dispose()
        for path in (copy, Path(f"{copy}-wal"), Path(f"{copy}-shm")):
            path.unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="small")
    parser.add_argument("--page", default=",".join(PAGES))
    parser.add_argument("-n", type=int, default=200, help="requests per pass")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sort", default="tottime", help="pstats order: tottime, cumulative…")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "bench" / "data")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
