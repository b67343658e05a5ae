"""The authorization server: Authlib's, told where Deskwoot keeps clients, codes and tokens.

Authlib (maintained, RFC-complete) does the protocol: request validation, PKCE, client
authentication, token responses and their errors, registration, revocation. What is ours:
S256 only, the RFC 8707 resource check, rotation with replay detection, and storage.
"""

from __future__ import annotations

from authlib.common.urls import add_params_to_uri
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import InvalidRequestError, OAuth2Error, grants
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7591 import ClientRegistrationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc9207 import IssuerParameter
from flask import request as http_request

from deskwoot.database.transactions import write_transaction
from deskwoot.extensions import db
from deskwoot.models import OAuthCode, OAuthToken, utcnow
from deskwoot.oauth import clients, metadata, registration_limits, urls
from deskwoot.oauth import grants as grant_store
from deskwoot.oauth.client_documents import DocumentRefused


class InvalidTargetError(OAuth2Error):
    """RFC 8707 §2: the resource is not ours."""

    error = "invalid_target"
    description = "Tokens here are only for this server's MCP endpoint."


def _check_resource(request) -> str:
    requested = request.payload.data.get("resource")
    if not urls.same_resource(requested):
        raise InvalidTargetError()
    return urls.resource()


class S256Only(CodeChallenge):
    """PKCE is required and only with S256 (OAuth 2.1 §4.1.1; MCP: clients MUST use S256)."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant, redirect_uri):
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("Missing 'code_challenge': PKCE is required.")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be S256.")
        super().validate_code_challenge(grant, redirect_uri)


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["none", "client_secret_basic", "client_secret_post"]

    def validate_authorization_request(self):
        redirect_uri = super().validate_authorization_request()
        try:
            _check_resource(self.request)
        except OAuth2Error as error:
            error.redirect_uri = redirect_uri
            raise
        return redirect_uri

    def create_authorization_response(self, redirect_uri, grant_user):
        """`grant_user` is the consent (views.py): the approval made the grant and the code."""
        if not grant_user:
            return super().create_authorization_response(redirect_uri, grant_user)
        params = [("code", grant_user.code)]
        if self.request.payload.state:
            params.append(("state", self.request.payload.state))
        return 302, "", [("Location", add_params_to_uri(redirect_uri, params))]

    def query_authorization_code(self, code, client):
        return grant_store.find_code(code, client.row.id)

    def validate_token_request(self):
        super().validate_token_request()
        code: OAuthCode = self.request.authorization_code
        if not urls.same_resource(self.request.payload.data.get("resource")) or (
            code.resource != urls.resource()
        ):
            raise InvalidTargetError()

    def delete_authorization_code(self, authorization_code):
        pass  # used_at is set when the tokens are saved, in the same transaction

    def authenticate_user(self, authorization_code: OAuthCode):
        return (
            authorization_code if grant_store.grant_is_live(authorization_code.grant_id) else None
        )


# Authlib reads these off the code it is given.
OAuthCode.get_redirect_uri = lambda self: self.redirect_uri
OAuthCode.get_scope = lambda self: " ".join(self.scopes or [])
OAuthCode.get_nonce = lambda self: None
OAuthCode.get_auth_time = lambda self: None
OAuthToken.check_client = lambda self, client: self.client_pk == client.row.id
OAuthToken.get_scope = lambda self: " ".join(self.grant.scopes or [])
OAuthToken.get_user = lambda self: self.grant


class RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["none", "client_secret_basic", "client_secret_post"]
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotation: every refresh returns a new refresh token

    def validate_token_request(self):
        super().validate_token_request()
        if not urls.same_resource(self.request.payload.data.get("resource")):
            raise InvalidTargetError()

    def authenticate_refresh_token(self, refresh_token):
        return grant_store.find_refresh(refresh_token)

    def authenticate_user(self, refresh_token: OAuthToken):
        return refresh_token.grant

    def revoke_old_credential(self, refresh_token: OAuthToken):
        grant_store.retire(refresh_token)


class TooManyRegistrations(OAuth2Error):
    """429 with Retry-After. RFC 7591 §3.2.2 has no code for "slow down", so the body uses
    RFC 6749's `temporarily_unavailable` and says why in `error_description`."""

    error = "temporarily_unavailable"
    status_code = 429

    def __init__(self, throttled: registration_limits.RegistrationThrottled):
        super().__init__(description=throttled.message)
        self.retry_after = throttled.retry_after

    def get_headers(self):
        return [*super().get_headers(), ("Retry-After", str(self.retry_after))]


