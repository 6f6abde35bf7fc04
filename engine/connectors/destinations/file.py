"""File destination: each message written to its own file, atomically (temp file, fsync, rename); the directory
is synced once per batch, before the batch's results are recorded."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from pathlib import Path

from engine.config import FileDestination as FileSpec
from engine.connectors import destinations
from engine.domain.delivery import Attempt, Delivery
from engine.domain.formats.hl7v2 import canonical

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def _safe(value: str) -> str:
    return _UNSAFE.sub("_", value)[:64] or "_"


class FileDestination:
    def __init__(self, channel: str, name: str, directory: Path, filename: str) -> None:
        self.channel = channel
        self.name = name
        self.directory = directory
        self.filename = filename

    def path_for(self, delivery: Delivery) -> Path:
        name = self.filename.format(
            channel=self.channel,
            destination=self.name,
            message_id=delivery.message_id,
            control_id=_safe(delivery.control_id),
            message_type=_safe(delivery.message_type),
        )
        return self.directory / name

    async def send(self, delivery: Delivery) -> Attempt:
        return await asyncio.to_thread(self._write, delivery)

    def _write(self, delivery: Delivery) -> Attempt:
        target = self.path_for(delivery)
        temp = target.with_name(f".{target.name}.tmp")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with open(temp, "wb") as out:
                out.write(canonical(delivery.raw))
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, target)
        except OSError as exc:
            return Attempt(False, error=f"cannot write {target}: {exc.strerror or exc}", destination_down=True)
        return Attempt(True)

    async def commit(self) -> None:
        """Make the renames of this batch durable: one directory fsync for the whole batch."""
        await asyncio.to_thread(_fsync_directory, self.directory)

    async def close(self) -> None:
        return None


def _fsync_directory(directory: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def build(spec: FileSpec, context: destinations.Context) -> FileDestination:
    return FileDestination(context.channel.channel, spec.name, spec.path, spec.filename)


destinations.register(FileSpec, build)
