"""live intake's heartbeat: when each node last journaled messages from live senders, read by bulk writers

Revision ID: 0016_live_intake
Revises: 0015_message_text
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_live_intake"
down_revision = "0015_message_text"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "live_intake",
        sa.Column("node", sa.String(length=128), primary_key=True),
        sa.Column("seen_at", sa.Double(), nullable=False),
        sa.Column("queued", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("live_intake")
