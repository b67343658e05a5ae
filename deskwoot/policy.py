"""Every access decision in Deskwoot, in one place (ARCHITECTURE §1-2).

Services never filter by workspace or inbox themselves: they start every query from a base
built here, which is already narrowed to the actor's workspace and inboxes, and they ask here
before acting. Anything outside an actor's reach is reported as NotFound so that existence
does not leak. Caller-supplied filters are intersected with these bases, never substituted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select, and_, bindparam, exists, or_, select

from deskwoot.database.prebuilt import Prebuilt
from deskwoot.errors import Forbidden, Invalid, NotFound
from deskwoot.extensions import db
from deskwoot.models import (
    Attachment,
    AuditEntry,
    Contact,
    Conversation,
    Draft,
    Event,
    Inbox,
    InboxMember,
    Label,
    Membership,
    Message,
    User,
    WebhookEndpoint,
    Workspace,
    utcnow,
)

# Scopes an MCP token may carry (ARCHITECTURE §4). Humans are limited by role, not scopes.
SCOPES = (
    "conversations:read",
    "conversations:reply",
    "conversations:note",
    "conversations:draft",
    "conversations:manage",
    "conversations:create",
    "contacts:read",
    "contacts:write",
    "events:read",
)


@dataclass(frozen=True)
class Actor:
    """Who is acting, as far as access is concerned; built by the adapter, trusted by services."""

    workspace_id: int
    user_id: int | None
    kind: str  # "human", "bot" or "system" (the operator's CLI, the inbound hook)
    name: str
    role: str | None = None  # "admin" / "agent" for humans
    inbox_ids: frozenset[int] | None = None  # None: every inbox in the workspace
    scopes: frozenset[str] | None = None  # None: not scope-limited (humans, system)
    via: str = "web"  # web | mcp | api | cli | hook
    token_id: int | None = None
    request_id: str | None = None
    remote_addr: str | None = None
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def is_admin(self) -> bool:
        return self.kind == "system" or self.role == "admin"

    @property
    def is_bot(self) -> bool:
        return self.kind == "bot"

    @property
    def sender_type(self) -> str:
        return {"human": "user", "bot": "bot"}.get(self.kind, "system")


# --- building actors -----------------------------------------------------------------------


# A teammate's role and inboxes, read on every page view: built once.
_MEMBERSHIP = Prebuilt(
    select(Membership.role).where(
        Membership.workspace_id == bindparam("workspace_id"),
        Membership.user_id == bindparam("user_id"),
    )
)
_MEMBER_INBOXES = Prebuilt(
    select(InboxMember.inbox_id)
    .join(Inbox, Inbox.id == InboxMember.inbox_id)
    .where(
        InboxMember.user_id == bindparam("user_id"),
        Inbox.workspace_id == bindparam("workspace_id"),
    )
)


def member_actor(user: User, workspace: Workspace, via: str = "web", **context) -> Actor:
    """Build the actor for a human teammate; raises NotFound if they are not a member."""
    ids = {"workspace_id": workspace.id, "user_id": user.id}
    membership = _MEMBERSHIP.first(ids)
    if membership is None or not user.is_active or user.kind != "human":
        raise NotFound("No such workspace.")
    inbox_ids = None
    if membership.role != "admin":
        inbox_ids = frozenset(row.inbox_id for row in _MEMBER_INBOXES.rows(ids))
    return Actor(
        workspace_id=workspace.id,
        user_id=user.id,
        kind="human",
        name=user.name,
        role=membership.role,
        inbox_ids=inbox_ids,
        via=via,
        **context,
    )


def minter_stands_behind(
    created_by_id: int | None, is_active: bool | None, role: str | None
) -> bool:
    """Whether an MCP token may still act for its minter (the suspension rule, ARCHITECTURE §3).

    A token minted in the browser is only as good as the admin who minted it: while that person
    is deactivated, removed from the workspace or no longer an admin, the token is suspended
    (refused, not revoked). Operator (CLI) tokens have no minter and are not affected.
    """
    return created_by_id is None or bool(is_active and role == "admin")


def token_actor(token, workspace: Workspace, **context) -> Actor:
    """The actor for a bot token (MCP or REST): the workspace's bot, limited by the token's
    scopes and inboxes. An empty inbox list means every inbox."""
    return Actor(
        workspace_id=workspace.id,
        user_id=workspace.bot_user_id,
        kind="bot",
        name=token.name,
        scopes=frozenset(token.scopes or ()),
        inbox_ids=frozenset(token.inbox_ids) if token.inbox_ids else None,
        via=getattr(token, "kind", "mcp"),
        token_id=token.id,
        **context,
    )


# How the operator's command line is named wherever an action is shown (audit log, events,
# threads): services/activity/actor_names.py holds the rule for every kind of actor.
OPERATOR_NAME = "Operator (CLI)"


def system_actor(workspace: Workspace, via: str = "cli", name: str = OPERATOR_NAME) -> Actor:
    """The operator (CLI) or a channel integration: workspace-wide, no user behind it."""
    return Actor(workspace_id=workspace.id, user_id=None, kind="system", name=name, via=via)


# --- query bases ---------------------------------------------------------------------------


def _inbox_clause(actor: Actor, column):
    if actor.inbox_ids is None:
        return True
    return column.in_(sorted(actor.inbox_ids)) if actor.inbox_ids else False


def inboxes(actor: Actor) -> Select:
    """Inboxes the actor can see."""
    return select(Inbox).where(
        Inbox.workspace_id == actor.workspace_id, _inbox_clause(actor, Inbox.id)
    )


def conversations(actor: Actor) -> Select:
    """Conversations the actor can see."""
    return select(Conversation).where(
        Conversation.workspace_id == actor.workspace_id,
        _inbox_clause(actor, Conversation.inbox_id),
    )


def conversation_filter(actor: Actor):
    """The same reach as `conversations`, as a WHERE clause for hand-built queries."""
    return (Conversation.workspace_id == actor.workspace_id) & _inbox_clause(
        actor, Conversation.inbox_id
    )


# The reach of `conversations`/`conversation_filter` as prebuilt clauses whose workspace and
# inboxes are bind parameters: the agent's hot paths build a statement once per variant and
# execute it with conversation_reach(actor), instead of building one per request. The
# decision stays here, in one place.
CONVERSATION_REACH = {
    "workspace": Conversation.workspace_id == bindparam("reach_workspace_id"),
    "inboxes": and_(
        Conversation.workspace_id == bindparam("reach_workspace_id"),
        Conversation.inbox_id.in_(bindparam("reach_inbox_ids", expanding=True)),
    ),
}


# `inboxes` and `drafts` as prebuilt clauses, in the same way and with the same parameters
# (conversation_reach): the busy pages' menus and badge read them on every request.
INBOX_REACH = {
    "workspace": Inbox.workspace_id == bindparam("reach_workspace_id"),
    "inboxes": and_(
        Inbox.workspace_id == bindparam("reach_workspace_id"),
        Inbox.id.in_(bindparam("reach_inbox_ids", expanding=True)),
    ),
}
DRAFT_REACH = {
    variant: and_(Draft.workspace_id == bindparam("reach_workspace_id"), reach)
    for variant, reach in CONVERSATION_REACH.items()
}


def conversation_reach(actor: Actor) -> tuple[str, dict]:
    """Which CONVERSATION_REACH clause applies to the actor, and its parameters."""
    if actor.inbox_ids is None:
        return "workspace", {"reach_workspace_id": actor.workspace_id}
    return "inboxes", {
        "reach_workspace_id": actor.workspace_id,
        "reach_inbox_ids": sorted(actor.inbox_ids),  # empty: an IN that matches nothing
    }


def inbox_reach(actor: Actor) -> tuple[str, dict]:
    """Which INBOX_REACH clause applies to the actor, and its parameters."""
    return conversation_reach(actor)  # the same variants and parameters


# How a contact a bot made arrived (Contact.created_via): through either bot surface.
BOT_CREATED = ("mcp", "api")


def contacts(actor: Actor) -> Select:
    """Contacts the actor can see (ARCHITECTURE §6).

    Unrestricted actors see every contact in the workspace. An inbox-restricted actor sees a
    contact that has a conversation in one of its inboxes, or one that did not arrive through
    an inbox at all: created by the team (web, CLI) for humans, created by a bot token (MCP
    or the REST API) for bots.
    """
    base = select(Contact).where(Contact.workspace_id == actor.workspace_id)
    if actor.inbox_ids is None:
        return base
    in_reach = exists().where(
        Conversation.contact_id == Contact.id,
        Conversation.workspace_id == actor.workspace_id,
        _inbox_clause(actor, Conversation.inbox_id),
    )
    direct = BOT_CREATED if actor.is_bot else ("web", "cli", *BOT_CREATED)
    return base.where(or_(in_reach, Contact.created_via.in_(direct)))


def labels(actor: Actor) -> Select:
    return select(Label).where(Label.workspace_id == actor.workspace_id)


def drafts(actor: Actor) -> Select:
    """Drafts in conversations the actor can see."""
    return (
        select(Draft)
        .join(Conversation, Conversation.id == Draft.conversation_id)
        .where(Draft.workspace_id == actor.workspace_id, conversation_filter(actor))
    )


# The reach of the events feed as prebuilt clauses, like CONVERSATION_REACH: its workspace,
# and for an inbox-restricted actor only its inboxes' events plus the events of contacts in
# its reach (contact events carry no inbox; see `contacts` for which contacts those are).
_EVENT_CONTACTS_IN_REACH = select(Contact.id).where(
    Contact.workspace_id == bindparam("reach_workspace_id"),
    or_(
        exists().where(
            Conversation.contact_id == Contact.id,
            Conversation.workspace_id == bindparam("reach_workspace_id"),
            Conversation.inbox_id.in_(bindparam("reach_inbox_ids", expanding=True)),
        ),
        Contact.created_via.in_(bindparam("reach_direct", expanding=True)),
    ),
)
EVENT_REACH = {
    "workspace": Event.workspace_id == bindparam("reach_workspace_id"),
    "inboxes": and_(
        Event.workspace_id == bindparam("reach_workspace_id"),
        or_(
            Event.inbox_id.in_(bindparam("reach_inbox_ids", expanding=True)),
            Event.inbox_id.is_(None) & Event.contact_id.in_(_EVENT_CONTACTS_IN_REACH),
        ),
    ),
}


def event_reach(actor: Actor) -> tuple[str, dict]:
    """Which EVENT_REACH clause applies to the actor, and its parameters."""
    variant, params = conversation_reach(actor)
    if variant == "inboxes":
        params["reach_direct"] = list(BOT_CREATED) if actor.is_bot else ["web", "cli", *BOT_CREATED]
    return variant, params


def teammates(actor: Actor) -> Select:
    """Human members of the actor's workspace (assignable people)."""
    return (
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.workspace_id == actor.workspace_id, User.kind == "human")
    )


