"""FHIR Bulk Data export: one row per export job, so a job survives a restart and its files can expire

Revision ID: 0010_bulk_export
Revises: 0009_fhir_search_more
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_bulk_export"
down_revision = "0009_fhir_search_more"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fhir_exports",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("token_id", sa.String(length=32), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("group_id", sa.String(length=64), nullable=True),
        sa.Column("request", sa.Text(), nullable=False),
        sa.Column("types", sa.Text(), nullable=False),
        sa.Column("since", sa.Double(), nullable=True),
        sa.Column("transaction_time", sa.Double(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("progress", sa.Text(), nullable=False),
        sa.Column("output", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("expires_at", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_fhir_exports_status", "fhir_exports", ["status"])


def downgrade() -> None:
    op.drop_table("fhir_exports")
