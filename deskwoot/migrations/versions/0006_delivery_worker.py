"""the delivery worker: outbox leases and retries, API-inbox webhooks

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 16:00:00

The outbox rows every outgoing message writes are now delivered by `deskwoot worker`. A row
gets its retry schedule (`next_attempt_at`), a lease (`claimed_until`, `claimed_by`) so
several workers never deliver it at once and a dead worker's claim expires, its idempotent
identity on the wire (`delivery_id`), and `failed_at`. API inboxes get an optional webhook
URL and its signing secret.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("delivery_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("next_attempt_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("claimed_until", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("claimed_by", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("failed_at", sa.DateTime(), nullable=True))
        batch.create_index("ix_outbox_due", ["status", "next_attempt_at", "id"], unique=False)
        batch.create_index("ix_outbox_message", ["message_id"], unique=False)
    # Rows written before the worker existed get their identity now: msg_<message id>.
    op.execute("UPDATE outbox SET delivery_id = 'msg_' || CAST(message_id AS VARCHAR(20))")
    with op.batch_alter_table("inboxes") as batch:
        batch.add_column(sa.Column("webhook_url", sa.String(length=2000), nullable=True))
        batch.add_column(sa.Column("webhook_secret", sa.String(length=200), nullable=True))


def downgrade() -> None:
    # Not batch mode: on SQLite it would copy and DROP the inboxes table, and with foreign
    # keys on that drop cascades into every conversation. Both databases drop a plain column
    # in place (SQLite since 3.35).
    op.execute("ALTER TABLE inboxes DROP COLUMN webhook_secret")
    op.execute("ALTER TABLE inboxes DROP COLUMN webhook_url")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_message")
        batch.drop_index("ix_outbox_due")
        batch.drop_column("failed_at")
        batch.drop_column("claimed_by")
        batch.drop_column("claimed_until")
        batch.drop_column("next_attempt_at")
        batch.drop_column("delivery_id")
