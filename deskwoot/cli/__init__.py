"""The `deskwoot` command line: thin adapters over the services.

Every command acts as the operator (`policy.system_actor`) through the same service functions
the web and MCP adapters call. Errors are one `Error: …` line on stderr and exit status 1.

The commands live in topic modules: `workspaces` (workspace, plan, trial, inbox, user), `mcp`
(the MCP server and its bot tokens), `ops` (db, demo, prune, serve) and `delivery` (worker);
`common` holds the
plumbing they share; `commands` lists them for the app factory, which adds them to app.cli.
`main`, the console script, builds the app with that factory: the factory reads only
`commands`, so the two never import each other.
"""

from __future__ import annotations

import click
from flask.cli import FlaskGroup


def _create_app():
    from deskwoot import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False)
def main() -> None:
    """Operate a Deskwoot installation."""
