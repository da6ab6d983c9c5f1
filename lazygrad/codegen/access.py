"""Index arithmetic: how a kernel reads and writes its buffers, and its iteration space.

An `Access` is one read (or write): `offset + sum(index[key] * stride)`, valid where every
windowed index is inside its window. A `Space` is the iteration space of an elementwise or
reduce kernel: the non-1 dims of its full shape, each kept or reduced, with adjacent dims
merged wherever every access allows it (so a contiguous input is read as `x[i]`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Container
from dataclasses import dataclass, field

from ..ir.node import Node
from ..ir.ops import Op
from ..ir.view import View
from .graph import KernelGraph


@dataclass
class Access:
    """One indexed read of `base` (a kernel input, ARANGE or CONST) or write of an output."""

    base: Node | None
    offset: int
    terms: dict[object, int] = field(default_factory=dict)  # index key -> stride (non-zero)
    windows: dict[object, tuple[int, int]] = field(default_factory=dict)  # key -> [lo, hi)
    dead: bool = False  # every element is masked out (reads 0)
    covered: tuple = ()  # keys of the dims this access indexes


def loaded_view(node: Node, region: set[Node], inputs: Container[Node] = ()) -> tuple[Node, View]:
    """The base a leaf node reads and the view it reads it through (a view that an earlier
    kernel wrote out is an input buffer of its own)."""
    if node.op is Op.VIEW and node.src[0] not in region and node not in inputs:
        return node.src[0], node.arg  # type: ignore[return-value]
    return node, View.contiguous(node.shape)


def make_access(base: Node | None, view: View, keys: list[object | None]) -> Access:
    """An access through `view`, dim d indexed by `keys[d]` (None: a size-1 dim, index 0)."""
    dead = view.mask is not None and any(lo >= hi for lo, hi in view.mask)
    acc = Access(base, view.offset, dead=dead, covered=tuple(k for k in keys if k is not None))
    for d, key in enumerate(keys):
        if key is None:
            continue
        if view.strides[d]:
            acc.terms[key] = view.strides[d]
        if view.mask is not None and view.mask[d] != (0, view.shape[d]):
            acc.windows[key] = view.mask[d]
    return acc


def kernel_accesses(
    graph: KernelGraph, outputs: list[Node], keys: Callable[[tuple[int, ...]], list[object | None]]
) -> tuple[dict[Node, Access], list[Access]]:
    """The access of every leaf computing `outputs` and of every output (written contiguous),
    dim d of a node of shape s indexed by `keys(s)[d]`."""
    leaves = {}
    for leaf in graph.leaves(outputs):
        base, view = loaded_view(leaf, graph.region, graph.inputs)
        leaves[leaf] = make_access(base, view, keys(leaf.shape))
    written = [make_access(None, View.contiguous(o.shape), keys(o.shape)) for o in outputs]
    return leaves, written


def dims_keys(shape: tuple[int, ...], positions: list[int]) -> list[object | None]:
    """Keys for a node's dims: its non-1 dims take `positions` in order."""
    keys: list[object | None] = [None] * len(shape)
    real = [d for d, n in enumerate(shape) if n != 1]
    assert len(real) == len(positions), (shape, positions)
    for d, p in zip(real, positions, strict=True):
        keys[d] = p
    return keys


class Space:
    """The iteration space: non-1 dims (`sizes`), which are reduced, and merged groups.

    A row is one combination of the kept dims' indices: a reduction computes one value per
    row from the `row_length` elements its reduced dims span."""

    def __init__(self, sizes: list[int], reduced: list[bool]):
        self.sizes = sizes
        self.reduced = reduced
        self.groups: list[list[int]] = [[p] for p in range(len(sizes))]
        self.row_sizes = [n for n, r in zip(sizes, reduced, strict=True) if not r]
        self.rows = math.prod(self.row_sizes)
        self.row_length = math.prod(n for n, r in zip(sizes, reduced, strict=True) if r)

    def is_row(self, shape: tuple[int, ...]) -> bool:
        """Whether a node of `shape` lives in the reduced space (one value per row)."""
        return self.row_length != 1 and [d for d in shape if d != 1] == self.row_sizes

    def positions(self, shape: tuple[int, ...]) -> list[int]:
        """The positions in the space of the non-1 dims of a node of `shape`."""
        if self.is_row(shape):
            return [p for p, r in enumerate(self.reduced) if not r]
        return list(range(len(self.sizes)))

    def coalesce(self, accesses: list[Access]) -> None:
        """Merge adjacent dims of one kind wherever every access reads them as one dim."""
        groups: list[list[int]] = []
        for p in range(len(self.sizes)):
            if groups and self._mergeable(groups[-1][-1], p, accesses):
                groups[-1].append(p)
            else:
                groups.append([p])
        self.groups = groups

    def _mergeable(self, p: int, q: int, accesses: list[Access]) -> bool:
        if self.reduced[p] != self.reduced[q]:
            return False
        for a in accesses:
            if p not in a.covered:
                continue
            if p in a.windows or q in a.windows:
                return False
            if a.terms.get(p, 0) != a.terms.get(q, 0) * self.sizes[q]:
                return False
        return True

    def regroup(self, acc: Access) -> Access:
        """`acc` (keyed by dim positions) re-keyed by merged group index."""
        out = Access(acc.base, acc.offset, dead=acc.dead)
        covered = []
        for g, group in enumerate(self.groups):
            if group[0] not in acc.covered:
                continue
            covered.append(g)
            stride = acc.terms.get(group[-1], 0)
            if stride:
                out.terms[g] = stride
            if len(group) == 1 and group[0] in acc.windows:
                out.windows[g] = acc.windows[group[0]]
        out.covered = tuple(covered)
        return out

    def group_sizes(self) -> list[int]:
        """The size of each merged group (the product of its dims)."""
        return [math.prod(self.sizes[p] for p in g) for g in self.groups]

    def group_reduced(self) -> list[bool]:
        """Whether each merged group is reduced."""
        return [self.reduced[g[0]] for g in self.groups]
