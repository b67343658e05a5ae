"""app.cli, filled with the operator commands on first use.

The commands' modules import the delivery worker, the SMTP/IMAP clients, the email parser and
Alembic; a web worker never runs a command, and importing them all in every gunicorn worker
cost several MB of memory each (bench/README.md, RSS per worker). So the app factory installs
this group, which imports deskwoot.cli.commands only when a command is listed or looked up
(the `deskwoot` script, `flask`, app.test_cli_runner())."""

from __future__ import annotations

from flask.cli import AppGroup


class LazyCommands(AppGroup):
    def __init__(self, name: str):
        super().__init__(name)
        self._loaded = False

    def _load(self) -> None:
        if self._loaded:
            return
        from deskwoot.cli.commands import COMMANDS

        for command in COMMANDS:
            self.add_command(command)
        # Only now: had the import failed, the next lookup must fail the same way, not find
        # an empty group.
        self._loaded = True

    def list_commands(self, ctx) -> list[str]:
        self._load()
        return super().list_commands(ctx)

    def get_command(self, ctx, cmd_name: str):
        self._load()
        return super().get_command(ctx, cmd_name)


def install(app) -> None:
    app.cli = LazyCommands(app.name)
