"""A kernel's nodes as code generation walks them."""

from __future__ import annotations

from collections.abc import Callable

from ..ir.node import Node
from ..ir.ops import LOADED_LEAVES, Op

ALIAS_OPS = (Op.CONTIGUOUS, Op.DETACH)  # nodes that are their source's value


class KernelGraph:
    """The nodes of one kernel (`region`) and its inputs (by argument position): which nodes
    are leaves, read from memory or a constant, and which are computed from their operands."""

    def __init__(self, nodes: list[Node], inputs: list[Node]):
        self.region = set(nodes)
        self.position = {n: i for i, n in enumerate(nodes)}
        self.inputs = {n: i for i, n in enumerate(inputs)}

    def is_leaf(self, n: Node) -> bool:
        """Whether `n` is read rather than computed: a loaded op, an input, or a view of a
        node outside the kernel."""
        return (
            n.op in LOADED_LEAVES
            or n in self.inputs
            or (n.op is Op.VIEW and n.src[0] not in self.region)
        )

    def operands(self, n: Node) -> tuple[Node, ...]:
        """The sources emission walks into (a gather's source is read by index instead)."""
        if self.is_leaf(n) or n.op is Op.DOT:
            return ()
        if n.op is Op.GATHER:  # an input when an earlier kernel computed it
            return (n.src[1],)
        return n.src

    def leaves(self, targets: list[Node]) -> list[Node]:
        """The leaves computing `targets` reads (indexed reads excluded)."""
        return [n for n in self.order(targets, lambda n: None) if self.is_leaf(n)]

    def order(self, targets: list[Node], defined: Callable[[Node], object]) -> list[Node]:
        """The nodes `targets` need that `defined` gives None for, in the kernel's order (so
        each after its operands; nodes from outside the kernel first)."""
        seen: set[Node] = set()
        stack = [t for t in targets if defined(t) is None]
        while stack:
            n = stack.pop()
            if n in seen:
                continue
            seen.add(n)
            stack.extend(s for s in self.operands(n) if s not in seen and defined(s) is None)
        return sorted(seen, key=lambda n: (self.position.get(n, -1), id(n)))
