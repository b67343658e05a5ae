"""Real rows behind every URL parameter in app.url_map, so tests can walk every route.

A route with a parameter this module has no value for makes `path_for` fail loudly: a new
route gets a value here instead of silently escaping the route-walking tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from deskwoot.database.transactions import write_transaction
from deskwoot.extensions import db
from deskwoot.models import Draft, McpToken, Message, User
from deskwoot.policy import member_actor, token_actor
from deskwoot.services.access import logins as auth_service
from deskwoot.services.access import mcp_switch as mcp_settings
from deskwoot.services.access import tokens
from deskwoot.services.conversations import attachments, workflow
from deskwoot.services.conversations import drafts as draft_service
from deskwoot.services.directory import invitations
from deskwoot.services.webhooks import deliveries as webhook_deliveries
from deskwoot.services.webhooks import endpoints as webhook_endpoints
from tests import factories

PARAM = re.compile(r"<(?:[^<>:]+:)?([^<>]+)>")
INBOX_SECRET = "dw_in_route_walk"


@dataclass
class World:
    workspace: object
    admin: User
    agent: User
    newcomer: User  # added without a password: has a set-password link
    draft: Draft
    token: McpToken
    values: dict = field(default_factory=dict)


def build_world() -> World:
    """One workspace with one of everything a URL can name."""
    ws = factories.make_workspace("Route Walk")
    admin = factories.make_user(ws, role="admin", email="admin@walk.test")
    inbox = factories.make_inbox(ws, name="Support", secret=INBOX_SECRET)
    agent = factories.make_user(ws, role="agent", inboxes=[inbox], email="agent@walk.test")
    newcomer = factories.make_user(ws, role="agent", email="newcomer@walk.test")
    newcomer.password_hash = None
    db.session.commit()
    contact = factories.make_contact(ws, name="Jane Customer", email="jane@walk.test")
    conversation = factories.make_conversation(inbox, contact, subject="Lost parcel")
    label = factories.make_label(ws, "vip")
    admin_actor = member_actor(admin, ws)
    mcp_settings.set_enabled(admin_actor, True)
    minted = tokens.mint(admin_actor, "Walker bot", sorted(tokens.PRESETS["drafts"][1]))
    db.session.refresh(ws)
    draft = draft_service.create_draft(
        token_actor(minted.token, ws), conversation.display_id, "A reply for review"
    )
    link = auth_service.create_password_link(newcomer)
    invitation = invitations.invite(admin_actor, "invitee@walk.test", "agent").invitation
    reply = workflow.reply(admin_actor, conversation.display_id, "On its way")
    with write_transaction() as session:
        attachment = attachments.add(
            session, session.get(Message, reply.id), "label.txt", "text/plain", b"label"
        )
    endpoint = webhook_endpoints.create(admin_actor, "https://hooks.walk.test/events").endpoint
    test_delivery = webhook_deliveries.send_test(admin_actor, endpoint.id)
    values = {
        "workspace": ws.slug,
        "contact_id": contact.id,
        "display_id": conversation.display_id,
        "conversation_id": conversation.display_id,  # the REST API's name for it
        "draft_id": draft.id,
        "inbox_id": inbox.id,
        "label_id": label.id,
        "token_id": minted.token.id,
        "grant_id": minted.token.id,  # an mcp token: revoking it as an OAuth grant is a 404
        "user_id": newcomer.id,
        "invitation_id": invitation.id,
        "token": link,
        "uid": inbox.uid,
        "filename": "app.css",
        "message_id": reply.id,
        "attachment_id": attachment.id,
        "endpoint_id": endpoint.id,
        "outbox_id": test_delivery.id,
    }
    return World(ws, admin, agent, newcomer, draft, minted.token, values)


def path_for(rule, values: dict) -> str:
    """The rule's URL with every parameter filled from `values`."""
    missing = sorted(set(rule.arguments) - set(values))
    if missing:
        raise LookupError(
            f"{rule.rule} ({rule.endpoint}): no test value for {missing}; "
            "add one to tests/web/route_params.py"
        )
    return PARAM.sub(lambda m: str(values[m.group(1)]), rule.rule)


def blueprint_of(rule) -> str:
    return rule.endpoint.rpartition(".")[0]
