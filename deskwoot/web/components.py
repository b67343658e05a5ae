"""The small HTML pieces every list repeats per row: avatars, badges, label chips, times.

Template globals rather than Jinja macros: the conversation list and the drafts queue call
these a hundred times a page, and a function costs about half a macro call. Every value put
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
    return _html(
        '<span class="avatar {}" aria-hidden="true" data-name="{}">{}</span>',
        class_,
        name,
        initials(name),
    )


def status_badge(status: str, testid: str | None = None) -> Markup:
    if testid:
        return _html(
            '<span class="badge badge-status badge-{}" data-testid="{}">{}</span>',
            status,
            testid,
            status.capitalize(),
        )
    return _html('<span class="badge badge-status badge-{}">{}</span>', status, status.capitalize())


def priority_badge(priority: str | None) -> Markup:
    """Nothing for no priority."""
    if not priority or priority == "none":
        return Markup("")
    return _html(
        '<span class="badge badge-priority badge-{}" title="Priority">{}</span>\n',
        priority,
        priority.capitalize(),
    )


def label_chip(name: str, color: str | None = None) -> Markup:
    dot = '<span class="chip-dot" aria-hidden="true"></span>'
    if color:
        return _html(
            '<span class="chip label-chip" data-color="{}">' + dot + "{}</span>", color, name
        )
    return _html('<span class="chip label-chip">' + dot + "{}</span>", name)


def when(value: datetime | None) -> Markup:
    """A moment: briefly ("3h ago"), exactly in the title (app.js shows the reader's zone).

    Unescaped on purpose: iso, stamp and ago write only digits, English month names and
    " :,+.-" (tests/web/test_row_components.py checks), and the lists call this 100+ times
    a page."""
    return Markup(  # noqa: S704 - see above
        f'<time datetime="{iso(value)}" title="{stamp(value)}">{ago(value)}</time>'
    )


def actor_label(named: naming.ActorName, class_: str = "actor-name") -> Markup:
    """Whoever did something, named by services.naming's one rule; a bot's name is followed
    by a "Bot" badge so an agent never passes for a person."""
    name = _html('<span class="{}">{}</span>', class_, named.name)
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
