"""Structured logs: JSON lines in daemon mode, readable console output otherwise; personal data masked."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any, TextIO

import orjson
import structlog

from engine.domain.masking import mask_value


def mask_processor(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> Mapping[str, Any]:
    """structlog processor: every field and the rendered exception pass through the masking rules."""
    if "exception" not in event and event.get("exc_info"):
        event = structlog.processors.format_exc_info(_logger, _method, event)
    return {key: mask_value(key, value) for key, value in event.items()}


def _json(obj: Any, **_kw: Any) -> str:
    return orjson.dumps(obj, default=str).decode()


def configure(level: str = "info", fmt: str = "auto", file: str | None = None, stream: TextIO | None = None) -> None:
    """Route structlog and the standard library's logging (alembic, APScheduler) through one masked chain."""
    stream = stream or sys.stderr
    if fmt == "auto":
        fmt = "console" if stream.isatty() else "json"
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    final = structlog.processors.JSONRenderer(serializer=_json)

    def formatter(renderer: Any) -> logging.Formatter:
        return structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, mask_processor, renderer],
        )

    console = formatter(structlog.dev.ConsoleRenderer(colors=False) if fmt == "console" else final)
    handlers: list[logging.Handler] = [logging.StreamHandler(stream)]
    handlers[0].setFormatter(console)
    if file:
        Path(file).parent.mkdir(parents=True, exist_ok=True)  # like the store and the inboxes: made on first start
        to_file = logging.FileHandler(file, encoding="utf-8")
        to_file.setFormatter(formatter(final))
        handlers.append(to_file)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level.upper())
    for noisy in ("apscheduler", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
