"""Settings > Team: who is in the workspace, their roles, and inviting people."""

from __future__ import annotations

from flask import flash, g, redirect, render_template, url_for

from deskwoot.errors import NotFound
from deskwoot.models import utcnow
from deskwoot.services.access import logins as auth_service
from deskwoot.services.directory import inboxes as inbox_service
from deskwoot.services.directory import invitations as invitation_service
from deskwoot.services.directory import workspaces as workspace_service
from deskwoot.web.common import flash_error, flash_form_errors, place_error
from deskwoot.web.forms import ActionForm, InviteForm, RoleForm, choices
from deskwoot.web.settings import reveal
from deskwoot.web.settings.blueprint import REFUSALS, bp

# One-time links wait in the session between the POST that made them and the GET that shows
# them (web/settings/reveal.py): a reload of that page finds nothing instead of minting again.
# A link belongs to no single row the page's URL names, hence object id 0.
REVEAL = "team_link"


@bp.get("/team")
def team():
    """The team with roles, pending invitations, and a form to invite someone."""
    return _render_team(InviteForm(formdata=None))


def _render_team(form: InviteForm, status: int = 200):
    form.inboxes.choices = choices(
        (inbox.id, inbox.name) for inbox in inbox_service.list_inboxes(g.actor)
    )
    rows = [
        (user, role, RoleForm(formdata=None, role=role))
        for user, role in workspace_service.team(g.actor)
    ]
    return render_template(
        "settings/team.html",
        form=form,
        rows=rows,
        invitations=invitation_service.pending(g.actor),
        now=utcnow(),
        action_form=ActionForm(formdata=None),
    ), status


def _reveal_once(kind: str, email: str, url: str, role: str | None = None):
    """Keep the link for exactly one GET of the reveal page, and go there."""
    reveal.stash(REVEAL, 0, {"kind": kind, "email": email, "url": url, "role": role})
    return redirect(url_for(".team_link"))


def _issued(issued: invitation_service.Issued):
    invitation = issued.invitation
    if issued.emailed:
        # The link went to the invitee's own mailbox: the admin never sees it, so only the
        # owner of the address can set up an account with it.
        flash(f"Invitation emailed to {invitation.email}.", "success")
        return redirect(url_for(".team"))
    return _reveal_once("invite", invitation.email, issued.url, invitation.role)


@bp.post("/team")
def invite():
    """Invite someone by email; they accept through a one-time link."""
    form = InviteForm()
    if form.validate_on_submit():
        try:
            issued = invitation_service.invite(
                g.actor, form.email.data, form.role.data, inbox_ids=form.inboxes.data or []
            )
        except REFUSALS as error:
            place_error(form, error)
        except NotFound as error:  # an inbox deleted while the form was open
            place_error(form, error)
        else:
            return _issued(issued)
    return _render_team(form, status=422)


@bp.get("/team/link")
def team_link():
    """Show a one-time link made by the previous POST, once; a reload shows it no more."""
    shown = reveal.take(REVEAL, 0)
    if not shown:
        flash("That link was shown once. Use “New link” to make another.", "info")
        return redirect(url_for(".team"))
    return render_template("settings/team_link.html", **shown)


@bp.post("/team/invitations/<int:invitation_id>/link")
def invitation_link(invitation_id: int):
    """A fresh link for a pending invitation (the old one stops working)."""
    form = ActionForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for(".team"))
    try:
        issued = invitation_service.new_link(g.actor, invitation_id)
    except (*REFUSALS, NotFound) as error:
        flash_error(error)
        return redirect(url_for(".team"))
    return _issued(issued)


@bp.post("/team/invitations/<int:invitation_id>/revoke")
def revoke_invitation(invitation_id: int):
    """Withdraw an invitation; its link stops working."""
    form = ActionForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
    else:
        try:
            email = invitation_service.revoke(g.actor, invitation_id)
        except (*REFUSALS, NotFound) as error:
            flash_error(error)
        else:
            flash(f"Invitation for {email} revoked.", "success")
    return redirect(url_for(".team"))


@bp.post("/team/<int:user_id>/link")
def password_link(user_id: int):
    """A set-password link for a teammate the operator added without a password."""
    form = ActionForm()
    if form.validate_on_submit():
        try:
            token = workspace_service.password_link(g.actor, user_id)
        except REFUSALS as error:
            flash_error(error)
        else:
            user = next(u for u, _role in workspace_service.team(g.actor) if u.id == user_id)
            return _reveal_once("password", user.email, auth_service.password_link_url(token))
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
