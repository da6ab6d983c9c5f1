"""Elementwise ops, reductions, matmul and softmax, built from the IR primitives."""

from __future__ import annotations

import builtins
import math
from collections import namedtuple
from collections.abc import Sequence

from . import dtype as dt
from .ir.node import Node, const, make, param
from .ir.ops import OP_TABLE, Op
from .tensor import Scalar, Tensor

Operand = Tensor | Scalar


# ---- broadcasting ---------------------------------------------------------------------------
def broadcast_shapes(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    """The broadcast of `shapes`, raising PyTorch's message when sizes clash."""
    ndim = builtins.max((len(s) for s in shapes), default=0)
    padded = [(1,) * (ndim - len(s)) + tuple(s) for s in shapes]
    out = []
    for i in range(ndim):
        sizes = [p[i] for p in padded]
        target = builtins.max(sizes) if 0 not in sizes else 0
        clash = [n for n in sizes if n not in (1, target)]
        if clash:
            first, second = (n for n in sizes if n != 1) if 0 in sizes or len(clash) else ()
            raise RuntimeError(f"The size of tensor a ({first}) must match the size of tensor b "
                               f"({second}) at non-singleton dimension {i}")
        out.append(target)
    return tuple(out)


def expand_node(node: Node, shape: tuple[int, ...]) -> Node:
    """Broadcast `node` to `shape`: reshape to add leading 1s, then expand."""
    if node.shape == shape:
        return node
    if len(node.shape) < len(shape):
        node = make(Op.RESHAPE, (node,), (1,) * (len(shape) - len(node.shape)) + node.shape)
    return node if node.shape == shape else make(Op.EXPAND, (node,), shape)


def _operand_type(operands: Sequence[Operand]) -> dt.DType:
    dims = [o.dtype for o in operands if isinstance(o, Tensor) and o.ndim > 0]
    zero_dims = [o.dtype for o in operands if isinstance(o, Tensor) and o.ndim == 0]
    scalars = [o for o in operands if not isinstance(o, Tensor)]
    return dt.result_type(dims, zero_dims, scalars)


def _as_tensor_like(x: object, ref: Tensor) -> Operand:
    if isinstance(x, Tensor):
        ref._check_device(x)
        return x
    if isinstance(x, bool | int | float):
        return x
    if hasattr(x, "item") and getattr(x, "ndim", 1) == 0:  # NumPy scalars
        return x.item()  # type: ignore[attr-defined]
    from .creation import tensor

    return tensor(x, device=ref.device)


def elementwise(op: Op, name: str, operands: Sequence[Operand], compute: dt.DType | None = None
                ) -> Tensor:
    """Record `op` over `operands` (tensors or Python scalars) with PyTorch's promotion and
    broadcasting. `compute` overrides the dtype the operands are cast to."""
    ref = next(o for o in operands if isinstance(o, Tensor))
    operands = [_as_tensor_like(o, ref) for o in operands]
    ctype = compute or _operand_type(operands)
    shape = broadcast_shapes(*(o._node.shape for o in operands if isinstance(o, Tensor)))
    srcs = []
    for o in operands:
        if isinstance(o, Tensor):
            srcs.append(expand_node(o._cast_node(ctype), shape))
        else:
            srcs.append(param(o, ctype, shape))
    inputs = tuple(o if isinstance(o, Tensor) else None for o in operands)
    return ref._result(make(op, tuple(srcs)), name, inputs)


def _float_type(operands: Sequence[Operand]) -> dt.DType:
    t = _operand_type(operands)
    return t if t.is_floating_point else dt.default_float


def binary(op: Op, name: str, a: Operand, b: Operand) -> Tensor:
    """A binary op; true division and float-only ops compute in a floating dtype."""
    if OP_TABLE[op].float_only:
        return elementwise(op, name, (a, b), _float_type((a, b)))
    if op in (Op.AND, Op.OR, Op.XOR):
        t = _operand_type([_as_tensor_like(x, _ref(a, b)) for x in (a, b)])
        if t.is_floating_point:
            raise RuntimeError(f'"bitwise_{op.value}_cpu" not implemented for \'Float\'')
    return elementwise(op, name, (a, b))


def compare(op: Op, a: Operand, b: Operand) -> Tensor:
    """A comparison: operands promoted together, result bool, no gradient."""
    out = elementwise(op, "", (a, b))
    out._requires_grad, out.grad_fn = False, None
    return out


def _ref(a: Operand, b: Operand) -> Tensor:
    return a if isinstance(a, Tensor) else b  # type: ignore[return-value]


def unary(op: Op, name: str, x: Tensor) -> Tensor:
    """A unary op; float-only ops promote integer inputs to float32."""
    compute = _float_type([x]) if OP_TABLE[op].float_only else x.dtype
    return x._result(make(op, (x._cast_node(compute),)), name, (x,))


def _renamed(t: Tensor, name: str) -> Tensor:
    """Give a composite's result the grad_fn name PyTorch shows for it."""
    if t.grad_fn is not None:
        t.grad_fn._name = name
    return t


# ---- elementwise methods ---------------------------------------------------------------------
def add(a: Tensor, b: Operand, alpha: Scalar = 1) -> Tensor:
    if a.dtype == dt.bool_ and isinstance(b, Tensor) and b.dtype == dt.bool_:
        return binary(Op.OR, "AddBackward0", a, b)
    return binary(Op.ADD, "AddBackward0", a, b if alpha == 1 else b * alpha)


def sub(a: Tensor, b: Operand, alpha: Scalar = 1) -> Tensor:
    return binary(Op.SUB, "SubBackward0", a, b if alpha == 1 else b * alpha)


def mul(a: Tensor, b: Operand) -> Tensor:
    if a.dtype == dt.bool_ and isinstance(b, Tensor) and b.dtype == dt.bool_:
        return binary(Op.AND, "MulBackward0", a, b)
    return binary(Op.MUL, "MulBackward0", a, b)


def div(a: Tensor, b: Operand, rounding_mode: str | None = None) -> Tensor:
    if rounding_mode == "floor":
        return floor_divide(a, b)
    if rounding_mode == "trunc":
        q = binary(Op.DIV, "DivBackward0", a, b)
        q = where(q < 0, -unary(Op.FLOOR, "FloorBackward0", -q), unary(Op.FLOOR, "", q))
        t = _operand_type([a, b])
        return q if t.is_floating_point else q._cast(t)
    return binary(Op.DIV, "DivBackward0", a, b)


def floor_divide(a: Operand, b: Operand) -> Tensor:
    return binary(Op.IDIV, "DivBackward1", a, b)


def remainder(a: Operand, b: Operand) -> Tensor:
    return binary(Op.MOD, "RemainderBackward0", a, b)


def pow(a: Operand, b: Operand) -> Tensor:  # noqa: A001 - torch.pow
    return binary(Op.POW, "PowBackward0" if not isinstance(b, Tensor) else "PowBackward1", a, b)


def maximum(a: Tensor, b: Operand) -> Tensor:
    return binary(Op.MAX, "MaximumBackward0", a, b)


def minimum(a: Tensor, b: Operand) -> Tensor:
    return binary(Op.MIN, "MinimumBackward0", a, b)


def neg(x: Tensor) -> Tensor:
    if x.dtype == dt.bool_:
        raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. If "
                           "you are trying to invert a mask, use the `~` or `logical_not()` "
                           "operator instead.")
    return unary(Op.NEG, "NegBackward0", x)


