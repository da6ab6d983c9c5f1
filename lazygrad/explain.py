"""`lg.explain`: why the kernels that realizing some tensors would run are not fused.

For each value one kernel writes and a later kernel reads, the fusion rule that put the
boundary there (`lazygrad.ir.passes.fuse.RULES`), in words, and what would let it fuse.
"""

from __future__ import annotations

from dataclasses import dataclass

from .engine.realize import schedule
from .ir.node import Node
from .ir.ops import REDUCE_OPS, Op
from .ir.passes.fuse import RECOMPUTE_LIMIT, RULES
from .ir.schedule import Kernel, Schedule
from .tensor import Tensor
from .viz import plural

__all__ = ["Boundary", "Explanation", "explain"]

_SHOWN_OPS = 6


@dataclass(frozen=True)
class Boundary:
    """A value kernel `writer` writes out and kernels `readers` read: `rule` (a key of
    `RULES`) is why it is not computed inside them, `detail` says more when it can."""

    writer: int
    readers: tuple[int, ...]
    node: Node
    rule: str
    detail: str = ""

    @property
    def label(self) -> str:
        """The rule's short label (what `lazygrad viz` writes on the edge)."""
        return RULES[self.rule].label

    def __str__(self) -> str:
        rule = f"{self.rule} ({self.detail})" if self.detail else self.rule
        return (
            f"kernel {self.writer} ({describe(self.node)}) is read by "
            f"{_kernel_list(self.readers)}: {rule}: {RULES[self.rule].explanation}"
        )


@dataclass(frozen=True)
class Explanation:
    """The schedule and its boundaries; prints (and shows in a REPL) as text."""

    schedule: Schedule
    boundaries: tuple[Boundary, ...]

    def __str__(self) -> str:
        kernels = self.schedule.kernels
        if not kernels:
            return "nothing to run: the tensors are realized already"
        lines = [f"{plural(len(kernels), 'kernel')}, {plural(len(self.boundaries), 'boundary')}"]
        lines += [f"  kernel {i} {_kernel_text(k)}" for i, k in enumerate(kernels)]
        lines += [str(b) for b in self.boundaries]
        if len(kernels) == 1:
            lines.append("everything fuses into one kernel")
        elif not self.boundaries:
            lines.append("no kernel reads another's output: they compute separate values")
        return "\n".join(lines)

    __repr__ = __str__


def explain(*tensors: Tensor) -> Explanation:
    """Why the kernels that realizing `tensors` would run (`lg.schedule`) are separate: for
    each value a kernel writes and later kernels read, the rule that kept them apart and
    what would let them fuse. Nothing runs. `print(lg.explain(y))` shows it as text;
    `.boundaries` holds the same as data."""
    sched = schedule(*tensors)
    return Explanation(sched, boundaries(sched))


def boundaries(sched: Schedule) -> tuple[Boundary, ...]:
    """The boundaries of a schedule, in the order of the kernels writing them."""
    writer = {n: i for i, k in enumerate(sched.kernels) for n in k.output_nodes}
    readers: dict[Node, list[int]] = {}
    for j, kernel in enumerate(sched.kernels):
        for n in kernel.input_nodes:
            if n in writer:
                readers.setdefault(n, []).append(j)
    found = []
    for i, kernel in enumerate(sched.kernels):
        for n, rule in zip(kernel.output_nodes, kernel.reasons, strict=True):
            if n in readers:
                detail = _detail(rule, n, kernel, [sched.kernels[j] for j in readers[n]])
                found.append(Boundary(i, tuple(readers[n]), n, rule, detail))
    return tuple(found)


def _detail(rule: str, node: Node, writer: Kernel, readers: list[Kernel]) -> str:
    """Numbers behind a rule, where they help."""
    if rule == "shared expensive value":
        return f"{len(_computing(node, writer))} nodes > {RECOMPUTE_LIMIT}"
    if rule == "view across elements":
        views = {n.shape for k in readers for n in k.nodes if n.op is Op.VIEW and n.src[0] is node}
        shown = ", ".join(str(list(shape)) for shape in sorted(views))
        return f"read through a view as {shown}" if shown else ""
    return ""


def _computing(node: Node, kernel: Kernel) -> set[Node]:
    """The nodes of `kernel` that `node` is computed from (itself included)."""
    inside = set(kernel.nodes)
    seen: set[Node] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if n not in seen:
            seen.add(n)
            stack.extend(s for s in n.src if s in inside)
    return seen


# ---- text ------------------------------------------------------------------------------


def _spec(node: Node) -> str:
    return f"{node.dtype.name}{list(node.shape)}"


def describe(node: Node) -> str:
    """What a value is, in a few words: `sum over dim 1 of float32[64, 33]`."""
    base = node.src[0] if node.op is Op.VIEW else node  # a reduce read without its 1s
    if base.op in REDUCE_OPS:
        axes: tuple[int, ...] = base.arg  # type: ignore[assignment]
        dims = f"dim{'s' if len(axes) > 1 else ''} {', '.join(map(str, axes))}"
        return f"{base.op.value} over {dims} of {_spec(base.src[0])}"
    if base.op is Op.DOT:
        return f"matmul of {_spec(base.src[0])} and {_spec(base.src[1])}"
    return f"{node.op.value} giving {_spec(node)}"


def _kernel_list(indices: tuple[int, ...]) -> str:
    if len(indices) == 1:
        return f"kernel {indices[0]}"
    head = ", ".join(map(str, indices[:-1]))
    return f"kernels {head} and {indices[-1]}"


def _kernel_text(kernel: Kernel) -> str:
    ops = kernel.ops
    shown = ", ".join(ops[:_SHOWN_OPS]) + (", ..." if len(ops) > _SHOWN_OPS else "")
    return f"{kernel.name} on {kernel.device}: {shown or 'no ops'} ({plural(len(ops), 'op')})"
