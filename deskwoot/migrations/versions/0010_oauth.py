"""oauth: clients, authorization codes and tokens for the MCP server's OAuth 2.1 flow

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 08:00:00

Connectors that speak the MCP authorization flow get their own token after an admin's consent
(deskwoot/oauth). The grant is an `mcp_tokens` row of kind "oauth" (scopes, inboxes,
revocation, audit as for a bot token); these tables hold the clients that asked (registered or
known by their Client ID Metadata Document), the one-time codes and the hash-stored access and
refresh tokens issued under each grant.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _fk(table, column, target, ondelete):
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "oauth_clients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=2000), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("client_name", sa.String(length=200), nullable=False),
        sa.Column("client_uri", sa.String(length=2000), nullable=True),
        sa.Column("redirect_uris", JSON, nullable=False),
        sa.Column("grant_types", JSON, nullable=False),
        sa.Column("token_endpoint_auth_method", sa.String(length=40), nullable=False),
        sa.Column("client_secret_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_clients")),
        sa.UniqueConstraint("client_id", name=op.f("uq_oauth_clients_client_id")),
    )
    op.create_table(
        "oauth_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("client_pk", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("scopes", JSON, nullable=False),
        sa.Column("inbox_ids", JSON, nullable=False),
        sa.Column("code_challenge", sa.String(length=128), nullable=False),
        sa.Column("code_challenge_method", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.Column("grant_id", sa.Integer(), nullable=True),
        _fk("oauth_codes", "client_pk", "oauth_clients", "CASCADE"),
        _fk("oauth_codes", "workspace_id", "workspaces", "CASCADE"),
        _fk("oauth_codes", "user_id", "users", "CASCADE"),
        _fk("oauth_codes", "grant_id", "mcp_tokens", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_oauth_codes_code_hash")),
    )
    op.create_table(
        "oauth_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("grant_id", sa.Integer(), nullable=False),
        sa.Column("client_pk", sa.Integer(), nullable=False),
        sa.Column("access_hash", sa.String(length=64), nullable=False),
        sa.Column("refresh_hash", sa.String(length=64), nullable=False),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("issued_at", sa.DateTime(), nullable=False),
        sa.Column("access_expires_at", sa.DateTime(), nullable=False),
        sa.Column("refresh_expires_at", sa.DateTime(), nullable=False),
        sa.Column("retired_at", sa.DateTime(), nullable=True),
        _fk("oauth_tokens", "grant_id", "mcp_tokens", "CASCADE"),
        _fk("oauth_tokens", "client_pk", "oauth_clients", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_tokens")),
        sa.UniqueConstraint("access_hash", name=op.f("uq_oauth_tokens_access_hash")),
        sa.UniqueConstraint("refresh_hash", name=op.f("uq_oauth_tokens_refresh_hash")),
    )
    op.create_index("ix_oauth_tokens_grant", "oauth_tokens", ["grant_id", "id"], unique=False)
    op.create_table(
        "oauth_grant_clients",
        sa.Column("grant_id", sa.Integer(), nullable=False),
        sa.Column("client_pk", sa.Integer(), nullable=False),
        _fk("oauth_grant_clients", "grant_id", "mcp_tokens", "CASCADE"),
        _fk("oauth_grant_clients", "client_pk", "oauth_clients", "CASCADE"),
        sa.PrimaryKeyConstraint("grant_id", name=op.f("pk_oauth_grant_clients")),
    )


def downgrade() -> None:
    op.drop_table("oauth_grant_clients")
    op.drop_index("ix_oauth_tokens_grant", table_name="oauth_tokens")
    op.drop_table("oauth_tokens")
    op.drop_table("oauth_codes")
    op.drop_table("oauth_clients")
