"""the FHIR API: its search index (one table per parameter type, filled for the record already on file) and tokens

Revision ID: 0008_fhir_search_index
Revises: 0007_outbox_pending_order
"""

import orjson
import sqlalchemy as sa
from alembic import op

from engine.domain.fhir_search import entries
from engine.store.fhir_index import replace

revision = "0008_fhir_search_index"
down_revision = "0007_outbox_pending_order"
branch_labels = None
depends_on = None

_resources = sa.table(
    "record_resources", sa.column("id", sa.String), sa.column("type", sa.String), sa.column("version", sa.Integer)
)
_versions = sa.table(
    "record_versions",
    sa.column("resource_id", sa.String),
    sa.column("version", sa.Integer),
    sa.column("body", sa.LargeBinary),
)
PAGE = 5000


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
    _index_the_record()
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


def _index_the_record() -> None:
    """Every resource's current version indexed, a page of resources at a time."""
    conn = op.get_bind()
    after = ""
    while True:
        page = conn.execute(
            sa.select(_resources.c.id, _resources.c.type, _versions.c.body)
            .join(
                _versions,
                sa.and_(_versions.c.resource_id == _resources.c.id, _versions.c.version == _resources.c.version),
            )
            .where(_resources.c.id > after)
            .order_by(_resources.c.id)
            .limit(PAGE)
        ).all()
        if not page:
            return
        replace(conn, {rid: (kind, entries(orjson.loads(body))) for rid, kind, body in page})
        after = page[-1][0]


def downgrade() -> None:
    for table in ("fhir_tokens", "fhir_search_date", "fhir_search_string", "fhir_search_token"):
        op.drop_table(table)
