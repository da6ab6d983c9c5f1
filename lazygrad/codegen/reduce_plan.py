"""The plan of an elementwise or reduce kernel: its iteration space and accesses, the stages
of its reductions, and how its rows are laid out over work-items and vector lanes.

A reduce kernel iterates one space (kept dims x reduced dims) and computes its reductions in
stages (a reduction joins the first stage after every reduction it reads), then the epilogue:
what its outputs compute from the reductions. An elementwise kernel is the case with no
reduced dim, where each row is one element.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from ..dtypes import bool_
from ..ir.node import Node
from ..ir.ops import REDUCE_OPS
from ..ir.schedule import Kernel
from .access import Access, Space, dims_keys, kernel_accesses
from .graph import KernelGraph
from .target import Target
from .vectors import lane_values


class Layout(Enum):
    """How work-items share a kernel's rows (the value is the letter its functions' names
    carry)."""

    # one work-item per row (or per `width` adjacent rows), looping over the row's elements:
    # for many rows or short rows
    ROW_PER_ITEM = "a"
    # `splits` work-groups per row, whose work-items each reduce a part of the row and combine
    # their values through local memory; with `splits > 1` each stage is a partial kernel
    # plus a small final kernel per row, and the epilogue a kernel of its own
    GROUP_PER_ROW = "b"


class Lanes(Enum):
    """Which dim of the space a work-item's vector lanes run along."""

    SCALAR = "scalar"  # no vectors
    ACROSS_ROWS = "across rows"  # the last kept dim: `width` adjacent rows per work-item
    ALONG_ROW = "along a row"  # the last reduced dim: folded into one value per row at the end


@dataclass(frozen=True)
class Stash:
    """A value the last stage reduces that the epilogue computes again (softmax's `exp`): the
    last stage stores it in full-space output `output` and the epilogue reads it back instead.
    Both loops visit the same elements in the same work-item, so each reads back only what it
    wrote."""

    value: Node
    output: int


