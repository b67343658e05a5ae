"""Settings (admins only): inboxes, team, labels, MCP server, webhooks, audit log and billing.

The blueprint is in blueprint.py (admins only); this module has the labels and billing pages,
and audit, inboxes, mcp, team and webhooks the others.
"""

from __future__ import annotations

from flask import flash, g, redirect, render_template, url_for

from deskwoot import policy
from deskwoot.services.conversations import labels as label_service
from deskwoot.services.directory import workspaces as workspace_service
from deskwoot.web.common import flash_form_errors, place_error
from deskwoot.web.forms import ActionForm, LabelForm
from deskwoot.web.settings.blueprint import REFUSALS, bp


@bp.get("/")
def index():
    return redirect(url_for(".inboxes"))


@bp.get("/labels")
def labels():
    """The workspace's labels, with a form to add one."""
    return _render_labels(LabelForm(formdata=None))


def _render_labels(form: LabelForm, status: int = 200):
    return render_template(
        "settings/labels.html",
        form=form,
        labels=label_service.list_labels(g.actor),
        action_form=ActionForm(formdata=None),
    ), status


@bp.post("/labels")
def create_label():
    """Add a label."""
    form = LabelForm()
    if form.validate_on_submit():
        try:
            label = label_service.create_label(
                g.actor, form.name.data, form.color.data, form.description.data
            )
        except REFUSALS as error:
            place_error(form, error)
        else:
            flash(f"Label '{label.name}' added.", "success")
            return redirect(url_for(".labels"))
    return _render_labels(form, status=422)


@bp.post("/labels/<int:label_id>/delete")
def delete_label(label_id: int):
    """Delete a label from the workspace and every conversation."""
    form = ActionForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
    else:
        label_service.delete_label(g.actor, label_id)
        flash("Label deleted.", "success")
    return redirect(url_for(".labels"))


@bp.get("/billing")
def billing():
    """Plan and trial state, and what the plan unlocks."""
    workspace = g.workspace
    return render_template(
        "settings/billing.html",
        days_left=workspace_service.trial_days_left(workspace),
        lock_reason=policy.mcp_lock_reason(workspace),
    )
