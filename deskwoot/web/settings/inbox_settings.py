"""Settings > Inboxes > one inbox: how its replies leave (ARCHITECTURE §12).

An email inbox: its address, SMTP server and IMAP mailbox, with "Send a test" and "Check
mailbox" buttons that try the saved settings and report the exact sentence a server or the
network gave. An API inbox: its webhook URL and signing secret, the secret shown once
(web/settings/reveal.py) when it is issued or rotated.

Saved URLs carry passwords: they are never put back into an input (an empty field keeps the
saved one, a "remove" box clears it) and are shown masked (`inboxes.masked_url`).
"""

from __future__ import annotations

from flask import current_app, flash, g, redirect, render_template, url_for
from flask_login import current_user

from deskwoot.channels.email import probes
from deskwoot.services.directory import inboxes as inbox_service
from deskwoot.services.directory.inboxes import KEEP
from deskwoot.web.common import flash_error, flash_form_errors, place_error
from deskwoot.web.forms import ActionForm, EmailSettingsForm, WebhookForm
from deskwoot.web.settings import reveal
from deskwoot.web.settings.blueprint import REFUSALS, bp

REVEAL_KIND = "webhook_secret"


def forget_secrets(form) -> None:
    """Blank the fields that may hold a password before a form is rendered again."""
    for name in getattr(form, "secret_fields", ()):
        field = getattr(form, name)
        field.data, field.raw_data = None, []


@bp.get("/inboxes/<int:inbox_id>")
def inbox_settings(inbox_id: int):
    """One inbox's channel settings."""
    inbox = inbox_service.get_inbox(g.actor, inbox_id)
    return _render(inbox, EmailSettingsForm(formdata=None, address=inbox.email_address))


def _render(inbox, email_form=None, webhook_form=None, status: int = 200):
    for form in (email_form, webhook_form):
        if form is not None:
            forget_secrets(form)
    is_email = inbox.channel == "email"
    return render_template(
        "settings/inbox_settings.html",
        inbox=inbox,
        shown=inbox_service.shown_email_settings(inbox) if is_email else None,
        email_form=email_form or EmailSettingsForm(formdata=None, address=inbox.email_address),
        webhook_form=webhook_form or WebhookForm(formdata=None),
        webhook_url=inbox_service.masked_url(inbox.webhook_url),
        webhook_secret=reveal.take(REVEAL_KIND, inbox.id),
        action_form=ActionForm(formdata=None),
    ), status


def _back(inbox_id: int):
    return redirect(url_for(".inbox_settings", inbox_id=inbox_id))


def _url_argument(field, remove):
    """A ticked "remove" clears the saved URL; an empty field keeps it."""
    if remove.data:
        return ""
    return (field.data or "").strip() or KEEP


@bp.post("/inboxes/<int:inbox_id>/email")
def save_email(inbox_id: int):
    """Save an email inbox's address and servers."""
    inbox = inbox_service.get_inbox(g.actor, inbox_id)
    form = EmailSettingsForm()
    if form.validate_on_submit():
        try:
            _, changes = inbox_service.configure_email(
                g.actor,
                inbox.id,
                address=form.address.data or "",
                smtp_url=_url_argument(form.smtp_url, form.remove_smtp),
                imap_url=_url_argument(form.imap_url, form.remove_imap),
            )
        except REFUSALS as error:
            place_error(form, error)
        else:
            flash(
                f"Email settings of {inbox.name} saved." if changes else "Nothing changed.",
                "success",
            )
            return _back(inbox.id)
    return _render(inbox, email_form=form, status=422)


def _tested(inbox_id: int):
    """The inbox and its saved settings, or None after flashing why they cannot be tried."""
    form = ActionForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return None
    try:
        return inbox_service.settings_to_test(g.actor, inbox_id)
    except REFUSALS as error:
        flash_error(error)
        return None


@bp.post("/inboxes/<int:inbox_id>/email/test")
def send_test(inbox_id: int):
    """Send a short test message through the saved SMTP settings to the admin's own address."""
    tested = _tested(inbox_id)
    if tested is not None:
        inbox, settings = tested
        probe = probes.send_test(
            settings.smtp_url,
            inbox_address=settings.address,
            inbox_name=inbox.name,
            to_address=current_user.email,
            timeout=float(current_app.config["MAIL_PROBE_TIMEOUT"]),
        )
        flash(f"Send a test: {probe.message}", "success" if probe.ok else "error")
    return _back(inbox_id)


@bp.post("/inboxes/<int:inbox_id>/email/check")
def check_mailbox(inbox_id: int):
    """Log in to the saved IMAP mailbox and count its messages."""
    tested = _tested(inbox_id)
    if tested is not None:
        _inbox, settings = tested
        probe = probes.check_mailbox(
            settings.imap_url, float(current_app.config["MAIL_PROBE_TIMEOUT"])
        )
        flash(f"Check mailbox: {probe.message}", "success" if probe.ok else "error")
    return _back(inbox_id)


@bp.post("/inboxes/<int:inbox_id>/webhook")
def save_webhook(inbox_id: int):
    """Set, change or remove an API inbox's webhook; a first one issues a signing secret."""
    inbox = inbox_service.get_inbox(g.actor, inbox_id)
    form = WebhookForm()
    if form.validate_on_submit():
        url = "" if form.remove.data else (form.webhook_url.data or "").strip()
        if not url and not form.remove.data:
            flash("Nothing changed: enter a webhook URL, or tick “Remove the webhook”.", "success")
            return _back(inbox.id)
        try:
            secret = inbox_service.configure_webhook(g.actor, inbox.id, url)
        except REFUSALS as error:
            place_error(form, error)
        else:
            if secret:
                reveal.stash(REVEAL_KIND, inbox.id, secret)
            flash("Webhook removed." if not url else "Webhook saved.", "success")
            return _back(inbox.id)
    return _render(inbox, webhook_form=form, status=422)


@bp.post("/inboxes/<int:inbox_id>/webhook/rotate")
def rotate_webhook_secret(inbox_id: int):
    """Issue a new signing secret, shown once; the old one stops signing at once."""
    form = ActionForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return _back(inbox_id)
    try:
        secret = inbox_service.rotate_webhook_secret(g.actor, inbox_id)
    except REFUSALS as error:
        flash_error(error)
    else:
        reveal.stash(REVEAL_KIND, inbox_id, secret)
    return _back(inbox_id)
