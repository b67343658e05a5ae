"""Settings > Webhooks through the test client: admins only, the secret shown once, forms
that refuse bad input with the reason, the automatic-disable notice, the delivery log with
Redeliver and its pages. (CSRF on every POST here: tests/web/test_csrf_everywhere.py.)"""

from __future__ import annotations

import re

from sqlalchemy import select

from deskwoot.delivery.worker import Worker
from deskwoot.extensions import db
from deskwoot.models import AuditEntry, Outbox, WebhookEndpoint
from deskwoot.services.directory import contacts
from deskwoot.services.webhooks import deliveries, endpoints
from tests import factories
from tests.webhooks.receiver import SigningReceiver

SECRET_RE = re.compile(r"whsec_[A-Za-z0-9+/=]{20,}")


def text_of(response) -> str:
    return response.get_data(as_text=True)


def admin_actor(desk):
    return factories.actor_for(desk.admin, desk.workspace)


def only_endpoint() -> WebhookEndpoint:
    db.session.rollback()
    return db.session.execute(select(WebhookEndpoint)).scalar_one()


def test_agents_get_not_found(client, auth, desk):
    auth.login(desk.agent.email)
    assert client.get(desk.url("/settings/webhooks")).status_code == 404
    response = client.post(desk.url("/settings/webhooks"), data={"url": "https://h.test/"})
    assert response.status_code == 404
    assert db.session.execute(select(WebhookEndpoint)).first() is None


def test_adding_an_endpoint_shows_its_secret_once(client, auth, desk):
    auth.login(desk.admin.email)
    page = text_of(client.get(desk.url("/settings/webhooks")))
    assert 'data-testid="settings-nav-webhooks"' in page and "No webhooks yet" in page
    response = client.post(
        desk.url("/settings/webhooks"),
        data={
            "url": "https://crm.example.test/hooks",
            "description": "CRM sync",
            "event_types": ["contact.created", "message.created"],
            "inboxes": [str(desk.support.id)],
        },
    )
    endpoint = only_endpoint()
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/settings/webhooks/{endpoint.id}")
    assert (endpoint.event_types, endpoint.inbox_ids) == (
        ["contact.created", "message.created"],
        [desk.support.id],
    )
    first = text_of(client.get(response.headers["Location"]))
    [secret] = SECRET_RE.findall(first)
    assert endpoints.signing_secret_of(endpoint) == secret
    again = text_of(client.get(response.headers["Location"]))
    assert not SECRET_RE.search(again) and "CRM sync" in again
    assert "only from Support" in again
    listing = text_of(client.get(desk.url("/settings/webhooks")))
    assert "https://crm.example.test/hooks" in listing and "Enabled" in listing
    assert not SECRET_RE.search(listing)


def test_bad_urls_are_refused_next_to_the_field(client, auth, desk):
    auth.login(desk.admin.email)
    for url, words in [
        ("https://ada:pw@crm.example.test/", "user name and password"),
        ("ftp://crm.example.test/", "http:// or https://"),
    ]:
        response = client.post(desk.url("/settings/webhooks"), data={"url": url})
        assert response.status_code == 422
        assert words in text_of(response)
    response = client.post(
        desk.url("/settings/webhooks"),
        data={"url": "https://ok.test/", "event_types": ["nonsense.event"]},
    )
    assert response.status_code == 422 and "Unknown event type" in text_of(response)
    assert db.session.execute(select(WebhookEndpoint)).first() is None


def test_editing_rotating_disabling_and_deleting(client, auth, desk):
    auth.login(desk.admin.email)
    endpoint = endpoints.create(admin_actor(desk), "https://a.example.test/").endpoint
    base = desk.url(f"/settings/webhooks/{endpoint.id}")
    response = client.post(
        base, data={"url": "https://b.example.test/", "event_types": ["draft.created"]}
    )
    assert response.status_code == 302
    assert (only_endpoint().url, only_endpoint().event_types) == (
        "https://b.example.test/",
        ["draft.created"],
    )
    client.post(base + "/rotate")
    assert SECRET_RE.search(text_of(client.get(base)))
    client.post(base + "/disable")
    page = text_of(client.get(base))
    assert "Disabled by Ada Admin" in page and 'data-testid="webhook-enable"' in page
    assert client.post(base + "/test").status_code == 302  # refused with a flash, not a 500
    assert "disabled: enable it first" in text_of(client.get(base))
    client.post(base + "/enable")
    assert only_endpoint().enabled
    assert client.post(base + "/delete").status_code == 302
    assert db.session.execute(select(WebhookEndpoint)).first() is None
    assert client.get(base).status_code == 404
    actions = db.session.execute(select(AuditEntry.action)).scalars().all()
    for action in ("updated", "secret_rotated", "disabled", "enabled", "deleted"):
        assert f"webhook.{action}" in actions


def test_an_endpoint_disabled_by_failures_is_shown_and_the_log_has_redeliver(
    app, client, auth, desk
):
    app.config["WEBHOOK_DISABLE_AFTER"] = 2
    auth.login(desk.admin.email)
    with SigningReceiver(200, 400, 400) as receiver:
        issued = endpoints.create(admin_actor(desk), receiver.url, event_types=["contact.created"])
        receiver.secret = issued.secret
        for name in ("One", "Two", "Three"):
            contacts.create_contact(admin_actor(desk), name=name)
        Worker(app).run(once=True)
    base = desk.url(f"/settings/webhooks/{issued.endpoint.id}")
    for page in (text_of(client.get(desk.url("/settings/webhooks"))), text_of(client.get(base))):
        assert f'data-testid="webhook-disabled-{issued.endpoint.id}"' in page
        assert "Disabled automatically" in page and "2 deliveries in a row failed" in page
    page = text_of(client.get(base))
    codes = re.findall(r'data-testid="delivery-response">HTTP (\d+)', page)
    assert codes == ["400", "400", "200"]  # newest first
    assert "redeliver-" not in page  # disabled: nothing can be sent again
    client.post(base + "/enable")
    page = text_of(client.get(base))
    assert "Disabled automatically" not in page
    [delivered] = [r for r in db.session.execute(select(Outbox)).scalars() if r.status == "sent"]
    assert f'data-testid="redeliver-{delivered.id}"' in page
    client.post(base + f"/deliveries/{delivered.id}/redeliver")
    db.session.rollback()
    assert db.session.get(Outbox, delivered.id).status == "pending"


def test_the_log_is_paged_newest_first(client, auth, desk):
    auth.login(desk.admin.email)
    endpoint = endpoints.create(admin_actor(desk), "https://a.example.test/").endpoint
    sent = [deliveries.send_test(admin_actor(desk), endpoint.id) for _ in range(27)]
    base = desk.url(f"/settings/webhooks/{endpoint.id}")
    first = text_of(client.get(base))
    assert f'data-testid="delivery-{sent[-1].id}"' in first
    assert f'data-testid="delivery-{sent[1].id}"' not in first and "Older" in first
    second = text_of(client.get(base + "?page=2"))
    assert f'data-testid="delivery-{sent[0].id}"' in second and "Newer" in second
