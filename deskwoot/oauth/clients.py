"""The clients that ask for authorization: found by registration (RFC 7591) or by their
metadata document's URL, and presented to Authlib through its ClientMixin."""

from __future__ import annotations

import hmac
from datetime import timedelta

from authlib.oauth2.rfc6749 import ClientMixin
from flask import current_app
from sqlalchemy import select

from deskwoot.database.transactions import write_transaction
from deskwoot.extensions import db
from deskwoot.models import OAuthClient, utcnow
from deskwoot.oauth import client_documents
from deskwoot.policy import SCOPES
from deskwoot.services.access.random_secrets import digest


class Client(ClientMixin):
    """An OAuthClient row as Authlib expects a client."""

    def __init__(self, row: OAuthClient):
        self.row = row

    @property
    def name(self) -> str:
        return self.row.client_name

    def get_client_id(self):
        return self.row.client_id

    def get_default_redirect_uri(self):
        # OAuth 2.1: the redirect_uri is always sent and matched exactly, never defaulted.
        return None

    def get_allowed_scope(self, scope):
        """The requested scopes we know; the admin chooses the rest on the consent page."""
        if not scope:
            return ""
        return " ".join(s for s in scope.split() if s in SCOPES)

    def check_redirect_uri(self, redirect_uri):
        """Exact string match against a registered URI (OAuth 2.1 §2.3.1)."""
        return redirect_uri in (self.row.redirect_uris or [])

    def check_client_secret(self, client_secret):
        stored = self.row.client_secret_hash
        return stored is not None and hmac.compare_digest(stored, digest(client_secret))

    def check_endpoint_auth_method(self, method, endpoint):
        if endpoint in ("token", "revocation"):
            return method == self.row.token_endpoint_auth_method
        return True

    def check_response_type(self, response_type):
        return response_type == "code"

    def check_grant_type(self, grant_type):
        # Every grant gets a rotating refresh token: the access token lives an hour.
        return grant_type in ("authorization_code", "refresh_token")


def _stale(row: OAuthClient) -> bool:
    ttl = current_app.config.get("OAUTH_CIMD_TTL", client_documents.DEFAULTS["OAUTH_CIMD_TTL"])
    return row.fetched_at is None or utcnow() - row.fetched_at > timedelta(seconds=ttl)


def find(
    client_id: str | None, *, refresh_document: bool = False, fetch_unknown: bool = True
) -> Client | None:
    """The client named `client_id`, or None. A metadata-document client is fetched (with the
    SSRF guard) when unknown, or when stale and `refresh_document` (the authorization request,
    where its redirect URIs matter); client_documents.DocumentRefused says why one cannot be.

    fetch_unknown=False (the token and revocation endpoints, open to anyone without a login):
    an unknown document URL is not fetched, only None. A client holding a code or a token was
    stored when an admin's consent page fetched its document, so nothing legitimate is lost,
    and strangers cannot make Deskwoot fetch URLs and store rows without ever being seen."""
    if not client_id or len(client_id) > 2000:
        return None
    row = db.session.execute(
        select(OAuthClient).where(OAuthClient.client_id == client_id)
    ).scalar_one_or_none()
    if not client_documents.looks_like_document_url(client_id):
        return Client(row) if row is not None and row.source == "registered" else None
    if row is not None and not (refresh_document and _stale(row)):
        return Client(row)
    if row is None and not fetch_unknown:
        return None
    document = client_documents.fetch(client_id)
    with write_transaction() as session:
        row = session.execute(
            select(OAuthClient).where(OAuthClient.client_id == client_id)
        ).scalar_one_or_none()
        if row is None:
            row = OAuthClient(client_id=client_id, source="document")
            session.add(row)
        row.client_name = document.client_name
        row.client_uri = document.client_uri
        row.redirect_uris = document.redirect_uris
        row.grant_types = document.grant_types
        row.token_endpoint_auth_method = "none"  # noqa: S105 (a method name, not a secret)
        row.fetched_at = utcnow()
    return Client(row)


def register(client_info: dict, client_metadata: dict) -> Client:
    """Store a dynamically registered client (RFC 7591); only the secret's digest is kept."""
    secret = client_info.get("client_secret")
    with write_transaction() as session:
        row = OAuthClient(
            client_id=client_info["client_id"],
            source="registered",
            client_name=(client_metadata.get("client_name") or "Unnamed client")[:200],
            client_uri=client_metadata.get("client_uri"),
            redirect_uris=list(client_metadata.get("redirect_uris") or []),
            grant_types=list(
                client_metadata.get("grant_types") or ["authorization_code", "refresh_token"]
            ),
            token_endpoint_auth_method=client_metadata.get(
                "token_endpoint_auth_method", "client_secret_basic"
            ),
            client_secret_hash=digest(secret) if secret else None,
        )
        session.add(row)
    return Client(row)
