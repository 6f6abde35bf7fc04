"""Family-doctor care rules (pure): key-population labels from the unified record, service tasks and their
fulfilment from the basic public-health specification, and the facts of a health assessment.

Rules are data in mappings/care/, read and compiled by the configuration loader (engine/config/rules.py).
"""

from engine.domain.care.assess import Assessment, ControlStatus, RiskFlag, assess
from engine.domain.care.labels import Evidence, Label, LabelRule, compile_labels, labels_of
from engine.domain.care.rules import CareRules
from engine.domain.care.tasks import Period, Task, TaskRules, TaskState, compile_tasks, tasks_for

__all__ = [
    "Assessment",
    "CareRules",
    "ControlStatus",
    "Evidence",
    "Label",
    "LabelRule",
    "Period",
    "RiskFlag",
    "Task",
    "TaskRules",
    "TaskState",
    "assess",
    "compile_labels",
    "compile_tasks",
    "labels_of",
    "tasks_for",
]
