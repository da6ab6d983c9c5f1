"""View folding: every chain of movement ops becomes one VIEW node sitting on a leaf.

Movement ops commute with elementwise ops, so a movement op over an elementwise
subgraph is pushed down to that subgraph's leaves (`pad(f(x))` becomes
`where(valid, f(pad(x)), 0)`, since f(0) need not be 0). What is left sits on a
buffer, a constant, an arange, or a node that must be computed first (a reduce,
a contraction, ...), and consecutive movements compose into one `View`. When two
views cannot be merged, the inner one is materialized (CONTIGUOUS) — never guessed.

After this pass no RESHAPE/PERMUTE/EXPAND/PAD/SHRINK/FLIP nodes remain.
"""

from __future__ import annotations

from ...dtypes import DType, bool_
from ..node import Node, const, make, toposort
from ..ops import ELEMENTWISE, MOVEMENT_OPS, Op
from ..rewrite import rebuild
from ..view import View
from .fuse import MEMORY_OPERANDS

Move = tuple[Op, object]


def apply_move(view: View, move: Move) -> View | None:
    """The view after one movement op (None when reshape cannot stay a single view)."""
    op, arg = move
    if op is Op.RESHAPE:
        return view.reshape(arg)  # type: ignore[arg-type]
    if op is Op.PERMUTE:
        return view.permute(arg)  # type: ignore[arg-type]
    if op is Op.EXPAND:
        return view.expand(arg)  # type: ignore[arg-type]
    if op is Op.PAD:
        return view.pad(arg)  # type: ignore[arg-type]
    if op is Op.SHRINK:
        return view.shrink(arg)  # type: ignore[arg-type]
    if op is Op.FLIP:
        return view.flip(arg)  # type: ignore[arg-type]
    raise AssertionError(op)


def view_of(base: Node, view: View) -> Node:
    """A VIEW node reading `base` through `view` (or `base` itself for the identity view)."""
    if view.shape == base.shape and view == View.contiguous(base.shape):
        return base
    return make(Op.VIEW, (base,), view)


def _view_leaf(node: Node, moves: tuple[Move, ...]) -> Node:
    """Apply `moves` to a node that movement cannot be pushed through."""
    if node.op is Op.VIEW:
        base, view = node.src[0], node.arg
    else:
        base, view = node, View.contiguous(node.shape)
    for i, move in enumerate(moves):
        composed = apply_move(view, move)  # type: ignore[arg-type]
        if composed is None:  # cannot merge: materialize what we have, continue from there
            base = make(Op.CONTIGUOUS, (view_of(base, view),))  # type: ignore[arg-type]
            return _view_leaf(base, moves[i:])
        view = composed
    return view_of(base, view)  # type: ignore[arg-type]


def _broadcast_const(value: object, dtype: DType, shape: tuple[int, ...]) -> Node:
    """A constant read through a stride-0 view (the folded form of `const(...)`)."""
    scalar = const(value, dtype)
    return view_of(scalar, View(shape, (0,) * len(shape), 0))


def _valid_mask(shape: tuple[int, ...], moves: tuple[Move, ...]) -> Node | None:
    """Where a padded result holds data (a masked view of True), or None without padding."""
    if not any(op is Op.PAD for op, _ in moves):
        return None
    return _view_leaf(_broadcast_const(True, bool_, shape), moves)


def push_moves(root: Node, moves: tuple[Move, ...]) -> Node:
    """`moves` applied to `root`, pushed through elementwise ops down to the leaves."""
    done: dict[Node, Node] = {}
    stack = [root]
    while stack:
        node = stack[-1]
        if node in done:
            stack.pop()
            continue
        if node.op in ELEMENTWISE:
            pending = [s for s in node.src if s not in done]
            if pending:
                stack.extend(pending)
                continue
            done[node] = rebuild(node, tuple(done[s] for s in node.src))
        else:
            done[node] = _view_leaf(node, moves)
        stack.pop()
    pushed = done[root]
    valid = _valid_mask(root.shape, moves)
    if valid is None or root.op not in ELEMENTWISE:
        return pushed
    zero = _view_leaf(_broadcast_const(0, root.dtype, root.shape), moves)
    return make(Op.WHERE, (valid, pushed, zero))


def written_out_anyway(order: list[Node], roots: list[Node]) -> set[Node]:
    """Elementwise nodes that a later kernel will read from memory in any case: outputs, and
    the operands the fusion partition writes out (`MEMORY_OPERANDS`)."""
    stored = {r for r in roots if r.op in ELEMENTWISE}
    for node in order:
        count = MEMORY_OPERANDS[node.op][0] if node.op in MEMORY_OPERANDS else 0
        stored.update(s for s in node.src[:count] if s.op in ELEMENTWISE)
    return stored


# A movement is pushed through at most this many elementwise nodes: past that, the value
# is computed once and read through the view (pushing would recompute the whole subgraph in
# the new layout, and a long chain of alternating movements would cost quadratic time).
PUSH_LIMIT = 64


def _larger_than(node: Node, limit: int) -> bool:
    """Whether the elementwise subgraph computing `node` has more than `limit` nodes."""
    seen: set[Node] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if n in seen or n.op not in ELEMENTWISE:
            continue
        seen.add(n)
        if len(seen) > limit:
            return True
        stack.extend(n.src)
    return False


def fold_views(roots: list[Node]) -> dict[Node, Node]:
    """Rewrite the graph under `roots` so movement ops only appear as VIEW nodes on leaves
    or on nodes computed in an earlier kernel. Returns old node -> new node.

    A movement of an elementwise value that is written out anyway (`h.T` of an `h` that a
    matmul also reads) views the stored value instead of recomputing it in a new layout."""
    new: dict[Node, Node] = {}
    order = toposort(roots)
    stored = written_out_anyway(order, roots)
    for node in order:
        if node.op in MOVEMENT_OPS and node.op is not Op.VIEW:
            moves: list[Move] = [(node.op, node.arg)]
            src = node.src[0]
            if src in stored or _larger_than(new[src], PUSH_LIMIT):
                new[node] = _view_leaf(new[src], tuple(moves))
            else:
                new[node] = push_moves(new[src], tuple(moves))
        else:
            new[node] = rebuild(node, tuple(new[s] for s in node.src))
    return new
