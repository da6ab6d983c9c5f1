"""The fusion partition: which nodes are materialized, and which kernel computes each.

Rules, in the order they apply; each materialized node records the rule that made it:
  output        a value the caller asked for
  contiguous    an explicit CONTIGUOUS (also leaves that require grad)
  copy          a transfer to another device, or its source
  random        random numbers are generated in a kernel of their own
  scatter       an indexed write (and its operands)
  gather source the tensor an index reads from at data-dependent positions
  contraction operand / contraction reduced / second contraction
                a contraction reads materialized operands, and its kernel only
                fuses an elementwise epilogue
  view across elements
                a computed value read through a view other than "the same elements"
                or "a reduce broadcast back over the axes it reduced"
  other reduce space
                a kernel iterates one space (full shape, reduced axes); a reduce over
                another space is computed by an earlier kernel
  kernel length the input of the 17th reduction a kernel would compute one after
                another (each stage recomputes what it reads: code grows with the
                square of the stages)
  shared reduce / shared expensive value
                a value needed by several kernels that is not cheap to recompute
                (a reduce, a contraction, or an elementwise subgraph over 16 nodes);
                cheap elementwise values are recomputed in each kernel instead
Kernels of the same iteration space that share nodes are merged (never when one
depends on the other through another kernel, which would make a cycle); so is an
elementwise kernel over a contraction's output space into the contraction's kernel.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..node import Node, toposort
from ..ops import CONSTANT_LEAVES, LOADED_LEAVES, REDUCE_OPS, Op
from ..view import View

SPECIAL_ROOTS = {
    Op.CONTIGUOUS: "contiguous",
    Op.COPY: "copy",
    Op.COLLECTIVE: "collective",
    Op.RAND: "random",
    Op.SCATTER: "scatter",
}
# consumer -> (how many of its first operands it reads from memory, the rule's name): those
# operands are written out by an earlier kernel
MEMORY_OPERANDS = {
    Op.COPY: (1, "copy"),
    Op.COLLECTIVE: (1, "collective"),
    Op.SCATTER: (3, "scatter"),
    Op.GATHER: (1, "gather source"),
    Op.DOT: (2, "contraction operand"),
}
RECOMPUTE_LIMIT = 16
# reductions one kernel computes one after another (a chain of `y + y.mean(0)`): a kernel
# recomputes the elementwise work each stage reads, so its code grows with their square
REDUCE_STAGES = 16
# arrays and scalars one kernel may take: OpenCL guarantees only 1,024 bytes of kernel
# arguments (PoCL's CPU device has no more), 8 bytes per array
KERNEL_ARGUMENTS = 96


@dataclass
class Region:
    """The nodes one kernel computes: its roots (materialized outputs) and everything up to
    materialized inputs and leaves."""

    roots: list[Node]
    nodes: list[Node] = field(default_factory=list)
    signature: tuple = ()


def squeeze_like(view: View, base_shape: tuple[int, ...]) -> bool:
    """Whether `view` reads the same elements in the same order, only adding/removing 1s."""
    return (
        view.mask is None
        and view.offset == 0
        and view == View.contiguous(view.shape)
        and [n for n in view.shape if n != 1] == [n for n in base_shape if n != 1]
    )


def expands_back(view: View, reduce: Node) -> bool:
    """Whether `view` broadcasts a reduce's result back over the axes it reduced."""
    full = reduce.src[0].shape
    return view.shape == full and view == View.contiguous(reduce.shape).expand(full)


def reduce_signature(node: Node) -> tuple:
    """The iteration space of a reduce, ignoring size-1 dims: (full sizes, reduced positions)."""
    full = node.src[0].shape
    kept = [i for i, n in enumerate(full) if n != 1]
    return (tuple(full[i] for i in kept), tuple(kept.index(a) for a in node.arg))


def _constant_view(node: Node) -> bool:
    """A constant, scalar or range read through a view: every kernel may have its own copy
    (interning makes them one node), sharing one saves nothing."""
    return node.op is Op.VIEW and node.src[0].op in CONSTANT_LEAVES


def _arguments(region: Region) -> set[Node]:
    """What a kernel of the region takes as arguments: the arrays it reads and the scalars
    and random draws passed to it."""
    inside = set(region.nodes)
    return {
        s
        for n in region.nodes
        for s in n.src
        if s not in inside and s.op not in (Op.CONST, Op.ARANGE)
    }


def _stages(region: Region) -> int:
    """How many reductions a region computes one after another."""
    return sum(1 for n in region.nodes if n.op in REDUCE_OPS)


def _touched(region: Region) -> set[Node]:
    """The nodes a region computes or reads (constant views left out: see `related`)."""
    return {
        k
        for n in region.nodes
        for k in (n, *n.src)
        if k.op not in CONSTANT_LEAVES and not _constant_view(k)
    }


def _computed(node: Node) -> bool:
    return node.op not in LOADED_LEAVES