def audit_entries(actor: Actor) -> Select:
    require_admin(actor)
    return select(AuditEntry).where(AuditEntry.workspace_id == actor.workspace_id)


# --- single objects ------------------------------------------------------------------------


def get_conversation(actor: Actor, display_id: int) -> Conversation:
    row = db.session.execute(
        conversations(actor).where(Conversation.display_id == display_id)
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"Conversation {display_id} was not found.")
    return row


def get_attachment(actor: Actor, attachment_id: int) -> Attachment:
    """An attachment of a message in a conversation the actor can see."""
    row = db.session.execute(
        select(Attachment)
        .join(Message, Message.id == Attachment.message_id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Attachment.id == attachment_id, conversation_filter(actor))
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"Attachment {attachment_id} was not found.")
    return row


def get_inbox(actor: Actor, inbox_id: int) -> Inbox:
    row = db.session.execute(inboxes(actor).where(Inbox.id == inbox_id)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"Inbox {inbox_id} was not found.")
    return row


_INBOX_IN_WORKSPACE = Prebuilt(
    select(Inbox.id).where(
        Inbox.workspace_id == bindparam("workspace_id"), Inbox.id == bindparam("inbox_id")
    )
)


def require_inbox(actor: Actor, inbox_id: int) -> None:
    """get_inbox without loading it: for filters that only need it to be in reach."""
    in_reach = actor.inbox_ids is None or inbox_id in actor.inbox_ids
    if not in_reach or not _INBOX_IN_WORKSPACE.first(
        {"workspace_id": actor.workspace_id, "inbox_id": inbox_id}
    ):
        raise NotFound(f"Inbox {inbox_id} was not found.")


