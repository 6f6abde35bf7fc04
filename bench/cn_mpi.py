"""Huitong's master patient index on synthetic Chinese patients: accuracy and batch speed, beside Splink 5.

Not a test. The data is ``bench/cn_patients.py`` (households, twins, newborns; three sources his/phs/emr; stated
error rates; ground truth), generated in each process from its seed, so every linker sees the same rows. The
shipped model (``config/mpi-model.json``) was trained on ``--persons 20000 --seed 7``: it is evaluated here
on other seeds only.

Linkers (each run in a fresh, spawned process; data generated and libraries imported before the clock):

- ``huitong``: the shipped settings and model (``config/mpi.yaml``), ``features.from_row`` per record, then
  ``clusters.dedupe`` (blocking, comparison vectors, term frequencies, identity rules, union-find that never
  joins two different verified IDs). Decisions are dedupe's own: the first record of a person ``new``, the
  others ``match``, a record left alone with a probable pair (0.5 <= p < 0.99, or capped by a rule) ``review``.
- ``huitong_retrained``: the same settings, the model retrained on the data itself (``training.train``: u from
  random pairs, m by EM per training blocking rule), then dedupe.
- ``splink``: Splink 5 on DuckDB, on the same normalised features (``features.from_row``: simplified names,
  pinyin keys, 15 -> 18-digit IDs, normalised phones and addresses). Its comparisons mirror the levels of
  ``config/mpi.yaml`` in Splink's comparison-level library: resident_id (exact, Levenshtein 1), name (exact
  with term-frequency adjustment, same pinyin, one pinyin in the other's reading/order variants (a list
  column), one character dropped), birth date (exact, day/month swapped, within 1 day, Levenshtein 1), sex
  (exact), phone (exact, Levenshtein 1), address (exact, Jaro-Winkler 0.9, 0.75). Levenshtein where ours has
  Damerau-Levenshtein: DuckDB's damerau_levenshtein is 4-8 times slower, and the generator's typos are
  substitutions, which both count as 1. Blocking: the eight
  rules of ``config/mpi.yaml`` (no ``max_block`` cap: Splink has none). Training as Splink's tutorials do it:
  lambda from deterministic rules (same ID; same pinyin and birth date) at a stated recall of 0.8, u by random
  sampling (1e7 pairs, seeded), m by EM over the same three training rules as ours (id_raw, dob, name_py).
  Prediction at p >= 0.5, clusters by connected components at p >= 0.99
  (``cluster_pairwise_predictions_at_threshold``). Splink has no identity rules (our never-join-two-IDs,
  link_requires); its model sees the ID only as a comparison.
  Decisions: ``match`` for every record of a cluster of 2 or more, ``review`` for a record left alone whose
  best pair has 0.5 <= p < 0.99, else ``new`` (Huitong calls the first record of a cluster ``new``; only the
  review counts enter ``review_share``, so this naming does not move any metric).

Accuracy: seeds 1, 2, 3 at 10,000 persons (error scale 1.0) and seed 1 at error scale 3.0 ("hard"); every
metric of ``bench/mpi_metrics.evaluate`` plus the review band (records decided review), against the targets
of the issue: cluster F1 >= 0.995, no automatic merge of two distinct valid resident IDs, <= 2% of true
duplicates routed to review. For Huitong with the shipped model the result also lists what it misses (records
by error tag and relation, false merges by relation) with a few examples and ``Matcher.explain`` of them.

Speed: about 100,000 records (49,300 persons, seed 11). Wall seconds from the CSV rows in memory to persons
and decisions (features + blocking + scoring + clustering) and the peak-RSS delta (``ru_maxrss`` after -
before) of that call. Huitong: the shipped model, no training; and once with training included. Splink:
predict + cluster with the model it trained beforehand on the same data in another process (the training's
own seconds and RSS reported separately). Not pinned: DuckDB and rapidfuzz use every core.

    make .venv/.bench && .venv/bin/python bench/cn_mpi.py            # writes bench/results/cn_mpi.json
    .venv/bin/python bench/cn_mpi.py --skip-speed --only huitong     # a quick look, result file untouched
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import logging
import multiprocessing
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.machine import cpu_model, versions  # noqa: E402

RESULT = ROOT / "bench/results/cn_mpi.json"
ACCURACY_PERSONS = 10_000
ACCURACY_DATA = [(1, 1.0), (2, 1.0), (3, 1.0), (1, 3.0)]  # (seed, error scale)
SPEED_PERSONS = 49_300  # -> 100,176 records at seed 11
SPEED_SEED = 11
LINK, REVIEW = 0.99, 0.5  # Splink's thresholds, the same as config/mpi.yaml's
SPLINK_RECALL = 0.8  # stated recall of the deterministic rules for Splink's lambda (a guess, as its docs say)
SPLINK_U_PAIRS = 1e7
SEED = 42
TARGETS = {"cluster_f1_min": 0.995, "auto_merges_distinct_valid_ids_max": 0, "review_share_max": 0.02}
LINKERS = ["huitong", "huitong_retrained", "splink"]
PRELOAD = {
    "huitong": ["engine.domain.mpi.clusters", "engine.domain.mpi.training", "engine.config.mpi"],
    "splink": ["pandas", "duckdb", "splink", "splink.comparison_library", "splink.comparison_level_library"],
}
PACKAGES = ["splink", "duckdb", "pandas", "numpy", "rapidfuzz", "pypinyin", "opencc"]
SPLINK_COLUMNS = [
    "id_raw",
    "name",
    "name_py",
    "name_py_variants",
    "name_sorted",
    "family_py",
    "given_py",
    "sex",
    "birth_year",
    "dob",
    "phone",
    "address",
]
EXAMPLES = 5

Key = tuple[str, str]


# --- linkers: rows (people.csv as dicts) in, (person id, decision) per row out ---------------------------------


def _matcher() -> Any:
    from engine.config.mpi import SHIPPED, load_matcher

    matcher, errors = load_matcher(SHIPPED)
    if matcher is None:
        raise SystemExit("\n".join(str(e) for e in errors))
    return matcher


def huitong(people: list[dict[str, str]], retrain: bool, phases: dict[str, float]) -> list[tuple[str, str]]:
    from engine.domain.mpi import clusters, features, training
    from engine.domain.mpi.compare import Table

    matcher = _matcher()
    settings, model = matcher.settings, matcher.model
    mark = time.perf_counter()
    rows = [features.from_row(r) for r in people]
    phases["features"] = time.perf_counter() - mark
    if retrain:
        mark = time.perf_counter()
        model = training.train(settings, Table(rows, settings.columns))
        phases["training"] = time.perf_counter() - mark
    mark = time.perf_counter()
    result = clusters.dedupe(settings, model, rows)
    phases["dedupe"] = time.perf_counter() - mark
    phases["candidate_pairs"] = result.pairs
    return [(str(p), d) for p, d in zip(result.person, result.decision, strict=True)]


def splink_frame(people: list[dict[str, str]]) -> Any:
    import pandas as pd

    from engine.domain.mpi import features

    rows = [features.from_row(r) for r in people]
    frame = pd.DataFrame({c: pd.Series([f[c] for f in rows], dtype=object) for c in SPLINK_COLUMNS})
    # A list column, so that DuckDB does not split the readings again for every pair.
    frame["name_py_variants"] = [v.split("|") if v else None for v in frame["name_py_variants"]]
    frame.insert(0, "uid", range(len(rows)))
    return frame


def splink_settings() -> Any:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    in_variants = "list_contains(name_py_variants_r, name_py_l) OR list_contains(name_py_variants_l, name_py_r)"
    dropped = (
        "abs(length(name_l) - length(name_r)) = 1 AND least(length(name_l), length(name_r)) >= 2"
        " AND levenshtein(name_l, name_r) = 1"
    )
    swapped = (
        "dob_l <> dob_r AND substr(dob_l, 1, 4) = substr(dob_r, 1, 4)"
        " AND substr(dob_l, 6, 2) = substr(dob_r, 9, 2) AND substr(dob_l, 9, 2) = substr(dob_r, 6, 2)"
    )
    comparisons = [
        cl.LevenshteinAtThresholds("id_raw", 1),
        cl.CustomComparison(
            [
                cll.NullLevel("name"),
                cll.ExactMatchLevel("name", term_frequency_adjustments=True),
                cll.ExactMatchLevel("name_py"),
                cll.CustomLevel(in_variants, "same name in another reading or order"),
                cll.CustomLevel(dropped, "one character left out"),
                cll.ElseLevel(),
            ],
            output_column_name="name",
        ),
        cl.CustomComparison(
            [
                cll.NullLevel("dob"),
                cll.ExactMatchLevel("dob"),
                cll.CustomLevel(swapped, "day and month swapped"),
                cll.AbsoluteDateDifferenceLevel(
                    "dob", input_is_string=True, threshold=1, metric="day", datetime_format="%Y-%m-%d"
                ),
                cll.LevenshteinLevel("dob", 1),
                cll.ElseLevel(),
            ],
            output_column_name="birth_date",
        ),
        cl.ExactMatch("sex"),
        cl.LevenshteinAtThresholds("phone", 1),
        cl.JaroWinklerAtThresholds("address", [0.9, 0.75]),
    ]
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="uid",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=[block_on(*rule) for rule in _matcher().settings.blocking],
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )


def splink_train(linker: Any) -> None:
    from splink import block_on

    linker.training.estimate_probability_two_random_records_match(
        [block_on("id_raw"), block_on("name_py", "dob")], recall=SPLINK_RECALL
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=SPLINK_U_PAIRS, seed=SEED)
    for rule in _matcher().settings.training_blocking:
        linker.training.estimate_parameters_using_expectation_maximisation(block_on(*rule))


def splink(people: list[dict[str, str]], model: Path | None, phases: dict[str, float]) -> list[tuple[str, str]]:
    """Train (unless ``model`` is a saved Splink model), predict at p >= 0.5, cluster at p >= 0.99."""
    from splink import DuckDBAPI, Linker

    mark = time.perf_counter()
    frame = splink_frame(people)
    phases["features"] = time.perf_counter() - mark
    db_api = DuckDBAPI()
    table = db_api.register(frame, dataset_display_name="people")
    if model is None:
        linker = Linker(table, splink_settings(), log_level=logging.WARNING)
        mark = time.perf_counter()
        splink_train(linker)
        phases["training"] = time.perf_counter() - mark
    else:
        linker = Linker(table, str(model), log_level=logging.WARNING)
    mark = time.perf_counter()
    predictions = linker.inference.predict(threshold_match_probability=REVIEW)
    con = db_api.duckdb_con
    [(phases["candidate_pairs_at_review"],)] = con.sql(f"SELECT count(*) FROM {predictions.physical_name}").fetchall()
    phases["predict"] = time.perf_counter() - mark
    mark = time.perf_counter()
    clustering = linker.clustering
    clustered = clustering.cluster_pairwise_predictions_at_threshold(predictions, threshold_match_probability=LINK)
    cluster_of = dict(con.sql(f"SELECT uid, cluster_id FROM {clustered.physical_name}").fetchall())
    best = dict(
        con.sql(
            f"SELECT uid, max(p) FROM (SELECT uid_l AS uid, match_probability AS p FROM {predictions.physical_name} "
            f"UNION ALL SELECT uid_r, match_probability FROM {predictions.physical_name}) GROUP BY uid"
        ).fetchall()
    )
    phases["cluster"] = time.perf_counter() - mark
    size = Counter(cluster_of.values())
    out = []
    for uid in range(len(frame)):
        person = cluster_of.get(uid, f"u{uid}")
        if size.get(person, 1) >= 2:
            decision = "match"
        elif best.get(uid, 0.0) >= REVIEW:
            decision = "review"
        else:
            decision = "new"
        out.append((str(person), decision))
    if model is None:
        phases["lambda"] = linker._settings_obj._probability_two_random_records_match  # not rounded
    return out


def run_linker(
    name: str, people: list[dict[str, str]], phases: dict[str, float], model: Path | None = None
) -> list[tuple[str, str]]:
    if name == "splink":
        return splink(people, model, phases)
    return huitong(people, name == "huitong_retrained", phases)


# --- jobs, each in a fresh process -------------------------------------------------------------------------


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _prepare(name: str, persons: int, seed: int, scale: float) -> Any:
    from bench import cn_patients

    logging.getLogger("splink").setLevel(logging.WARNING)
    bench = cn_patients.generate(persons, seed, scale)
    for module in PRELOAD["splink" if name.startswith("splink") else "huitong"]:
        importlib.import_module(module)
    return bench


def accuracy_job(name: str, seed: int, scale: float) -> dict[str, Any]:
    from bench import mpi_metrics

    bench = _prepare(name, ACCURACY_PERSONS, seed, scale)
    phases: dict[str, float] = {}
    start = time.perf_counter()
    decided = run_linker(name, bench.people, phases)
    seconds = time.perf_counter() - start
    keys = [(r["source"], r["local_id"]) for r in bench.people]
    clusters = {k: {"person_id": p, "decision": d} for k, (p, d) in zip(keys, decided, strict=True)}
    truth = {(t["source"], t["local_id"]): t for t in bench.truth}
    people = {k: r["id_number"] for k, r in zip(keys, bench.people, strict=True)}
    metrics = mpi_metrics.evaluate(truth, clusters, people)
    row: dict[str, Any] = {
        "linker": name,
        "seed": seed,
        "error_scale": scale,
        "persons": ACCURACY_PERSONS,
        "seconds": round(seconds, 3),
        "phases": {k: round(v, 3) if isinstance(v, float) and k != "lambda" else v for k, v in phases.items()},
        "review_band_records": metrics["decisions"]["review"],
        "targets_met": targets_met(metrics),
        "metrics": metrics,
    }
    if name == "splink":
        row["true_lambda"] = metrics["true_pairs"] / (len(keys) * (len(keys) - 1) / 2)
    if name == "huitong":
        row["weaknesses"] = weaknesses(bench, decided)
    return row


def targets_met(m: dict[str, Any]) -> dict[str, bool]:
    return {
        "cluster_f1": m["cluster_f1"] >= TARGETS["cluster_f1_min"],
        "no_distinct_id_merges": m["auto_merges_distinct_valid_ids"] <= TARGETS["auto_merges_distinct_valid_ids_max"],
        "review_share": m["review_share"] <= TARGETS["review_share_max"],
    }


def speed_job(name: str, model: str | None = None) -> dict[str, Any]:
    """One timed dedupe of the speed data; ``splink_train`` trains and saves the model to ``model``."""
    bench = _prepare(name, SPEED_PERSONS, SPEED_SEED, 1.0)
    rss_before = _peak_rss_mb()
    phases: dict[str, float] = {}
    start = time.perf_counter()
    if name == "splink_train":
        from splink import DuckDBAPI, Linker

        frame = splink_frame(bench.people)
        linker = Linker(
            DuckDBAPI().register(frame, dataset_display_name="people"), splink_settings(), log_level=logging.WARNING
        )
        mark = time.perf_counter()
        splink_train(linker)
        phases["training"] = time.perf_counter() - mark
        linker.misc.save_model_to_json(model, overwrite=True)
    else:
        run_linker(name, bench.people, phases, Path(model) if model else None)
    seconds = time.perf_counter() - start
    return {
        "linker": name,
        "records": len(bench.people),
        "seconds": seconds,
        "peak_rss_delta_mb": _peak_rss_mb() - rss_before,
        "peak_rss_mb": _peak_rss_mb(),
        "phases": phases,
    }


# --- what Huitong misses ----------------------------------------------------------------------------------


def weaknesses(bench: Any, decided: list[tuple[str, str]]) -> dict[str, Any]:
    """Missed records (no other record of their person in their cluster) by error tag and relation, false
    merges by the relations of the two records, and a few examples of each with the matcher's explanation."""
    from engine.domain.mpi import features

    truth, people = bench.truth, bench.people
    entity_size = Counter(t["entity_id"] for t in truth)
    together = Counter((decided[i][0], t["entity_id"]) for i, t in enumerate(truth))
    missed = [
        i
        for i, t in enumerate(truth)
        if entity_size[t["entity_id"]] >= 2 and together[(decided[i][0], t["entity_id"])] == 1
    ]
    by_tag: Counter[str] = Counter()
    by_relation: Counter[str] = Counter()
    for i in missed:
        by_tag.update([x for x in truth[i]["error_tags"].split(";") if x] or ["(none)"])
        by_relation[truth[i]["relation"]] += 1
    members: dict[str, list[int]] = defaultdict(list)
    for i, (person, _) in enumerate(decided):
        members[person].append(i)
    merges: list[tuple[int, int]] = []
    for records in members.values():
        for x, a in enumerate(records):
            for b in records[x + 1 :]:
                if truth[a]["entity_id"] != truth[b]["entity_id"]:
                    merges.append((a, b))
    merge_relations = Counter(
        ("same household: " if truth[a]["household_id"] == truth[b]["household_id"] else "unrelated: ")
        + "/".join(sorted((truth[a]["relation"], truth[b]["relation"])))
        for a, b in merges
    )
    matcher = _matcher()
    rows = [features.from_row(r) for r in people]

    def example(kind: str, a: int, b: int) -> dict[str, Any]:
        explanation = dataclasses.asdict(matcher.explain(rows[a], rows[b], frequencies={}))
        return {
            "kind": kind,
            "records": [
                {
                    **people[i],
                    "decision": decided[i][1],
                    "entity_id": truth[i]["entity_id"],
                    "relation": truth[i]["relation"],
                    "error_tags": truth[i]["error_tags"],
                }
                for i in (a, b)
            ],
            "explain": explanation,
        }

    examples = [example("false merge", a, b) for a, b in merges[:2]]
    seen_tags: set[str] = set()
    by_entity: dict[str, list[int]] = defaultdict(list)
    for i, t in enumerate(truth):
        by_entity[t["entity_id"]].append(i)
    for i in missed:
        if len(examples) >= EXAMPLES:
            break
        tags = truth[i]["error_tags"] or "(none)"
        if tags in seen_tags:
            continue
        seen_tags.add(tags)
        other = next(j for j in by_entity[truth[i]["entity_id"]] if j != i)
        examples.append(example("missed", i, other))
    return {
        "missed_records": len(missed),
        "missed_by_error_tag": dict(by_tag.most_common()),
        "missed_by_relation": dict(by_relation.most_common()),
        "false_merge_pairs_by_relation": dict(merge_relations.most_common()),
        "examples": examples,
    }


