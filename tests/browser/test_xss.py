"""Cross-site scripting attempts in a real browser (ARCHITECTURE §5: customer text is always
escaped).

Customers (through the real inbound hook), bots (drafts) and teammates (notes, names,
descriptions) put payloads in every field they control; an admin then opens every page that
shows them. The browser context *bypasses the CSP* on purpose: the CSP is the second line of
defence (tests/web/test_headers_everywhere.py), and here we prove the first one, escaping.
On each page: no JS dialog, `window.__xss` never set, no injected element or handler, no
`javascript:` link, and the payloads shown as literal text (`{{7*7}}` included).
"""

from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect

from deskwoot.extensions import db
from deskwoot.policy import member_actor, system_actor, token_actor
from deskwoot.services.access import mcp_switch as mcp_settings
from deskwoot.services.access import tokens
from deskwoot.services.conversations import drafts as draft_service
from deskwoot.services.conversations import labels as label_service
from deskwoot.services.conversations import workflow as conversation_service
from deskwoot.services.directory import contacts as contact_service
from deskwoot.services.directory import inboxes as inbox_service
from deskwoot.services.directory import workspaces as workspace_service
from tests import factories
from tests.browser.conftest import TIMEOUT_MS, VIEWPORT, PageLog, watch

pytestmark = pytest.mark.browser

TEMPLATE = "{{7*7}} ${7*7} #{7*7}"
JS_URL = "javascript:window.__xss='js-url'"


def img(tag: str) -> str:
    return f"<img src=x onerror=\"window.__xss='{tag}';alert('{tag}')\">"


def script(tag: str) -> str:
    return f"<script>window.__xss='{tag}';alert('{tag}')</script>"


def svg(tag: str) -> str:
    return f"\"><svg onload=\"window.__xss='{tag}';alert('{tag}')\">"


def attr(tag: str) -> str:
    """Breaks out of a single- or double-quoted attribute, if it is not escaped."""
    return f'x\' autofocus onfocus=\'window.__xss="{tag}"\' " autofocus onfocus="alert(1)" y="'


P = {
    "content": f"Hello {script('content')} {img('content')} {TEMPLATE}",
    "name": svg("name"),
    "email": "\"><svg/onload=window.__xss='email'>@evil.test",
    "identifier": attr("identifier"),
    "subject": f"{img('subject')} {TEMPLATE}",
    "attr_key": "<b>key</b><script>x=1</script>",
    "attr_value": img("attr-value"),
    "attr_url": JS_URL,
    "contact_note": script("contact-note"),
    "note": img("note"),
    "draft": f"{svg('draft')} {TEMPLATE}",
    "draft_note": img("draft-note"),
    "token": script("token"),
    "reason": img("reason"),
    "label": img("label-description"),
    "inbox": svg("inbox"),
    "teammate": svg("teammate"),
    "workspace": "<i>Evil</i> {{7*7}} Support",
    "search": svg("search"),
}

FIND_INJECTIONS = """() => {
  const bad = [];
  if (window.__xss !== undefined) bad.push('window.__xss = ' + window.__xss);
  for (const el of document.querySelectorAll('*')) {
    for (const a of el.attributes) {
      if (/^on/i.test(a.name)) bad.push(el.tagName + ' has ' + a.name);
      if (/^(href|src|action|formaction|xlink:href)$/i.test(a.name)
          && /^\\s*(javascript|data|vbscript):/i.test(a.value)) {
        bad.push(el.tagName + ' ' + a.name + '=' + a.value);
      }
    }
  }
  for (const s of document.querySelectorAll('script')) {
    if (!s.src) bad.push('inline script: ' + s.textContent.slice(0, 60));
  }
  for (const el of document.querySelectorAll('svg, img[src="x"], iframe, object, embed, b, i')) {
    bad.push('injected <' + el.tagName.toLowerCase() + '>');
  }
  return bad;
}"""

ALL_TEXT = """() => [document.title, document.body.textContent]
  .concat(Array.from(document.querySelectorAll('input, textarea'), el => el.value)).join('\\n')"""


@dataclass
class Seeded:
    slug: str
    admin_email: str
    contact_id: int
    display_id: int


