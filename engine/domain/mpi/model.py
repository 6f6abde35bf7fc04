"""The Fellegi-Sunter model: m and u per comparison level, the prior, and what a pair's levels weigh.

m = P(level | same person), u = P(level | different persons). A pair's match weight is the prior's log-odds
plus log2(m/u) of each comparison's level; a null level weighs 0. On a level marked ``tf`` the u of the
level is replaced by how common the agreed value is: two records agreeing on 王伟 say less than two agreeing
on 欧阳翊. Weights are trained (``training.py``) and kept as JSON beside the settings.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .compare import NULL
from .settings import Settings

#: A value's frequency is estimated as if TF_PSEUDO more records held it at the rate u predicts: in a store of
#: ten records every name looks common, so a small store's counts shrink toward u (no adjustment) while a large
#: one's speak for themselves.
TF_PSEUDO = 20.0
Frequencies = Mapping[str, Mapping[str, tuple[int, int]]]  # column -> value -> (records holding it, all records)


class ModelMismatch(ValueError):
    """The model was trained for other settings (comparisons or levels changed since)."""


@dataclass(slots=True)
class Model:
    prior: float  # probability that two records drawn at random are the same person
    m: list[np.ndarray]  # per comparison: one entry per level, then "else"
    u: list[np.ndarray]
    trained: dict[str, Any]
    level_weights: list[np.ndarray] = field(init=False, repr=False, compare=False)

    def check(self, settings: Settings) -> None:
        if len(self.m) != len(settings.comparisons):
            raise ModelMismatch(
                f"the model has {len(self.m)} comparisons, the settings {len(settings.comparisons)}: "
                "run `huitong mpi train`"
            )
        for comparison, m in zip(settings.comparisons, self.m, strict=True):
            if len(m) != len(comparison.levels) + 1:
                raise ModelMismatch(
                    f"comparison {comparison.name!r} has {len(comparison.levels) + 1} levels in the settings and "
                    f"{len(m)} in the model: run `huitong mpi train`"
                )

    def __post_init__(self) -> None:
        # log2(m/u) per comparison level, computed once: every scored pair reads it.
        self.level_weights = [np.log2(m / u) for m, u in zip(self.m, self.u, strict=True)]

    @property
    def prior_weight(self) -> float:
        return math.log2(self.prior / (1 - self.prior))

    def to_json(self, settings: Settings) -> dict[str, Any]:
        return {
            "prior": self.prior,
            "comparisons": [
                {
                    "name": comparison.name,
                    "levels": [
                        {"label": label, "m": float(m), "u": float(u)}
                        for label, m, u in zip(comparison.labels, self.m[k], self.u[k], strict=True)
                    ],
                }
                for k, comparison in enumerate(settings.comparisons)
            ],
            "trained": self.trained,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], settings: Settings) -> Model:
        by_name = {c["name"]: c for c in data["comparisons"]}
        m: list[np.ndarray] = []
        u: list[np.ndarray] = []
        for comparison in settings.comparisons:
            if comparison.name not in by_name:
                raise ModelMismatch(f"the model has no comparison {comparison.name!r}: run `huitong mpi train`")
            levels = by_name[comparison.name]["levels"]
            m.append(np.array([level["m"] for level in levels], dtype=np.float64))
            u.append(np.array([level["u"] for level in levels], dtype=np.float64))
        model = cls(float(data["prior"]), m, u, dict(data.get("trained") or {}))
        model.check(settings)
        return model


def match_weights(
    settings: Settings,
    model: Model,
    gammas: np.ndarray,
    tf_values: Mapping[int, np.ndarray] | None = None,
    frequencies: Frequencies | None = None,
) -> np.ndarray:
    """Each pair's total match weight. ``tf_values[k]`` holds the agreed value of comparison k per pair."""
    total = np.full(len(gammas), model.prior_weight)
    for k, weights in enumerate(model.level_weights):
        g = gammas[:, k]
        total += np.where(g == NULL, 0.0, weights[np.where(g == NULL, 0, g)])
        total += tf_adjustments(settings, model, k, g, tf_values, frequencies)
    return total


def tf_adjustments(
    settings: Settings,
    model: Model,
    k: int,
    g: np.ndarray,
    tf_values: Mapping[int, np.ndarray] | None,
    frequencies: Frequencies | None,
) -> np.ndarray:
    """log2(u / frequency of the agreed value) on the pairs at a ``tf`` level of comparison k, else 0.

    The frequency is (count + TF_PSEUDO) / (total + TF_PSEUDO / u): shrunk toward u while the data is small.
    """
    out = np.zeros(len(g))
    if not tf_values or k not in tf_values or not frequencies:
        return out
    for index, level in enumerate(settings.comparisons[k].levels):
        if not level.tf:
            continue
        at = np.flatnonzero(g == index)
        if not len(at):
            continue
        table = frequencies.get(level.columns[0], {})
        u = model.u[k][index]
        for p, value in zip(at, tf_values[k][at], strict=True):
            found = table.get(value)
            if found is not None:
                count, total = found
                out[p] = np.log2(u * (total + TF_PSEUDO / u) / (count + TF_PSEUDO))
    return out


def probability(weights: np.ndarray | float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp2(-np.asarray(weights, dtype=np.float64)))


def weight_of(p: float) -> float:
    """The match weight at which a pair reaches probability p."""
    return math.log2(p / (1 - p))


def tf_columns(settings: Settings) -> dict[int, str]:
    """Comparison index -> the column whose agreed value the tf levels look up."""
    return {
        k: level.columns[0]
        for k, comparison in enumerate(settings.comparisons)
        for level in comparison.levels
        if level.tf
    }


def frequencies_of(columns: Sequence[str], values: Mapping[str, np.ndarray]) -> dict[str, dict[str, tuple[int, int]]]:
    """(records holding it, all records) of each value, per column: the batch's own term frequencies."""
    out: dict[str, dict[str, tuple[int, int]]] = {}
    for column in columns:
        present = [v for v in values[column] if v is not None]
        if not present:
            out[column] = {}
            continue
        uniques, counts = np.unique(np.array(present, dtype=object), return_counts=True)
        total = len(values[column])
        out[column] = {str(v): (int(c), total) for v, c in zip(uniques, counts, strict=True)}
    return out
