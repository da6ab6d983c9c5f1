"""Bounded caches: a dict kept in order of last use, oldest entry first."""

from __future__ import annotations

from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


def get(table: dict[K, V], key: K) -> V | None:
    """`table[key]` (None if absent), marked as used last."""
    value = table.pop(key, None)
    if value is not None:
        table[key] = value
    return value


def put(table: dict[K, V], key: K, value: V, limit: int) -> list[K]:
    """Store `table[key] = value` as used last; drop the least recently used entries beyond
    `limit` and return their keys."""
    table[key] = value
    dropped = []
    while len(table) > limit:
        dropped.append(next(iter(table)))
        del table[dropped[-1]]
    return dropped
