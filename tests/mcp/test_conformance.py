"""The official MCP conformance suite (`@modelcontextprotocol/conformance`) against /api/mcp.

A real gunicorn serves Deskwoot on a fresh database, behind a tiny reverse proxy in this process
that adds `Authorization: Bearer <token>` (the suite cannot send one) and passes everything
else through untouched, Origin and Host included. The server's allowed origins list the proxy's
origin, as the suite's DNS-rebinding scenario expects its own `http://127.0.0.1:PORT` to be
served and `http://evil.example.com` to be refused.

Each protocol revision runs with `--requirements`, which runs that revision's frozen scenario
set on that revision's wire. The run must exit 0: every failing check is listed, with the
reason it does not apply to a tools-only help desk, in tests/mcp/conformance/expected-*.yml,
and a listed check that starts passing fails the run too (the suite calls it stale).

The CLI needs Node.js >= 22: `scripts/node-tools-setup.sh` installs both into .tools/node,
and `make test` runs it and sets DESKWOOT_CONFORMANCE_BIN.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx2
import pytest

from deskwoot.extensions import db
from tests.conftest import PG_URL, fresh_database
from tests.mcp.conftest import make_desk, side_app
from tests.mcp.server import ROOT, gunicorn

pytestmark = [
    pytest.mark.node,
    pytest.mark.skipif(
        bool(PG_URL),
        reason="protocol conformance does not depend on the database; run once on SQLite",
    ),
]

VERSIONS = ("2025-11-25", "2026-07-28")
EXPECTED = Path(__file__).resolve().parent / "conformance"
CLI_TIMEOUT = 120
# Hop-by-hop headers (RFC 9110 §7.6.1) and the ones the proxy recomputes.
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "content-encoding",
}


# --- the token-injecting reverse proxy ------------------------------------------------------


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    upstream: str = ""  # e.g. http://127.0.0.1:41234, set once gunicorn listens
    token: str = ""
    client: httpx2.Client


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the suite's fetch client expects
    server: _ProxyServer

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _forward(self) -> None:
        body = self._read_body()
        # Host and Origin go through as sent (the proxy is meant to be invisible); field values
        # exclude surrounding whitespace (RFC 9110 §5.5), which http.server keeps.
        headers = [(k, v.strip()) for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP]
        if self.headers.get("Authorization") is None:
            headers.append(("Authorization", f"Bearer {self.server.token}"))
        try:
            upstream = self.server.client.request(
                self.command, self.server.upstream + self.path, headers=headers, content=body
            )
        except httpx2.HTTPError as exc:
            self.send_error(502, f"upstream: {exc}")
            return
        self.send_response_only(upstream.status_code)
        for key, value in upstream.headers.multi_items():
            if key.lower() not in HOP_BY_HOP:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(upstream.content)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(upstream.content)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _forward

    def log_message(self, format, *args) -> None:  # quiet: gunicorn's access log has it all
        pass


@contextmanager
def _proxy() -> Iterator[_ProxyServer]:
    """Listen on a free loopback port now; forward once `upstream` and `token` are set."""
    server = _ProxyServer(("127.0.0.1", 0), _ProxyHandler)
    server.client = httpx2.Client(timeout=30, follow_redirects=False, trust_env=False)
    thread = threading.Thread(target=server.serve_forever, name="mcp-proxy", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        server.client.close()
        thread.join(timeout=5)


# --- fixtures ---------------------------------------------------------------------------------


@dataclass
class Target:
    mcp_url: str  # the proxy's /api/mcp
    gunicorn_log: Path


@pytest.fixture(scope="module")
def conformance_bin() -> Path:
    """The folder with node 22 and the `conformance` CLI; fails (never skips) without it."""
    candidates = (
        [Path(os.environ["DESKWOOT_CONFORMANCE_BIN"])]
        if os.environ.get("DESKWOOT_CONFORMANCE_BIN")
        else []
    )
    candidates.append(ROOT / ".tools/node/node_modules/.bin")
    for folder in candidates:
        if (folder / "conformance").exists() and (folder / "node").exists():
            return folder
    pytest.fail(
        "the MCP conformance CLI is not installed (looked in "
        + ", ".join(str(c) for c in candidates)
        + "). Run `bash scripts/node-tools-setup.sh` (`make test` does)."
    )


@pytest.fixture(scope="module")
def target(template_db, tmp_path_factory) -> Iterator[Target]:
    """gunicorn on a fresh database, seeded with a desk and a full-scope token, behind the proxy."""
    tmp = tmp_path_factory.mktemp("conformance")
    url = fresh_database(template_db, tmp / "live.sqlite3")
    app = side_app(url)
    with _proxy() as proxy:
        origin = f"http://127.0.0.1:{proxy.server_port}"
        with app.app_context():
            proxy.token = make_desk().mint(name="Conformance suite")
            db.session.remove()
            db.engine.dispose()
        env = {"DESKWOOT_MCP_ALLOWED_ORIGINS": json.dumps([origin])}
        with gunicorn(url, tmp, workers=2, env=env) as server:
            proxy.upstream = server.base_url
            yield Target(f"{origin}/api/mcp", server.log)


# --- the runs ---------------------------------------------------------------------------------

BAD = ("FAILURE", "WARNING")  # the suite counts warnings against a baseline too
ANSI = re.compile(r"\x1b\[[0-9;]*m")  # the CLI colours its output even into a pipe


def _cli_env(folder: Path) -> dict[str, str]:
    """PATH starts with node 22 (the CLI's `#!/usr/bin/env node` must not find node 20)."""
    env = {**os.environ, "PATH": f"{folder}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("GITHUB_TOKEN", None)  # the only variable the CLI reads; it has nothing to fetch
    return env


@dataclass
class Run:
    version: str
    process: subprocess.Popen
    outdir: Path  # the suite's -o folder: server-<scenario>-<timestamp>/checks.json
    log: Path  # the CLI's stdout and stderr

    def wait(self) -> tuple[int, str]:
        note = ""
        try:
            code = self.process.wait(timeout=CLI_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
            note = f"\n[killed: no result after {CLI_TIMEOUT} s]"
        return code, ANSI.sub("", self.log.read_text(errors="replace")) + note


@pytest.fixture(scope="module")
def runs(conformance_bin, target, tmp_path_factory) -> Iterator[dict[str, Run]]:
    """Start the suite for every revision at once: each run is seconds of mostly waiting."""
    started = {}
    try:
        for version in VERSIONS:
            folder = tmp_path_factory.mktemp(f"conformance-{version}")
            baseline = EXPECTED / f"expected-{version}.yml"
            command = [
                str(conformance_bin / "conformance"), "server", "--url", target.mcp_url,
                "--requirements", version, "--expected-failures", str(baseline),
                "-o", str(folder / "results"),
            ]  # fmt: skip
            with (folder / "cli.log").open("wb") as log:
                process = subprocess.Popen(
                    command, env=_cli_env(conformance_bin), cwd=ROOT,
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                )  # fmt: skip
            started[version] = Run(version, process, folder / "results", folder / "cli.log")
        yield started
    finally:
        for run in started.values():
            if run.process.poll() is None:
                run.process.kill()
                run.process.wait()


def _not_scored(folder: Path, version: str) -> dict[str, str]:
    """Server scenarios the revision runs but never scores, with why (pending, extension...)."""
    listing = subprocess.run(
        [str(folder / "conformance"), "list", "--server", "--requirements", version],
        env=_cli_env(folder), cwd=ROOT, capture_output=True, text=True, timeout=CLI_TIMEOUT,
        check=False,
    ).stdout  # fmt: skip
    _, _, tail = ANSI.sub("", listing).partition("never scored")
    found, why = {}, "not scored"
    for line in tail.splitlines():
        if header := re.fullmatch(r"\s+([\w-]+) \(\d+\):", line):
            why = header.group(1)
        elif item := re.fullmatch(r"\s+- (\S+) \[server\]", line):
            found[item.group(1)] = why
    return found


def _results(outdir: Path) -> dict[str, list[dict]]:
    """scenario -> its checks, from the `server-<scenario>-<timestamp>/checks.json` files."""
    results = {}
    for checks_file in sorted(outdir.glob("server-*/checks.json")):
        match = re.fullmatch(r"server-(.+)-\d{4}-\d\d-\d\dT[\d-]+Z", checks_file.parent.name)
        scenario = match.group(1) if match else checks_file.parent.name
        results[scenario] = json.loads(checks_file.read_text())
    return results


def _expected_entries(baseline: Path) -> set[str]:
    """The `scenario` / `scenario:check` entries of an expected-failures file."""
    return set(re.findall(r"^\s*-\s*([^\s#]+)", baseline.read_text(), re.MULTILINE))


def _listed(failing: str, expected: set[str]) -> bool:
    return failing in expected or failing.split(":", 1)[0] in expected


def _summary(results: dict[str, list[dict]], expected: set[str], not_scored: dict[str, str]) -> str:
    lines = []
    for scenario, checks in sorted(results.items()):
        count = {s: sum(c["status"] == s for c in checks) for s in ("SUCCESS", *BAD, "SKIPPED")}
        bad = sorted({c["id"] for c in checks if c["status"] in BAD})
        unlisted = [b for b in bad if not _listed(f"{scenario}:{b}", expected)]
        verdict = "passed"
        if unlisted:
            verdict = "UNEXPECTED: " + ", ".join(unlisted)
        elif bad:
            verdict = "expected failure"
        if scenario in not_scored:
            verdict += f" (not scored: {not_scored[scenario]})"
        line = (
            f"{scenario:46} passed={count['SUCCESS']:<2} failed={count['FAILURE']:<2} "
            f"warnings={count['WARNING']} skipped={count['SKIPPED']}"
        )
        lines.append(f"{line}  {verdict}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("version", VERSIONS)
def test_conformance(version, runs, conformance_bin, target, artifacts):
    baseline = EXPECTED / f"expected-{version}.yml"
    code, output = runs[version].wait()
    results = _results(runs[version].outdir)
    expected = _expected_entries(baseline)

    summary = _summary(results, expected, _not_scored(conformance_bin, version))
    (artifacts / f"conformance-{version}.log").write_text(output)
    (artifacts / f"conformance-{version}.txt").write_text(
        f"conformance server --requirements {version}: exit {code}\n{summary}"
    )
    print(f"\nMCP conformance {version} (exit {code}):\n{summary}")

    assert results, f"the suite wrote no results (exit {code}):\n{output}"
    # The CLI holds the scored scenarios to the file; hold the unscored ones (pending,
    # extensions) to it as well, so that a regression there shows and no entry goes stale.
    failing = {
        f"{s}:{c['id']}" for s, checks in results.items() for c in checks if c["status"] in BAD
    }
    unexpected = sorted(f for f in failing if not _listed(f, expected))
    stale = sorted(
        e for e in expected if e not in failing and not any(f.startswith(e + ":") for f in failing)
    )
    assert code == 0 and not unexpected and not stale, (
        f"conformance {version}: CLI exit {code}; failing but not listed in "
        f"{baseline.relative_to(ROOT)}: {unexpected or 'none'}; listed but not failing: "
        f"{stale or 'none'}\n--- summary\n{summary}--- CLI output\n{output}"
        f"\n--- gunicorn log: {target.gunicorn_log}"
    )
