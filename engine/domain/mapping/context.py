"""Where an expression reads from: the message (HL7 v2 segments, an XML node or JSON) and the rule instance.

A context is made per rule instance and per ``for`` item; it is a few slots, so making one costs
little. ``parent`` links let an absolute path such as ``OBR-7`` find the OBR of the enclosing group.
"""

from __future__ import annotations

from typing import Any

from engine.domain.formats.hl7v2 import Message

from .errors import MappingError


class Scope:
    """One rule instance: its reference, and references of child-rule instances made within it."""

    __slots__ = ("children", "parent", "ref", "rule")

    def __init__(self, rule: str, ref: str, parent: Scope | None) -> None:
        self.rule = rule
        self.ref = ref
        self.parent = parent
        self.children: dict[str, list[str]] = {}


class Run:
    """State of mapping one message: counters for local ids, the instances of each rule (with the segment each was
    made from), variables, and notes on values left out (errors.BadValue)."""

    __slots__ = ("counters", "made", "notes", "vars")

    def __init__(self, variables: dict[str, Any]) -> None:
        self.counters: dict[str, int] = {}
        self.made: dict[str, list[tuple[int, str]]] = {}  # rule -> (segment index or -1, reference), in order
        self.vars = variables
        self.notes: list[MappingError] = []  # located by the rule that made each

    def new_ref(self, rule: str, resource_type: str, segment: int = -1) -> tuple[str, str]:
        n = self.counters.get(rule, 0) + 1
        self.counters[rule] = n
        local_id = f"{rule}-{n}"
        ref = f"{resource_type}/{local_id}"
        self.made.setdefault(rule, []).append((segment, ref))
        return local_id, ref

    def instance(self, rule: str, segment: int) -> str | None:
        """The instance of ``rule`` a context at ``segment`` belongs to: the last one made from a segment at or
        before it (the PID of its PATIENT group, in a message with several), else the first."""
        made = self.made.get(rule)
        if not made:
            return None
        if len(made) == 1 or segment < 0:
            return made[0][1]
        before = [(at, ref) for at, ref in made if 0 <= at <= segment]
        return max(before, key=lambda m: m[0])[1] if before else made[0][1]


class V2View:
    """A message's segments, indexed by ID; each segment is split into fields once, on first use."""

    __slots__ = ("by_id", "field_sep", "message", "rep_sep", "segments", "seps", "split", "texts")

    def __init__(self, message: Message) -> None:
        self.message = message
        self.texts: list[str] = message.segment_texts()
        by_id: dict[str, list[int]] = {}
        for i, text in enumerate(self.texts):
            by_id.setdefault(text[:3], []).append(i)
        self.by_id = by_id
        self.seps = message.header.encoding_chars
        self.rep_sep = self.seps[1]
        self.field_sep = message.header.field_sep
        self.split: list[list[str] | None] = [None] * len(self.texts)  # each segment's fields, once read

    def group_end(self, pos: int) -> int:
        """Where the group that segment ``pos`` opens ends: at the next segment of its kind, else the message's end."""
        return next((i for i in self.by_id[self.texts[pos][:3]] if i > pos), len(self.texts))

    def fields(self, pos: int) -> list[str]:
        """Raw field texts of segment ``pos`` by field number (MSH-1 is the field separator)."""
        found = self.split[pos]
        if found is None:
            text = self.texts[pos]
            found = text.split(self.field_sep)
            if found[0] == "MSH":
                found.insert(1, self.field_sep)
            self.split[pos] = found
        return found


class Ctx:
    """A place in the input. HL7 v2: ``pos`` is the segment index (-1: the message), ``rep`` a field
    repetition's raw text. XML: ``node`` is the element. JSON: ``node`` is the message, or a ``for:`` item."""

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

    def position_of(self, seg_id: str) -> int:
        """Which ``seg_id`` segment an absolute path means here: an enclosing one, else the first one in the
        group of the innermost enclosing segment (an RXR after its RXA), else the message's first; -1: none."""
        view = self.view
        assert view is not None
        found = view.by_id.get(seg_id)
        if not found:
            return -1
        if len(found) == 1:  # the usual case (PID, PV1, MSH): there is only one to mean
            return found[0]
        c: Ctx | None = self
        texts = view.texts
        innermost = -1
        while c is not None:
            if c.pos >= 0:
                if texts[c.pos].startswith(seg_id):
                    return c.pos
                if innermost < 0:
                    innermost = c.pos
            c = c.parent
        if innermost >= 0:
            end = view.group_end(innermost)
            in_group = next((i for i in found if innermost < i < end), -1)
            if in_group >= 0:
                return in_group
        return found[0]

    def current_segment(self) -> int:
        c: Ctx | None = self
        while c is not None and c.pos < 0:
            c = c.parent
        return c.pos if c is not None else -1

    def current_rep(self) -> str | None:
        c: Ctx | None = self
        while c is not None:
            if c.rep is not None:
                return c.rep
            c = c.parent
        return None
