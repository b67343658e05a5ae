"""event webhooks: endpoints, and their deliveries in the outbox

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 09:00:00

Settings → Webhooks subscribes URLs to the events feed. An endpoint keeps its own cursor into
the feed (`last_event_id`), which the worker's fan-out advances. Each delivery is an outbox
row of channel "event" naming its endpoint and event, unique per pair so concurrent workers
never fan out an event twice; every webhook attempt now records the receiver's answer
(status, a short snippet, duration) for the delivery log.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("signing_secret", sa.String(length=200), nullable=False),
        sa.Column("event_types", JSON, nullable=False),
        sa.Column("inbox_ids", JSON, nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_at", sa.DateTime(), nullable=True),
        sa.Column("disabled_by_id", sa.Integer(), nullable=True),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("last_event_id", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_webhook_endpoints_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["disabled_by_id"],
            ["users.id"],
            name=op.f("fk_webhook_endpoints_disabled_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_webhook_endpoints_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoints")),
    )
    op.create_index(
        "ix_webhook_endpoints_ws", "webhook_endpoints", ["workspace_id", "id"], unique=False
    )
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("endpoint_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("event_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("response_code", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("response_body", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("duration_ms", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_outbox_endpoint_id_webhook_endpoints"),
            "webhook_endpoints",
            ["endpoint_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch.create_index("ix_outbox_endpoint_event", ["endpoint_id", "event_id"], unique=True)
        batch.create_index("ix_outbox_endpoint", ["endpoint_id", "id"], unique=False)


def downgrade() -> None:
    op.execute("DELETE FROM outbox WHERE channel = 'event'")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_endpoint")
        batch.drop_index("ix_outbox_endpoint_event")
        batch.drop_constraint(op.f("fk_outbox_endpoint_id_webhook_endpoints"), type_="foreignkey")
        batch.drop_column("duration_ms")
        batch.drop_column("response_body")
        batch.drop_column("response_code")
        batch.drop_column("event_id")
        batch.drop_column("endpoint_id")
    op.drop_index("ix_webhook_endpoints_ws", table_name="webhook_endpoints")
    op.drop_table("webhook_endpoints")
