"""Load indicator definitions (mappings/indicators/*.yaml), or say where they are wrong.

The schema is pydantic, reported through the same ``file:line:column: field: message`` translation as
channel files; the values handed on are the pure definitions of :mod:`engine.domain.indicators`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from engine.domain.indicators import AgeRange, FactPattern, Has, Indicator, ResidentCriteria, Side

from ._messages import translate
from ._yaml import read_document
from .errors import WHOLE_FILE, ConfigError
from .models import field_error

#: The definitions shipped with Huitong.
SHIPPED = Path(__file__).resolve().parents[2] / "mappings" / "indicators"

Code = Annotated[str, StringConstraints(min_length=1, pattern=r"^[a-z][a-z0-9_]*$")]
FactKind = Literal[
    "follow_up", "health_check", "emergency_visit", "admission", "outpatient_visit", "flu_vaccine", "fobt"
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FactSpec(_Strict):
    kind: FactKind
    condition: str | None = None
    controlled: bool | None = None
    at_home_org: bool | None = Field(default=None, description="at the resident's institution or one below it")

    def build(self) -> FactPattern:
        return FactPattern(self.kind, self.condition, self.controlled, self.at_home_org)


class HasSpec(FactSpec):
    at_least: int = Field(default=1, ge=1)


class AgeSpec(_Strict):
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> AgeSpec:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise field_error("max", f"max ({self.max}) is below min ({self.min})")
        return self


class ResidentSpec(_Strict):
    contracted: bool | None = None
    labels_any: list[str] = Field(default_factory=list)
    labels_all: list[str] = Field(default_factory=list)
    age: AgeSpec | None = None
    has: HasSpec | None = None
    latest: FactSpec | None = None
    any_of: list[ResidentSpec] = Field(default_factory=list)

    def build(self) -> ResidentCriteria:
        age = AgeRange(self.age.min, self.age.max) if self.age is not None else None
        has = Has(FactSpec.build(self.has), self.has.at_least) if self.has is not None else None
        return ResidentCriteria(
            contracted=self.contracted,
            labels_any=frozenset(self.labels_any),
            labels_all=frozenset(self.labels_all),
            age=age,
            has=has,
            latest=self.latest.build() if self.latest is not None else None,
            any_of=tuple(c.build() for c in self.any_of),
        )


class SideSpec(_Strict):
    residents: ResidentSpec = Field(default_factory=ResidentSpec)
    facts: FactSpec | None = None

    def build(self) -> Side:
        return Side(self.residents.build(), self.facts.build() if self.facts is not None else None)


class NameSpec(_Strict):
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)


class IndicatorSpec(_Strict):
    code: Code = Field(description="lower_snake_case, unique across the files")
    name: NameSpec = Field(description="zh: and en:")
    unit: Literal["residents", "facts"] = "residents"
    window: Literal["period", "year_to_date", "rolling_year"] = Field(description="which days' facts count")
    denominator: SideSpec
    numerator: SideSpec
    source: str = Field(min_length=1, description="where the definition comes from")
    note: str = ""

    @model_validator(mode="after")
    def _unit_fits(self) -> IndicatorSpec:
        if self.unit == "facts" and self.denominator.facts is None:
            raise field_error("denominator", "unit: facts counts facts; give denominator.facts (e.g. {kind: ...})")
        if self.unit == "residents" and (self.denominator.facts is not None or self.numerator.facts is not None):
            side = "denominator" if self.denominator.facts is not None else "numerator"
            raise field_error(side, "facts: is only for unit: facts; use residents.has to require a fact")
        return self

    def build(self) -> Indicator:
        return Indicator(
            code=self.code,
            name_zh=self.name.zh,
            name_en=self.name.en,
            window=self.window,
            denominator=self.denominator.build(),
            numerator=self.numerator.build(),
            source=self.source,
            unit=self.unit,
            note=self.note,
        )


class IndicatorFile(_Strict):
    indicators: list[IndicatorSpec] = Field(min_length=1)


def load_indicators(path: Path, environ: Mapping[str, str] | None = None) -> tuple[list[Indicator], list[ConfigError]]:
    """Every definition of a file, or of a directory's ``*.yaml`` in name order; codes unique across them."""
    files = sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    found: list[Indicator] = []
    errors: list[ConfigError] = []
    seen: dict[str, str] = {}
    for file in files:
        doc = read_document(file, environ or {})
        if doc.errors or not doc.parsed:
            errors.extend(doc.errors)
            continue
        if not isinstance(doc.data, dict):
            pos = doc.value_pos(())
            errors.append(ConfigError(file, pos.line, pos.column, WHOLE_FILE, "expected a mapping (indicators:)"))
            continue
        try:
            spec = IndicatorFile.model_validate(doc.data)
        except ValidationError as exc:
            translate(doc, exc, IndicatorFile)
            errors.extend(sorted(doc.errors, key=lambda e: (e.line, e.column)))
            continue
        for i, item in enumerate(spec.indicators):
            where = doc.value_pos(("indicators", i, "code"))
            if item.code in seen:
                message = f"duplicate indicator code {item.code!r} (first defined at {seen[item.code]})"
                errors.append(ConfigError(file, where.line, where.column, f"indicators[{i}].code", message))
                continue
            seen[item.code] = f"{file.name}:{where.line}"
            found.append(item.build())
    return (found, []) if not errors else ([], errors)
