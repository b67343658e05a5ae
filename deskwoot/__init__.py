"""Deskwoot: a self-hosted help desk with an MCP server for AI agents."""

from __future__ import annotations

from flask import Flask

__version__ = "0.1.0"


def create_app(config: dict | None = None) -> Flask:
    """Build the app: configuration, extensions, then each subsystem's init_app."""
    app = Flask(__name__, instance_relative_config=True)

    from deskwoot import config as config_module

    config_module.load(app, config)

    from deskwoot import cli, mcp, security
    from deskwoot.database import engine
    from deskwoot.extensions import csrf, db
    from deskwoot.web import init_app as init_web

    db.init_app(app)
    engine.init_app(app)
    csrf.init_app(app)
    security.init_app(app)
    init_web(app)
    mcp.init_app(app)
    cli.init_app(app)
    return app
