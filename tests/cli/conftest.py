"""Fixtures for the command tests (they run through the Flask CLI runner, `runner`)."""

from __future__ import annotations

import pytest

from tests import factories as f


@pytest.fixture
def ws(app):
    return f.make_workspace(name="Acme", slug="acme")
