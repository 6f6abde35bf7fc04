from __future__ import annotations

import pytest

from engine.domain.care import LabelRule, TaskRules, compile_labels, compile_tasks, read_rules


@pytest.fixture(scope="session")
def label_rules() -> list[LabelRule]:
    return compile_labels(read_rules("labels"))


@pytest.fixture(scope="session")
def task_rules() -> TaskRules:
    return compile_tasks(read_rules("tasks"))
