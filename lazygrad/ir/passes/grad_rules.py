"""Gradient rules: each primitive op's vector-Jacobian product, as IR construction.

`GRAD_RULES[op](node, grad)` returns one gradient node (or None) per source of
`node`. Movement ops' rules are their inverses (expand <-> sum over the broadcast
axes, pad <-> shrink, permute <-> inverse permute), so gradients through
broadcasting come back in the input's shape.

A composite op whose chain rule through its primitives is numerically poor (sigmoid's
exp(-x) overflows where its derivative is tiny) registers a rule of its own with
`composite`; `rule_for` says which rule and sources the autodiff pass applies to a node.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable

from ..node import Node, const, make
from ..ops import Op

Grads = tuple["Node | None", ...]
Rule = Callable[[Node, Node], Grads]


def _c(value: float, like: Node) -> Node:
    return const(value, like.dtype, like.shape)


def add(a: Node, b: Node) -> Node:
    return make(Op.ADD, (a, b))


def mul(a: Node, b: Node) -> Node:
    return make(Op.MUL, (a, b))


def neg(a: Node) -> Node:
    return make(Op.NEG, (a,))


def where(c: Node, a: Node, b: Node) -> Node:
    return make(Op.WHERE, (c, a, b))


def _zero_where(cond: Node, g: Node) -> Node:
    return where(cond, _c(0, g), g)


def sum_to(g: Node, shape: tuple[int, ...]) -> Node:
    """Sum `g` over the axes where `shape` has 1 and `g` does not (undo an expand)."""
    axes = tuple(i for i, (n, m) in enumerate(zip(shape, g.shape, strict=True)) if n == 1 != m)
    return make(Op.SUM, (g,), axes) if axes else g


def _float_only(node: Node, grad: Node | None) -> Node | None:
    return grad if grad is not None and node.dtype.is_floating_point else None


def _is_python_scalar(node: Node) -> bool:
    while node.op in (Op.RESHAPE, Op.EXPAND):
        node = node.src[0]
    return node.op is Op.PARAM


def _maximum(node: Node, g: Node) -> Grads:
    """Ties split the gradient in half, like PyTorch's maximum/minimum (tensors only there,
    constant ones included); against a Python scalar, as in relu, the tie goes to the scalar."""
    x, y = node.src
    x_wins = make(Op.CMPEQ, (node, x))
    y_wins = make(Op.CMPEQ, (node, y))
    half = mul(g, _c(0.5, g))
    if _is_python_scalar(y):
        # x > c exactly where max(x, c) > c (NaN included): comparing the result instead of
        # x lets a kernel that keeps only relu(x) serve the backward pass too
        wins = make(Op.CMPLT, (y, node) if node.op is Op.MAX else (node, y))
        return where(wins, g, _c(0, g)), None
    gx = where(x_wins, where(y_wins, half, g), _c(0, g))
    gy = where(y_wins, where(x_wins, half, g), _c(0, g))
    return gx, gy


def _reduce_max(node: Node, g: Node) -> Grads:
    """The gradient is shared evenly between the elements equal to the max (the NaNs, when
    the max is NaN), like PyTorch's max() and amax(); max(dim) picks one element instead."""
    x = node.src[0]
    expanded = make(Op.EXPAND, (node,), x.shape)
    nan = make(Op.AND, (make(Op.CMPNE, (x, x)), make(Op.CMPNE, (expanded, expanded))))
    hit = make(Op.CAST, (make(Op.OR, (make(Op.CMPEQ, (x, expanded)), nan)),), x.dtype)
    count = make(Op.EXPAND, (make(Op.SUM, (hit,), node.arg),), x.shape)
    return (mul(make(Op.DIV, (make(Op.EXPAND, (g,), x.shape), count)), hit),)


def _dot(node: Node, g: Node) -> Grads:
    a, b = node.src
    n = len(a.shape)
    swap = tuple(range(n - 2)) + (n - 1, n - 2)
    if b.op is Op.PERMUTE and b.arg == swap:  # x @ w.T (nn.Linear): w's gradient is g.T @ x,
        # computed in w's layout so that an update of w can fuse into the contraction
        gb = make(Op.PERMUTE, (make(Op.DOT, (make(Op.PERMUTE, (g,), swap), a)),), swap)
    else:
        gb = make(Op.DOT, (make(Op.PERMUTE, (a,), swap), g))
    if a.op is Op.PERMUTE and a.arg == swap:  # the same for w.T @ x
        ga = make(Op.PERMUTE, (make(Op.DOT, (b, make(Op.PERMUTE, (g,), swap))),), swap)
    else:
        ga = make(Op.DOT, (g, make(Op.PERMUTE, (b,), swap)))
    return ga, gb


def _permute(node: Node, g: Node) -> Grads:
    inverse = [0] * len(node.arg)  # type: ignore[arg-type]
    for i, p in enumerate(node.arg):  # type: ignore[union-attr]
        inverse[p] = i
    return (make(Op.PERMUTE, (g,), tuple(inverse)),)


