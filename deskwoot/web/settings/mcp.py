"""Settings > MCP Server: the switch, minting a token (shown once) and the token list."""

from __future__ import annotations

from flask import flash, g, redirect, url_for

from deskwoot.services.access import mcp_switch as mcp_settings
from deskwoot.web.common import flash_error, flash_form_errors
from deskwoot.web.forms import McpSwitchForm
from deskwoot.web.settings import bot_tokens
from deskwoot.web.settings.blueprint import REFUSALS, bp

PAGES = bot_tokens.TokenPages(
    kind="mcp",
    path="/mcp",
    tokens_path="/mcp/tokens",
    index="mcp",
    mint="mint_token",
    minted="minted_token",
    revoke="revoke_token",
    template="settings/mcp.html",
    minted_template="settings/mcp_token.html",
)


def _connection_url() -> str:
    return mcp_settings.connection_url(bot_tokens.public_url())


def _page() -> dict:
    """What only the MCP page has: the switch and the connection URL."""
    return {"switch_form": McpSwitchForm(formdata=None), "connection_url": _connection_url()}


def _connect(plaintext: str) -> dict:
    """The mcpServers configuration that uses the new token."""
    return {
        "connection_url": _connection_url(),
        "snippet": mcp_settings.client_config(bot_tokens.public_url(), plaintext),
    }


bot_tokens.add_routes(PAGES, _page, _connect)


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
