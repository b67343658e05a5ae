"""per-token rate limit state

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 07:05:00

One column on mcp_tokens: the GCRA "theoretical arrival time" (epoch seconds) that the
MCP rate limit advances on every tools/call. Kept on the token row so every worker sees
the same budget without another table or service.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mcp_tokens") as batch:
        batch.add_column(sa.Column("rate_tat", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mcp_tokens") as batch:
        batch.drop_column("rate_tat")
