"""The conversation list's rows, rendered in Python.

The list is the busiest page of the browser surface. In Jinja each of its 25 rows cost some
50 µs (every `{{ }}` a runtime lookup, every helper a context call); here a row is one
f-string filled with escaped values, several times cheaper, with exactly the markup the
template wrote (tests/web/test_conversation_rows.py renders both and compares them).
Every value that comes from people (names, subjects, message text, labels) goes through
`escape`, as autoescaping did.
"""

from __future__ import annotations

from markupsafe import Markup, escape

from deskwoot.services.conversations.reads import Preview
from deskwoot.services.conversations.rows import ConversationRow
from deskwoot.web.components import actor_label, avatar, label_chip, priority_badge, status_badge
from deskwoot.web.components import when as moment
from deskwoot.web.filters import id_url

PREVIEW_LENGTH = 160
# Jinja's truncate leaves a text alone up to this much past the length (its default leeway).
PREVIEW_LEEWAY = 5
# How much of a body reads.previews reads: one character more than is ever shown whole,
# so `truncated` knows when to cut.
PREVIEW_READ = PREVIEW_LENGTH + PREVIEW_LEEWAY + 1
HUMAN_BADGE = (
    '<span class="badge badge-human" title="A teammate has taken over from the bot">Human</span>'
)


def truncated(text: str) -> str:
    """The preview's text as `|truncate(160, true, '…')` cut it."""
    if len(text) <= PREVIEW_LENGTH + PREVIEW_LEEWAY:
        return text
    return text[: PREVIEW_LENGTH - 1] + "…"


def conversation_row(c: ConversationRow, last: Preview | None, show_status: bool) -> str:
    """One <li> of the list: `last` is the row's preview, `show_status` the "all" tab's badge."""
    contact = escape(c.contact.display_name)
    subject = preview = ""
    if c.subject:
        subject = f"<strong>{escape(c.subject)}</strong>" + (" — " if last else "")
    if last:
        if last.author:
            author = actor_label(last.author, "preview-name")
            preview = (
                f'<span class="preview-author muted" data-testid="preview-author">{author}: </span>'
            )
        preview += str(escape(truncated(last.body)))  # str: Markup + would escape `preview`
    url = id_url("conversations.show", display_id=c.display_id)
    display_id = escape(c.display_id)
    handoff = HUMAN_BADGE if c.handoff else ""
    status = status_badge(c.status) if show_status else ""
    assignee = escape(c.assignee.name) if c.assignee else "Unassigned"
    labels = "".join([label_chip(label.name, label.color) for label in c.labels])
    return f"""\
      <li class="conv-row">
        <a class="conv-link" href="{url}" data-testid="conversation-{display_id}">
          {avatar(c.contact.display_name)}
          <span class="conv-main">
            <span class="conv-top">
              <span class="conv-contact">{contact}</span>
              <span class="conv-id">#{display_id}</span>
{handoff}              {priority_badge(c.priority)}
{status}              <span class="conv-time">{moment(c.last_activity_at)}</span>
            </span>
            <span class="conv-subject">{subject}{preview}</span>
            <span class="conv-meta">
              <span class="meta-item" title="Inbox">{escape(c.inbox.name)}</span>
              <span class="meta-item" title="Assignee">{assignee}</span>
{labels}            </span>
          </span>
        </a>
      </li>
"""


def rendered(
    rows: list[ConversationRow], previews: dict[int, Preview], show_status: bool
) -> list[Markup]:
    """Every row of the page, as conversations/index.html lists them."""
    # Markup: every value in a row is escaped above or built (escaped) by components.py.
    return [Markup(conversation_row(c, previews.get(c.id), show_status)) for c in rows]  # noqa: S704
