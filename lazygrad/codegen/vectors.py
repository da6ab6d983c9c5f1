"""Which values a kernel can compute as vectors of lanes along one dim of its space.

Explicit vectors matter on CPU devices, where PoCL does not vectorize across work-items. A
value is a vector when it varies along the lanes' dim; every such value must be one the
device's vector types can compute.
"""

from __future__ import annotations

from ..dtypes import bool_, float32, int32
from ..ir.node import Node
from ..ir.ops import REDUCE_OPS, Op
from .access import Access
from .graph import KernelGraph

VECTOR_DTYPES = (float32, int32, bool_)
_FLOAT_VECTOR_OPS = {
    Op.NEG,
    Op.EXP,
    Op.LOG,
    Op.SIN,
    Op.COS,
    Op.SQRT,
    Op.RECIP,
    Op.TANH,
    Op.ABS,
    Op.FLOOR,
    Op.RINT,
    Op.ASIN,
    Op.ACOS,
    Op.ATAN,
    Op.SINH,
    Op.COSH,
    Op.ERF,
    Op.EXPM1,
    Op.LOG1P,
    Op.ATAN2,
    Op.ADD,
    Op.SUB,
    Op.MUL,
    Op.DIV,
    Op.MAX,
    Op.MIN,
    Op.POW,
}
_COMMON_VECTOR_OPS = {Op.WHERE, Op.CAST, Op.CONTIGUOUS, Op.DETACH, Op.VIEW, *REDUCE_OPS}
VECTOR_OPS = {
    "float32": _FLOAT_VECTOR_OPS | _COMMON_VECTOR_OPS,
    "int32": {Op.NEG, Op.ADD, Op.SUB, Op.MUL, Op.MAX, Op.MIN, Op.AND, Op.OR, Op.XOR, Op.NOT}
    | _COMMON_VECTOR_OPS,
    "bool": {Op.CMPLT, Op.CMPLE, Op.CMPEQ, Op.CMPNE, Op.AND, Op.OR, Op.XOR, Op.NOT, Op.MAX, Op.MIN}
    | _COMMON_VECTOR_OPS,
}


def vector_ok(n: Node) -> bool:
    """Whether elementwise or reduce node `n` can be computed on vectors of lanes."""
    if n.dtype not in VECTOR_DTYPES or n.op not in VECTOR_OPS[n.dtype.name]:
        return False
    if any(s.dtype not in VECTOR_DTYPES for s in n.src):
        return False
    # bool lanes are masks (true is -1), so ordering them would invert false < true
    return not (n.op in (Op.CMPLT, Op.CMPLE) and n.src[0].dtype == bool_)


def _leaf_ok(leaf: Node, acc: Access, key: object, varies: bool) -> bool:
    """Whether `leaf`, read through `acc`, can be loaded as lanes along `key` (contiguous,
    unwindowed, from memory) or, where it does not vary along `key`, as one scalar."""
    if key in acc.windows:
        return False
    return not varies or (
        acc.terms[key] == 1
        and leaf.dtype in VECTOR_DTYPES
        and acc.base is not None
        and acc.base.op is not Op.ARANGE
    )


def lane_values(
    graph: KernelGraph,
    accesses: dict[Node, Access],
    outputs: list[Node],
    key: object,
    reductions_vary: bool,
) -> dict[Node, bool] | None:
    """For every node computing `outputs`, whether it varies along index `key` (and so is a
    vector); reductions vary when `reductions_vary` (lanes across rows). None where some
    varying value cannot be a vector."""
    varies: dict[Node, bool] = {}
    for n in graph.order(outputs, lambda n: None):
        if graph.is_leaf(n):
            varies[n] = key in accesses[n].terms
            ok = _leaf_ok(n, accesses[n], key, varies[n])
        elif n.op in REDUCE_OPS:
            varies[n] = reductions_vary
            ok = n.dtype.name in ("float32", "int32")
        else:
            varies[n] = any(varies.get(s, False) for s in graph.operands(n))
            ok = not varies[n] or vector_ok(n)
        if not ok:
            return None
    return varies
