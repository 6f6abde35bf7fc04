"""C-CDA -> FHIR documents/s: Huitong's mapping engine against python-fhir-converter, in the same run.

Not a test. Every C-CDA document of the corpus (Microsoft FHIR-Converter's 16 samples, 5-244 KB) is
converted from bytes in memory by both:

- huitong: ``parse_xml`` (hardened lxml) + ``mappings/cda/ccda.yaml`` -> FHIR resource dicts;
- peer: python-fhir-converter 0.3.0 (Microsoft's Liquid templates run in Python), ``CcdaRenderer``
  with the document's root template from the corpus's test-cases.csv -> Bundle JSON text.

Method as in the shared perf baselines: pinned to CPU 1, one discarded warm-up, each run calibrated to
about 0.3 s, the median of 5 timed runs per document; our runs and the peer's alternate, so that a busy
moment of the shared VM falls on both. Both outputs go through the conformance fact extractor
(``bench/facts.py``) and the agreement of their key facts is printed beside the times.

    make .venv/.bench && .venv/bin/python bench/cda.py     # writes bench/results/cda.json
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._engine import load  # noqa: E402
from bench.facts import compare, facts  # noqa: E402
from engine.pipeline.mapping import map_message  # noqa: E402

CORPUS = ROOT / "tests/corpus/microsoft-fhir-converter"
RESULT = ROOT / "bench/results/cda.json"
RUNS = 5


def pin() -> None:
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {1})


def _calibrate(fn: Callable[[], object], target: float) -> int:
    """How many calls last about ``target`` seconds (after one warm-up call)."""
    fn()
    number = 1
    while True:
        start = time.perf_counter()
        for _ in range(number):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed >= target / 5 or number >= 4096:
            return max(1, int(number * target / max(elapsed, 1e-9)))
        number *= 2


def measure_pair(a: Callable[[], object], b: Callable[[], object], target: float) -> tuple[float, float]:
    """Median ms per call of ``a`` and of ``b`` over RUNS runs each, the two interleaved run by run so
    that a slow moment of a shared machine costs both sides alike."""
    na, nb = _calibrate(a, target), _calibrate(b, target)
    ta, tb = [], []
    for _ in range(RUNS):
        for fn, n, out in ((a, na, ta), (b, nb, tb)):
            start = time.perf_counter()
            for _ in range(n):
                fn()
            out.append((time.perf_counter() - start) / n)
    return statistics.median(ta) * 1000, statistics.median(tb) * 1000


def documents() -> list[tuple[Path, str]]:
    with (CORPUS / "test-cases.csv").open(newline="") as f:
        return [(CORPUS / r["input"], r["root_template"]) for r in csv.DictReader(f) if r["kind"] == "Ccda"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", type=float, default=0.3, help="seconds per timed run (default 0.3)")
    args = ap.parse_args()
    try:
        from fhir_converter.renderers import CcdaRenderer
    except ImportError:
        print("python-fhir-converter is not installed: run `make .venv/.bench` first", file=sys.stderr)
        return 2
    import importlib.metadata as md

    pin()
    mappings = load(ROOT / "mappings")
    renderer = CcdaRenderer()
    rows = []
    for path, template in documents():
        data = path.read_bytes()
        text = data.decode("utf-8")

        def ours(data: bytes = data) -> object:
            return map_message(mappings, ["cda/ccda"], data, format="xml")

        def peer(text: str = text, template: str = template) -> object:
            return renderer.render_fhir_string(template, text)

        our_resources = [r.body for r in map_message(mappings, ["cda/ccda"], data, format="xml").resources]
        peer_bundle = json.loads(renderer.render_fhir_string(template, text))
        agreed, only_ours, only_peer = compare(facts(our_resources), facts(peer_bundle))
        n = sum(agreed.values())
        union = n + sum(only_ours.values()) + sum(only_peer.values())
        t_ours, t_peer = measure_pair(ours, peer, args.target)
        row = {
            "document": path.name,
            "bytes": len(data),
            "template": template,
            "huitong_ms": round(t_ours, 3),
            "peer_ms": round(t_peer, 3),
            "speedup": round(t_peer / t_ours, 1),
            "huitong_resources": len(our_resources),
            "peer_resources": len(peer_bundle.get("entry", [])),
            "facts_agreed": n,
            "facts_union": union,
        }
        rows.append(row)
        print(
            f"{path.name:<66} {len(data):>7,} B  huitong {t_ours:7.2f} ms  peer {t_peer:7.2f} ms  "
            f"x{t_peer / t_ours:5.1f}  facts {n}/{union}",
            flush=True,
        )
    total_ours = sum(r["huitong_ms"] for r in rows)
    total_peer = sum(r["peer_ms"] for r in rows)
    agreed = sum(r["facts_agreed"] for r in rows)
    union = sum(r["facts_union"] for r in rows)
    summary = {
        "documents": len(rows),
        "huitong_docs_per_s": round(len(rows) / (total_ours / 1000), 1),
        "peer_docs_per_s": round(len(rows) / (total_peer / 1000), 1),
        "speedup_total": round(total_peer / total_ours, 1),
        "speedup_median_per_document": round(statistics.median(r["speedup"] for r in rows), 1),
        "speedup_min": min(r["speedup"] for r in rows),
        "facts_agreed": agreed,
        "facts_union": union,
    }
    print(
        f"\n{len(rows)} documents: huitong {summary['huitong_docs_per_s']} docs/s, "
        f"python-fhir-converter {summary['peer_docs_per_s']} docs/s, speed-up x{summary['speedup_total']} "
        f"(per document: median x{summary['speedup_median_per_document']}, min x{summary['speedup_min']}); "
        f"key facts agree {agreed}/{union} ({100 * agreed / union:.1f}%)"
    )
    RESULT.write_text(
        json.dumps(
            {
                "what": "C-CDA -> FHIR, ms per document, median of 5 calibrated runs pinned to CPU 1, same run",
                "python": platform.python_version(),
                "machine": platform.machine(),
                "peer": f"python-fhir-converter {md.version('python-fhir-converter')}",
                "lxml": md.version("lxml"),
                "summary": summary,
                "documents": rows,
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
