"""Blocking: only records that agree exactly on every column of some rule are compared at all.

The same keys serve the batch (grouping a whole table) and the store (an index of ``rule:key`` rows, looked
up for each arriving record), so both find the same candidates. A key shared by more than ``max_block``
records pairs none of them: such a block is a placeholder value, not evidence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations

import numpy as np

from .compare import Table

SEP = "\x1f"


def key(rule: Sequence[str], row: Mapping[str, str | None]) -> str | None:
    """The row's key under one rule, or None when a column is missing."""
    parts = []
    for column in rule:
        value = row.get(column)
        if not value:
            return None
        parts.append(value)
    return SEP.join(parts)


def keys(rules: Sequence[Sequence[str]], row: Mapping[str, str | None]) -> list[str]:
    """``"<rule index>:<key>"`` for every rule the row has all columns of: what the store indexes."""
    out = []
    for index, rule in enumerate(rules):
        k = key(rule, row)
        if k is not None:
            out.append(f"{index}:{k}")
    return out


# Columns an operator finds a person by on their own (`huitong mpi search --phone` or `--name`): kept as keys of
# their own beside the blocking keys, "s:<column>:<value>"; matching never looks them up.
SEARCHED = ("phone", "name", "name_py")
KEY_LENGTH = 255  # the store's key column


def search_keys(row: Mapping[str, str | None], columns: Sequence[str] = SEARCHED) -> list[str]:
    return [f"s:{c}:{row[c]}" for c in columns if row.get(c)]


def stored_keys(rules: Sequence[Sequence[str]], row: Mapping[str, str | None]) -> list[str]:
    """What the store keeps for a record: its blocking keys and its search keys (any too long to keep dropped)."""
    return [k for k in [*keys(rules, row), *search_keys(row)] if len(k) <= KEY_LENGTH]


def _column_keys(rule: Sequence[str], table: Table) -> np.ndarray:
    columns = [table[c] for c in rule]
    present = np.ones(table.size, dtype=bool)
    for column in columns:
        present &= column != None  # noqa: E711 -- elementwise on an object array
    out = np.full(table.size, None, dtype=object)
    rows = np.flatnonzero(present)
    out[rows] = [SEP.join(values) for values in zip(*(c[rows] for c in columns), strict=True)]
    return out


def _blocks(keys: np.ndarray, max_block: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Records sorted by key, with the start and size of each block of 2 to max_block records."""
    codes: dict[str, int] = {}
    code = np.fromiter(
        (-1 if k is None else codes.setdefault(k, len(codes)) for k in keys), dtype=np.int64, count=len(keys)
    )
    rows = np.flatnonzero(code >= 0)
    rows = rows[np.argsort(code[rows], kind="stable")]  # stable: index order within a block
    sizes = np.bincount(code[rows]) if len(rows) else np.zeros(0, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]) if len(sizes) else sizes
    wanted = (sizes > 1) & (sizes <= max_block)
    return rows, starts[wanted], sizes[wanted]


def pairs(
    rules: Sequence[Sequence[str]], left: Table, right: Table | None = None, max_block: int = 200
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate pairs (left index, right index, first rule that paired them), each pair once.

    Without ``right`` the table is deduplicated against itself (left index < right index).
    """
    found: list[np.ndarray] = []
    n_right = (right or left).size
    for index, rule in enumerate(rules):
        li: list[int] = []
        ri: list[int] = []
        if right is None:
            rows, starts, sizes = _blocks(_column_keys(rule, left), max_block)
            for start, size in zip(starts.tolist(), sizes.tolist(), strict=True):
                for a, b in combinations(rows[start : start + size].tolist(), 2):  # index order: a < b
                    li.append(a)
                    ri.append(b)
        else:
            groups: dict[str, list[int]] = {}
            for i, k in enumerate(_column_keys(rule, left)):
                if k is not None:
                    groups.setdefault(k, []).append(i)
            for j, k in enumerate(_column_keys(rule, right)):
                block = groups.get(k) if k is not None else None
                if block and len(block) <= max_block:
                    li.extend(block)
                    ri.extend([j] * len(block))
        code = np.array(li, dtype=np.int64) * n_right + np.array(ri, dtype=np.int64)
        found.append(np.stack([code, np.full(len(code), index, dtype=np.int64)], axis=1))
    if not found:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, empty
    every = np.concatenate(found)
    # The first rule that paired a pair is its match key: stable sort keeps rule order within equal codes.
    order = np.argsort(every[:, 0], kind="stable")
    every = every[order]
    first = np.ones(len(every), dtype=bool)
    first[1:] = every[1:, 0] != every[:-1, 0]
    every = every[first]
    return every[:, 0] // n_right, every[:, 0] % n_right, every[:, 1]


def rule_of(rules: Sequence[Sequence[str]], a: Mapping[str, str | None], b: Mapping[str, str | None]) -> int | None:
    """The first rule on which two records share a key (None: no rule would have paired them)."""
    for index, rule in enumerate(rules):
        k = key(rule, a)
        if k is not None and k == key(rule, b):
            return index
    return None
