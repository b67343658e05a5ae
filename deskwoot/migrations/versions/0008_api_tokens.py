"""REST API tokens: bot tokens get a kind

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 07:00:00

The REST API's `dw_api_` tokens have the shape and rules of the MCP server's `dw_mcp_` tokens
(scopes, inbox restriction, expiry, hash, revocation, suspension with their minter), so they
share the table; `kind` says which surface a token opens. Every existing token is an MCP one.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mcp_tokens") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(length=8), nullable=False, server_default="mcp")
        )
        batch.create_index("ix_mcp_tokens_ws_kind", ["workspace_id", "kind", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("mcp_tokens") as batch:
        batch.drop_index("ix_mcp_tokens_ws_kind")
        batch.drop_column("kind")
