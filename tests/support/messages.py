"""Real corpus messages made unique for tests that need many distinct messages."""

from __future__ import annotations

from tests.support.corpus import one

ADT = one("cdc-trusted-intermediary/examples/Other/001_ADT_A01.hl7").replace(b"\r\n", b"\r").replace(b"\n", b"\r")


def field(raw: bytes, segment: bytes, index: int) -> bytes:
    for line in raw.split(b"\r"):
        if line.startswith(segment + b"|"):
            parts = line.split(b"|")
            return parts[index - 1] if segment == b"MSH" else parts[index]
    raise KeyError(segment)


def with_ids(raw: bytes, control_id: str, patient_id: str | None = None) -> bytes:
    """The message with MSH-10 (and PID-3.1 when given) replaced."""
    out = []
    for line in raw.split(b"\r"):
        parts = line.split(b"|")
        if line.startswith(b"MSH|"):
            parts[9] = control_id.encode()
        elif line.startswith(b"PID|") and patient_id is not None:
            rest = parts[3].split(b"^", 1)
            parts[3] = patient_id.encode() + (b"^" + rest[1] if len(rest) > 1 else b"")
        out.append(b"|".join(parts))
    return b"\r".join(out)


def adt(control_id: str, patient_id: str | None = None) -> bytes:
    return with_ids(ADT, control_id, patient_id)
