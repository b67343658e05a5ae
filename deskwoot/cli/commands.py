"""The operator commands, in the order `deskwoot --help` lists them; the app factory adds
them to app.cli, and so to the `deskwoot` script (deskwoot.cli.main)."""

from __future__ import annotations

from deskwoot.cli import api, delivery, email, mcp, ops, workspaces

COMMANDS = (
    ops.db_group,
    workspaces.workspace_group,
    workspaces.plan_group,
    workspaces.trial_group,
    workspaces.inbox_group,
    workspaces.user_group,
    mcp.mcp_group,
    api.api_group,
    ops.demo_group,
    ops.prune,
    ops.serve,
    delivery.worker,
    email.email_group,
)
