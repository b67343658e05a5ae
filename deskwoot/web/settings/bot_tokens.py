"""What Settings > MCP Server and Settings > API tokens share: the token list, minting (the raw
token shown once, after a redirect) and revoking. Each page describes itself (kind, URLs,
endpoints, templates) in a `TokenPages` and gets its four routes from `add_routes`; its own
module adds what only it has (the MCP switch, the connection snippet, the curl example)."""

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
from deskwoot.web.settings.blueprint import REFUSALS, bp


@dataclass(frozen=True)
class TokenPages:
    """One settings page for one kind of token, and the pages around it: its URLs and
    endpoints (the MCP page keeps the names it had before API tokens came)."""

    kind: str  # "mcp" or "api" (tokens.PREFIXES)
    path: str  # the page: the list and the mint form
    tokens_path: str  # minting posts here; a token's pages are below it
    index: str  # endpoints, in the settings blueprint
    mint: str
    minted: str  # the page that shows a new token once
    revoke: str
    template: str
    minted_template: str

    @property
    def reveal_kind(self) -> str:
        return f"{self.kind}_token"


def add_routes(
    pages: TokenPages,
    extra: Callable[[], dict],
    connect: Callable[[str], dict],
) -> None:
    """Add the page's four routes to the settings blueprint: the page (with `extra()` in its
    context), minting, the once-only page (with `connect(plaintext)`) and revoking."""

    def render(form: MintTokenForm, status: int = 200):
        return render_index(pages, form, status, **extra())

    def index():
        return render(MintTokenForm(formdata=None))

    def mint_token():
        return mint(pages, lambda form: render(form, status=422))

    def minted_token(token_id: int):
        return render_minted(pages, token_id, connect)

    def revoke_token(token_id: int):
        return revoke(pages, token_id)

    token_path = pages.tokens_path + "/<int:token_id>"
    bp.add_url_rule(pages.path, pages.index, index, methods=["GET"])
    bp.add_url_rule(pages.tokens_path, pages.mint, mint_token, methods=["POST"])
    bp.add_url_rule(token_path + "/minted", pages.minted, minted_token, methods=["GET"])
    bp.add_url_rule(token_path + "/revoke", pages.revoke, revoke_token, methods=["POST"])


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
            return redirect(url_for(f".{pages.minted}", token_id=minted.token.id))
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
    return redirect(url_for(f".{pages.index}"))
