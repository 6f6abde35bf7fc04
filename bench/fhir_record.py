"""The FHIR API benchmark's record: N residents made by the pipeline's mapping and record stages from generated HL7.

Each resident arrives as one ADT^A01 admission of bench/messages.py (PID NK1 PV1, six OBX, three AL1, three DG1,
IN1: a Patient and about fifteen resources), with a PID of its own: bench/messages.py repeats resident IDs after
21,000 people and MRNs after 50,000, which would make the MPI link different residents. One resident, the
"busy" one, comes back for BUSY_VISITS admissions (each a new visit number, other OBX values and times), which gives
about 200 resources for ``$everything``.

Messages are mapped with the shipped mappings (``hl7v2/adt``, as a record channel does) and written by
``pipeline.record.apply`` in batches of 50 with the MPI's resolver, which is what the record worker does with an
outbox batch (without its care loop, journal and outbox: they write no FHIR resource).
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from bench._engine import load
from bench.messages import adt_a01
from engine.config.mpi import SHIPPED, load_matcher
from engine.domain.mapping import Mapped
from engine.pipeline.mapping import map_file
from engine.pipeline.mpi import MpiResolver
from engine.pipeline.record import Provenance, apply

ROOT = Path(__file__).resolve().parents[1]
BATCH = 50
SOURCE = "his.county-people-hospital"
BUSY_VISITS = 20  # admissions of the busy resident: ~200 resources in all
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_FAMILY = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀英华玉兰桂建国志海燕平春梅文德子涵"


@dataclass(frozen=True, slots=True)
class Resident:
    """What the load asks about a resident: its identifiers and demographics as the messages gave them."""

    n: int
    resident_id: str
    mrn: str
    family: str
    given: str
    birth_date: str  # YYYY-MM-DD


def resident(n: int) -> Resident:
    """Resident n: a resident ID unique for n < 10,000,000 (valid GB 11643 check digit), a name of 1 of ~46,000."""
    born = f"{1940 + n % 70:04d}{1 + n // 70 % 12:02d}{1 + n // 840 % 28:02d}"
    body = f"33{n // 1000 % 10000:04d}{born}{n % 1000:03d}"
    rid = body + "10X98765432"[sum(int(d) * w for d, w in zip(body, _WEIGHTS, strict=True)) % 11]
    given = _GIVEN[n % len(_GIVEN)] + _GIVEN[n // len(_GIVEN) % len(_GIVEN)]
    family = _FAMILY[n // len(_GIVEN) ** 2 % len(_FAMILY)]
    return Resident(n, rid, f"H{n:08d}", family, given, f"{born[:4]}-{born[4:6]}-{born[6:]}")


def message(n: int, visit: int, rng: random.Random) -> bytes:
    """Resident n's admission number ``visit``: bench/messages.py's ADT^A01 with its PID and its own values."""
    who = resident(n)
    text = adt_a01(n).decode("gb18030")
    segments = text.split("\r")
    stamp = f"2025{1 + visit % 12:02d}{1 + visit % 28:02d}{8 + visit % 10:02d}3000"
    out = []
    for seg in segments:
        fields = seg.split("|")
        if fields[0] == "MSH":
            fields[9] = f"FB{n:08d}V{visit:03d}"
        elif fields[0] == "PID":
            fields[3] = f"{who.mrn}^^^HIS^PI~{who.resident_id}^^^CHN^NNCHN"
            fields[5] = f"{who.family}^{who.given}^^^^^L"
            fields[7] = who.birth_date.replace("-", "")
            fields[13] = f"138{n:08d}^PRN^CP"
            fields[18] = f"V{n:08d}{visit:03d}"
        elif fields[0] == "PV1":
            fields[19] = f"V{n:08d}{visit:03d}^^^HIS^VN"
            fields[44] = stamp
        elif fields[0] == "OBX":
            if fields[2] == "NM":
                fields[5] = f"{float(fields[5]) * (0.8 + rng.random() * 0.4):.1f}"
            fields[14] = stamp
        elif fields[0] == "DG1" and visit:
            fields[5] = stamp
        elif fields[0] == "EVN":
            fields[2] = stamp
        out.append("|".join(fields))
    return "\r".join(out).encode("gb18030")


def messages(residents: int, busy: int) -> Iterator[bytes]:
    """Every resident's admission, then the busy resident's further ones."""
    rng = random.Random(19)
    for n in range(residents):
        yield message(n, 0, rng)
    for visit in range(1, BUSY_VISITS):
        yield message(busy, visit, rng)


def build(engines: list[Engine], residents: int, busy: int, progress: bool = False) -> dict[str, float]:
    """Map each batch once and record it in every store; the seconds spent mapping and in each store."""
    mappings = load(ROOT / "mappings")
    matcher, errors = load_matcher(SHIPPED)
    assert matcher is not None, errors
    resolvers = [MpiResolver(matcher) for _ in engines]
    spent = {"map_s": 0.0, **{f"record_s_{i}": 0.0 for i in range(len(engines))}}
    batch: list[Mapped] = []
    done = 0

    def flush() -> None:
        nonlocal done
        for i, (engine, resolver) in enumerate(zip(engines, resolvers, strict=True)):
            start = time.perf_counter()
            items = [(m, Provenance(SOURCE, None, "his")) for m in batch]
            with engine.begin() as conn:
                apply(conn, items, time.time(), resolver)
            spent[f"record_s_{i}"] += time.perf_counter() - start
        done += len(batch)
        if progress and done % 10_000 < BATCH:
            print(f"  recorded {done} messages", flush=True)
        batch.clear()

    for data in messages(residents, busy):
        start = time.perf_counter()
        batch.extend(m for _, m in map_file(mappings, ["hl7v2/adt"], data, charset="gb18030", source_system=SOURCE))
        spent["map_s"] += time.perf_counter() - start
        if len(batch) >= BATCH:
            flush()
    if batch:
        flush()
    return spent
