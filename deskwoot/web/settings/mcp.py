"""Settings > MCP Server: the switch, minting a token (shown once) and the token list."""

from __future__ import annotations

from flask import abort, current_app, flash, g, redirect, render_template, url_for

from deskwoot.errors import NotFound
from deskwoot.services.access import mcp_switch as mcp_settings
from deskwoot.services.access import tokens as token_service
from deskwoot.services.directory import inboxes as inbox_service
from deskwoot.web.common import flash_error, flash_form_errors, place_error
from deskwoot.web.forms import (
    PRESET_HINTS,
    SCOPE_HINTS,
    ActionForm,
    McpSwitchForm,
    MintTokenForm,
    choices,
)
from deskwoot.web.settings import reveal
from deskwoot.web.settings.blueprint import REFUSALS, bp

REVEAL_KIND = "mcp_token"


def _public_url() -> str:
    return current_app.config["PUBLIC_URL"]


def _page_context(overview: mcp_settings.Overview) -> dict:
    return {
        "overview": overview,
        "connection_url": mcp_settings.connection_url(_public_url()),
        "presets": token_service.PRESETS,
        "preset_hints": PRESET_HINTS,
        "scope_hints": SCOPE_HINTS,
        "token_status": token_service.status,
        "token_display": token_service.display,
    }


@bp.get("/mcp")
def mcp():
    """The MCP server's switch, its tokens and a form to mint one."""
    return _render_mcp(MintTokenForm(formdata=None))


def _render_mcp(form: MintTokenForm, status: int = 200):
    overview = mcp_settings.overview(g.actor)
    form.inboxes.choices = choices(overview.inbox_names.items())
    return render_template(
        "settings/mcp.html",
        form=form,
        switch_form=McpSwitchForm(formdata=None),
        action_form=ActionForm(formdata=None),
        **_page_context(overview),
    ), status


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
    """Mint a token, then redirect to the page that shows it once (so a reload cannot mint
    another): the raw token waits in the session for that one read, never in the database."""
    form = MintTokenForm()
    form.inboxes.choices = choices(
        (inbox.id, inbox.name) for inbox in inbox_service.list_inboxes(g.actor)
    )
    if form.validate_on_submit():
        try:
            # Ticked boxes are the choice; without them (no JavaScript) the preset stands in.
            scopes = form.scopes.data or (
                list(token_service.preset_scopes(form.preset.data)) if form.preset.data else []
            )
            minted = token_service.mint(
                g.actor,
                form.name.data,
                scopes,
                inbox_ids=form.inboxes.data or [],
                expires_in_days=form.expires_in_days.data,
            )
        except (*REFUSALS, NotFound) as error:
            place_error(form, error)
        else:
            reveal.stash(REVEAL_KIND, minted.token.id, minted.plaintext)
            return redirect(url_for(".minted_token", token_id=minted.token.id))
    return _render_mcp(form, status=422)


@bp.get("/mcp/tokens/<int:token_id>/minted")
def minted_token(token_id: int):
    """The token just minted, shown on the first visit only; afterwards the page says it was
    shown already (revoke it and mint another if it was lost)."""
    overview = mcp_settings.overview(g.actor)
    token = next((t for t in overview.tokens if t.id == token_id), None)
    if token is None:
        abort(404)
    plaintext = reveal.take(REVEAL_KIND, token_id)
    return render_template(
        "settings/mcp_token.html",
        token=token,
        plaintext=plaintext,
        snippet=mcp_settings.client_config(_public_url(), plaintext) if plaintext else None,
        action_form=ActionForm(formdata=None),
        **_page_context(overview),
    )


@bp.post("/mcp/tokens/<int:token_id>/revoke")
def revoke_token(token_id: int):
    """Revoke a token: the agent's very next request is refused, on every worker."""
    form = ActionForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
    else:
        token = token_service.revoke(g.actor, token_id)
        flash(f"Token '{token.name}' revoked. Its next request is refused.", "success")
    return redirect(url_for(".mcp"))
