"""an index of the journal by channel and status: the console's per-channel totals count from it

Revision ID: 0014_messages_channel_status
Revises: 0013_alerts
"""

from alembic import op

revision = "0014_messages_channel_status"
down_revision = "0013_alerts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_messages_channel_status", "messages", ["channel", "status"])


def downgrade() -> None:
    op.drop_index("ix_messages_channel_status", table_name="messages")
