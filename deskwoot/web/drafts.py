"""The draft-approval queue (ARCHITECTURE §10): bot replies wait here until a teammate decides.

Approve sends the draft as the bot (approved by the teammate), "edit then approve" sends the
teammate's text and keeps the bot's, reject needs a reason the bot can learn from. The same
cards appear above the reply box of a conversation with pending drafts; a `next` field sends
the teammate back there instead of to the queue.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from flask import current_app, flash, g, redirect, render_template, request, url_for
from flask_wtf.csrf import generate_csrf
from werkzeug.exceptions import HTTPException

from deskwoot.errors import Conflict, Forbidden, Invalid
from deskwoot.services.conversations import drafts as draft_service
from deskwoot.web import templating
from deskwoot.web.common import (
    flash_error,
    flash_form_errors,
    parse_id,
    safe_next,
    workspace_blueprint,
)
from deskwoot.web.conversations import render_show
from deskwoot.web.draft_card_html import draft_cards
from deskwoot.web.draft_cards import DraftCard, Failed, card, warn_if_gone
from deskwoot.web.filters import capped
from deskwoot.web.forms import DraftApproveForm, DraftEditForm, DraftRejectForm

bp = workspace_blueprint("drafts", __name__)

QUEUE_PAGE = draft_service.QUEUE_PAGE
CONTEXT_MESSAGES = draft_service.CONTEXT_MESSAGES

SENT = "Sent. The customer will receive it."
REJECTED = "Rejected; the bot will see your reason."


@dataclass
class Queue:
    """One page of the queue: its cards and the links to the pages around it."""

    cards: list[DraftCard]
    older_url: str | None
    newer_url: str | None
    next_url: str | None  # where the cards' forms return to: this page, or None (the first)


def _cursor(args) -> dict[str, int]:
    """The keyset position in a queue URL's query: {"after": id} or {"before": id}, or {}."""
    for name in ("after", "before"):
        draft_id = parse_id(args.get(name))
        if draft_id is not None:
            return {name: draft_id}
    return {}


def queue(args=None, failed: Failed | None = None) -> Queue:
    """A page of the queue (oldest draft first, each with the end of its thread), positioned
    by `args` (a query string's after/before); the first page when that position is gone."""
    cursor = _cursor(request.args if args is None else args)
    page = draft_service.review_queue(g.actor, QUEUE_PAGE, context=CONTEXT_MESSAGES, **cursor)
    if not page.items and cursor:
        cursor = {}
        page = draft_service.review_queue(g.actor, QUEUE_PAGE, context=CONTEXT_MESSAGES)
    warn_if_gone([item.draft for item in page.items], failed)
    cards = [card(i.draft, i.messages, i.earlier, i.stale_reason, failed) for i in page.items]
    return Queue(
        cards=cards,
        older_url=url_for(".index", before=page.older) if page.older else None,
        newer_url=url_for(".index", after=page.newer) if page.newer else None,
        next_url=url_for(".index", **cursor) if cursor else None,
    )


def render_queue(failed: Failed | None = None, status: int = 200, args=None):
    page = queue(args, failed)
    total = templating.pending_drafts(g.actor)  # the badge's count, counted once
    return render_template(
        "drafts/index.html",
        queue=page,
        cards=page.cards,
        card_html=draft_cards(
            page.cards, inline=False, next_url=page.next_url, csrf=generate_csrf()
        ),
        total=total,
        total_label=capped(total, templating.DRAFTS_BADGE_CAP),
    ), status


@bp.get("/drafts")
def index():
    """Pending drafts from the inboxes this teammate can see, oldest first, a page at a time."""
    return render_queue()


# --- reviewing -------------------------------------------------------------------------------


def _next_url() -> str | None:
    return safe_next(request.form.get("next") or request.args.get("next"))


def _back():
    """PRG: to where the teammate came from (a path on this site), else the queue."""
    return redirect(_next_url() or url_for(".index"))


def _page_of_this_workspace(target: str | None) -> tuple[str, dict] | None:
    """The endpoint and URL values when `target` is a page of this workspace."""
    if not target:
        return None
    path = urlsplit(target).path
    root = request.script_root
    if root and path.startswith(root + "/"):
        path = path[len(root) :]
    try:
        endpoint, values = current_app.create_url_adapter(request).match(path, method="GET")
    except HTTPException:
        return None
    if values.get("workspace") != g.workspace.slug:
        return None
    return endpoint, values


def _show_again(failed: Failed):
    """Re-render the page the form came from, the failed form open with its text kept."""
    target = _next_url()
    page = _page_of_this_workspace(target)
    if page is not None and page[0] == "conversations.show":
        return render_show(page[1]["display_id"], draft_review=failed, status=422)
    args = {}
    if page is not None and page[0] == "drafts.index":  # a later page of the queue
        args = {k: v[-1] for k, v in parse_qs(urlsplit(target).query).items()}
    return render_queue(failed, status=422, args=args)


def _already_handled(error: Conflict) -> None:
    if error.data.get("status") == "superseded":
        flash("The bot replaced this draft with a newer one; review that one instead.", "warning")
    elif error.data.get("reason") == "already_handled":
        flash(
            f"Already handled by {error.data.get('reviewer') or 'someone'} "
            f"({error.data.get('status')}).",
            "warning",
        )
    else:
        flash_error(error)


def _review(draft_id: int, form, field: str, kind: str, action, done: str):
    """Run one review action; keep what the teammate typed when it is refused."""
    try:
        action()
    except Invalid as error:
        if field is None:
            flash_error(error)
            return _back()
        getattr(form, field).errors = [error.message]
        return _show_again(Failed(draft_id, kind, form))
    except Conflict as error:
        _already_handled(error)
        return _back()
    except Forbidden as error:
        flash_error(error)
        return _back()
    flash(done, "success")
    return _back()


@bp.post("/drafts/<int:draft_id>/approve")
def approve(draft_id: int):
    """Send the draft as it is or, when the form carries `body`, the teammate's edit of it."""
    editing = "body" in request.form
    form = DraftEditForm() if editing else DraftApproveForm()
    if not form.validate_on_submit():
        if editing:
            return _show_again(Failed(draft_id, "edit", form))
        flash_form_errors(form)
        return _back()
    edited = form.body.data if editing else None
    return _review(
        draft_id,
        form,
        "body" if editing else None,
        "edit",
        lambda: draft_service.approve(g.actor, draft_id, edited),
        SENT,
    )


@bp.post("/drafts/<int:draft_id>/reject")
def reject(draft_id: int):
    """Turn the draft down; the reason is required and goes back to the bot."""
    form = DraftRejectForm()
    if not form.validate_on_submit():
        return _show_again(Failed(draft_id, "reject", form))
    return _review(
        draft_id,
        form,
        "reason",
        "reject",
        lambda: draft_service.reject(g.actor, draft_id, form.reason.data),
        REJECTED,
    )
