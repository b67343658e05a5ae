"""one search document per conversation

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 07:30:00

Conversation search used to look in three indexes (message bodies, subjects, contacts) and
sort everything that matched, so a common word cost as much as the number of conversations
it appeared in. Now each conversation has ONE search document (conversation_search): its
subject, its contact's name and e-mail and the text of all its messages, kept current by
triggers. Its `key` is a sequence number that moves to the top whenever the conversation
has activity, so "most recent activity first" is the key descending, and a search is one
index walk that stops as soon as a page is full (deskwoot/services/conversations/search.py).

- SQLite: an FTS5 index over the documents whose rowid is the key (detail=none: no
  positions, which search never uses; prefix indexes for 1-8 characters, so the last
  word's prefix is one lookup instead of a merge of every matching term's postings). The
  head also carries private-use marker tokens for the workspace, inbox, status, priority,
  assignee and labels, so the index itself narrows a search to the caller's reach and
  filters before any row is read.
- PostgreSQL: the document as a stripped tsvector with a GIN index, and a
  (workspace_id, key) index to walk in order.

The per-source indexes (messages_fts / conversations_fts, or the messages' and
conversations' search_vector columns) are dropped: nothing reads them any more, and every
message insert paid for them. contacts_fts / contacts.search_vector stay (contact search).
"""

import sqlite3

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TOKENIZE = "porter unicode61 remove_diacritics 2"
# U+E000 (private use): a marker token can never come from what a person types, because
# search.terms() keeps letters and digits only.
MARK = "char(57344)"

# --- SQLite ----------------------------------------------------------------------------------

# Written text never carries U+E000, so it cannot fake a marker token.
SQLITE_BODIES = (
    "(SELECT coalesce(replace(group_concat(body, char(10)), char(57344), ''), '') FROM "
    "(SELECT body FROM messages WHERE conversation_id = {id} ORDER BY id))"
)
SQLITE_HEAD_CHANGED = (
    "new.workspace_id IS NOT old.workspace_id OR new.inbox_id IS NOT old.inbox_id "
    "OR new.status IS NOT old.status OR new.priority IS NOT old.priority "
    "OR new.assignee_id IS NOT old.assignee_id OR new.subject IS NOT old.subject "
    "OR new.contact_id IS NOT old.contact_id"
)
SQLITE_NEW_HEAD = "(SELECT head FROM conversation_search_heads WHERE conversation_id = {id})"
SQLITE_MOVED = (
    "new.last_activity_at > old.last_activity_at "
    "AND conversation_search.key < (SELECT max(key) FROM conversation_search)"
)

