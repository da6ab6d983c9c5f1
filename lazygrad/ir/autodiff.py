"""The autodiff pass: a backward graph derived from the forward graph, as more lazy IR.

Graph in, graph out: given output nodes with their seed gradients and the leaf
nodes to differentiate against, walk the graph in reverse topological order
(iteratively), apply each op's rule from `GRAD_RULES` (or a composite's own rule, see
`grad_rules.composite`), sum the contributions of nodes with several consumers, and
return one gradient node per leaf (None when a leaf does not influence the outputs).
Only nodes on a path from a leaf to an output get gradients.
"""

from __future__ import annotations

import weakref

from .grad_rules import rule_for
from .node import Node, make, toposort
from .ops import Op

# Nodes created by the backward pass, so drawings can tell them apart.
BACKWARD_NODES: weakref.WeakSet[Node] = weakref.WeakSet()


def gradients(outputs: list[Node], seeds: list[Node], leaves: list[Node]) -> list[Node | None]:
    """d(sum of outputs·seeds)/d(leaf) for every leaf, as lazy IR nodes."""
    leaf_set = frozenset(leaves)
    order = toposort(outputs, stop=leaf_set)
    relevant: set[Node] = set()
    for node in order:
        if node in leaf_set or any(s in relevant for s in node.src):
            relevant.add(node)
    grads: dict[Node, Node] = {}
    for out, seed in zip(outputs, seeds, strict=True):
        _accumulate(grads, out, seed)
    for node in reversed(order):
        g = grads.get(node)
        if g is None or node in leaf_set or node not in relevant:
            continue
        sources, rule = rule_for(node)
        if rule is None:
            continue
        for src, src_grad in zip(sources, rule(node, g), strict=True):
            if src_grad is not None and src in relevant and src.dtype.is_floating_point:
                _accumulate(grads, src, src_grad)
    result = [grads.get(leaf) for leaf in leaves]
    _remember_backward(result, order)
    return result


def _accumulate(grads: dict[Node, Node], node: Node, grad: Node) -> None:
    if grad.dtype != node.dtype:
        grad = make(Op.CAST, (grad,), node.dtype)
    previous = grads.get(node)
    grads[node] = grad if previous is None else make(Op.ADD, (previous, grad))


def _remember_backward(grads: list[Node | None], forward: list[Node]) -> None:
    known = set(forward)
    for node in toposort([g for g in grads if g is not None], stop=known):
        if node not in known:
            BACKWARD_NODES.add(node)
