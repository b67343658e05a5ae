"""What a new user tripped over: who wrote what (one naming rule, "You" only for your own
replies), the takeover a reply causes, the one-form sidebar, and a snooze time with no UTC."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from deskwoot import policy
from deskwoot.extensions import db
from deskwoot.models import AuditEntry, Conversation, Workspace
from deskwoot.services.access import mcp_switch as mcp_settings
from deskwoot.services.access import tokens as token_service
from deskwoot.services.activity import actor_names as naming
from deskwoot.services.activity import audit_recorder as audit
from deskwoot.services.conversations import drafts as draft_service
from deskwoot.services.conversations import workflow as conversation_service
from tests import factories


def _page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _fresh(conversation: Conversation) -> Conversation:
    db.session.expire_all()
    return db.session.get(Conversation, conversation.id)


def _row(page: str, conversation: Conversation) -> str:
    row = page[page.index(f'data-testid="conversation-{conversation.display_id}"') :]
    return row[: row.index("</li>")]


def _preview_author(page: str, conversation: Conversation) -> str:
    match = re.search(r'data-testid="preview-author">(.*?): </span>', _row(page, conversation))
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split()) if match else ""


@pytest.fixture
def token_bot(desk) -> policy.Actor:
    """The workspace's real bot (its service account is "Acme Support bot") on a token
    named "OpenClaw triage": the two names a card used to mix."""
    admin = factories.actor_for(desk.admin, desk.workspace)
    mcp_settings.set_enabled(admin, True)
    minted = token_service.mint(admin, "OpenClaw triage", sorted(policy.SCOPES))
    return policy.token_actor(minted.token, db.session.get(Workspace, desk.workspace.id))


# --- the naming rule -------------------------------------------------------------------------


def test_the_operator_is_named_alike_in_events_and_the_audit_log(app):
    """Regression: events the CLI caused said "Operator" while the audit log said
    "Operator (CLI)"; the operator's actor now carries the rule's name everywhere."""
    from deskwoot.models import Event
    from deskwoot.services.directory import contacts as contact_service

    ws = factories.make_workspace()
    operator = policy.system_actor(ws)
    contact_service.create_contact(operator, name="Walk-in", email="walkin@example.test")
    event = db.session.execute(
        select(Event).where(Event.workspace_id == ws.id, Event.type == "contact.created")
    ).scalar_one()
    assert event.actor_name == "Operator (CLI)"
    assert naming.name_actor("system", operator.name).name == event.actor_name


def test_the_naming_rule():
    assert naming.name_actor("user", "Ada Admin") == naming.ActorName("Ada Admin")
    assert naming.name_actor("bot", "Acme bot", "OpenClaw triage") == naming.ActorName(
        "OpenClaw triage", is_bot=True
    )
    assert naming.name_actor("bot", "Acme bot").name == "Acme bot"  # its token was deleted
    assert naming.name_actor("system", "Operator").name == "Operator (CLI)"
    assert naming.name_actor("system", None).name == "Operator (CLI)"
    assert naming.name_actor("system", "Snooze timer").name == "Snooze timer"
    assert naming.name_actor("contact", None).name == "Customer"


def test_a_bots_note_and_its_draft_carry_the_same_name(as_admin, desk, token_bot):
    display_id = desk.conversation.display_id
    conversation_service.add_note(token_bot, display_id, "Looks like a lost parcel.")
    draft_service.create_draft(token_bot, display_id, "Sorry! We are on it.")

    for url in (desk.url("/drafts"), desk.conv_url()):
        page = _page(as_admin, url)
        assert "Acme Support bot" not in page, url  # the service account is not the name
        assert page.count('OpenClaw triage</span> <span class="badge badge-bot"') >= 2, url


def test_the_audit_log_names_actors_once_and_by_the_rule(as_admin, desk, token_bot):
    ws = db.session.get(Workspace, desk.workspace.id)
    audit.record(policy.system_actor(ws), "plan.changed", target="enterprise")
    audit.record(token_bot, "get_conversation", target="conversation 1")
    db.session.commit()
    page = _page(as_admin, desk.url("/settings/audit"))
    cells = [
        " ".join(re.sub(r"<[^>]+>", " ", cell).split())
        for cell in re.findall(r'<td class="audit-actor">(.*?)</td>', page, re.S)
    ]
    assert "Operator (CLI)" in cells and "Operator Operator" not in page
    assert "Ada Admin" in cells and not any(c.startswith("Person") for c in cells)
    assert "OpenClaw triage Bot" in cells
    assert db.session.execute(select(AuditEntry.actor_name)).scalars().all()  # rows unchanged


# --- the list preview ------------------------------------------------------------------------


def test_you_only_for_your_own_reply(client, auth, desk, token_bot):
    conversation_service.reply(
        factories.actor_for(desk.admin, desk.workspace), desk.conversation.display_id, "On it."
    )
    auth.login(desk.admin.email)
    assert _preview_author(_page(client, desk.url("/conversations")), desk.conversation) == "You"
    auth.logout()
    auth.login(desk.agent.email)
    page = _page(client, desk.url("/conversations"))
    assert _preview_author(page, desk.conversation) == "Ada Admin"


def test_bot_replies_and_approved_drafts_are_the_bots(as_admin, desk, token_bot):
    other = factories.make_conversation(desk.support, content="Where is my refund?")
    conversation_service.reply(token_bot, other.display_id, "Your refund left today.")
    draft = draft_service.create_draft(token_bot, desk.conversation.display_id, "It ships today.")
    draft_service.approve(factories.actor_for(desk.agent, desk.workspace), draft.id)

    page = _page(as_admin, desk.url("/conversations"))
    for conversation in (other, desk.conversation):
        assert _preview_author(page, conversation) == "OpenClaw triage Bot"
        assert "You:" not in _row(page, conversation)


# --- the takeover a reply causes ----------------------------------------------------------


def test_the_reply_box_says_a_reply_takes_over_and_the_list_shows_it(as_admin, desk):
    page = _page(as_admin, desk.conv_url())
    assert 'data-testid="reply-takes-over"' in page
    assert "takes this conversation over from the bot" in page
    assert "badge-human" not in _row(_page(as_admin, desk.url("/conversations")), desk.conversation)

    as_admin.post(desk.conv_url(action="reply"), data={"body": "We are on it."})
    assert _fresh(desk.conversation).handoff
    assert 'data-testid="reply-takes-over"' not in _page(as_admin, desk.conv_url())
    row = _row(_page(as_admin, desk.url("/conversations")), desk.conversation)
    assert "badge-human" in row and ">Human<" in row


# --- the one-form sidebar --------------------------------------------------------------------


def _details(desk, **changes) -> dict:
    """The sidebar form as the page shows it for the desk's conversation, then `changes`."""
    conversation = _fresh(desk.conversation)
    names = [label.name for label in conversation.labels]
    data = {
        "status": conversation.status,
        "priority": conversation.priority,
        "assignee_id": str(conversation.assignee_id or ""),
        "labels": names,
        "shown_status": conversation.status,
        "shown_priority": conversation.priority,
        "shown_assignee_id": str(conversation.assignee_id or ""),
        "shown_labels": "\n".join(names),
        "tz_offset": "0",
    }
    data.update(changes)
    return data


