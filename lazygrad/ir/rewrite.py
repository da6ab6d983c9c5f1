"""One iterative bottom-up rewrite walk, shared by the passes."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from .node import Node, make, toposort

Rule = Callable[[Node], "Node | None"]


def rebuild(node: Node, src: tuple[Node, ...]) -> Node:
    """`node` with new sources (the same node when they did not change)."""
    if all(a is b for a, b in zip(src, node.src, strict=True)):
        return node
    return make(node.op, src, node.arg)


def rewrite(
    roots: list[Node], rule: Rule, replace: Mapping[Node, Node] | None = None, max_steps: int = 64
) -> dict[Node, Node]:
    """Rewrite every node reachable from `roots`, sources first: rebuild it over its rewritten
    sources, then apply `rule` until it returns None. Returns old node -> new node.

    Never recurses on graph depth; nodes in `replace` become their replacement and the walk
    does not descend into them."""
    replace = replace if replace is not None else {}
    new: dict[Node, Node] = {}
    for node in toposort(roots, replace):
        if node in replace:
            new[node] = replace[node]
            continue
        current = rebuild(node, tuple(new[s] for s in node.src))
        for _ in range(max_steps):
            replacement = rule(current)
            if replacement is None or replacement is current:
                break
            current = replacement
        new[node] = current
    return new
