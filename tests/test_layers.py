"""The folder layout is the architecture: each layer imports only the layers below it (docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ENGINE = Path(__file__).parent.parent / "engine"

# layer -> the engine packages its modules may import (besides their own)
ALLOWED = {
    "domain": set(),
    "config": {"domain"},
    "store": {"domain", "config"},
    "connectors": {"domain", "config"},
    "views": {"domain", "config", "store"},
    "pipeline": {"domain", "config", "store", "views"},
    "sources": {"domain", "config", "connectors", "pipeline", "store"},
    "api": {"domain", "config", "connectors", "store", "views"},
}


def engine_imports(module: Path) -> set[str]:
    """The engine packages a module imports (engine.<package>...), at any depth of the file."""
    found = set()
    for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
        names = (
            [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0
            else [a.name for a in node.names] if isinstance(node, ast.Import)
            else []
        )
        for name in names:
            parts = name.split(".")
            if parts[0] == "engine" and len(parts) > 1:
                found.add(parts[1])
    return found


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_a_layer_imports_only_the_layers_below_it(layer: str) -> None:
    assert (ENGINE / layer).is_dir(), f"engine/{layer} is in the layer table but not in the tree"
    wrong = {
        str(module.relative_to(ENGINE)): sorted(engine_imports(module) - ALLOWED[layer] - {layer})
        for module in sorted((ENGINE / layer).rglob("*.py"))
    }
    assert {m: w for m, w in wrong.items() if w} == {}


READS = ("read_text(", "read_bytes(", "open(", "safe_load(")


@pytest.mark.parametrize("layer", ["domain", "pipeline"])
def test_domain_and_pipeline_read_no_file_at_run_time(layer: str) -> None:
    readers = [
        str(module.relative_to(ENGINE))
        for module in sorted((ENGINE / layer).rglob("*.py"))
        if any(call in module.read_text(encoding="utf-8") for call in READS)
    ]
    assert readers == []