class Registration(ClientRegistrationEndpoint):
    """RFC 7591, open: anyone may register a client, and nothing happens until an admin
    approves it on the consent page. Throttled per address and capped (registration_limits)."""

    def authenticate_token(self, request):
        return True

    def resolve_public_key(self, request):
        return None

    def get_server_metadata(self):
        return metadata.authorization_server_metadata()

    def save_client(self, client_info, client_metadata, request):
        if client_metadata.get("token_endpoint_auth_method") == "none":
            client_info["client_secret"] = None
        # The limits are checked here, after Authlib validated the metadata, so a malformed
        # request is not counted; and in the transaction that stores the client, so a refused
        # one is not either. The address is request.remote_addr: the peer's, or what
        # ProxyFix took from X-Forwarded-For when the operator set TRUSTED_PROXIES
        # (security.py). Behind a proxy without it, every client shares the proxy's address.
        try:
            with write_transaction():
                registration_limits.admit(http_request.remote_addr)
                return clients.register(client_info, client_metadata)
        except registration_limits.RegistrationThrottled as throttled:
            raise TooManyRegistrations(throttled) from None

    def generate_client_info(self, request):
        info = super().generate_client_info(request)
        if request.payload.data.get("token_endpoint_auth_method") == "none":
            info.pop("client_secret", None)
            info.pop("client_secret_expires_at", None)
        return info


class Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = ["none", "client_secret_basic", "client_secret_post"]

    def query_token(self, token_string, token_type_hint):
        return grant_store.find_for_revocation(token_string)

    def revoke_token(self, token: OAuthToken, request):
        # A client signing out gives up the grant: every token issued under it stops.
        grant_store.revoke_grant(token.grant_id, "revoked by the client")


class Issuer(IssuerParameter):
    def get_issuer(self):
        return urls.issuer()


class Server(AuthorizationServer):
    def create_bearer_token_generator(self, config):
        """Our token shapes (`dw_oat_`, `dw_ort_`) and lifetime, whatever init_app reads."""
        return BearerTokenGenerator(
            lambda **_: grant_store.new_token(grant_store.ACCESS_PREFIX),
            lambda **_: grant_store.new_token(grant_store.REFRESH_PREFIX),
            _expires_in,
        )

    def query_client(self, client_id):
        try:
            return clients.find(client_id, fetch_unknown=False)
        except DocumentRefused:
            return None

    def save_token(self, token, request):
        if request.payload.grant_type == "authorization_code":
            code: OAuthCode = request.authorization_code
            grant_store.store_tokens(code.grant_id, code.client_pk, code.resource, token)
            code.used_at = utcnow()
            grant_store.supersede_older_grants(code)
        else:
            old: OAuthToken = request.refresh_token
            grant_store.store_tokens(old.grant_id, old.client_pk, old.resource, token)
        db.session.flush()


def _expires_in(client, grant_type):
    return grant_store.access_ttl()


authorization_server = Server()
authorization_server.register_grant(AuthorizationCodeGrant, [S256Only(required=True)])
authorization_server.register_grant(RefreshTokenGrant)
authorization_server.register_endpoint(Registration)
authorization_server.register_endpoint(Revocation)
authorization_server.register_extension(Issuer())
