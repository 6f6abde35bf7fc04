"""A longer fuzz run of the intake than the bounded hypothesis tests in CI: coverage-guided, with atheris.

Whatever bytes arrive, in either validation mode and any channel charset, `receive` must journal an entry per
message and `ack_bytes` must answer with an ACK our own reader reads; any exception is a finding (atheris stops
and writes the input that caused it as crash-<hash>). Not collected by pytest (no test_ prefix).

    .venv/bin/pip install atheris
    .venv/bin/python tests/fuzz/fuzz_intake.py -max_total_time=3600 -max_len=4096 tests/fuzz/corpus/

Seed the corpus directory with the public samples (tests/corpus/**/*.hl7) for a head start.
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

with atheris.instrument_imports():
    from engine.domain.formats.hl7v2 import read_ack
    from engine.pipeline.intake import ack_bytes, receive

MODES = ("basic", "strict")
CHARSETS = ("gb18030", "utf-8", "latin-1")


def one_input(data: bytes) -> None:
    if len(data) < 2:
        return
    mode, charset, raw = MODES[data[0] % 2], CHARSETS[data[1] % 3], data[2:]
    items = receive(raw, channel="fuzz", source="fuzz", received_at=0.0, default_charset=charset, validation=mode)
    assert items
    answer = ack_bytes(items, None, control_id="A1", timestamp="20260101")
    assert read_ack(answer).code in ("AA", "AE", "AR"), answer


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
