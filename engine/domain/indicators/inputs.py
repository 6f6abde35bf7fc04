"""The rules that read indicator inputs out of a person's record (mappings/indicators/inputs/record.yaml),
compiled against the care rules whose labels, measures and controls they name."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.domain.care import CareRules, LabelRule, TaskRules
from engine.domain.care.control import Control
from engine.domain.care.match import Matcher, compile_matcher

from .model import FACT_KINDS


@dataclass(frozen=True)
class FollowUp:
    """A chronic programme: the visits that are its follow-ups, and the control that judges them."""

    condition: str
    control: Control
    visits: tuple[Matcher, ...]


@dataclass(frozen=True)
class RecordInputs:
    """The rules that read indicator inputs out of a person's resources."""

    label_rules: tuple[LabelRule, ...]
    task_rules: TaskRules  # for the measures and controls follow-ups are judged by
    labels: Mapping[str, str]  # care label code -> indicator label
    facts: Mapping[str, tuple[Matcher, ...]]
    follow_ups: tuple[FollowUp, ...]


def compile_inputs(data: Any, care: CareRules) -> RecordInputs:
    """record.yaml's parsed data; ValueError naming the key that is wrong."""
    data = data or {}
    if not isinstance(data, dict):
        raise ValueError("expected a mapping (labels:, facts:, follow_ups:)")
    known = {rule.code for rule in care.labels}
    unknown = sorted(set(data.get("labels", {})) - known)
    if unknown:
        raise ValueError(f"labels: no care label {', '.join(unknown)} in care/labels.yaml")
    kinds = set(FACT_KINDS) - {"follow_up"}
    wrong = sorted(set(data.get("facts", {})) - kinds)
    if wrong:
        raise ValueError(f"facts: unknown kind {', '.join(wrong)}; expected one of {', '.join(sorted(kinds))}")
    follow_ups = []
    for condition, spec in (data.get("follow_ups") or {}).items():
        control = care.tasks.controls.get(spec.get("control"))
        if control is None or not spec.get("visits"):
            controls = ", ".join(care.tasks.controls)
            raise ValueError(f"follow_ups.{condition}: needs visits: and a control: (one of {controls})")
        follow_ups.append(FollowUp(condition, control, tuple(compile_matcher(m) for m in spec["visits"])))
    return RecordInputs(
        label_rules=care.labels,
        task_rules=care.tasks,
        labels=dict(data.get("labels", {})),
        facts={kind: tuple(compile_matcher(m) for m in specs) for kind, specs in data.get("facts", {}).items()},
        follow_ups=tuple(follow_ups),
    )
