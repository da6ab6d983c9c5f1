"""IR nodes: immutable, hash-consed, with shape and dtype inferred (and checked) at creation.

Equal nodes are one object (`make` interns them), so common subexpressions are
shared for free and identity comparison is structural comparison. Interning is
weak: a node lives as long as something (a tensor, another node) refers to it.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Container

from ..dtypes import DType, bool_
from .ops import CONSTANT_LEAVES, ELEMENTWISE, MOVEMENT_OPS, OP_TABLE, REDUCE_OPS, Kind, Op
from .view import View

Shape = tuple[int, ...]


class Node:
    """One IR op: `op` applied to `src` nodes with an op-specific `arg`.

    Immutable by contract: nothing assigns to a node after `make` built it, except this
    module's bookkeeping of pending work (`depth`, `group`). Not enforced by a `__setattr__`
    override, which would make every node creation (the hot path of every op) twice as
    slow."""

    __slots__ = ("op", "src", "arg", "dtype", "shape", "depth", "group", "__weakref__")

    op: Op
    src: tuple[Node, ...]
    arg: object
    dtype: DType
    shape: Shape
    # the longest chain of ops not yet computed behind this node: bookkeeping, not part of
    # its identity (leaves are 0; realizing a node sets it to 0, see `settle`)
    depth: int
    # the pending work this node's graph is part of (see `WorkGroup`); None for leaves,
    # constants, views of leaves and stored values
    group: WorkGroup | None

    def __init__(self, op: Op, src: tuple[Node, ...], arg: object, dtype: DType, shape: Shape):
        self.op = op
        self.src = src
        self.arg = arg
        self.dtype = dtype
        self.shape = shape
        self.depth = _depth_over(src)
        self.group = _group_over(op, src)

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    def __repr__(self) -> str:
        arg = "" if self.arg is None else f", arg={self.arg!r}"
        return (
            f"Node({self.op.name}, {self.dtype.name}{list(self.shape)}{arg}, nsrc={len(self.src)})"
        )


def _depth_over(src: tuple[Node, ...]) -> int:
    """The depth of a node over these sources: one more than the deepest (0 for a leaf)."""
    depth = 0
    for s in src:
        if s.depth >= depth:
            depth = s.depth + 1
    return depth


class WorkGroup:
    """A union-find set of pending graphs that share work: a node made from sources of
    several groups joins them, so graphs whose pending work overlaps (or was ever combined)
    are one group, found in near-constant time. Realizing a node stores it and takes it out
    of its group (`settle`): graphs that meet only at stored values stay apart."""

    __slots__ = ("parent",)

    def __init__(self) -> None:
        self.parent: WorkGroup | None = None

    def find(self) -> WorkGroup:
        """The representative of this set (halving the path on the way)."""
        group = self
        while group.parent is not None:
            if group.parent.parent is not None:
                group.parent = group.parent.parent
            group = group.parent
        return group


# Ops that do no work of their own: constants, which every graph may share (interned), and
# views, which belong to the group of what they view.
_NO_WORK = CONSTANT_LEAVES | frozenset(MOVEMENT_OPS) | {Op.BUFFER}


def _group_over(op: Op, src: tuple[Node, ...]) -> WorkGroup | None:
    """The work group of a new node: the union of its sources' groups (and a new group for
    work over leaves only)."""
    group = None
    for s in src:
        other = s.group
        if other is None:
            continue
        if other.parent is not None:
            other = other.find()
        if group is None:
            group = other
        elif other is not group:
            other.parent = group
    if group is None and op not in _NO_WORK:
        group = WorkGroup()
    return group


def settle(node: Node) -> None:
    """Note that `node`'s value is computed and stored: nothing is pending behind it."""
    node.depth = 0
    node.group = None


