"""The copied public corpus, read through its manifests."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

CORPUS = Path(__file__).parent.parent / "corpus"
SAMPLES = Path(__file__).parent.parent.parent / "samples"


@dataclass(frozen=True)
class CorpusFile:
    path: Path
    kind: str
    detail: str
    eol: str

    @property
    def id(self) -> str:
        return str(self.path.relative_to(CORPUS))


def files(kind: str) -> list[CorpusFile]:
    out = []
    for manifest in sorted(CORPUS.glob("*/MANIFEST.csv")):
        with manifest.open(newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                if row["kind"] == kind:
                    out.append(CorpusFile(manifest.parent / row["file"], row["kind"], row["detail"], row["eol_flags"]))
    return out


def one(relative: str) -> bytes:
    return (CORPUS / relative).read_bytes()
