"""Bounds of indexed reads and writes: where a gather or scatter provably stays inside the
tensor it indexes, its kernel need not check positions."""

from __future__ import annotations

from collections.abc import Container

from ..ir.node import Node
from ..ir.ops import Op
from ..ir.schedule import Kernel
from .graph import ALIAS_OPS

_RANGE_OPS = (Op.VIEW, Op.CAST, *ALIAS_OPS, Op.WHERE, Op.ADD, Op.SUB, Op.MUL)


def value_range(node: Node, inputs: Container[Node]) -> tuple[int, int] | None:
    """The least and greatest value integer `node` can take as far as the kernel's structure
    shows (aranges, integer constants and sums, differences, products and selects of them);
    None where it depends on data (an input, an argument) or on ops not followed here."""
    ranges: dict[Node, tuple[int, int] | None] = {}
    stack = [node]
    while stack:  # sources first, without recursion (a fused chain may be long)
        n = stack[-1]
        if n in ranges:
            stack.pop()
            continue
        follow = n not in inputs and not n.dtype.is_floating_point and n.op in _RANGE_OPS
        srcs = (n.src[1:] if n.op is Op.WHERE else n.src) if follow else ()
        missing = [s for s in srcs if s not in ranges]
        if missing:
            stack.extend(missing)
            continue
        stack.pop()
        if n in inputs or n.dtype.is_floating_point:
            ranges[n] = None
        else:
            ranges[n] = _range_of(n, [ranges[s] for s in srcs])
    return ranges[node]


def _range_of(n: Node, srcs: list[tuple[int, int] | None]) -> tuple[int, int] | None:
    """`value_range` of `n` from its followed sources' ranges."""
    if None in srcs:
        return None
    if n.op is Op.CONST:
        lo = hi = int(n.arg)  # type: ignore[call-overload]
    elif n.op is Op.ARANGE:
        start, step = n.arg  # type: ignore[misc]
        if not all(float(v).is_integer() for v in (start, step)):
            return None
        last = start + step * max(n.shape[0] - 1, 0)
        lo, hi = int(min(start, last)), int(max(start, last))
    elif n.op in (Op.VIEW, Op.CAST, *ALIAS_OPS):
        lo, hi = srcs[0]  # type: ignore[misc]
        if n.op is Op.VIEW and n.arg.mask is not None:  # type: ignore[union-attr]
            lo, hi = min(lo, 0), max(hi, 0)  # masked elements read 0
    elif n.op is Op.WHERE:
        (alo, ahi), (blo, bhi) = srcs  # type: ignore[misc]
        lo, hi = min(alo, blo), max(ahi, bhi)
    elif n.op in (Op.ADD, Op.SUB, Op.MUL):
        (alo, ahi), (blo, bhi) = srcs  # type: ignore[misc]
        if n.op is Op.ADD:
            lo, hi = alo + blo, ahi + bhi
        elif n.op is Op.SUB:
            lo, hi = alo - bhi, ahi - blo
        else:
            products = [alo * blo, alo * bhi, ahi * blo, ahi * bhi]
            lo, hi = min(products), max(products)
    else:
        return None
    half = 2 ** (8 * n.dtype.itemsize - 1)
    return (lo, hi) if -half <= lo and hi < half else None  # else it may wrap around


def positions_inside(n: Node, inputs: Container[Node]) -> bool:
    """Whether every flat position of GATHER or SCATTER `n` is provably inside the tensor it
    reads or writes (its first source), so the kernel need not check them."""
    bounds = value_range(n.src[1], inputs)
    return bounds is not None and 0 <= bounds[0] and bounds[1] < n.src[0].numel


def checks_indices(kernel: Kernel) -> bool:
    """Whether a gather or scatter of `kernel` may meet a position outside its tensor (an
    index computed on the device): its functions then take the error flag after the temps."""
    inputs = set(kernel.input_nodes)
    return any(
        n.op in (Op.GATHER, Op.SCATTER) and not positions_inside(n, inputs) for n in kernel.nodes
    )