def get_contact(actor: Actor, contact_id: int) -> Contact:
    row = db.session.execute(contacts(actor).where(Contact.id == contact_id)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"Contact {contact_id} was not found.")
    return row


def contact_to_write_to(actor: Actor, field: str, value: str) -> Contact | None:
    """The workspace's contact whose `field` (email or identifier) is `value`, for opening a
    conversation with it in an inbox the actor may use (start_conversation checks the inbox
    first).

    Deliberately the whole workspace, not `contacts(actor)`: a customer who writes in again
    through another channel is the same contact, and since emails and identifiers are
    unique, a contact out of the actor's reach could neither be returned nor duplicated;
    refusing would only tell the actor that it exists. Once the conversation is open in the
    actor's inbox the contact is in its reach, by the rule in `contacts`.
    """
    if field not in ("email", "identifier"):
        raise ValueError(field)
    return db.session.execute(
        select(Contact).where(
            Contact.workspace_id == actor.workspace_id, getattr(Contact, field) == value
        )
    ).scalar_one_or_none()


def get_teammate(actor: Actor, user_id: int) -> User:
    row = db.session.execute(teammates(actor).where(User.id == user_id)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"Teammate {user_id} was not found.")
    return row


def require_assignable(actor: Actor, conversation: Conversation, user_id: int) -> User:
    """A conversation may go to an active teammate who works its inbox (admins work all)."""
    teammate = get_teammate(actor, user_id)
    role = db.session.execute(
        select(Membership.role).where(
            Membership.workspace_id == actor.workspace_id, Membership.user_id == teammate.id
        )
    ).scalar_one()
    works_inbox = (
        role == "admin"
        or db.session.execute(
            select(InboxMember.user_id).where(
                InboxMember.inbox_id == conversation.inbox_id, InboxMember.user_id == teammate.id
            )
        ).first()
        is not None
    )
    if not teammate.is_active or not works_inbox:
        raise Invalid(
            f"{teammate.name} does not work the '{conversation.inbox.name}' inbox; assign "
            "someone who does, or ask an admin to add them to it.",
            field="assignee_id",
        )
    return teammate


