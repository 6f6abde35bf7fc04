"""Huitong's linker for the FEBRL4 benchmark (``bench/febrl.py``): the MPI's own scorer, trained on the data.

The same code as the engine's MPI: settings as data (``bench/febrl_settings.yaml``: FEBRL's columns instead of
the Chinese features), blocking, comparison vectors, EM training (u from random pairs, m by EM over the
blocked pairs each training rule agrees on), term-frequency adjustment, then every pair at p >= 0.5.
Without ``with_ssid`` the soc_sec_id comparison and blocking rule are left out of the settings.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import yaml

from engine.domain.mpi import blocking, training
from engine.domain.mpi.compare import Table, compare
from engine.domain.mpi.model import frequencies_of, match_weights, probability, tf_columns
from engine.domain.mpi.settings import parse

if TYPE_CHECKING:
    import pandas as pd

SETTINGS = Path(__file__).with_name("febrl_settings.yaml")
THRESHOLD = 0.5


def _rows(df: pd.DataFrame) -> list[dict[str, str | None]]:
    columns = list(df.columns)
    return [
        {c: (v.strip() or None) if isinstance(v, str) else None for c, v in zip(columns, values, strict=True)}
        for values in df.itertuples(index=False, name=None)
    ]


def link(dfA: pd.DataFrame, dfB: pd.DataFrame, with_ssid: bool) -> set[tuple[str, str]]:
    from bench.febrl import Pairs

    data = yaml.safe_load(SETTINGS.read_text(encoding="utf-8"))
    if not with_ssid:
        data["comparisons"] = [c for c in data["comparisons"] if c["name"] != "soc_sec_id"]
        data["blocking"] = [r for r in data["blocking"] if "soc_sec_id" not in r]
    settings = parse(data)
    phases: dict[str, float] = {}
    started = time.perf_counter()
    left, right = Table(_rows(dfA), settings.columns), Table(_rows(dfB), settings.columns)
    li, ri, _ = blocking.pairs(settings.blocking, left, right, settings.max_block)
    phases["blocking"] = time.perf_counter() - started
    mark = time.perf_counter()
    gammas = compare(settings, left, li, right, ri)
    phases["comparison"] = time.perf_counter() - mark
    mark = time.perf_counter()
    model = training.train(settings, left, right, candidates=(li, ri, gammas))
    phases["training"] = time.perf_counter() - mark
    mark = time.perf_counter()
    tf = tf_columns(settings)
    both = {c: np.concatenate([left[c], right[c]]) for c in tf.values()}
    frequencies = frequencies_of(list(tf.values()), both)
    weights = match_weights(settings, model, gammas, {k: left[c][li] for k, c in tf.items()}, frequencies)
    hits = np.flatnonzero(probability(weights) >= THRESHOLD)
    ids_a, ids_b = dfA.index.to_numpy(), dfB.index.to_numpy()
    found = {(str(ids_a[li[p]]), str(ids_b[ri[p]])) for p in hits}
    phases["prediction"] = time.perf_counter() - mark
    return Pairs(found, candidate_pairs=len(li), phases=phases)