@dataclass(frozen=True)
class ReducePlan:
    """Where an elementwise or reduce kernel's values come from and how its work is laid out.

    Guarantees: every leaf has an access keyed by merged group of `space` (as has every
    output, in `output_accesses`); `vectors` is empty unless `width > 1`, and then every node
    it marks can be computed `width` lanes at a time along group `vector_key`; `splits > 1`
    only with `Layout.GROUP_PER_ROW`; `work_group` divides the launch's padded size."""

    graph: KernelGraph
    space: Space  # its dims merged wherever every access allows it
    stages: list[list[Node]]  # the reductions, each stage reading only earlier ones
    accesses: dict[Node, Access]  # per leaf
    output_accesses: list[Access]
    group_sizes: list[int]  # per merged group of `space`
    kept_groups: list[int]
    reduced_groups: list[int]
    layout: Layout
    splits: int  # work-groups per row
    group_size: int  # work-items reducing one row together (GROUP_PER_ROW)
    interleaved: bool  # GROUP_PER_ROW: work-item t takes every step from t (else a chunk)
    lanes: Lanes
    width: int  # vector lanes (1: scalar code)
    vector_key: int | None  # the merged group the lanes run along
    vectors: dict[Node, bool]  # which nodes hold vectors
    stash: Stash | None
    work_items: int
    work_group: int

    @property
    def rows(self) -> int:
        """Output rows (the product of the kept dims)."""
        return self.space.rows

    @property
    def row_length(self) -> int:
        """Elements reduced into each row (1 for an elementwise kernel)."""
        return self.space.row_length

    @property
    def reduces(self) -> list[Node]:
        """Every reduction, stage by stage."""
        return [r for stage in self.stages for r in stage]

    @property
    def step(self) -> int:
        """Reduced elements one iteration of a work-item's loop covers."""
        return self.width if self.lanes is Lanes.ALONG_ROW else 1

    @property
    def chunk(self) -> int:
        """GROUP_PER_ROW, not interleaved: the reduced elements each work-item takes (a
        multiple of `step`; the last work-items' chunks may be short or empty)."""
        per_pass = self.splits * self.group_size * self.step
        return -(-self.row_length // per_pass) * self.step

    @property
    def global_size(self) -> int:
        """Work-items launched: `work_items`, padded to whole work-groups."""
        if self.layout is Layout.GROUP_PER_ROW:
            return self.work_items
        return -(-max(self.work_items, 1) // self.work_group) * self.work_group

    def is_row(self, n: Node) -> bool:
        """Whether `n` lives in the reduced space (one value per row)."""
        return self.space.is_row(n.shape)

    def writes_vectors(self, output: int) -> bool:
        """Whether output `output` is written a vector at a time."""
        return _writes_vectors(self.vector_key, self.output_accesses[output])


def plan_reduce(kernel: Kernel, target: Target) -> ReducePlan:
    """The plan of elementwise or reduce `kernel` on `target`."""
    graph = KernelGraph(kernel.nodes, kernel.input_nodes)
    reduces = [n for n in kernel.nodes if n.op in REDUCE_OPS]
    space = _space(kernel, reduces)
    accesses, outs = _accesses(kernel, graph, space)
    layout, splits, group_size = _split(space, target)
    lanes, width, key, vectors = _lanes(kernel, graph, space, accesses, layout, target)
    stages = _stages(kernel, reduces)
    stash = None
    if splits == 1 and space.row_length != 1 and stages:
        stash = _stash(kernel, graph, space, stages[-1], vectors, key, outs)
    items = _work_items(space, layout, splits, group_size, lanes, width)
    reduced = space.group_reduced()
    return ReducePlan(
        graph=graph,
        space=space,
        stages=stages,
        accesses=accesses,
        output_accesses=outs,
        group_sizes=space.group_sizes(),
        kept_groups=[g for g, r in enumerate(reduced) if not r],
        reduced_groups=[g for g, r in enumerate(reduced) if r],
        layout=layout,
        splits=splits,
        group_size=group_size,
        interleaved=target.is_gpu,
        lanes=lanes,
        width=width,
        vector_key=key,
        vectors=vectors,
        stash=stash,
        work_items=items,
        work_group=_work_group(layout, group_size, items, target),
    )


def pow2_at_least(n: int) -> int:
    """The smallest power of two >= n (1 for n <= 1)."""
    return 1 << max(0, (max(n, 1) - 1).bit_length())


def _space(kernel: Kernel, reduces: list[Node]) -> Space:
    """The space of the last reduction's operand (of the first output when none)."""
    full = reduces[-1].src[0].shape if reduces else kernel.output_nodes[0].shape
    axes = set(reduces[-1].arg) if reduces else set()  # type: ignore[arg-type]
    keep = [i for i, n in enumerate(full) if n != 1]
    return Space([full[i] for i in keep], [i in axes for i in keep])


def _accesses(
    kernel: Kernel, graph: KernelGraph, space: Space
) -> tuple[dict[Node, Access], list[Access]]:
    """The accesses of the leaves and the outputs, with `space`'s dims merged wherever all
    of them allow it, keyed by merged group."""
    raw, outs = kernel_accesses(
        graph, kernel.output_nodes, lambda shape: dims_keys(shape, space.positions(shape))
    )
    space.coalesce([*raw.values(), *outs])
    return {leaf: space.regroup(acc) for leaf, acc in raw.items()}, [space.regroup(a) for a in outs]


def _split(space: Space, target: Target) -> tuple[Layout, int, int]:
    """(layout, work-groups per row, work-items per group): a work-group per long row on a
    GPU; on a CPU, rows split across groups only when too few rows would leave compute units
    idle."""
    length, rows = space.row_length, max(1, space.rows)  # no rows: a reduce of a (2, 0) tensor
    units = max(1, target.compute_units)
    if target.is_gpu and length > 32:
        local = min(256, target.max_work_group_size, pow2_at_least(length // 4))
        splits = max(1, min(-(-4 * units // rows), length // (local * 64)))
        return Layout.GROUP_PER_ROW, splits, local
    if length > 1 and not target.is_gpu and rows < 2 * units:
        splits = max(1, min(-(-8 * units // rows), length // 4096))
        if splits > 1:
            return Layout.GROUP_PER_ROW, splits, 1
    return Layout.ROW_PER_ITEM, 1, 1


def _lanes(
    kernel: Kernel,
    graph: KernelGraph,
    space: Space,
    accesses: dict[Node, Access],
    layout: Layout,
    target: Target,
) -> tuple[Lanes, int, int | None, dict[Node, bool]]:
    """(lanes, width, the group they run along, vector nodes): lanes along the last merged
    group, at the widest width of `target` that divides it, where every value varying along
    it can be a vector (no lanes across rows when a work-group shares each row)."""
    sizes = space.group_sizes()
    last = len(sizes) - 1
    if last < 0:
        return Lanes.SCALAR, 1, None, {}
    lanes = Lanes.ALONG_ROW if space.group_reduced()[last] else Lanes.ACROSS_ROWS
    if lanes is Lanes.ACROSS_ROWS and layout is Layout.GROUP_PER_ROW:
        return Lanes.SCALAR, 1, None, {}
    width = _width(lanes, sizes[last], space, target)
    across = lanes is Lanes.ACROSS_ROWS
    vectors = lane_values(graph, accesses, kernel.output_nodes, last, across) if width > 1 else None
    if vectors is None:
        return Lanes.SCALAR, 1, None, {}
    return lanes, width, last, vectors


def _width(lanes: Lanes, size: int, space: Space, target: Target) -> int:
    """The widest of `target`'s vector widths dividing `size` (1 if none) that, for lanes
    across the rows of a reduction, leaves enough work-items to fill the compute units."""
    rows, units = max(1, space.rows), max(1, target.compute_units)
    for w in target.vector_widths:
        if lanes is Lanes.ACROSS_ROWS and space.row_length > 1 and rows // w < 2 * units:
            continue
        if size % w == 0:
            return w
    return 1


def _stages(kernel: Kernel, reduces: list[Node]) -> list[list[Node]]:
    """The reductions by stage: each in the first stage after every reduction it reads."""
    after: dict[Node, int] = {}
    for n in kernel.nodes:
        level = max((after.get(s, -1) for s in n.src), default=-1)
        after[n] = level + 1 if n.op in REDUCE_OPS else level
    stages: list[list[Node]] = [[] for _ in range(max((after[r] for r in reduces), default=-1) + 1)]
    for r in reduces:
        stages[after[r]].append(r)
    return stages


def _writes_vectors(key: int | None, acc: Access) -> bool:
    return key is not None and key in acc.covered


def _stash(
    kernel: Kernel,
    graph: KernelGraph,
    space: Space,
    last_stage: list[Node],
    vectors: dict[Node, bool],
    key: int | None,
    outs: list[Access],
) -> Stash | None:
    """The value of `last_stage` to keep for the epilogue (see `Stash`): one the epilogue
    computes, not a leaf nor a bool, with a full-space output of its dtype written alike
    (vectors or scalars)."""
    outputs = kernel.output_nodes
    full = [i for i, o in enumerate(outputs) if not space.is_row(o.shape)]
    needed = _epilogue_values([outputs[i] for i in full], graph)
    for r in last_stage:
        value = r.src[0]
        if value not in needed or graph.is_leaf(value) or value.dtype == bool_:
            continue
        vector = vectors.get(value, False)
        for i in full:
            if outputs[i].dtype == value.dtype and _writes_vectors(key, outs[i]) == vector:
                return Stash(value, i)
    return None


def _epilogue_values(outputs: list[Node], graph: KernelGraph) -> set[Node]:
    """The kernel's nodes computing `outputs` once the reductions are done."""
    needed: set[Node] = set()
    stack = list(outputs)
    while stack:
        n = stack.pop()
        if n not in needed and n in graph.region:
            needed.add(n)
            if n.op not in REDUCE_OPS:
                stack.extend(n.src)
    return needed


def _work_items(
    space: Space, layout: Layout, splits: int, group_size: int, lanes: Lanes, width: int
) -> int:
    """Work-items the kernel needs: a group per row split, or one per row (per `width` rows
    with lanes across rows)."""
    if layout is Layout.GROUP_PER_ROW:
        return space.rows * splits * group_size
    return space.rows // width if lanes is Lanes.ACROSS_ROWS else space.rows


def _work_group(layout: Layout, group_size: int, items: int, target: Target) -> int:
    """Work-items per work-group: a row's group, else a multiple of what the GPU prefers, or
    on a CPU a power of two up to 64 that leaves about four groups per compute unit."""
    if layout is Layout.GROUP_PER_ROW:
        return group_size
    if target.is_gpu:
        return min(target.max_work_group_size, 4 * target.preferred_multiple)
    local = min(64, max(1, items // (4 * max(1, target.compute_units))))
    return 1 << (local.bit_length() - 1)
