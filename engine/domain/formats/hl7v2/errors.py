"""Exceptions of the HL7 v2 wire-format package, all under one base.

A bad batch (the envelope) and a bad header (the one message) need different answers from the intake:
a batch error rejects the whole file or frame, a header error rejects one message with an AR ACK.
Messages carry field names and positions, never field values from patient segments.
"""

from __future__ import annotations

__all__ = ["BatchError", "HL7Error", "HeaderError", "UnknownCharset"]


class HL7Error(Exception):
    """Base of every error this package raises on purpose."""


class BatchError(HL7Error):
    """A file or frame whose batch structure cannot be trusted (no MSH, counts that contradict)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class HeaderError(HL7Error):
    """The MSH segment is unusable; ``field`` names the culprit, e.g. ``"MSH-10"``.

    ``code`` is the HL7 table 0357 error code the AR carries (207, application error, if unset).
    """

    def __init__(self, reason: str, field: str, code: int = 207) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field
        self.code = code


class UnknownCharset(HL7Error):
    """MSH-18 names a character set this engine cannot decode."""

    def __init__(self, value: str, reason: str = "") -> None:
        self.value = value
        self.reason = reason or f"MSH-18 character set {value!r} is not supported"
        super().__init__(self.reason)