def can_see_inbox(actor: Actor, inbox_id: int) -> bool:
    return actor.inbox_ids is None or inbox_id in actor.inbox_ids


# --- requirements --------------------------------------------------------------------------


def require_scope(actor: Actor, scope: str) -> None:
    """Scope-limited actors (MCP tokens) must hold `scope`."""
    if actor.scopes is not None and scope not in actor.scopes:
        raise Forbidden(
            f"This token lacks the '{scope}' scope.",
            reason="insufficient_scope",
            required_scope=scope,
        )


def require_admin(actor: Actor) -> None:
    """Settings are for admins and the operator; to anyone else they do not exist."""
    if not actor.is_admin or actor.kind == "bot":
        raise NotFound("Not found.")


# --- event webhooks ------------------------------------------------------------------------


def webhook_endpoints(actor: Actor) -> Select:
    """The workspace's event webhook endpoints: Settings for admins in the browser (or the
    operator). A bot — MCP or REST — never manages them: to it they do not exist."""
    require_admin(actor)
    return select(WebhookEndpoint).where(WebhookEndpoint.workspace_id == actor.workspace_id)


def get_webhook_endpoint(actor: Actor, endpoint_id: int, lock: bool = False) -> WebhookEndpoint:
    query = webhook_endpoints(actor).where(WebhookEndpoint.id == endpoint_id)
    row = db.session.execute(query.with_for_update() if lock else query).scalar_one_or_none()
    if row is None:
        raise NotFound(f"Webhook {endpoint_id} was not found.")
    return row


