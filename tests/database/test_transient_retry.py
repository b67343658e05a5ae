"""retry_transient: a deadlock victim or serialization failure is run again, nothing else."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from deskwoot.database.transactions import TRANSIENT_ATTEMPTS, retry_transient


class _Driver(Exception):
    def __init__(self, sqlstate: str | None):
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def _failing(times: int, error: DBAPIError):
    calls = []

    def work():
        calls.append(1)
        if len(calls) <= times:
            raise error
        return "done"

    return work, calls


@pytest.mark.parametrize("sqlstate", ["40P01", "40001"])  # deadlock, serialization failure
def test_a_lost_race_is_run_again(app, sqlstate):
    work, calls = _failing(2, OperationalError("UPDATE …", {}, _Driver(sqlstate)))
    assert retry_transient(work) == "done"
    assert len(calls) == 3


def test_it_gives_up_after_a_few_attempts(app):
    error = OperationalError("UPDATE …", {}, _Driver("40P01"))
    work, calls = _failing(TRANSIENT_ATTEMPTS, error)
    with pytest.raises(OperationalError):
        retry_transient(work)
    assert len(calls) == TRANSIENT_ATTEMPTS


@pytest.mark.parametrize(
    "error",
    [
        IntegrityError("INSERT …", {}, _Driver("23505")),  # a real conflict: the caller decides
        OperationalError("SELECT …", {}, _Driver(None)),  # e.g. SQLite's "database is locked"
    ],
)
def test_anything_else_is_not_retried(app, error):
    work, calls = _failing(1, error)
    with pytest.raises(type(error)):
        retry_transient(work)
    assert len(calls) == 1
