"""The weak registry of live tensors: every tensor the program can still read.

Realizing a graph stores every node of it that a live tensor stands for (a variable, a
parameter, a `.grad`, an element of a list the user keeps), so nothing a user can still
read is computed twice. Autograd keeps no intermediate tensor alive (`GradFn` holds edges,
not tensors), so a temporary the user dropped is not live and fusion passes through it.

Entries are weak references without callbacks (the cheapest kind to make, since every op
makes a tensor); dead ones are swept when the registry is read or has doubled in size.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from typing import Any

_refs: dict[int, weakref.ref] = {}
_SWEEP_AT_LEAST = 4096
_sweep_at = [_SWEEP_AT_LEAST]


def track(t: Any) -> None:
    """Register a new tensor (called once per tensor, by `Tensor._init`)."""
    _refs[id(t)] = weakref.ref(t)
    if len(_refs) > _sweep_at[0]:
        _sweep()


def _sweep() -> None:
    dead = [key for key, ref in _refs.items() if ref() is None]
    for key in dead:
        del _refs[key]
    _sweep_at[0] = max(_SWEEP_AT_LEAST, 2 * len(_refs))


def tensors() -> Iterator[Any]:
    """Every live tensor (in no particular order)."""
    _sweep()
    for ref in list(_refs.values()):
        t = ref()
        if t is not None:
            yield t