def abs(x: Tensor) -> Tensor:  # noqa: A001
    return unary(Op.ABS, "AbsBackward0", x)


def exp(x: Tensor) -> Tensor:
    return unary(Op.EXP, "ExpBackward0", x)


def log(x: Tensor) -> Tensor:
    return unary(Op.LOG, "LogBackward0", x)


def log2(x: Tensor) -> Tensor:
    return _renamed(log(x) * (1 / math.log(2)), "Log2Backward0")


def sqrt(x: Tensor) -> Tensor:
    return unary(Op.SQRT, "SqrtBackward0", x)


def rsqrt(x: Tensor) -> Tensor:
    return _renamed(reciprocal(sqrt(x)), "RsqrtBackward0")


def sin(x: Tensor) -> Tensor:
    return unary(Op.SIN, "SinBackward0", x)


def cos(x: Tensor) -> Tensor:
    return unary(Op.COS, "CosBackward0", x)


def tanh(x: Tensor) -> Tensor:
    return unary(Op.TANH, "TanhBackward0", x)


def reciprocal(x: Tensor) -> Tensor:
    return unary(Op.RECIP, "ReciprocalBackward0", x)


def floor(x: Tensor) -> Tensor:
    return x if not x.dtype.is_floating_point else unary(Op.FLOOR, "FloorBackward0", x)


