"""the FHIR API's access control: user-level tokens, revocation, and the audit trail searchable by patient and actor

Revision ID: 0011_fhir_token_users
Revises: 0010_bulk_export
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_fhir_token_users"
down_revision = "0010_bulk_export"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("fhir_tokens") as table:
        table.add_column(sa.Column("user_name", sa.String(length=48), nullable=True))
        table.add_column(sa.Column("revoked_at", sa.Double(), nullable=True))
    op.create_index("ix_audit_target", "audit", ["target", "at"])
    op.create_index("ix_audit_actor", "audit", ["actor", "at"])


def downgrade() -> None:
    op.drop_index("ix_audit_actor", "audit")
    op.drop_index("ix_audit_target", "audit")
    with op.batch_alter_table("fhir_tokens") as table:
        table.drop_column("revoked_at")
        table.drop_column("user_name")
