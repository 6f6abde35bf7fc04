"""Metrics of an MPI clustering against the truth of ``bench/cn_patients.py``.

The MPI's output is a partition of the source records into persons (``clusters.csv``:
``source,local_id,person_id,decision``). Scoring it by pairs after transitive closure is what matters
clinically: every wrongly joined pair is two people's records shown as one, every missed pair a record the
doctor does not see. Pair counts come from the sizes of cluster intersections, never from pair lists, so
200k records score in a second or two.

Beyond P/R/F1 the report separates false merges of relatives in the same household (twins, parent and child:
the dangerous ones, sharing address, phone and often surname) from others, counts clusters that join two
different valid resident IDs of different people (a rule the MPI should never break on its own), the share of
true duplicates sent to review, and recall per error tag (which mistakes the MPI survives).

CLI: ``python bench/mpi_metrics.py --truth DIR/truth.csv --clusters clusters.csv [--people DIR/people.csv]``.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter, defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

Key = tuple[str, str]  # (source, local_id)
DECISIONS = ("new", "match", "review", "manual")

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def valid_id18(value: str) -> bool:
    """True when ``value`` is 17 digits plus the right ISO 7064 MOD 11-2 check character (x read as X)."""
    v = value.strip().upper()
    if len(v) != 18 or not v[:17].isdigit():
        return False
    return _CHECK[sum(int(c) * w for c, w in zip(v[:17], _WEIGHTS, strict=True)) % 11] == v[17]


def _read(path: Path) -> list[dict[str, str]]:
    """Rows of a UTF-8 CSV with a header (BOM tolerated)."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def load_truth(path: Path) -> dict[Key, dict[str, str]]:
    """truth.csv keyed by (source, local_id)."""
    return {(r["source"], r["local_id"]): r for r in _read(path)}


def load_clusters(path: Path) -> dict[Key, dict[str, str]]:
    """clusters.csv keyed by (source, local_id); rejects unknown decisions so typos do not skew review_share."""
    out = {}
    for r in _read(path):
        if r.get("decision", "") not in DECISIONS:
            raise ValueError(f"{r['source']},{r['local_id']}: decision {r.get('decision')!r} not in {DECISIONS}")
        out[(r["source"], r["local_id"])] = r
    return out


def load_people(path: Path) -> dict[Key, str]:
    """id_number as written in people.csv, keyed by (source, local_id)."""
    return {(r["source"], r["local_id"]): r["id_number"] for r in _read(path)}


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def _ratio(num: int, den: int, empty: float = 1.0) -> float:
    return num / den if den else empty


def _joins_distinct_ids(items: list[tuple[str, str]]) -> bool:
    """Whether some two (id, entity) items differ in both id and entity; linear, for clusters of any size."""
    a, e = items[0]
    other_entity_same_id = other_id_same_entity = False
    for b, f in items[1:]:
        if b != a and f != e:
            return True
        other_entity_same_id |= b == a and f != e
        other_id_same_entity |= b != a and f == e
    # (a, f) and (b, e) with b != a and f != e differ in both
    return other_entity_same_id and other_id_same_entity


