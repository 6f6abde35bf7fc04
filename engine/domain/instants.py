"""The one way a moment is written for people: ISO 8601, local time with its UTC offset, whole seconds.

2026-12-06T20:41:07+08:00 reads as the operator's clock does, sorts as text within one zone, and is a valid FHIR
instant; `huitong` prints every time this way, and the record export's meta.lastUpdated is written this way too.
"""

from __future__ import annotations

from datetime import datetime, tzinfo


def local_iso(ts: float, tz: tzinfo | None = None) -> str:
    """`ts` (seconds since the epoch) in `tz`; None: the machine's zone, with the offset in force at that moment."""
    moment = datetime.fromtimestamp(ts, tz) if tz is not None else datetime.fromtimestamp(ts).astimezone()
    return moment.isoformat(timespec="seconds")
