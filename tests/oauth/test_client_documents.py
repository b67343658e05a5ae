"""Client ID Metadata Documents: a client named by an https URL is described by the JSON at
that URL. Fetching a stranger's URL is guarded: private and loopback addresses, plain http,
slow or huge answers and redirects are all refused with a reason, and nothing is approved."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.oauth import flow
from tests.oauth.flow import Pkce


class Documents(BaseHTTPRequestHandler):
    fetched: list[str] = []  # every path asked for, by any test of the module

    def log_message(self, *args):
        pass

    def _json(self, document: dict | str, status: int = 200, headers: dict | None = None):
        body = document if isinstance(document, str) else json.dumps(document)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body.encode())

    def do_GET(self):
        Documents.fetched.append(self.path)
        me = f"http://127.0.0.1:{self.server.server_port}{self.path}"
        good = {
            "client_id": me,
            "client_name": "Docs Agent",
            "client_uri": "https://agent.example",
            "redirect_uris": [flow.REDIRECT],
            "token_endpoint_auth_method": "none",
        }
        if self.path == "/good.json":
            self._json(good)
        elif self.path == "/huge.json":
            self._json({**good, "padding": "x" * 10_000})
        elif self.path == "/slow.json":
            time.sleep(1.5)
            self._json(good)
        elif self.path == "/redirect.json":
            self._json("", 302, {"Location": "/good.json"})
        elif self.path == "/other-id.json":
            self._json({**good, "client_id": "https://someone.else/client.json"})
        else:
            self._json({}, 404)


@pytest.fixture(scope="module")
def documents():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Documents)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def lab(app):
    """The development allowances the tests need to reach their own document server."""
    app.config.update(
        OAUTH_CIMD_ALLOW_HTTP=True, OAUTH_CIMD_ALLOW_PRIVATE=True, OAUTH_CIMD_TIMEOUT=0.5
    )
    return app


def consent(client, client_id: str):
    return client.get(flow.authorize_query(client_id, Pkce.new()))


def test_a_client_known_by_its_document_connects(client, auth, desk, lab, documents):
    client_id = documents + "/good.json"
    auth.login(desk.admin.email)
    pkce = Pkce.new()
    url = flow.authorize_query(client_id, pkce)
    page = client.get(url).get_data(as_text=True)
    assert "Docs Agent" in page and "its metadata document" in page
    code = flow.code_from(flow.approve(client, url, desk.workspace.id))
    token = flow.exchange(client, client_id, code, pkce.verifier)
    assert token.status_code == 200, token.get_data(as_text=True)
    assert flow.call(client, token.get_json()["access_token"]).status_code == 200


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("/huge.json", "larger than"),
        ("/slow.json", "too long"),
        ("/redirect.json", "HTTP 302"),
        ("/other-id.json", "not its own URL"),
        ("/missing.json", "HTTP 404"),
    ],
)
def test_bad_documents_are_refused_with_the_reason(client, auth, desk, lab, documents, path, why):
    auth.login(desk.admin.email)
    response = consent(client, documents + path)
    assert response.status_code == 400
    assert why in response.get_data(as_text=True)
    assert "Location" not in response.headers


@pytest.mark.parametrize(
    "client_id",
    [
        "https://127.0.0.1/client.json",
        "https://localhost/client.json",
        "https://10.0.0.7/client.json",
        "https://192.168.1.1/client.json",
        "https://169.254.169.254/latest/meta-data",  # cloud metadata
        "https://[::1]/client.json",
        "https://[::ffff:127.0.0.1]/client.json",
    ],
)
def test_private_and_loopback_addresses_are_never_fetched(client, auth, desk, client_id):
    auth.login(desk.admin.email)
    response = consent(client, client_id)
    assert response.status_code == 400
    assert "private or local address" in response.get_data(as_text=True)


def test_the_guard_holds_for_a_document_server_on_loopback(client, auth, desk, app, documents):
    app.config.update(OAUTH_CIMD_ALLOW_HTTP=True)  # http allowed, private addresses not
    auth.login(desk.admin.email)
    response = consent(client, documents + "/good.json")
    assert response.status_code == 400
    assert "private or local address" in response.get_data(as_text=True)


def test_plain_http_is_refused_in_production(client, auth, desk, documents):
    auth.login(desk.admin.email)
    response = consent(client, documents + "/good.json")
    assert response.status_code == 400
    assert "https" in response.get_data(as_text=True)


@pytest.mark.parametrize("endpoint", ["/oauth/token", "/oauth/revoke"])
def test_the_open_endpoints_never_fetch_an_unknown_document(client, lab, documents, endpoint):
    """Without a login, nobody can make Deskwoot fetch a URL or store a client: the token and
    revocation endpoints only know clients an admin's consent page has fetched already."""
    from sqlalchemy import func, select

    from deskwoot.extensions import db
    from deskwoot.models import OAuthClient

    client_id = documents + "/good.json?from=" + endpoint
    response = client.post(
        endpoint,
        data={
            "grant_type": "authorization_code",
            "code": "x",
            "code_verifier": "y" * 43,
            "redirect_uri": flow.REDIRECT,
            "client_id": client_id,
            "token": "dw_ort_whatever",
            "resource": flow.RESOURCE,
        },
    )
    assert response.status_code in (400, 401), response.get_data(as_text=True)
    assert response.get_json()["error"] == "invalid_client"
    assert not [path for path in Documents.fetched if endpoint in path]
    count = select(func.count()).select_from(OAuthClient).where(OAuthClient.client_id == client_id)
    assert db.session.scalar(count) == 0
