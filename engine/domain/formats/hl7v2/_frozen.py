"""Fast construction of frozen, slotted dataclasses on the hot path.

A frozen dataclass's generated ``__init__`` stores each field through ``object.__setattr__``, about
0.1 µs per field on the 2-core box: 1.5 µs for ``Header``, half of ``read_header``'s budget. The
builder fills a twin class with the same slot layout (plain, specialised attribute stores) and then
switches ``__class__``; the result is an ordinary, still frozen instance of the dataclass.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def builder(cls: type[T]) -> Callable[..., T]:
    """A positional constructor for ``cls`` (a ``@dataclass(frozen=True, slots=True)``), fields in order."""
    names: tuple[str, ...] = cls.__slots__  # type: ignore[attr-defined]
    twin = type(f"_{cls.__name__}Init", (), {"__slots__": names})
    args = ", ".join(names)
    body = "".join(f"    o.{n} = {n}\n" for n in names)
    source = f"def build({args}):\n    o = twin()\n{body}    o.__class__ = cls\n    return o\n"
    namespace: dict[str, Any] = {"twin": twin, "cls": cls}
    exec(source, namespace)  # same technique as dataclasses' own generated __init__
    return namespace["build"]  # type: ignore[no-any-return]
