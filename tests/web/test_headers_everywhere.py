"""Security headers on every response, found by walking app.url_map (ARCHITECTURE §8).

Every GET route is fetched logged out and as an admin (with real ids for its parameters), plus
the error pages; each HTML answer must carry the CSP (no inline script), nosniff, no framing, a
referrer policy and `Cache-Control: no-store` (help-desk pages hold customer data: no shared
cache may keep them), and every cookie must be HttpOnly, SameSite and, behind HTTPS, Secure.
"""

from __future__ import annotations

from deskwoot import create_app
from deskwoot.extensions import db
from tests import factories
from tests.web.route_params import INBOX_SECRET, blueprint_of, build_world, path_for

REFERRER_POLICIES = {
    "no-referrer",
    "same-origin",
    "strict-origin",
    "strict-origin-when-cross-origin",
}
UNSAFE_SOURCES = {"'unsafe-inline'", "'unsafe-eval'", "*", "data:", "http:", "https:", "blob:"}


def _directives(csp: str) -> dict[str, set[str]]:
    parts = [p.split() for p in csp.split(";") if p.strip()]
    return {p[0].lower(): set(p[1:]) for p in parts}


def problems(response, where: str) -> list[str]:
    """What is missing from one response's headers, in words."""
    headers = response.headers
    found = []
    if headers.get("X-Content-Type-Options") != "nosniff":
        found.append("no nosniff")
    for cookie in headers.getlist("Set-Cookie"):
        attributes = {a.strip().split("=")[0].lower(): a.strip() for a in cookie.split(";")[1:]}
        if "httponly" not in attributes:
            found.append(f"cookie without HttpOnly: {cookie[:40]}")
        if attributes.get("samesite", "").lower() not in ("samesite=lax", "samesite=strict"):
            found.append(f"cookie without SameSite=Lax/Strict: {cookie[:40]}")
    if response.mimetype == "text/html":
        csp = _directives(headers.get("Content-Security-Policy", ""))
        script = csp.get("script-src", csp.get("default-src"))
        if not script or script & UNSAFE_SOURCES:
            found.append(f"script-src allows inline or foreign scripts: {script}")
        if csp.get("default-src") != {"'self'"}:
            found.append(f"default-src is {csp.get('default-src')}")
        if csp.get("object-src") != {"'none'"}:
            found.append("plugins (object-src) not off")
        if csp.get("base-uri") not in ({"'none'"}, {"'self'"}):
            found.append("base-uri not locked")
        if csp.get("frame-ancestors") != {"'none'"} and headers.get("X-Frame-Options") != "DENY":
            found.append("page may be framed")
        if csp.get("style-src", set()) & UNSAFE_SOURCES:
            found.append("style-src allows inline styles")
        if headers.get("Referrer-Policy") not in REFERRER_POLICIES:
            found.append(f"Referrer-Policy is {headers.get('Referrer-Policy')}")
        if "no-store" not in headers.get("Cache-Control", ""):
            found.append("HTML without Cache-Control: no-store")
    return [f"{where} ({response.status_code}): {p}" for p in found]


def _get_routes(app):
    return sorted(
        (rule for rule in app.url_map.iter_rules() if "GET" in rule.methods),
        key=lambda rule: rule.rule,
    )


def test_every_get_route_sends_the_headers_logged_in_and_out(app):
    world = build_world()
    admin = app.test_client()
    login = admin.post("/login", data={"email": world.admin.email, "password": factories.PASSWORD})
    found = problems(login, "POST /login")
    visitor = app.test_client()
    routes = [rule for rule in _get_routes(app) if blueprint_of(rule) not in ("mcp", "hooks")]
    assert len(routes) >= 18, [rule.rule for rule in routes]
    html_pages = 0
    for rule in routes:
        path = path_for(rule, world.values)
        for who, browser in (("admin", admin), ("visitor", visitor)):
            response = browser.get(path)
            assert response.status_code < 500, f"GET {path} as {who}"
            found += problems(response, f"GET {path} as {who}")
            html_pages += response.mimetype == "text/html" and response.status_code == 200
            response.close()
    assert not found, "\n".join(found)
    assert html_pages >= 15  # the walk reached real pages, not just redirects to /login


