"""Elementwise ops, reductions, matmul and softmax, built from the IR primitives."""

from __future__ import annotations

import builtins
import math
from collections.abc import Callable, Sequence

import numpy as np

from .. import dtypes as dt
from .. import recording
from ..autograd_state import is_grad_enabled
from ..ir.node import Node, const, make
from ..ir.node import param as _node_param
from ..ir.ops import OP_TABLE, Op
from ..ir.passes import grad_rules
from ..tensor import Scalar, Tensor

Operand = Tensor | Scalar


# ---- broadcasting ---------------------------------------------------------------------------
def broadcast_shapes(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    """The broadcast of `shapes`, raising PyTorch's message when sizes clash.

    Shapes are combined left to right, each pair compared from the last dimension backwards,
    so the error names the same sizes and dimension as PyTorch's."""
    out: tuple[int, ...] = ()
    for i, shape in enumerate(shapes):
        out = tuple(shape) if i == 0 else _broadcast_pair(out, tuple(shape))
    return out


def _broadcast_pair(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    ndim = builtins.max(len(a), len(b))
    out = [0] * ndim
    for i in range(ndim - 1, -1, -1):
        size_a = a[i - ndim + len(a)] if i - ndim + len(a) >= 0 else 1
        size_b = b[i - ndim + len(b)] if i - ndim + len(b) >= 0 else 1
        if size_a != size_b and size_a != 1 and size_b != 1:
            raise RuntimeError(
                f"The size of tensor a ({size_a}) must match the size of tensor b "
                f"({size_b}) at non-singleton dimension {i}"
            )
        out[i] = size_b if size_a == 1 else size_a
    return tuple(out)


def expand_node(node: Node, shape: tuple[int, ...]) -> Node:
    """Broadcast `node` to `shape`: reshape to add leading 1s, then expand."""
    if node.shape == shape:
        return node
    if len(node.shape) < len(shape):
        node = make(Op.RESHAPE, (node,), (1,) * (len(shape) - len(node.shape)) + node.shape)
    return node if node.shape == shape else make(Op.EXPAND, (node,), shape)


def _operand_type(operands: Sequence[Operand]) -> dt.DType:
    dims, zero_dims, scalars = [], [], []
    for o in operands:  # one pass: this runs for most ops a user records
        if isinstance(o, Tensor):
            node = o._node
            (dims if node.shape else zero_dims).append(node.dtype)
        else:
            scalars.append(o)
    return dt.result_type(dims, zero_dims, scalars)


_OPERAND_TYPES = (Tensor, bool, int, float, np.ndarray, np.generic)


def is_operand(x: object) -> bool:
    """Whether `x` may be the other operand of a Tensor operator (else NotImplemented)."""
    return isinstance(x, _OPERAND_TYPES)


def _as_tensor_like(x: object, ref: Tensor, fn: str = "other") -> Operand:
    if isinstance(x, Tensor):
        ref._check_device(x)
        return x
    if isinstance(x, bool | int | float):
        return x
    if isinstance(x, np.generic) and x.dtype.kind in "biuf":  # NumPy scalars
        return x.item()
    if isinstance(x, np.ndarray):
        from .creation import tensor

        return tensor(x, device=ref.device)
    raise TypeError(f"{fn}(): argument 'other' must be Tensor or Number, not {type(x).__name__}")


def elementwise(
    op: Op, name: str, operands: Sequence[Operand], compute: dt.DType | None = None
) -> Tensor:
    """Record `op` over `operands` (tensors or Python scalars) with PyTorch's promotion and
    broadcasting. `compute` overrides the dtype the operands are cast to."""
    ref = next(o for o in operands if isinstance(o, Tensor))
    operands = [_as_tensor_like(o, ref) for o in operands]
    return _record(op, name, operands, compute or _operand_type(operands))


def param(value: Scalar, dtype: dt.DType, shape: tuple[int, ...] = ()) -> Node:
    """A Python scalar operand as a PARAM node of the computation's dtype; an integer
    beyond a narrow dtype wraps around as PyTorch casts it (`uint8_tensor + 256` adds 0)."""
    try:
        return _node_param(value, dtype, shape)
    except OverflowError:
        return _node_param(dt.wrap_scalar(value, dtype), dtype, shape)


def _record(op: Op, name: str, operands: Sequence[Operand], ctype: dt.DType) -> Tensor:
    """Record `op` over operands already checked and converted, computing in `ctype`."""
    # plain loops: this runs for every op a user records (W6 in tools/bench.py)
    ref: Tensor | None = None
    shape: tuple[int, ...] = ()
    for o in operands:
        if isinstance(o, Tensor):
            if ref is None:
                ref, shape = o, o._node.shape
            elif o._node.shape != shape:
                shape = _broadcast_pair(shape, o._node.shape)
    assert ref is not None
    compute = _compute_type(op, operands, ctype)
    srcs, inputs = [], []
    for o in operands:
        if isinstance(o, Tensor):
            srcs.append(expand_node(o._cast_node(compute), shape))
            inputs.append(o)
        else:
            srcs.append(param(o, compute, shape))
            inputs.append(None)
    node = make(op, tuple(srcs))
    if compute is not ctype:
        node = make(Op.CAST, (node,), ctype)
    return ref._result(node, name, tuple(inputs))


# PyTorch's CPU kernels read a Python scalar at float32 for these (`original_scalar_value`);
# `add` and `sub` round it to the tensor's dtype first (`bf16 + 0.3` adds 0.30078125)
_SCALAR_AT_FLOAT32 = frozenset((Op.MUL, Op.DIV))


def _compute_type(op: Op, operands: Sequence[Operand], ctype: dt.DType) -> dt.DType:
    """The dtype `op` computes in: `ctype`, except float32 for a product or quotient of a
    float16 or bfloat16 tensor and a Python scalar, as PyTorch computes them (`x * 0.001`:
    0.001 is not rounded to bfloat16 first; the product is rounded once)."""
    if ctype.is_narrow_float and op in _SCALAR_AT_FLOAT32:
        if any(not isinstance(o, Tensor) for o in operands):
            return dt.float32
    return ctype


def _float_type(operands: Sequence[Operand]) -> dt.DType:
    t = _operand_type(operands)
    return t if t.is_floating_point else dt.default_float


def _is_bool(x: Operand) -> bool:
    return x.dtype == dt.bool_ if isinstance(x, Tensor) else isinstance(x, bool)


def _host_values(x: Operand) -> np.ndarray | None:
    """The values of a Python scalar or of a tensor whose data is on the host already."""
    if not isinstance(x, Tensor):
        return np.asarray(x)
    if recording.active is not None:  # a check on values: a replay would not make it
        recording.active.stop_replay("an op checked the values of a tensor")
    buf = x._node.arg if x._node.op is Op.BUFFER else None
    return getattr(buf, "host", None)


def _check_binary(op: Op, a: Operand, b: Operand, ctype: dt.DType) -> None:
    """PyTorch's record-time errors for binary ops on the operand dtypes (and known zeros)."""
    if op is Op.SUB and (_is_bool(a) or _is_bool(b)):
        if _is_bool(a) and _is_bool(b):
            raise RuntimeError(
                "Subtraction, the `-` operator, with two bool tensors is not "
                "supported. Use the `^` or `logical_xor()` operator instead."
            )
        raise RuntimeError(
            "Subtraction, the `-` operator, with a bool tensor is not supported. "
            "If you are trying to invert a mask, use the `~` or `logical_not()` "
            "operator instead."
        )
    if ctype == dt.bool_ and op in _BOOL_UNSUPPORTED:
        raise NotImplementedError(f"\"{_BOOL_UNSUPPORTED[op]}\" not implemented for 'Bool'")
    if op in (Op.IDIV, Op.MOD) and not ctype.is_floating_point and _result_size(a, b):
        divisor = _host_values(b)
        if divisor is not None and divisor.size and not np.all(divisor):
            raise RuntimeError("ZeroDivisionError")
    if (
        op is Op.POW
        and not ctype.is_floating_point
        and not isinstance(b, Tensor)
        and isinstance(b, int)
        and b < 0
    ):
        raise RuntimeError("Integers to negative integer powers are not allowed.")
    if op in (Op.AND, Op.OR, Op.XOR) and ctype.is_floating_point:
        raise NotImplementedError(
            f"\"bitwise_{op.value}_cpu\" not implemented for '{ctype.torch_name}'"
        )


def _result_size(a: Operand, b: Operand) -> int:
    shapes = [tuple(x.shape) for x in (a, b) if isinstance(x, Tensor)]
    return math.prod(broadcast_shapes(*shapes))


_BOOL_UNSUPPORTED = {Op.IDIV: "div_floor_cpu", Op.MOD: "remainder_cpu", Op.POW: "pow"}
# the ops `_check_binary` has errors for
_CHECKED_OPS = frozenset((Op.SUB, Op.IDIV, Op.MOD, Op.POW, Op.AND, Op.OR, Op.XOR))


def binary(op: Op, name: str, a: Operand, b: Operand, on_bool: Op | None = None) -> Tensor:
    """A binary op; true division and float-only ops compute in a floating dtype, and
    `on_bool` replaces `op` when both operands promote to bool (`+` is `|` there)."""
    if type(b) in _NUMBERS and isinstance(a, Tensor):  # the common `x * 0.5`: no conversions
        ctype = _with_scalar(a.dtype, b)
        plain = ctype is not dt.bool_ or on_bool is None
        if op not in _CHECKED_OPS and plain and not ctype.is_narrow_float:
            if OP_TABLE[op].float_only and not ctype.is_floating_point:
                ctype = dt.default_float
            node = a._cast_node(ctype)
            scalar = param(b, ctype, node.shape)
            return a._result(make(op, (node, scalar)), name, (a, None))
    elif type(a) in _NUMBERS and isinstance(b, Tensor):
        ctype = _with_scalar(b.dtype, a)
    else:
        ref = _ref(a, b)
        a, b = _as_tensor_like(a, ref), _as_tensor_like(b, ref)
        ctype = _operand_type([a, b])
    if on_bool is not None and ctype is dt.bool_:
        op = on_bool
    if op in _CHECKED_OPS:
        _check_binary(op, a, b, ctype)
    if OP_TABLE[op].float_only and not ctype.is_floating_point:
        ctype = dt.default_float
    return _record(op, name, (a, b), ctype)


_NUMBERS = (int, float)


def _with_scalar(tensor_type: dt.DType, scalar: int | float) -> dt.DType:
    """Promotion of one tensor with one Python int/float (what `_operand_type` computes)."""
    category = 2 if type(scalar) is float else 1
    if category <= tensor_type.category:
        return tensor_type
    return dt.default_float if category == 2 else dt.int64


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


def _as_one_op(out: Tensor, name: str, inputs: tuple[Tensor | None, ...]) -> Tensor:
    """Show a composite's result as one PyTorch node: its name, with edges to `inputs`."""
    if out.grad_fn is not None:
        out.grad_fn.set_inputs(name, inputs)
    return out


def _step_function(values: Tensor, inputs: tuple[Operand, ...], name: str) -> Tensor:
    """`values`, a step function of `inputs` (sign, a rounded quotient) computed without
    their history, recorded as PyTorch does: a grad_fn whose gradient is zero everywhere.
    Each input enters as the branch of a `where(True, values, input)` that is never taken,
    which gets a zero gradient and is simplified away before any kernel runs."""
    tensors = tuple(t for t in inputs if isinstance(t, Tensor))
    if not any(t.requires_grad for t in tensors):
        return values
    node, shape = values._node, values._node.shape
    always = const(True, dt.bool_, shape)
    for t in tensors:
        if t.requires_grad:
            node = make(Op.WHERE, (always, node, expand_node(t._cast_node(node.dtype), shape)))
    return tensors[0]._result(node, name, tensors)


# ---- elementwise methods ---------------------------------------------------------------------
def _scaled(a: Operand, b: Operand, alpha: Scalar) -> Operand:
    """`b * alpha` for add/sub, with PyTorch's checks on the type of alpha."""
    if alpha == 1 and not isinstance(alpha, float | bool):
        return b
    ref = _ref(a, b)
    ctype = _operand_type([_as_tensor_like(a, ref), _as_tensor_like(b, ref)])
    if isinstance(alpha, bool) and ctype != dt.bool_:
        raise RuntimeError("Boolean alpha only supported for Boolean results.")
    if isinstance(alpha, float) and not ctype.is_floating_point:
        raise RuntimeError(
            "For integral input tensors, argument alpha must not be a floating point number."
        )
    if ctype == dt.bool_:  # bool + bool * alpha stays bool (alpha is True or truthy)
        return b if alpha else False
    return b * alpha  # type: ignore[operator]


def add(a: Operand, b: Operand, alpha: Scalar = 1) -> Tensor:
    """a + alpha * b (logical or for two bools)."""
    return binary(Op.ADD, "AddBackward0", a, _scaled(a, b, alpha), on_bool=Op.OR)


def sub(a: Operand, b: Operand, alpha: Scalar = 1) -> Tensor:
    """a - alpha * b."""
    if _is_bool(a) or _is_bool(b):
        _check_binary(Op.SUB, a, b, dt.bool_)
    return binary(Op.SUB, "SubBackward0", a, _scaled(a, b, alpha))


def rsub(a: Tensor, b: Operand) -> Tensor:
    """b - a (the reflected operator)."""
    return binary(Op.SUB, "RsubBackward1", b, a)


def mul(a: Operand, b: Operand) -> Tensor:
    """a * b (logical and for two bools)."""
    return binary(Op.MUL, "MulBackward0", a, b, on_bool=Op.AND)


def div(a: Tensor, b: Operand, rounding_mode: str | None = None) -> Tensor:
    """a / b (true division: integers give float32), or rounded with `rounding_mode`."""
    if rounding_mode == "floor":
        return floor_divide(a, b)
    if rounding_mode == "trunc":
        q = binary(Op.DIV, "", a.detach(), b.detach() if isinstance(b, Tensor) else b)
        q = where(q < 0, -unary(Op.FLOOR, "", -q), unary(Op.FLOOR, "", q))
        t = _operand_type([a, b])
        q = q if t.is_floating_point else q._cast(t)
        return _step_function(
            q, (a, b), "DivBackward2" if isinstance(b, Tensor) else "DivBackward3"
        )
    return binary(Op.DIV, "DivBackward0", a, b)


def floor_divide(a: Operand, b: Operand) -> Tensor:
    """a // b, rounding toward negative infinity."""
    return binary(Op.IDIV, "DivBackward1", a, b)


def remainder(a: Operand, b: Operand) -> Tensor:
    """a % b with the sign of the divisor (Python's and PyTorch's rule)."""
    return binary(Op.MOD, "RemainderBackward0", a, b)


def pow(input: Operand, exponent: Operand) -> Tensor:  # noqa: A001 - torch.pow
    """input ** exponent elementwise."""
    if isinstance(input, Tensor) and input.dtype == dt.bool_ and isinstance(exponent, bool):
        # PyTorch answers x ** True and x ** False without a (bool) pow kernel
        return input.clone() if exponent else where(input, True, True)
    name = "PowBackward0" if not isinstance(exponent, Tensor) else "PowBackward1"
    return binary(Op.POW, name, input, exponent)


def maximum(input: Tensor, other: Tensor) -> Tensor:
    """Elementwise maximum of two tensors (NaN propagates)."""
    _check_tensor_other("maximum", other)
    return binary(Op.MAX, "MaximumBackward0", input, other)


def minimum(input: Tensor, other: Tensor) -> Tensor:
    """Elementwise minimum of two tensors (NaN propagates)."""
    _check_tensor_other("minimum", other)
    return binary(Op.MIN, "MinimumBackward0", input, other)


def _check_tensor_other(fn: str, other: object) -> None:
    if not isinstance(other, Tensor):
        kind = type(other)
        name = (
            kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"
        )
        raise TypeError(f"{fn}(): argument 'other' (position 2) must be Tensor, not {name}")


def neg(x: Tensor) -> Tensor:
    """-x (not for bool tensors)."""
    if x.dtype == dt.bool_:
        raise RuntimeError(
            "Negation, the `-` operator, on a bool tensor is not supported. If "
            "you are trying to invert a mask, use the `~` or `logical_not()` "
            "operator instead."
        )
    return unary(Op.NEG, "NegBackward0", x)


def abs(input: Tensor) -> Tensor:  # noqa: A001
    """|x| elementwise (not for bool tensors)."""
    if input.dtype == dt.bool_:
        raise NotImplementedError("\"abs_cpu\" not implemented for 'Bool'")
    return unary(Op.ABS, "AbsBackward0", input)


def _unary_function(op: Op, grad_name: str, doc: str) -> Callable[[Tensor], Tensor]:
    def function(input: Tensor) -> Tensor:
        return unary(op, grad_name, input)

    function.__doc__ = doc
    return function


# One line per primitive unary op: the op, PyTorch's grad_fn name, what it computes.
exp = _unary_function(Op.EXP, "ExpBackward0", "e ** x elementwise (integers give float32).")
log = _unary_function(Op.LOG, "LogBackward0", "Natural logarithm elementwise.")
sqrt = _unary_function(Op.SQRT, "SqrtBackward0", "Square root elementwise.")
sin = _unary_function(Op.SIN, "SinBackward0", "Sine elementwise.")
cos = _unary_function(Op.COS, "CosBackward0", "Cosine elementwise.")
tanh = _unary_function(Op.TANH, "TanhBackward0", "Hyperbolic tangent elementwise.")
reciprocal = _unary_function(
    Op.RECIP, "ReciprocalBackward0", "1 / x elementwise (integers give float32)."
)


def log2(input: Tensor) -> Tensor:
    """Base-2 logarithm elementwise."""
    return _renamed(log(input) * (1 / math.log(2)), "Log2Backward0")


def rsqrt(input: Tensor) -> Tensor:
    """1 / sqrt(x) elementwise."""
    return _renamed(reciprocal(sqrt(input)), "RsqrtBackward0")


def floor(x: Tensor) -> Tensor:
    """The largest integer <= x, elementwise (integers are returned as they are)."""
    return x if not x.dtype.is_floating_point else unary(Op.FLOOR, "FloorBackward0", x)


def sigmoid(input: Tensor) -> Tensor:
    """1 / (1 + exp(-x)) elementwise, differentiated from its output (finite everywhere)."""
    input = _floatify(input)
    out = reciprocal(exp(-input) + 1)
    grad_rules.composite(out._node, (input._node,), grad_rules.sigmoid_grad)
    return _as_one_op(out, "SigmoidBackward0", (input,))


def relu(input: Tensor) -> Tensor:
    """max(x, 0) elementwise (not for bool tensors)."""
    if input.dtype == dt.bool_:
        raise RuntimeError("Boolean inputs not supported for relu")
    zero = 0 if not input.dtype.is_floating_point else 0.0
    return _renamed(binary(Op.MAX, "MaximumBackward0", input, zero), "ReluBackward0")


def sign(input: Tensor) -> Tensor:
    """-1, 0 or 1 by the sign of x (bools are returned as they are)."""
    if input.dtype == dt.bool_:
        return input
    pos = compare(Op.CMPLT, 0, input)._cast(input.dtype)
    neg_ = compare(Op.CMPLT, input, 0)._cast(input.dtype)
    return _step_function(pos - neg_, (input,), "SignBackward0")


def clamp(input: Tensor, min: Operand | None = None, max: Operand | None = None) -> Tensor:  # noqa: A002
    """x limited to [min, max] (either bound may be None; max wins when min > max).

    Where min <= x <= max the result is x itself, so x gets the whole gradient there, bounds
    included (PyTorch's rule); elsewhere it is max(x, min) then min(·, max), whose NaNs
    propagate and whose tensor bounds get the gradient where they are the result."""
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    limited, inside = input, None
    if min is not None:
        limited = binary(Op.MAX, "", limited, min)
        inside = compare(Op.CMPLE, min, input)
    if max is not None:
        limited = binary(Op.MIN, "", limited, max)
        below = compare(Op.CMPLE, input, max)
        inside = below if inside is None else inside & below
    assert inside is not None
    tensor_bounds = isinstance(min, Tensor) or isinstance(max, Tensor)
    if tensor_bounds and min is not None and max is not None:
        # PyTorch's masks: min gets the gradient where x < min < max, max where x > max or
        # max < min; where x < min == max (and at NaN) no input gets it
        to_min = compare(Op.CMPLT, input, min) & compare(Op.CMPLT, min, max)
        to_max = compare(Op.CMPLT, max, input) | compare(Op.CMPLT, max, min)
        limited = where(to_min, min, where(to_max, max, limited.detach()))
    out = where(inside, input, limited)
    if tensor_bounds:
        bounds = tuple(b if isinstance(b, Tensor) else None for b in (min, max))
        return _as_one_op(out, "ClampBackward0", (input, *bounds))
    return _as_one_op(out, "ClampBackward1", (input,))


def where(condition: Tensor, input: Operand, other: Operand) -> Tensor:
    """`x` where `condition` holds, else `y` (broadcast together)."""
    ref = next(o for o in (input, other, condition) if isinstance(o, Tensor))
    input, other = _as_tensor_like(input, ref, "where"), _as_tensor_like(other, ref, "where")
    condition = _as_tensor_like(condition, ref, "where")  # type: ignore[assignment]
    if not isinstance(condition, Tensor) or condition.dtype != dt.bool_:
        got = (
            condition.dtype.torch_name
            if isinstance(condition, Tensor)
            else type(condition).__name__
        )
        raise RuntimeError(
            f"where expected condition to be a boolean tensor, but got a tensor with dtype {got}"
        )
    ctype = _operand_type([input, other])
    shape = broadcast_shapes(
        *(o._node.shape for o in (condition, input, other) if isinstance(o, Tensor))
    )
    srcs = [expand_node(condition._node, shape)]
    for o in (input, other):
        srcs.append(
            expand_node(o._cast_node(ctype), shape)
            if isinstance(o, Tensor)
            else param(o, ctype, shape)
        )
    inputs = (
        None,
        input if isinstance(input, Tensor) else None,
        other if isinstance(other, Tensor) else None,
    )
    return ref._result(make(Op.WHERE, tuple(srcs)), "WhereBackward0", inputs)


def _floatify(x: Tensor) -> Tensor:
    return x if x.dtype.is_floating_point else x._cast(dt.default_float)


def logical_not(x: Tensor) -> Tensor:
    """True where x is zero (or False)."""
    return compare(Op.CMPEQ, x._cast(dt.bool_), False)


def invert(x: Tensor) -> Tensor:
    """~x: bitwise not for integers, logical not for bools."""
    if x.dtype.is_floating_point:
        raise TypeError(
            "~ (operator.invert) is only implemented on integer and Boolean-type tensors"
        )
    return x._result(make(Op.NOT, (x._node,)), "", (None,))


# ---- reductions ---------------------------------------------------------------------------
Dims = int | Sequence[int] | None


def reduce_axes(x: Tensor, dim: Dims, empty_means_all: bool = True) -> tuple[int, ...]:
    """The axes a reduction over `dim` covers, checked like PyTorch (range, repeats).

    None (and, for sum-like reductions, an empty tuple) means every axis; a 0-d tensor
    accepts dims 0 and -1 and has no axes to reduce."""
    if dim is None or (empty_means_all and isinstance(dim, Sequence) and len(dim) == 0):
        return tuple(range(x.ndim))
    dims = [dim] if isinstance(dim, int | np.integer) else list(dim)  # type: ignore[arg-type]
    axes: list[int] = []
    for d in dims:
        a = x._dim(d)
        if a in axes:
            raise RuntimeError(f"dim {a} appears multiple times in the list of dims")
        axes.append(a)
    return tuple(axes) if x.ndim else ()


def _int_dim(fn: str, dim: object) -> None:
    if not isinstance(dim, int | np.integer) or isinstance(dim, bool):
        raise TypeError(f"{fn}(): argument 'dim' must be int, not {type(dim).__name__}")


def _reduce(x: Tensor, op: Op, dim: Dims, keepdim: bool, name: str) -> Tensor:
    axes = reduce_axes(x, dim)
    node = x._node
    if axes:
        node = make(op, (node,), axes)
    if not keepdim and axes:
        node = make(Op.RESHAPE, (node,), tuple(n for i, n in enumerate(x.shape) if i not in axes))
    return x._result(node, name, (x,))


def _accumulating(x: Tensor) -> Tensor:
    return x if x.dtype.is_floating_point else x._cast(dt.int64)


def sum(
    input: Tensor,
    dim: Dims = None,
    keepdim: bool = False,  # noqa: A001
    dtype: object = None,
) -> Tensor:
    """Sum over `dim` (all dims by default); integers and bools accumulate in int64."""
    input = _accumulating(input) if dtype is None else input._cast(dt.to_dtype(dtype))
    return _reduce(input, Op.SUM, dim, keepdim, "SumBackward0" if dim is None else "SumBackward1")


def prod(
    input: Tensor, dim: int | None = None, keepdim: bool = False, dtype: object = None
) -> Tensor:
    """Product over one dim (or all elements); integers and bools accumulate in int64."""
    if dim is not None:
        _int_dim("prod", dim)
    input = _accumulating(input) if dtype is None else input._cast(dt.to_dtype(dtype))
    return _reduce(input, Op.PROD, dim, keepdim, "ProdBackward0")


def mean(input: Tensor, dim: Dims = None, keepdim: bool = False, dtype: object = None) -> Tensor:
    """Arithmetic mean over `dim` (floating dtypes only, unless `dtype` is given)."""
    if dtype is not None:
        input = input._cast(dt.to_dtype(dtype))
    if not input.dtype.is_floating_point:
        raise RuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a "
            f"floating point or complex dtype. Got: {input.dtype.torch_name}"
        )
    count = math.prod(input.shape[a] for a in reduce_axes(input, dim))
    if input.dtype.is_narrow_float:  # as PyTorch: a float32 sum divided, rounded once
        out = (sum(input._cast(dt.float32), dim, keepdim) / (count or 0.0))._cast(input.dtype)
        return _renamed(out, "MeanBackward0" if dim is None else "MeanBackward1")
    total = sum(input, dim, keepdim)
    out = total * (1.0 / count) if count else total / 0.0
    return _renamed(out, "MeanBackward0" if dim is None else "MeanBackward1")


def _check_nonempty(x: Tensor, fn: str, dim: int | None) -> None:
    if dim is None and x.numel() == 0:
        if fn.startswith("arg"):
            raise IndexError(
                f"{fn}(): Expected reduction dim to be specified for input.numel() == 0."
            )
        raise RuntimeError(
            f"{fn}(): Expected reduction dim to be specified for input.numel() == "
            "0. Specify the reduction dim with the 'dim' argument."
        )
    if dim is not None and x.ndim and x.shape[x._dim(dim)] == 0:
        raise IndexError(f"{fn}(): Expected reduction dim {x._dim(dim)} to have non-zero size.")


class _ReturnType(tuple):
    """A (values, indices) pair printed like `torch.return_types.max`.

    The indices are recorded when first asked for (unpacking, `[1]`, `.indices`): most
    callers want the values only (`x - x.max(1, keepdim=True).values`), and recording an
    argmax costs a dozen nodes."""

    __slots__ = ()
    _name = ""

    def __new__(cls, values: Tensor, indices: Callable[[], Tensor]) -> _ReturnType:
        return super().__new__(cls, (values, [indices, None]))

    def _indices(self) -> Tensor:
        box = tuple.__getitem__(self, 1)
        if box[1] is None:
            box[1] = box[0]()
        return box[1]

    def __getitem__(self, i):  # noqa: ANN001, ANN204
        if isinstance(i, slice):
            return tuple(self)[i]
        tuple.__getitem__(self, i)  # a tuple's IndexError or TypeError for a bad index
        return tuple.__getitem__(self, 0) if i in (0, -2) else self._indices()

    def __iter__(self):  # noqa: ANN204
        yield tuple.__getitem__(self, 0)
        yield self._indices()

    @property
    def values(self) -> Tensor:
        """The maximal/minimal values."""
        return tuple.__getitem__(self, 0)

    @property
    def indices(self) -> Tensor:
        """The indices of the values along the reduced dim."""
        return self._indices()

    def __repr__(self) -> str:
        return f"lazygrad.return_types.{self._name}(\nvalues={self[0]!r},\nindices={self[1]!r})"

    __str__ = __repr__


class MaxResult(_ReturnType):
    """What `max(dim)` returns."""

    __slots__ = ()
    _name = "max"


class MinResult(_ReturnType):
    """What `min(dim)` returns."""

    __slots__ = ()
    _name = "min"


MaxResult.__name__ = MaxResult.__qualname__ = "max"
MinResult.__name__ = MinResult.__qualname__ = "min"
MaxResult.__module__ = MinResult.__module__ = "lazygrad.return_types"


def _flip_order(x: Tensor) -> Tensor:
    """An order-reversing map that cannot overflow: -x for floats, ~x for ints and bools."""
    if x.dtype.is_floating_point:
        return x._result(make(Op.NEG, (x._node,)), "NegBackward0", (x,))
    return x._result(make(Op.NOT, (x._node,)), "", (None,))


def _max_values(x: Tensor, dim: int | None, keepdim: bool, name: str) -> Tensor:
    source = x._cast(dt.int64) if x.dtype == dt.bool_ else x
    return _reduce(source, Op.RMAX, dim, keepdim, name)._cast(x.dtype)


def _picks_by_index(x: Tensor) -> bool:
    """Whether max(dim)/min(dim) of x must route its gradient through the returned index."""
    return bool(x.ndim and x.numel() and x.requires_grad and is_grad_enabled())


def _picked(x: Tensor, index: Tensor, d: int, keepdim: bool, name: str) -> Tensor:
    """x's elements at `index` along dim d (index: x's shape with 1 at d), as one GATHER:
    the gradient goes to those elements only, PyTorch's rule for max(dim) and min(dim),
    whose ties send it to the (first) index they return rather than sharing it."""
    from .creation import arange

    strides = [math.prod(x.shape[a + 1 :]) for a in range(x.ndim)]
    flat = index * strides[d]
    for a, n in enumerate(x.shape):
        if a != d and n > 1:
            along = arange(n, device=x.device).reshape([n if i == a else 1 for i in range(x.ndim)])
            flat = flat + along * strides[a]
    node = make(Op.GATHER, (x._node, flat._node))
    if not keepdim:
        node = make(Op.RESHAPE, (node,), tuple(n for i, n in enumerate(x.shape) if i != d))
    return x._result(node, name, (x,))


def max(input: Tensor, dim: int | Tensor | None = None, keepdim: bool = False):  # noqa: A001, ANN201
    """Max of all elements, `max(dim)` → (values, indices), or `max(other)` elementwise."""
    if isinstance(dim, Tensor):
        return maximum(input, dim)
    if dim is not None:
        _int_dim("max", dim)
    _check_nonempty(input, "max", dim)
    if dim is None:
        return _max_values(input, dim, keepdim, "MaxBackward1")
    if _picks_by_index(input):
        index = argmax(input, dim, True, _bool_ok=True)
        values = _picked(input, index, input._dim(dim), keepdim, "MaxBackward0")
    else:
        values = _max_values(input, dim, keepdim, "MaxBackward0")
    frozen = Tensor._wrap(input._node, input.device)  # x as it is now, should it change in place
    return MaxResult(values, lambda: argmax(frozen, dim, keepdim, _bool_ok=True))


def min(input: Tensor, dim: int | Tensor | None = None, keepdim: bool = False):  # noqa: A001, ANN201
    """Min of all elements, `min(dim)` → (values, indices), or `min(other)` elementwise."""
    if isinstance(dim, Tensor):
        return minimum(input, dim)
    if dim is not None:
        _int_dim("min", dim)
    _check_nonempty(input, "min", dim)
    if dim is not None and _picks_by_index(input):
        values = _picked(input, argmin(input, dim, True), input._dim(dim), keepdim, "MinBackward0")
    else:
        flipped = _max_values(_flip_order(input), dim, keepdim, "")
        values = _renamed(_flip_order(flipped), "MinBackward1" if dim is None else "MinBackward0")
    if dim is None:
        return values
    frozen = Tensor._wrap(input._node, input.device)  # x as it is now, should it change in place
    return MinResult(values, lambda: argmin(frozen, dim, keepdim, _bool_ok=True))


def argmax(
    input: Tensor, dim: int | None = None, keepdim: bool = False, *, _bool_ok: bool = False
) -> Tensor:
    """Index of the first maximal element (over the flattened tensor when dim is None)."""
    return _arg_extreme(input, dim, keepdim, "argmax", _bool_ok)


def argmin(
    input: Tensor, dim: int | None = None, keepdim: bool = False, *, _bool_ok: bool = False
) -> Tensor:
    """Index of the first minimal element (over the flattened tensor when dim is None)."""
    return _arg_extreme(input.detach(), dim, keepdim, "argmin", _bool_ok)


def _arg_extreme(x: Tensor, dim: int | None, keepdim: bool, fn: str, bool_ok: bool) -> Tensor:
    if x.dtype == dt.bool_ and not bool_ok:
        raise RuntimeError(f"{fn}(): does not support bool input")
    if dim is not None:
        _int_dim(fn, dim)
    _check_nonempty(x, fn, dim)
    x = x.detach()
    if fn == "argmin":
        x = _flip_order(x)
    if dim is None:
        flat = x.reshape(-1)
        out = _arg_extreme(flat, 0, False, "argmax", True)
        return out.reshape([1] * x.ndim) if keepdim else out
    d = x._dim(dim)
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
    return _flip_order(_reduce(_flip_order(candidates), Op.RMAX, d, keepdim, ""))


def _var_args(
    x: Tensor, dim: object, unbiased: bool | None, correction: float | None
) -> tuple[Dims, float]:
    if not x.dtype.is_floating_point:
        raise RuntimeError("std and var only support floating point and complex dtypes")
    if isinstance(dim, bool):  # var(True): the legacy `unbiased` positional argument
        dim, unbiased = None, dim
    if correction is None:
        correction = 0 if unbiased is False else 1
    return dim, correction  # type: ignore[return-value]


def var(
    input: Tensor,
    dim: Dims = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction: float | None = None,
) -> Tensor:
    """Variance with Bessel's correction by default (`correction=1`)."""
    dim, correction = _var_args(input, dim, unbiased, correction)
    n = math.prod(input.shape[a] for a in reduce_axes(input, dim))
    centered = input - mean(input, dim, keepdim=True)
    total = sum(centered * centered, dim, keepdim)
    denom = n - correction
    if denom > 0:
        out = total * (1.0 / denom)
    elif input.dtype == dt.float64:
        out = total / 0.0
    else:  # PyTorch sums narrower floats in double: x / 0 is inf where the values differ,
        # though their squares underflow to a 0 sum here
        spread = sum(compare(Op.CMPNE, centered, 0)._cast(total.dtype), dim, keepdim)
        out = where(compare(Op.CMPEQ, total, 0) & (spread > 0), math.inf, total / 0.0)
    return _renamed(out, "VarBackward0")


def std(
    input: Tensor,
    dim: Dims = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction: float | None = None,
) -> Tensor:
    """Standard deviation: the square root of `var`."""
    dim, correction = _var_args(input, dim, unbiased, correction)
    v = var(input, dim, keepdim=keepdim, correction=correction)
    # a zero variance reaches sqrt through a `where`, whose gradient there is 0 (PyTorch masks
    # std's gradient where std == 0) instead of g / 0 times the zero deviations, NaN
    return _renamed(sqrt(where(compare(Op.CMPEQ, v, 0), 0.0, v)), "StdBackward0")


def logsumexp(input: Tensor, dim: Dims, keepdim: bool = False) -> Tensor:
    """log(sum(exp(x))) over `dim`, shifted by the max for stability (-inf when empty)."""
    input = _floatify(input)
    axes = reduce_axes(input, dim, empty_means_all=False)
    if math.prod(input.shape[a] for a in axes) and input.numel():
        m = _reduce(input, Op.RMAX, axes, True, "").detach()
        m = where(compare(Op.CMPEQ, abs(m), math.inf), 0.0, m)
    else:  # nothing to take the max of
        m = 0.0
    out = log(sum(exp(input - m), axes, keepdim=True)) + m
    if not keepdim and axes:
        out = out.reshape([n for i, n in enumerate(out.shape) if i not in axes])
    return _renamed(out, "LogsumexpBackward0")


def _softmax_input(x: Tensor, dim: int, dtype: object, fn: str) -> tuple[Tensor, int]:
    d = x._dim(dim)
    if dtype is not None:
        x = x._cast(dt.to_dtype(dtype))
    if not x.dtype.is_floating_point and x.numel():  # PyTorch never dispatches empty inputs
        last = "lastdim_" if d == x.ndim - 1 or x.ndim == 0 else ""
        raise NotImplementedError(
            f"\"{fn}_{last}kernel_impl\" not implemented for '{x.dtype.torch_name}'"
        )
    return x, d


def _shifted(x: Tensor, d: int) -> Tensor:
    """x minus its max along axis d (when that axis has elements to take a max of; a 0-d x
    is its own max)."""
    if x.numel() == 0 or (x.ndim and x.shape[d] == 0):
        return x
    return x - _reduce(x, Op.RMAX, d, True, "").detach()


def softmax(input: Tensor, dim: int, dtype: object = None) -> Tensor:
    """exp(x) / sum(exp(x)) along `dim`, shifted by the max for stability."""
    input, d = _softmax_input(input, dim, dtype, "softmax")
    if not input.dtype.is_floating_point:  # empty: PyTorch returns it in its own dtype
        return input.clone()
    e = exp(_shifted(input, d))
    return _renamed(e / sum(e, d if input.ndim else None, keepdim=True), "SoftmaxBackward0")


def log_softmax(input: Tensor, dim: int, dtype: object = None) -> Tensor:
    """x - logsumexp(x) along `dim`."""
    input, d = _softmax_input(input, dim, dtype, "log_softmax")
    if not input.dtype.is_floating_point:  # empty: PyTorch returns it in its own dtype
        return input.clone()
    shifted = _shifted(input, d)
    total = sum(exp(shifted), d if input.ndim else None, keepdim=True)
    return _renamed(shifted - log(total), "LogSoftmaxBackward0")
