"""Settings > API tokens: minting a REST API token (shown once, with a curl example), the
token list and revoking. No switch: the REST API is open to live tokens whenever the plan
includes it (policy.feature_lock_reason)."""

from __future__ import annotations

from deskwoot.services.access import api_tokens
from deskwoot.web.settings import bot_tokens

PAGES = bot_tokens.TokenPages(
    kind=api_tokens.KIND,
    path="/api-tokens",
    tokens_path="/api-tokens",
    index="api_tokens",
    mint="mint_api_token",
    minted="minted_api_token",
    revoke="revoke_api_token",
    template="settings/api_tokens.html",
    minted_template="settings/api_token.html",
)


def _links() -> dict:
    """The REST API's addresses, shown on the page and beside a new token."""
    public_url = bot_tokens.public_url()
    return {
        "api_url": api_tokens.base_url(public_url),
        "reference_url": api_tokens.reference_url(public_url),
        "openapi_url": api_tokens.openapi_url(public_url),
    }


def _connect(plaintext: str) -> dict:
    """A curl line that uses the new token."""
    return {**_links(), "curl": api_tokens.curl_example(bot_tokens.public_url(), plaintext)}


bot_tokens.add_routes(PAGES, _links, _connect)