def test_machine_endpoints_send_nosniff_too(app):
    world = build_world()
    client = app.test_client()
    hook = f"/hooks/inbound/{world.values['uid']}"
    responses = {
        "hook 201": client.post(
            hook,
            json={"content": "hi", "contact": {"email": "a@b.test"}},
            headers={"Authorization": f"Bearer {INBOX_SECRET}"},
        ),
        "hook 401": client.post(hook, json={"content": "hi"}),
        "hook 405": client.get(hook),
        "mcp 401": client.post("/api/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"}),
        "mcp 405": client.get("/api/mcp"),
    }
    found = []
    for name, response in responses.items():
        assert response.mimetype == "application/json", name
        found += problems(response, name)
    assert not found, "\n".join(found)


def test_error_pages_send_the_headers(app, csrf_app):
    world = build_world()
    admin = app.test_client()
    admin.post("/login", data={"email": world.admin.email, "password": factories.PASSWORD})
    slug = world.workspace.slug
    anonymous = app.test_client()
    app.config["LOGIN_THROTTLE_FREE_FAILURES"] = 0
    for _ in range(2):
        throttled = anonymous.post("/login", data={"email": "x@y.test", "password": "wrong guess"})
    pages = {
        "404 unknown path": anonymous.get("/no/such/page"),
        "404 unknown path, logged in": admin.get("/no/such/page"),
        "404 unknown contact": admin.get(f"/w/{slug}/contacts/999999"),
        "404 unknown workspace": admin.get("/w/not-a-workspace/conversations"),
        "404 spent link": anonymous.get("/set-password/not-a-token"),
        "405 GET on a POST route": admin.get("/logout"),
        "413 too large": admin.post("/login", data={"email": "x" * (2 * 1024 * 1024)}),
        "429 throttled": throttled,
        "400 CSRF": csrf_app.test_client().post("/login", data={"email": "x@y.test"}),
    }
    expected = {name: int(name[:3]) for name in pages}
    found = []
    for name, response in pages.items():
        assert response.status_code == expected[name], name
        assert response.mimetype == "text/html", name
        found += problems(response, name)
    assert not found, "\n".join(found)


def test_the_500_page_sends_the_headers_and_no_stack_trace(app_config):
    crashing = create_app({**app_config, "PROPAGATE_EXCEPTIONS": False})

    def boom():
        raise RuntimeError("secret internals")

    crashing.add_url_rule("/boom", "boom", boom)
    with crashing.app_context():
        response = crashing.test_client().get("/boom")
        assert response.status_code == 500
        text = response.get_data(as_text=True)
        assert "secret internals" not in text and "Traceback" not in text
        assert not problems(response, "500"), problems(response, "500")
        db.session.remove()
        db.engine.dispose()


def test_cookies_are_secure_and_hsts_is_on_behind_https(app_config, desk):
    secure = create_app({**app_config, "PUBLIC_URL": "https://help.example.com"})
    plain = create_app({**app_config, "PUBLIC_URL": "http://localhost"})
    opted_out = create_app(
        {**app_config, "PUBLIC_URL": "https://help.example.com", "SESSION_COOKIE_SECURE": False}
    )
    assert secure.config["SESSION_COOKIE_SECURE"] is True
    assert plain.config["SESSION_COOKIE_SECURE"] is False
    assert opted_out.config["SESSION_COOKIE_SECURE"] is False  # an explicit choice wins
    for app, is_secure in ((secure, True), (plain, False)):
        with app.app_context():
            client = app.test_client()
            login = client.post(
                "/login", data={"email": desk.admin.email, "password": factories.PASSWORD}
            )
            assert login.status_code == 302
            cookie = login.headers["Set-Cookie"]
            assert ("; Secure" in cookie) is is_secure, cookie
            page = client.get("/login")
            assert ("Strict-Transport-Security" in page.headers) is is_secure
            assert not problems(login, "login") and not problems(page, "login page")
            db.session.remove()
