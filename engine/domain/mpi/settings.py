"""MPI settings as data: how records are paired (blocking), compared (levels per field) and decided.

Integration engineers edit these in ``config/mpi.yaml``; the trained m/u weights live beside them in a model
file (``model.py``). Parsing is pure: a wrong value raises :class:`Invalid` with the data path, which the
config loader turns into ``file:line:column``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: Level kinds and the options each takes besides its column(s).
KINDS: dict[str, tuple[str, ...]] = {
    "exact": ("tf",),
    "jaro_winkler": ("min",),
    "levenshtein": ("max",),
    "damerau": ("max",),
    "in_set": (),  # [value column, "|"-joined set column]: either side's value in the other's set
    "dropped": (),  # one value is the other with one character left out
    "date_swap": (),  # day and month transposed
    "date_within": ("days",),
    "swap": (),  # [a, b]: left a == right b and left b == right a (given name and surname swapped)
}


class Invalid(ValueError):
    """A settings value that cannot work, with the data path that holds it."""

    def __init__(self, path: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.path = path


@dataclass(frozen=True, slots=True)
class Level:
    kind: str
    columns: tuple[str, ...]
    label: str
    tf: bool = False
    threshold: float = 0.0  # min similarity, max distance or days, by kind


@dataclass(frozen=True, slots=True)
class Comparison:
    """One field's levels, best first; a pair missing ``column`` on either side is null (weight 0)."""

    name: str
    column: str
    levels: tuple[Level, ...]

    @property
    def labels(self) -> list[str]:
        return [level.label for level in self.levels] + ["else"]


@dataclass(frozen=True, slots=True)
class Identity:
    """A verified identifier (the resident ID) whose equality or difference decides before any weight does.

    Equal values with no disagreement on ``compatible`` comparisons: a certain match. Two different values
    further apart than ``typo_distance`` edits: never the same person (twins, parent and child); closer
    ones go to review at most.
    """

    column: str
    compatible: tuple[str, ...] = ()
    typo_distance: int = 1


@dataclass(frozen=True, slots=True)
class Thresholds:
    link: float = 0.99  # match probability at or above: linked automatically
    review: float = 0.5  # at or above, below link: a reviewer decides
    possible: float = 0.05  # shown by search as a possible match; below: certainly not


@dataclass(frozen=True, slots=True)
class Settings:
    comparisons: tuple[Comparison, ...]
    blocking: tuple[tuple[str, ...], ...]
    thresholds: Thresholds = Thresholds()
    identity: Identity | None = None
    training_blocking: tuple[tuple[str, ...], ...] = ()
    # An automatic link needs, per comparison named, one of its first N levels (or a null comparison).
    link_requires: tuple[tuple[str, int], ...] = ()
    max_block: int = 50  # a blocking key shared by more records than this pairs none of them
    model: str = "mpi-model.json"
    columns: tuple[str, ...] = field(default=())

    def comparison_index(self, name: str) -> int:
        return next(i for i, c in enumerate(self.comparisons) if c.name == name)


def _columns(value: Any, path: tuple[str | int, ...], count: int | None = None) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(c, str) and c for c in items):
        raise Invalid(path, "expected a column name or a list of column names")
    if count is not None and len(items) != count:
        raise Invalid(path, f"expected {count} column names, got {len(items)}")
    return tuple(items)


def _level(data: Any, path: tuple[str | int, ...]) -> Level:
    if not isinstance(data, Mapping):
        raise Invalid(path, "a level is a mapping such as {exact: name}")
    kinds = [k for k in data if k in KINDS]
    if len(kinds) != 1:
        raise Invalid(path, f"a level names exactly one of: {', '.join(KINDS)}")
    kind = kinds[0]
    options = KINDS[kind]
    unknown = sorted(set(data) - {kind, "label", *options})
    if unknown:
        raise Invalid((*path, unknown[0]), f"unknown option for {kind}; allowed: label, {', '.join(options) or '-'}")
    pair = kind in ("in_set", "swap")
    columns = _columns(data[kind], (*path, kind), 2 if pair else 1)
    threshold = 0.0
    for option in ("min", "max", "days"):
        if option in options:
            if option not in data or not isinstance(data[option], int | float) or isinstance(data[option], bool):
                raise Invalid((*path, option), f"{kind} needs a number '{option}'")
            threshold = float(data[option])
    if kind == "jaro_winkler" and not 0 < threshold <= 1:
        raise Invalid((*path, "min"), "a similarity lies between 0 and 1")
    label = data.get("label") or f"{kind.replace('_', ' ')} {'/'.join(columns)}"
    tf = data.get("tf", False)
    if not isinstance(tf, bool):
        raise Invalid((*path, "tf"), "tf is true or false")
    return Level(kind, columns, str(label), tf, threshold)


