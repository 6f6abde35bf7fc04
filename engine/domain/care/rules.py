"""The care rules of mappings/care/ as one compiled value: the label rules and the task rules they feed."""

from __future__ import annotations

from dataclasses import dataclass

from engine.domain.care.labels import LabelRule
from engine.domain.care.tasks import TaskRules


@dataclass(frozen=True)
class CareRules:
    labels: tuple[LabelRule, ...]
    tasks: TaskRules

