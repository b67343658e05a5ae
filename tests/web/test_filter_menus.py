"""The conversation list's filter menus (web/filter_menus.py) are the option lines the Jinja
loops they replace wrote, for every selection; and their cache, keyed by the menus' own
rows, shows a change at the next request and stays bounded."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from deskwoot.services.conversations.filters import ConversationFilters
from deskwoot.services.directory import menus as menu_reads
from deskwoot.web import filter_menus as module
from deskwoot.web.filter_menus import filter_menus
from tests import factories

HOSTILE = '"><script>alert(1)</script>&amp;'

# The loops conversations/index.html ran before, verbatim.
REFERENCE = """\
      {% for inbox in inboxes %}
        <option value="{{ inbox.id }}" {% if filters.inbox_id == inbox.id %}selected{% endif %}>{{ inbox.name }}</option>
      {% endfor %}
~~~
      {% for user in team %}
        <option value="{{ user.id }}" {% if filters.assignee == user.id %}selected{% endif %}>{{ user.name }}</option>
      {% endfor %}
~~~
      {% for label in labels %}
        <option value="{{ label.name }}" {% if filters.label and filters.label|lower == label.name %}selected{% endif %}>{{ label.name }}</option>
      {% endfor %}
~~~
      {% for p in priorities %}
        <option value="{{ p }}" {% if filters.priority == p %}selected{% endif %}>{{ p|capitalize }}</option>
      {% endfor %}
"""  # noqa: E501

INBOXES = [SimpleNamespace(id=i, name=n) for i, n in ((2, "Billing"), (7, HOSTILE), (1, "Zoo"))]
TEAM = [SimpleNamespace(id=i, name=n) for i, n in ((3, "Ada"), (4, HOSTILE), (9, "Zed"))]
LABELS = [SimpleNamespace(name=n) for n in ("billing", "vip", HOSTILE.lower())]


def reference(app, filters) -> list[str]:
    from deskwoot.models.conversation import PRIORITIES

    values = dict(filters=filters, inboxes=INBOXES, team=TEAM, labels=LABELS, priorities=PRIORITIES)
    return [app.jinja_env.from_string(loop).render(values) for loop in REFERENCE.split("~~~\n")]


@pytest.mark.parametrize(
    "filters",
    [
        ConversationFilters(status="open"),
        ConversationFilters(status="all", inbox_id=7, assignee="me", label="VIP", priority="high"),
        ConversationFilters(
            status="open", inbox_id=2, assignee=4, label=HOSTILE, priority="urgent"
        ),
        ConversationFilters(status="open", inbox_id=99, assignee="unassigned", label="nope"),
        ConversationFilters(status="open", assignee=9, priority="none"),
    ],
)
def test_menus_are_the_loops_markup(app, filters):
    menus = filter_menus(filters, INBOXES, TEAM, LABELS)
    fast = ["".join(menu) for menu in (menus.inbox, menus.assignee, menus.label, menus.priority)]
    assert fast == reference(app, filters)
    assert "<script>" not in "".join(fast)


def test_a_change_shows_at_once_and_the_cache_is_bounded(app, desk):
    actor = factories.actor_for(desk.admin, desk.workspace)
    filters = ConversationFilters(status="open")

    def label_menu() -> str:
        menus = filter_menus(
            filters, menu_reads.inboxes(actor), menu_reads.team(actor), menu_reads.labels(actor)
        )
        return "".join(menus.label)

    before = label_menu()
    assert "urgent-care" not in before
    factories.make_label(desk.workspace, "urgent-care")
    assert "urgent-care" in label_menu()  # new rows, new key: never a stale menu
    for n in range(module.MENUS_CACHED + 50):
        filter_menus(ConversationFilters(status="open", inbox_id=n), INBOXES, TEAM, LABELS)
    assert module._id_options.cache_info().currsize <= module.MENUS_CACHED


def test_filter_urls_are_url_for_s_for_each_root_and_workspace(app):
    """The list's tab and page links (filter_url, cached by root, workspace and query) are
    url_for's own, whatever request came before."""
    from flask import g, url_for

    from deskwoot.web.conversations import filter_url

    for root in ("", "/desk"):
        for slug in ("acme", "other-desk"):
            query = f"/w/{slug}/conversations?q=a+%26b&label=vip&page=3&status=all"
            with app.test_request_context(query, base_url=f"http://desk.test{root}"):
                g.workspace = SimpleNamespace(slug=slug)
                for changes in ({"status": "open"}, {"page": 2}, {"label": None}, {}):
                    args = {"q": "a &b", "label": "vip", "status": "all", **changes}
                    expected = url_for(
                        "conversations.index",
                        **{k: v for k, v in args.items() if v not in (None, "")},
                    )
                    assert filter_url(**changes) == expected
                    assert expected.startswith(f"{root}/w/{slug}/conversations")
