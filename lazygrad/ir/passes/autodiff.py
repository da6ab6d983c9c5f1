"""The autodiff pass: a backward graph derived from the forward graph, as more lazy IR.

Graph in, graph out: given output nodes with their seed gradients and the leaf
nodes to differentiate against, walk the graph in reverse topological order
(iteratively), apply each op's rule from `GRAD_RULES` (or a composite's own rule, see
`grad_rules.composite`), sum the contributions of nodes with several consumers, and
return one gradient node per leaf (None when a leaf does not influence the outputs).
Only nodes on a path from a leaf to an output get gradients.

A derivation is remembered by the structure of its forward graph (`_Derivation`): the
same step of a loop, recorded again over new buffers, rebuilds its backward graph from
the remembered one without applying a rule.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ... import lru
from ..node import Node, _arg_key, make, toposort
from ..ops import CONSTANT_LEAVES, Op
from .grad_rules import _COMPOSITE_OPS, rule_for

# Nodes created by the backward pass, so drawings can tell them apart.
BACKWARD_NODES: weakref.WeakSet[Node] = weakref.WeakSet()


def gradients(
    outputs: list[Node],
    seeds: list[Node],
    leaves: list[Node],
    hooks: Mapping[Node, Callable[[Node], Node]] | None = None,
) -> list[Node | None]:
    """d(sum of outputs·seeds)/d(leaf) for every leaf, as lazy IR nodes. `hooks` map inner
    nodes to a function applied to their complete gradient before it flows on (tensor
    hooks, `retain_grad`). A forward graph of a structure derived before gets the same
    backward graph rebuilt over its own nodes (not with hooks, which may do anything)."""
    if hooks:
        return _derive(outputs, seeds, leaves, hooks)
    key, forward = _forward_structure(outputs, seeds, leaves)
    known = lru.get(_derivations, key)
    if known is not None:
        derivation_stats["hits"] += 1
        return known.rebuild(forward)
    derivation_stats["misses"] += 1
    result = _derive(outputs, seeds, leaves)
    remembered = _Derivation.of(result, forward)
    if remembered is not None:
        lru.put(_derivations, key, remembered, DERIVATIONS_KEPT)
    return result


def _derive(
    outputs: list[Node],
    seeds: list[Node],
    leaves: list[Node],
    hooks: Mapping[Node, Callable[[Node], Node]] | None = None,
) -> list[Node | None]:
    """The gradients by the rules, node by node in reverse topological order."""
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
        if hooks and node in hooks:
            g = grads[node] = hooks[node](g)
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


# ---- remembered derivations ----------------------------------------------------------------
DERIVATIONS_KEPT = 64
derivation_stats = {"hits": 0, "misses": 0}


def _forward_structure(
    outputs: list[Node], seeds: list[Node], leaves: list[Node]
) -> tuple[tuple, list[Node]]:
    """(key, forward nodes in key order). The key holds every node's op, exact argument
    (values included: a rule may compute with them, as `x ** n` does with n - 1), dtype,
    shape and wiring, each leaf's position and each composite's rule; buffers and random
    draws are slots, so the same step over new data or new draws has the same key."""
    index: dict[Node, int] = {}
    entries: list[tuple] = []
    forward: list[Node] = []
    position = {leaf: i for i, leaf in enumerate(leaves)}
    for node in toposort([*outputs, *seeds], stop=position):
        index[node] = len(forward)
        forward.append(node)
        if node in position:
            entries.append(("leaf", position[node], node.dtype, node.shape))
        elif node.op is Op.BUFFER or node.op is Op.RAND:
            entries.append((node.op, node.dtype, node.shape))
        else:
            found = rule_for(node) if node.op in _COMPOSITE_OPS else None
            rule = (
                None if found is None or found[1] is None else (found[1], *map(index.get, found[0]))
            )
            src = tuple([index[s] for s in node.src])
            entries.append(
                (node.op, _arg_key(node.op, node.arg), node.dtype, node.shape, src, rule)
            )
    ends = tuple(index[n] for n in (*outputs, *seeds))
    return (tuple(entries), ends, tuple(position.get(n, -1) for n in leaves)), forward


@dataclass
class _Derivation:
    """A backward graph as steps over forward positions: each step is (op, sources, arg,
    dtype, shape), a source `i >= 0` being forward node i and `-1 - j` step j."""

    steps: list[tuple[Op, tuple[int, ...], object, object, object]]
    grads: list[int | None]

    @staticmethod
    def of(grads: list[Node | None], forward: list[Node]) -> _Derivation | None:
        """The derivation that built `grads` over `forward`, or None when it reads a value
        outside the forward graph other than a constant (it could not be rebuilt)."""
        at = {node: i for i, node in enumerate(forward)}
        steps: list[tuple[Op, tuple[int, ...], object, object, object]] = []
        for node in toposort([g for g in grads if g is not None], stop=at):
            if node in at:
                continue
            if not node.src and node.op not in CONSTANT_LEAVES:
                return None
            at[node] = -1 - len(steps)
            leaf = not node.src
            steps.append(
                (
                    node.op,
                    tuple([at[s] for s in node.src]),
                    node.arg,
                    node.dtype if leaf else None,
                    node.shape if leaf else None,
                )
            )
        return _Derivation(steps, [None if g is None else at[g] for g in grads])

    def rebuild(self, forward: list[Node]) -> list[Node | None]:
        """The backward graph of `forward`, a graph with the remembered structure."""
        built: list[Node] = []
        for op, sources, arg, dtype, shape in self.steps:
            src = tuple([forward[i] if i >= 0 else built[-1 - i] for i in sources])
            node = make(op, src, arg, dtype, shape)  # type: ignore[arg-type]
            BACKWARD_NODES.add(node)
            built.append(node)
        return [
            None if i is None else (forward[i] if i >= 0 else built[-1 - i]) for i in self.grads
        ]


# forward structure -> its derivation, least recently used first
_derivations: dict[tuple, _Derivation] = {}
