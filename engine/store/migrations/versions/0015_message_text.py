"""the journal's text index (message_text), empty: the daemon fills it (message_text.catch_up)

Revision ID: 0015_message_text
Revises: 0014_messages_channel_status
"""

from alembic import op

from engine.store import message_text

revision = "0015_message_text"
down_revision = "0014_messages_channel_status"
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    sqlite = conn.dialect.name == "sqlite"
    if sqlite:
        message_text.create_sqlite(conn)
    else:
        message_text.create_postgresql(conn)
    # Empty: the daemon indexes the journal in the background (message_text.catch_up), so an upgrade of a store
    # of millions of messages does not hold its start; searches scan what is not indexed yet.
    if not sqlite:
        message_text.create_trigram_index(conn)


def downgrade() -> None:
    op.execute("DROP TABLE message_text")
