"""Settings > Audit log: what agents and admins did, newest first, filtered and paged."""

from __future__ import annotations

from dataclasses import replace

from flask import g, render_template, request, url_for

from deskwoot.models.activity import AUDIT_OUTCOMES
from deskwoot.services.access import tokens as token_service
from deskwoot.services.activity import audit_search as audit_log
from deskwoot.web.common import int_arg
from deskwoot.web.settings.blueprint import bp


def _filters() -> audit_log.AuditFilters:
    """The filters from the query string; values that cannot match anything are dropped."""
    outcome = request.args.get("outcome") or None
    return audit_log.AuditFilters(
        token_id=int_arg("token"),
        action=(request.args.get("action") or "").strip()[:64] or None,
        outcome=outcome if outcome in AUDIT_OUTCOMES else None,
    )


def _url(filters: audit_log.AuditFilters, **cursor) -> str:
    args = {"token": filters.token_id, "action": filters.action, "outcome": filters.outcome}
    args.update(cursor)
    return url_for(".audit", **{k: v for k, v in args.items() if v not in (None, "")})


@bp.get("/audit")
def audit():
    """The audit trail, 50 entries a page, with filters for token, action and outcome."""
    filters = _filters()
    result = audit_log.page(g.actor, filters, before=int_arg("before"), after=int_arg("after"))
    tokens = token_service.list_tokens(g.actor, kind=None)  # MCP and API tokens alike
    return render_template(
        "settings/audit.html",
        filters=filters,
        entries=result.entries,
        older_url=_url(filters, before=result.older) if result.older else None,
        newer_url=_url(filters, after=result.newer) if result.newer else None,
        tokens=tokens,
        token_names={t.id: t.name for t in tokens},
        token_display=token_service.display,
        actions=audit_log.actions(g.actor),
        outcomes=AUDIT_OUTCOMES,
        filter_url=lambda **changes: _url(replace(filters, **changes)),
    )
