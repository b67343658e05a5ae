"""A REST API token for a run's working copy of a dataset.

Minted through the real service on the copy (not stored with the cached dataset, so datasets
built before the REST API existed still serve), with the same scopes as the dataset's MCP
token, so the REST scenarios and their MCP twins do the same work under the same rules.
"""

from __future__ import annotations

from pathlib import Path


def mint(db_path: Path, workspace_id: int) -> str:
    from deskwoot import create_app
    from deskwoot.extensions import db
    from deskwoot.models import Workspace
    from deskwoot.policy import SCOPES, system_actor
    from deskwoot.services.access import tokens

    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_path}", "SECRET_KEY": "bench-api-token"}
    )
    with app.app_context():
        workspace = db.session.get(Workspace, workspace_id)
        minted = tokens.mint(system_actor(workspace), "Bench REST client", list(SCOPES), kind="api")
        plaintext = minted.plaintext
        db.session.remove()
        db.engine.dispose()
    return plaintext