def refresh_depth(root: Node, stored: Container[Node]) -> int:
    """The true depth of `root`'s pending graph, with the nodes in `stored` as leaves: a node
    made before one of its sources was stored still counts that source's old history, so
    this recomputes (and corrects) the depth of every node up to stored values."""
    for node in toposort([root], stop=stored):
        node.depth = 0 if node in stored else _depth_over(node.src)
    return root.depth


# key -> weak reference to the node; a plain dict of weakrefs is several times faster to
# probe than WeakValueDictionary, and node creation is the hot path of every op.
_interned: dict[tuple, weakref.ref[Node]] = {}
_VALUE_LEAVES = (Op.CONST, Op.PARAM)


def _forget(key: tuple) -> None:
    ref = _interned.get(key)
    if ref is not None and ref() is None:
        del _interned[key]


def _arg_key(op: Op, arg: object) -> object:
    # 0.0 == -0.0 == False and 1 == 1.0 == True in Python; keep them apart.
    if op is Op.CONST or op is Op.PARAM:
        return (type(arg).__name__, repr(arg))
    return arg


def make(
    op: Op,
    src: tuple[Node, ...] = (),
    arg: object = None,
    dtype: DType | None = None,
    shape: Shape | None = None,
) -> Node:
    """The one way to build a node: infers shape and dtype, checks them, interns the result
    (buffer nodes excepted: each stands for storage made for it).

    Leaves pass `dtype` and `shape`; every other op derives them from its sources, so for
    those (op, sources, arg) is the whole key and a node that exists is found without
    inferring anything."""
    if op is Op.BUFFER:  # each buffer is new storage: there is never an equal node to find
        return Node(op, src, arg, dtype, shape)  # type: ignore[arg-type]
    derived = dtype is None or shape is None
    if derived:
        key: tuple = (op, src, arg)
    else:
        key = (op, src, _arg_key(op, arg) if op in _VALUE_LEAVES else arg, dtype, shape)
    ref = _interned.get(key)
    node = ref() if ref is not None else None
    if node is None:
        if derived:
            dtype, shape = infer(op, src, arg)
        node = Node(op, src, arg, dtype, shape)  # type: ignore[arg-type]
        _interned[key] = weakref.ref(node, lambda _, key=key: _forget(key))
    return node


def infer(op: Op, src: tuple[Node, ...], arg: object) -> tuple[DType, Shape]:
    """Shape and dtype rule of every non-leaf op (internal consistency: the frontend has
    already raised user-facing errors, so a failure here is a lazygrad bug)."""
    row = OP_TABLE[op]
    if op in ELEMENTWISE:
        shape = src[0].shape
        operands = src[1:] if op is Op.WHERE else src
        dtype = operands[0].dtype
        for s in src:
            assert s.shape == shape, f"{op}: operand shapes differ {[s.shape for s in src]}"
        for s in operands:
            assert s.dtype == dtype, f"{op}: operand dtypes differ {[s.dtype for s in src]}"
        if row.result == "bool":
            return bool_, shape
        return (arg if row.result == "arg" else dtype), shape  # type: ignore[return-value]
    if op in REDUCE_OPS:
        axes: tuple[int, ...] = arg  # type: ignore[assignment]
        return src[0].dtype, tuple(1 if i in axes else n for i, n in enumerate(src[0].shape))
    if op is Op.DOT:
        a, b = src
        assert a.shape[:-2] == b.shape[:-2] and a.shape[-1] == b.shape[-2], (a.shape, b.shape)
        return a.dtype, a.shape[:-1] + b.shape[-1:]
    if row.kind is Kind.MOVEMENT:
        return src[0].dtype, movement_shape(op, src[0].shape, arg)
    if op is Op.GATHER:
        return src[0].dtype, src[1].shape
    if op in (Op.SCATTER, Op.CONTIGUOUS, Op.DETACH, Op.COPY):
        return src[0].dtype, src[0].shape
    if op is Op.COLLECTIVE:  # see runtime.collective for the kinds
        kind, parameter = arg[0], arg[1]  # type: ignore[index]
        shape = src[0].shape
        if kind == "all_gather":
            return src[0].dtype, (parameter, *shape)  # type: ignore[return-value]
        return src[0].dtype, shape[1:] if kind == "reduce_scatter" else shape
    raise AssertionError(f"no shape rule for {op}")


