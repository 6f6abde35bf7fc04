"""File source: a directory polled for files (HL7 v2 batches, FHIR NDJSON or JSON, XML documents), each moved to
done_dir once journaled (error_dir when the intake refused one of its messages); read in bulk by a backfill."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import structlog

from engine.config import ChannelSpec, EngineConfig, FileSource
from engine.connectors.files import archive, inbox
from engine.domain.formats.hl7v2 import Rules
from engine.domain.outcome import MessageStatus
from engine.pipeline.intake import Received, receive
from engine.pipeline.payloads import receive_fhir, receive_ndjson, receive_xml
from engine.sources.component import Bulk, Component, Context, Polling, Refused, register, rules_for
from engine.sources.reading import Item, OriginDone, Position, Read, Unreadable

log = structlog.get_logger("huitong.channel")
CHUNK = 100  # files per journal commit


def receive_file(
    source: FileSource, channel: str, where: str, data: bytes, profile: Rules | None, now: float
) -> list[Received]:
    """A file's journal entries, read as the source's format says (the poller and the backfill reader)."""
    if source.format == "hl7v2":
        return receive(
            data,
            channel=channel,
            source=where,
            received_at=now,
            default_charset=source.encoding,
            validation=source.validation,
            profile=profile,
        )
    if source.format == "ndjson":
        entries = receive_ndjson(data, channel=channel, source=where, received_at=now)
    elif source.format == "fhir-json":
        entries = [receive_fhir(data, channel=channel, source=where, received_at=now)]
    else:
        entries = receive_xml(data, channel=channel, source=where, received_at=now)
    return [Received(entry, None) for entry in entries]


class FilePoller:
    def __init__(self, context: Context) -> None:
        source = context.spec.source
        assert isinstance(source, FileSource)
        self.context, self.source, self.name = context, source, context.spec.channel
        self._stopping = False

    async def poll(self) -> None:
        source = self.source
        ready = await asyncio.to_thread(inbox.ready_files, source.path, source.glob)
        for i in range(0, len(ready), CHUNK):
            if self._stopping:
                return
            batch: list[tuple[Path, list[Received]]] = []
            for path in ready[i : i + CHUNK]:
                try:
                    data = await asyncio.to_thread(path.read_bytes)
                except OSError as exc:
                    log.error("cannot read file", channel=self.name, file=str(path), error=exc.strerror)
                    continue
                items = receive_file(source, self.name, str(path), data, self.context.profile, time.time())
                batch.append((path, items))
            error = await self.context.journal.append_and_wait([i.entry for _, items in batch for i in items])
            if error is not None:
                log.error("journal commit failed; files stay for the next poll", channel=self.name)
                return
            for path, items in batch:
                rejected = sum(i.entry.status == MessageStatus.ERROR for i in items)
                moved = await asyncio.to_thread(inbox.move, path, source.error_dir if rejected else source.done_dir)
                log.info("file journaled", channel=self.name, file=str(moved), messages=len(items), rejected=rejected)

    async def close(self) -> None:
        self._stopping = True


async def start(context: Context) -> Polling:
    poller = FilePoller(context)
    log.info("channel started", channel=poller.name, path=str(poller.source.path), glob=poller.source.glob)
    return Polling(context, poller, poller.source.poll_interval)


class FileReader:
    """The source's format over a directory tree; files are read in place, never moved."""

    unit = "file"

    def __init__(self, spec: ChannelSpec, root: Path, config: EngineConfig) -> None:
        source = spec.source
        assert isinstance(source, FileSource)
        self.source, self.root, self.channel = source, root.resolve(), spec.channel
        self.what = str(self.root)
        self.rules = rules_for(config, source)
        self.files = archive.archive_files(self.root, source.glob, skip=(source.done_dir, source.error_dir))

    def origin_of(self, source: str) -> str:
        prefix = f"{self.root}/"
        return source[len(prefix) :] if source.startswith(prefix) else source

    def remaining(self, after: Position) -> int:
        start = after.get("file", "")
        return sum(f >= start for f in self.files)

    def read(self, after: Position) -> Iterator[Read]:
        start, skip = after.get("file", ""), int(after.get("message", 0))
        for relative, data in archive.read_from(self.root, self.files, start):
            if isinstance(data, OSError):
                yield Unreadable(relative, f"cannot read the file: {data.strerror or data}")
                yield OriginDone(relative)
                continue
            where = str(self.root / relative)
            items = receive_file(self.source, self.channel, where, data, self.rules, time.time())
            first = skip if relative == start else 0
            for index in range(first, len(items)):
                yield Item(items[index].entry, relative, {"file": relative, "message": index + 1})
            yield OriginDone(relative)


def reader(spec: ChannelSpec, config: EngineConfig, bulk: Bulk) -> FileReader:
    source = spec.source
    assert isinstance(source, FileSource)
    root = bulk.path or source.path
    if not root.is_dir():
        raise Refused(f"{root} is not a directory")
    return FileReader(spec, root, config)


register(
    Component(
        FileSource,
        start,
        format=lambda s: {"ndjson": "fhir", "fhir-json": "fhir", "xml": "xml"}.get(s.format, "hl7v2"),
        reader=reader,
        recall=lambda what: Bulk(path=Path(what)),
    )
)
