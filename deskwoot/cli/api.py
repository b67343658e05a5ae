"""The REST API's tokens: mint, list and revoke dw_api_ tokens (no switch: only the plan)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from deskwoot.cli.bot_tokens import add_token_commands
from deskwoot.services.access import api_tokens


@click.group("api", cls=AppGroup)
def api_group() -> None:
    """The REST API for scripts and integrations, and its API tokens."""


def _after_mint(_ws) -> list[str]:
    public_url = current_app.config["PUBLIC_URL"]
    return [
        f"API base URL: {api_tokens.base_url(public_url)}",
        f"Reference: {api_tokens.reference_url(public_url)}",
    ]


add_token_commands(api_group, api_tokens.KIND, _after_mint)
