"""What every page's template sees besides its view's own values: the workspace and actor,
the person's workspaces, the trial banner and the drafts badge. The app factory registers
CONTEXT_PROCESSORS (the filters are in filters.py, the row pieces in components.py)."""

from __future__ import annotations

from flask import g
from flask_login import current_user

from deskwoot.services.conversations import drafts as draft_service
from deskwoot.services.directory import menus
from deskwoot.services.directory import workspaces as workspace_service
from deskwoot.web.filters import capped

# The drafts badge counts this far and no further: "99+" is as useful as 4,312 and stays cheap.
DRAFTS_BADGE_CAP = 99


def pending_drafts(actor) -> int:
    """Pending drafts for the badge, counted up to DRAFTS_BADGE_CAP + 1, once per request
    (the drafts page shows the same number; each request builds its own actor)."""
    cached = g.get("_pending_drafts")
    if cached is None or cached[0] is not actor:
        cached = g._pending_drafts = (
            actor,
            draft_service.pending_count(actor, cap=DRAFTS_BADGE_CAP + 1),
        )
    return cached[1]


def _workspace_and_actor() -> dict:
    return {
        "workspace": g.get("workspace"),
        "actor": g.get("actor"),
    }


def _navigation() -> dict:
    """What the layout needs: the person's workspaces, the trial banner, the drafts badge."""
    if g.get("failed") or not current_user.is_authenticated:
        return {"my_workspaces": [], "trial": None, "pending_drafts": 0}
    workspace = g.get("workspace")
    trial = None
    if workspace is not None and workspace.plan == "trial":
        trial = {"days_left": workspace_service.trial_days_left(workspace)}
    actor = g.get("actor")
    pending = pending_drafts(actor) if workspace is not None and actor else 0
    return {
        "my_workspaces": menus.workspaces(current_user.id),
        "trial": trial,
        # base.html shows it as is: 0 (no badge), up to 99, then "99+"
        "pending_drafts": capped(pending, DRAFTS_BADGE_CAP) if pending else 0,
    }


CONTEXT_PROCESSORS = (_navigation, _workspace_and_actor)
