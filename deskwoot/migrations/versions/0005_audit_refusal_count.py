"""audit rows that stand for several refused requests

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 09:00:00

A token refused at the MCP gate (MCP switched off, trial over, wrong plan) used to write one
audit row per request, so a client retrying in a loop filled the audit log and queued for
the write lock on every request. Such refusals are now counted on one row per token, reason
and minute: `count` says how many requests the row stands for (1 for every other row).
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_entries") as batch:
        batch.add_column(sa.Column("count", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    with op.batch_alter_table("audit_entries") as batch:
        batch.drop_column("count")
