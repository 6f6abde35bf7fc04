"""Family-doctor and public-health indicators, computed from plain values (pure: no store, no clock).

definitions, errors = load_indicators(path)          # engine.config.indicators
rows = compute(definitions, residents, parse_period("2026Q3"), orgs)
print(to_csv(rows, orgs))
"""

from .compute import Row, compute
from .definitions import AgeRange, Context, FactPattern, Has, Indicator, ResidentCriteria, Side
from .model import FACT_KINDS, Resident, ServiceFact, Span
from .output import to_csv, to_json
from .period import WINDOWS, Period, Window, parse_period

__all__ = [
    "FACT_KINDS",
    "WINDOWS",
    "AgeRange",
    "Context",
    "FactPattern",
    "Has",
    "Indicator",
    "Period",
    "Resident",
    "ResidentCriteria",
    "Row",
    "ServiceFact",
    "Side",
    "Span",
    "Window",
    "compute",
    "parse_period",
    "to_csv",
    "to_json",
]
