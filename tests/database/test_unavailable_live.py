"""A read-only database under a real multi-worker gunicorn: every worker answers 503 (not 500)
while it lasts and works again afterwards, without being restarted.

The workers open their connections while the database is read-only, which is what used to
wedge them: such a connection stays read-only for life, and the pool handed it out again and
again, so every write answered 500 until the workers were restarted.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from contextlib import contextmanager
from pathlib import Path

import httpx2
import pytest
from sqlalchemy import text

from deskwoot.database.availability import RETRY_AFTER_SECONDS
from deskwoot.extensions import db
from deskwoot.mcp.jsonrpc import DATABASE_UNAVAILABLE
from deskwoot.services.directory import inboxes
from tests import factories as f
from tests.conftest import PG_URL, fresh_database
from tests.mcp.conftest import make_desk, side_app
from tests.mcp.helpers import raw_headers, rpc_body
from tests.mcp.server import gunicorn

ROUNDS = 6  # requests of each kind per phase: with 2 workers, each worker sees some


def _immutable_works(probe: Path) -> bool:
    probe.write_text("probe")
    try:
        made = subprocess.run(["chattr", "+i", str(probe)], capture_output=True).returncode == 0
    except FileNotFoundError:
        return False
    if made:
        subprocess.run(["chattr", "-i", str(probe)], check=True)
    return made


@contextmanager
def read_only_sqlite_file(path: Path):
    """Make the database file itself read-only, as a backup tool or an operator would.

    chmod is what people do, but root (which runs this sandbox's tests) opens a 0444 file
    read-write anyway; the immutable attribute (chattr +i) refuses root as well. SQLite then
    does exactly what it does with a chmod'ed file: its open(O_RDWR) fails, it falls back to
    read-only, and every write says "attempt to write a readonly database". Only the main
    file: the -wal and -shm stay writable, as they would after a chmod of the file alone
    (making the memory-mapped -shm immutable kills the process with SIGBUS instead).
    """
    if os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(0o444)
        try:
            yield
        finally:
            path.chmod(mode)
        return
    if not _immutable_works(path.with_name("chattr-probe")):
        pytest.skip("chattr +i is not supported here, and root ignores chmod")
    subprocess.run(["chattr", "+i", str(path)], check=True)
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


@contextmanager
def read_only_pg_database():
    """`ALTER DATABASE … SET default_transaction_read_only`: like a read-only SQLite file, it
    reaches the sessions opened from now on and they stay read-only for life."""
    name = db.session.scalar(text("SELECT current_database()"))
    db.session.execute(text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on'))
    db.session.commit()
    try:
        yield
    finally:
        db.session.rollback()
        db.session.execute(text(f'ALTER DATABASE "{name}" RESET default_transaction_read_only'))
        db.session.commit()


class Visitor:
    """An agent on /api/mcp, a channel on /hooks/inbound and a person in a browser."""

    def __init__(self, base_url: str, token: str, hook_uid: str, secret: str, slug: str):
        self.base_url = base_url
        self.token = token
        self.hook_url = f"{base_url}/hooks/inbound/{hook_uid}"
        self.secret = secret
        self.slug = slug
        self.browser = httpx2.Client(base_url=base_url, timeout=30)

    def mcp(self) -> httpx2.Response:
        # list_conversations only reads, but every tools/call is audited: a write.
        body = rpc_body("tools/call", {"name": "list_conversations", "arguments": {}})
        return httpx2.post(
            self.base_url + "/api/mcp",
            content=json.dumps(body),
            headers=raw_headers(self.token),
            timeout=30,
        )

    def hook(self) -> httpx2.Response:
        return httpx2.post(
            self.hook_url,
            json={"contact": {"email": "jane@example.com"}, "content": "Where is my parcel?"},
            headers={"Authorization": f"Bearer {self.secret}"},
            timeout=30,
        )

    def page(self) -> httpx2.Response:
        return self.browser.get(f"/w/{self.slug}/conversations")

    def add_label(self, name: str) -> httpx2.Response:
        form = self.browser.get(f"/w/{self.slug}/settings/labels")
        assert form.status_code == 200, form.text
        csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form.text).group(1)
        return self.browser.post(
            f"/w/{self.slug}/settings/labels",
            data={"csrf_token": csrf, "name": name, "color": "#1f6feb"},
        )


@pytest.fixture
def scene(template_db, tmp_path):
    """A migrated database with a workspace, an MCP token, an inbox and a logged-in browser
    cookie, all made beside the server so its workers have not opened a connection yet."""
    url = fresh_database(template_db, tmp_path / "live.sqlite3")
    app = side_app(url, WTF_CSRF_ENABLED=False)
    with app.app_context():
        desk = make_desk()
        token = desk.mint()
        inbox, secret = inboxes.create_inbox(desk.admin_actor, "Hooked")
        login = app.test_client().post(
            "/login", data={"email": desk.admin.email, "password": f.PASSWORD}
        )
        assert login.status_code == 302
        cookie = login.headers["Set-Cookie"].split(";")[0].split("=", 1)
        yield {
            "url": url,
            "token": token,
            "uid": inbox.uid,
            "secret": secret,
            "slug": desk.workspace.slug,
            "cookie": cookie,
        }
        db.session.remove()
        db.engine.dispose()


def _assert_unavailable(answer: httpx2.Response) -> None:
    assert answer.status_code == 503, answer.text
    assert answer.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)


def test_a_read_only_database_answers_503_and_every_worker_recovers(scene, tmp_path):
    read_only = (
        read_only_pg_database()
        if PG_URL
        else read_only_sqlite_file(Path(scene["url"].removeprefix("sqlite:///")))
    )
    with gunicorn(scene["url"], tmp_path, workers=2) as server:
        visitor = Visitor(
            server.base_url, scene["token"], scene["uid"], scene["secret"], scene["slug"]
        )
        visitor.browser.cookies.set(*scene["cookie"], domain="127.0.0.1")
        with read_only:
            for _ in range(ROUNDS):
                refused = visitor.mcp()
                _assert_unavailable(refused)
                error = refused.json()["error"]
                assert error["code"] == DATABASE_UNAVAILABLE
                assert error["data"]["reason"] == "database_unavailable"

                refused = visitor.hook()
                _assert_unavailable(refused)
                assert refused.json()["error"]["code"] == "database_unavailable"

                assert visitor.page().status_code == 200  # reads need no writable database
                refused = visitor.add_label("billing")
                _assert_unavailable(refused)
                assert "can’t save changes right now" in refused.text
        # Writable again: no restart, no 503 left over from a connection opened read-only.
        for n in range(ROUNDS):
            answer = visitor.mcp()
            assert answer.status_code == 200 and "error" not in answer.json(), answer.text
            assert visitor.hook().status_code in (200, 201)
            assert visitor.page().status_code == 200
            assert visitor.add_label(f"label {n}").status_code == 302
        assert " 500 " not in server.log_text()