def _pad(node: Node, g: Node) -> Grads:
    src = node.src[0]
    return (
        make(
            Op.SHRINK,
            (g,),
            tuple((lo, lo + n) for (lo, _), n in zip(node.arg, src.shape, strict=True)),
        ),
    )  # type: ignore


def _shrink(node: Node, g: Node) -> Grads:
    src = node.src[0]
    return (
        make(
            Op.PAD,
            (g,),
            tuple((lo, n - hi) for (lo, hi), n in zip(node.arg, src.shape, strict=True)),
        ),
    )  # type: ignore


def _gather(node: Node, g: Node) -> Grads:
    src, idx = node.src
    zeros = const(0, src.dtype, src.shape)
    return make(Op.SCATTER, (zeros, idx, g), "add"), None


def _scatter(node: Node, g: Node) -> Grads:
    dst, idx, val = node.src
    g_val = make(Op.GATHER, (g, idx))
    if node.arg == "add":
        return g, None, g_val
    return make(Op.SCATTER, (g, idx, const(0, g.dtype, idx.shape)), "set"), None, g_val


def _pow(node: Node, g: Node) -> Grads:
    x, y = node.src
    from .simplify import const_value

    y_minus_1 = make(Op.SUB, (y, _c(1, y)))
    gx = mul(g, mul(y, make(Op.POW, (x, y_minus_1))))
    if const_value(y) is not None:
        return gx, None
    safe_log = where(make(Op.CMPEQ, (x, _c(0, x))), _c(0, x), make(Op.LOG, (x,)))
    return gx, mul(g, mul(node, safe_log))


def _abs(node: Node, g: Node) -> Grads:
    x = node.src[0]
    zero = _c(0, x)
    return (
        where(make(Op.CMPLT, (x, zero)), neg(g), where(make(Op.CMPLT, (zero, x)), g, _c(0, g))),
    )


def _mod(node: Node, g: Node) -> Grads:
    x, y = node.src
    return g, neg(mul(g, make(Op.FLOOR, (make(Op.DIV, (x, y)),))))


def _one_over_root_of_one_minus_square(x: Node) -> Node:
    """1 / sqrt(1 - x * x): inf at |x| = 1 and NaN beyond, as PyTorch's asin/acos grads."""
    return make(Op.RECIP, (make(Op.SQRT, (make(Op.SUB, (_c(1, x), mul(x, x))),)),))


def _erf(node: Node, g: Node) -> Grads:
    x = node.src[0]
    return (mul(g, mul(_c(2 / math.sqrt(math.pi), x), make(Op.EXP, (neg(mul(x, x)),)))),)


def _atan2(node: Node, g: Node) -> Grads:
    """PyTorch's atan2 rule: g * x / (x² + y²) for y and -g * y / (x² + y²) for x."""
    y, x = node.src
    recip = make(Op.RECIP, (add(mul(y, y), mul(x, x)),))
    return mul(mul(g, x), recip), mul(mul(g, neg(y)), recip)


def _fmod(node: Node, g: Node) -> Grads:
    """g for the dividend; -g * trunc(x / y) for the divisor (PyTorch's rule)."""
    x, y = node.src
    q = make(Op.DIV, (x, y))
    below = make(Op.CMPLT, (q, _c(0, q)))
    truncated = where(below, neg(make(Op.FLOOR, (neg(q),))), make(Op.FLOOR, (q,)))
    return g, neg(mul(g, truncated))


def _cast(node: Node, g: Node) -> Grads:
    src = node.src[0]
    return (make(Op.CAST, (g,), src.dtype) if src.dtype.is_floating_point else None,)


def _copy(node: Node, g: Node) -> Grads:
    source_device, target_device = node.arg  # type: ignore[misc]
    return (make(Op.COPY, (g,), (target_device, source_device)),)


def _prod(node: Node, g: Node) -> Grads:
    """Each element's gradient is the product of the others, as in PyTorch: result / x where
    x is not zero; at a zero, the product of the rest when it is its slice's only zero, else 0."""
    x = node.src[0]

    def spread(n: Node) -> Node:
        return make(Op.EXPAND, (n,), x.shape)

    is_zero = make(Op.CMPEQ, (x, _c(0, x)))
    zeros = make(Op.SUM, (make(Op.CAST, (is_zero,), x.dtype),), node.arg)
    rest = make(Op.PROD, (where(is_zero, _c(1, x), x),), node.arg)  # the non-zero elements
    at_zero = where(make(Op.CMPEQ, (zeros, _c(1, zeros))), rest, _c(0, rest))
    others = where(is_zero, spread(at_zero), make(Op.DIV, (spread(node), x)))
    return (mul(spread(g), others),)


