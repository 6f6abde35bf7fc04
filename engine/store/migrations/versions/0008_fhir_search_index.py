"""the FHIR API: its search index (one table per parameter type; 0009 fills it for the record on file) and tokens

Revision ID: 0008_fhir_search_index
Revises: 0007_outbox_pending_order
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_fhir_search_index"
down_revision = "0007_outbox_pending_order"
branch_labels = None
depends_on = None


def _table(name: str, *columns: tuple[str, int]) -> None:
    """A search-index table: the resource, its type and the parameter, then the parameter's own columns."""
    keys = (("resource_id", 32), ("type", 64), ("param", 64))
    op.create_table(name, *(sa.Column(n, sa.String(length=size), nullable=False) for n, size in keys + columns))


def upgrade() -> None:
    _table("fhir_search_token", ("system", 255), ("value", 255))
    op.create_index("ix_fhir_search_token_value", "fhir_search_token", ["type", "param", "value", "system"])
    op.create_index("ix_fhir_search_token_resource", "fhir_search_token", ["resource_id"])
    _table("fhir_search_string", ("value_normalised", 255))
    op.create_index("ix_fhir_search_string_value", "fhir_search_string", ["type", "param", "value_normalised"])
    op.create_index("ix_fhir_search_string_resource", "fhir_search_string", ["resource_id"])
    _table("fhir_search_date", ("low", 19), ("high", 19))
    op.create_index("ix_fhir_search_date_range", "fhir_search_date", ["type", "param", "low", "high"])
    op.create_index("ix_fhir_search_date_resource", "fhir_search_date", ["resource_id"])
    op.create_table(
        "fhir_tokens",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("patient", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("hash", name="uq_fhir_tokens_hash"),
    )


def downgrade() -> None:
    for table in ("fhir_tokens", "fhir_search_date", "fhir_search_string", "fhir_search_token"):
        op.drop_table(table)
