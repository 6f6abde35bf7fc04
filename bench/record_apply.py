"""Record benchmark: µs per ADT message for `pipeline.record.apply`, batches of 50, on SQLite (and PostgreSQL).

Each message is what an ADT mapping gives: a Patient (resident ID + HIS MRN, name, phone, address), an
Encounter keyed by visit number, a Condition and, for every other message, a vital-sign Observation.
The stream is a county day: 40% new people, 60% people seen before (a new visit, their demographics resent).
Timed: apply inside an open transaction (what the delivery worker adds to its own); the COMMIT is reported
separately, since the worker pays one per batch for the outbox anyway. Then the same stream again with what the
record destination does after each batch (pipeline/care_loop.py: every touched person's care tasks refreshed,
changes journaled for a task-events channel); every message of this stream is a hypertensive resident, so every
one has tasks, the worst case for that step. Also timed: the merged Patient of one person computed on read (the
alternative was storing it on every write).

    .venv/bin/python bench/record_apply.py [--messages 20000] [--postgres URL] [--out bench/results/record_apply.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, text  # noqa: E402

from engine.config import TaskEventsSource  # noqa: E402
from engine.config.mpi import SHIPPED, load_matcher  # noqa: E402
from engine.config.rules import load_care  # noqa: E402
from engine.domain.mapping.result import MRN_TYPE, RESIDENT_ID_SYSTEM, Mapped, Resource  # noqa: E402
from engine.domain.record.precedence import SourceVersion, merge  # noqa: E402
from engine.pipeline.care_events import CareEvents  # noqa: E402
from engine.pipeline.care_loop import CareLoop  # noqa: E402
from engine.pipeline.mpi import MpiResolver  # noqa: E402
from engine.pipeline.record import Provenance, apply  # noqa: E402
from engine.store.database import migrate, open_engine  # noqa: E402

BATCH = 50
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ["建国", "秀英", "桂兰", "志强", "丽华", "海燕", "国平", "春梅", "文杰", "玉珍"]
RULES = {"default": ["his.*", "phs.*"], "address": ["phs.*", "his.*"], "telecom": ["phs.*", "his.*"]}


def adt(person: int, visit: int) -> Mapped:
    name = SURNAMES[person % len(SURNAMES)] + GIVEN[person % len(GIVEN)]
    body = f"330781{1940 + person % 70}{1 + person % 12:02d}{1 + person % 28:02d}{person % 1000:03d}"
    resident = body + "10X98765432"[sum(int(d) * 2 ** (17 - i) % 11 for i, d in enumerate(body)) % 11]
    patient = {
        "resourceType": "Patient",
        "id": "pat-1",
        "identifier": [
            {"system": RESIDENT_ID_SYSTEM, "value": resident},
            {"type": {"coding": [{"code": MRN_TYPE}]}, "system": "urn:oid:his.county", "value": f"H{person:08d}"},
        ],
        "name": [{"text": name, "family": name[0], "given": [name[1:]]}],
        "gender": "male" if person % 2 else "female",
        "birthDate": f"{1940 + person % 70}-{1 + person % 12:02d}-{1 + person % 28:02d}",
        "telecom": [{"system": "phone", "value": f"138{person:08d}"}],
        "address": [{"text": f"浙江省金华市兰溪市兰江街道{person % 300}号"}],
    }
    resources = [
        Resource("patient", "", patient),
        Resource(
            "encounter",
            f"V{person}-{visit}",
            {
                "resourceType": "Encounter",
                "id": "enc-1",
                "status": "finished",
                "class": {"code": "AMB", "display": "门诊"},
                "subject": {"reference": "Patient/pat-1"},
                "period": {"start": f"2026-03-{1 + visit % 28:02d}T08:{visit % 60:02d}:00+08:00"},
            },
        ),
        Resource(
            "diagnosis",
            "",
            {
                "resourceType": "Condition",
                "id": "dg-1",
                "code": {"coding": [{"system": "icd-10", "code": "I10", "display": "原发性高血压"}]},
                "subject": {"reference": "Patient/pat-1"},
                "encounter": {"reference": "Encounter/enc-1"},
                "recordedDate": "2026-03-01",
            },
        ),
    ]
    if visit % 2:
        resources.append(
            Resource(
                "vitals",
                f"V{person}-{visit}-bp",
                {
                    "resourceType": "Observation",
                    "id": "obs-1",
                    "status": "final",
                    "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6", "display": "收缩压"}]},
                    "subject": {"reference": "Patient/pat-1"},
                    "encounter": {"reference": "Encounter/enc-1"},
                    "valueQuantity": {"value": 110 + visit % 50, "unit": "mm[Hg]"},
                },
            )
        )
    return Mapped("hl7v2/adt", "1+3fa2c1d0", tuple(resources))


def stream(count: int, seed: int = 7) -> list[Mapped]:
    rng = random.Random(seed)
    people = 0
    out = []
    for visit in range(count):
        if people == 0 or rng.random() < 0.4:
            people += 1
            person = people
        else:
            person = rng.randint(1, people)
        out.append(adt(person, visit))
    return out


def run(engine: Engine, messages: list[Mapped], care: CareLoop | None = None) -> dict[str, float]:
    """Time all but the first tenth of the stream, which fills the store before the planner's statistics are
    gathered (ANALYZE; on a live PostgreSQL autovacuum does this)."""
    apply_s = commit_s = care_s = 0.0
    batches = [messages[i : i + BATCH] for i in range(0, len(messages), BATCH)]
    warm = len(batches) // 10
    timed = len(messages) - warm * BATCH
    matcher, errors = load_matcher(SHIPPED)
    assert matcher is not None, errors
    resolver = MpiResolver(matcher)
    message_id = 0
    for n, batch in enumerate(batches):
        if n == warm:
            with engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE")
            apply_s = commit_s = care_s = 0.0
        items = []
        for mapped in batch:
            message_id += 1
            items.append((mapped, Provenance("his.county-people-hospital", message_id, "his-adt")))
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")  # open the transaction before the clock starts
            start = time.perf_counter()
            summaries = apply(conn, items, 1_790_000_000.0 + message_id, resolver)
            applied = time.perf_counter()
            if care is not None:
                care.after_record(conn, items, summaries, 1_790_000_000.0 + message_id)
            middle = time.perf_counter()
            conn.commit()
            commit_s += time.perf_counter() - middle
            apply_s += applied - start
            care_s += middle - applied
    out = {
        "apply_us_per_message": round(apply_s / timed * 1e6, 1),
        "commit_us_per_message": round(commit_s / timed * 1e6, 1),
        "apply_messages_per_s": round(timed / apply_s),
    }
    if care is not None:
        out["care_loop_us_per_message"] = round(care_s / timed * 1e6, 1)
        out["apply_and_care_messages_per_s"] = round(timed / (apply_s + care_s))
    return out


def care_loop() -> CareLoop:
    """Tasks kept and passed on to one JSON task-events channel, as the shipped care-task-sms channel does."""
    events = CareEvents(tasks={"care-task-sms": TaskEventsSource(type="task-events", format="json")}, node="bench")
    rules, errors = load_care(ROOT / "mappings" / "care")
    assert rules is not None, errors
    return CareLoop(events, care_rules=rules)


def merged_on_read_us() -> float:
    his = SourceVersion("his.county", 2.0, adt(1, 1).resources[0].body)
    phs = SourceVersion("phs.county", 1.0, adt(2, 1).resources[0].body)
    timings = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(10_000):
            merge("Patient", "p", [his, phs], RULES)
        timings.append((time.perf_counter() - start) / 10_000 * 1e6)
    return round(statistics.median(timings), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--postgres", default=os.environ.get("HUITONG_TEST_POSTGRES_URL"))
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "record_apply.json"))
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {1})
    messages = stream(args.messages)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        engine = open_engine(f"sqlite:///{tmp}/record.db")
        migrate(engine)
        results["sqlite"] = run(engine, messages)
        engine.dispose()
        engine = open_engine(f"sqlite:///{tmp}/record-care.db")
        migrate(engine)
        results["sqlite_with_care_loop"] = run(engine, messages, care_loop())
        engine.dispose()
    if args.postgres:
        engine = open_engine(args.postgres)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS bench_record CASCADE"))
            conn.execute(text("CREATE SCHEMA bench_record"))
        engine.dispose()
        engine = open_engine(f"{args.postgres}?options=-csearch_path%3Dbench_record")
        migrate(engine)
        results["postgresql"] = run(engine, messages)
        engine.dispose()
        engine = open_engine(args.postgres)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA bench_record CASCADE"))
        engine.dispose()
    resources = sum(len(m.resources) for m in messages)
    out = {
        "what": f"pipeline.record.apply, batches of {BATCH} ADT messages, pinned to CPU 1; COMMIT timed apart",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "messages": len(messages),
        "resources_per_message": round(resources / len(messages), 2),
        "results": results,
        "merged_patient_on_read_us": merged_on_read_us(),
    }
    Path(args.out).write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(out, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
