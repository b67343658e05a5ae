"""Settings > Inboxes: create, members, and the inbound URL with its secret shown once.
Each inbox's channel settings (email servers, webhook) are in inbox_settings.py."""

from __future__ import annotations

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for

from deskwoot.services.directory import inboxes as inbox_service
from deskwoot.services.directory import workspaces as workspace_service
from deskwoot.web.common import flash_form_errors, place_error
from deskwoot.web.forms import ActionForm, InboxForm, MembersForm, choices
from deskwoot.web.settings import inbox_settings, reveal
from deskwoot.web.settings.blueprint import REFUSALS, bp

REVEAL_KIND = "inbox_secret"


def inbound_url(inbox) -> str:
    return inbox_service.inbound_url(current_app.config["PUBLIC_URL"], inbox)


@bp.get("/inboxes")
def inboxes():
    """Every inbox with its channel, members and inbound URL."""
    return _render_inboxes(InboxForm(formdata=None))


def _render_inboxes(form: InboxForm, status: int = 200):
    inbox_settings.forget_secrets(form)
    team = workspace_service.team(g.actor)
    options = choices((user.id, user.name) for user, _role in team)
    form.members.choices = options
    rows = []
    for inbox in inbox_service.list_inboxes(g.actor):
        members_form = MembersForm(formdata=None, members=[user.id for user in inbox.members])
        members_form.members.choices = options
        rows.append((inbox, members_form))
    return render_template(
        "settings/inboxes.html",
        form=form,
        rows=rows,
        inbound_url=inbound_url,
        action_form=ActionForm(formdata=None),
    ), status


def _reveal_secret(inbox, secret: str, created: bool):
    """Redirect to the page that shows `secret` once; reloading it shows nothing new (and
    cannot create or rotate again). The secret waits in the session for that one read."""
    reveal.stash(REVEAL_KIND, inbox.id, secret)
    return redirect(url_for(".inbox_secret", inbox_id=inbox.id, created=1 if created else None))


@bp.get("/inboxes/<int:inbox_id>/secret")
def inbox_secret(inbox_id: int):
    """An inbox's new secret on the first visit after creating or rotating; afterwards the
    page says it was shown already and offers to rotate it."""
    inbox = next((i for i in inbox_service.list_inboxes(g.actor) if i.id == inbox_id), None)
    if inbox is None:
        abort(404)
    return render_template(
        "settings/inbox_secret.html",
        inbox=inbox,
        secret=reveal.take(REVEAL_KIND, inbox.id),
        url=inbound_url(inbox),
        created=request.args.get("created") == "1",
        action_form=ActionForm(formdata=None),
    )


@bp.post("/inboxes")
def create_inbox():
    """Create an inbox and show its secret once."""
    form = InboxForm()
    if form.validate_on_submit():
        try:
            inbox, secret = inbox_service.create_inbox(
                g.actor,
                form.name.data,
                form.channel.data,
                form.members.data or [],
                email_address=form.address.data,
                smtp_url=form.smtp_url.data,
                imap_url=form.imap_url.data,
            )
        except REFUSALS as error:
            place_error(form, error)
        else:
            return _reveal_secret(inbox, secret, created=True)
    return _render_inboxes(form, status=422)


@bp.post("/inboxes/<int:inbox_id>/rotate")
def rotate_secret(inbox_id: int):
    """Replace an inbox's secret; the old one stops working at once."""
    form = ActionForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for(".inboxes"))
    inbox, secret = inbox_service.rotate_secret(g.actor, inbox_id)
    return _reveal_secret(inbox, secret, created=False)


@bp.post("/inboxes/<int:inbox_id>/members")
def set_members(inbox_id: int):
    """Choose who works an inbox."""
    form = MembersForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
    else:
        try:
            inbox = inbox_service.set_members(g.actor, inbox_id, form.members.data or [])
        except REFUSALS as error:
            place_error(form, error)
        else:
            flash(f"Members of {inbox.name} saved.", "success")
    return redirect(url_for(".inboxes"))
