"""Settings > Webhooks in a real browser: add an endpoint for a real receiver, copy the
secret shown once, send a test event, and see the signed delivery land in the log."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from deskwoot.delivery.worker import Worker
from deskwoot.policy import member_actor
from deskwoot.services.directory import contacts
from tests import factories
from tests.webhooks.receiver import SigningReceiver

pytestmark = pytest.mark.browser


def test_an_admin_adds_a_webhook_and_sees_deliveries_in_its_log(app, live_server, page: Page):
    ws = factories.make_workspace("Acme Support")
    admin = factories.make_user(ws, role="admin", name="Ann Admin", email="ann@acme.test")
    factories.make_inbox(ws, name="Support", members=[admin])
    with SigningReceiver() as receiver:
        page.goto("/login")
        page.get_by_label("Email").fill("ann@acme.test")
        page.get_by_label("Password").fill(factories.PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page).to_have_url(re.compile(r"/conversations$"))

        page.goto(f"/w/{ws.slug}/settings/inboxes")
        page.get_by_test_id("settings-nav-webhooks").click()
        expect(page.get_by_test_id("no-webhooks")).to_be_visible()
        page.get_by_label("Endpoint URL").fill(receiver.url)
        page.get_by_label("Description").fill("CRM sync")
        page.get_by_label("contact.created").check()
        page.get_by_test_id("add-webhook").click()

        secret = page.get_by_test_id("webhook-secret").inner_text()
        assert secret.startswith("whsec_")
        receiver.secret = secret
        page.get_by_test_id("webhook-test").click()
        expect(page.get_by_text("Test event queued")).to_be_visible()
        contacts.create_contact(member_actor(admin, ws), name="Grace Hopper")
        Worker(app).run(once=True)

        page.reload()
        log = page.get_by_test_id("webhook-log")
        expect(log.locator("tbody tr")).to_have_count(2)
        expect(log.get_by_test_id("delivery-response").first).to_contain_text("HTTP 200")
        expect(log).to_contain_text("webhook.test")
        expect(log).to_contain_text("contact.created")
        expect(page.get_by_test_id("webhook-secret")).to_have_count(0)  # shown once
    assert sorted(receiver.types()) == ["contact.created", "webhook.test"]
