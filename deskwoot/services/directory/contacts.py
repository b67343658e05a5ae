"""Contacts: the customers a workspace talks to."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from deskwoot import policy
from deskwoot.database.transactions import write_transaction
from deskwoot.errors import Conflict, Invalid
from deskwoot.extensions import db
from deskwoot.models import Contact, ContactNote, Conversation, utcnow
from deskwoot.policy import Actor
from deskwoot.services import validation
from deskwoot.services.activity import event_recorder as events
from deskwoot.services.conversations import search
from deskwoot.services.directory.workspaces import normalize_email

EDITABLE = ("name", "email", "phone", "identifier")


def _clean(fields: dict) -> dict:
    out = {}
    if "name" in fields:
        out["name"] = validation.text(fields["name"], "name", max_len=200)
    if "email" in fields:
        out["email"] = normalize_email(fields["email"]) if fields["email"] else None
    if "phone" in fields:
        out["phone"] = validation.phone(fields["phone"])
    if "identifier" in fields:
        out["identifier"] = validation.text(fields["identifier"], "identifier", max_len=200)
    if "custom_attributes" in fields:
        out["custom_attributes"] = validation.attributes(fields["custom_attributes"])
    return out


def _check_unique(actor: Actor, values: dict, exclude_id: int | None = None) -> None:
    for field in ("email", "identifier"):
        value = values.get(field)
        if not value:
            continue
        query = select(Contact.id).where(
            Contact.workspace_id == actor.workspace_id, getattr(Contact, field) == value
        )
        if exclude_id is not None:
            query = query.where(Contact.id != exclude_id)
        if db.session.execute(query).first():
            raise value_taken(field)


def value_taken(field: str) -> Conflict:
    """The refusal when an email or identifier belongs to another contact.

    One answer whether or not the actor can see that contact (an inbox-restricted token or
    agent may not): uniqueness forces a refusal, but the answer says no more than that, not
    that "a contact exists", nor which one. The way to reach an existing customer from a
    restricted inbox is start_conversation, which attaches the contact (see there).
    """
    return Conflict(
        f"That {field} cannot be used for this contact: each email and identifier can belong "
        "to only one contact in the workspace.",
        field=field,
    )


def create_contact(actor: Actor, **fields) -> Contact:
    """Create a contact; at least one of name, email, phone or identifier is needed."""
    policy.require_scope(actor, "contacts:write")
    values = _clean(fields)
    if not any(values.get(f) for f in EDITABLE):
        raise Invalid("Give the contact at least a name, email, phone or identifier.")
    with write_transaction() as session:
        _check_unique(actor, values)
        now = utcnow()
        contact = Contact(
            workspace_id=actor.workspace_id,
            created_via=actor.via if actor.via in ("web", "cli", "mcp", "api") else "web",
            created_at=now,
            updated_at=now,
            **{"custom_attributes": {}, **values},
        )
        session.add(contact)
        _flush_unique(session)
        events.append(actor, "contact.created", contact_id=contact.id, data=_snapshot(contact))
    return contact


def _flush_unique(session) -> None:
    """Flush, turning a lost race on the email/identifier constraints into a Conflict.

    _check_unique catches the common case; two writers racing on PostgreSQL can both pass it,
    and the loser then meets the unique index here.
    """
    try:
        session.flush()
    except IntegrityError as exc:
        raise value_taken("email or identifier") from exc


def update_contact(actor: Actor, contact_id: int, **fields) -> Contact:
    """Change a contact's fields; custom_attributes are merged (null removes a key)."""
    policy.require_scope(actor, "contacts:write")
    values = _clean(fields)
    with write_transaction() as session:
        contact = policy.get_contact(actor, contact_id)
        _check_unique(actor, values, exclude_id=contact.id)
        changed = {}
        for field, value in values.items():
            if field == "custom_attributes":
                value = validation.merge_attributes(contact.custom_attributes, value)
            if getattr(contact, field) != value:
                changed[field] = value
                setattr(contact, field, value)
        if not any(getattr(contact, f) for f in EDITABLE):
            raise Invalid("A contact needs at least a name, email, phone or identifier.")
        if changed:
            contact.updated_at = utcnow()
            _flush_unique(session)
            events.append(
                actor,
                "contact.updated",
                contact_id=contact.id,
                data={"changed": sorted(changed), **_snapshot(contact)},
            )
    return contact


