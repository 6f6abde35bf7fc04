"""Splink 5's real-time path on synthetic Chinese patients: one arriving record against a whole store.

Not a test. The MPI issue asks whether the real-time path needs an in-process scorer with the trained weights,
Splink being the reference implementation of the method. This measures what Splink 5 offers for it, beside
Huitong's own in-process scorer, on the same records.

Data: ``bench/cn_patients.py`` (``--persons`` at seed 11, error scale 1.0; by default 49,300 persons -> 100,176
records and 246,500 persons -> about 500,000), generated in each process from its seed. 1,000 records, drawn
with a seeded shuffle, are held out as arrivals; the rest is the store. Every job runs in a fresh, spawned
process, data generated and libraries imported before the clock; peak RSS is that process's ``ru_maxrss``.

- ``splink_train``: Splink on the store with ``bench/cn_mpi.py``'s configuration, imported from it (its
  ``splink_frame``, ``splink_settings``, ``splink_train``: the same comparisons, the nine blocking rules of
  ``config/mpi.yaml`` without its ``max_block`` cap (Splink has none), lambda + u by random sampling (1e7
  pairs) + EM over the three training rules), the model saved to JSON. Not part of the real-time figure; its
  seconds and RSS are reported.
- ``splink``: the store copied into a DuckDB table of an in-memory DuckDB (``CREATE TABLE``, not a view over
  pandas), a ``Linker`` on it with the saved model, and the term-frequency table of ``name`` computed once
  (``table_management.compute_tf_table``: ``predict_between`` does not derive term frequencies itself and
  refuses to run without them). Splink 5 has no ``find_matches_to_new_records`` any more; its incremental
  primitive is ``linker.inference.predict_between(left, right)``: blocked pairs between two registered
  collections, never within one, with the model's blocking rules. Per arrival (timed): ``features.from_row`` and
  ``splink_frame`` (the pandas frame Splink wants, uid moved past the store's), ``db_api.register``,
  ``predict_between(store, arrival)``, the scored pairs fetched into Python with the best probability, and both
  tables dropped. Then the same in batches of ``--batch`` (100) arrivals per call, reported per arrival.
- ``huitong``: the shipped settings and model (``config/mpi.yaml``, ``load_matcher(SHIPPED)``) on the same store
  held in memory, NOT through the database (the database path is measured in ``bench/mpi_incremental.py``).
  Set-up (untimed, reported): ``features.from_row`` of every store record, persons from ``clusters.dedupe`` of
  the store (what the store would hold after a batch load), and a dict index ``blocking.keys -> records``. Per
  arrival (timed): ``features.from_row``, ``blocking.keys``, the candidates as the store's query builds them
  (every record of every person sharing a key, blocks over ``max_block`` skipped) and
  ``Matcher.persons(row, candidates, frequencies={})``.

Both real-time loops see the same arrivals in the same order; each first scores three of them untimed (first-call
set-up, SQL generation). ``from_row`` caches name features (``lru_cache``), warm from the store on both sides.
Not pinned: DuckDB uses every core; Huitong's scorer is one thread.

    make .venv/.bench && .venv/bin/python bench/mpi_realtime_splink.py   # writes bench/results/mpi_realtime_splink.json
    .venv/bin/python bench/mpi_realtime_splink.py --persons 5000 --single 50 --out /tmp/x.json   # a quick look
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import multiprocessing
import os
import platform
import random
import resource
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import cn_mpi  # noqa: E402  (after the path insert, like the engine imports)
from bench.machine import cpu_model, versions  # noqa: E402

RESULT = ROOT / "bench/results/mpi_realtime_splink.json"
PERSONS = [49_300, 246_500]  # -> 100,176 and about 500,000 records at seed 11
SEED = 11
ARRIVALS = 1_000
SINGLE = 500  # arrivals timed one at a time against Splink (Huitong: all of them)
BATCH = 100
WARMUP = 3
SPLINK_PHASES = ["features_and_frame", "register", "predict_between", "fetch", "drop_and_best"]
HOLDOUT_SEED = 5
PRELOAD = {
    "splink": ["pandas", "duckdb", "splink", "splink.comparison_library", "splink.comparison_level_library"],
    "huitong": ["engine.domain.mpi.clusters", "engine.domain.mpi.matcher", "engine.config.mpi"],
}


# --- data ------------------------------------------------------------------------------------------------


def split(persons: int) -> tuple[list[dict[str, str]], list[dict[str, str]], dict[str, Any]]:
    """(store rows, arrival rows, data summary); the same split in every process."""
    from bench import cn_patients

    bench = cn_patients.generate(persons, SEED, 1.0)
    order = list(range(len(bench.people)))
    random.Random(HOLDOUT_SEED).shuffle(order)
    held = set(order[:ARRIVALS])
    arrivals = [bench.people[i] for i in order[:ARRIVALS]]
    store = [r for i, r in enumerate(bench.people) if i not in held]
    entities = {bench.truth[i]["entity_id"] for i in range(len(bench.people)) if i not in held}
    in_store = sum(1 for i in order[:ARRIVALS] if bench.truth[i]["entity_id"] in entities)
    return store, arrivals, {"persons": persons, "records": len(bench.people), "store_records": len(store),
                             "arrivals": len(arrivals), "arrivals_whose_person_is_in_the_store": in_store}


def _prepare(kind: str, persons: int) -> tuple[list[dict[str, str]], list[dict[str, str]], dict[str, Any]]:
    logging.getLogger("splink").setLevel(logging.WARNING)
    data = split(persons)
    for module in PRELOAD[kind]:
        importlib.import_module(module)
    return data


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def percentiles(ms: list[float]) -> dict[str, float]:
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return {"n": len(ms), "p50": round(q[49], 3), "p90": round(q[89], 3), "p99": round(q[98], 3),
            "max": round(max(ms), 3), "mean": round(statistics.fmean(ms), 3)}


# --- jobs, each in a fresh process -----------------------------------------------------------------------


def splink_train_job(persons: int, model: str) -> dict[str, Any]:
    from splink import DuckDBAPI, Linker

    store, _, data = _prepare("splink", persons)
    rss_before = _peak_rss_mb()
    start = time.perf_counter()
    frame = cn_mpi.splink_frame(store)
    linker = Linker(DuckDBAPI().register(frame, dataset_display_name="store"), cn_mpi.splink_settings(),
                    log_level=logging.WARNING)
    cn_mpi.splink_train(linker)
    linker.misc.save_model_to_json(model, overwrite=True)
    return {"job": "splink_train", **data, "seconds": round(time.perf_counter() - start, 3),
            "peak_rss_delta_mb": round(_peak_rss_mb() - rss_before, 1), "peak_rss_mb": round(_peak_rss_mb(), 1)}


class SplinkRealtime:
    """The store as a DuckDB table, a Linker with the saved model, name term frequencies computed once."""

    def __init__(self, store: list[dict[str, str]], model: str) -> None:
        from splink import DuckDBAPI, Linker

        self.db_api = DuckDBAPI()
        self.con = self.db_api.duckdb_con
        frame = cn_mpi.splink_frame(store)
        self.con.register("store_frame", frame)
        self.con.execute("CREATE TABLE store AS SELECT * FROM store_frame")
        self.con.unregister("store_frame")
        self.next_uid = len(store)
        self.store = self.db_api.register("store", dataset_display_name="store")
        self.linker = Linker(self.store, model, log_level=logging.WARNING)
        self.linker.table_management.compute_tf_table("name")

    def match(self, rows: list[dict[str, str]], phases: dict[str, list[float]] | None = None
              ) -> tuple[dict[int, float], int]:
        """Best probability per arriving uid (uids from ``next_uid`` on), and the number of scored pairs."""
        marks = [time.perf_counter()]
        frame = cn_mpi.splink_frame(rows)
        frame["uid"] = range(self.next_uid, self.next_uid + len(rows))
        self.next_uid += len(rows)
        marks.append(time.perf_counter())
        arrival = self.db_api.register(frame)
        marks.append(time.perf_counter())
        predictions = self.linker.inference.predict_between(self.store, arrival, warning_mode="never")
        marks.append(time.perf_counter())
        pairs = self.con.sql(f"SELECT uid_l, uid_r, match_probability FROM {predictions.physical_name}").fetchall()
        marks.append(time.perf_counter())
        predictions.drop_table_from_database_and_remove_from_cache()
        self.con.unregister(arrival.physical_name)
        best: dict[int, float] = {}
        for _, uid, p in pairs:  # uid_l from the store, uid_r the arrival's
            best[uid] = max(best.get(uid, 0.0), p)
        marks.append(time.perf_counter())
        if phases is not None:
            for name, a, b in zip(SPLINK_PHASES, marks[:-1], marks[1:], strict=True):
                phases.setdefault(name, []).append(1000 * (b - a))
        return best, len(pairs)


def splink_job(persons: int, model: str, single: int, batch: int) -> dict[str, Any]:
    store, arrivals, data = _prepare("splink", persons)
    rss_before = _peak_rss_mb()
    mark = time.perf_counter()
    rt = SplinkRealtime(store, model)
    setup = time.perf_counter() - mark
    rss_setup = _peak_rss_mb()
    for row in arrivals[-WARMUP:]:
        rt.match([row])
    ms, pairs, found = [], 0, 0
    phases: dict[str, list[float]] = {}
    for row in arrivals[:single]:
        mark = time.perf_counter()
        best, n = rt.match([row], phases)
        ms.append(1000 * (time.perf_counter() - mark))
        pairs += n
        found += any(p >= cn_mpi.REVIEW for p in best.values())
    rss_single = _peak_rss_mb()
    batch_ms, batch_found = [], 0
    for i in range(0, len(arrivals) - len(arrivals) % batch, batch):
        mark = time.perf_counter()
        best, _ = rt.match(arrivals[i:i + batch])
        batch_ms.append(1000 * (time.perf_counter() - mark))
        batch_found += sum(1 for p in best.values() if p >= cn_mpi.REVIEW)
    return {
        "job": "splink", **data,
        "setup_seconds": round(setup, 3),
        "single": {**percentiles(ms), "pairs_per_arrival": round(pairs / len(ms), 2),
                   "arrivals_with_a_pair_at_review_or_above": found,
                   "phases_p50_ms": {k: round(statistics.median(v), 3) for k, v in phases.items()}},
        "batch": {"size": batch, "calls": len(batch_ms), **percentiles(batch_ms),
                  "ms_per_arrival": round(sum(batch_ms) / (batch * len(batch_ms)), 3),
                  "arrivals_with_a_pair_at_review_or_above": batch_found},
        "peak_rss_mb_before_store": round(rss_before, 1),
        "peak_rss_mb_after_setup": round(rss_setup, 1),
        "peak_rss_mb_after_single": round(rss_single, 1),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
    }


def huitong_job(persons: int) -> dict[str, Any]:
    from engine.domain.mpi import blocking, clusters, features
    from engine.domain.mpi.decide import PROBABLE
    from engine.domain.mpi.matcher import Candidate

    store, arrivals, data = _prepare("huitong", persons)
    matcher = cn_mpi._matcher()
    settings = matcher.settings
    rss_before = _peak_rss_mb()
    mark = time.perf_counter()
    rows = [features.from_row(r) for r in store]
    persons_of = [str(p) for p in clusters.dedupe(settings, matcher.model, rows).person]
    members: dict[str, list[int]] = {}
    for i, person in enumerate(persons_of):
        members.setdefault(person, []).append(i)
    index: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        for k in blocking.keys(settings.blocking, row):
            index.setdefault(k, []).append(i)
    setup = time.perf_counter() - mark
    rss_setup = _peak_rss_mb()

    def match(raw: dict[str, str]) -> tuple[Any, int]:
        row = features.from_row(raw)
        ids = set()
        for k in blocking.keys(settings.blocking, row):
            block = index.get(k)
            if block and len(block) <= settings.max_block:
                ids.update(block)
        wanted = {persons_of[i] for i in ids}
        candidates = [Candidate(str(i), p, rows[i]) for p in sorted(wanted) for i in members[p]]
        return matcher.persons(row, candidates, frequencies={}), len(candidates)

    for raw in arrivals[-WARMUP:]:
        match(raw)
    ms, pairs, found = [], 0, 0
    for raw in arrivals:
        mark = time.perf_counter()
        scores, n = match(raw)
        ms.append(1000 * (time.perf_counter() - mark))
        pairs += n
        found += bool(scores) and scores[0].grade >= PROBABLE
    return {
        "job": "huitong", **data,
        "setup_seconds": round(setup, 3),
        "single": {**percentiles(ms), "pairs_per_arrival": round(pairs / len(ms), 2),
                   "arrivals_with_a_probable_or_certain_person": found},
        "peak_rss_mb_before_store": round(rss_before, 1),
        "peak_rss_mb_after_setup": round(rss_setup, 1),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
    }


# --- harness ---------------------------------------------------------------------------------------------


def fresh(fn: Any, *args: Any) -> Any:
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def print_table(rows: list[dict[str, Any]]) -> None:
    print(f"\n{'store':>8} {'path':<42} {'n':>5} {'p50 ms':>9} {'p90 ms':>9} {'p99 ms':>9} {'max ms':>9} "
          f"{'pairs':>7} {'RSS MB':>8}")
    for r in rows:
        if r["job"] == "splink_train":
            print(f"{r['store_records']:>8,} {'splink training on the store, once':<42} {r['seconds']:>7.1f} s "
                  f"{'':>37} {r['peak_rss_mb']:>8.1f}")
            continue
        s = r["single"]
        name = "splink predict_between, 1" if r["job"] == "splink" else "huitong in memory, 1"
        rss = r.get("peak_rss_mb_after_single", r["peak_rss_mb"])
        print(f"{r['store_records']:>8,} {name:<42} {s['n']:>5} {s['p50']:>9.2f} {s['p90']:>9.2f} {s['p99']:>9.2f} "
              f"{s['max']:>9.2f} {s['pairs_per_arrival']:>7.1f} {rss:>8.1f}")
        if r["job"] == "splink":
            b = r["batch"]
            name = f"splink predict_between, {b['size']}"
            print(f"{r['store_records']:>8,} {name + ' (per arrival)':<42} {b['calls'] * b['size']:>5} "
                  f"{b['p50'] / b['size']:>9.2f} {b['p90'] / b['size']:>9.2f} {b['p99'] / b['size']:>9.2f} "
                  f"{b['max'] / b['size']:>9.2f} {'':>7} {r['peak_rss_mb']:>8.1f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--persons", type=int, action="append", help="persons (repeatable; default 49300 and 246500)")
    ap.add_argument("--single", type=int, default=SINGLE, help=f"arrivals timed one by one on Splink ({SINGLE})")
    ap.add_argument("--batch", type=int, default=BATCH, help=f"arrivals per batched Splink call ({BATCH})")
    ap.add_argument("--only", choices=["splink", "huitong"], help="one side only")
    ap.add_argument("--out", type=Path, default=RESULT, help="result file")
    args = ap.parse_args()
    try:
        importlib.import_module("splink")
    except ImportError:
        print("splink is not installed: run `make .venv/.bench` first", file=sys.stderr)
        return 2
    load_before = os.getloadavg()
    rows: list[dict[str, Any]] = []
    for persons in args.persons or PERSONS:
        if args.only != "huitong":
            with tempfile.TemporaryDirectory() as tmp:
                model = str(Path(tmp) / "splink_model.json")
                rows.append(fresh(splink_train_job, persons, model))
                print(f"{persons} persons: splink trained in {rows[-1]['seconds']:.1f}s", file=sys.stderr, flush=True)
                rows.append(fresh(splink_job, persons, model, args.single, args.batch))
                print(f"{persons} persons: splink real time done", file=sys.stderr, flush=True)
        if args.only != "splink":
            rows.append(fresh(huitong_job, persons))
            print(f"{persons} persons: huitong done", file=sys.stderr, flush=True)
    print_table(rows)
    args.out.write_text(
        json.dumps(
            {
                "what": "Real-time MPI matching of one arriving record against a store of synthetic Chinese patients "
                "(bench/cn_patients.py): Splink 5's predict_between against an in-memory DuckDB store, one arrival "
                "per call and in batches, beside Huitong's in-process Matcher over an in-memory dict index of the "
                "same store (no database); milliseconds per arrival, every job in a fresh process",
                "command": ".venv/bin/python bench/mpi_realtime_splink.py"
                + "".join(f" --persons {p}" for p in args.persons or []),
                "machine": {
                    "platform": platform.platform(),
                    "cpu": cpu_model(),
                    "cores": os.cpu_count(),
                    "load_average_1_5_15_min_before": [round(x, 2) for x in load_before],
                    "load_average_1_5_15_min_after": [round(x, 2) for x in os.getloadavg()],
                },
                "versions": versions(cn_mpi.PACKAGES),
                "data": {"seed": SEED, "error_scale": 1.0, "holdout_seed": HOLDOUT_SEED, "warmup_arrivals": WARMUP},
                "rows": rows,
            },
            ensure_ascii=False,
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
