"""Full-text search: one service for the web and MCP.

Conversations are searched through one document each (table conversation_search, kept
current by the triggers of migration 0003): the subject, the contact's name and e-mail and
the text of every message, notes included. Every word of a query must appear somewhere in
that document; the last word may be a prefix (search-as-you-type).

**Order.** Most recent activity first. Each document has a `key` that moves to the top
whenever its conversation has activity (a message other than a private note, or a newer
last_activity_at), so the key orders conversations by when their latest activity was
recorded. Keys are unique: the order is total, and a page's cursor is the last key seen.
Because the order is the index's own order, a search walks the index newest first and stops
as soon as a page is full: its cost follows the page size, not the number of matches.

- SQLite: FTS5 over the documents, rowid = key, with prefix indexes so the last word's
  prefix is a lookup rather than a merge of every matching term. Each document also holds
  marker tokens (U+E000 + a letter + a value) for its workspace, inbox, status, priority,
  assignee and labels, so the index itself skips what the caller may not see or did not
  ask for; the policy query still applies on top, so a marker can only make a search
  cheaper, never show more.
- PostgreSQL: a stripped tsvector per document (with the same markers as lexemes) and a
  GIN index. GIN cannot return keys in order, so a search reads the newest WINDOW
  documents in key order first and asks GIN for the older matches only when that did not
  fill the page (see _pg_hits).

Contacts keep their own index (contacts_fts / contacts.search_vector).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    cast,
    column,
    func,
    literal,
    literal_column,
    or_,
    select,
    table,
)
from sqlalchemy import text as sql_text
from sqlalchemy.dialects.postgresql import TSQUERY

from deskwoot.database.prebuilt import Prebuilt
from deskwoot.database.transactions import core
from deskwoot.extensions import db
from deskwoot.models import Contact, Conversation

# Letters and digits only: the same words the index's tokenizer sees (it splits on "_"
# and punctuation), and never a marker token.
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
MAX_TERMS = 12
MARK = "\ue000"  # starts the head's marker tokens (see migration 0003)

_DOCUMENTS = table(
    "conversation_search",
    column("key"),
    column("conversation_id"),
    column("workspace_id"),
    column("document"),
)
_FTS = table("conversation_search_fts", column("rowid"))


@dataclass(frozen=True)
class Reach:
    """Where the conversations a search may return live and which filters they pass, as far
    as the index can tell them apart (SQLite's marker tokens). It only makes a search
    cheaper: the caller's policy query still decides what is returned. None: any."""

    workspace_id: int
    inbox_ids: frozenset[int] | None = None
    status: str | None = None
    priority: str | None = None
    assignee_id: int | None = None  # 0: unassigned
    label_ids: frozenset[int] | None = None  # any of these labels


Hit = tuple[int, int]  # (search key, conversation id)


def terms(query: str | None) -> list[str]:
    """Split what a person typed into plain words; operators and quotes are not syntax here."""
    return _WORD.findall(query or "")[:MAX_TERMS]


def _fts5_query(words: list[str], reach: Reach | None = None) -> str:
    # Every word must appear; the last one may be a prefix (search-as-you-type).
    quoted = [f'"{w}"' for w in words]
    quoted[-1] += "*"
    marks = [_any_of(group, '"{}"', " OR ") for group in _marks(reach)]
    return " AND ".join(marks + quoted)  # explicit: FTS5 will not imply AND by "( )"


def _marks_tsquery(reach: Reach) -> str | None:
    # Not the workspace: a column says that, and its lexeme's postings are the longest.
    groups = _marks(reach)[1:]
    return " & ".join(_any_of(group, "'{}'", " | ") for group in groups) or None


def _any_of(marks: list[str], quote: str, or_: str) -> str:
    quoted = [quote.format(mark) for mark in marks]
    return quoted[0] if len(quoted) == 1 else f"({or_.join(quoted)})"


def _marks(reach: Reach | None) -> list[list[str]]:
    """The marker tokens a match must carry (migration 0003): one of each group."""
    if reach is None:
        return []
    groups = [[f"{MARK}w{reach.workspace_id}"]]
    for kind, value in (("s", reach.status), ("p", reach.priority), ("a", reach.assignee_id)):
        if value is not None:
            groups.append([f"{MARK}{kind}{value}"])
    for kind, values in (("i", reach.inbox_ids), ("l", reach.label_ids)):
        if values is not None:  # an empty set matches nothing: a mark no document has
            groups.append([f"{MARK}{kind}{v}" for v in sorted(values)] or [f"{MARK}{kind}-"])
    return groups


def _tsquery(words: list[str]) -> str:
    parts = list(words)
    parts[-1] += ":*"
    return " & ".join(parts)


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _fts5_match(query: str):
    return sql_text("conversation_search_fts MATCH :search_query").bindparams(search_query=query)


def _tsquery_of(words: list[str]):
    return func.to_tsquery("english", _tsquery(words))


def _ts_match(words: list[str]) -> ColumnElement[bool]:
    return _DOCUMENTS.c.document.op("@@")(_tsquery_of(words))


@dataclass(frozen=True)
class Scope:
    """The conversations a search may return: WHERE clauses over Conversation (the policy's
    reach and the list's filters) with their values as bind parameters, a key naming that
    shape (the clauses are the same objects for the same key), and the values."""

    key: tuple
    clauses: tuple
    params: dict

    def base(self) -> Select:
        return select(Conversation).where(*self.clauses).params(self.params)


def walks_with_columns() -> bool:
    """Whether `hits` can return a caller's columns straight from the walk (`widen`): on
    SQLite the walk is one statement in the search's order; PostgreSQL's takes two steps."""
    return _dialect() == "sqlite"


Widen = Callable[[Select, ColumnElement], Select]


def hits(
    scope: Scope,
    query: str | None,
    reach: Reach,
    limit: int,
    offset: int = 0,
    before: int | None = None,
    widen: Widen | None = None,
) -> list:
    """Up to `limit` conversations in `scope` that match `query`, most recent activity
    first, skipping `offset` of them, after the search key `before` if given: (key,
    conversation id) pairs.

    `widen` (SQLite only, see walks_with_columns; a module-level function, as it keys the
    statement cache) turns the walk `select(key, Conversation.id)…` and its key column into
    the statement whose rows are returned instead, as they come: the caller's columns read
    in the same statement that finds the page, so no second statement fetches them."""
    words = terms(query)
    if not words:
        return []
    if widen is not None and not walks_with_columns():
        raise ValueError("only the SQLite walk returns a caller's columns")
    if _dialect() == "sqlite":
        params = {
            **scope.params,
            "search_query": _fts5_query(words, reach),
            "limit": limit,
            "offset": offset,
        }
        if before is not None:
            params["before_key"] = before
        rows = _fts5_walk(scope, before is not None, widen).rows(params)
        return rows if widen is not None else [tuple(row) for row in rows]
    return _pg_hits(scope.base(), words, reach, offset + limit, before)[offset:]


def _fts5_walk(scope: Scope, after_key: bool, widen: Widen | None = None) -> Prebuilt:
    """FTS5 yields matching keys newest first and the joins filter them as they come, so a
    LIMIT stops the walk as soon as a page is full; the marks make it skip, inside the
    index, what the filters would throw away. Built once per scope shape (and `widen`):
    the whole query (words and marks) is one bind parameter."""
    cache_key = (scope.key, after_key, widen)
    if cache_key not in _WALKS:
        key = _FTS.c.rowid
        statement = (
            select(key.label("key"), Conversation.id)
            .select_from(_FTS)
            .join(_DOCUMENTS, _DOCUMENTS.c.key == key)
            .join(Conversation, Conversation.id == _DOCUMENTS.c.conversation_id)
            .where(sql_text("conversation_search_fts MATCH :search_query"), *scope.clauses)
        )
        if after_key:  # on the FTS rowid: FTS5 seeks there
            statement = statement.where(key < bindparam("before_key"))
        if widen is not None:
            statement = widen(statement, key)
        _WALKS[cache_key] = Prebuilt(
            statement.order_by(key.desc()).limit(bindparam("limit")).offset(bindparam("offset"))
        )
    return _WALKS[cache_key]


_WALKS: dict[tuple, Prebuilt] = {}


# PostgreSQL cannot walk a GIN index in key order, and its estimates for a prefix query
# never go below 0.5% of the rows, so left alone it walks the key index for a word that
# matches nothing. Instead: read the newest WINDOW documents in key order and keep those
# that match (enough for a common word); only when that does not fill the page, let GIN
# find every match older than the window and sort those (few, or the window would have
# filled the page: fewer than `want` in WINDOW documents).
WINDOW = 2000


def _pg_hits(
    base: Select, words: list[str], reach: Reach, want: int, before: int | None
) -> list[Hit]:
    documents = _DOCUMENTS
    newest = select(documents.c.key, documents.c.conversation_id, documents.c.document).where(
        documents.c.workspace_id == reach.workspace_id
    )
    if before is not None:
        newest = newest.where(documents.c.key < before)
    recent = newest.order_by(documents.c.key.desc()).limit(WINDOW).subquery("recent")
    found = _pg_page(base, recent, _pg_match(recent.c.document, words, reach), want)
    if len(found) >= want:
        return found
    size, floor = core(select(func.count(), func.min(recent.c.key)).select_from(recent)).one()
    if size < WINDOW:  # the window held every document there is: nothing is older
        return found
    older = (
        select(documents.c.key, documents.c.conversation_id)
        .where(
            documents.c.workspace_id == reach.workspace_id,
            documents.c.key < floor,
            _pg_match(documents.c.document, words, reach),
        )
        .cte("older")
        .prefix_with("MATERIALIZED")  # all of them first (GIN), not a walk of the key index
    )
    # Sorted before the join, so the join stops as soon as the page is full.
    newest_first = select(older).order_by(older.c.key.desc()).subquery("newest_first")
    return found + _pg_page(base, newest_first, None, want - len(found))


def _pg_match(document, words: list[str], reach: Reach) -> ColumnElement[bool]:
    match = document.op("@@")(_tsquery_of(words))
    marks = _marks_tsquery(reach)
    if marks is None:
        return match
    # Two conditions, so that a query of stop words alone still matches nothing.
    return and_(match, document.op("@@")(cast(literal(marks), TSQUERY)))


def _pg_page(base: Select, source, match, want: int) -> list[Hit]:
    statement = (
        base.with_only_columns(source.c.key, Conversation.id, maintain_column_froms=False)
        .select_from(source)
        .join(Conversation, Conversation.id == source.c.conversation_id)
        .order_by(source.c.key.desc())
        .limit(want)
    )
    if match is not None:
        statement = statement.where(match)
    # core(): on read_alone's connection when the agent's search runs there (the SQLite walk
    # is a prebuilt statement; these are built per query).
    return [tuple(row) for row in core(statement)]


def conversation_match(query: str | None) -> ColumnElement[bool] | None:
    """A WHERE clause: the conversation's document matches `query` (message text, subject or
    contact name/email). None when the query has no searchable words.

    For lists use `hits`, which reads matches in order and stops at the page's end; this
    predicate is for combining with other conditions where order does not matter.
    """
    words = terms(query)
    if not words:
        return None
    if _dialect() == "sqlite":
        matching = (
            select(_DOCUMENTS.c.conversation_id)
            .select_from(_FTS)
            .join(_DOCUMENTS, _DOCUMENTS.c.key == _FTS.c.rowid)
            .where(_fts5_match(_fts5_query(words)))
        )
    else:
        matching = select(_DOCUMENTS.c.conversation_id).where(_ts_match(words))
    return Conversation.id.in_(matching)


def contact_match(query: str | None) -> ColumnElement[bool] | None:
    """A WHERE clause matching contacts by name or email words, or exact phone/identifier."""
    words = terms(query)
    if not words:
        return None
    raw = (query or "").strip()
    exact = or_(Contact.phone == raw, Contact.identifier == raw, Contact.email == raw.lower())
    if _dialect() == "sqlite":
        contacts_fts = (
            select(literal_column("rowid"))
            .select_from(sql_text("contacts_fts"))
            .where(sql_text("contacts_fts MATCH :q").bindparams(q=_fts5_query(words)))
        )
        return or_(Contact.id.in_(contacts_fts), exact)
    vector = literal_column("contacts.search_vector")
    return or_(vector.op("@@")(func.to_tsquery("english", _tsquery(words))), exact)