def sigmoid(x: Tensor) -> Tensor:
    return _renamed(reciprocal(exp(-_floatify(x)) + 1), "SigmoidBackward0")


def relu(x: Tensor) -> Tensor:
    return _renamed(maximum(x, 0 if not x.dtype.is_floating_point else 0.0), "ReluBackward0")


def sign(x: Tensor) -> Tensor:
    if x.dtype == dt.bool_:
        return x
    pos = compare(Op.CMPLT, 0, x)._cast(x.dtype)
    neg_ = compare(Op.CMPLT, x, 0)._cast(x.dtype)
    return (pos - neg_).detach() if x.requires_grad else pos - neg_


def clamp(x: Tensor, min: Operand | None = None, max: Operand | None = None) -> Tensor:  # noqa: A002
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    out = x
    if min is not None:
        out = maximum(out, min)
    if max is not None:
        out = minimum(out, max)
    return _renamed(out, "ClampBackward1")


def where(condition: Tensor, x: Operand, y: Operand) -> Tensor:
    """`x` where `condition` holds, else `y` (broadcast together)."""
    ref = next(o for o in (x, y, condition) if isinstance(o, Tensor))
    x, y = _as_tensor_like(x, ref), _as_tensor_like(y, ref)
    condition = _as_tensor_like(condition, ref)  # type: ignore[assignment]
    ctype = _operand_type([x, y])
    shape = broadcast_shapes(*(o._node.shape for o in (condition, x, y) if isinstance(o, Tensor)))
    srcs = [expand_node(condition._cast_node(dt.bool_), shape)]
    for o in (x, y):
        srcs.append(expand_node(o._cast_node(ctype), shape) if isinstance(o, Tensor)
                    else const(o, ctype, shape))
    inputs = (None, x if isinstance(x, Tensor) else None, y if isinstance(y, Tensor) else None)
    return ref._result(make(Op.WHERE, tuple(srcs)), "WhereBackward0", inputs)


def _floatify(x: Tensor) -> Tensor:
    return x if x.dtype.is_floating_point else x._cast(dt.default_float)


def logical_not(x: Tensor) -> Tensor:
    return compare(Op.CMPEQ, x._cast(dt.bool_), False)


def invert(x: Tensor) -> Tensor:
    if x.dtype.is_floating_point:
        raise TypeError("~ (bitwise_not) is only supported for integer and bool tensors")
    return x._result(make(Op.NOT, (x._node,)), "", (None,))


# ---- reductions ---------------------------------------------------------------------------
def _reduce(x: Tensor, op: Op, dim: int | Sequence[int] | None, keepdim: bool, name: str
            ) -> Tensor:
    axes = x._dims(dim) if x.ndim else ()
    node = x._node
    if axes:
        node = make(op, (node,), axes)
    if not keepdim and axes:
        node = make(Op.RESHAPE, (node,), tuple(n for i, n in enumerate(x.shape) if i not in axes))
    return x._result(node, name, (x,))


def _accumulating(x: Tensor) -> Tensor:
    return x if x.dtype.is_floating_point else x._cast(dt.int64)


def sum(x: Tensor, dim: int | Sequence[int] | None = None, keepdim: bool = False,  # noqa: A001
        dtype: object = None) -> Tensor:
    x = _accumulating(x) if dtype is None else x._cast(dt.to_dtype(dtype))
    return _reduce(x, Op.SUM, dim, keepdim, "SumBackward0" if dim is None else "SumBackward1")


