"""the journal's text index (message_text): content search by index, not by scanning every raw message

Revision ID: 0015_message_text
Revises: 0014_messages_channel_status
"""

from alembic import op

from engine.store import message_text

revision = "0015_message_text"
down_revision = "0014_messages_channel_status"
branch_labels = None
depends_on = None

CHUNK = 5000  # messages read, decoded and indexed at a time: a store may hold millions


def upgrade() -> None:
    conn = op.get_bind()
    sqlite = conn.dialect.name == "sqlite"
    if sqlite:
        message_text.create_sqlite(conn)
    else:
        message_text.create_postgresql(conn)
    done: int | None = 0
    while done is not None:
        done = message_text.fill(conn, done, CHUNK)
    if not sqlite:
        message_text.create_trigram_index(conn)


def downgrade() -> None:
    op.execute("DROP TABLE message_text")
