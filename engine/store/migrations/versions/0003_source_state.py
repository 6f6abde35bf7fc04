"""source state: durable positions of polling sources

Revision ID: 0003_source_state
Revises: 0001 (for now; 0002_record once the record schema is merged)
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_source_state"
# TODO(merge): "0002_record" once that migration is on this branch; 0001 keeps the chain working until then.
down_revision = "0001"
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
