"""Fixtures: a migrated database per test (SQLite file copy or PostgreSQL truncate), the app,
its test client and CLI runner, and a logged-in `auth` helper.

Set DESKWOOT_TEST_DATABASE_URL to a PostgreSQL URL to run the whole suite there
(`make test` does both).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from flask import g
from flask.testing import FlaskClient
from sqlalchemy import create_engine, inspect, text

from deskwoot import create_app
from deskwoot.database import migrate
from deskwoot.extensions import db
from tests import factories
from tests.browser.chromium import browser  # noqa: F401 (the one session Chromium, by name)

PG_URL = os.environ.get("DESKWOOT_TEST_DATABASE_URL")
# `make test` runs SQLite and PostgreSQL side by side and gives each run its own folder.
ARTIFACTS = Path(
    os.environ.get("DESKWOOT_TEST_ARTIFACTS")
    or Path(__file__).resolve().parent.parent / "test-artifacts"
)


def _sqlalchemy_url(url: str) -> str:
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def pytest_report_header(config):
    return f"deskwoot database: {'postgresql' if PG_URL else 'sqlite'}"


@pytest.fixture(scope="session")
def template_db(tmp_path_factory):
    """Migrate once per run; tests start from this schema."""
    if PG_URL:
        url = _sqlalchemy_url(PG_URL)
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        engine.dispose()
    else:
        url = "sqlite:///" + str(tmp_path_factory.mktemp("template") / "template.sqlite3")
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "test", "TESTING": True})
    with app.app_context():
        migrate.upgrade()
        tables = [t for t in inspect(db.engine).get_table_names() if t != "alembic_version"]
        db.engine.dispose()
    return {"url": url, "tables": tables}


def fresh_database(template_db: dict, target: Path) -> str:
    """A clean, migrated database: PostgreSQL's test database emptied, or a copy of the
    migrated SQLite template at `target`."""
    if PG_URL:
        engine = create_engine(template_db["url"])
        with engine.begin() as conn:
            conn.execute(
                text(
                    "TRUNCATE "
                    + ", ".join(f'"{t}"' for t in template_db["tables"])
                    + " RESTART IDENTITY CASCADE"
                )
            )
        engine.dispose()
        return template_db["url"]
    shutil.copyfile(template_db["url"].removeprefix("sqlite:///"), target)
    return "sqlite:///" + str(target)


@pytest.fixture
def database_url(template_db, tmp_path):
    """A clean, migrated database for this test."""
    return fresh_database(template_db, tmp_path / "deskwoot.sqlite3")


@pytest.fixture
def app_config(database_url, tmp_path):
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": "test-secret-key",
        "WTF_CSRF_ENABLED": False,
        "PUBLIC_URL": "http://localhost",
        "SERVER_NAME": None,
    }


class IsolatedClient(FlaskClient):
    """A test client whose requests do not share `g` (and so not the logged-in user).

    The `app` fixture keeps an app context pushed for the whole test and Flask reuses it for
    every test-client request, so flask-login's cached user would otherwise leak from one
    request (or one "browser") to the next and hide session bugs.
    """

    def open(self, *args, **kwargs):
        for key in list(g):
            g.pop(key)
        return super().open(*args, **kwargs)


@pytest.fixture
def app(app_config, tmp_path):
    app = create_app(app_config)
    app.test_client_class = IsolatedClient
    app.instance_path = str(tmp_path / "instance")
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def csrf_app(app_config, tmp_path):
    """The app with CSRF protection on, as in production."""
    app = create_app({**app_config, "WTF_CSRF_ENABLED": True})
    app.test_client_class = IsolatedClient
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class AuthActions:
    """Log the test client in and out through the real forms."""

    def __init__(self, client):
        self._client = client

    def login(self, email: str, password: str = factories.PASSWORD, follow: bool = False):
        return self._client.post(
            "/login", data={"email": email, "password": password}, follow_redirects=follow
        )

    def logout(self):
        return self._client.post("/logout")


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture
def artifacts() -> Path:
    """Where tests save screenshots and logs for people to look at."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
