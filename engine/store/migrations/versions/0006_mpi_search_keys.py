"""search keys for the MPI records already on file: `huitong mpi search --phone` or `--name` alone finds them

Revision ID: 0006_mpi_search_keys
Revises: 0005_contracts
"""

import orjson
import sqlalchemy as sa
from alembic import op

from engine.domain.mpi.blocking import KEY_LENGTH, search_keys

revision = "0006_mpi_search_keys"
down_revision = "0005_contracts"
branch_labels = None
depends_on = None

_records = sa.table("mpi_records", sa.column("id", sa.String), sa.column("features", sa.Text))
_blocks = sa.table("mpi_blocks", sa.column("key", sa.String), sa.column("record_id", sa.String))
PAGE = 5000


def upgrade() -> None:
    conn = op.get_bind()
    after = ""
    while True:
        page = conn.execute(
            sa.select(_records.c.id, _records.c.features)
            .where(_records.c.id > after)
            .order_by(_records.c.id)
            .limit(PAGE)
        ).all()
        if not page:
            return
        rows = [
            {"key": key, "record_id": record_id}
            for record_id, features in page
            for key in search_keys(orjson.loads(features))
            if len(key) <= KEY_LENGTH
        ]
        if rows:
            conn.execute(sa.insert(_blocks), rows)
        after = page[-1][0]


def downgrade() -> None:
    op.execute("DELETE FROM mpi_blocks WHERE key LIKE 's:%'")
