"""``huitong test``: run the test cases kept beside the mappings and explain each failure with a diff."""

from __future__ import annotations

import difflib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from engine.domain.formats.xml import XmlError
from engine.domain.mapping import MappingError, MappingSet
from engine.domain.mapping.expect import matches, missing
from engine.pipeline.mapping import map_file

_CASE_KEYS = {"mapping", "input", "source_system", "charset", "expect", "count", "events", "description"}


@dataclass
class CaseResult:
    file: Path
    mappings: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def case_files(directory: Path) -> list[Path]:
    tests = directory / "tests"
    return sorted(tests.rglob("*.yaml")) if tests.is_dir() else []


def _dump(value: Any) -> list[str]:
    return yaml.safe_dump(value, allow_unicode=True, sort_keys=False, width=100).splitlines()


def _project(actual: Any, expected: Any) -> Any:
    """The part of ``actual`` that ``expected`` talks about, so a diff shows only what matters."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        return {
            k: v if k == "reference" and matches(v, actual[k], k) else _project(actual[k], v)
            for k, v in expected.items()
            if k in actual
        }
    return actual


def _explain(item: dict[str, Any], produced: list[dict[str, Any]]) -> str:
    same_type = [r for r in produced if r.get("resourceType") == item.get("resourceType")]
    if not same_type:
        kinds = Counter(str(r.get("resourceType")) for r in produced)
        return f"no {item.get('resourceType')} was produced (got: {dict(kinds) or 'nothing'})"
    best = max(same_type, key=lambda r: sum(1 for k, v in item.items() if k in r and matches(v, r[k], k)))
    diff = difflib.unified_diff(_dump(item), _dump(_project(best, item)), "expected", "produced", lineterm="")
    return "\n".join(diff)


def run_case(file: Path, mappings: MappingSet) -> CaseResult:
    result = CaseResult(file)
    try:
        case = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        result.problems.append(f"cannot read the case: {exc}")
        return result
    unknown = set(case) - _CASE_KEYS if isinstance(case, dict) else {"(not a mapping)"}
    if unknown or "input" not in case:
        result.problems.append(f"a case needs input: and expect:; unknown keys: {sorted(unknown)}")
        return result
    names = [case["mapping"]] if case.get("mapping") else None
    result.mappings = set(names or ())
    try:
        data = (file.parent / case["input"]).read_bytes()
        mapped = map_file(
            mappings, names, data, charset=case.get("charset"), source_system=str(case.get("source_system") or "")
        )
    except (OSError, MappingError, XmlError) as exc:
        result.problems.append(f"mapping failed: {exc}")
        return result
    result.mappings |= {m.mapping for _, m in mapped}
    produced = [r.body for _, m in mapped for r in m.resources]
    for item in missing(list(case.get("expect") or []), produced):
        result.problems.append(_explain(item, produced))
    counts = Counter(str(r.get("resourceType")) for r in produced)
    for kind, expected_count in (case.get("count") or {}).items():
        if counts.get(kind, 0) != expected_count:
            result.problems.append(f"expected {expected_count} {kind}, produced {counts.get(kind, 0)}")
    events = [{"kind": e.kind, "data": e.data} for _, m in mapped for e in m.events]
    for item in missing(list(case.get("events") or []), events):
        result.problems.append(f"expected event {item} not produced (got {[e['kind'] for e in events] or 'none'})")
    return result


def run_cases(directory: Path, mappings: MappingSet, only: set[str] | None = None) -> list[CaseResult]:
    """Every case (or those whose mapping is in ``only``)."""
    results = [run_case(f, mappings) for f in case_files(directory)]
    if only is None:
        return results
    return [r for r in results if r.mappings & only]
