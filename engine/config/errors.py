"""Configuration errors: one line each, in the ``file:line:column: field: message`` form.

Editors and CI annotators jump to ``file:line:column``, so every finding — a YAML typo, a wrong
type, a port used twice, a missing certificate — is reported in exactly that shape.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import Literal

Stage = Literal["schema", "topology", "environment"]

#: Field name used when an error belongs to the whole file (unreadable file, YAML syntax error).
WHOLE_FILE = "(file)"


@dataclass(frozen=True)
class ConfigError:
    """One finding in a configuration file. ``line`` and ``column`` are 1-based."""

    file: Path
    line: int
    column: int
    field: str
    message: str
    #: Which check found it (Vector-style): ``schema`` of one file, ``topology`` across files,
    #: or ``environment`` (files and directories on this machine). Not part of ``str()``.
    stage: Stage = dataclass_field(default="schema", compare=False)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.field}: {self.message}"


class ConfigInvalid(Exception):
    """Raised by :func:`load_config_or_raise`; the message lists every error, one per line."""

    def __init__(self, errors: Iterable[ConfigError]) -> None:
        self.errors: list[ConfigError] = list(errors)
        count = len(self.errors)
        head = f"configuration has {count} error{'s' if count != 1 else ''}"
        super().__init__("\n".join([head, *(str(e) for e in self.errors)]))
