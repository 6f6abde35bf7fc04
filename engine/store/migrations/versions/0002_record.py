"""unified health record: persons, identifiers, resources, versions, links, merges

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "record_identifiers",
        sa.Column("value", sa.String(length=128), nullable=False),
        sa.Column("system", sa.String(length=255), nullable=False),
        sa.Column("person_id", sa.String(length=32), nullable=False),
        sa.Column("source_system", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("value", "system"),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("record_identifiers", schema=None) as batch_op:
        batch_op.create_index("ix_record_identifiers_person", ["person_id"], unique=False)

    op.create_table(
        "record_links",
        sa.Column("resource_id", sa.String(length=32), nullable=False),
        sa.Column("source_system", sa.String(length=64), nullable=False),
        sa.Column("source_key", sa.String(length=255), nullable=False),
        sa.Column("message_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("mapping", sa.String(length=128), nullable=False),
        sa.Column("mapping_version", sa.String(length=64), nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("resource_id", "source_system", "source_key"),
    )
    with op.batch_alter_table("record_links", schema=None) as batch_op:
        batch_op.create_index("ix_record_links_key", ["source_key"], unique=False)

    op.create_table(
        "record_merges",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.Column("surviving", sa.String(length=32), nullable=False),
        sa.Column("retired", sa.String(length=32), nullable=False),
        sa.Column("message_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("identifiers", sa.Text(), nullable=False),
        sa.Column("resources", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "record_persons",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("merged_into", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "record_resources",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("person_id", sa.String(length=32), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("source_system", sa.String(length=64), nullable=False),
        sa.Column("source_key", sa.String(length=255), nullable=False),
        sa.Column("digest", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("record_resources", schema=None) as batch_op:
        batch_op.create_index(
            "ix_record_resources_key",
            ["source_key"],
            unique=False,
            sqlite_where=sa.text("source_key != ''"),
            postgresql_where=sa.text("source_key != ''"),
        )
        batch_op.create_index("ix_record_resources_person_digest", ["person_id", "digest"], unique=False)
        batch_op.create_index("ix_record_resources_person_type", ["person_id", "type"], unique=False)

    op.create_table(
        "record_versions",
        sa.Column("resource_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("source_system", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("mapping", sa.String(length=128), nullable=False),
        sa.Column("mapping_version", sa.String(length=64), nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("resource_id", "version"),
    )


def downgrade() -> None:
    op.drop_table("record_versions")
    with op.batch_alter_table("record_resources", schema=None) as batch_op:
        batch_op.drop_index("ix_record_resources_person_type")
        batch_op.drop_index("ix_record_resources_person_digest")
        batch_op.drop_index(
            "ix_record_resources_key",
            sqlite_where=sa.text("source_key != ''"),
            postgresql_where=sa.text("source_key != ''"),
        )

    op.drop_table("record_resources")
    op.drop_table("record_persons")
    op.drop_table("record_merges")
    with op.batch_alter_table("record_links", schema=None) as batch_op:
        batch_op.drop_index("ix_record_links_key")

    op.drop_table("record_links")
    with op.batch_alter_table("record_identifiers", schema=None) as batch_op:
        batch_op.drop_index("ix_record_identifiers_person")

    op.drop_table("record_identifiers")