def test_the_sidebar_is_one_form_with_one_save(as_admin, desk):
    page = _page(as_admin, desk.conv_url())
    form = re.search(r'<form[^>]*id="details-form".*?</form>', page, re.S).group(0)
    for name in ("status", "snoozed_until", "priority", "assignee_id", "shown_labels"):
        assert f'name="{name}"' in form, name
    assert form.count('type="submit"') == 1 and ">Save</button>" in form
    for gone in ("status-form", "priority-form", "assign-form", "labels-form"):
        assert f'id="{gone}"' not in page
    header = page[page.index('class="conv-header"') : page.index('class="conv-layout"')]
    assert 'data-testid="resolve"' in header and "conversation-status" in header


def test_save_changes_only_what_changed(as_admin, desk):
    factories.make_label(desk.workspace, "refund")
    factories.make_label(desk.workspace, "vip")
    data = _details(desk, priority="high", labels=["refund"], assignee_id=str(desk.agent.id))
    # Meanwhile the bot labels the conversation "vip": this Save must not take that away.
    admin = factories.actor_for(desk.admin, desk.workspace)
    conversation_service.update_labels(admin, desk.conversation.display_id, add=["vip"])

    response = as_admin.post(desk.conv_url(action="details"), data=data, follow_redirects=True)
    page = response.get_data(as_text=True)
    conversation = _fresh(desk.conversation)
    assert conversation.priority == "high" and conversation.status == "open"
    assert conversation.assignee_id == desk.agent.id
    assert [label.name for label in conversation.labels] == ["refund", "vip"]
    assert "Priority set to high." in page and "Assigned to Andy Agent." in page
    assert "Conversation reopened." not in page  # the status was not touched

    response = as_admin.post(
        desk.conv_url(action="details"), data=_details(desk), follow_redirects=True
    )
    assert "Nothing to save" in response.get_data(as_text=True)


def test_save_can_snooze_and_resolve(as_admin, desk):
    until = (datetime.now(UTC) + timedelta(days=2)).replace(second=0, microsecond=0)
    local = until + timedelta(hours=2)
    data = _details(
        desk, status="snoozed", snoozed_until=local.strftime("%Y-%m-%dT%H:%M"), tz_offset="120"
    )
    as_admin.post(desk.conv_url(action="details"), data=data)
    conversation = _fresh(desk.conversation)
    assert (conversation.status, conversation.snoozed_until) == ("snoozed", until)
    as_admin.post(desk.conv_url(action="details"), data=_details(desk, status="resolved"))
    assert _fresh(desk.conversation).status == "resolved"
    assert 'data-testid="reopen"' in _page(as_admin, desk.conv_url())


# --- a snooze time with no UTC equivalent ------------------------------------------------------


@pytest.mark.parametrize("action", ["details", "status"])
@pytest.mark.parametrize(
    ("moment", "offset"), [("9999-12-31T23:59", "-600"), ("0001-01-01T00:01", "600")]
)
def test_a_snooze_beyond_the_calendar_is_a_form_error(as_admin, desk, action, moment, offset):
    data = _details(desk, status="snoozed", snoozed_until=moment, tz_offset=offset)
    response = as_admin.post(desk.conv_url(action=action), data=data, follow_redirects=True)
    assert response.status_code == 200
    assert "outside the range of dates" in response.get_data(as_text=True)
    assert _fresh(desk.conversation).status == "open"
