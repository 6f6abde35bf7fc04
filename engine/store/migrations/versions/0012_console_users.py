"""the console's users (argon2 password hashes, roles) and their sign-in sessions (hashed ids, expiry)

Revision ID: 0012_console_users
Revises: 0011_fhir_token_users
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_console_users"
down_revision = "0011_fhir_token_users"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_users",
        sa.Column("name", sa.String(length=48), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("roles", sa.Text(), nullable=False),
        sa.Column("disabled_at", sa.Double(), nullable=True),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("changed_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "console_sessions",
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("user_name", sa.String(length=48), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("hash"),
    )
    op.create_index("ix_console_sessions_user", "console_sessions", ["user_name"])


def downgrade() -> None:
    op.drop_table("console_sessions")
    op.drop_table("console_users")
