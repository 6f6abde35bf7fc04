"""an index of the persons a merge retired, by the person they were merged into

Revision ID: 0017_record_persons_merged_into
Revises: 0016_live_intake
"""

from alembic import op
from sqlalchemy import text

revision = "0017_record_persons_merged_into"
down_revision = "0016_live_intake"
branch_labels = None
depends_on = None

_MERGED = text("merged_into IS NOT NULL")


def upgrade() -> None:
    op.create_index(
        "ix_record_persons_merged_into",
        "record_persons",
        ["merged_into"],
        sqlite_where=_MERGED,
        postgresql_where=_MERGED,
    )


def downgrade() -> None:
    op.drop_index("ix_record_persons_merged_into", table_name="record_persons")
