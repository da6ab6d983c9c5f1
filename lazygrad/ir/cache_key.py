"""The structural key of a graph: equal keys mean the same schedule can run both graphs.

Buffers (and already realized nodes) become numbered input slots, so two graphs
that differ only in which buffers they read share a key; op, argument (constant
values included), dtype, shape, device and the wiring between nodes are all part
of it. Never Python object identity: a leaf's identity token counts only as "leaf".
"""

from __future__ import annotations

from .node import Node, _arg_key, param_class
from .ops import Op


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
