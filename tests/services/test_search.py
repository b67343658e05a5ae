"""Conversation search (services/conversations/search.py, migration 0003): what matches, in
which order, within whose reach, how it pages, and that the search documents follow every change."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

from deskwoot import create_app
from deskwoot.database import migrate
from deskwoot.extensions import db
from deskwoot.mcp import cursors
from deskwoot.models import Conversation, InboxMember, Message
from deskwoot.policy import SCOPES
from deskwoot.services.access import mcp_switch as mcp_settings
from deskwoot.services.access import tokens
from deskwoot.services.conversations import inbound, reads, search
from deskwoot.services.conversations import workflow as svc
from deskwoot.services.conversations.filters import ConversationFilters, search_hits
from deskwoot.services.directory import contacts
from tests import factories as f
from tests.conftest import PG_URL


@pytest.fixture
def desk(app):
    ws = f.make_workspace(plan="enterprise")
    admin = f.make_user(ws, role="admin", name="Ada Admin")
    support = f.make_inbox(ws, name="Support")
    billing = f.make_inbox(ws, name="Billing")
    return ws, support, billing, f.actor_for(admin, ws), admin


def found(actor, query, limit=100, **filters) -> list[int]:
    """Display ids the search returns, in its order."""
    filters.setdefault("status", "all")
    rows, _ = reads.list_conversations(
        actor, ConversationFilters(query=query, **filters), limit=limit
    )
    return [r.display_id for r in rows]


def inbound_to(conversation, body):
    """A customer message into an existing conversation."""
    return inbound.receive_inbound(
        conversation.inbox,
        {"email": conversation.contact.email},
        body,
        conversation_display_id=conversation.display_id,
    ).message


def assert_documents_match_a_rebuild():
    """Every document is what rebuilding it from scratch would give, the FTS index agrees
    with the documents, and every conversation has exactly one."""
    documents = db.session.execute(text("SELECT count(*) FROM conversation_search")).scalar()
    assert documents == db.session.query(Conversation).count()
    if db.engine.dialect.name == "sqlite":
        stale = db.session.execute(
            text("""
                SELECT s.conversation_id FROM conversation_search s
                JOIN conversation_search_heads h ON h.conversation_id = s.conversation_id
                WHERE s.head IS NOT h.head OR s.body IS NOT (
                  SELECT coalesce(replace(group_concat(body, char(10)), char(57344), ''), '') FROM
                    (SELECT body FROM messages m WHERE m.conversation_id = s.conversation_id
                     ORDER BY m.id))
            """)
        ).all()
        db.session.execute(
            text(
                "INSERT INTO conversation_search_fts (conversation_search_fts) "
                "VALUES ('integrity-check')"
            )
        )
    else:
        stale = db.session.execute(
            text(
                "SELECT conversation_id FROM conversation_search "
                "WHERE document IS DISTINCT FROM conversation_search_document(conversation_id)"
            )
        ).all()
    db.session.rollback()
    assert stale == []


# --- what matches ----------------------------------------------------------------------------


def test_matches_message_text_subject_and_contact_name_and_email(desk):
    ws, support, billing, admin, _ = desk
    by_text = f.make_conversation(support, content="The blender arrived broken")
    by_subject = f.make_conversation(billing, content="Hello", subject="VAT number missing")
    quill = f.make_contact(ws, name="Zora Quill", email="zq.findme@example.test")
    by_contact = f.make_conversation(support, contact=quill, content="Hi there")

    assert found(admin, "blender") == [by_text.display_id]
    assert found(admin, "vat") == [by_subject.display_id]
    assert found(admin, "Quill") == [by_contact.display_id]
    assert found(admin, "zq.findme@example.test") == [by_contact.display_id]
    assert found(admin, "xylophone") == []


def test_every_word_must_match_somewhere_in_the_conversation_last_one_as_a_prefix(desk):
    _, support, _, admin, _ = desk
    conversation = f.make_conversation(
        support, content="It arrived yesterday", subject="Broken blender"
    )
    other = f.make_conversation(support, content="Blender works fine")
    mine = [conversation.display_id]

    assert found(admin, "blender yesterday") == mine  # subject + message
    assert found(admin, "blender tomorrow") == []
    assert found(admin, "broken yester") == mine  # the last word may be a prefix
    assert found(admin, "blend arrived") == []  # ... the others may not
    assert sorted(found(admin, "blend")) == sorted([*mine, other.display_id])
    # Operators, quotes and punctuation are plain words, never syntax.
    assert found(admin, 'blender" NEAR "fine') == []  # "near" is a word to find
    assert found(admin, "-fine blender") == [other.display_id]  # no NOT either
    assert found(admin, "yesterday_blender") == mine
    assert found(admin, '"; DROP TABLE messages; --') == []


# --- order and paging ------------------------------------------------------------------------


def test_most_recent_activity_first_and_private_notes_do_not_reorder(desk):
    _, support, _, admin, _ = desk
    a, b, c = (f.make_conversation(support, content=f"kiwi question {n}") for n in range(3))
    ids = {a.display_id: "a", b.display_id: "b", c.display_id: "c"}

    def order(query="kiwi"):
        return "".join(ids[d] for d in found(admin, query))

    assert order() == "cba"
    svc.reply(admin, a.display_id, "We are on it")
    assert order() == "acb"
    svc.add_note(admin, b.display_id, "papaya: check the warehouse")
    assert order() == "acb"  # a note is not activity...
    assert order("papaya") == "b"  # ... but its text is searchable
    inbound_to(c, "any news?")
    assert order() == "cab"
    assert_documents_match_a_rebuild()


@pytest.mark.parametrize("window", [search.WINDOW, 2])
def test_pages_follow_the_search_order_without_gaps_or_repeats(desk, window, monkeypatch):
    # A window of 2 makes PostgreSQL find most pages through GIN, older than the window.
    monkeypatch.setattr(search, "WINDOW", window)
    _, support, _, admin, _ = desk
    for n in range(7):
        f.make_conversation(support, content=f"wombat question {n}")
    f.make_conversation(support, content="unrelated")
    everything = found(admin, "wombat")
    assert len(everything) == 7

    filters = ConversationFilters(status="all", query="wombat")
    by_key, before = [], None
    while True:
        hits = search_hits(admin, filters, limit=3, before_key=before)
        page = hits[:3]
        by_key += [db.session.get(Conversation, h.conversation_id).display_id for h in page]
        if len(hits) <= 3:
            break
        before = page[-1].key
    by_offset = []
    for offset in range(0, 9, 3):
        rows, _ = reads.list_conversations(admin, filters, limit=3, offset=offset)
        by_offset += [r.display_id for r in rows]
    assert by_key == by_offset == everything


# --- reach -----------------------------------------------------------------------------------


def test_search_stays_within_the_actors_reach_and_the_filters(desk):
    ws, support, billing, admin, admin_user = desk
    in_support = f.make_conversation(support, content="zeppelin in support")
    in_billing = f.make_conversation(billing, content="zeppelin in billing")
    elsewhere = f.make_workspace()
    f.make_conversation(f.make_inbox(elsewhere), content="zeppelin elsewhere")
    agent = f.make_user(ws, role="agent")
    db.session.add(InboxMember(inbox_id=support.id, user_id=agent.id))  # Support only
    db.session.commit()

    both = [in_billing.display_id, in_support.display_id]
    assert found(admin, "zeppelin") == both
    assert found(f.actor_for(agent, ws), "zeppelin") == [in_support.display_id]
    bot = f.bot_actor(ws, inbox_ids=[billing.id])
    assert found(bot, "zeppelin") == [in_billing.display_id]
    assert found(f.bot_actor(ws, inbox_ids=[support.id, billing.id]), "zeppelin") == both
    assert found(admin, "zeppelin", inbox_id=support.id) == [in_support.display_id]

    svc.set_status(admin, in_support.display_id, "resolved")
    assert found(admin, "zeppelin", status="resolved") == [in_support.display_id]
    assert found(admin, "zeppelin", status="open") == [in_billing.display_id]
    svc.assign(admin, in_billing.display_id, admin_user.id)
    assert found(admin, "zeppelin", assignee="me") == [in_billing.display_id]
    assert found(admin, "zeppelin", assignee="unassigned") == [in_support.display_id]
    svc.set_priority(admin, in_support.display_id, "urgent")
    assert found(admin, "zeppelin", priority="urgent") == [in_support.display_id]
    f.make_label(ws, "VIP")
    svc.update_labels(admin, in_billing.display_id, add=["VIP"])
    assert found(admin, "zeppelin", label="vip") == [in_billing.display_id]
    svc.update_labels(admin, in_billing.display_id, remove=["VIP"])
    assert found(admin, "zeppelin", label="vip") == []
    assert found(admin, "zeppelin", label="no-such-label") == []
    assert_documents_match_a_rebuild()


# --- the documents follow every change -------------------------------------------------------


def test_documents_follow_new_text_subjects_contacts_and_deletions(desk):
    ws, support, _, admin, _ = desk
    contact = f.make_contact(ws, name="Olga Orchard", email="olga@orchard.example")
    conversation = f.make_conversation(
        support, contact=contact, content="first words", subject="Mango"
    )
    mine = [conversation.display_id]

    svc.reply(admin, conversation.display_id, "tangerine delivered")
    assert found(admin, "tangerine") == mine

    conversation.subject = "Lychee"  # no service edits subjects yet; the trigger must follow
    db.session.commit()
    assert found(admin, "lychee") == mine and found(admin, "mango") == []

    contacts.update_contact(admin, contact.id, name="Olga Plum", email="olga@plum.example")
    assert found(admin, "plum") == mine
    assert found(admin, "orchard") == []

    message = db.session.query(Message).filter(Message.body == "tangerine delivered").one()
    db.session.delete(message)
    db.session.commit()
    assert found(admin, "tangerine") == []
    assert found(admin, "first") == mine
    assert_documents_match_a_rebuild()

    db.session.delete(db.session.get(Conversation, conversation.id))
    db.session.commit()
    assert found(admin, "first") == []
    assert_documents_match_a_rebuild()


# --- the MCP tool ----------------------------------------------------------------------------


def _call(client, token, arguments):
    answer = client.post(
        "/api/mcp",
        json={
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": "search_conversations", "arguments": arguments},
        },
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
    ).get_json()
    return answer


def test_tool_pages_with_its_cursor_and_refuses_a_stale_one(desk, client):
    ws, support, _, admin, _ = desk
    mcp_settings.set_enabled(admin, True)
    token = tokens.mint(admin, "Searcher", list(SCOPES)).plaintext
    made = [f.make_conversation(support, content=f"quokka {n}").display_id for n in range(5)]

    seen, cursor = [], None
    while True:
        arguments = {"query": "quokka", "limit": 2} | ({"cursor": cursor} if cursor else {})
        result = _call(client, token, arguments)["result"]["structuredContent"]
        seen += [c["display_id"] for c in result["conversations"]]
        cursor = result["next_cursor"]
        if not result["has_more"]:
            break
    assert seen == list(reversed(made))

    # A cursor in the list order (last_activity_at, id) is not a search position.
    old = cursors.encode(ws.id, "search", {"query": "quokka"}, ["2026-01-01T00:00:00", 3])
    error = _call(client, token, {"query": "quokka", "cursor": old})["error"]
    assert error["code"] == -32602 and "cursor" in error["message"].lower()


# --- how SQLite answers ----------------------------------------------------------------------


@pytest.mark.skipif(bool(PG_URL), reason="SQLite's query plan")
def test_sqlite_walks_the_index_in_order_and_stops_at_the_page(desk):
    ws, support, _, _, _ = desk
    f.make_conversation(support, content="plan me")
    bot = f.bot_actor(ws, inbox_ids=[support.id])
    statements = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if "MATCH" in statement:
            statements.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        filters = ConversationFilters(status="open", priority="none", query="plan")
        assert len(search_hits(bot, filters, limit=25)) == 1
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    [(statement, parameters)] = statements
    plan = db.session.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
    steps = [row[-1] for row in plan]
    assert steps[0].startswith("SCAN conversation_search_fts VIRTUAL TABLE"), steps
    assert not any("TEMP B-TREE" in step for step in steps), steps


# --- the migration ---------------------------------------------------------------------------


@pytest.fixture
def scratch_url(tmp_path):
    """An empty database of its own (the migration is run on it step by step)."""
    if not PG_URL:
        yield f"sqlite:///{tmp_path / 'scratch.sqlite3'}"
        return
    base = make_url(PG_URL).set(drivername="postgresql+psycopg")
    name = "deskwoot_search_migration"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        conn.execute(text(f"CREATE DATABASE {name}"))
    yield base.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def test_migration_backfills_existing_conversations_and_downgrades(scratch_url):
    from alembic import command

    app = create_app({"SQLALCHEMY_DATABASE_URI": scratch_url, "SECRET_KEY": "x", "TESTING": True})
    with app.app_context():
        # The rows are written with today's models, so at head; the schema then goes back to
        # before search (0002), which drops the search documents, and the upgrade must
        # backfill them. (Writing them at 0002 would trip over every column added since.)
        migrate.upgrade()
        ws = f.make_workspace()
        admin = f.actor_for(f.make_user(ws, role="admin"), ws)
        inbox = f.make_inbox(ws)
        contact = f.make_contact(ws, name="Pia Pomelo", email="pia@pomelo.example")
        older = f.make_conversation(inbox, content="durian smell", subject="Fruit box")
        newer = f.make_conversation(inbox, contact=contact, content="durian again")
        svc.reply(admin, older.display_id, "sorry about the durian")  # older is newest now
        older_id, newer_id = older.display_id, newer.display_id  # read before the session ends
        db.session.remove()
        with db.engine.connect() as connection:
            command.downgrade(migrate._config(connection), "0002")
            connection.commit()

        migrate.upgrade()
        assert found(admin, "durian") == [older_id, newer_id]
        assert found(admin, "fruit smell") == [older_id]
        assert found(admin, "pomelo") == [newer_id]
        assert_documents_match_a_rebuild()

        with db.engine.connect() as connection:
            command.downgrade(migrate._config(connection), "0002")
            connection.commit()
        old_index = "messages_fts" if db.engine.dialect.name == "sqlite" else "messages"
        with db.engine.connect() as connection:
            if old_index == "messages_fts":
                hits = connection.execute(
                    text("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'durian'")
                ).scalar()
            else:
                hits = connection.execute(
                    text(
                        "SELECT count(*) FROM messages "
                        "WHERE search_vector @@ to_tsquery('english', 'durian')"
                    )
                ).scalar()
        assert hits == 3

        migrate.upgrade()
        assert found(admin, "durian") == [older_id, newer_id]
        assert found(admin, "sorry") == [older_id]
        db.session.remove()
        db.engine.dispose()