def prod(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    return _reduce(_accumulating(x), Op.PROD, dim, keepdim, "ProdBackward0")


def mean(x: Tensor, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
    if not x.dtype.is_floating_point:
        raise RuntimeError("mean(): could not infer output dtype. Input dtype must be either a "
                           f"floating point or complex dtype. Got: {_type_word(x.dtype)}")
    axes = x._dims(dim) if x.ndim else ()
    count = math.prod(x.shape[a] for a in axes)
    total = sum(x, dim, keepdim)
    out = total * (1.0 / count) if count else total / 0.0
    return _renamed(out, "MeanBackward0" if dim is None else "MeanBackward1")


def _type_word(d: dt.DType) -> str:
    return {"int32": "Int", "int64": "Long", "bool": "Bool"}.get(d.name, d.name)


def _check_nonempty(x: Tensor, fn: str, dim: object) -> None:
    if x.numel() == 0 and (dim is None or x.shape[x._dim(dim)] == 0):  # type: ignore[arg-type]
        raise IndexError(f"{fn}(): Expected reduction dim to be specified for input.numel() == 0."
                         if dim is None else
                         f"{fn}(): Expected reduction dim {dim} to have non-zero size.")


_MinMax = {"max": namedtuple("max", ["values", "indices"]),
           "min": namedtuple("min", ["values", "indices"])}


def max(x: Tensor, dim: int | Tensor | None = None, keepdim: bool = False):  # noqa: A001, ANN201
    """Max of all elements, `max(dim)` → (values, indices), or `max(other)` elementwise."""
    if isinstance(dim, Tensor):
        return maximum(x, dim)
    _check_nonempty(x, "max", dim)
    source = x._cast(dt.int64) if x.dtype == dt.bool_ else x
    values = _reduce(source, Op.RMAX, dim, keepdim, "MaxBackward1" if dim is None
                     else "MaxBackward0")._cast(x.dtype)
    if dim is None:
        return values
    return _MinMax["max"](values, argmax(x, dim, keepdim))


def min(x: Tensor, dim: int | Tensor | None = None, keepdim: bool = False):  # noqa: A001, ANN201
    """Min of all elements, `min(dim)` → (values, indices), or `min(other)` elementwise."""
    if isinstance(dim, Tensor):
        return minimum(x, dim)
    _check_nonempty(x, "min", dim)
    flipped = logical_not(x) if x.dtype == dt.bool_ else -x
    best = max(flipped, dim, keepdim)
    values = logical_not(best) if x.dtype == dt.bool_ else _renamed(
        -(best if dim is None else best.values), "MinBackward1" if dim is None else "MinBackward0")
    if dim is None:
        return values
    return _MinMax["min"](values, argmin(x, dim, keepdim))


def argmax(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the first maximal element (over the flattened tensor when dim is None)."""
    if dim is None:
        flat = x.detach().reshape(-1)
        out = argmax(flat, 0)
        return out.reshape([1] * x.ndim) if keepdim else out
    _check_nonempty(x, "argmax", dim)
    d = x._dim(dim)
    x = x.detach()
    if x.ndim == 0:
        from .creation import zeros

        return zeros((), dtype=dt.int64, device=x.device)
    source = x._cast(dt.int64) if x.dtype == dt.bool_ else x
    best = _reduce(source, Op.RMAX, d, True, "")
    n = x.shape[d]
    from .creation import arange

    index = arange(n, device=x.device).reshape([n if i == d else 1 for i in range(x.ndim)])
    is_best = compare(Op.CMPEQ, source, best)
    if x.dtype.is_floating_point:
        is_best = is_best | compare(Op.CMPNE, x, x)  # NaN counts as the max, as in PyTorch
    candidates = where(is_best, index, n)
    return -_reduce(-candidates, Op.RMAX, d, keepdim, "")


def argmin(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the first minimal element."""
    flipped = logical_not(x) if x.dtype == dt.bool_ else -x.detach()
    return argmax(flipped, dim, keepdim)


def var(x: Tensor, dim: int | Sequence[int] | None = None, unbiased: bool | None = None,
        keepdim: bool = False, *, correction: int | None = None) -> Tensor:
    """Variance with Bessel's correction by default (`correction=1`)."""
    if correction is None:
        correction = 0 if unbiased is False else 1
    axes = x._dims(dim) if x.ndim else ()
    n = math.prod(x.shape[a] for a in axes)
    centered = x - mean(x, dim, keepdim=True)
    total = sum(centered * centered, dim, keepdim)
    denom = n - correction
    out = total * (1.0 / denom) if denom > 0 else total / 0.0
    return _renamed(out, "VarBackward0")


def std(x: Tensor, dim: int | Sequence[int] | None = None, unbiased: bool | None = None,
        keepdim: bool = False, *, correction: int | None = None) -> Tensor:
    """Standard deviation: the square root of `var`."""
    return _renamed(sqrt(var(x, dim, unbiased, keepdim, correction=correction)), "StdBackward0")


def logsumexp(x: Tensor, dim: int | Sequence[int], keepdim: bool = False) -> Tensor:
    """log(sum(exp(x))) computed stably."""
    x = _floatify(x)
    m = _reduce(x, Op.RMAX, dim, True, "").detach()
    m = where(compare(Op.CMPEQ, abs(m), math.inf), 0.0, m)
    out = log(sum(exp(x - m), dim, keepdim=True)) + m
    if not keepdim:
        out = out.squeeze(x._dims(dim))
    return _renamed(out, "LogsumexpBackward0")


def softmax(x: Tensor, dim: int, dtype: object = None) -> Tensor:
    """exp(x) / sum(exp(x)) along `dim`, shifted by the max for stability."""
    x = _floatify(x) if dtype is None else x._cast(dt.to_dtype(dtype))
    shifted = x - _reduce(x, Op.RMAX, dim, True, "").detach()
    e = exp(shifted)
    return _renamed(e / sum(e, dim, keepdim=True), "SoftmaxBackward0")


def log_softmax(x: Tensor, dim: int, dtype: object = None) -> Tensor:
    """x - logsumexp(x) along `dim`."""
    x = _floatify(x) if dtype is None else x._cast(dt.to_dtype(dtype))
    shifted = x - _reduce(x, Op.RMAX, dim, True, "").detach()
    return _renamed(shifted - log(sum(exp(shifted), dim, keepdim=True)), "LogSoftmaxBackward0")


# ---- linear algebra -------------------------------------------------------------------------
def matmul(a: Tensor, b: Tensor) -> Tensor:
    """Matrix product with NumPy's 1-D and batch-broadcasting rules."""
    if not isinstance(b, Tensor):
        raise TypeError(f"matmul(): argument 'other' must be Tensor, not {type(b).__name__}")
    a._check_device(b)
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are "
                           f"{a.ndim}D and {b.ndim}D")
    ctype = dt.promote_types(a.dtype, b.dtype)
    x = a._cast_node(ctype)
    y = b._cast_node(ctype)
    if a.ndim == 1:
        x = make(Op.RESHAPE, (x,), (1,) + x.shape)
    if b.ndim == 1:
        y = make(Op.RESHAPE, (y,), y.shape + (1,))
    _check_matmul(a, b, x.shape, y.shape)
    batch = broadcast_shapes(x.shape[:-2], y.shape[:-2])
    x = expand_node(x, batch + x.shape[-2:])
    y = expand_node(y, batch + y.shape[-2:])
    node = make(Op.DOT, (x, y))
    out_shape = batch + (x.shape[-2],) * (a.ndim > 1) + (y.shape[-1],) * (b.ndim > 1)
    if node.shape != out_shape:
        node = make(Op.RESHAPE, (node,), out_shape)
    name = {(1, 1): "DotBackward0", (2, 1): "MvBackward0", (2, 2): "MmBackward0"}.get(
        (a.ndim, b.ndim), "BmmBackward0" if a.ndim == b.ndim == 3 else "MmBackward0")
    return a._result(node, name, (a, b))


def _check_matmul(a: Tensor, b: Tensor, xs: tuple[int, ...], ys: tuple[int, ...]) -> None:
    if xs[-1] == ys[-2]:
        return
    if a.ndim == 1 and b.ndim == 1:
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{a.shape[0]}] and src "
                           f"[{b.shape[0]}] to have the same number of elements, but got "
                           f"{a.shape[0]} and {b.shape[0]} elements respectively")
    if a.ndim <= 2 and b.ndim <= 2:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({xs[-2]}x{xs[-1]} and "
                           f"{ys[-2]}x{ys[-1]})")
    raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                       f"[{xs[0]}, {xs[-1]}] but got: [{ys[0]}, {ys[-2]}].")
