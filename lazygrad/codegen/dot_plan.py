"""The plan of a contraction (a DOT with its elementwise epilogue): how its operands are read
and which strategy computes it on a device.

The output space is the DOT's shape, indexed by keys "b{d}" (batch dims), "m" and "n"; the
operands add "k", the contracted dim.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from ..dtypes import DType, bool_, int32
from ..ir.node import Node
from ..ir.ops import Op
from ..ir.schedule import Kernel
from .access import Access, dims_keys, kernel_accesses, loaded_view, make_access
from .graph import KernelGraph
from .target import Target

PANEL_ROWS = 8  # rows of A per packed panel: a work-item's register block is this many vectors
# bytes per panel row of B: 16 lanes of 4 bytes at most (OpenCL's widest vector; 8-bit and
# 16-bit types pack 16 lanes too)
PANEL_BYTES = 64


class DotStrategy(Enum):
    """How a contraction is computed."""

    # both operands first packed (through their views, zero-padded) into panels, A as
    # [batch][M/rows][K][rows] and B as [batch][N/cols][K][cols]; each work-item then keeps a
    # rows x cols block in registers: for CPU devices
    PACKED = "packed"
    # tiles of both operands staged in local memory, each work-group computing one output
    # tile: for GPUs
    TILED = "tiled"


@dataclass(frozen=True)
class Tiling:
    """TILED's geometry: a work-group computes a `tile` x `tile` block of the output, staging
    `depth` steps of k of both operands in local memory at a time; each of its `side` x `side`
    work-items computes `per_item` x `per_item` outputs, `side` apart."""

    tile: int = 64
    depth: int = 16
    per_item: int = 4

    @property
    def side(self) -> int:
        """Work-items along each side of a work-group."""
        return self.tile // self.per_item

    @property
    def items(self) -> int:
        """Work-items per work-group."""
        return self.side * self.side


@dataclass(frozen=True)
class Panels:
    """How PACKED copies one operand before the multiply: `width` consecutive indices of dim
    `key` ("m": rows of A, "n": columns of B) at one k make a panel row; `count` panels per
    batch entry, zero-padded past `size`. With `whole_vectors`, every panel row is one aligned
    vector of the input, copied a vector at a time (about twice as fast on PoCL)."""

    key: str
    size: int
    width: int
    whole_vectors: bool

    @property
    def count(self) -> int:
        """Panels per batch entry (the last one zero-padded)."""
        return -(-self.size // self.width)


@dataclass(frozen=True)
class DotPlan:
    """How a contraction reads its operands and computes them.

    Guarantees: every leaf of the epilogue and every output has an access in the output
    space (`accesses`, `output_accesses`); `operand_accesses` read A by ("m", "k") and B by
    ("k", "n") (batch dims "b{d}"); `panels` and `tiling` say how PACKED and TILED lay the
    work out."""

    graph: KernelGraph
    dot: Node
    strategy: DotStrategy
    batch: tuple[int, ...]
    m: int
    k: int
    n: int
    acc_dtype: DType  # what the products accumulate in (bool as int32)
    accesses: dict[Node, Access]  # per leaf of the epilogue
    output_accesses: list[Access]
    operand_accesses: tuple[Access, Access]
    panels: tuple[Panels, Panels]
    tiling: Tiling

    @property
    def batches(self) -> int:
        """The number of matrices multiplied (the product of the batch dims)."""
        return math.prod(self.batch)


def plan_dot(kernel: Kernel, target: Target) -> DotPlan:
    """The plan of contraction `kernel` on `target`: packed panels on CPU devices, tiles in
    local memory on GPUs."""
    graph = KernelGraph(kernel.nodes, kernel.input_nodes)
    dot = next(n for n in kernel.nodes if n.op is Op.DOT)
    a, b = dot.src
    nd = len(dot.shape)
    keys = [_key(d, nd) for d in range(nd) if dot.shape[d] != 1]
    accesses, outputs = kernel_accesses(
        graph, kernel.output_nodes, lambda shape: _output_keys(keys, shape)
    )
    operands = (_operand_access(graph, a, "m", "k"), _operand_access(graph, b, "k", "n"))
    acc_dtype = int32 if dot.dtype == bool_ else dot.dtype
    batch = dot.shape[:-2]
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
    lanes = PANEL_BYTES // max(acc_dtype.itemsize, 4)
    panels = (
        _panels(a, operands[0], "m", m, PANEL_ROWS, batch, acc_dtype, graph),
        _panels(b, operands[1], "n", n, lanes, batch, acc_dtype, graph),
    )
    return DotPlan(
        graph=graph,
        dot=dot,
        strategy=DotStrategy.TILED if target.is_gpu else DotStrategy.PACKED,
        batch=batch,
        m=m,
        k=k,
        n=n,
        acc_dtype=acc_dtype,
        accesses=accesses,
        output_accesses=outputs,
        operand_accesses=operands,
        panels=panels,
        tiling=Tiling(),
    )


def _key(d: int, nd: int) -> str:
    return "m" if d == nd - 2 else ("n" if d == nd - 1 else f"b{d}")


def _output_keys(keys: list[object], shape: tuple[int, ...]) -> list[object | None]:
    positions = dims_keys(shape, list(range(len(keys))))
    return [None if p is None else keys[p] for p in positions]  # type: ignore[index]


def _operand_access(graph: KernelGraph, x: Node, outer: str, inner: str) -> Access:
    """The access of operand `x` (..., outer, inner) with its last two dims keyed so."""
    base, view = loaded_view(x, graph.region, graph.inputs)
    nd = len(x.shape)
    keys: list[object | None] = [f"b{d}" for d in range(nd - 2)] + [outer, inner]
    return make_access(
        base, view, [k if s != 1 else None for k, s in zip(keys, x.shape, strict=True)]
    )


def _panels(
    x: Node,
    acc: Access,
    key: str,
    size: int,
    width: int,
    batch: tuple[int, ...],
    acc_dtype: DType,
    graph: KernelGraph,
) -> Panels:
    """The panels of operand `x`, read through `acc`: whole vectors when there is no batch,
    mask or cast, and dim `key` is contiguous and aligned to `width` elements."""
    whole = (
        math.prod(batch) == 1
        and size % width == 0
        and x.dtype == acc_dtype
        and not acc.windows
        and not acc.dead
        and acc.base in graph.inputs
        and acc.terms.get(key) == 1
        and acc.offset % width == 0
        and acc.terms.get("k", 0) % width == 0
    )
    return Panels(key, size, width, whole)
