"""Corpus access for the HL7 v2 tests: files by manifest kind, read as bytes."""

from __future__ import annotations

import csv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
CORPUS = ROOT / "tests" / "corpus"
SAMPLES = ROOT / "samples" / "hl7v2"


def corpus_files(kind: str) -> list[Path]:
    """Every corpus file whose MANIFEST.csv row has this ``kind`` (``hl7v2-er7``, ``hl7v2-malformed``)."""
    found = []
    for manifest in sorted(CORPUS.glob("*/MANIFEST.csv")):
        with manifest.open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                if row["kind"] == kind:
                    found.append(manifest.parent / row["file"])
    return found


def ident(path: Path) -> str:
    """A short, readable test id: the path below tests/corpus."""
    return str(path.relative_to(CORPUS))


def corpus(relative: str) -> bytes:
    return (CORPUS / relative).read_bytes()
