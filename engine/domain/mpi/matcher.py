"""One arriving record against its candidates, and why two records score what they score.

The incremental path: the store finds the candidates (records sharing a blocking key, and every other
record of their persons), this decides. A person is as close as its closest record, but a person holding a
different verified ID than the arriving record is certainly not it, however close another record of it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from . import blocking
from .compare import NULL, Row, Table, compare
from .decide import CERTAIN, DISTINCT_IDS, GRADES, NOT, PROBABLE, score, weigh
from .model import Frequencies, Model, tf_adjustments, tf_columns
from .settings import Settings


@dataclass(frozen=True, slots=True)
class Candidate:
    record_id: str
    person_id: str
    features: Row


@dataclass(frozen=True, slots=True)
class PersonScore:
    person_id: str
    record_id: str  # its closest record
    probability: float
    weight: float
    grade: int
    rule: str  # identity rule that forced the grade, '' for the model

    @property
    def grade_name(self) -> str:
        return GRADES[self.grade]


@dataclass(frozen=True, slots=True)
class Contribution:
    comparison: str
    level: str  # label of the level the pair reached ('null' when a side lacks the field)
    m: float | None
    u: float | None
    weight: float  # log2(m/u), 0 for null
    tf_adjustment: float


@dataclass(frozen=True, slots=True)
class Explanation:
    prior_weight: float
    contributions: list[Contribution]
    weight: float
    probability: float
    grade: str
    rule: str
    blocking_rule: list[str] | None  # the first rule that pairs them; None: no rule would compare them


class Matcher:
    def __init__(self, settings: Settings, model: Model) -> None:
        model.check(settings)
        self.settings, self.model = settings, model
        self.tf = tf_columns(settings)

    def __eq__(self, other: object) -> bool:
        """Two loads of the same files are equal (the configuration compares them)."""
        if not isinstance(other, Matcher):
            return NotImplemented
        return self.settings == other.settings and self.model.to_json(self.settings) == other.model.to_json(
            other.settings
        )

    __hash__ = None  # type: ignore[assignment]

    @property
    def tf_columns(self) -> list[str]:
        return sorted(set(self.tf.values()))

    def persons(
        self,
        record: Row,
        candidates: Sequence[Candidate],
        frequencies: Frequencies,
        gammas: np.ndarray | None = None,
    ) -> list[PersonScore]:
        """Candidate persons, best first, each with its closest record's score; ``gammas``: the pairs' comparison
        vectors when they were computed beforehand (a batch compares all its pairs at once)."""
        if not candidates:
            return []
        left = Table([record], self.settings.columns)
        right = Table([c.features for c in candidates], self.settings.columns)
        li = np.zeros(len(candidates), dtype=np.int64)
        ri = np.arange(len(candidates), dtype=np.int64)
        if gammas is None:
            gammas = compare(self.settings, left, li, right, ri)
        scored = weigh(self.settings, self.model, gammas, left, li, right, ri, frequencies)
        best: dict[str, PersonScore] = {}
        vetoed: set[str] = set()
        for i, candidate in enumerate(candidates):
            person = candidate.person_id
            if scored.grades[i] == NOT and scored.rules[i]:
                vetoed.add(person)  # a different verified ID: no other record of this person can outweigh it
            grade, rule = int(scored.grades[i]), scored.rules[i]
            # An identity rule decides outright: its probability says so, whatever the model's weights were.
            p = (1.0 if grade == CERTAIN else 0.0) if rule else float(scored.probabilities[i])
            found = PersonScore(person, candidate.record_id, p, float(scored.weights[i]), grade, rule)
            if person not in best or (found.grade, found.probability) > (best[person].grade, best[person].probability):
                best[person] = found
        out = []
        for person, found in best.items():
            if person in vetoed and found.grade > NOT:
                found = PersonScore(person, found.record_id, 0.0, found.weight, NOT, DISTINCT_IDS)
            out.append(found)
        return sorted(out, key=lambda s: (-s.grade, -s.probability, s.person_id))

    def explain(self, a: Row, b: Row, frequencies: Frequencies) -> Explanation:
        left = Table([a], self.settings.columns)
        right = Table([b], self.settings.columns)
        zero = np.zeros(1, dtype=np.int64)
        scored = score(self.settings, self.model, left, zero, right, zero, frequencies)
        contributions = []
        tf_values = {k: left[column][zero] for k, column in self.tf.items()}
        for k, comparison in enumerate(self.settings.comparisons):
            g = int(scored.gammas[0, k])
            if g == NULL:
                contributions.append(Contribution(comparison.name, "null", None, None, 0.0, 0.0))
                continue
            m, u = float(self.model.m[k][g]), float(self.model.u[k][g])
            adjustment = tf_adjustments(self.settings, self.model, k, scored.gammas[:, k], tf_values, frequencies)
            contributions.append(
                Contribution(comparison.name, comparison.labels[g], m, u, float(np.log2(m / u)), float(adjustment[0]))
            )
        rule = blocking.rule_of(self.settings.blocking, a, b)
        return Explanation(
            self.model.prior_weight,
            contributions,
            float(scored.weights[0]),
            float(scored.probabilities[0]),
            GRADES[int(scored.grades[0])],
            scored.rules[0],
            list(self.settings.blocking[rule]) if rule is not None else None,
        )


def decision(best: PersonScore | None) -> str:
    """match (link to best), review (new person, queued against best) or new."""
    if best is None:
        return "new"
    if best.grade == CERTAIN:
        return "match"
    if best.grade == PROBABLE:
        return "review"
    return "new"
