from __future__ import annotations

import pytest

from engine.domain.care import LabelRule, TaskRules
from tests.care.rules import shipped_care


@pytest.fixture(scope="session")
def label_rules() -> list[LabelRule]:
    return list(shipped_care().labels)


@pytest.fixture(scope="session")
def task_rules() -> TaskRules:
    return shipped_care().tasks