def webhook_reader(endpoint: WebhookEndpoint) -> Actor:
    """Whose reach an endpoint's events are read with (services/webhooks/fanout.py): its
    workspace's feed; with an inbox restriction, that of a teammate who works only those
    inboxes — their conversations' and messages' events, and the events of contacts in
    reach as `contacts` says (a conversation in one of the inboxes, or made by the team or a
    bot rather than arriving through another inbox)."""
    return Actor(
        workspace_id=endpoint.workspace_id,
        user_id=None,
        kind="system",
        name=f"Webhook {endpoint.id}",
        inbox_ids=frozenset(endpoint.inbox_ids) if endpoint.inbox_ids else None,
        via="worker",
    )


def require_operator(actor: Actor) -> None:
    """Putting a person straight onto a team (no invitation) is for the operator's CLI and the
    demo seed; an admin in the browser invites, so they never pick another person's account."""
    if actor.kind != "system":
        raise NotFound("Not found.")


def require_human(actor: Actor, what: str) -> None:
    """Some actions (approving drafts, taking over) are a person's call, never a bot's."""
    if actor.kind != "human":
        raise Forbidden(f"Only a teammate can {what}.")


# --- Enterprise features ---------------------------------------------------------------------

# The machine surfaces a plan unlocks: on `enterprise`, and on `trial` until it ends.
ENTERPRISE_FEATURES = ("mcp", "rest_api")
FEATURE_NAMES = {"mcp": "the MCP server", "rest_api": "the REST API"}

# Why a feature is refused, for people and agents alike: the bearer gate's 403, the minting
# form, the CLI. {feature} is a FEATURE_NAMES entry; {Feature} the same, capitalised.
LOCK_MESSAGES = {
    "plan_required": "{Feature} is an Enterprise feature and this workspace is on the {plan} "
    "plan. It unlocks when the operator moves the workspace to Enterprise "
    "(`deskwoot plan set {slug} enterprise`).",
    "trial_expired": "This workspace's 7-day Enterprise trial has ended, so {feature} is "
    "locked. It unlocks when the operator moves the workspace to Enterprise "
    "(`deskwoot plan set {slug} enterprise`).",
    "mcp_disabled": "The MCP server is turned off for this workspace. An admin can enable it "
    "under Settings > MCP Server.",
}


def feature_lock_reason(workspace, feature: str, now: datetime | None = None) -> str | None:
    """Why the workspace's plan does not allow `feature` right now (`plan_required`,
    `trial_expired`), or None when it does. Every Enterprise feature follows the same plan."""
    if feature not in ENTERPRISE_FEATURES:
        raise ValueError(f"not an Enterprise feature: {feature}")
    now = now or utcnow()
    if workspace.plan == "enterprise":
        return None
    if workspace.plan == "trial":
        if workspace.trial_ends_at is not None and now < workspace.trial_ends_at:
            return None
        return "trial_expired"
    return "plan_required"


def mcp_lock_reason(workspace, now: datetime | None = None) -> str | None:
    """feature_lock_reason for the MCP server: its plan lock, not its switch."""
    return feature_lock_reason(workspace, "mcp", now)


def switch_lock_reason(workspace, feature: str) -> str | None:
    """Why the feature's own switch refuses it, or None. The MCP server is off until an admin
    turns it on, and it needs the workspace's bot, which a token acts as."""
    if feature == "mcp" and (not workspace.mcp_enabled or workspace.bot_user_id is None):
        return "mcp_disabled"
    return None


def lock_message(reason: str, workspace, feature: str) -> str:
    """The LOCK_MESSAGES entry for `reason`, naming the feature, plan and workspace."""
    name = FEATURE_NAMES[feature]
    return LOCK_MESSAGES[reason].format(
        feature=name, Feature=name[:1].upper() + name[1:], plan=workspace.plan, slug=workspace.slug
    )


def require_feature(workspace: Workspace, feature: str) -> None:
    """Forbidden unless the workspace's plan includes `feature` now."""
    reason = feature_lock_reason(workspace, feature)
    if reason is not None:
        raise Forbidden(lock_message(reason, workspace, feature), reason=reason)


def require_mcp_plan(workspace: Workspace) -> None:
    """New MCP tokens only on a plan that includes the MCP server (Enterprise or a live trial)."""
    require_feature(workspace, "mcp")
