"""The rule files beside the mappings, compiled when the configuration loads: care labels and tasks
(mappings/care), indicator definitions and their record inputs (mappings/indicators). A broken one is a
``file:line:column`` error of `huitong validate` and of the daemon's start, never a traceback at run time."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.domain.care.labels import compile_labels
from engine.domain.care.tasks import compile_tasks

from ._yaml import read_document
from .errors import WHOLE_FILE, ConfigError
from .indicators import load_indicators

_CARE: tuple[tuple[str, Callable[[Any], Any]], ...] = (("labels", compile_labels), ("tasks", compile_tasks))


def check_rules(mappings: Path) -> list[ConfigError]:
    errors = _care(mappings / "care")
    indicators = mappings / "indicators"
    if indicators.is_dir():
        _, found = load_indicators(indicators)
        errors.extend(found)
        inputs = indicators / "inputs" / "record.yaml"
        if inputs.is_file() and not errors:
            from engine.views.indicators import load_inputs

            try:
                load_inputs(mappings)
            except (OSError, ValueError) as exc:
                errors.append(ConfigError(inputs, 1, 1, WHOLE_FILE, str(exc).removeprefix(f"{inputs}: ")))
    return errors


def _care(directory: Path) -> list[ConfigError]:
    if not directory.is_dir():  # no care rules: no tasks kept
        return []
    errors: list[ConfigError] = []
    for name, compile_rules in _CARE:
        file = directory / f"{name}.yaml"
        if not file.is_file():
            errors.append(ConfigError(file, 1, 1, WHOLE_FILE, f"missing: {directory} holds care rules, so {name}.yaml"))
            continue
        doc = read_document(file, {})
        if doc.errors or not doc.parsed:
            errors.extend(doc.errors)
            continue
        try:
            compile_rules(doc.data)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            pos = doc.value_pos((name,)) if isinstance(doc.data, dict) and name in doc.data else doc.value_pos(())
            reason = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
            errors.append(ConfigError(file, pos.line, pos.column, name, reason))
    return errors
