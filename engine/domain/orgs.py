"""The organisation registry as a tree: province → city → health bureau → lead hospital → members.

Indicators are counted at the institution a resident belongs to and summed up this tree, so the tree
must be sound before any number is produced: every parent known, no cycles, each code once, and a
child always one or more levels below its parent. :func:`build` checks all of that and reports every
problem with the list position that holds it, which the config loader turns into ``file:line``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

#: Levels from the top down; a child's level must come after its parent's.
LEVELS: tuple[str, ...] = ("province", "city", "health_bureau", "lead_hospital", "township", "village")


@dataclass(frozen=True, slots=True)
class Org:
    code: str
    name: str
    level: str
    parent: str | None = None


@dataclass(frozen=True, slots=True)
class Team:
    """A family-doctor team (家庭医生团队); it belongs to one institution."""

    team_id: str
    name: str
    org: str


@dataclass(frozen=True, slots=True)
class Problem:
    """One registry fault: ``section`` (organisations or teams), the item's index, and its field."""

    section: str
    index: int
    field: str
    message: str


class RegistryInvalid(ValueError):
    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(p.message for p in self.problems))


class UnknownCode(KeyError):
    """A code or team id that is not in the registry."""

    def __str__(self) -> str:
        return str(self.args[0])


class OrgTree:
    """A checked registry; build it with :func:`build`."""

    def __init__(self, orgs: Sequence[Org], teams: Sequence[Team]) -> None:
        self._orgs = {o.code: o for o in orgs}
        self._children: dict[str | None, list[str]] = {}
        for o in orgs:  # file order is kept: it is the order reports list institutions in
            self._children.setdefault(o.parent, []).append(o.code)
        self._teams = {t.team_id: t for t in teams}

    def __contains__(self, code: object) -> bool:
        return code in self._orgs

    def __iter__(self) -> Iterator[Org]:
        """Every institution, parents before children (depth first, in file order)."""
        for root in self._children.get(None, []):
            yield self._orgs[root]
            yield from self.descendants(root)

    def get(self, code: str) -> Org:
        try:
            return self._orgs[code]
        except KeyError:
            raise UnknownCode(f"unknown organisation code {code!r}") from None

    def team(self, team_id: str) -> Team:
        try:
            return self._teams[team_id]
        except KeyError:
            raise UnknownCode(f"unknown family-doctor team {team_id!r}") from None

    @property
    def teams(self) -> list[Team]:
        return list(self._teams.values())

    @property
    def roots(self) -> list[Org]:
        return [self._orgs[c] for c in self._children.get(None, [])]

    def ancestors(self, code: str) -> list[Org]:
        """Parent first, root last; empty for a root."""
        out = []
        parent = self.get(code).parent
        while parent is not None:
            org = self._orgs[parent]
            out.append(org)
            parent = org.parent
        return out

    def descendants(self, code: str) -> list[Org]:
        """Everything below ``code``, depth first in file order; not ``code`` itself."""
        self.get(code)
        out: list[Org] = []
        stack = list(reversed(self._children.get(code, [])))
        while stack:
            org = self._orgs[stack.pop()]
            out.append(org)
            stack.extend(reversed(self._children.get(org.code, [])))
        return out

    def rollup(self, code: str) -> frozenset[str]:
        """The codes whose counts sum into ``code``'s row: itself and everything below it."""
        return frozenset([code, *(o.code for o in self.descendants(code))])

    def teams_of(self, code: str) -> list[Team]:
        """Teams of this institution only (not of the institutions below it)."""
        self.get(code)
        return [t for t in self._teams.values() if t.org == code]


def build(orgs: Sequence[Org], teams: Sequence[Team] = ()) -> OrgTree:
    """Check the registry and return its tree, or raise :class:`RegistryInvalid` listing every problem."""
    problems: list[Problem] = []
    first: dict[str, int] = {}
    for i, org in enumerate(orgs):
        if org.code in first:
            problems.append(
                Problem("organisations", i, "code", f"duplicate code {org.code!r} (first at item {first[org.code]})")
            )
        else:
            first[org.code] = i
        if org.level not in LEVELS:
            problems.append(
                Problem(
                    "organisations", i, "level", f"unknown level {org.level!r}; expected one of: {', '.join(LEVELS)}"
                )
            )
    by_code = {o.code: o for o in orgs}
    cycles, in_cycle = _cycles(orgs, by_code, first)
    for i, org in enumerate(orgs):
        if org.parent is None:
            continue
        parent = by_code.get(org.parent)
        if parent is None:
            problems.append(
                Problem("organisations", i, "parent", f"unknown parent {org.parent!r}: no organisation has that code")
            )
        elif org.code in in_cycle:
            continue  # a cycle always breaks the level order too; its own message says more
        elif org.level in LEVELS and parent.level in LEVELS and LEVELS.index(org.level) <= LEVELS.index(parent.level):
            problems.append(
                Problem("organisations", i, "level", f"a {org.level} cannot sit under a {parent.level} ({parent.code})")
            )
    problems.extend(cycles)
    team_first: dict[str, int] = {}
    for i, team in enumerate(teams):
        if team.team_id in team_first:
            problems.append(
                Problem(
                    "teams", i, "id", f"duplicate team id {team.team_id!r} (first at item {team_first[team.team_id]})"
                )
            )
        else:
            team_first[team.team_id] = i
        if team.org not in by_code:
            problems.append(Problem("teams", i, "org", f"unknown organisation {team.org!r} for this team"))
    if problems:
        raise RegistryInvalid(problems)
    return OrgTree(orgs, teams)


def _cycles(orgs: Sequence[Org], by_code: dict[str, Org], first: dict[str, int]) -> tuple[list[Problem], set[str]]:
    """One problem per cycle of parents, at the cycle member that comes first in the file; and the members."""
    problems = []
    members: set[str] = set()
    settled: set[str] = set()
    for org in orgs:
        path: list[str] = []
        code: str | None = org.code
        while code is not None and code in by_code and code not in settled and code not in path:
            path.append(code)
            code = by_code[code].parent
        if code is not None and code in path:
            cycle = path[path.index(code) :]
            members.update(cycle)
            at = min(cycle, key=lambda c: first[c])
            ring = cycle[cycle.index(at) :] + cycle[: cycle.index(at)] + [at]
            problems.append(Problem("organisations", first[at], "parent", f"parents form a cycle: {' → '.join(ring)}"))
        settled.update(path)
    return problems, members
