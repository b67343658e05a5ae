"""The `deskwoot` command line (DESIGN §10): thin adapters over the services.

Every command acts as the operator (`policy.system_actor`) through the same service functions
the web and MCP adapters call. Errors are one `Error: …` line on stderr and exit status 1.

The commands live in topic modules: `workspaces` (workspace, plan, trial, inbox, user), `mcp`
(the MCP server and its bot tokens) and `ops` (db, demo, prune, serve); `common` holds the
plumbing they share.
"""

from __future__ import annotations

import click
from flask.cli import FlaskGroup

from deskwoot.cli import mcp, ops, workspaces

COMMANDS = (
    ops.db_group,
    workspaces.workspace_group,
    workspaces.plan_group,
    workspaces.trial_group,
    workspaces.inbox_group,
    workspaces.user_group,
    mcp.mcp_group,
    ops.demo_group,
    ops.prune,
    ops.serve,
)


def init_app(app) -> None:
    """Register the operator commands on app.cli (and so on the `deskwoot` script)."""
    for command in COMMANDS:
        app.cli.add_command(command)


def _create_app():
    from deskwoot import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False)
def main() -> None:
    """Operate a Deskwoot installation."""