class Partitioner:
    """Decides the materialized set by the rules above, then groups nodes into regions."""

    def __init__(self, roots: list[Node]):
        self.roots = roots
        self.order = toposort(roots)
        self.position = {n: i for i, n in enumerate(self.order)}
        self.materialized: dict[Node, str] = {}
        self.consumers: dict[Node, list[Node]] = {n: [] for n in self.order}
        for n in self.order:
            for s in n.src:
                self.consumers[s].append(n)

    def mark(self, node: Node, reason: str) -> bool:
        if node in self.materialized or not _computed(node):
            return False
        self.materialized[node] = reason
        return True

    def force_input(self, src: Node, reason: str) -> bool:
        """`src` must be read from memory: materialize it (or the base it views)."""
        return self.mark(src.src[0] if src.op is Op.VIEW else src, reason)

    def initial_rules(self) -> None:
        for r in self.roots:  # even a constant must be written out when it is asked for
            self.materialized.setdefault(r, "output")
        for n in self.order:
            if n.op in SPECIAL_ROOTS:
                self.mark(n, SPECIAL_ROOTS[n.op])
            if n.op in MEMORY_OPERANDS:
                count, reason = MEMORY_OPERANDS[n.op]
                for s in n.src[:count]:
                    self.force_input(s, reason)
            elif n.op is Op.VIEW and _computed(n.src[0]) and not self.internal_view(n):
                self.mark(n.src[0], "view across elements")

    @staticmethod
    def internal_view(view_node: Node) -> bool:
        base, view = view_node.src[0], view_node.arg
        if base.op in REDUCE_OPS:
            return squeeze_like(view, base.shape) or expands_back(view, base)  # type: ignore
        if base.op is Op.DOT:
            return squeeze_like(view, base.shape)  # type: ignore[arg-type]
        return False

    def region(self, roots: list[Node]) -> Region:
        seen: set[Node] = set()
        stack = list(roots)
        while stack:
            n = stack.pop()
            if n in seen:
                continue
            seen.add(n)
            for s in n.src:
                if _computed(s) and s not in self.materialized:
                    stack.append(s)
        nodes = sorted(seen, key=self.position.__getitem__)
        return Region(list(roots), nodes)

    def region_rules(self, region: Region) -> bool:
        """Materialize what a single kernel of this region cannot compute; True if changed."""
        changed = False
        dots = [n for n in region.nodes if n.op is Op.DOT]
        reduces = [n for n in region.nodes if n.op in REDUCE_OPS]
        for d in dots[:-1]:
            changed |= self.mark(d, "second contraction")
        if dots and reduces:
            changed |= self.mark(dots[-1], "contraction reduced")
        if reduces:
            space = reduce_signature(reduces[-1])
            for r in reduces[:-1]:
                if reduce_signature(r) != space:
                    changed |= self.mark(r, "other reduce space")
        if len(reduces) > REDUCE_STAGES:  # each stage of a kernel recomputes what it reads
            changed |= self.force_input(reduces[REDUCE_STAGES].src[0], "kernel length")
        if len(_arguments(region)) > KERNEL_ARGUMENTS:
            changed |= self.split_arguments(region)
        region.signature = self.signature(region, dots, reduces)
        return changed

    def split_arguments(self, region: Region) -> bool:
        """Materialize the first value of the region whose own inputs reach half the
        argument budget: what is left reads it as one array (a sum of 300 tensors becomes
        kernels of at most KERNEL_ARGUMENTS inputs each)."""
        inside = set(region.nodes)
        reads: dict[Node, set[Node]] = {}
        for n in region.nodes:
            own = {s for s in n.src if s not in inside and s.op not in CONSTANT_LEAVES}
            reads[n] = own.union(*(reads[s] for s in n.src if s in inside))
            if len(reads[n]) >= KERNEL_ARGUMENTS // 2 and n not in region.roots:
                return self.mark(n, "kernel arguments")
        return False

    def signature(self, region: Region, dots: list[Node], reduces: list[Node]) -> tuple:
        root = region.roots[0]
        if root.op in SPECIAL_ROOTS and root.op is not Op.CONTIGUOUS or dots:
            return ("single", id(region))
        if reduces:
            return ("reduce", reduce_signature(reduces[-1]))
        return ("elementwise", tuple(n for n in root.shape if n != 1))

    def partition(self) -> list[Region]:
        """The fixpoint of the rules, with regions of one space merged where they share work."""
        self.initial_rules()
        while True:
            regions = [self.region([m]) for m in self.order if m in self.materialized]
            changed = False
            for region in regions:
                changed |= self.region_rules(region)
            if changed:
                continue
            regions = self.merge(regions)
            if not self.share_rules(regions):
                return regions

    def share_rules(self, regions: list[Region]) -> bool:
        owners: dict[Node, int] = {}
        changed = False
        for i, region in enumerate(regions):
            for n in region.nodes:
                if n in self.materialized:
                    continue
                if owners.setdefault(n, i) != i:
                    if n.op in REDUCE_OPS or n.op is Op.DOT:
                        changed |= self.mark(n, "shared reduce")
                    elif len(self.region([n]).nodes) > RECOMPUTE_LIMIT:
                        changed |= self.mark(n, "shared expensive value")
        return changed

    def merge(self, regions: list[Region]) -> list[Region]:
        """Merge regions with one signature that share nodes, unless that makes a cycle.

        Only merged regions that touch a node of `region` (hold it, or read it, or are read
        by it) can be `related` to it: an index of those keeps this near-linear."""
        merged: list[Region] = []
        kernel_of: dict[Node, Region] = {}  # root -> the merged region computing it
        touching: dict[Node, list[int]] = {}  # node -> merged regions holding or reading it
        for region in regions:
            touched = _touched(region)
            near = sorted({i for key in touched for i in touching.get(key, ())})
            index = next(
                (
                    i
                    for i in near
                    if self.one_space(merged[i], region)
                    and _stages(merged[i]) + _stages(region) <= REDUCE_STAGES
                    and len(_arguments(merged[i]) | _arguments(region)) <= KERNEL_ARGUMENTS
                    and self.related(merged[i], region)
                    and not self.depends(merged[i], region, kernel_of)
                    and not self.depends(region, merged[i], kernel_of)
                    and not self.reorders(merged[i], region)
                    and not self.reorders(region, merged[i])
                ),
                None,
            )
            if index is None:
                merged.append(region)
                target, index = region, len(merged) - 1
            else:
                target = merged[index]
                target.roots += region.roots
                target.nodes = sorted(
                    set(target.nodes) | set(region.nodes), key=self.position.__getitem__
                )
            for key in touched:
                holders = touching.setdefault(key, [])
                if not holders or holders[-1] != index:
                    holders.append(index)
            for r in region.roots:
                kernel_of[r] = target
        return merged

    @staticmethod
    def one_space(a: Region, b: Region) -> bool:
        """Whether one kernel can compute both: the same iteration space, or `b` elementwise
        over the output of `a`'s reduction or single contraction (an epilogue after that
        value is written out, e.g. a weight update that reads a gradient the caller wants)."""
        if a.signature[0] == "reduce" and b.signature[0] == "elementwise":
            full, axes = a.signature[1]
            kept = tuple(n for i, n in enumerate(full) if i not in axes)
            return b.signature[1] == kept and all(
                tuple(n for n in r.shape if n != 1) == kept for r in a.roots
            )
        if a.signature[0] != "single":
            return a.signature == b.signature
        dots = [n for n in a.nodes if n.op is Op.DOT]
        return (
            b.signature[0] == "elementwise"
            and len(dots) == 1
            and a.roots[0].op not in SPECIAL_ROOTS
            and not any(n.op in REDUCE_OPS for n in a.nodes)
            and b.signature[1] == tuple(n for n in dots[0].shape if n != 1)
        )

    def related(self, a: Region, b: Region) -> bool:
        """Whether merging saves work: shared nodes, or one reads the other's output as the
        same elements (through a view that reorders them, the output must be written first)."""
        nodes_a = {n for n in a.nodes if not _constant_view(n)}
        nodes_b = {n for n in b.nodes if not _constant_view(n)}
        if nodes_a & nodes_b:
            return True
        for reader, written in ((a, nodes_b), (b, nodes_a)):
            reads = [n for n in reader.nodes if any(s in written for s in n.src)]
            if reads and all(n.op is not Op.VIEW or self.internal_view(n) for n in reads):
                return True
        return False

    def reorders(self, reader: Region, writer: Region) -> bool:
        """Whether `reader` reads an output of `writer` through a view that reorders its
        elements (`y.T`) or at data-dependent positions (a gather's source): one kernel
        cannot do both, as an element would be read before the work-item that writes it
        has run."""
        roots = set(writer.roots)
        for n in reader.nodes:
            if n.op is Op.VIEW and n.src[0] in roots and not self.internal_view(n):
                return True
            if n.op is Op.GATHER:
                source = n.src[0].src[0] if n.src[0].op is Op.VIEW else n.src[0]
                if source in roots:
                    return True
        return False

    def depends(self, a: Region, b: Region, kernel_of: dict[Node, Region]) -> bool:
        """Whether region `a` reads an output of region `b` through another kernel (reading
        it directly is fine: the merged kernel computes it before it is read). Kernels are
        the regions merged so far: a merge elsewhere can close a path (`b`'s input and an
        input of `a` computed in one kernel)."""
        targets = set(b.roots)
        stack = [
            s
            for n in a.nodes
            for s in n.src
            if s in self.materialized and s not in a.roots and s not in targets
        ]
        seen: set[Node] = set()
        while stack:
            m = stack.pop()
            if m in seen:
                continue
            kernel = kernel_of.get(m) or self.region([m])
            if any(r in targets for r in kernel.roots):
                return True
            seen.update(kernel.roots)
            seen.add(m)
            stack.extend(
                s
                for n in kernel.nodes
                for s in n.src
                if s in self.materialized and s not in kernel.roots
            )
        return False
