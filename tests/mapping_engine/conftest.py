"""A mappings directory per test, written from text, compiled the way the engine compiles it."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.config.errors import ConfigError
from engine.config.mappings import load_mappings
from engine.domain.mapping import MappingSet

SEX_TABLE = """
table: hl7v2-0001
source: HL7 v2 table 0001 (test copy)
system: http://hl7.org/fhir/administrative-gender
codes: {M: male, F: female}
"""


class MappingDir:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.write("tables/hl7v2-0001.yaml", SEX_TABLE)

    def write(self, relative: str, text: str) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
        return path

    def load(self) -> tuple[MappingSet, list[ConfigError]]:
        return load_mappings(self.root)

    def compiled(self) -> MappingSet:
        found, errors = self.load()
        assert not errors, [str(e) for e in errors]
        return found


@pytest.fixture
def mapping_dir(tmp_path: Path) -> MappingDir:
    return MappingDir(tmp_path / "mappings")


@pytest.fixture
def hl7v2_mapping(mapping_dir: MappingDir) -> Callable[[str], MappingSet]:
    """Compile a one-file hl7v2 mapping named test/m from its resources: block."""

    def make(resources: str, extra: str = "") -> MappingSet:
        body = textwrap.indent(textwrap.dedent(resources).strip(), "  ")
        mapping_dir.write(
            "test/m.yaml",
            f"mapping: test/m\nversion: '7'\ninput: hl7v2\ntimezone: '+08:00'\n{textwrap.dedent(extra)}"
            f"resources:\n{body}\n",
        )
        return mapping_dir.compiled()

    return make
