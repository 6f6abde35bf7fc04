"""the FHIR API's search index, wider: quantity and reference tables, _lastUpdated by type, the record re-indexed

Revision ID: 0009_fhir_search_more
Revises: 0008_fhir_search_index
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_fhir_search_more"
down_revision = "0008_fhir_search_index"
branch_labels = None
depends_on = None


def _table(name: str, *columns: sa.Column) -> None:
    keys = (("resource_id", 32), ("type", 64), ("param", 64))
    op.create_table(name, *(sa.Column(n, sa.String(length=size), nullable=False) for n, size in keys), *columns)


def upgrade() -> None:
    _table(
        "fhir_search_quantity",
        sa.Column("system", sa.String(length=255), nullable=False),
        sa.Column("code", sa.String(length=255), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
    )
    op.create_index("ix_fhir_search_quantity_value", "fhir_search_quantity", ["type", "param", "value"])
    op.create_index("ix_fhir_search_quantity_resource", "fhir_search_quantity", ["resource_id"])
    _table("fhir_search_reference", sa.Column("target", sa.String(length=255), nullable=False))
    op.create_index("ix_fhir_search_reference_target", "fhir_search_reference", ["target", "type", "param"])
    op.create_index("ix_fhir_search_reference_resource", "fhir_search_reference", ["resource_id"])
    op.create_index("ix_record_resources_type_updated", "record_resources", ["type", "updated_at"])
    from engine.store.fhir_index import reindex  # here: every CLI command loads the migrations to check them

    reindex(op.get_bind())


def downgrade() -> None:
    op.drop_index("ix_record_resources_type_updated", table_name="record_resources")
    op.drop_table("fhir_search_reference")
    op.drop_table("fhir_search_quantity")
