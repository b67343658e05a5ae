"""What Settings > MCP Server and Settings > API tokens share: the token list, minting (the raw
token shown once, after a redirect) and revoking. Each page names its kind, endpoints and
templates in a `TokenPages`; its own module adds what only it has (the MCP switch, the
connection snippet, the curl example)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import abort, current_app, flash, g, redirect, render_template, url_for

from deskwoot import policy
from deskwoot.errors import NotFound
from deskwoot.services.access import token_overview
from deskwoot.services.access import tokens as token_service
from deskwoot.services.directory import inboxes as inbox_service
from deskwoot.web.common import flash_form_errors, place_error
from deskwoot.web.forms import PRESET_HINTS, SCOPE_HINTS, ActionForm, MintTokenForm, choices
from deskwoot.web.settings import reveal
from deskwoot.web.settings.blueprint import REFUSALS


@dataclass(frozen=True)
class TokenPages:
    """One settings page for one kind of token, and the pages around it."""

    kind: str  # "mcp" or "api" (tokens.PREFIXES)
    index: str  # the page's endpoint: the list and the mint form
    mint: str  # where the mint form posts
    minted: str  # the page that shows a new token once
    revoke: str
    template: str
    minted_template: str

    @property
    def reveal_kind(self) -> str:
        return f"{self.kind}_token"


def public_url() -> str:
    return current_app.config["PUBLIC_URL"]


def _context(pages: TokenPages, overview: token_overview.Overview) -> dict:
    feature = token_service.FEATURE_OF_KIND[pages.kind]
    reason = overview.lock_reason
    return {
        "pages": pages,
        "overview": overview,
        "feature_name": policy.FEATURE_NAMES[feature],
        "lock_message": policy.lock_message(reason, g.workspace, feature) if reason else None,
        "presets": token_service.PRESETS,
        "preset_hints": PRESET_HINTS,
        "scope_hints": SCOPE_HINTS,
        "token_status": token_service.status,
        "token_display": token_service.display,
    }


def render_index(pages: TokenPages, form: MintTokenForm, status: int = 200, **extra):
    """The list of the page's tokens and the mint form (`form`, with its errors if any)."""
    overview = token_overview.overview(g.actor, pages.kind)
    form.inboxes.choices = choices(overview.inbox_names.items())
    return render_template(
        pages.template,
        form=form,
        action_form=ActionForm(formdata=None),
        **_context(pages, overview),
        **extra,
    ), status


def mint(pages: TokenPages, render_form: Callable[[MintTokenForm], object]):
    """Mint a token of the page's kind, then redirect to the page that shows it once (so a
    reload cannot mint another): the raw token waits in the session for that one read, never
    in the database. A refusal re-renders the form through `render_form`, with a 422."""
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
                kind=pages.kind,
            )
        except (*REFUSALS, NotFound) as error:
            place_error(form, error)
        else:
            reveal.stash(pages.reveal_kind, minted.token.id, minted.plaintext)
            return redirect(url_for(pages.minted, token_id=minted.token.id))
    return render_form(form)


def render_minted(pages: TokenPages, token_id: int, connect: Callable[[str], dict]):
    """The token just minted, shown on the first visit only; afterwards the page says it was
    shown already (revoke it and mint another if it was lost). `connect(plaintext)` gives the
    page's own ways to use the token (a snippet, a curl line)."""
    overview = token_overview.overview(g.actor, pages.kind)
    token = next((t for t in overview.tokens if t.id == token_id), None)
    if token is None:
        abort(404)
    plaintext = reveal.take(pages.reveal_kind, token_id)
    return render_template(
        pages.minted_template,
        token=token,
        plaintext=plaintext,
        action_form=ActionForm(formdata=None),
        **(connect(plaintext) if plaintext else {}),
        **_context(pages, overview),
    )


def revoke(pages: TokenPages, token_id: int):
    """Revoke a token of the page's kind (another kind's is not found): its very next request
    is refused, on every worker."""
    form = ActionForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
    else:
        token = token_service.revoke(g.actor, token_id, kind=pages.kind)
        flash(f"Token '{token.name}' revoked. Its next request is refused.", "success")
    return redirect(url_for(pages.index))
