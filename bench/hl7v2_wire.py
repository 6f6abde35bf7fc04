"""Micro-benchmark of the HL7 v2 wire-format package against python-hl7 on corpus messages.

Not a test. Method as in the shared perf baselines: pinned to CPU 1, each run calibrated to about 0.5 s,
one discarded warm-up, the median of 5 timed runs. Prints µs per call and writes
bench/results/hl7v2_wire.json.

    .venv/bin/python bench/hl7v2_wire.py
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import hl7
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.domain.formats.hl7v2 import (  # noqa: E402
    build_ack,
    canonical,
    inspect,
    read_header,
    split_messages,
)

SAMPLES = ROOT / "tests/corpus/microsoft-fhir-converter/data/SampleData/Hl7v2"
MESSAGES = {
    # ADT^A01 v2.3, 1,483 bytes, 12 segments, stored with a UTF-8 BOM and LF line ends
    "ADT": SAMPLES / "ADT01-23.hl7",
    # ORU^R01 v2.5.1, 7,530 bytes, LF line ends
    "ORU": SAMPLES / "ORU-R01-01.hl7",
}
RUNS = 5
TARGET_SECONDS = 0.5


def pin() -> None:
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {1})


def measure(fn: Callable[[], object]) -> float:
    """Median µs per call over RUNS runs, each calibrated to last about TARGET_SECONDS."""
    number = 1
    while True:
        start = time.perf_counter()
        for _ in range(number):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed >= 0.05:
            break
        number *= 4
    number = max(1, int(number * TARGET_SECONDS / elapsed))
    for _ in range(number):  # discarded warm-up
        fn()
    timings = []
    for _ in range(RUNS):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        timings.append((time.perf_counter() - start) / number * 1e6)
    return statistics.median(timings)


def cases(name: str, file_bytes: bytes) -> dict[str, Callable[[], object]]:
    wire = canonical(file_bytes)  # what an MLLP frame normally carries: CR line ends, no BOM
    text = wire.decode("utf-8")
    header = read_header(wire)
    return {
        f"{name} read_header": lambda: read_header(wire),
        f"{name} split_messages (one CR message)": lambda: split_messages(wire),
        f"{name} split_messages (file as stored: BOM/LF)": lambda: split_messages(file_bytes),
        f"{name} canonical (file as stored)": lambda: canonical(file_bytes),
        f"{name} inspect basic": lambda: inspect(wire, default_charset="utf-8"),
        f"{name} inspect basic (file as stored)": lambda: inspect(file_bytes, default_charset="utf-8"),
        f"{name} inspect strict": lambda: inspect(wire, default_charset="utf-8", validation="strict"),
        f"{name} build_ack AA": lambda: build_ack(header, "AA", control_id="ACK1", timestamp="20250101120000"),
        f"{name} peer: hl7.parse (python-hl7 0.4.5)": lambda: hl7.parse(text),
    }


def main() -> None:
    pin()
    results: dict[str, float] = {}
    for name, path in MESSAGES.items():
        data = path.read_bytes()
        assert inspect(canonical(data), default_charset="utf-8").ack_code == "AA"
        for label, fn in cases(name, data).items():
            results[label] = round(measure(fn), 2)
            print(f"{label:48s} {results[label]:10.2f} µs")
    report = {
        "what": "µs per call, median of 5 calibrated runs pinned to CPU 1",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "messages": {
            name: {"file": str(p.relative_to(ROOT)), "bytes": p.stat().st_size} for name, p in MESSAGES.items()
        },
        "results_us": results,
    }
    out = ROOT / "bench/results/hl7v2_wire.json"
    out.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
