"""oauth registration limits: open Dynamic Client Registration's per-address throttle

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 16:30:00

RFC 7591 registration is open to anyone, so oauth/registration_limits.py counts registrations
per client address in hour-long windows. The count lives in the database, not in a worker's
memory, so every app server (several machines on PostgreSQL) sees the same count; one row per
address (a SHA-256 key), bumped by an atomic upsert. `deskwoot prune` and the delivery worker
delete windows that have ended.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oauth_registration_limits",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("window_start", sa.DateTime(), nullable=False),
        sa.Column("registrations", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_oauth_registration_limits")),
    )


def downgrade() -> None:
    op.drop_table("oauth_registration_limits")
