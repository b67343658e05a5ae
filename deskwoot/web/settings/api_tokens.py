"""Settings > API tokens: minting a REST API token (shown once, with a curl example), the
token list and revoking. No switch: the REST API is open to live tokens whenever the plan
includes it (policy.feature_lock_reason)."""

from __future__ import annotations

from deskwoot.services.access import api_tokens
from deskwoot.web.forms import MintTokenForm
from deskwoot.web.settings import bot_tokens
from deskwoot.web.settings.blueprint import bp

PAGES = bot_tokens.TokenPages(
    kind=api_tokens.KIND,
    index=".api_tokens",
    mint=".mint_api_token",
    minted=".minted_api_token",
    revoke=".revoke_api_token",
    template="settings/api_tokens.html",
    minted_template="settings/api_token.html",
)


def _links() -> dict:
    public_url = bot_tokens.public_url()
    return {
        "api_url": api_tokens.base_url(public_url),
        "reference_url": api_tokens.reference_url(public_url),
        "openapi_url": api_tokens.openapi_url(public_url),
    }


@bp.get("/api-tokens", endpoint="api_tokens")  # the function name is the service module's
def api_tokens_page():
    """The REST API's tokens and a form to mint one."""
    return _render(MintTokenForm(formdata=None))


def _render(form: MintTokenForm, status: int = 200):
    return bot_tokens.render_index(PAGES, form, status, **_links())


@bp.post("/api-tokens")
def mint_api_token():
    """Mint an API token and redirect to the page that shows it once."""
    return bot_tokens.mint(PAGES, lambda form: _render(form, status=422))


@bp.get("/api-tokens/<int:token_id>/minted")
def minted_api_token(token_id: int):
    """The API token just minted, with a curl line that uses it (first visit only)."""
    return bot_tokens.render_minted(
        PAGES,
        token_id,
        lambda plaintext: {
            **_links(),
            "curl": api_tokens.curl_example(bot_tokens.public_url(), plaintext),
        },
    )


@bp.post("/api-tokens/<int:token_id>/revoke")
def revoke_api_token(token_id: int):
    """Revoke an API token: its very next request is refused, on every worker."""
    return bot_tokens.revoke(PAGES, token_id)
