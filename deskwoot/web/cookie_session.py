"""The signed session cookie, for browser pages only.

/api/mcp and /hooks authenticate every request with a bearer token: they never read a login
cookie, so opening and re-signing one there is wasted work on the busiest endpoints and would
only invite cookie-based confusion (a browser's cookie riding along on an agent endpoint).
"""

from __future__ import annotations

from flask.sessions import SecureCookieSessionInterface

BEARER_ONLY_PREFIXES = ("/api/", "/hooks/")


class BrowserOnlySessionInterface(SecureCookieSessionInterface):
    def open_session(self, app, request):
        if request.path.startswith(BEARER_ONLY_PREFIXES):
            return self.make_null_session(app)  # never saved, never sets a cookie
        return super().open_session(app, request)
