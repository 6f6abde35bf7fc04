"""The rule files beside the mappings, compiled when the configuration loads: care labels and tasks
(mappings/care), indicator definitions and their record inputs (mappings/indicators). A broken one is a
``file:line:column`` error of `huitong validate` and of the daemon's start, never a traceback at run time."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.domain.care import CareRules, compile_labels, compile_tasks
from engine.domain.indicators import Indicator
from engine.domain.indicators.inputs import RecordInputs, compile_inputs

from ._yaml import read_document
from .bundle import RuleSet
from .errors import WHOLE_FILE, ConfigError
from .indicators import load_indicators

CARE = Path("care")
INDICATORS = Path("indicators")
RECORD_INPUTS = INDICATORS / "inputs" / "record.yaml"
_CARE: tuple[tuple[str, Callable[[Any], Any]], ...] = (("labels", compile_labels), ("tasks", compile_tasks))


def load_rules(mappings: Path) -> tuple[RuleSet, list[ConfigError]]:
    """Every rule file of ``mappings`` compiled, or every error found (then the rules are empty)."""
    care, errors = load_care(mappings / CARE)
    indicators: list[Indicator] = []
    inputs = None
    if (mappings / INDICATORS).is_dir():
        indicators, found = load_indicators(mappings / INDICATORS)
        errors.extend(found)
        file = mappings / RECORD_INPUTS
        if file.is_file() and not errors:
            inputs, found = _record_inputs(file, care)
            errors.extend(found)
    if errors:
        return RuleSet(), errors
    return RuleSet(care, tuple(indicators), inputs), []


def load_care(directory: Path) -> tuple[CareRules | None, list[ConfigError]]:
    """labels.yaml and tasks.yaml of ``directory`` (mappings/care/); None without errors when there is none."""
    if not directory.is_dir():  # no care rules: no tasks kept
        return None, []
    errors: list[ConfigError] = []
    compiled: dict[str, Any] = {}
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
            compiled[name] = compile_rules(doc.data)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            pos = doc.value_pos((name,)) if isinstance(doc.data, dict) and name in doc.data else doc.value_pos(())
            reason = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
            errors.append(ConfigError(file, pos.line, pos.column, name, reason))
    if errors:
        return None, errors
    return CareRules(tuple(compiled["labels"]), compiled["tasks"]), []


def _record_inputs(file: Path, care: CareRules | None) -> tuple[RecordInputs | None, list[ConfigError]]:
    if care is None:
        message = "the record inputs name care labels and controls: the mappings need care/labels.yaml and tasks.yaml"
        return None, [ConfigError(file, 1, 1, WHOLE_FILE, message)]
    doc = read_document(file, {})
    if doc.errors or not doc.parsed:
        return None, list(doc.errors)
    try:
        return compile_inputs(doc.data, care), []
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        reason = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
        return None, [ConfigError(file, 1, 1, WHOLE_FILE, reason)]
