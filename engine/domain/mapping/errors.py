"""Mapping errors: where the mapping said what, and which message field it could not use."""

from __future__ import annotations


class MappingError(Exception):
    """A message the mapping could not map: names the mapping file, the rule and the field.

    Values from the message are never part of the text (they may be personal data); the path of
    the field and the reason are.
    """

    def __init__(self, reason: str, *, file: str = "", rule: str = "", field: str = "") -> None:
        self.reason = reason
        self.file = file
        self.rule = rule
        self.field = field
        super().__init__(reason)

    def located(self, *, file: str | None = None, rule: str | None = None, field: str | None = None) -> MappingError:
        """The same error with the outer location filled in where the inner one left it empty."""
        return MappingError(
            self.reason,
            file=self.file or file or "",
            rule=self.rule or rule or "",
            field=self.field or field or "",
        )

    def __str__(self) -> str:
        parts = [p for p in (self.file, f"rule {self.rule}" if self.rule else "", self.field) if p]
        return ": ".join([*parts, self.reason])


class NoMapping(MappingError):
    """No mapping of the channel takes this kind of message: nothing is wrong with it, the record does not take it
    (its delivery is SKIPPED, saying which type, until a mapping for it is added and the message reprocessed)."""


class BadValue(MappingError):
    """A message's value that cannot be what its field needs (a date that is no date): the field is left out of
    the resource and the message is mapped with a note saying so, as a receiving system would rather have it
    than lose the whole message to one field."""


class CompileError(Exception):
    """A mapping, table or expression that cannot be compiled; ``path`` is the data path in its file."""

    def __init__(self, message: str, path: tuple[str | int, ...] = ()) -> None:
        self.path = path
        super().__init__(message)
