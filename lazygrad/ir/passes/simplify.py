"""Algebraic simplification and constant folding (NaN-safe: `x*0` is only folded when x is
a finite constant, because `nan*0` is nan)."""

from __future__ import annotations

import functools
import math

import numpy as np

from ...dtypes import DType
from ..node import Node, const, make, param_class
from ..ops import CONSTANT_LEAVES, ELEMENTWISE, MOVEMENT_OPS, OP_TABLE, REDUCE_OPS, Op
from ..view import View


def const_value(node: Node) -> object | None:
    """The scalar a node holds everywhere, when it is a (broadcast) constant; else None."""
    while node.op in (Op.RESHAPE, Op.EXPAND, Op.PERMUTE, Op.SHRINK, Op.FLIP) or (
        node.op is Op.VIEW and node.arg.mask is None
    ):  # type: ignore[union-attr]
        node = node.src[0]
    if node.op is Op.PARAM:
        return node.arg if param_class(node.arg) != "any" else None
    return node.arg if node.op is Op.CONST else None


def numpy_function(op: Op):  # noqa: ANN201
    """The NumPy function the op table names for an elementwise or reduce op."""
    name = OP_TABLE[op].np.removeprefix("np.")  # type: ignore[union-attr]
    return functools.reduce(getattr, name.split("."), np)


def _fold_constants(node: Node) -> Node | None:
    if node.op not in ELEMENTWISE:
        return None
    values = [const_value(s) for s in node.src]
    if any(v is None for v in values):
        return None
    args = [np.array(v, dtype=s.dtype.np) for v, s in zip(values, node.src, strict=True)]
    with np.errstate(all="ignore"):
        if node.op is Op.CAST:
            out = args[0].astype(node.dtype.np)
        elif node.op is Op.NOT and node.dtype.name == "bool":
            out = np.logical_not(args[0])
        else:
            out = numpy_function(node.op)(*args)
    return const(np.asarray(out).astype(node.dtype.np).item(), node.dtype, node.shape)


def _is(node: Node, value: float) -> bool:
    v = const_value(node)
    return v is not None and not isinstance(v, bool) and v == value


def _algebra(node: Node) -> Node | None:
    op, src = node.op, node.src
    if op is Op.DETACH:
        return src[0]
    if op is Op.COPY and _made_of_constants(src[0]):  # constants have no device: the copy's
        return src[0]  # consumers make them where they run
    if op is Op.CONTIGUOUS and src[0].op in _WRITTEN_OUT:
        return src[0]
    if op is Op.CAST and src[0].dtype == node.arg:
        return src[0]
    if op is Op.CAST and src[0].op is Op.CAST and _lossless(src[0].src[0].dtype, src[0].dtype):
        inner = src[0].src[0]
        return inner if inner.dtype == node.arg else make(Op.CAST, (inner,), node.arg)
    if op is Op.NEG and src[0].op is Op.NEG:
        return src[0].src[0]
    if op in _IDENTITY:
        value, commutative = _IDENTITY[op]
        if _is(src[1], value):
            return src[0]
        if commutative and _is(src[0], value):
            return src[1]
    if op is Op.POW and _is(src[1], 2):
        return make(Op.MUL, (src[0], src[0]))
    if op in (Op.MAX, Op.MIN) and src[0] is src[1]:
        return src[0]
    if op is Op.WHERE:
        cond = const_value(src[0])
        if cond is not None:
            return src[1] if cond else src[2]
        if src[1] is src[2]:
            return src[1]
    return None


def _made_of_constants(node: Node) -> bool:
    """Whether `node` is a constant, a range or a scalar argument, seen through views."""
    while node.op in MOVEMENT_OPS:
        node = node.src[0]
    return node.op in CONSTANT_LEAVES


# values that are a contiguous buffer of their own already (buffers are never written over,
# so a CONTIGUOUS of one, such as a leaf's identity, needs no copy)
_WRITTEN_OUT = (Op.BUFFER, Op.RAND, Op.COPY)

# op -> (its identity element, whether the identity may stand on either side)
_IDENTITY = {
    Op.ADD: (0, True),
    Op.MUL: (1, True),
    Op.SUB: (0, False),
    Op.DIV: (1, False),
    Op.POW: (1, False),
}


def _lossless(frm: DType, to: DType) -> bool:
    """Whether every value of `frm` survives a round trip through `to`."""
    if frm.category == to.category:
        return to.itemsize >= frm.itemsize
    return frm.category < to.category and (frm.category == 0 or to.itemsize > frm.itemsize)


def _movement(node: Node) -> Node | None:
    op, src = node.op, node.src
    if op in (Op.RESHAPE, Op.EXPAND) and src[0].shape == node.shape:
        return src[0]
    if op is Op.RESHAPE and src[0].op is Op.RESHAPE:
        return make(Op.RESHAPE, (src[0].src[0],), node.arg)
    if op is Op.PERMUTE and src[0].op is Op.PERMUTE:
        inner, composed = src[0].src[0], tuple(src[0].arg[i] for i in node.arg)  # type: ignore
        if composed == tuple(range(len(composed))):
            return inner
        return make(Op.PERMUTE, (inner,), composed)
    return None


def _reduce(node: Node) -> Node | None:
    if node.op not in REDUCE_OPS:
        return None
    src = node.src[0]
    axes = tuple(a for a in node.arg if src.shape[a] != 1)  # type: ignore[union-attr]
    if not axes:
        return src
    if axes != node.arg:
        return make(node.op, (src,), axes)
    value = const_value(src)
    if src.numel == 0 and node.op is not Op.RMAX:
        return const(0 if node.op is Op.SUM else 1, node.dtype, node.shape)
    if value is not None and src.numel:
        count = math.prod(src.shape[a] for a in axes)
        folded = {Op.SUM: value * count, Op.RMAX: value, Op.PROD: value**count}[node.op]
        return const(folded, node.dtype, node.shape)
    return None


def simplify_node(node: Node) -> Node | None:
    """One simplification step for `node`, or None when no rule applies."""
    if node.op is Op.VIEW and isinstance(node.arg, View):
        return None
    for rule in (_fold_constants, _algebra, _movement, _reduce):
        out = rule(node)
        if out is not None and out is not node:
            return out
    return None
