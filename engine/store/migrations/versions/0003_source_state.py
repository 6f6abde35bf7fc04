"""source state: durable positions of polling sources

Revision ID: 0003_source_state
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_source_state"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "source_state",
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("channel", "key"),
    )


def downgrade() -> None:
    op.drop_table("source_state")
