"""The pipeline driver: lazy graph in, ordered list of kernels out (nothing runs here).

substitute realized values -> simplify + constant folding -> view folding -> fusion
partition -> kernels in dependency order, each with the rule behind its boundary.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from ..dtypes import DType
from .node import Node
from .ops import REDUCE_OPS, Op
from .passes.fold_views import fold_views
from .passes.fuse import Partitioner, Region
from .passes.simplify import simplify_node
from .rewrite import rewrite


@dataclass(frozen=True)
class TensorSpec:
    """Shape and dtype of a kernel input or output."""

    shape: tuple[int, ...]
    dtype: DType

    def __repr__(self) -> str:
        return f"{self.dtype.name}{list(self.shape)}"


@dataclass(eq=False)  # each kernel is itself (hashable by identity): runtimes key on it
class Kernel:
    """One fused kernel: the IR nodes it computes, what it reads and writes, where it runs.
    Data only: its source and compiled form belong to the runtime (`runtime.kernel_source`)."""

    name: str
    kind: str
    device: str
    nodes: list[Node]
    input_nodes: list[Node]
    output_nodes: list[Node]
    reasons: list[str]
    param_nodes: list[Node] = field(default_factory=list)  # PARAM and RAND arguments
    # inputs computed earlier in the schedule that die at this kernel: it may write over them
    donated: tuple[Node, ...] = ()

    @property
    def ops(self) -> list[str]:
        """The IR ops fused into this kernel (loads and constants excluded)."""
        return [
            n.op.value for n in self.nodes if n.op not in (Op.VIEW, Op.CONST, Op.BUFFER, Op.PARAM)
        ]

    @property
    def inputs(self) -> list[TensorSpec]:
        return [TensorSpec(n.shape, n.dtype) for n in self.input_nodes]

    @property
    def outputs(self) -> list[TensorSpec]:
        return [TensorSpec(n.shape, n.dtype) for n in self.output_nodes]

    def __repr__(self) -> str:
        return (
            f"Kernel({self.name}, device={self.device}, ops={self.ops}, "
            f"inputs={self.inputs}, outputs={self.outputs})"
        )


@dataclass
class Schedule:
    """Kernels in execution order, and for each requested node the node that computes it."""

    kernels: list[Kernel]
    targets: dict[Node, Node]  # requested node -> lowered node (a kernel output or a buffer)
    # per kernel, the values it computed or read that no later kernel reads (and nobody
    # asked for): running the schedule drops them after that kernel, so their memory goes
    # back to the device's pool for the kernels after it
    releases: list[tuple[Node, ...]] = field(default_factory=list)
    # the backend's runnable form of the whole schedule (see `realize.run_schedule`)
    program: object = field(default=None, repr=False)

    def __iter__(self):  # noqa: ANN204
        return iter(self.kernels)

    def __len__(self) -> int:
        return len(self.kernels)

    def __getitem__(self, i: int) -> Kernel:
        return self.kernels[i]


def lower(targets: list[Node], realized: dict[Node, Node]) -> dict[Node, Node]:
    """Run the graph passes; returns each target's lowered node."""
    substituted = rewrite(targets, lambda n: None, replace=realized)
    roots = [substituted[t] for t in targets]
    simplified = rewrite(roots, simplify_node)
    roots = [simplified[r] for r in roots]
    folded = fold_views(roots)
    return {t: folded[simplified[substituted[t]]] for t in targets}


def _device_of(order: list[Node], hints: dict[Node, str]) -> dict[Node, str]:
    """Each node's device: from buffers and copies forward, from the targets backward."""
    dev: dict[Node, str | None] = {}
    for n in order:
        if n.op is Op.BUFFER:
            dev[n] = n.arg.device  # type: ignore[union-attr]
        elif n.op is Op.COPY:
            dev[n] = n.arg[1]  # type: ignore[index]
        else:
            dev[n] = next((dev[s] for s in n.src if dev[s] is not None), None)
    for n in reversed(order):
        if dev[n] is None:
            dev[n] = hints.get(n, "cpu")
        if n.op is not Op.COPY:
            for s in n.src:
                if dev[s] is None:
                    hints.setdefault(s, dev[n])  # type: ignore[arg-type]
    return dev  # type: ignore[return-value]


