"""A HIS database holding a vendor-style outpatient visit view (门诊就诊视图) on SQLite, PostgreSQL or MariaDB.

PostgreSQL runs when HUITONG_TEST_POSTGRES_URL is set, MySQL/MariaDB when HUITONG_TEST_MYSQL_URL is set (.ci/run
sets both); a server that is set but unreachable fails the test rather than skipping it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text

MYSQL_URL = os.environ.get("HUITONG_TEST_MYSQL_URL")
POSTGRES_URL = os.environ.get("HUITONG_TEST_POSTGRES_URL")
KINDS = ["sqlite", "postgresql", "mysql"]

# Invented residents of county 360426; resident IDs carry a valid GB 11643 check digit.
PEOPLE = [
    ("MZ00012345", "360426195803142011", "陈国华"),
    ("MZ00067890", "360426198709221040", "李秀英"),
    ("MZ00024680", "360426201506060034", "张小宇"),
    ("MZ00013579", "36042619720101357X", "刘建明"),
]
COLUMNS = (
    "visit_no, patient_id, id_card_no, name, visit_time, dept_name, doctor_name, diagnosis_code, diagnosis_name, "
    "fee, updated_at"
)


class SourceDb:
    """The vendor's database: a base table the HIS writes and the view it exposes to integration engines."""

    def __init__(self, kind: str, url: str, engine: Engine) -> None:
        self.kind = kind
        self.url = url
        self.engine = engine
        suffix = uuid.uuid4().hex[:8]
        self.table = f"his_visit_{suffix}"
        self.view = f"v_outpatient_visit_{suffix}"
        stamp = "TIMESTAMP" if kind == "postgresql" else "DATETIME"
        self.execute(
            f"CREATE TABLE {self.table} (visit_no VARCHAR(20) PRIMARY KEY, patient_id VARCHAR(20), "
            "id_card_no VARCHAR(18), name VARCHAR(50), "
            f"visit_time {stamp}, dept_name VARCHAR(50), doctor_name VARCHAR(50), diagnosis_code VARCHAR(20), "
            f"diagnosis_name VARCHAR(100), fee DECIMAL(10, 2), updated_at {stamp})"
        )
        self.execute(f"CREATE VIEW {self.view} AS SELECT {COLUMNS} FROM {self.table}")

    def query(self, op: str = ">=") -> str:
        return f"SELECT * FROM {self.view} WHERE updated_at {op} :watermark ORDER BY updated_at, visit_no"

    def execute(self, sql: str, params: dict[str, Any] | list[dict[str, Any]] | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(text(sql), params or {})

    def add_visit(self, n: int, updated_at: str, *, person: int = 0, diagnosis: tuple[str, str] | None = None) -> str:
        """Visit number n by PEOPLE[person], changed at ``updated_at`` ('YYYY-MM-DD HH:MM:SS'); its visit_no."""
        patient_id, id_card_no, name = PEOPLE[person]
        code, label = diagnosis or ("J06.900", "急性上呼吸道感染")
        visit_no = f"MZ2026112{n:05d}"
        self.execute(
            f"INSERT INTO {self.table} ({COLUMNS}) VALUES (:visit_no, :patient_id, :id_card_no, :name, :visit_time, "
            ":dept, :doctor, :code, :label, :fee, :updated_at)",
            {
                "visit_no": visit_no,
                "patient_id": patient_id,
                "id_card_no": id_card_no,
                "name": name,
                "visit_time": "2026-11-20 09:30:00",
                "dept": "内科门诊",
                "doctor": "王医生",
                "code": code,
                "label": label,
                "fee": "36.50",
                "updated_at": updated_at,
            },
        )
        return visit_no

    def snapshot(self) -> list[tuple[Any, ...]]:
        """Every row of the base table, to show the engine changed nothing."""
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(f"SELECT * FROM {self.table} ORDER BY visit_no"))]

    def drop(self) -> None:
        self.execute(f"DROP VIEW IF EXISTS {self.view}")
        self.execute(f"DROP TABLE IF EXISTS {self.table}")
        self.engine.dispose()


def open_source_db(kind: str, tmp_path: Path) -> Iterator[SourceDb]:
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'his.db'}"
    else:
        url = POSTGRES_URL if kind == "postgresql" else MYSQL_URL  # type: ignore[assignment]
        if not url:
            variable = "HUITONG_TEST_POSTGRES_URL" if kind == "postgresql" else "HUITONG_TEST_MYSQL_URL"
            pytest.skip(f"{variable} is not set; .ci/run sets it so CI reads that database")
    db = SourceDb(kind, url, create_engine(url))
    try:
        yield db
    finally:
        db.drop()