GRAD_RULES: dict[Op, Rule] = {
    Op.NEG: lambda n, g: (neg(g),),
    Op.EXP: lambda n, g: (mul(g, n),),
    Op.LOG: lambda n, g: (make(Op.DIV, (g, n.src[0])),),
    Op.SIN: lambda n, g: (mul(g, make(Op.COS, (n.src[0],))),),
    Op.COS: lambda n, g: (neg(mul(g, make(Op.SIN, (n.src[0],)))),),
    Op.SQRT: lambda n, g: (make(Op.DIV, (g, mul(n, _c(2, n)))),),
    Op.RECIP: lambda n, g: (neg(mul(g, mul(n, n))),),
    Op.TANH: lambda n, g: (mul(g, make(Op.SUB, (_c(1, n), mul(n, n)))),),
    Op.ABS: _abs,
    Op.FLOOR: lambda n, g: (_c(0, g),),  # a step function: zero, as in PyTorch
    Op.RINT: lambda n, g: (_c(0, g),),
    Op.ASIN: lambda n, g: (mul(g, _one_over_root_of_one_minus_square(n.src[0])),),
    Op.ACOS: lambda n, g: (neg(mul(g, _one_over_root_of_one_minus_square(n.src[0]))),),
    Op.ATAN: lambda n, g: (make(Op.DIV, (g, add(_c(1, n), mul(n.src[0], n.src[0])))),),
    Op.SINH: lambda n, g: (mul(g, make(Op.COSH, (n.src[0],))),),
    Op.COSH: lambda n, g: (mul(g, make(Op.SINH, (n.src[0],))),),
    Op.ERF: _erf,
    Op.EXPM1: lambda n, g: (mul(g, add(n, _c(1, n))),),
    Op.LOG1P: lambda n, g: (make(Op.DIV, (g, add(n.src[0], _c(1, n)))),),
    Op.CAST: _cast,
    Op.ADD: lambda n, g: (g, g),
    Op.SUB: lambda n, g: (g, neg(g)),
    Op.MUL: lambda n, g: (mul(g, n.src[1]), mul(g, n.src[0])),
    Op.DIV: lambda n, g: (make(Op.DIV, (g, n.src[1])), neg(mul(make(Op.DIV, (g, n.src[1])), n))),
    Op.MOD: _mod,
    Op.MAX: _maximum,
    Op.MIN: _maximum,
    Op.POW: _pow,
    Op.ATAN2: _atan2,
    Op.FMOD: _fmod,
    Op.WHERE: lambda n, g: (None, where(n.src[0], g, _c(0, g)), _zero_where(n.src[0], g)),
    Op.SUM: lambda n, g: (make(Op.EXPAND, (g,), n.src[0].shape),),
    Op.RMAX: _reduce_max,
    Op.PROD: _prod,
    Op.DOT: _dot,
    Op.RESHAPE: lambda n, g: (make(Op.RESHAPE, (g,), n.src[0].shape),),
    Op.PERMUTE: _permute,
    Op.EXPAND: lambda n, g: (sum_to(g, n.src[0].shape),),
    Op.PAD: _pad,
    Op.SHRINK: _shrink,
    Op.FLIP: lambda n, g: (make(Op.FLIP, (g,), n.arg),),
    Op.GATHER: _gather,
    Op.SCATTER: _scatter,
    Op.CONTIGUOUS: lambda n, g: (g,),
    Op.DETACH: lambda n, g: (None,),
    Op.COPY: _copy,
}


# composite output node -> (the nodes it is a function of, its rule over those)
_COMPOSITES: weakref.WeakKeyDictionary[Node, tuple[tuple[Node, ...], Rule]] = (
    weakref.WeakKeyDictionary()
)


_COMPOSITE_OPS: set[Op] = set()  # the ops of composite outputs: only those are looked up


def composite(out: Node, inputs: tuple[Node, ...], rule: Rule) -> Node:
    """Differentiate `out`, a function of `inputs` built from primitives, with `rule(out, g)`
    (one gradient per input) instead of the chain rule through the primitives between them.

    The rule must be the exact derivative: nodes are interned, so an equal graph built
    elsewhere shares the rule, which may then only change rounding, never the value."""
    _COMPOSITES[out] = (inputs, rule)
    _COMPOSITE_OPS.add(out.op)
    return out


def rule_for(node: Node) -> tuple[tuple[Node, ...], Rule | None]:
    """The sources the autodiff pass sends `node`'s gradient to, and the rule it applies."""
    found = _COMPOSITES.get(node) if node.op in _COMPOSITE_OPS else None
    return found if found is not None else (node.src, GRAD_RULES.get(node.op))


def sigmoid_grad(s: Node, g: Node) -> Grads:
    """sigmoid's gradient from its output, g * (1 - s) * s (PyTorch's order): finite where
    the chain rule through 1 / (1 + exp(-x)) gives 0 * inf."""
    return (mul(mul(g, make(Op.SUB, (_c(1, s), s))), s),)