# --- harness ----------------------------------------------------------------------------------------------


def fresh(fn: Any, *args: Any) -> Any:
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def print_accuracy(rows: list[dict[str, Any]], header: bool = True) -> None:
    if header:
        print(
            f"{'data':<14} {'linker':<18} {'records':>7} {'prec':>7} {'recall':>7} {'F1':>7} {'FM rel':>6} "
            f"{'FM oth':>6} {'IDs':>4} {'missed':>6} {'review':>6} {'rev %':>6} {'wall s':>7}  targets"
        )
    for r in rows:
        m = r["metrics"]
        data = f"seed {r['seed']} x{r['error_scale']:g}"
        ok = (
            "ok"
            if all(r["targets_met"].values())
            else "MISS " + ",".join(k for k, v in r["targets_met"].items() if not v)
        )
        print(
            f"{data:<14} {r['linker']:<18} {m['records']:>7} {m['cluster_precision']:>7.4f} "
            f"{m['cluster_recall']:>7.4f} {m['cluster_f1']:>7.4f} {m['false_merges_relatives']:>6} "
            f"{m['false_merges_not_relatives']:>6} {m['auto_merges_distinct_valid_ids']:>4} {m['missed_pairs']:>6} "
            f"{r['review_band_records']:>6} {100 * m['review_share']:>5.2f}% {r['seconds']:>7.2f}  {ok}",
            flush=True,
        )


