"""An archive: the files of a directory tree that a file source's glob takes, in a stable order, as bytes.

A backfill reads an archive (years of HL7 v2 files, NDJSON exports) in place: unlike the live poller, it never
moves a file. The order is the sorted relative paths, so a checkpoint ("the next message is number k of file f")
means the same thing after a restart, even if files were added meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path


def archive_files(root: Path, pattern: str, *, skip: Iterable[Path] = ()) -> list[str]:
    """POSIX paths relative to `root` of the regular, non-hidden files matching `pattern` at any depth, sorted.

    A pattern without a directory part (``*.hl7``) is looked for in every subdirectory; one with a part
    (``2024/**/*.hl7``) is taken as it is. Directories in `skip` that lie below `root` (the live poller's done/ and
    error/) are left out: what is in them was journaled when it arrived.
    """
    found = root.glob(pattern) if "/" in pattern else root.rglob(pattern)
    skipped = [s.resolve() for s in skip if s.resolve() != root.resolve()]
    out = []
    for path in found:
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        if any(path.resolve().is_relative_to(s) for s in skipped):
            continue
        out.append(rel.as_posix())
    return sorted(out)


def read_from(root: Path, files: Sequence[str], start: str) -> Iterator[tuple[str, bytes | OSError]]:
    """Each file from `start` on (the sorted order) with its bytes, or the error that kept it from being read;
    one file in memory at a time."""
    for relative in files:
        if relative < start:
            continue
        try:
            yield relative, (root / relative).read_bytes()
        except OSError as exc:
            yield relative, exc
