"""the email channel: inbox mail settings, IMAP state, attachments, mail metadata, product mail

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 18:10:00

Email inboxes get an address, SMTP and IMAP URLs (sealed at rest, like the webhook secrets,
which are sealed here too) and their IMAP polling state. Messages keep an email's full text
and its identity/addressing (`mail`), and attachments get a table. The outbox also carries
the product's own mail (invitations, password resets): no workspace or message, a `payload`.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _seal_webhook_secrets() -> None:
    # The app runs migrations inside its context (database/migrate.py), so SECRET_KEY is known.
    from flask import current_app, has_app_context

    from deskwoot.services.access import sealed

    if not has_app_context():
        return
    key = current_app.config["SECRET_KEY"]
    bind = op.get_bind()
    rows = bind.execute(
        sa.text("SELECT id, webhook_secret FROM inboxes WHERE webhook_secret IS NOT NULL")
    ).all()
    for inbox_id, secret in rows:
        if not sealed.is_sealed(secret):
            bind.execute(
                sa.text("UPDATE inboxes SET webhook_secret = :s WHERE id = :i"),
                {"s": sealed.seal(secret, key), "i": inbox_id},
            )


def upgrade() -> None:
    # Plain ADD COLUMN on inboxes (never a batch copy: on SQLite that drops the table, and the
    # drop cascades into every conversation).
    for column in (
        sa.Column("email_address", sa.String(length=254), nullable=True),
        sa.Column("smtp_url", sa.Text(), nullable=True),
        sa.Column("imap_url", sa.Text(), nullable=True),
        sa.Column("imap_uidvalidity", sa.BigInteger(), nullable=True),
        sa.Column("imap_last_uid", sa.BigInteger(), nullable=True),
        sa.Column("imap_claimed_until", sa.DateTime(), nullable=True),
        sa.Column("imap_claimed_by", sa.String(length=64), nullable=True),
        sa.Column("imap_checked_at", sa.DateTime(), nullable=True),
        sa.Column("imap_error", sa.Text(), nullable=True),
    ):
        op.add_column("inboxes", column)
    op.add_column("messages", sa.Column("full_body", sa.Text(), nullable=True))
    op.add_column("messages", sa.Column("mail", JSON, nullable=True))
    op.create_table(
        "attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("content_id", sa.String(length=255), nullable=True),
        sa.Column("skipped", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_attachments_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_attachments_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachments")),
    )
    op.create_index("ix_attachments_message", "attachments", ["message_id", "id"], unique=False)
    # The outbox table is referenced by nothing, so SQLite's batch copy is safe here.
    with op.batch_alter_table("outbox") as batch:
        batch.alter_column("workspace_id", existing_type=sa.Integer(), nullable=True)
        batch.alter_column("message_id", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("payload", JSON, nullable=True))
    _seal_webhook_secrets()


def downgrade() -> None:
    op.execute("DELETE FROM outbox WHERE message_id IS NULL")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("payload")
        batch.alter_column("message_id", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("workspace_id", existing_type=sa.Integer(), nullable=False)
    op.drop_index("ix_attachments_message", table_name="attachments")
    op.drop_table("attachments")
    op.execute("ALTER TABLE messages DROP COLUMN mail")
    op.execute("ALTER TABLE messages DROP COLUMN full_body")
    for name in (
        "imap_error",
        "imap_checked_at",
        "imap_claimed_by",
        "imap_claimed_until",
        "imap_last_uid",
        "imap_uidvalidity",
        "imap_url",
        "smtp_url",
        "email_address",
    ):
        op.execute(f"ALTER TABLE inboxes DROP COLUMN {name}")