def add_note(actor: Actor, contact_id: int, body: str) -> ContactNote:
    """Leave a note on a contact's profile (team-only)."""
    policy.require_scope(actor, "contacts:write")
    body = validation.body(body)
    with write_transaction() as session:
        contact = policy.get_contact(actor, contact_id)
        note = ContactNote(
            workspace_id=actor.workspace_id,
            contact_id=contact.id,
            author_id=actor.user_id,
            token_id=actor.token_id,
            body=body,
            created_at=utcnow(),
        )
        session.add(note)
        session.flush()
        contact.updated_at = utcnow()
        events.append(
            actor,
            "contact.updated",
            contact_id=contact.id,
            data={"changed": ["notes"], "note_id": note.id},
        )
    return note


def get_contact(actor: Actor, contact_id: int) -> Contact:
    policy.require_scope(actor, "contacts:read")
    return policy.get_contact(actor, contact_id)


def conversations_of(actor: Actor, contact_id: int) -> list[Conversation]:
    """The contact's conversations that the actor can see, newest first."""
    contact = policy.get_contact(actor, contact_id)
    return list(
        db.session.execute(
            policy.conversations(actor)
            .where(Conversation.contact_id == contact.id)
            .order_by(Conversation.last_activity_at.desc())
        ).scalars()
    )


def list_contacts(actor: Actor, limit: int = 50, offset: int = 0) -> list[Contact]:
    policy.require_scope(actor, "contacts:read")
    return list(
        db.session.execute(
            policy.contacts(actor)
            .order_by(Contact.updated_at.desc(), Contact.id.desc())
            .limit(limit)
            .offset(offset)
        ).scalars()
    )


def search_contacts(actor: Actor, q: str | None, limit: int = 25, offset: int = 0) -> list[Contact]:
    """Contacts matching `q` by name, email, phone or identifier (all when q is empty)."""
    policy.require_scope(actor, "contacts:read")
    query = policy.contacts(actor)
    match = search.contact_match(q)
    if match is not None:
        query = query.where(match)
    return list(
        db.session.execute(
            query.order_by(Contact.updated_at.desc(), Contact.id.desc()).limit(limit).offset(offset)
        ).scalars()
    )


def search_contacts_after(
    actor: Actor, q: str, after_id: int | None, limit: int = 25
) -> tuple[list[Contact], bool]:
    """Contacts matching `q`, newest first, after a keyset position (for agents' paging)."""
    policy.require_scope(actor, "contacts:read")
    query = policy.contacts(actor).where(search.contact_match(q))
    if after_id is not None:
        query = query.where(Contact.id < int(after_id))
    rows = list(db.session.execute(query.order_by(Contact.id.desc()).limit(limit + 1)).scalars())
    return rows[:limit], len(rows) > limit


def find_or_create_for_inbound(actor: Actor, inbox_id: int, fields: dict) -> Contact:
    """Match an inbound sender by identifier, then email; create the contact when new."""
    values = _clean({k: fields.get(k) for k in ("name", "email", "identifier") if k in fields})
    contact = None
    for field in ("identifier", "email"):
        if values.get(field):
            contact = db.session.execute(
                select(Contact).where(
                    Contact.workspace_id == actor.workspace_id,
                    getattr(Contact, field) == values[field],
                )
            ).scalar_one_or_none()
            if contact:
                break
    if contact is not None:
        if values.get("name") and not contact.name:
            contact.name = values["name"]
        return contact
    if not any(values.get(f) for f in ("name", "email", "identifier")):
        raise Invalid("contact needs an email, identifier or name.", field="contact")
    now = utcnow()
    contact = Contact(
        workspace_id=actor.workspace_id,
        created_via="inbound",
        created_at=now,
        updated_at=now,
        custom_attributes={},
        **values,
    )
    db.session.add(contact)
    db.session.flush()
    events.append(
        actor,
        "contact.created",
        contact_id=contact.id,
        inbox_id=inbox_id,
        data=_snapshot(contact),
    )
    return contact


def _snapshot(contact: Contact) -> dict:
    return {
        "contact_id": contact.id,
        "name": contact.name,
        "email": contact.email,
        "phone": contact.phone,
        "identifier": contact.identifier,
    }
