"""How Deskwoot names whoever did something, in one place (thread, drafts, list, audit log).

One rule, wherever a name is shown:

- a teammate: their name;
- a bot (an agent on an MCP token): the token's name, marked with a "Bot" badge. The token
  is what an admin named and minted ("OpenClaw triage bot"); the workspace's bot service
  account behind every token ("Shiftly bot") is only the fallback once the token is deleted;
- the operator's command line: "Operator (CLI)"; any other system actor (the demo seed, the
  snooze timer, an inbox's inbound hook) by its own name;
- a customer: their display name.

Rows arrive in several shapes (ORM messages, the plain rows of conversations/reads.py, draft context
messages, audit entries), so there is one small adapter per shape, all ending in `name_actor`.
"""

from __future__ import annotations

from dataclasses import dataclass

from deskwoot.policy import OPERATOR_NAME as OPERATOR

# The name policy.system_actor gave the CLI operator before it said "(CLI)": rows written then
# (audit entries, events) carry it.
_OPERATOR_DEFAULT = "Operator"


@dataclass(frozen=True)
class ActorName:
    name: str
    is_bot: bool = False

    def __str__(self) -> str:
        return self.name


def name_actor(actor_type: str, name: str | None = None, token_name: str | None = None):
    """The one naming rule. `actor_type` is a message's sender_type or an audit/event row's
    actor_type: "user", "bot", "system" or "contact"."""
    if actor_type == "bot":
        return ActorName(token_name or name or "Bot", is_bot=True)
    if actor_type == "user":
        return ActorName(name or "Former teammate")
    if actor_type == "contact":
        return ActorName(name or "Customer")
    if not name or name == _OPERATOR_DEFAULT:
        return ActorName(OPERATOR)
    return ActorName(name)


def of_message(message, contact=None) -> ActorName:
    """Who wrote a message (an ORM Message or a reads.MessageRow); `contact` is the
    conversation's contact, the author of an incoming message whose sender was deleted."""
    if message.sender_type == "contact":
        sender = message.sender_contact or contact
        return name_actor("contact", _contact_name(sender))
    user = message.sender_user
    token = message.token
    return name_actor(
        message.sender_type,
        user.name if user is not None else None,
        token.name if token is not None else None,
    )


def of_context_message(message, contact_name: str | None = None) -> ActorName:
    """Who wrote a draft card's context message (services.drafts.ContextMessage)."""
    if message.sender_type == "contact":
        return name_actor("contact", message.sender_contact_name or contact_name)
    return name_actor(message.sender_type, message.sender_user_name, message.token_name)


def of_draft(draft) -> ActorName:
    """Who wrote a draft: always a bot, named by its token."""
    token = draft.token
    return name_actor("bot", token_name=token.name if token is not None else None)


def of_audit(entry, token_names: dict[int, str] | None = None) -> ActorName:
    """Who an audit entry is about; a bot by its token's current name when known."""
    token_name = (token_names or {}).get(entry.token_id) if entry.token_id else None
    return name_actor(entry.actor_type, entry.actor_name, token_name)


def _contact_name(contact) -> str | None:
    if contact is None:
        return None
    return getattr(contact, "display_name", None) or getattr(contact, "name", None)