def parse(data: Any) -> Settings:
    """Settings from their YAML data; raises :class:`Invalid` at the first value that cannot work."""
    if not isinstance(data, Mapping):
        raise Invalid((), "the MPI settings are a mapping with comparisons, blocking and thresholds")
    known = {"comparisons", "blocking", "thresholds", "identity", "training", "max_block", "model", "link_requires"}
    for key in data:
        if key not in known:
            raise Invalid((key,), f"unknown key; expected one of {', '.join(sorted(known))}")
    comparisons: list[Comparison] = []
    raw = data.get("comparisons")
    if not isinstance(raw, list) or not raw:
        raise Invalid(("comparisons",), "a list of comparisons is required")
    for i, item in enumerate(raw):
        path: tuple[str | int, ...] = ("comparisons", i)
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
            raise Invalid(path, "a comparison has a name and levels")
        levels_data = item.get("levels")
        if not isinstance(levels_data, list) or not levels_data:
            raise Invalid((*path, "levels"), "a comparison needs at least one level")
        levels = tuple(_level(level, (*path, "levels", j)) for j, level in enumerate(levels_data))
        column = item.get("column", levels[0].columns[0])
        if not isinstance(column, str):
            raise Invalid((*path, "column"), "the column whose absence makes the comparison null")
        if any(c.name == item["name"] for c in comparisons):
            raise Invalid((*path, "name"), f"comparison {item['name']!r} is defined twice")
        comparisons.append(Comparison(item["name"], column, levels))
    blocking = _rules(data.get("blocking"), ("blocking",))
    training = data.get("training") or {}
    if not isinstance(training, Mapping):
        raise Invalid(("training",), "training is a mapping with blocking")
    training_blocking = _rules(training.get("blocking", [list(r) for r in blocking]), ("training", "blocking"))
    thresholds = _thresholds(data.get("thresholds") or {})
    identity = _identity(data.get("identity"), [c.name for c in comparisons])
    requires = data.get("link_requires", {})
    if not isinstance(requires, Mapping):
        raise Invalid(("link_requires",), "a mapping of comparison name to how many of its best levels count")
    by_name = {c.name: c for c in comparisons}
    for name, best in requires.items():
        if name not in by_name:
            raise Invalid(("link_requires", name), f"no comparison named {name!r}")
        count = len(by_name[name].levels)
        if not isinstance(best, int) or isinstance(best, bool) or not 1 <= best <= count:
            raise Invalid(("link_requires", name), f"a number of levels from 1 to {count}")
    max_block = data.get("max_block", 50)
    if not isinstance(max_block, int) or max_block < 2:
        raise Invalid(("max_block",), "max_block is a whole number of at least 2")
    model = data.get("model", "mpi-model.json")
    if not isinstance(model, str) or not model:
        raise Invalid(("model",), "model is the file of trained weights, relative to this file")
    columns = sorted(
        {c.column for c in comparisons}
        | {col for c in comparisons for level in c.levels for col in level.columns}
        | {col for rule in blocking for col in rule}
        | ({identity.column} if identity else set())
    )
    return Settings(
        tuple(comparisons),
        blocking,
        thresholds,
        identity,
        training_blocking,
        tuple((str(name), int(best)) for name, best in requires.items()),
        max_block,
        model,
        tuple(columns),
    )


def _rules(value: Any, path: tuple[str | int, ...]) -> tuple[tuple[str, ...], ...]:
    if not isinstance(value, list) or not value:
        raise Invalid(path, "a list of blocking rules, each a list of columns that must all be equal")
    return tuple(_columns(rule, (*path, i)) for i, rule in enumerate(value))


def _thresholds(value: Any) -> Thresholds:
    if not isinstance(value, Mapping):
        raise Invalid(("thresholds",), "thresholds is a mapping of link, review, possible")
    base = Thresholds()
    out = {}
    for name in ("link", "review", "possible"):
        v = value.get(name, getattr(base, name))
        if not isinstance(v, int | float) or isinstance(v, bool) or not 0 < v < 1:
            raise Invalid(("thresholds", name), "a match probability strictly between 0 and 1")
        out[name] = float(v)
    if not out["possible"] <= out["review"] <= out["link"]:
        raise Invalid(("thresholds",), "expected possible <= review <= link")
    return Thresholds(**out)


def _identity(value: Any, comparisons: Sequence[str]) -> Identity | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or not isinstance(value.get("column"), str):
        raise Invalid(("identity",), "identity names the column of a verified identifier")
    compatible = value.get("compatible", [])
    if not isinstance(compatible, list):
        raise Invalid(("identity", "compatible"), "a list of comparison names")
    for i, name in enumerate(compatible):
        if name not in comparisons:
            raise Invalid(("identity", "compatible", i), f"no comparison named {name!r}")
    typo = value.get("typo_distance", 1)
    if not isinstance(typo, int) or typo < 0:
        raise Invalid(("identity", "typo_distance"), "a number of edits, 0 or more")
    return Identity(value["column"], tuple(compatible), typo)