def print_tags(rows: list[dict[str, Any]]) -> None:
    names = [f"{r['linker']} s{r['seed']}x{r['error_scale']:g}" for r in rows]
    tags = sorted({t for r in rows for t in r["metrics"]["recall_by_error_tag"]})
    print(f"{'recall by error tag':<22} " + " ".join(f"{n[:15]:>15}" for n in names))
    for tag in tags:
        cells = []
        for r in rows:
            cell = r["metrics"]["recall_by_error_tag"].get(tag)
            cells.append(f"{cell['recall']:>.4f} ({cell['records']:>4})" if cell else "-")
        print(f"{tag:<22} " + " ".join(f"{c:>15}" for c in cells))


def summarise_speed(runs: list[dict[str, Any]]) -> dict[str, Any]:
    phases = {p: round(statistics.median(r["phases"][p] for r in runs), 3) for p in runs[0]["phases"]}
    return {
        "linker": runs[0]["linker"],
        "records": runs[0]["records"],
        "seconds_median": round(statistics.median(r["seconds"] for r in runs), 3),
        "seconds_runs": [round(r["seconds"], 3) for r in runs],
        "peak_rss_delta_mb": round(max(r["peak_rss_delta_mb"] for r in runs), 1),
        "peak_rss_mb": round(max(r["peak_rss_mb"] for r in runs), 1),
        "phases_median": phases,
    }


