"""Structural keys, the one place every cache of lazygrad gets its keys from.

`structural_key` keys a graph: equal keys mean the same schedule can run both graphs (the
schedule cache). Buffers (and already realized nodes) become numbered input slots, so two
graphs that differ only in which buffers they read share a key; op, argument (constant
values included), dtype, shape, device and the wiring between nodes are all part of it.
Never Python object identity: a leaf's identity token counts only as "leaf".

`kernel_key` keys one kernel of a schedule: equal keys mean the same generated code (the
OpenCL program cache), with the nodes a backend passes as arguments as numbered slots. What
is compiled from generated code is cached by that code's text, which is exact by
construction.
"""

from __future__ import annotations

from collections.abc import Callable

from .node import Node, _arg_key, param_class
from .ops import ELEMENTWISE, Op
from .schedule import Kernel


def structural_key(
    targets: list[Node], devices: list[str], realized: dict[Node, Node]
) -> tuple[tuple, list[Node], list[Node]]:
    """(key, input nodes in slot order, argument nodes in slot order) for realizing
    `targets` on `devices`. An input is a BUFFER node or a node `realized` maps to one: each
    is a slot of its own, even where two hold the same buffer. A PARAM counts by type and
    dtype (and its value only when the value is one simplification relies on), a RAND by its
    distribution (not its seed and counter), so new values and new random draws reuse the
    schedule."""
    index: dict[Node, int] = {}
    entries: list[tuple] = []
    inputs: list[Node] = []
    params: list[Node] = []
    stack: list[Node | None] = list(reversed(targets))
    while stack:  # depth first, sources before their node, without recursion
        node = stack.pop()
        if node is None:  # the marker pushed above a node: its sources are done
            node = stack.pop()
            assert node is not None
            index[node] = len(entries)
            if node.op is Op.PARAM or node.op is Op.RAND:
                params.append(node)
            arg = None if node.arg is None else _structural_arg(node)
            entries.append(
                (node.op, arg, node.dtype, node.shape, tuple([index[s] for s in node.src]))
            )
            continue
        if node in index:
            continue
        if node.op is Op.BUFFER:
            buffer: Node | None = node
        elif node.group is not None:  # pending work: not a stored value, no lookup needed
            buffer = None
        else:
            buffer = realized.get(node)
        if buffer is not None:
            index[node] = len(entries)
            entries.append(("input", buffer.arg.device, buffer.dtype, buffer.shape))  # type: ignore
            inputs.append(node)
            continue
        stack.append(node)
        stack.append(None)
        stack.extend([s for s in reversed(node.src) if s not in index])
    key = (tuple(entries), tuple(index[t] for t in targets), tuple(devices))
    return key, inputs, params


def _structural_arg(node: Node) -> object:
    if node.op is Op.CONTIGUOUS and node.arg is not None:
        return "leaf"
    if node.op is Op.DETACH and node.arg is not None:  # a custom Function's output
        return "function"
    if node.op is Op.PARAM:
        return (type(node.arg).__name__, param_class(node.arg))
    if node.op is Op.COLLECTIVE:  # the call's number is not part of the structure
        return node.arg[:-1]  # type: ignore[index]
    if node.op is Op.RAND:  # the seed and counter are arguments; the distribution is not
        kind, _seed, _counter, *extra = node.arg  # type: ignore[misc]
        return (kind, *extra)
    return _arg_key(node.op, node.arg)


def kernel_key(
    kernel: Kernel, is_argument: Callable[[Node], bool]
) -> tuple[tuple, dict[Node, int]]:
    """(key, argument slots) of `kernel`: equal keys render to the same code when the nodes
    `is_argument` picks are passed as arguments (numbered in the order met) rather than
    written into the code."""
    ids: dict[Node, int] = {}
    entries: list[tuple] = []
    slots: dict[Node, int] = {}

    def add(node: Node, entry: tuple) -> None:
        ids[node] = len(entries)
        entries.append(entry)

    for n in kernel.input_nodes:
        add(n, ("input", n.dtype.name, n.shape))
    for n in kernel.nodes:
        for s in (*n.src, n):
            if s in ids:
                continue
            if is_argument(s):
                slots[s] = len(slots)
                add(s, ("argument", s.dtype.name))
            else:
                srcs = tuple(ids[x] for x in s.src) if s is n else ()
                add(s, (s.op.value, _rendered_arg(s), s.dtype.name, s.shape, srcs))
    outputs = tuple(ids[o] for o in kernel.output_nodes)
    return (kernel.kind, kernel.device, tuple(entries), outputs), slots


def _rendered_arg(node: Node) -> object:
    """The part of a node's argument that changes its generated code (elementwise ops but
    casts, copies, detaches, gathers and matmuls render the same whatever theirs)."""
    if node.op in ELEMENTWISE and node.op is not Op.CAST:
        return None
    if node.op in (Op.CONTIGUOUS, Op.DETACH, Op.GATHER, Op.DOT):
        return None
    return _arg_key(node.op, node.arg)