def evaluate(truth: Mapping[Key, Mapping[str, str]], clusters: Mapping[Key, Mapping[str, str]],
             people: Mapping[Key, str] | None = None) -> dict[str, Any]:
    """All metrics as a dict. Truth records absent from ``clusters`` count as singletons (and are reported)."""
    pred: dict[Key, str] = {}
    unclustered = 0
    for key in truth:
        row = clusters.get(key)
        if row is None:
            unclustered += 1
            pred[key] = f"\0unclustered:{key[0]}:{key[1]}"
        else:
            pred[key] = row["person_id"]
    not_in_truth = sum(1 for key in clusters if key not in truth)

    pred_size: Counter[str] = Counter(pred.values())
    ent_size: Counter[str] = Counter(t["entity_id"] for t in truth.values())
    pred_ent: Counter[tuple[str, str]] = Counter()
    pred_hh: Counter[tuple[str, str]] = Counter()
    for key, t in truth.items():
        pred_ent[(pred[key], t["entity_id"])] += 1
        pred_hh[(pred[key], t["household_id"])] += 1

    true_pairs = sum(_pairs(n) for n in ent_size.values())
    pred_pairs = sum(_pairs(n) for n in pred_size.values())
    tp = sum(_pairs(n) for n in pred_ent.values())
    same_household = sum(_pairs(n) for n in pred_hh.values())  # entities nest in households
    precision = _ratio(tp, pred_pairs)
    recall = _ratio(tp, true_pairs)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    false_pairs = pred_pairs - tp
    relatives = same_household - tp

    decisions: Counter[str] = Counter(clusters[k]["decision"] for k in truth if k in clusters)
    multi = [k for k, t in truth.items() if ent_size[t["entity_id"]] >= 2]
    review = sum(1 for k in multi if k in clusters and clusters[k]["decision"] == "review")

    by_tag: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # tag -> [records, recalled]
    for k in multi:
        t = truth[k]
        hit = pred_ent[(pred[k], t["entity_id"])] >= 2
        tags = [x for x in t.get("error_tags", "").split(";") if x] or ["(none)"]
        for tag in [*tags, "(all)"]:
            by_tag[tag][0] += 1
            by_tag[tag][1] += hit
    recall_by_tag = {tag: {"records": n, "recalled": r, "recall": round(_ratio(r, n, 0.0), 4)}
                     for tag, (n, r) in sorted(by_tag.items())}

    distinct_ids: int | None = None
    if people is not None:
        members: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for k, t in truth.items():
            idn = people.get(k, "")
            if idn and valid_id18(idn):
                members[pred[k]].append((idn.strip().upper(), t["entity_id"]))
        distinct_ids = sum(1 for items in members.values() if len(items) > 1 and _joins_distinct_ids(items))

    return {
        "records": len(truth),
        "records_unclustered": unclustered,
        "cluster_records_not_in_truth": not_in_truth,
        "entities": len(ent_size),
        "predicted_clusters": len(pred_size),
        "true_pairs": true_pairs,
        "predicted_pairs": pred_pairs,
        "true_positive_pairs": tp,
        "cluster_precision": round(precision, 6),
        "cluster_recall": round(recall, 6),
        "cluster_f1": round(f1, 6),
        "false_merge_pairs": false_pairs,
        "false_merges_relatives": relatives,
        "false_merges_not_relatives": false_pairs - relatives,
        "missed_pairs": true_pairs - tp,
        "auto_merges_distinct_valid_ids": distinct_ids,
        "decisions": {d: decisions.get(d, 0) for d in DECISIONS},
        "review_share": round(_ratio(review, len(multi), 0.0), 6),
        "recall_by_error_tag": recall_by_tag,
    }


def format_table(m: Mapping[str, Any]) -> str:
    """The metrics as aligned text for a terminal or a results file."""
    lines = []
    for key, value in m.items():
        if isinstance(value, dict):
            continue
        lines.append(f"{key:<32} {value}")
    lines.append("decisions: " + ", ".join(f"{d}={n}" for d, n in m["decisions"].items()))
    lines.append("")
    lines.append(f"{'error tag':<24} {'records':>8} {'recalled':>9} {'recall':>7}")
    for tag, row in m["recall_by_error_tag"].items():
        lines.append(f"{tag:<24} {row['records']:>8} {row['recalled']:>9} {row['recall']:>7.4f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: print the table, then the JSON."""
    ap = argparse.ArgumentParser(description="Score an MPI clustering against cn_patients truth.")
    ap.add_argument("--truth", type=Path, required=True)
    ap.add_argument("--clusters", type=Path, required=True)
    ap.add_argument("--people", type=Path, help="people.csv, for auto_merges_distinct_valid_ids")
    args = ap.parse_args(argv)
    people = load_people(args.people) if args.people else None
    m = evaluate(load_truth(args.truth), load_clusters(args.clusters), people)
    print(format_table(m))
    print()
    print(json.dumps(m, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
