"""an index of each person's pending deliveries, in order: ordered claims take a person's run of due rows

Revision ID: 0007_outbox_pending_order
Revises: 0006_mpi_search_keys
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_outbox_pending_order"
down_revision = "0006_mpi_search_keys"
branch_labels = None
depends_on = None

_WHERE = sa.text("order_key IS NOT NULL AND status IN ('QUEUED', 'ERROR')")


def upgrade() -> None:
    op.create_index(
        "ix_outbox_pending_order",
        "outbox",
        ["channel", "destination", "order_key", "id"],
        sqlite_where=_WHERE,
        postgresql_where=_WHERE,
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_pending_order", table_name="outbox")
