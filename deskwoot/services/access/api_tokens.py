"""Settings > API tokens: the REST API's addresses and the ready curl example for a new token.

API tokens are bot tokens of kind "api" (services/access/tokens.py mints, lists and revokes
them); the REST API has no switch of its own, only the plan gate.
"""

from __future__ import annotations

from deskwoot.policy import Actor
from deskwoot.services.access import token_overview

KIND = "api"


def overview(actor: Actor) -> token_overview.Overview:
    """Settings > API tokens' overview: its API tokens only."""
    return token_overview.overview(actor, KIND)


def base_url(public_url: str) -> str:
    """Where the REST API lives: {PUBLIC_URL}/api/v1."""
    return public_url.rstrip("/") + "/api/v1"


def reference_url(public_url: str) -> str:
    """The human-readable API reference served by Deskwoot itself."""
    return base_url(public_url) + "/docs"


def openapi_url(public_url: str) -> str:
    """The OpenAPI 3.1 document the reference is generated from."""
    return base_url(public_url) + "/openapi.json"


def curl_example(public_url: str, plaintext: str) -> str:
    """A first request with the new token: list the conversations it can see."""
    # A token is base62 after its prefix, so the double quotes need no escaping.
    return f'curl -H "Authorization: Bearer {plaintext}" {base_url(public_url)}/conversations'