SQLITE_UPGRADE = f"""
CREATE TABLE conversation_search (
    key INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL UNIQUE,
    head TEXT NOT NULL,
    body TEXT NOT NULL
);

-- What a document's head says: marker tokens for what lists filter on (workspace, inbox,
-- status, priority, assignee (0: none), labels), then the searchable words of the
-- conversation and its contact.
CREATE VIEW conversation_search_heads (conversation_id, head) AS
SELECT c.id,
       {MARK} || 'w' || c.workspace_id || ' ' || {MARK} || 'i' || c.inbox_id || ' '
       || {MARK} || 's' || c.status || ' ' || {MARK} || 'p' || c.priority || ' '
       || {MARK} || 'a' || coalesce(c.assignee_id, 0) || ' '
       || coalesce((SELECT group_concat({MARK} || 'l' || label_id, ' ')
                    FROM conversation_labels WHERE conversation_id = c.id), '') || ' '
       || replace(coalesce(c.subject, '') || ' ' || coalesce(k.name, '') || ' '
                  || coalesce(k.email, ''), {MARK}, '')
FROM conversations c LEFT JOIN contacts k ON k.id = c.contact_id;

-- Existing conversations, oldest activity first, so the keys follow last_activity_at.
INSERT INTO conversation_search (key, conversation_id, head, body)
SELECT row_number() OVER (ORDER BY c.last_activity_at, c.id), c.id, h.head,
       {SQLITE_BODIES.format(id="c.id")}
FROM conversations c JOIN conversation_search_heads h ON h.conversation_id = c.id;

CREATE VIRTUAL TABLE conversation_search_fts USING fts5(
    head, body, content='conversation_search', content_rowid='key',
    detail='none', columnsize=0, prefix='1 2 3 4 5 6 7 8', tokenize='{TOKENIZE}'
);
-- Every message rewrites its conversation's document, so merging segments is most of the
-- cost of a write: merge 16 at a time instead of 4 (half the rewriting, a few more segments
-- for a search to look in), and never all at once below 64.
INSERT INTO conversation_search_fts (conversation_search_fts, rank) VALUES ('automerge', 16);
INSERT INTO conversation_search_fts (conversation_search_fts, rank) VALUES ('crisismerge', 64);
INSERT INTO conversation_search_fts (conversation_search_fts) VALUES ('rebuild');
INSERT INTO conversation_search_fts (conversation_search_fts) VALUES ('optimize');

-- The FTS index follows the documents (external content).
CREATE TRIGGER conversation_search_ai AFTER INSERT ON conversation_search BEGIN
  INSERT INTO conversation_search_fts (rowid, head, body) VALUES (new.key, new.head, new.body);
END;
CREATE TRIGGER conversation_search_ad AFTER DELETE ON conversation_search BEGIN
  INSERT INTO conversation_search_fts (conversation_search_fts, rowid, head, body)
    VALUES ('delete', old.key, old.head, old.body);
END;
CREATE TRIGGER conversation_search_au AFTER UPDATE ON conversation_search BEGIN
  INSERT INTO conversation_search_fts (conversation_search_fts, rowid, head, body)
    VALUES ('delete', old.key, old.head, old.body);
  INSERT INTO conversation_search_fts (rowid, head, body) VALUES (new.key, new.head, new.body);
END;

-- The documents follow the conversations, their messages and their contacts.
CREATE TRIGGER conversations_search_ai AFTER INSERT ON conversations BEGIN
  INSERT INTO conversation_search (key, conversation_id, head, body)
  SELECT (SELECT coalesce(max(key), 0) + 1 FROM conversation_search), conversation_id, head, ''
  FROM conversation_search_heads WHERE conversation_id = new.id;
END;
-- One rewrite when the head changes and/or the conversation has newer activity; none when
-- it is already the most recent (add_message's own trigger moved it a moment ago).
CREATE TRIGGER conversations_search_au
AFTER UPDATE OF workspace_id, inbox_id, status, priority, assignee_id, subject, contact_id,
                last_activity_at
ON conversations BEGIN
  UPDATE conversation_search
  SET head = CASE WHEN {SQLITE_HEAD_CHANGED} THEN {SQLITE_NEW_HEAD.format(id="new.id")}
                  ELSE head END,
      key = CASE WHEN {SQLITE_MOVED}
                 THEN (SELECT max(key) + 1 FROM conversation_search) ELSE key END
  WHERE conversation_id = new.id AND ({SQLITE_HEAD_CHANGED} OR ({SQLITE_MOVED}));
END;
CREATE TRIGGER conversations_search_ad AFTER DELETE ON conversations BEGIN
  DELETE FROM conversation_search WHERE conversation_id = old.id;
END;
-- A message adds its text; one that is not a private note is activity (thread.add_message
-- bumps last_activity_at for it), so the document moves to the top in the same rewrite.
CREATE TRIGGER messages_search_ai AFTER INSERT ON messages BEGIN
  UPDATE conversation_search
  SET body = CASE WHEN body = '' THEN replace(new.body, {MARK}, '')
                  ELSE body || char(10) || replace(new.body, {MARK}, '') END,
      key = CASE WHEN new.kind = 'note' THEN key
                 ELSE (SELECT max(key) + 1 FROM conversation_search) END
  WHERE conversation_id = new.conversation_id;
END;
CREATE TRIGGER messages_search_au AFTER UPDATE OF body, conversation_id ON messages
WHEN new.body IS NOT old.body OR new.conversation_id IS NOT old.conversation_id BEGIN
  UPDATE conversation_search
  SET body = {SQLITE_BODIES.format(id="conversation_search.conversation_id")}
  WHERE conversation_id IN (old.conversation_id, new.conversation_id);
END;
-- Skipped while a deleted conversation takes its messages along (its document is gone).
CREATE TRIGGER messages_search_ad AFTER DELETE ON messages
WHEN EXISTS (SELECT 1 FROM conversations WHERE id = old.conversation_id) BEGIN
  UPDATE conversation_search
  SET body = {SQLITE_BODIES.format(id="old.conversation_id")}
  WHERE conversation_id = old.conversation_id;
END;
CREATE TRIGGER contacts_search_au AFTER UPDATE OF name, email ON contacts
WHEN new.name IS NOT old.name OR new.email IS NOT old.email BEGIN
  UPDATE conversation_search
  SET head = {SQLITE_NEW_HEAD.format(id="conversation_search.conversation_id")}
  WHERE conversation_id IN (SELECT id FROM conversations WHERE contact_id = new.id);
END;
CREATE TRIGGER conversation_labels_search_ai AFTER INSERT ON conversation_labels BEGIN
  UPDATE conversation_search SET head = {SQLITE_NEW_HEAD.format(id="new.conversation_id")}
  WHERE conversation_id = new.conversation_id;
END;
CREATE TRIGGER conversation_labels_search_ad AFTER DELETE ON conversation_labels BEGIN
  UPDATE conversation_search SET head = {SQLITE_NEW_HEAD.format(id="old.conversation_id")}
  WHERE conversation_id = old.conversation_id;
END;
"""  # noqa: S608 - built from the constants above

