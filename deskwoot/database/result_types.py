"""Cheaper result types for the hot reads' columns: the same values, decoded in one call.

The agent's lists and the events feed decode dozens of values per request (a page of 25
conversations has some 75 datetimes and 25 JSON objects; a page of 50 events, 50 of each).
Through the models' own types each datetime on SQLite is parsed by SQLAlchemy's regular
expression and then given its UTC zone by models.base.UTCDateTime (three Python calls),
and each JSON value goes through SQLAlchemy's JSON processor into json.loads, even the
empty object that most custom attributes are. These types give exactly the same values
in one small function per value, for result columns only (they bind nothing):

    select(type_coerce(Conversation.created_at, UTC_DATETIME).label("created_at"))

- UTC_DATETIME: on SQLite the stored text is read with datetime.fromisoformat (the rule
  UTCDateTime already applies to raw text), on PostgreSQL the driver's naive datetime is
  kept; both get tzinfo=UTC, as UTCDateTime hands them back.
- JSON_VALUE: on SQLite the text is decoded by json's own scanner, as json.loads does
  ("{}" is a new empty dict without it); on PostgreSQL the driver (psycopg) has decoded
  JSONB already, as it does for the models' JSONType.

tests/services/test_read_rows.py compares rows read this way with the ORM entities on
both databases.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy.types import TypeEngine


def _utc(value, _parse=datetime.fromisoformat, _utc=UTC):
    if value is None:
        return None
    if type(value) is str:
        value = _parse(value)
    return value.replace(tzinfo=_utc)


_SCAN = json.JSONDecoder().scan_once  # what json.loads runs (on its default decoder)


def _json(value, _scan=_SCAN, _loads=json.loads):
    if type(value) is not str:  # None, or already decoded by the driver (PostgreSQL)
        return value
    if value == "{}":
        return {}
    # json.loads is this scan after skipping whitespace around the value; stored JSON has
    # none (json.dumps writes it), so scan directly and let json.loads handle anything else.
    try:
        decoded, end = _scan(value, 0)
    except StopIteration:
        return _loads(value)
    return decoded if end == len(value) else _loads(value)


class _ResultOnly(TypeEngine):
    """A result column type with one processor and no bind side."""

    cache_ok = True
    processor = None

    def result_processor(self, dialect, coltype):
        return type(self).processor

    def bind_processor(self, dialect):
        raise TypeError("a result-only type: use it in type_coerce(...) of selected columns")


class UTCDateTimeResult(_ResultOnly):
    processor = staticmethod(_utc)


class JSONResult(_ResultOnly):
    processor = staticmethod(_json)


UTC_DATETIME = UTCDateTimeResult()
JSON_VALUE = JSONResult()
