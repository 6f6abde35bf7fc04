"""Faults a real store can be made to have: a trigger that refuses what a column or constraint might refuse."""

from __future__ import annotations

from sqlalchemy import Engine

REASON = "refused by the store"


def refuse_inserts(engine: Engine, table: str, column: str, value: int | str) -> None:
    """From now on, the store refuses rows of `table` whose `column` is `value` (the schema must exist)."""
    literal = str(value) if isinstance(value, int) else "'" + value.replace("'", "''") + "'"
    name = f"refuse_{table}"
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql(
                f"CREATE TRIGGER {name} BEFORE INSERT ON {table}"
                f" WHEN NEW.{column} = {literal} BEGIN SELECT RAISE(ABORT, '{REASON}'); END"
            )
            return
        conn.exec_driver_sql(
            f"CREATE FUNCTION {name}() RETURNS trigger AS $$ BEGIN"
            f" IF NEW.{column} = {literal} THEN RAISE EXCEPTION '{REASON}'; END IF;"
            " RETURN NEW; END $$ LANGUAGE plpgsql"
        )
        conn.exec_driver_sql(f"CREATE TRIGGER {name} BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION {name}()")


def refuse_record_versions(engine: Engine, message_id: int) -> None:
    """From now on, the store refuses to write any record version of this message."""
    refuse_inserts(engine, "record_versions", "message_id", message_id)


def outage_of_delivery_results(engine: Engine) -> None:
    """The store will refuse to record any delivery's outcome while the table `outage` holds a row (leases can still
    be taken): what a store that goes away between a round's claim and its results looks like to a worker."""
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE outage (since INTEGER)")
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql(
                "CREATE TRIGGER outage_status BEFORE UPDATE OF status ON outbox"
                f" WHEN EXISTS (SELECT 1 FROM outage) BEGIN SELECT RAISE(ABORT, '{REASON}'); END"
            )
            return
        conn.exec_driver_sql(
            "CREATE FUNCTION outage_status() RETURNS trigger AS $$ BEGIN"
            f" IF EXISTS (SELECT 1 FROM outage) THEN RAISE EXCEPTION '{REASON}'; END IF;"
            " RETURN NEW; END $$ LANGUAGE plpgsql"
        )
        conn.exec_driver_sql(
            "CREATE TRIGGER outage_status BEFORE UPDATE OF status ON outbox"
            " FOR EACH ROW EXECUTE FUNCTION outage_status()"
        )


def set_outage(engine: Engine, on: bool) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO outage VALUES (1)" if on else "DELETE FROM outage")


def fail_once(engine: Engine, table: str) -> None:
    """PostgreSQL: the next insert into `table` fails once, as a deadlock with another writer would; later ones
    go in (a sequence counts the tries, and a sequence is not rolled back with the transaction)."""
    name = f"fail_once_{table}"
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SEQUENCE {name}")
        conn.exec_driver_sql(
            f"CREATE FUNCTION {name}() RETURNS trigger AS $$ BEGIN"
            f" IF nextval('{name}') = 1 THEN RAISE EXCEPTION '{REASON}'; END IF;"
            " RETURN NEW; END $$ LANGUAGE plpgsql"
        )
        conn.exec_driver_sql(f"CREATE TRIGGER {name} BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION {name}()")
