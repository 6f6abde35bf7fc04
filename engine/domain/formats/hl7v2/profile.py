"""Observation profiles: what one sender agreed to send for each observation code (units, plausible values).

HL7 v2 itself cannot say that a newborn's weight comes in grams: `kg` is a valid UCUM unit and 2100 a valid
NM. A profile can. Pure: rules and a parsed message in, problems out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .message import Message
from .validate import Problem


@dataclass(frozen=True, slots=True)
class ObservationRule:
    label: str = ""
    units: frozenset[str] | None = None
    low: float | None = None
    high: float | None = None


Rules = Mapping[tuple[str, str], ObservationRule]  # (coding system, code) -> rule


def check_observations(message: Message, rules: Rules) -> list[Problem]:
    """Each OBX whose code has a rule: units must be among the accepted ones, a number within the range."""
    problems = []
    for n, obx in enumerate(message.segments("OBX"), 1):
        code, system = obx.get(3, 1, 1), obx.get(3, 1, 3)
        rule = rules.get((system, code))
        if rule is None:
            continue
        name = f"{system} {code}" + (f" ({rule.label})" if rule.label else "")
        unit = obx.get(6, 1, 1)
        if rule.units is not None and unit not in rule.units:
            expected = ", ".join(sorted(rule.units))
            problems.append(
                Problem(103, f"OBX[{n}]-6", f"OBX[{n}]-6 (units) of {name} is {unit or 'empty'}; expected {expected}")
            )
        if (rule.low is not None or rule.high is not None) and obx.get(2) in ("NM", "SN"):
            try:
                value = float(obx.get(5, 1, 1) if obx.get(2) == "NM" else obx.get(5, 1, 2))
            except ValueError:
                continue  # not a number: the data type check reports it
            if (rule.low is not None and value < rule.low) or (rule.high is not None and value > rule.high):
                span = f"{rule.low if rule.low is not None else '...'}..{rule.high if rule.high is not None else '...'}"
                problems.append(Problem(102, f"OBX[{n}]-5", f"OBX[{n}]-5 of {name} is outside {span}"))
    return problems
