"""The small HTML pieces every list repeats per row: avatars, badges, label chips, times.

Template globals rather than Jinja macros: the conversation list and the drafts queue call
these a hundred times a page, and a function costs about half a macro call; the busiest are
f-strings (str.format parses its template on every call). Every value put
into the HTML is escaped (names, labels and colours are people's text).
"""

from __future__ import annotations

from datetime import datetime

from markupsafe import Markup, escape

from deskwoot.services.activity import actor_names as naming
from deskwoot.web.filters import ago, initials, iso, stamp


def _html(template: str, *values) -> Markup:
    """One of this module's literal templates, each value escaped into its `{}`."""
    return Markup(template.format(*map(escape, values)))  # noqa: S704 - values escaped


def avatar(name: str | None, class_: str = "") -> Markup:
    """Initials in a bubble; app.js colours it from data-name."""
    return Markup(  # noqa: S704 - values escaped
        f'<span class="avatar {escape(class_)}" aria-hidden="true" data-name="{escape(name)}">'
        f"{escape(initials(name))}</span>"
    )


def status_badge(status: str, testid: str | None = None) -> Markup:
    if testid:
        return _html(
            '<span class="badge badge-status badge-{}" data-testid="{}">{}</span>',
            status,
            testid,
            status.capitalize(),
        )
    return Markup(  # noqa: S704 - values escaped
        f'<span class="badge badge-status badge-{escape(status)}">'
        f"{escape(status.capitalize())}</span>"
    )


def priority_badge(priority: str | None) -> Markup:
    """Nothing for no priority."""
    if not priority or priority == "none":
        return Markup("")
    return Markup(  # noqa: S704 - values escaped
        f'<span class="badge badge-priority badge-{escape(priority)}" title="Priority">'
        f"{escape(priority.capitalize())}</span>\n"
    )


_DOT = '<span class="chip-dot" aria-hidden="true"></span>'


def label_chip(name: str, color: str | None = None) -> Markup:
    if color:
        return Markup(  # noqa: S704 - values escaped
            f'<span class="chip label-chip" data-color="{escape(color)}">'
            f"{_DOT}{escape(name)}</span>"
        )
    return Markup(f'<span class="chip label-chip">{_DOT}{escape(name)}</span>')  # noqa: S704


def when(value: datetime | None) -> Markup:
    """A moment: briefly ("3h ago"), exactly in the title (app.js shows the reader's zone)."""
    return time_element(value, ago(value))


def time_element(value: datetime | None, brief: str) -> Markup:
    """`when` with its brief text ("3h ago", from filters.ago) already worked out: a pure
    function of its arguments, for the rows cached by content (conversation_rows.py).

    Unescaped on purpose: iso, stamp and ago write only digits, English month names and
    " :,+.-" (tests/web/test_row_components.py checks), and the lists call this 100+ times
    a page."""
    return Markup(  # noqa: S704 - see above
        f'<time datetime="{iso(value)}" title="{stamp(value)}">{brief}</time>'
    )


def actor_label(named: naming.ActorName, class_: str = "actor-name") -> Markup:
    """Whoever did something, named by services.naming's one rule; a bot's name is followed
    by a "Bot" badge so an agent never passes for a person."""
    name = Markup(f'<span class="{escape(class_)}">{escape(named.name)}</span>')  # noqa: S704
    if named.is_bot:
        return name + Markup(
            ' <span class="badge badge-bot" title="An AI agent, through the MCP server">Bot</span>'
        )
    return name


GLOBALS = {
    "actor_label": actor_label,
    "author_of": naming.of_message,
    "context_author": naming.of_context_message,
    "draft_author": naming.of_draft,
    "audit_actor": naming.of_audit,
    "avatar": avatar,
    "status_badge": status_badge,
    "priority_badge": priority_badge,
    "label_chip": label_chip,
    "when": when,
}
