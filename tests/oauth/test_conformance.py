"""The MCP conformance suite's authorization-server scenarios against Deskwoot, at both spec
revisions: `conformance authorization` reads the RFC 8414 metadata and runs an authorization
code grant with PKCE and the RFC 8707 resource, printing the authorization URL for a person
to open; Chromium opens it, logs in as the admin and approves, the browser lands on the
suite's own callback server and the suite exchanges the code.

The suite's server scenarios (`conformance server`, tests/mcp/test_conformance.py) have no
authorization scenarios; its `auth/*` scenarios test clients, not servers. Nothing is an
expected failure here: every check must pass.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
from pathlib import Path

import httpx2
import pytest
from playwright.sync_api import Page, expect

from tests.conftest import PG_URL
from tests.mcp.server import ROOT
from tests.oauth.conftest import log_in

pytestmark = [
    pytest.mark.node,
    pytest.mark.browser,
    pytest.mark.skipif(
        bool(PG_URL),
        reason="protocol conformance does not depend on the database; run once on SQLite",
    ),
]

VERSIONS = ("2025-11-25", "2026-07-28")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
TIMEOUT = 120


@pytest.fixture(scope="module")
def conformance_bin() -> Path:
    folder = ROOT / ".tools/node/node_modules/.bin"
    if not (folder / "conformance").exists():
        pytest.fail(
            "the MCP conformance CLI is not installed: run `bash scripts/node-tools-setup.sh`"
        )
    return folder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_authorization_server_scenarios_pass(
    live_server, desk, page: Page, conformance_bin, tmp_path
):
    logged_in = False
    for version in VERSIONS:
        port = free_port()
        callback = f"http://127.0.0.1:{port}/callback"
        registered = httpx2.post(
            live_server + "/oauth/register",
            json={
                "client_name": f"MCP conformance suite ({version})",
                "redirect_uris": [callback],
                "token_endpoint_auth_method": "none",
            },
        )
        assert registered.status_code == 201, registered.text
        out = tmp_path / version
        command = [
            str(conformance_bin / "conformance"), "authorization", "--url", live_server,
            "--client-id", registered.json()["client_id"], "--resource", live_server + "/api/mcp",
            "--port", str(port), "--spec-version", version, "-o", str(out),
        ]  # fmt: skip
        env = {"PATH": f"{conformance_bin}:/usr/bin:/bin", "HOME": str(tmp_path)}
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        lines = []
        try:
            for line in process.stdout:
                lines.append(ANSI.sub("", line))
                if lines[-1].startswith(live_server + "/oauth/authorize?"):
                    break
            else:
                pytest.fail("the suite printed no authorization URL:\n" + "".join(lines))
            page.goto(lines[-1].strip())
            if not logged_in:
                log_in(page)
                logged_in = True
            expect(page.get_by_test_id("client-name")).to_contain_text("conformance suite")
            page.get_by_test_id("consent-approve").click()
            expect(page.locator("body")).to_contain_text("You can close this page")
            rest, _ = process.communicate(timeout=TIMEOUT)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        report = "".join(lines) + ANSI.sub("", rest)
        checks = [
            check for path in out.rglob("checks.json") for check in json.loads(path.read_text())
        ]
        scenarios = {path.parent.name.split("-20")[0] for path in out.rglob("checks.json")}
        assert scenarios == {
            "authorization-server-authorization-server-metadata-endpoint",
            "authorization-server-authorization-code-grant",
        }, report
        assert "authorization-code-grant" in {c["id"] for c in checks}, report
        failed = [c for c in checks if c["status"] not in ("SUCCESS", "INFO")]
        assert not failed, report
        assert process.returncode == 0, report