SQLITE_OBJECTS = {
    "trigger": (
        "conversation_labels_search_ad",
        "conversation_labels_search_ai",
        "contacts_search_au",
        "messages_search_ad",
        "messages_search_au",
        "messages_search_ai",
        "conversations_search_ad",
        "conversations_search_au",
        "conversations_search_ai",
        "conversation_search_au",
        "conversation_search_ad",
        "conversation_search_ai",
    ),
    "table": ("conversation_search_fts", "conversation_search"),
    "view": ("conversation_search_heads",),
}

# The per-source indexes of revision 0001 (made there with sqlite-utils), dropped here and
# recreated by the downgrade exactly as 0001 left them.
OLD_SQLITE = {"messages": ["body"], "conversations": ["subject"]}


def _sqlite_upgrade() -> None:
    for table in OLD_SQLITE:
        for suffix in ("ai", "ad", "au"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_{suffix}")
        op.execute(f"DROP TABLE IF EXISTS {table}_fts")
    bind = op.get_bind()
    for statement in _sqlite_statements(SQLITE_UPGRADE):
        bind.exec_driver_sql(statement)


def _sqlite_downgrade() -> None:
    for kind, names in SQLITE_OBJECTS.items():
        for name in names:
            op.execute(f"DROP {kind.upper()} IF EXISTS {name}")
    import sqlite_utils

    db = sqlite_utils.Database(op.get_bind().connection.driver_connection)
    for table, columns in OLD_SQLITE.items():
        db[table].enable_fts(
            columns, fts_version="FTS5", create_triggers=True, tokenize=TOKENIZE, replace=True
        )
    db.executescript("""
        DROP TRIGGER conversations_au;
        CREATE TRIGGER conversations_au AFTER UPDATE OF subject ON conversations BEGIN
          INSERT INTO conversations_fts (conversations_fts, rowid, subject)
            VALUES ('delete', old.rowid, old.subject);
          INSERT INTO conversations_fts (rowid, subject) VALUES (new.rowid, new.subject);
        END;
    """)


# --- PostgreSQL -------------------------------------------------------------------------------

PG_UPGRADE = r"""
CREATE SEQUENCE conversation_search_key_seq AS bigint;

CREATE TABLE conversation_search (
    conversation_id integer PRIMARY KEY REFERENCES conversations (id) ON DELETE CASCADE,
    workspace_id integer NOT NULL,
    key bigint NOT NULL,
    document tsvector NOT NULL
);

-- The marker lexemes of what lists filter on (as SQLite's heads), made as lexemes directly.
CREATE FUNCTION conversation_search_marks(conversation integer) RETURNS tsvector
LANGUAGE sql STABLE AS $$
  SELECT array_to_tsvector(
           ARRAY[chr(57344) || 'w' || c.workspace_id, chr(57344) || 'i' || c.inbox_id,
                 chr(57344) || 's' || c.status, chr(57344) || 'p' || c.priority,
                 chr(57344) || 'a' || coalesce(c.assignee_id, 0)]
           || ARRAY(SELECT chr(57344) || 'l' || l.label_id FROM conversation_labels l
                    WHERE l.conversation_id = c.id))
  FROM conversations c WHERE c.id = conversation
$$;

-- Text as lexemes, never a marker (written text cannot fake one).
CREATE FUNCTION conversation_search_lexemes(body text) RETURNS tsvector
LANGUAGE sql IMMUTABLE AS $$
  SELECT strip(to_tsvector('english', replace(body, chr(57344), '')))
$$;

-- A conversation's whole document: the lexemes of its subject, its contact's name and
-- e-mail and every message, without positions (search never uses them, and a stripped
-- vector stays small however long the thread grows), plus its marks.
CREATE FUNCTION conversation_search_document(conversation integer) RETURNS tsvector
LANGUAGE sql STABLE AS $$
  SELECT conversation_search_lexemes(
           coalesce(c.subject, '') || ' ' || coalesce(k.name, '') || ' '
           || translate(coalesce(k.email, ''), '@.', '  ') || ' '
           || coalesce((SELECT string_agg(m.body, E'\n' ORDER BY m.id)
                        FROM messages m WHERE m.conversation_id = c.id), ''))
         || conversation_search_marks(c.id)
  FROM conversations c LEFT JOIN contacts k ON k.id = c.contact_id
  WHERE c.id = conversation
$$;

-- The same document with its marks made again (status, assignee, labels... changed).
CREATE FUNCTION conversation_search_remarked(document tsvector, conversation integer)
RETURNS tsvector LANGUAGE sql STABLE AS $$
  SELECT ts_delete(document, ARRAY(SELECT lexeme FROM unnest(tsvector_to_array(document)) lexeme
                                   WHERE left(lexeme, 1) = chr(57344)))
         || conversation_search_marks(conversation)
$$;

-- Existing conversations, oldest activity first, so the keys follow last_activity_at.
INSERT INTO conversation_search (conversation_id, workspace_id, key, document)
SELECT c.id, c.workspace_id, nextval('conversation_search_key_seq'),
       conversation_search_document(c.id)
FROM (SELECT id, workspace_id FROM conversations ORDER BY last_activity_at, id) c;

CREATE UNIQUE INDEX ix_conversation_search_order ON conversation_search (workspace_id, key);
CREATE INDEX ix_conversation_search_document ON conversation_search USING gin (document);

CREATE FUNCTION conversation_search_conversation_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO conversation_search (conversation_id, workspace_id, key, document)
    VALUES (NEW.id, NEW.workspace_id, nextval('conversation_search_key_seq'),
            conversation_search_document(NEW.id));
    RETURN NULL;
  END IF;
  IF NEW.subject IS DISTINCT FROM OLD.subject OR NEW.contact_id IS DISTINCT FROM OLD.contact_id
     OR NEW.workspace_id IS DISTINCT FROM OLD.workspace_id THEN
    UPDATE conversation_search
    SET document = conversation_search_document(NEW.id), workspace_id = NEW.workspace_id
    WHERE conversation_id = NEW.id;
  ELSIF NEW.inbox_id IS DISTINCT FROM OLD.inbox_id OR NEW.status IS DISTINCT FROM OLD.status
     OR NEW.priority IS DISTINCT FROM OLD.priority
     OR NEW.assignee_id IS DISTINCT FROM OLD.assignee_id THEN
    UPDATE conversation_search SET document = conversation_search_remarked(document, NEW.id)
    WHERE conversation_id = NEW.id;
  END IF;
  -- Newer activity moves the document to the top, unless the message that caused it
  -- already did (messages' trigger).
  IF NEW.last_activity_at > OLD.last_activity_at THEN
    UPDATE conversation_search SET key = nextval('conversation_search_key_seq')
    WHERE conversation_id = NEW.id
      AND key < (SELECT max(key) FROM conversation_search WHERE workspace_id = NEW.workspace_id);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER conversations_search_ai AFTER INSERT ON conversations
FOR EACH ROW EXECUTE FUNCTION conversation_search_conversation_changed();
CREATE TRIGGER conversations_search_au
AFTER UPDATE OF workspace_id, inbox_id, status, priority, assignee_id, subject, contact_id,
                last_activity_at
ON conversations
FOR EACH ROW EXECUTE FUNCTION conversation_search_conversation_changed();

-- A message adds its lexemes; one that is not a private note is activity, so the
-- document moves to the top in the same update.
CREATE FUNCTION conversation_search_message_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE conversation_search
    SET document = document || conversation_search_lexemes(NEW.body),
        key = CASE WHEN NEW.kind = 'note' THEN key
                   ELSE nextval('conversation_search_key_seq') END
    WHERE conversation_id = NEW.conversation_id;
    RETURN NULL;
  END IF;
  IF TG_OP = 'UPDATE' THEN
    UPDATE conversation_search SET document = conversation_search_document(conversation_id)
    WHERE conversation_id IN (OLD.conversation_id, NEW.conversation_id);
    RETURN NULL;
  END IF;
  UPDATE conversation_search SET document = conversation_search_document(conversation_id)
  WHERE conversation_id = OLD.conversation_id;
  RETURN NULL;
END $$;

CREATE TRIGGER messages_search_ai AFTER INSERT ON messages
FOR EACH ROW EXECUTE FUNCTION conversation_search_message_changed();
CREATE TRIGGER messages_search_au AFTER UPDATE OF body, conversation_id ON messages
FOR EACH ROW WHEN (NEW.body IS DISTINCT FROM OLD.body
                   OR NEW.conversation_id IS DISTINCT FROM OLD.conversation_id)
EXECUTE FUNCTION conversation_search_message_changed();
CREATE TRIGGER messages_search_ad AFTER DELETE ON messages
FOR EACH ROW EXECUTE FUNCTION conversation_search_message_changed();

CREATE FUNCTION conversation_search_contact_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE conversation_search SET document = conversation_search_document(conversation_id)
  WHERE conversation_id IN (SELECT id FROM conversations WHERE contact_id = NEW.id);
  RETURN NULL;
END $$;

CREATE TRIGGER contacts_search_au AFTER UPDATE OF name, email ON contacts
FOR EACH ROW WHEN (NEW.name IS DISTINCT FROM OLD.name OR NEW.email IS DISTINCT FROM OLD.email)
EXECUTE FUNCTION conversation_search_contact_changed();

CREATE FUNCTION conversation_search_labels_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  conversation integer := CASE WHEN TG_OP = 'DELETE' THEN OLD.conversation_id
                               ELSE NEW.conversation_id END;
BEGIN
  UPDATE conversation_search SET document = conversation_search_remarked(document, conversation)
  WHERE conversation_id = conversation;
  RETURN NULL;
END $$;

CREATE TRIGGER conversation_labels_search AFTER INSERT OR DELETE ON conversation_labels
FOR EACH ROW EXECUTE FUNCTION conversation_search_labels_changed();

DROP INDEX ix_messages_search;
ALTER TABLE messages DROP COLUMN search_vector;
DROP INDEX ix_conversations_search;
ALTER TABLE conversations DROP COLUMN search_vector;
"""

PG_DOWNGRADE = """
DROP TRIGGER conversation_labels_search ON conversation_labels;
DROP FUNCTION conversation_search_labels_changed();
DROP TRIGGER contacts_search_au ON contacts;
DROP TRIGGER messages_search_ad ON messages;
DROP TRIGGER messages_search_au ON messages;
DROP TRIGGER messages_search_ai ON messages;
DROP TRIGGER conversations_search_au ON conversations;
DROP TRIGGER conversations_search_ai ON conversations;
DROP FUNCTION conversation_search_contact_changed();
DROP FUNCTION conversation_search_message_changed();
DROP FUNCTION conversation_search_conversation_changed();
DROP TABLE conversation_search;
DROP FUNCTION conversation_search_remarked(tsvector, integer);
DROP FUNCTION conversation_search_document(integer);
DROP FUNCTION conversation_search_lexemes(text);
DROP FUNCTION conversation_search_marks(integer);
DROP SEQUENCE conversation_search_key_seq;

ALTER TABLE messages ADD COLUMN search_vector tsvector
  GENERATED ALWAYS AS (to_tsvector('english', coalesce(body, ''))) STORED;
CREATE INDEX ix_messages_search ON messages USING gin (search_vector);
ALTER TABLE conversations ADD COLUMN search_vector tsvector
  GENERATED ALWAYS AS (to_tsvector('english', coalesce(subject, ''))) STORED;
CREATE INDEX ix_conversations_search ON conversations USING gin (search_vector);
"""


def _sqlite_statements(script: str) -> list[str]:
    """One statement at a time (sqlite3 runs one per call; executescript would commit)."""
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        if not current.strip() and line.lstrip().startswith("--"):
            continue
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    return statements


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_upgrade()
    else:
        op.get_bind().exec_driver_sql(PG_UPGRADE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_downgrade()
    else:
        op.get_bind().exec_driver_sql(PG_DOWNGRADE)
