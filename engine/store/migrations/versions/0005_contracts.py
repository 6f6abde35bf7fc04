"""family-doctor contracts (one row per contract, newest version) and care tasks (one row per task)

Revision ID: 0005_contracts
Revises: 0004_mpi
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_contracts"
down_revision = "0004_mpi"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contracts",
        sa.Column("source_system", sa.String(length=64), nullable=False),
        sa.Column("contract_id", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("snapshot", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("source_system", "contract_id"),
    )
    op.create_index("ix_contracts_person", "contracts", ["person_id"])
    op.create_table(
        "care_tasks",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.String(length=32), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column("start", sa.String(length=10), nullable=False),
        sa.Column("end", sa.String(length=10), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("task", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_care_tasks_person", "care_tasks", ["person_id"])
    op.create_index("ix_care_tasks_state", "care_tasks", ["state"])


def downgrade() -> None:
    op.drop_index("ix_care_tasks_state", table_name="care_tasks")
    op.drop_index("ix_care_tasks_person", table_name="care_tasks")
    op.drop_table("care_tasks")
    op.drop_index("ix_contracts_person", table_name="contracts")
    op.drop_table("contracts")
