"""Faults a real store can be made to have: a trigger that refuses what a column or constraint might refuse."""

from __future__ import annotations

from sqlalchemy import Engine

REASON = "refused by the store"


def refuse_record_versions(engine: Engine, message_id: int) -> None:
    """From now on, the store refuses to write any record version of this message (the schema must exist)."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse BEFORE INSERT ON record_versions"
                f" WHEN NEW.message_id = {message_id} BEGIN SELECT RAISE(ABORT, '{REASON}'); END"
            )
            return
        conn.exec_driver_sql(
            "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN"
            f" IF NEW.message_id = {message_id} THEN RAISE EXCEPTION '{REASON}'; END IF;"
            " RETURN NEW; END $$ LANGUAGE plpgsql"
        )
        conn.exec_driver_sql(
            "CREATE TRIGGER refuse BEFORE INSERT ON record_versions FOR EACH ROW EXECUTE FUNCTION refuse()"
        )
