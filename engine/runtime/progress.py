"""Progress of long CLI work: a bar with rate and ETA on a terminal, a structured line every so often elsewhere.

An engineer watching a backfill or a batch dedupe wants the bar; a cron job's log wants lines it can parse.
"""

from __future__ import annotations

import sys
import time
from typing import IO, Any

import structlog
from tqdm import tqdm

log = structlog.get_logger("huitong.progress")


class Progress:
    def __init__(
        self,
        label: str,
        total: int | None = None,
        *,
        unit: str = "record",
        every: float = 10.0,
        stream: IO[str] | None = None,
    ) -> None:
        self.label, self.total, self.unit, self.every = label, total, unit, every
        self.stream = stream or sys.stderr
        self.done = 0
        self.started = self._last = time.monotonic()
        self._bar: Any = (
            tqdm(total=total, desc=label, unit=unit, file=self.stream, dynamic_ncols=True)
            if self.stream.isatty()
            else None
        )

    def update(self, n: int = 1) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
            return
        now = time.monotonic()
        if now - self._last >= self.every:
            self._last = now
            self._line("progress")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        else:
            self._line("done")

    def _line(self, event: str) -> None:
        elapsed = time.monotonic() - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        fields: dict[str, Any] = {"task": self.label, "done": self.done, "rate_per_s": round(rate, 1)}
        if self.total:
            fields["total"] = self.total
            if rate > 0:
                fields["eta_s"] = round((self.total - self.done) / rate, 1)
        log.info(event, **fields)