def movement_shape(op: Op, shape: Shape, arg: object) -> Shape:
    """Output shape of a movement op."""
    if op in (Op.RESHAPE, Op.EXPAND):
        return tuple(arg)  # type: ignore[arg-type]
    if op is Op.PERMUTE:
        return tuple(shape[i] for i in arg)  # type: ignore[union-attr]
    if op is Op.PAD:
        return tuple(n + lo + hi for n, (lo, hi) in zip(shape, arg, strict=True))  # type: ignore
    if op is Op.SHRINK:
        return tuple(hi - lo for lo, hi in arg)  # type: ignore[union-attr]
    if op is Op.FLIP:
        return shape
    if op is Op.VIEW:
        assert isinstance(arg, View)
        return arg.shape
    raise AssertionError(op)


# Values a PARAM is specialized on: simplification may rely on them (x*1, x**2), so the
# schedule cache keys these exactly and every other value only by its type.
SPECIAL_VALUES = (0, 1, 2, -1, 0.5)


def param_class(value: object) -> object:
    """What the schedule cache may know of a PARAM's value."""
    if isinstance(value, bool):
        return value
    return value if value in SPECIAL_VALUES else "any"


# Recently used broadcast scalars: `x * 0.5` in a loop would otherwise build the same three
# nodes (PARAM, RESHAPE, EXPAND) on every call. Bounded; cleared when full.
_recent_params: dict[tuple, Node] = {}
_RECENT_PARAMS_LIMIT = 4096


def param(value: object, dtype: DType, shape: Shape = ()) -> Node:
    """A Python scalar that reaches the kernel as an argument (so changing it, like a
    learning rate, reuses the compiled schedule), broadcast to `shape`."""
    # -0.0 == 0.0 (and they hash alike): the sign keeps them apart
    sign = math.copysign(1.0, value) if type(value) is float else 0  # type: ignore[arg-type]
    key = (type(value), value, sign, dtype, shape)
    node = _recent_params.get(key)
    if node is None:
        leaf = make(Op.PARAM, (), dtype.np.type(value).item(), dtype, ())
        node = _broadcast(leaf, shape)
        if len(_recent_params) >= _RECENT_PARAMS_LIMIT:
            _recent_params.clear()
        _recent_params[key] = node
    return node


def _broadcast(node: Node, shape: Shape) -> Node:
    if shape == ():
        return node
    return make(Op.EXPAND, (make(Op.RESHAPE, (node,), (1,) * len(shape)),), tuple(shape))


def const(value: object, dtype: DType, shape: Shape = ()) -> Node:
    """A constant, broadcast to `shape` (a stride-0 expand of a 0-d constant)."""
    return _broadcast(make(Op.CONST, (), dtype.np.type(value).item(), dtype, ()), shape)


def toposort(
    roots: list[Node] | tuple[Node, ...], stop: Container[Node] = frozenset()
) -> list[Node]:
    """All nodes reachable from `roots` (not descending into `stop`), sources first.

    Iterative, so graph depth is never limited by Python's recursion limit."""
    order: list[Node] = []
    seen: set[Node] = set()
    stack: list[Node | None] = list(reversed(list(roots)))
    while stack:
        node = stack.pop()
        if node is None:  # the marker above a node: its sources are in `order` now
            order.append(stack.pop())  # type: ignore[arg-type]
            continue
        if node in seen:
            continue
        seen.add(node)
        stack.append(node)
        stack.append(None)
        if node not in stop:
            stack.extend([s for s in reversed(node.src) if s not in seen])
    return order
