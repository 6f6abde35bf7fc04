"""alerts that fired and have not cleared: each fires once and clears once

Revision ID: 0013_alerts
Revises: 0012_console_users
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_alerts"
down_revision = "0012_console_users"  # 0012_console_users (the auth slice) goes between them when merged
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("key", sa.String(length=256), primary_key=True),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("fired_at", sa.Double(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("alerts")
