"""The per-row helpers the busy lists use instead of macros and url_for (web/components.py,
filters.id_url): they escape people's text and build exactly url_for's URLs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from flask import g, url_for
from markupsafe import escape

from deskwoot.web import components
from deskwoot.web.filters import ago, id_url, iso, stamp

HOSTILE = '"><img src=x onerror=alert(1)>'


def test_every_component_escapes_what_it_is_given():
    outputs = [
        components.avatar(HOSTILE, HOSTILE),
        components.status_badge(HOSTILE, testid=HOSTILE),
        components.priority_badge(HOSTILE),
        components.label_chip(HOSTILE, HOSTILE),
    ]
    for html in outputs:
        assert "<img" not in html
        assert str(escape(HOSTILE)) in html  # quotes and brackets escaped, in attributes too
    assert components.label_chip("vip", "red") == (
        '<span class="chip label-chip" data-color="red">'
        '<span class="chip-dot" aria-hidden="true"></span>vip</span>'
    )
    assert components.priority_badge("none") == "" and components.priority_badge(None) == ""
    assert components.status_badge("open", testid="s") == (
        '<span class="badge badge-status badge-open" data-testid="s">Open</span>'
    )


def test_when_is_a_time_element():
    moment = datetime(2024, 3, 5, 14, 7, tzinfo=UTC)
    assert components.when(moment) == (
        '<time datetime="2024-03-05T14:07:00+00:00" title="5 Mar 2024, 14:07 UTC">5 Mar 2024</time>'
    )


def test_times_need_no_escaping_and_read_as_strftime_wrote_them():
    """when() puts iso, stamp and ago into its markup unescaped: they must never write a
    character HTML would read; and stamp/ago spell dates as strftime's %b did."""
    now = datetime(2026, 12, 5, 7, 30, tzinfo=UTC)
    moments = [
        datetime(2020 + m % 7, m, 1 + m * 2, m + 9, m * 4, m, m * 999, UTC) for m in range(1, 13)
    ]
    moments += [now - timedelta(seconds=s) for s in (0, 59, 60, 3599, 3600, 86399, 86400, 10**6)]
    for moment in moments:
        for text in (iso(moment), stamp(moment), ago(moment, now)):
            assert str(escape(text)) == text
        assert stamp(moment) == f"{moment.day} {moment:%b %Y, %H:%M} UTC"
        if now - moment >= timedelta(days=7):
            assert ago(moment, now) == f"{moment.day} {moment:%b %Y}"
    assert str(components.when(None)) == '<time datetime="" title=""></time>'


def test_id_url_builds_url_for_s_urls_for_each_request_s_workspace(app):
    endpoints = [
        ("conversations.show", "display_id"),
        ("drafts.approve", "draft_id"),
        ("drafts.reject", "draft_id"),
    ]
    # The app fixture keeps one app context (one `g`) for every request: nothing built for
    # one workspace may leak into the next request's URLs.
    for slug in ("acme", "other-desk"):
        with app.test_request_context(f"/w/{slug}/drafts", base_url="http://desk.test/root"):
            g.workspace = SimpleNamespace(slug=slug)
            for endpoint, name in endpoints:
                for ident in (1, 42, 10**12):
                    expected = url_for(endpoint, **{name: ident})
                    assert id_url(endpoint, **{name: ident}) == expected
                    assert expected.startswith(f"/root/w/{slug}/")
            # Anything but a plain non-negative int takes url_for's own path.
            assert id_url("drafts.approve", draft_id=True) == url_for(
                "drafts.approve", draft_id=True
            )
