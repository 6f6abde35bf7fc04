"""Load the organisation registry (config/organisations.yaml), or say where it is wrong.

Two passes, each reported as ``file:line:column: field: message``: the schema (pydantic, through the
same translation as channel files), then the tree itself (unknown parents, cycles, duplicate codes),
which :func:`engine.domain.orgs.build` checks and we position on the offending value.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from engine.domain.orgs import Org, OrgTree, RegistryInvalid, Team, build

from ._messages import translate
from ._yaml import dotted, read_document
from .errors import WHOLE_FILE, ConfigError

#: The registry shipped with Huitong, an invented county used by the samples and tests.
SHIPPED = Path(__file__).resolve().parents[2] / "config" / "organisations.yaml"

Code = Annotated[str, StringConstraints(min_length=1, pattern=r"^[0-9A-Za-z][0-9A-Za-z_.-]*$")]
Level = Literal["province", "city", "health_bureau", "lead_hospital", "township", "village"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OrgSpec(_Strict):
    code: Code = Field(description="the institution's code, quoted so YAML keeps it as text")
    name: str = Field(min_length=1, description="its registered Chinese name")
    level: Level = Field(description="province, city, health_bureau, lead_hospital, township or village")
    parent: Code | None = Field(default=None, description="the code of the institution above; omit for the top")


class TeamSpec(_Strict):
    id: Code = Field(description="the family-doctor team's id")
    name: str = Field(min_length=1)
    org: Code = Field(description="the code of the institution the team belongs to")


class RegistryFile(_Strict):
    organisations: list[OrgSpec] = Field(min_length=1, description="the institutions, top down")
    teams: list[TeamSpec] = Field(default_factory=list)


def load_organisations(
    file: Path, environ: Mapping[str, str] | None = None
) -> tuple[OrgTree | None, list[ConfigError]]:
    """The checked tree, or every error found; the tree is None whenever there are errors."""
    doc = read_document(file, environ or {})
    if doc.errors or not doc.parsed:
        return None, list(doc.errors)
    if not isinstance(doc.data, dict):
        pos = doc.value_pos(())
        return None, [
            ConfigError(file, pos.line, pos.column, WHOLE_FILE, "expected a mapping (organisations:, teams:)")
        ]
    try:
        spec = RegistryFile.model_validate(doc.data)
    except ValidationError as exc:
        translate(doc, exc, RegistryFile)
        return None, sorted(doc.errors, key=lambda e: (e.line, e.column))
    orgs = [Org(o.code, o.name, o.level, o.parent) for o in spec.organisations]
    teams = [Team(t.id, t.name, t.org) for t in spec.teams]
    try:
        return build(orgs, teams), []
    except RegistryInvalid as exc:
        errors = []
        for p in exc.problems:
            path = (p.section, p.index, p.field)
            pos = doc.value_pos(path)
            errors.append(ConfigError(file, pos.line, pos.column, dotted(path), p.message))
        return None, sorted(errors, key=lambda e: (e.line, e.column))


def registry_file(engine_yaml: Path) -> Path:
    """organisations.yaml beside engine.yaml when there is one, else the shipped registry (as mpi.yaml is found)."""
    beside = engine_yaml.parent / "organisations.yaml"
    return beside if beside.is_file() else SHIPPED
