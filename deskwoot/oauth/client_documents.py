"""Client ID Metadata Documents (MCP 2025-11-25, draft-ietf-oauth-client-id-metadata-document):
a client whose `client_id` is an https URL is described by the JSON document at that URL.

Fetching a URL a stranger chose is a server-side request forgery risk, so the fetch is
strict: https only (http only when the operator allows it for development), every resolved
address must be public unless OAUTH_CIMD_ALLOW_PRIVATE is set (tests, a local lab), the
connection goes to the address that was checked (no second DNS answer), no redirects, at most
OAUTH_CIMD_MAX_BYTES read within OAUTH_CIMD_TIMEOUT seconds overall.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import current_app

DEFAULTS = {
    "OAUTH_CIMD_ALLOW_HTTP": False,
    "OAUTH_CIMD_ALLOW_PRIVATE": False,
    "OAUTH_CIMD_MAX_BYTES": 5 * 1024,
    "OAUTH_CIMD_TIMEOUT": 5.0,
    "OAUTH_CIMD_TTL": 300,  # seconds a fetched document is trusted before it is fetched again
}


class DocumentRefused(Exception):
    """The document could not be used; the message says why, for the consent page."""


@dataclass(frozen=True)
class ClientDocument:
    client_id: str
    client_name: str
    client_uri: str | None
    redirect_uris: list[str]
    grant_types: list[str]
    token_endpoint_auth_method: str


def _config(name: str):
    return current_app.config.get(name, DEFAULTS[name])


def looks_like_document_url(client_id: str) -> bool:
    """Whether a client_id is a URL (then it names a metadata document, not a registration)."""
    return client_id.startswith(("https://", "http://"))


def _check_url(url: str):
    parts = urlsplit(url)
    allowed = ("https", "http") if _config("OAUTH_CIMD_ALLOW_HTTP") else ("https",)
    if parts.scheme not in allowed:
        raise DocumentRefused("A client ID metadata document must be served over https.")
    if not parts.hostname or parts.username or parts.password:
        raise DocumentRefused("The client ID URL has no usable host.")
    if parts.path in ("", "/") or parts.fragment:
        raise DocumentRefused("The client ID URL must have a path and no fragment.")
    return parts


def _public_address(host: str, port: int) -> str:
    """Resolve `host` and return an address to connect to, refusing every non-public one."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise DocumentRefused(f"The client's host {host} does not resolve.") from exc
    addresses = [info[4][0] for info in infos]
    if not _config("OAUTH_CIMD_ALLOW_PRIVATE"):
        for address in addresses:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
            if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
                ip = ip.ipv4_mapped
            if not ip.is_global or ip.is_multicast:
                raise DocumentRefused(
                    f"The client's host {host} resolves to a private or local address; "
                    "Deskwoot does not fetch those."
                )
    return addresses[0]


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """TLS to the checked address, with the certificate verified for the URL's host name."""

    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def fetch(url: str) -> ClientDocument:
    """Fetch and check the document at `url` (the client_id), or raise DocumentRefused."""
    parts = _check_url(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = _public_address(parts.hostname, port)
    deadline = time.monotonic() + float(_config("OAUTH_CIMD_TIMEOUT"))
    limit = int(_config("OAUTH_CIMD_MAX_BYTES"))
    kind = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
    connection = kind(parts.hostname, port, address, timeout=float(_config("OAUTH_CIMD_TIMEOUT")))
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("GET", target, headers={"Accept": "application/json"})
        response = connection.getresponse()
        if response.status != 200:  # a redirect is refused like any other non-200
            raise DocumentRefused(f"The client ID URL answered HTTP {response.status}.")
        declared = response.getheader("Content-Length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise DocumentRefused(f"The client metadata document is larger than {limit} bytes.")
        body = b""
        while len(body) <= limit:
            if time.monotonic() > deadline:
                raise DocumentRefused("The client ID URL took too long to answer.")
            chunk = response.read1(limit + 1 - len(body)) if hasattr(response, "read1") else b""
            if not chunk:
                break
            body += chunk
        if len(body) > limit:
            raise DocumentRefused(f"The client metadata document is larger than {limit} bytes.")
    except TimeoutError as exc:
        raise DocumentRefused("The client ID URL took too long to answer.") from exc
    except (OSError, http.client.HTTPException) as exc:
        raise DocumentRefused(f"The client ID URL could not be fetched ({exc}).") from exc
    finally:
        connection.close()
    if time.monotonic() > deadline:
        raise DocumentRefused("The client ID URL took too long to answer.")
    return parse(url, body)


def parse(url: str, body: bytes) -> ClientDocument:
    """Check a fetched document: JSON, naming itself, with redirect URIs, a public client."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DocumentRefused("The client metadata document is not JSON.") from exc
    if not isinstance(document, dict) or document.get("client_id") != url:
        raise DocumentRefused("The client metadata document's client_id is not its own URL.")
    redirect_uris = document.get("redirect_uris")
    if (
        not isinstance(redirect_uris, list)
        or not redirect_uris
        or not all(isinstance(u, str) and u for u in redirect_uris)
    ):
        raise DocumentRefused("The client metadata document lists no redirect_uris.")
    method = document.get("token_endpoint_auth_method", "none")
    if method != "none":
        # A document cannot carry a shared secret; key-based methods are not supported here.
        raise DocumentRefused(
            "Only public clients (token_endpoint_auth_method none) may use a URL."
        )
    name = document.get("client_name")
    client_uri = document.get("client_uri")
    grant_types = document.get("grant_types") or ["authorization_code", "refresh_token"]
    return ClientDocument(
        client_id=url,
        client_name=(name if isinstance(name, str) and name.strip() else urlsplit(url).hostname)[
            :200
        ],
        client_uri=client_uri if isinstance(client_uri, str) else None,
        redirect_uris=list(redirect_uris),
        grant_types=[g for g in grant_types if isinstance(g, str)],
        token_endpoint_auth_method="none",  # noqa: S106 (a method name, not a secret)
    )