def _kind(region: Region) -> str:
    ops = {n.op for n in region.nodes}
    for op, kind in (
        (Op.COPY, "copy"),
        (Op.COLLECTIVE, "collective"),
        (Op.RAND, "rand"),
        (Op.SCATTER, "scatter"),
        (Op.DOT, "dot"),
    ):
        if op in ops:
            return kind
    return "reduce" if ops & REDUCE_OPS else "elementwise"


def dependency_order(regions: list[Region], position: dict[Node, int]) -> list[Region]:
    """Regions in an order where each runs after the regions whose outputs it reads (Kahn's
    algorithm; ties broken by graph position, so the order is deterministic)."""
    owner = {root: i for i, r in enumerate(regions) for root in r.roots}
    needs: list[set[int]] = []
    for i, region in enumerate(regions):
        inside = set(region.nodes)
        needs.append(
            {
                owner[s]
                for n in region.nodes
                for s in n.src
                if s not in inside and s in owner and owner[s] != i
            }
        )
    users: dict[int, list[int]] = {}
    for i, deps in enumerate(needs):
        for d in deps:
            users.setdefault(d, []).append(i)
    ready = [(max(position[n] for n in r.roots), i) for i, r in enumerate(regions) if not needs[i]]
    heapq.heapify(ready)
    order: list[Region] = []
    while ready:
        _, i = heapq.heappop(ready)
        order.append(regions[i])
        for u in users.get(i, []):
            needs[u].discard(i)
            if not needs[u]:
                heapq.heappush(ready, (max(position[n] for n in regions[u].roots), u))
    assert len(order) == len(regions), "the kernel graph has a cycle"
    return order


def build_schedule(
    targets: list[Node], devices: dict[Node, str], realized: dict[Node, Node]
) -> Schedule:
    """The kernels that compute `targets` (with `devices` naming each target's device)."""
    lowered = lower(targets, realized)
    roots = list(dict.fromkeys(n for n in lowered.values() if n.op is not Op.BUFFER))
    part = Partitioner(roots)
    regions = part.partition() if roots else []
    hints = {lowered[t]: devices[t] for t in targets}
    device = _device_of(part.order if roots else [], hints)
    regions = dependency_order(regions, part.position)
    kernels = []
    for i, region in enumerate(regions):
        region_set = set(region.nodes)
        inputs = list(
            dict.fromkeys(
                s
                for n in region.nodes
                for s in n.src
                if s not in region_set and s.op not in (Op.CONST, Op.ARANGE, Op.PARAM)
            )
        )
        params = list(
            dict.fromkeys(
                leaf
                for n in region.nodes
                for s in (n, *n.src)
                for leaf in (s, *s.src[:1])
                if leaf.op in (Op.PARAM, Op.RAND)
            )
        )
        kind = _kind(region)
        shape = region.roots[0].shape  # the first output's: `dot_2_3x3` writes a 3x3
        name = f"{kind}_{i}_{'x'.join(map(str, shape)) or 'scalar'}"
        kernels.append(
            Kernel(
                name,
                kind,
                device[region.roots[0]],
                region.nodes,
                inputs,
                region.roots,
                [part.materialized[r] for r in region.roots],
                params,
            )
        )
    releases = release_points(kernels, set(lowered.values()))
    for kernel, dead in zip(kernels, releases, strict=True):
        # not one read through a view: that would still read it after an op wrote over it
        viewed = {n.src[0] for n in kernel.nodes if n.op is Op.VIEW}
        kernel.donated = tuple(n for n in kernel.input_nodes if n in dead and n not in viewed)
    return Schedule(kernels, lowered, releases)


def release_points(kernels: list[Kernel], kept: set[Node]) -> list[tuple[Node, ...]]:
    """Liveness over the kernel order: for each kernel, the intermediate values (outputs of
    earlier kernels or its own, not in `kept`) that it is the last to touch."""
    last: dict[Node, int] = {}
    for i, kernel in enumerate(kernels):
        for n in (*kernel.input_nodes, *kernel.output_nodes):
            last[n] = i
    computed = {n for kernel in kernels for n in kernel.output_nodes}
    releases: list[list[Node]] = [[] for _ in kernels]
    for n, i in last.items():
        if n in computed and n not in kept:
            releases[i].append(n)
    return [tuple(r) for r in releases]
