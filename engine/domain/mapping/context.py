"""Where an expression reads from: the message (HL7 v2 segments or an XML node) and the rule instance.

A context is made per rule instance and per ``for`` item; it is a few slots, so making one costs
little. ``parent`` links let an absolute path such as ``OBR-7`` find the OBR of the enclosing group.
"""

from __future__ import annotations

from typing import Any

from engine.domain.formats.hl7v2 import Message, Segment


class Scope:
    """One rule instance: its reference, and references of child-rule instances made within it."""

    __slots__ = ("children", "parent", "ref", "rule")

    def __init__(self, rule: str, ref: str, parent: Scope | None) -> None:
        self.rule = rule
        self.ref = ref
        self.parent = parent
        self.children: dict[str, list[str]] = {}


class Run:
    """State of mapping one message: counters for local ids, the first instance of each rule, variables."""

    __slots__ = ("counters", "first", "vars")

    def __init__(self, variables: dict[str, Any]) -> None:
        self.counters: dict[str, int] = {}
        self.first: dict[str, str] = {}
        self.vars = variables

    def new_ref(self, rule: str, resource_type: str) -> tuple[str, str]:
        n = self.counters.get(rule, 0) + 1
        self.counters[rule] = n
        local_id = f"{rule}-{n}"
        ref = f"{resource_type}/{local_id}"
        self.first.setdefault(rule, ref)
        return local_id, ref


class V2View:
    """A message's segments, split once and indexed by ID."""

    __slots__ = ("by_id", "message", "segments", "seps")

    def __init__(self, message: Message) -> None:
        self.message = message
        self.segments: list[Segment] = message.segments()
        by_id: dict[str, list[int]] = {}
        for i, seg in enumerate(self.segments):
            by_id.setdefault(seg.text[:3], []).append(i)
        self.by_id = by_id
        self.seps = message.header.encoding_chars


class Ctx:
    """A place in the input. HL7 v2: ``pos`` is the segment index (-1: the message), ``rep`` a field
    repetition's raw text. XML: ``node`` is the element."""

    __slots__ = ("index", "node", "parent", "pos", "rep", "run", "scope", "view")

    def __init__(
        self,
        run: Run,
        scope: Scope | None,
        parent: Ctx | None,
        *,
        view: V2View | None = None,
        pos: int = -1,
        rep: str | None = None,
        node: Any = None,
        index: int = 1,
    ) -> None:
        self.run = run
        self.scope = scope
        self.parent = parent
        self.view = view
        self.pos = pos
        self.rep = rep
        self.node = node
        self.index = index

    def child(self, *, pos: int | None = None, rep: str | None = None, node: Any = None, index: int = 1) -> Ctx:
        return Ctx(
            self.run,
            self.scope,
            self,
            view=self.view,
            pos=self.pos if pos is None else pos,
            rep=rep,
            node=self.node if node is None else node,
            index=index,
        )

    def with_scope(self, scope: Scope) -> Ctx:
        return Ctx(
            self.run, scope, self.parent, view=self.view, pos=self.pos, rep=self.rep, node=self.node, index=self.index
        )

    def segment_of(self, seg_id: str) -> Segment | None:
        """The innermost enclosing segment with this ID, else the message's first one."""
        view = self.view
        assert view is not None
        c: Ctx | None = self
        while c is not None:
            if c.pos >= 0 and view.segments[c.pos].text.startswith(seg_id):
                return view.segments[c.pos]
            c = c.parent
        found = view.by_id.get(seg_id)
        return view.segments[found[0]] if found else None

    def current_rep(self) -> str | None:
        c: Ctx | None = self
        while c is not None:
            if c.rep is not None:
                return c.rep
            c = c.parent
        return None
