"""The conversation list's filter menus (inbox, assignee, label, priority) as option lines.

Rendered in Jinja the menus were a fifth of the list's template time: some seventy
<option>s, each an escape and a comparison, though they change only when someone adds a
label, an inbox or a teammate. The lines are cached by content: the key is the menu's own
rows (read from the database on every request, services/directory/menus.py) and the
selected value, so a renamed label or a new teammate is a new key and shows at once —
nothing is ever stale. LRU-bounded, per worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from markupsafe import Markup, escape

from deskwoot.models.conversation import PRIORITIES
from deskwoot.services.conversations.filters import ConversationFilters

MENUS_CACHED = 512  # per menu: a few workspaces × their selections


def _line(value, label, selected: bool) -> Markup:
    mark = "selected" if selected else ""
    return Markup(  # noqa: S704 - both values escaped
        f'        <option value="{escape(value)}" {mark}>{escape(label)}</option>\n'
    )


@lru_cache(maxsize=MENUS_CACHED)
def _id_options(items: tuple[tuple[int, str], ...], selected) -> tuple[Markup, ...]:
    """Options valued by id (inboxes, teammates); `selected` compared as the template did."""
    return tuple(_line(ident, name, selected == ident) for ident, name in items)


@lru_cache(maxsize=MENUS_CACHED)
def _label_options(names: tuple[str, ...], selected: str | None) -> tuple[Markup, ...]:
    return tuple(_line(name, name, bool(selected) and selected.lower() == name) for name in names)


@lru_cache(maxsize=MENUS_CACHED)
def _priority_options(selected: str | None) -> tuple[Markup, ...]:
    return tuple(_line(p, p.capitalize(), selected == p) for p in PRIORITIES)


@dataclass(frozen=True)
class FilterMenus:
    """Each menu's option lines, for conversations/index.html."""

    inbox: tuple[Markup, ...]
    assignee: tuple[Markup, ...]
    label: tuple[Markup, ...]
    priority: tuple[Markup, ...]


def filter_menus(filters: ConversationFilters, inboxes, team, labels) -> FilterMenus:
    """The menus for these filters, from menus.inboxes / team / labels rows."""
    return FilterMenus(
        inbox=_id_options(tuple((r.id, r.name) for r in inboxes), filters.inbox_id),
        assignee=_id_options(tuple((r.id, r.name) for r in team), filters.assignee),
        label=_label_options(tuple(r.name for r in labels), filters.label),
        priority=_priority_options(filters.priority),
    )
