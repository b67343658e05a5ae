"""Settings > Team: who is in the workspace, their roles, and adding people."""

from __future__ import annotations

from flask import current_app, flash, g, redirect, render_template, url_for

from deskwoot.errors import Conflict
from deskwoot.services import inboxes as inbox_service
from deskwoot.services import workspaces as workspace_service
from deskwoot.web.common import flash_error, flash_form_errors, place_error
from deskwoot.web.forms import ActionForm, RoleForm, TeammateForm, choices
from deskwoot.web.settings import REFUSALS, bp


@bp.get("/team")
def team():
    """The team with roles, and a form to add someone."""
    return _render_team(TeammateForm(formdata=None))


def _render_team(form: TeammateForm, status: int = 200):
    form.inboxes.choices = choices(
        (inbox.id, inbox.name) for inbox in inbox_service.list_inboxes(g.actor)
    )
    rows = [
        (user, role, RoleForm(formdata=None, role=role))
        for user, role in workspace_service.team(g.actor)
    ]
    return render_template(
        "settings/team.html", form=form, rows=rows, action_form=ActionForm(formdata=None)
    ), status


def _show_link(user, token: str):
    """Show the one-time link on this response only; it cannot be looked up again."""
    url = f"{current_app.config['PUBLIC_URL']}{url_for('auth.set_password', token=token)}"
    return render_template("settings/team_link.html", user=user, url=url)


@bp.post("/team")
def add_teammate():
    """Add a teammate; without a password, hand out a one-time set-password link."""
    form = TeammateForm()
    if form.validate_on_submit():
        try:
            user = workspace_service.add_teammate(
                g.actor,
                form.email.data,
                form.role.data,
                name=form.name.data,
                password=form.password.data or None,
                inbox_ids=form.inboxes.data or [],
            )
        except REFUSALS as error:
            place_error(form, error)
        else:
            if form.password.data:
                flash(f"{user.name} added. They can log in with the password you chose.", "success")
                return redirect(url_for(".team"))
            try:
                token = workspace_service.password_link(g.actor, user.id)
            except Conflict:
                flash(
                    f"{user.name} added. They already have a Deskwoot account and can log in "
                    "with it.",
                    "success",
                )
                return redirect(url_for(".team"))
            return _show_link(user, token)
    return _render_team(form, status=422)


@bp.post("/team/<int:user_id>/link")
def password_link(user_id: int):
    """Issue a fresh one-time set-password link for someone who has not set one yet."""
    form = ActionForm()
    if form.validate_on_submit():
        try:
            token = workspace_service.password_link(g.actor, user_id)
        except REFUSALS as error:
            flash_error(error)
        else:
            user = next(u for u, _role in workspace_service.team(g.actor) if u.id == user_id)
            return _show_link(user, token)
    else:
        flash_form_errors(form)
    return redirect(url_for(".team"))


@bp.post("/team/<int:user_id>/role")
def set_role(user_id: int):
    """Make someone an admin or an agent."""
    form = RoleForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
    else:
        try:
            workspace_service.set_role(g.actor, user_id, form.role.data)
        except REFUSALS as error:
            flash_error(error)
        else:
            flash("Role changed.", "success")
            if user_id == g.actor.user_id and form.role.data != "admin":
                return redirect(url_for("conversations.index"))
    return redirect(url_for(".team"))


@bp.post("/team/<int:user_id>/remove")
def remove(user_id: int):
    """Take someone off the team."""
    form = ActionForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
    else:
        try:
            workspace_service.remove_teammate(g.actor, user_id)
        except REFUSALS as error:
            flash_error(error)
        else:
            flash("Removed from the team.", "success")
            if user_id == g.actor.user_id:
                return redirect(url_for("auth.index"))
    return redirect(url_for(".team"))
