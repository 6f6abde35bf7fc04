"""Rows as CSV or JSON text; writing the text anywhere is the caller's business."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence

from engine.domain.orgs import OrgTree

from .compute import Row

COLUMNS = ("indicator", "period", "org", "org_name", "team", "team_name", "numerator", "denominator", "rate")


def _record(row: Row, orgs: OrgTree | None) -> dict[str, object]:
    rate = None if row.rate is None else round(row.rate, 4)
    return {
        "indicator": row.indicator,
        "period": row.period,
        "org": row.org,
        "org_name": orgs.get(row.org).name if orgs is not None else None,
        "team": row.team,
        "team_name": orgs.team(row.team).name if orgs is not None and row.team is not None else None,
        "numerator": row.numerator,
        "denominator": row.denominator,
        "rate": rate,
    }


def to_csv(rows: Sequence[Row], orgs: OrgTree | None = None) -> str:
    """One line per row; an empty cell where there is no team, name or rate (a zero denominator)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        record = _record(row, orgs)
        writer.writerow(["" if record[c] is None else record[c] for c in COLUMNS])
    return out.getvalue()


def to_json(rows: Sequence[Row], orgs: OrgTree | None = None) -> str:
    """A JSON array of objects with the CSV's columns; rate is null when the denominator is zero."""
    return json.dumps([_record(row, orgs) for row in rows], ensure_ascii=False, indent=2) + "\n"
