"""Full-text search: one service for the web and MCP, FTS5 on SQLite, tsvector on PostgreSQL."""

from __future__ import annotations

import re

from sqlalchemy import ColumnElement, func, literal_column, or_, select, text

from deskwoot.extensions import db
from deskwoot.models import Contact, Conversation, Message

_WORD = re.compile(r"\w+", re.UNICODE)
MAX_TERMS = 12


def terms(query: str | None) -> list[str]:
    """Split what a person typed into plain words; operators and quotes are not syntax here."""
    return _WORD.findall(query or "")[:MAX_TERMS]


def _fts5_query(words: list[str]) -> str:
    # Every word must appear; the last one may be a prefix (search-as-you-type).
    quoted = [f'"{w}"' for w in words]
    quoted[-1] += "*"
    return " ".join(quoted)


def _tsquery(words: list[str]) -> str:
    parts = [w.replace("'", "") for w in words]
    parts[-1] += ":*"
    return " & ".join(parts)


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _fts5(table: str, words: list[str]):
    """Rowids in an FTS5 table matching every word."""
    return (
        select(literal_column("rowid"))
        .select_from(text(table))
        .where(text(f"{table} MATCH :q").bindparams(q=_fts5_query(words)))
    )


def _ts(table: str, words: list[str]) -> ColumnElement[bool]:
    """A table's generated tsvector column matching every word."""
    return literal_column(f"{table}.search_vector").op("@@")(
        func.to_tsquery("english", _tsquery(words))
    )


def conversation_match(query: str | None) -> ColumnElement[bool] | None:
    """A WHERE clause matching conversations by message text, subject or contact name/email.

    Returns None when the query has no searchable words. Combine it with a policy base so
    the search never looks past the actor's reach.
    """
    words = terms(query)
    if not words:
        return None
    if _dialect() == "sqlite":
        return or_(
            Conversation.id.in_(
                select(Message.conversation_id).where(Message.id.in_(_fts5("messages_fts", words)))
            ),
            Conversation.id.in_(_fts5("conversations_fts", words)),
            Conversation.contact_id.in_(_fts5("contacts_fts", words)),
        )
    return or_(
        Conversation.id.in_(select(Message.conversation_id).where(_ts("messages", words))),
        _ts("conversations", words),
        Conversation.contact_id.in_(select(Contact.id).where(_ts("contacts", words))),
    )


def contact_match(query: str | None) -> ColumnElement[bool] | None:
    """A WHERE clause matching contacts by name or email words, or exact phone/identifier."""
    words = terms(query)
    if not words:
        return None
    raw = (query or "").strip()
    exact = or_(Contact.phone == raw, Contact.identifier == raw, Contact.email == raw.lower())
    if _dialect() == "sqlite":
        return or_(Contact.id.in_(_fts5("contacts_fts", words)), exact)
    return or_(_ts("contacts", words), exact)