def post_inbound(base_url: str, uid: str, secret: str, payload: dict) -> dict:
    request = urllib.request.Request(  # noqa: S310 (http://127.0.0.1 only)
        f"{base_url}/hooks/inbound/{uid}",
        data=json.dumps(payload).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        assert response.status == 201
        return json.loads(response.read())


@pytest.fixture
def seeded(app, live_server) -> Seeded:
    """Payloads in every field, put there the way each party really puts them."""
    ws = factories.make_workspace(P["workspace"])
    admin = factories.make_user(ws, role="admin", name="Ann Admin", email="ann@acme.test")
    actor = member_actor(admin, ws)
    inbox, secret = inbox_service.create_inbox(actor, P["inbox"])
    inbox_service.set_members(actor, inbox.id, [admin.id])

    # The customer, through the real hook over HTTP.
    customer = {"email": P["email"], "name": P["name"], "identifier": P["identifier"]}
    first = post_inbound(
        live_server,
        inbox.uid,
        secret,
        {"contact": customer, "content": P["content"], "subject": P["subject"]},
    )
    second = post_inbound(
        live_server,
        inbox.uid,
        secret,
        {"contact": {"email": "sam@example.test"}, "content": "Is it on?", "subject": "Power"},
    )
    db.session.rollback()  # see what the live server wrote

    contact_id = first["contact_id"]
    contact_service.update_contact(
        actor,
        contact_id,
        custom_attributes={P["attr_key"]: P["attr_value"], "website": P["attr_url"]},
    )
    contact_service.add_note(actor, contact_id, P["contact_note"])
    display_id = first["conversation_id"]
    conversation_service.add_note(actor, display_id, P["note"])
    conversation_service.update_attributes(actor, display_id, {"order": P["attr_value"]})
    label_service.create_label(actor, "vip", description=P["label"])
    conversation_service.set_labels(actor, display_id, ["vip"])
    # Named by the operator (an invitee names themselves; both reach the same team page).
    workspace_service.add_teammate(system_actor(ws), "mate@acme.test", "agent", name=P["teammate"])

    # A bot, through the same service its MCP tool calls.
    mcp_settings.set_enabled(actor, True)
    minted = tokens.mint(actor, P["token"], sorted(tokens.PRESETS["drafts"][1]))
    db.session.refresh(ws)
    bot = token_actor(minted.token, ws)
    draft_service.create_draft(bot, display_id, P["draft"], note_to_reviewer=P["draft_note"])
    rejected = draft_service.create_draft(bot, second["conversation_id"], "Try turning it off")
    draft_service.reject(actor, rejected.id, P["reason"])
    return Seeded(ws.slug, admin.email, contact_id, display_id)


def pages(seeded: Seeded) -> dict[str, list[str]]:
    """Each page that shows payloads -> the payloads it must show as literal text."""
    w = f"/w/{seeded.slug}"
    q = urllib.parse.quote(P["search"])
    contact = f"{w}/contacts/{seeded.contact_id}"
    return {
        f"{w}/conversations": [P["name"], P["subject"], P["inbox"], P["workspace"]],
        f"{w}/conversations?q={q}": [P["search"]],
        f"{w}/conversations/{seeded.display_id}": [
            P["content"],
            P["subject"],
            P["note"],
            P["name"],
            P["email"],
            P["identifier"],
            P["draft"],
            P["draft_note"],
            P["token"],
        ],
        f"{w}/contacts": [P["name"], P["email"]],
        f"{w}/contacts?q={q}": [P["search"]],
        contact: [
            P["name"],
            P["email"],
            P["identifier"],
            P["attr_key"],
            P["attr_value"],
            P["attr_url"],
            P["contact_note"],
            P["subject"],
        ],
        f"{contact}/edit": [P["name"], P["email"], P["identifier"]],
        f"{w}/drafts": [P["draft"], P["draft_note"], P["token"], P["content"], P["name"]],
        f"{w}/settings/audit": [P["token"], P["reason"], P["inbox"]],
        f"{w}/settings/labels": [P["label"]],
        f"{w}/settings/team": [P["teammate"]],
        f"{w}/settings/inboxes": [P["inbox"]],
        f"{w}/settings/mcp": [P["token"]],
    }


def login(page: Page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/conversations$"))


def test_payloads_in_every_field_stay_text(browser, live_server, seeded, page, page_log, artifacts):
    # First with the CSP enforced, as people browse: our pages never trip it (nothing was
    # injected for it to block, and the app needs no inline script or style of its own).
    login(page, seeded.admin_email)
    walk = pages(seeded)
    for path in list(walk)[:4]:
        page.goto(path)
        page.wait_for_load_state("load")
    assert page_log.csp_violations() == []

    # Then without it, so only escaping stands between the payloads and the page.
    context = browser.new_context(viewport=VIEWPORT, base_url=live_server, bypass_csp=True)
    context.set_default_timeout(TIMEOUT_MS)
    log = PageLog()
    raw: Page = watch(context.new_page(), log)
    try:
        login(raw, seeded.admin_email)
        problems = []
        for path, shown in walk.items():
            raw.goto(path)
            raw.wait_for_load_state("load")
            problems += [f"{path}: {found}" for found in raw.evaluate(FIND_INJECTIONS)]
            text = raw.evaluate(ALL_TEXT)
            # Literal text, `{{7*7}}` included: a template that evaluated it would show 49.
            problems += [f"{path}: not shown as text: {p[:50]}" for p in shown if p not in text]
        assert not problems, "\n".join(problems)
        assert log.dialogs == [] and log.page_errors == []
        # The token's name is on screen, not only somewhere in the markup.
        expect(raw.get_by_text(P["token"]).first).to_be_visible()
    except AssertionError:
        raw.screenshot(path=artifacts / "FAILED-test_xss-no-csp.png", full_page=True)
        raise
    finally:
        context.close()
    assert page_log.dialogs == [] and page_log.page_errors == []
