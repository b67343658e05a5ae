"""The queue: the conversation list with its filters, and one conversation's page.

The blueprint is in blueprint.py; the POST actions on a conversation are in actions.py, and
attachment downloads in downloads.py.
"""

from __future__ import annotations

from functools import lru_cache

from flask import current_app, g, redirect, render_template, request, url_for
from flask_wtf.csrf import generate_csrf

from deskwoot.channels import api_webhook
from deskwoot.errors import Invalid
from deskwoot.models.conversation import PRIORITIES, STATUSES
from deskwoot.services.conversations import labels as label_service
from deskwoot.services.conversations import reads
from deskwoot.services.conversations import workflow as conversation_service
from deskwoot.services.conversations.filters import ConversationFilters
from deskwoot.services.directory import menus
from deskwoot.services.directory import workspaces as workspace_service
from deskwoot.web import conversation_rows, draft_card_html
from deskwoot.web import draft_cards as draft_views
from deskwoot.web.common import (
    PER_PAGE,
    flash_error,
    int_arg,
    page_arg,
    parse_id,
)
from deskwoot.web.conversations.blueprint import bp
from deskwoot.web.conversations.forms import ComposerForm, details_form
from deskwoot.web.filter_menus import filter_menus
from deskwoot.web.forms import ActionForm

STATUS_TABS = (*STATUSES, "all")


@bp.get("/")
def home():
    """The workspace's front door is its queue."""
    return redirect(url_for(".index"))


def _filters() -> ConversationFilters:
    """Read the list's filters from the query string, dropping values that make no sense."""
    args = request.args
    query = (args.get("q") or "").strip()[:200] or None
    # A search looks through every status unless a tab was picked explicitly.
    status = args.get("status") or ("all" if query else "open")
    if status not in STATUS_TABS:
        status = "open"
    assignee = args.get("assignee") or None
    if assignee not in (None, "me", "unassigned"):
        assignee = parse_id(assignee)
    priority = args.get("priority") or None
    return ConversationFilters(
        status=status,
        inbox_id=int_arg("inbox"),
        assignee=assignee,
        label=(args.get("label") or "").strip()[:64] or None,
        priority=priority if priority in PRIORITIES else None,
        query=query,
    )


def filter_url(**changes) -> str:
    """This list's URL with some filters changed (None removes one); paging restarts."""
    args = {k: v for k, v in request.args.items() if k != "page"}
    args.update(changes)
    query = tuple((k, v) for k, v in args.items() if v not in (None, ""))
    return _list_url(request.script_root, g.workspace.slug, query)


@lru_cache(maxsize=1024)
def _list_url(script_root: str, workspace: str, query: tuple) -> str:
    """url_for of the list: the same URL for the same root, workspace and query (~40 µs in
    werkzeug's builder, and the page links its tabs and pages seven times)."""
    return url_for("conversations.index", workspace=workspace, **dict(query))


@bp.get("/conversations")
def index():
    """List conversations: status tabs with counts, filters, search and paging."""
    actor = g.actor
    conversation_service.wake_due_snoozes(actor)
    filters = _filters()
    page = page_arg()
    try:
        rows, has_more = reads.list_conversations(
            actor, filters, limit=PER_PAGE, offset=(page - 1) * PER_PAGE
        )
    except Invalid as error:
        flash_error(error)
        rows, has_more = [], False
    # Counted up to a cap (the tabs say "1,000+"), so the page costs the same at any size.
    counts = reads.status_counts(actor, filters.inbox_id)
    counts["all"] = min(sum(counts.values()), reads.STATUS_COUNT_CAP + 1)
    previews = reads.previews(actor, [c.id for c in rows], chars=conversation_rows.PREVIEW_READ)
    inboxes = menus.inboxes(actor)
    return render_template(
        "conversations/index.html",
        rows=rows,
        row_html=conversation_rows.rendered(rows, previews, show_status=filters.status == "all"),
        has_more=has_more,
        page=page,
        filters=filters,
        counts=counts,
        count_cap=reads.STATUS_COUNT_CAP,
        tabs=STATUS_TABS,
        inboxes=inboxes,
        menus=filter_menus(filters, inboxes, menus.team(actor), menus.labels(actor)),
        filter_url=filter_url,
    )


@bp.get("/conversations/<int:display_id>")
def show(display_id: int):
    """One conversation: the thread, the composer and the sidebar of controls."""
    return render_show(display_id)


def render_show(
    display_id: int,
    reply_form: ComposerForm | None = None,
    note_form: ComposerForm | None = None,
    tab: str = "reply",
    status: int = 200,
    draft_review: draft_views.Failed | None = None,
):
    """Render the conversation page; actions re-render it to keep a failed message's text."""
    actor = g.actor
    conversation, messages = reads.thread(actor, display_id)
    details = reads.thread_details(messages)
    draft_cards = draft_views.conversation_cards(conversation, messages, draft_review)
    labels = label_service.list_labels(actor)
    team = workspace_service.team(actor)
    return render_template(
        "conversations/show.html",
        conversation=conversation,
        messages=messages,
        deliveries=details.deliveries,
        attachments=details.attachments,
        upload_limit=current_app.config["ATTACHMENT_MAX_TOTAL_BYTES"],
        no_webhook_note=api_webhook.NO_WEBHOOK,
        reply_form=reply_form or ComposerForm(formdata=None),
        note_form=note_form or ComposerForm(formdata=None),
        tab=tab,
        details_form=details_form(conversation, team, labels),
        label_colors={label.name: label.color for label in labels},
        action_form=ActionForm(formdata=None),
        draft_cards=draft_cards,
        draft_card_html=draft_card_html.draft_cards(
            draft_cards,
            inline=True,
            next_url=url_for("conversations.show", display_id=conversation.display_id),
            csrf=generate_csrf(),
        ),
    ), status
