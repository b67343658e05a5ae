"""Contacts: the customer list and search, profiles, notes and editing."""

from __future__ import annotations

import json

from flask import flash, g, redirect, render_template, request, url_for

from deskwoot.errors import Conflict, Forbidden, Invalid
from deskwoot.services.conversations import workflow as conversation_service
from deskwoot.services.directory import contacts as contact_service
from deskwoot.services.directory import inboxes as inbox_service
from deskwoot.web.common import PER_PAGE, page_arg, place_error, workspace_blueprint
from deskwoot.web.forms import ContactForm, MessageForm, StartConversationForm, choices

bp = workspace_blueprint("contacts", __name__)

REFUSALS = (Invalid, Conflict, Forbidden)
BLANK_ROWS = 3


def show_value(value) -> str:
    """An attribute value as the person typed it: text as is, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def _parse_value(raw: str | None):
    """Numbers, true/false and JSON keep their type; anything else is text; empty removes."""
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return raw
    return raw if isinstance(value, str) or value is None else value


def attribute_changes(rows: list[dict], current: dict) -> dict:
    """Turn the form's key/value rows into a change set for update_contact (None removes)."""
    wanted: dict = {}
    for row in rows:
        key = (row.get("key") or "").strip()
        if key:
            wanted[key] = row.get("value") or ""
    changes: dict = {key: None for key in current if key not in wanted}
    for key, raw in wanted.items():
        # Untouched rows stay exactly as stored, whatever their JSON type.
        if key in current and show_value(current[key]) == raw.strip():
            continue
        changes[key] = _parse_value(raw)
    return changes


def _fill_rows(form: ContactForm, attributes: dict) -> None:
    for key, value in attributes.items():
        form.attributes.append_entry({"key": key, "value": show_value(value)})
    for _ in range(BLANK_ROWS):
        form.attributes.append_entry()


def _fields(form: ContactForm) -> dict:
    return {name: getattr(form, name).data for name in contact_service.EDITABLE}


@bp.get("/contacts")
def index():
    """List contacts, newest activity first, or those matching the search."""
    q = (request.args.get("q") or "").strip()[:200]
    page = page_arg()
    rows = contact_service.search_contacts(
        g.actor, q or None, limit=PER_PAGE + 1, offset=(page - 1) * PER_PAGE
    )
    return render_template(
        "contacts/index.html",
        contacts=rows[:PER_PAGE],
        has_more=len(rows) > PER_PAGE,
        page=page,
        q=q,
    )


@bp.route("/contacts/new", methods=["GET", "POST"])
def new():
    """Add a contact by hand."""
    form = ContactForm()
    if form.validate_on_submit():
        try:
            attributes = attribute_changes(form.attributes.data, {})
            contact = contact_service.create_contact(
                g.actor,
                **_fields(form),
                custom_attributes={k: v for k, v in attributes.items() if v is not None},
            )
        except REFUSALS as error:
            place_error(form, error)
        else:
            flash(f"{contact.display_name} added.", "success")
            return redirect(url_for(".show", contact_id=contact.id))
    elif request.method == "GET":
        _fill_rows(form, {})
    return render_template("contacts/new.html", form=form)


@bp.get("/contacts/<int:contact_id>")
def show(contact_id: int):
    """A contact's profile: details, custom attributes, notes and conversations."""
    return _render_profile(contact_id)


def _render_profile(contact_id: int, note_form=None, start_form=None, status: int = 200):
    contact = contact_service.get_contact(g.actor, contact_id)
    inboxes = inbox_service.list_inboxes(g.actor)
    if start_form is None:
        start_form = StartConversationForm(formdata=None)
    start_form.inbox_id.choices = choices((inbox.id, inbox.name) for inbox in inboxes)
    return render_template(
        "contacts/show.html",
        contact=contact,
        conversations=contact_service.conversations_of(g.actor, contact.id),
        note_form=note_form or MessageForm(formdata=None),
        start_form=start_form,
        show_value=show_value,
    ), status


@bp.route("/contacts/<int:contact_id>/edit", methods=["GET", "POST"])
def edit(contact_id: int):
    """Change a contact's details and custom attributes."""
    contact = contact_service.get_contact(g.actor, contact_id)
    form = ContactForm(obj=contact if request.method == "GET" else None)
    if form.validate_on_submit():
        try:
            contact_service.update_contact(
                g.actor,
                contact.id,
                **_fields(form),
                custom_attributes=attribute_changes(
                    form.attributes.data, contact.custom_attributes
                ),
            )
        except REFUSALS as error:
            place_error(form, error)
        else:
            flash("Contact saved.", "success")
            return redirect(url_for(".show", contact_id=contact.id))
    elif request.method == "GET":
        _fill_rows(form, contact.custom_attributes or {})
    return render_template("contacts/edit.html", form=form, contact=contact)


@bp.post("/contacts/<int:contact_id>/notes")
def add_note(contact_id: int):
    """Leave a note on the contact's profile."""
    form = MessageForm()
    if form.validate_on_submit():
        try:
            contact_service.add_note(g.actor, contact_id, form.body.data)
        except REFUSALS as error:
            form.body.errors = [error.message]
        else:
            flash("Note added.", "success")
            return redirect(url_for(".show", contact_id=contact_id, _anchor="notes"))
    return _render_profile(contact_id, note_form=form, status=422)


@bp.post("/contacts/<int:contact_id>/conversations")
def start_conversation(contact_id: int):
    """Start an outbound conversation with the contact."""
    form = StartConversationForm()
    if form.validate_on_submit():
        try:
            conversation, _message = conversation_service.start_conversation(
                g.actor,
                form.inbox_id.data,
                form.body.data,
                contact_id=contact_id,
                subject=form.subject.data or None,
            )
        except REFUSALS as error:
            form.body.errors = [error.message]
        else:
            flash("Conversation started.", "success")
            return redirect(url_for("conversations.show", display_id=conversation.display_id))
    return _render_profile(contact_id, start_form=form, status=422)