SPEED_WHAT = {
    "huitong": "Huitong, shipped model: features + blocking + scoring + clustering",
    "huitong_retrained": "Huitong with training: features + training + blocking + scoring + clustering",
    "splink_train": "Splink training alone: features + register + lambda + u (1e7 pairs) + 3 EM sessions",
    "splink": "Splink, model trained beforehand: features + register + predict + cluster",
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3, help="timed speed runs per linker (default 3)")
    ap.add_argument("--only", choices=LINKERS, help="this linker only (does not write the result)")
    ap.add_argument("--skip-speed", action="store_true", help="accuracy only (does not write the result)")
    ap.add_argument("--skip-accuracy", action="store_true", help="speed only (does not write the result)")
    args = ap.parse_args()
    names = [args.only] if args.only else LINKERS
    try:
        importlib.import_module("splink")
    except ImportError:
        print("splink is not installed: run `make .venv/.bench` first", file=sys.stderr)
        return 2
    load_before = os.getloadavg()
    accuracy: list[dict[str, Any]] = []
    if not args.skip_accuracy:
        for seed, scale in ACCURACY_DATA:
            for name in names:
                accuracy.append(fresh(accuracy_job, name, seed, scale))
                print_accuracy(accuracy[-1:], header=len(accuracy) == 1)
        print()
        print_accuracy(accuracy)
        print()
        print_tags(accuracy)
        for r in accuracy:
            if "weaknesses" in r:
                w = r["weaknesses"]
                print(
                    f"\nhuitong seed {r['seed']} x{r['error_scale']:g}: {w['missed_records']} missed records; "
                    f"by tag {w['missed_by_error_tag']}; by relation {w['missed_by_relation']}; "
                    f"false merges {w['false_merge_pairs_by_relation']}"
                )
    speed: list[dict[str, Any]] = []
    if not args.skip_speed:
        runs: dict[str, list[dict[str, Any]]] = defaultdict(list)
        with tempfile.TemporaryDirectory() as tmp:
            model = str(Path(tmp) / "splink_model.json")
            order = [n for n in ("huitong", "huitong_retrained") if n in names]
            if "splink" in names:
                order += ["splink_train", "splink"]
            for i in range(args.runs):
                for name in order:
                    runs[name].append(fresh(speed_job, name, model if name.startswith("splink") else None))
                print(f"speed run {i + 1}/{args.runs} done", file=sys.stderr, flush=True)
        speed = [{**summarise_speed(r), "what": SPEED_WHAT[n]} for n, r in runs.items()]
        print(f"\n{'speed':<18} {'records':>8} {'wall s':>8} {'ΔRSS MB':>8} {'RSS MB':>8}  phases (median s)")
        for s in speed:
            phases = ", ".join(f"{p} {v:g}" for p, v in s["phases_median"].items())
            print(
                f"{s['linker']:<18} {s['records']:>8,} {s['seconds_median']:>8.2f} {s['peak_rss_delta_mb']:>8.1f} "
                f"{s['peak_rss_mb']:>8.1f}  {phases}"
            )
    if args.only or args.skip_speed or args.skip_accuracy:
        print(f"partial run: {RESULT.relative_to(ROOT)} not written")
        return 0
    RESULT.write_text(
        json.dumps(
            {
                "what": "MPI dedupe of synthetic Chinese patients (bench/cn_patients.py): accuracy per seed and "
                f"error scale at {ACCURACY_PERSONS:,} persons, and batch speed at ~100k records (median of "
                f"{args.runs} runs), Huitong against Splink 5 on the same data, every run in a fresh process",
                "command": ".venv/bin/python bench/cn_mpi.py",
                "machine": {
                    "platform": platform.platform(),
                    "cpu": cpu_model(),
                    "cores": os.cpu_count(),
                    "load_average_1_5_15_min_before": [round(x, 2) for x in load_before],
                    "load_average_1_5_15_min_after": [round(x, 2) for x in os.getloadavg()],
                },
                "versions": versions(PACKAGES),
                "targets": TARGETS,
                "splink": {
                    "link_threshold": LINK,
                    "review_threshold": REVIEW,
                    "lambda_rule_recall": SPLINK_RECALL,
                    "u_max_pairs": SPLINK_U_PAIRS,
                    "seed": SEED,
                },
                "accuracy": accuracy,
                "speed": {"persons": SPEED_PERSONS, "seed": SPEED_SEED, "rows": speed},
            },
            ensure_ascii=False,
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"wrote {RESULT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
