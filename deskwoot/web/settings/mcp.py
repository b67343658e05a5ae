"""Settings > MCP Server: the switch, minting a token (shown once) and the token list."""

from __future__ import annotations

from flask import flash, g, redirect, url_for

from deskwoot.services.access import mcp_switch as mcp_settings
from deskwoot.web.common import flash_error, flash_form_errors
from deskwoot.web.forms import McpSwitchForm, MintTokenForm
from deskwoot.web.settings import bot_tokens
from deskwoot.web.settings.blueprint import REFUSALS, bp

PAGES = bot_tokens.TokenPages(
    kind="mcp",
    index=".mcp",
    mint=".mint_token",
    minted=".minted_token",
    revoke=".revoke_token",
    template="settings/mcp.html",
    minted_template="settings/mcp_token.html",
)


def _connection_url() -> str:
    return mcp_settings.connection_url(bot_tokens.public_url())


@bp.get("/mcp")
def mcp():
    """The MCP server's switch, its tokens and a form to mint one."""
    return _render_mcp(MintTokenForm(formdata=None))


def _render_mcp(form: MintTokenForm, status: int = 200):
    return bot_tokens.render_index(
        PAGES,
        form,
        status,
        switch_form=McpSwitchForm(formdata=None),
        connection_url=_connection_url(),
    )


@bp.post("/mcp/switch")
def mcp_switch():
    """Turn the MCP server on or off (the first time on provisions the bot account)."""
    form = McpSwitchForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for(".mcp"))
    enable = form.enabled.data == "on"
    try:
        mcp_settings.set_enabled(g.actor, enable)
    except REFUSALS as error:
        flash_error(error)
    else:
        if enable:
            flash("MCP server enabled. Agents with a token can connect now.", "success")
        else:
            flash(
                "MCP server disabled. Every token is refused until you enable it again.", "success"
            )
    return redirect(url_for(".mcp"))


@bp.post("/mcp/tokens")
def mint_token():
    """Mint an MCP token and redirect to the page that shows it once."""
    return bot_tokens.mint(PAGES, lambda form: _render_mcp(form, status=422))


@bp.get("/mcp/tokens/<int:token_id>/minted")
def minted_token(token_id: int):
    """The MCP token just minted, with the client configuration that uses it (first visit)."""
    return bot_tokens.render_minted(
        PAGES,
        token_id,
        lambda plaintext: {
            "connection_url": _connection_url(),
            "snippet": mcp_settings.client_config(bot_tokens.public_url(), plaintext),
        },
    )


@bp.post("/mcp/tokens/<int:token_id>/revoke")
def revoke_token(token_id: int):
    """Revoke an MCP token: the agent's very next request is refused, on every worker."""
    return bot_tokens.revoke(PAGES, token_id)
