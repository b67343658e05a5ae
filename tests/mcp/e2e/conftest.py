"""Every MCP tool end to end, one module per tool family: the official client against a live
multi-worker gunicorn, in both protocol eras (each module parametrizes `mode` over MODES).

Each test builds its own workspace (make_desk) so display ids and feeds never collide, calls
the tools through `mcp.Client`, and checks the effect in the database (read after `fresh()`,
since the server writes from other processes) or through another tool. Because no test
depends on another's rows, the whole package shares one server.
"""

from __future__ import annotations

import pytest

from tests.mcp.conftest import live_server


@pytest.fixture(scope="package")
def live(template_db, tmp_path_factory):
    """One server for the package, not one per module: starting gunicorn costs a second or two."""
    with live_server(template_db, tmp_path_factory) as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_session(fresh_session):
    """Every test here talks to the live server (see tests/mcp/conftest.py fresh_session)."""
