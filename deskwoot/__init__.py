"""Deskwoot: a self-hosted help desk with an MCP server for AI agents."""

from __future__ import annotations

from flask import Flask

from deskwoot.version import __version__

__all__ = ["__version__", "create_app"]


def create_app(config: dict | None = None) -> Flask:
    """Build the app. Everything it installs is listed here: configuration, extensions, the
    blueprints (with every view module, which add their routes on import), what templates
    see, the error handlers and the operator commands. The parts are imported here, inside
    the factory, and none of them imports this package back."""
    app = Flask(__name__, instance_relative_config=True)

    from deskwoot import config as config_module

    config_module.load(app, config)

    from deskwoot import oauth, security, web
    from deskwoot.channels import api_hook
    from deskwoot.cli import lazy as cli
    from deskwoot.database import engine
    from deskwoot.extensions import csrf, db
    from deskwoot.mcp import transport
    from deskwoot.rest import reference  # noqa: F401  (/api/v1/openapi.json and /docs)
    from deskwoot.rest import views as rest
    from deskwoot.services.operations import mail
    from deskwoot.web import (
        auth,
        components,
        contacts,
        conversations,
        drafts,
        error_handlers,
        filters,
        settings,
        templating,
    )

    # View modules that add routes to their package's blueprint, before it is registered.
    from deskwoot.web.conversations import actions  # noqa: F401
    from deskwoot.web.settings import api_tokens, audit, inboxes, mcp, team, webhooks  # noqa: F401

    cli.install(app)  # the operator commands, imported when a command runs (cli/lazy.py)
    db.init_app(app)
    engine.init_app(app)
    csrf.init_app(app)
    security.init_app(app)
    web.init_sessions(app)
    app.before_request(web.assign_request_id)
    mail.install(app)  # the product's own mail through the outbox, when SMTP_URL is set
    oauth.install(app)  # OAuth 2.1 for the MCP server: discovery, consent, tokens (issue 16)

    for blueprint in (
        auth.bp,
        conversations.bp,
        contacts.bp,
        drafts.bp,
        settings.bp,
        api_hook.bp,
        transport.bp,
        rest.bp,
    ):
        app.register_blueprint(blueprint)

    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    for name, template_filter in filters.FILTERS.items():
        app.add_template_filter(template_filter, name)
    for name, template_global in {**filters.GLOBALS, **components.GLOBALS}.items():
        app.add_template_global(template_global, name)
    for processor in templating.CONTEXT_PROCESSORS:
        app.context_processor(processor)
    for error, handler in error_handlers.HANDLERS:
        app.register_error_handler(error, handler)

    return app
