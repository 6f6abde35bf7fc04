"""master patient index: source records, blocking keys, term counts, reviews, manual decisions

Revision ID: 0004_mpi
Revises: 0003_source_state
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_mpi"
down_revision = "0003_source_state"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("record_merges") as batch_op:
        batch_op.add_column(sa.Column("records", sa.Text(), nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("undone_at", sa.Double(), nullable=True))
    op.create_table(
        "mpi_records",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("source_system", sa.String(length=64), nullable=False),
        sa.Column("local_id", sa.String(length=255), nullable=False),
        sa.Column("person_id", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("link_source", sa.String(length=8), nullable=False),
        sa.Column("probability", sa.Double(), nullable=True),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("features", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_system", "local_id", name="uq_mpi_records_local"),
    )
    op.create_index("ix_mpi_records_person", "mpi_records", ["person_id"])
    op.create_table(
        "mpi_blocks",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("record_id", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("key", "record_id"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_mpi_blocks_record", "mpi_blocks", ["record_id"])
    op.create_table(
        "mpi_terms",
        sa.Column("field", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("field", "value"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "mpi_reviews",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("record_id", sa.String(length=32), nullable=False),
        sa.Column("candidate", sa.String(length=32), nullable=False),
        sa.Column("probability", sa.Double(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("decided_at", sa.Double(), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_mpi_reviews_status", "mpi_reviews", ["status"])
    op.create_index("ix_mpi_reviews_record", "mpi_reviews", ["record_id"])
    op.create_table(
        "mpi_decisions",
        sa.Column("record_id", sa.String(length=32), nullable=False),
        sa.Column("person_id", sa.String(length=32), nullable=False),
        sa.Column("same", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("record_id", "person_id"),
    )


def downgrade() -> None:
    op.drop_table("mpi_decisions")
    op.drop_index("ix_mpi_reviews_record", table_name="mpi_reviews")
    op.drop_index("ix_mpi_reviews_status", table_name="mpi_reviews")
    op.drop_table("mpi_reviews")
    op.drop_table("mpi_terms")
    op.drop_index("ix_mpi_blocks_record", table_name="mpi_blocks")
    op.drop_table("mpi_blocks")
    op.drop_index("ix_mpi_records_person", table_name="mpi_records")
    op.drop_table("mpi_records")
    with op.batch_alter_table("record_merges") as batch_op:
        batch_op.drop_column("undone_at")
        batch_op.drop_column("records")
