"""The access matrix: role × inbox membership × workspace × action → allowed or "not found".

Out-of-reach objects must be NotFound (never Forbidden), so existence does not leak.
"""

from __future__ import annotations

import itertools

import pytest

from deskwoot.errors import NotFound
from deskwoot.services.conversations import labels, reads
from deskwoot.services.conversations import search as search_service
from deskwoot.services.conversations import workflow as conversations
from deskwoot.services.conversations.filters import ConversationFilters
from deskwoot.services.directory import contacts, inboxes, invitations, workspaces
from tests import factories as f


def _list_has(actor, target):
    rows, _ = reads.list_conversations(actor, ConversationFilters(status="all"))
    if target["conversation"].display_id not in [r.display_id for r in rows]:
        raise NotFound("not listed")


def _search_has(actor, target):
    from deskwoot.extensions import db
    from deskwoot.policy import contacts as contact_base

    rows, _ = reads.list_conversations(actor, ConversationFilters(status="all", query="zeppelin"))
    if not rows:
        raise NotFound("not found by search")
    found = (
        db.session.execute(contact_base(actor).where(search_service.contact_match("Zed")))
        .scalars()
        .all()
    )
    if not found:
        raise NotFound("contact not found by search")


CONVERSATION_ACTIONS = {
    "view": lambda a, t: reads.thread(a, t["conversation"].display_id),
    "list": _list_has,
    "search": _search_has,
    "reply": lambda a, t: conversations.reply(a, t["conversation"].display_id, "Hi"),
    "note": lambda a, t: conversations.add_note(a, t["conversation"].display_id, "n"),
    "status": lambda a, t: conversations.set_status(a, t["conversation"].display_id, "pending"),
    "priority": lambda a, t: conversations.set_priority(a, t["conversation"].display_id, "low"),
    "labels": lambda a, t: conversations.update_labels(
        a, t["conversation"].display_id, add=["vip"]
    ),
    "assign": lambda a, t: conversations.assign(a, t["conversation"].display_id, None),
    "take_over": lambda a, t: conversations.take_over(a, t["conversation"].display_id),
    "view_contact": lambda a, t: contacts.get_contact(a, t["contact"].id),
    "note_contact": lambda a, t: contacts.add_note(a, t["contact"].id, "n"),
    "start_conversation": lambda a, t: conversations.start_conversation(
        a, t["inbox"].id, "Hello", contact_id=t["contact"].id
    ),
}
ADMIN_ACTIONS = {
    "create_inbox": lambda a, t: inboxes.create_inbox(a, "New inbox"),
    "set_inbox_members": lambda a, t: inboxes.set_members(a, t["inbox"].id, []),
    "create_label": lambda a, t: labels.create_label(a, "new-label"),
    "invite": lambda a, t: invitations.invite(a, "new@example.test", "agent"),
    "set_plan": lambda a, t: workspaces.set_plan(a, "enterprise"),
}

CASES = list(
    itertools.product(
        ["admin", "agent"],
        ["member", "not_member"],
        ["same", "other"],
        [*CONVERSATION_ACTIONS, *ADMIN_ACTIONS],
    )
)


# Admin actions that name no object act on the actor's own workspace by construction.
OWN_WORKSPACE_ACTIONS = {"create_inbox", "create_label", "invite", "set_plan"}


def expected_allowed(role: str, membership: str, workspace: str, action: str) -> bool:
    if action in ADMIN_ACTIONS:
        if workspace == "other" and action not in OWN_WORKSPACE_ACTIONS:
            return False
        return role == "admin"
    if workspace == "other":
        return False
    return role == "admin" or membership == "member"


@pytest.mark.parametrize(("role", "membership", "workspace", "action"), CASES)
def test_policy_matrix(app, role, membership, workspace, action):
    home = f.make_workspace()
    inbox = f.make_inbox(home, name="Support")
    f.make_label(home, "vip")
    contact = f.make_contact(home, name="Zed Zeppelin")
    conversation = f.make_conversation(inbox, contact, content="My zeppelin is late")
    target = {"conversation": conversation, "contact": contact, "inbox": inbox}

    where = home if workspace == "same" else f.make_workspace()
    own_inbox = f.make_inbox(where, name="Elsewhere")
    inboxes_for_user = [inbox] if (membership == "member" and workspace == "same") else []
    if workspace == "other" and membership == "member":
        inboxes_for_user = [own_inbox]  # a member of an inbox, but in another workspace
    user = f.make_user(where, role=role, inboxes=inboxes_for_user)
    actor = f.actor_for(user, where)

    run = {**CONVERSATION_ACTIONS, **ADMIN_ACTIONS}[action]
    before = _home_state(home)
    if expected_allowed(role, membership, workspace, action):
        run(actor, target)
        if workspace == "other":
            assert _home_state(home) == before, "acting in another workspace changed this one"
    else:
        with pytest.raises(NotFound):
            run(actor, target)
        assert _home_state(home) == before, "a refused action still wrote something"


def _home_state(home) -> tuple:
    from sqlalchemy import func, select

    from deskwoot.extensions import db
    from deskwoot.models import Event, Inbox, Label, Membership, Workspace

    def count(model):
        return db.session.scalar(
            select(func.count()).select_from(model).where(model.workspace_id == home.id)
        )

    db.session.expire_all()
    plan = db.session.get(Workspace, home.id).plan
    return plan, count(Inbox), count(Label), count(Membership), count(Event)


def test_non_member_cannot_build_an_actor_for_a_workspace(app):
    from deskwoot.policy import member_actor

    home, other = f.make_workspace(), f.make_workspace()
    user = f.make_user(other, role="admin")
    with pytest.raises(NotFound):
        member_actor(user, home)


def test_restricted_bot_sees_only_its_inboxes_and_mcp_contacts(app):
    home = f.make_workspace()
    allowed, hidden = f.make_inbox(home, name="A"), f.make_inbox(home, name="B")
    visible_conv = f.make_conversation(allowed)
    hidden_conv = f.make_conversation(hidden)
    web_contact = f.make_contact(home, created_via="web")
    bot = f.bot_actor(home, inbox_ids=[allowed.id])
    mcp_contact = contacts.create_contact(bot, email="made-by-bot@example.test")
    contacts.get_contact(bot, visible_conv.contact_id)
    contacts.get_contact(bot, mcp_contact.id)
    for contact_id in (hidden_conv.contact_id, web_contact.id):
        with pytest.raises(NotFound):
            contacts.get_contact(bot, contact_id)
    with pytest.raises(NotFound):
        reads.thread(bot, hidden_conv.display_id)


def test_scope_limited_bot_gets_forbidden_with_the_missing_scope(app):
    from deskwoot.errors import Forbidden

    home = f.make_workspace()
    inbox = f.make_inbox(home)
    conv = f.make_conversation(inbox)
    reader = f.bot_actor(home, scopes={"conversations:read"})
    reads.thread(reader, conv.display_id)
    with pytest.raises(Forbidden) as info:
        conversations.reply(reader, conv.display_id, "Hi")
    assert info.value.data["required_scope"] == "conversations:reply"
