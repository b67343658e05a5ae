"""The conversation list's rows, rendered in Python.

The list is the busiest page of the browser surface. In Jinja each of its 25 rows cost some
50 µs (every `{{ }}` a runtime lookup, every helper a context call); here a row is one
f-string filled with escaped values, several times cheaper, with exactly the markup the
template wrote (tests/web/test_conversation_rows.py renders both and compares them). A
row's markup is also cached by everything it shows (`_row` is a pure function of it), so a
list viewed again re-renders only what changed; nothing cached can be stale.
Every value that comes from people (names, subjects, message text, labels) goes through
`escape`, as autoescaping did.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from markupsafe import Markup, escape

from deskwoot.services.conversations.reads import Preview
from deskwoot.services.conversations.rows import ConversationRow
from deskwoot.web.components import (
    actor_label,
    avatar,
    label_chip,
    priority_badge,
    status_badge,
    time_element,
)
from deskwoot.web.filters import ago, id_url

PREVIEW_LENGTH = 160
# Jinja's truncate leaves a text alone up to this much past the length (its default leeway).
PREVIEW_LEEWAY = 5
# How much of a body reads.previews reads: one character more than is ever shown whole,
# so `truncated` knows when to cut.
PREVIEW_READ = PREVIEW_LENGTH + PREVIEW_LEEWAY + 1
# Rendered rows kept per worker, by content (_row): ~1.5 KB each, a preview being at most
# PREVIEW_READ characters.
ROWS_CACHED = 2048
HUMAN_BADGE = (
    '<span class="badge badge-human" title="A teammate has taken over from the bot">Human</span>'
)


def truncated_html(text: str) -> str:
    """The preview's text as `|truncate(160, true, '…')` cut it, escaped. The ellipsis is an
    entity: the page's own markup stays ASCII, so encoding a page whose customer text is ASCII
    is a copy (one non-ASCII character makes Python encode the whole page char by char)."""
    if len(text) <= PREVIEW_LENGTH + PREVIEW_LEEWAY:
        return str(escape(text))
    return str(escape(text[: PREVIEW_LENGTH - 1])) + "&hellip;"


def conversation_row(c: ConversationRow, last: Preview | None, show_status: bool) -> str:
    """One <li> of the list: `last` is the row's preview, `show_status` the "all" tab's badge."""
    at = c.last_activity_at
    return _row(
        id_url("conversations.show", display_id=c.display_id),
        c.display_id,
        c.contact.display_name,
        c.handoff,
        c.priority,
        c.status if show_status else None,
        at,
        ago(at),
        c.subject,
        last,
        c.inbox.name,
        c.assignee.name if c.assignee else None,
        tuple((label.name, label.color) for label in c.labels),
    )


@lru_cache(maxsize=ROWS_CACHED)
def _row(
    url: str,
    display_id: int,
    contact: str,
    handoff: bool,
    priority: str,
    status: str | None,
    at: datetime,
    at_ago: str,
    subject: str | None,
    last: Preview | None,
    inbox: str,
    assignee: str | None,
    labels: tuple[tuple[str, str], ...],
) -> str:
    """A row's markup from everything it shows: a pure function of its arguments, so it is
    cached by them — a row whose conversation changed (or whose "3h ago" did) is a new key."""
    subject_html = preview = ""
    if subject:
        subject_html = f"<strong>{escape(subject)}</strong>" + (" &mdash; " if last else "")
    if last:
        if last.author:
            author = actor_label(last.author, "preview-name")
            preview = (
                f'<span class="preview-author muted" data-testid="preview-author">{author}: </span>'
            )
        preview += truncated_html(last.body)  # str: Markup + would escape `preview`
    display_id = escape(display_id)
    handoff_html = HUMAN_BADGE if handoff else ""
    status_html = status_badge(status) if status is not None else ""
    assignee_html = escape(assignee) if assignee is not None else "Unassigned"
    labels_html = "".join([label_chip(name, color) for name, color in labels])
    return f"""\
      <li class="conv-row">
        <a class="conv-link" href="{url}" data-testid="conversation-{display_id}">
          {avatar(contact)}
          <span class="conv-main">
            <span class="conv-top">
              <span class="conv-contact">{escape(contact)}</span>
              <span class="conv-id">#{display_id}</span>
{handoff_html}              {priority_badge(priority)}
{status_html}              <span class="conv-time">{time_element(at, at_ago)}</span>
            </span>
            <span class="conv-subject">{subject_html}{preview}</span>
            <span class="conv-meta">
              <span class="meta-item" title="Inbox">{escape(inbox)}</span>
              <span class="meta-item" title="Assignee">{assignee_html}</span>
{labels_html}            </span>
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
