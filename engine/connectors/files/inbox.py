"""An inbox directory: files dropped there, picked by glob, moved to done/ or error/ once journaled."""

from __future__ import annotations

import os
from pathlib import Path


def ready_files(directory: Path, pattern: str) -> list[Path]:
    """Regular files matching the glob, oldest first (name breaks ties), so arrival order is kept."""
    try:
        found = [p for p in directory.glob(pattern) if p.is_file() and not p.name.startswith(".")]
    except OSError:
        return []
    return sorted(found, key=lambda p: (p.stat().st_mtime, p.name))


def move(path: Path, directory: Path) -> Path:
    """Move a file into `directory` durably, never overwriting an earlier file of the same name."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / path.name
    n = 1
    while target.exists():
        target = directory / f"{path.stem}.{n}{path.suffix}"
        n += 1
    os.replace(path, target)
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return target
