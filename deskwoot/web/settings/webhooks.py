"""Settings > Webhooks: event webhook endpoints (services/webhooks/), for admins only.

The list with each endpoint's status and a form to add one; an endpoint's page with its
signing secret (shown once, after a redirect: reveal.py), its settings, the buttons (rotate,
send a test event, disable / enable, delete) and its delivery log with Redeliver.
"""

from __future__ import annotations

from flask import flash, g, redirect, render_template, url_for

from deskwoot.errors import NotFound
from deskwoot.services.directory import inboxes as inbox_service
from deskwoot.services.webhooks import deliveries, endpoints
from deskwoot.web.common import flash_error, flash_form_errors, page_arg, place_error
from deskwoot.web.forms import ActionForm, choices
from deskwoot.web.settings import reveal
from deskwoot.web.settings.blueprint import REFUSALS, bp
from deskwoot.web.settings.webhook_forms import WebhookEndpointForm

REVEAL_KIND = "event_webhook_secret"


def _form(endpoint=None, formdata=None) -> WebhookEndpointForm:
    if endpoint is not None and formdata is None:
        form = WebhookEndpointForm(
            formdata=None,
            url=endpoint.url,
            description=endpoint.description,
            event_types=list(endpoint.event_types),
            inboxes=list(endpoint.inbox_ids),
        )
    elif formdata is None:
        form = WebhookEndpointForm(formdata=None)
    else:
        form = WebhookEndpointForm()
    form.inboxes.choices = choices(_inbox_names().items())
    return form


def _inbox_names() -> dict[int, str]:
    return {inbox.id: inbox.name for inbox in inbox_service.list_inboxes(g.actor)}


def _arguments(form: WebhookEndpointForm) -> dict:
    return {
        "url": form.url.data,
        "description": form.description.data or "",
        "event_types": form.event_types.data or [],
        "inbox_ids": form.inboxes.data or [],
    }


@bp.get("/webhooks")
def webhooks():
    """Every endpoint with its status, and a form to add one."""
    return _render_list(_form())


def _render_list(form: WebhookEndpointForm, status: int = 200):
    return render_template(
        "settings/webhooks.html",
        form=form,
        endpoints=endpoints.list_endpoints(g.actor),
        inbox_names=_inbox_names(),
    ), status


@bp.post("/webhooks")
def create_webhook():
    """Add an endpoint, then show its signing secret once on its page."""
    form = _form(formdata=True)
    if form.validate_on_submit():
        try:
            issued = endpoints.create(g.actor, **_arguments(form))
        except (*REFUSALS, NotFound) as error:
            place_error(form, error, flash_fields=("event_types",))
        else:
            reveal.stash(REVEAL_KIND, issued.endpoint.id, issued.secret)
            flash("Webhook added. Events from now on are delivered to it.", "success")
            return _back(issued.endpoint.id)
    return _render_list(form, status=422)


@bp.get("/webhooks/<int:endpoint_id>")
def webhook(endpoint_id: int):
    """One endpoint: its status, secret (once), settings and delivery log."""
    endpoint = endpoints.get_endpoint(g.actor, endpoint_id)
    return _render_endpoint(endpoint, _form(endpoint))


def _render_endpoint(endpoint, form: WebhookEndpointForm, status: int = 200):
    log = deliveries.log(g.actor, endpoint.id, page_arg())
    return render_template(
        "settings/webhook.html",
        endpoint=endpoint,
        form=form,
        secret=reveal.take(REVEAL_KIND, endpoint.id),
        log=log,
        inbox_names=_inbox_names(),
        newer_url=url_for(".webhook", endpoint_id=endpoint.id, page=log.page - 1)
        if log.page > 1
        else None,
        older_url=url_for(".webhook", endpoint_id=endpoint.id, page=log.page + 1)
        if log.has_more
        else None,
        action_form=ActionForm(formdata=None),
    ), status


def _back(endpoint_id: int):
    return redirect(url_for(".webhook", endpoint_id=endpoint_id))


@bp.post("/webhooks/<int:endpoint_id>")
def update_webhook(endpoint_id: int):
    """Save an endpoint's URL, description, events and inboxes."""
    endpoint = endpoints.get_endpoint(g.actor, endpoint_id)
    form = _form(formdata=True)
    if form.validate_on_submit():
        try:
            endpoints.update(g.actor, endpoint.id, **_arguments(form))
        except (*REFUSALS, NotFound) as error:
            place_error(form, error, flash_fields=("event_types",))
        else:
            flash("Webhook saved.", "success")
            return _back(endpoint.id)
    return _render_endpoint(endpoint, form, status=422)


def _button(endpoint_id: int, action, done: str | None):
    """Run a button-only POST's action, flash its outcome, and go back to the endpoint."""
    form = ActionForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return _back(endpoint_id)
    try:
        action()
    except REFUSALS as error:
        flash_error(error)
    else:
        if done:
            flash(done, "success")
    return _back(endpoint_id)


@bp.post("/webhooks/<int:endpoint_id>/rotate")
def rotate_event_webhook_secret(endpoint_id: int):
    """Issue a new signing secret, shown once; the old one stops signing at once."""

    def rotate():
        issued = endpoints.rotate_secret(g.actor, endpoint_id)
        reveal.stash(REVEAL_KIND, endpoint_id, issued.secret)

    return _button(endpoint_id, rotate, None)


@bp.post("/webhooks/<int:endpoint_id>/disable")
def disable_webhook(endpoint_id: int):
    """Stop delivering to an endpoint."""
    return _button(
        endpoint_id,
        lambda: endpoints.disable(g.actor, endpoint_id),
        "Webhook disabled: nothing more is delivered to it.",
    )


@bp.post("/webhooks/<int:endpoint_id>/enable")
def enable_webhook(endpoint_id: int):
    """Deliver again, from the events that happen from now on."""
    return _button(
        endpoint_id,
        lambda: endpoints.enable(g.actor, endpoint_id),
        "Webhook enabled. It receives the events from now on; those it missed while "
        "disabled are not sent.",
    )


@bp.post("/webhooks/<int:endpoint_id>/test")
def test_webhook(endpoint_id: int):
    """Queue a signed webhook.test event for the endpoint."""
    return _button(
        endpoint_id,
        lambda: deliveries.send_test(g.actor, endpoint_id),
        "Test event queued: the delivery worker sends it in a moment. Reload to see it below.",
    )


@bp.post("/webhooks/<int:endpoint_id>/deliveries/<int:outbox_id>/redeliver")
def redeliver_webhook(endpoint_id: int, outbox_id: int):
    """Send one delivery again, with the same webhook-id and body."""
    return _button(
        endpoint_id,
        lambda: deliveries.redeliver(g.actor, endpoint_id, outbox_id),
        "Delivery queued again, with the same webhook-id.",
    )


@bp.post("/webhooks/<int:endpoint_id>/delete")
def delete_webhook(endpoint_id: int):
    """Delete an endpoint and its delivery log."""
    form = ActionForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return _back(endpoint_id)
    endpoints.delete(g.actor, endpoint_id)
    flash("Webhook deleted.", "success")
    return redirect(url_for(".webhooks"))
