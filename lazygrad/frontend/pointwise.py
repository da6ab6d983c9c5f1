"""Elementwise math, comparisons and predicates beyond the core ops of `math_ops`, and the
top-level forms of operators (`lg.add`, `lg.eq`, ...)."""

from __future__ import annotations

import builtins
import math
from collections.abc import Callable, Sequence
from typing import Any

from .. import dtypes as dt
from ..autograd_state import inference_mode, set_grad_enabled
from ..device import default_device, set_default_device
from ..ir.ops import Op
from ..size import Size
from ..tensor import Scalar, Tensor
from . import creation, math_ops, movement, reductions, views
from .math_ops import Operand, binary, compare, unary, where

__all__: list[str] = [
    "acos",
    "asin",
    "atan",
    "atan2",
    "ceil",
    "cosh",
    "sinh",
    "tan",
    "erf",
    "expm1",
    "log10",
    "log1p",
    "round",
    "trunc",
    "square",
    "lerp",
    "fmod",
    "remainder",
    "clip",
    "neg",
    "add",
    "sub",
    "mul",
    "div",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "isnan",
    "isinf",
    "isfinite",
    "isclose",
    "allclose",
    "equal",
    "logical_and",
    "logical_not",
    "logical_or",
    "clone",
    "flip",
    "t",
    "numel",
    "is_tensor",
    "as_tensor",
    "get_default_dtype",
    "set_grad_enabled",
    "inference_mode",
    "set_default_device",
    "get_default_device",
    "broadcast_shapes",
    "broadcast_tensors",
    "broadcast_to",
    "logspace",
    "normal",
    "bernoulli",
    "dropout",
    "randperm",
    "multinomial",
    "floor",
]


def _check_tensor(fn: str, x: object, name: str = "input", position: int = 1) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(
            f"{fn}(): argument '{name}' (position {position}) must be Tensor, "
            f"not {type(x).__name__}"
        )


# ---- unary math ------------------------------------------------------------------------------
def _primitive(op: Op, fn: str, grad_name: str, doc: str) -> Callable[[Tensor], Tensor]:
    def function(input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's parameter name
        _check_tensor(fn, input)
        return unary(op, grad_name, input)

    function.__name__ = function.__qualname__ = fn
    function.__doc__ = doc
    return function


# One line per primitive: the op, PyTorch's name and grad_fn name, what it computes.
acos = _primitive(Op.ACOS, "acos", "AcosBackward0", "Inverse cosine elementwise (NaN off [-1, 1]).")
asin = _primitive(Op.ASIN, "asin", "AsinBackward0", "Inverse sine elementwise (NaN off [-1, 1]).")
atan = _primitive(Op.ATAN, "atan", "AtanBackward0", "Inverse tangent elementwise.")
sinh = _primitive(Op.SINH, "sinh", "SinhBackward0", "Hyperbolic sine elementwise.")
cosh = _primitive(Op.COSH, "cosh", "CoshBackward0", "Hyperbolic cosine elementwise.")
erf = _primitive(Op.ERF, "erf", "ErfBackward0", "The error function elementwise.")
expm1 = _primitive(Op.EXPM1, "expm1", "Expm1Backward0", "exp(x) - 1, exact near 0.")
log1p = _primitive(Op.LOG1P, "log1p", "Log1PBackward0", "log(1 + x), exact near 0.")


def tan(input: Tensor) -> Tensor:  # noqa: A002
    """Tangent elementwise: sin(x) / cos(x)."""
    _check_tensor("tan", input)
    return math_ops._as_one_op(math_ops.sin(input) / math_ops.cos(input), "TanBackward0", (input,))


def log10(input: Tensor) -> Tensor:  # noqa: A002
    """Base-10 logarithm elementwise."""
    _check_tensor("log10", input)
    out = math_ops.log(input) * (1 / math.log(10))
    return math_ops._as_one_op(out, "Log10Backward0", (input,))


def _rounded(input: Tensor, fn: str, rounding: Callable[[Tensor], Tensor], name: str) -> Tensor:
    """A rounding of a float tensor (a copy of any other), whose gradient is zero."""
    _check_tensor(fn, input)
    if not input.dtype.is_floating_point:
        return input.clone()
    return math_ops._as_one_op(rounding(input), name, (input,))


def ceil(input: Tensor) -> Tensor:  # noqa: A002
    """The smallest integer >= x, elementwise (-floor(-x); zero gradient)."""
    return _rounded(input, "ceil", lambda x: -math_ops.floor(-x), "CeilBackward0")


def trunc(input: Tensor) -> Tensor:  # noqa: A002
    """x rounded toward zero, elementwise (zero gradient)."""
    return _rounded(input, "trunc", _toward_zero, "TruncBackward0")


def _toward_zero(x: Tensor) -> Tensor:
    return where(x < 0, -math_ops.floor(-x), math_ops.floor(x))


def round(input: Tensor, *, decimals: int = 0) -> Tensor:  # noqa: A001, A002
    """x rounded to `decimals` decimal places, halves to even (zero gradient).

    With decimals, as PyTorch: x * 10**decimals rounded, then divided by 10**decimals (for
    negative decimals: x / 10**-decimals rounded, then multiplied), in x's precision."""
    if decimals == 0:
        return _rounded(input, "round", lambda x: unary(Op.RINT, "", x), "RoundBackward0")
    _check_tensor("round", input)
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f"\"round_cpu\" not implemented for '{input.dtype.torch_name}'")
    scale = float(input.dtype.np.type(10.0 ** builtins.abs(decimals)))

    def rounding(x: Tensor) -> Tensor:
        if decimals > 0:
            return unary(Op.RINT, "", x * scale) / scale
        return unary(Op.RINT, "", x / scale) * scale

    return _rounded(input, "round", rounding, "RoundBackward1")


def square(input: Tensor) -> Tensor:  # noqa: A002
    """x * x elementwise (PyTorch's pow(x, 2): bools give int64)."""
    _check_tensor("square", input)
    return math_ops.pow(input, 2)


# ---- binary math -----------------------------------------------------------------------------
def atan2(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """The angle of the point (other, input): atan(input / other) in the right quadrant."""
    _check_tensor("atan2", input)
    _check_tensor("atan2", other, "other", 2)
    return binary(Op.ATAN2, "Atan2Backward0", input, other)


def fmod(input: Tensor, other: Operand) -> Tensor:  # noqa: A002
    """The remainder of input / other rounded toward zero: it has the sign of the dividend
    (C's fmod; `remainder` takes the divisor's sign)."""
    _check_tensor("fmod", input)
    if not isinstance(other, Tensor | bool | int | float):
        raise TypeError(
            f"fmod(): argument 'other' (position 2) must be Tensor or Number, "
            f"not {type(other).__name__}"
        )
    ctype = math_ops._operand_type([input, other])
    if ctype == dt.bool_:
        raise NotImplementedError("\"fmod_cpu\" not implemented for 'Bool'")
    if not ctype.is_floating_point and input.numel():
        divisor = math_ops._host_values(other)
        if divisor is not None and divisor.size and not divisor.all():
            raise RuntimeError("ZeroDivisionError")
    name = "FmodBackward1" if isinstance(other, Tensor) else "FmodBackward0"
    return binary(Op.FMOD, name, input, other)


def remainder(input: Operand, other: Operand) -> Tensor:  # noqa: A002
    """input % other with the sign of the divisor (Python's rule)."""
    return math_ops.remainder(input, other)


def lerp(input: Tensor, end: Tensor, weight: Tensor | Scalar) -> Tensor:  # noqa: A002
    """input + weight * (end - input), computed from the nearer end as PyTorch does
    (end - (end - input) * (1 - weight) where |weight| >= 0.5)."""
    _check_tensor("lerp", input)
    _check_tensor("lerp", end, "end", 2)
    for name, t in (("end", end), ("weight", weight)):
        if isinstance(t, Tensor) and t.dtype != input.dtype:
            raise RuntimeError(
                f"expected dtype {input.dtype.c_name} for `{name}` but got dtype {t.dtype.c_name}"
            )
    if not input.dtype.is_floating_point:
        raise NotImplementedError(
            f"\"lerp_kernel_scalar\" not implemented for '{input.dtype.torch_name}'"
        )
    diff = end - input
    from_input = input + weight * diff
    from_end = end - diff * (1 - weight)
    if isinstance(weight, Tensor):
        out = where(math_ops.abs(weight) < 0.5, from_input, from_end)
        return math_ops._as_one_op(out, "LerpBackward1", (input, end, weight))
    out = from_input if -0.5 < weight < 0.5 else from_end
    return math_ops._as_one_op(out, "LerpBackward0", (input, end))


def clip(
    input: Tensor,  # noqa: A002
    min: Operand | None = None,  # noqa: A002
    max: Operand | None = None,  # noqa: A002
) -> Tensor:
    """Alias of `clamp`: input limited to [min, max]."""
    return math_ops.clamp(input, min, max)


# ---- the operators as functions --------------------------------------------------------------
def neg(input: Tensor) -> Tensor:  # noqa: A002
    """-input."""
    return math_ops.neg(input)


def add(input: Operand, other: Operand, *, alpha: Scalar = 1) -> Tensor:  # noqa: A002
    """input + alpha * other."""
    return math_ops.add(input, other, alpha)


def sub(input: Operand, other: Operand, *, alpha: Scalar = 1) -> Tensor:  # noqa: A002
    """input - alpha * other."""
    return math_ops.sub(input, other, alpha)


def mul(input: Operand, other: Operand) -> Tensor:  # noqa: A002
    """input * other."""
    return math_ops.mul(input, other)


def div(input: Operand, other: Operand, *, rounding_mode: str | None = None) -> Tensor:  # noqa: A002
    """input / other (true division), or rounded: `rounding_mode` "trunc" or "floor"."""
    if rounding_mode not in (None, "trunc", "floor"):
        raise RuntimeError(
            "div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
            f"'{rounding_mode}'"
        )
    return math_ops.div(input, other, rounding_mode)  # type: ignore[arg-type]


def _comparison(op: Op, fn: str, swap: bool = False) -> Callable[[Tensor, Operand], Tensor]:
    def function(input: Tensor, other: Operand) -> Tensor:  # noqa: A002
        _check_tensor(fn, input)
        return compare(op, other, input) if swap else compare(op, input, other)

    function.__name__ = function.__qualname__ = fn
    return function


eq = _comparison(Op.CMPEQ, "eq")
eq.__doc__ = "input == other elementwise (bool)."
ne = _comparison(Op.CMPNE, "ne")
ne.__doc__ = "input != other elementwise (bool)."
lt = _comparison(Op.CMPLT, "lt")
lt.__doc__ = "input < other elementwise (bool)."
le = _comparison(Op.CMPLE, "le")
le.__doc__ = "input <= other elementwise (bool)."
gt = _comparison(Op.CMPLT, "gt", swap=True)
gt.__doc__ = "input > other elementwise (bool)."
ge = _comparison(Op.CMPLE, "ge", swap=True)
ge.__doc__ = "input >= other elementwise (bool)."


# ---- predicates ------------------------------------------------------------------------------
def isnan(input: Tensor) -> Tensor:  # noqa: A002
    """True where input is NaN (never for integers and bools)."""
    _check_tensor("isnan", input)
    x = input.detach()
    return compare(Op.CMPNE, x, x)


def isinf(input: Tensor) -> Tensor:  # noqa: A002
    """True where input is +inf or -inf."""
    _check_tensor("isinf", input)
    x = input.detach()
    if not x.dtype.is_floating_point:
        return compare(Op.CMPNE, x, x)
    return compare(Op.CMPEQ, math_ops.abs(x), math.inf)


def isfinite(input: Tensor) -> Tensor:  # noqa: A002
    """True where input is neither infinite nor NaN (everywhere for integers and bools)."""
    _check_tensor("isfinite", input)
    x = input.detach()
    if not x.dtype.is_floating_point:
        return compare(Op.CMPEQ, x, x)
    return compare(Op.CMPLT, math_ops.abs(x), math.inf)


def isclose(
    input: Tensor,  # noqa: A002
    other: Tensor,
    rtol: float = 1e-05,
    atol: float = 1e-08,
    equal_nan: bool = False,
) -> Tensor:
    """|input - other| <= atol + rtol * |other| elementwise (equal infinities are close;
    NaNs only with `equal_nan`)."""
    _check_tensor("isclose", input)
    _check_tensor("isclose", other, "other", 2)
    if input.dtype != other.dtype:
        raise RuntimeError(f"{input.dtype.torch_name} did not match {other.dtype.torch_name}")
    for name, tol in (("rtol", rtol), ("atol", atol)):
        if tol < 0:
            raise RuntimeError(f"{name} must be greater than or equal to zero, but got {tol:g}")
    a, b = input.detach(), other.detach()
    close = compare(Op.CMPEQ, a, b)
    if equal_nan and a.dtype.is_floating_point:
        close = close | (isnan(a) & isnan(b))
    if a.dtype == dt.bool_:
        a, b = a._cast(dt.default_float), b._cast(dt.default_float)
    allowed = math_ops.abs(b * rtol) + atol
    actual = math_ops.abs(a - b)
    return close | (isfinite(actual) & compare(Op.CMPLE, actual, allowed))


def allclose(
    input: Tensor,  # noqa: A002
    other: Tensor,
    rtol: float = 1e-05,
    atol: float = 1e-08,
    equal_nan: bool = False,
) -> bool:
    """Whether `isclose` holds everywhere (reads the values)."""
    close = isclose(input, other, rtol, atol, equal_nan)
    return int(math_ops.sum(math_ops.logical_not(close)).item()) == 0


def equal(input: Tensor, other: Tensor) -> bool:  # noqa: A002
    """Whether both tensors have the same size and elements (reads the values)."""
    _check_tensor("equal", input)
    _check_tensor("equal", other, "other", 2)
    if input.shape != other.shape:
        return False
    return int(math_ops.sum(compare(Op.CMPNE, input, other)).item()) == 0


def logical_and(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """True where both are non-zero."""
    _check_tensor("logical_and", input)
    _check_tensor("logical_and", other, "other", 2)
    return binary(Op.AND, "", input._cast(dt.bool_), other._cast(dt.bool_))


def logical_or(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """True where either is non-zero."""
    _check_tensor("logical_or", input)
    _check_tensor("logical_or", other, "other", 2)
    return binary(Op.OR, "", input._cast(dt.bool_), other._cast(dt.bool_))


def logical_not(input: Tensor) -> Tensor:  # noqa: A002
    """True where input is zero."""
    _check_tensor("logical_not", input)
    return math_ops.logical_not(input)


# ---- tensors as a whole ----------------------------------------------------------------------
def clone(input: Tensor, *, memory_format: object = None) -> Tensor:  # noqa: A002
    """A copy of input that gradients flow through (`memory_format` is accepted, unused)."""
    _check_tensor("clone", input)
    return input.clone()


def flip(input: Tensor, dims: int | Sequence[int]) -> Tensor:  # noqa: A002
    """input with the order of elements reversed along `dims`."""
    return movement.flip(input, dims)


def t(input: Tensor) -> Tensor:  # noqa: A002
    """The transpose of a tensor of at most 2 dims."""
    return movement.t(input)


def numel(input: Tensor) -> int:  # noqa: A002
    """Number of elements."""
    _check_tensor("numel", input)
    return input.numel()


def is_tensor(obj: object) -> bool:
    """Whether obj is a lazygrad tensor."""
    return isinstance(obj, Tensor)


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """data as a tensor: a tensor itself when it already has the dtype and device asked
    for, else a converted one (data from the host is always copied)."""
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=None if dtype is None else dt.to_dtype(dtype))
    return creation.tensor(data, dtype=dtype, device=device)


def floor(input: Tensor) -> Tensor:  # noqa: A002
    """The largest integer <= x, elementwise (zero gradient)."""
    _check_tensor("floor", input)
    return math_ops.floor(input)


def get_default_dtype() -> dt.DType:
    """The dtype of float tensors made without one (float32 unless `set_default_dtype`)."""
    return dt.default_float


def get_default_device() -> Any:
    """The device of tensors made without a `device=`."""
    return default_device()


# ---- broadcasting ----------------------------------------------------------------------------
def broadcast_shapes(*shapes: int | Sequence[int]) -> Size:
    """The shape tensors of `shapes` broadcast to (an int stands for a 1-d shape)."""
    result: list[int] = []
    for shape in shapes:
        sizes = (shape,) if isinstance(shape, int) else tuple(shape)
        result = [1] * (len(sizes) - len(result)) + result
        for i in range(-1, -len(sizes) - 1, -1):
            if sizes[i] < 0:
                raise RuntimeError(
                    f"Trying to create tensor with negative dimension ({sizes[i]}): ({sizes[i]})"
                )
            if sizes[i] == 1 or sizes[i] == result[i]:
                continue
            if result[i] != 1:
                raise RuntimeError("Shape mismatch: objects cannot be broadcast to a single shape")
            result[i] = sizes[i]
    return Size(tuple(result))


def broadcast_to(input: Tensor, size: Sequence[int]) -> Tensor:  # noqa: A002
    """input expanded to `size` (-1 keeps a size), without copying."""
    _check_tensor("broadcast_to", input)
    return movement.expand(input, size)


def broadcast_tensors(*tensors: Tensor) -> tuple[Tensor, ...]:
    """The tensors expanded to their common broadcast shape."""
    for i, x in enumerate(tensors):
        _check_tensor("broadcast_tensors", x, "tensors", i + 1)
    shape = math_ops.broadcast_shapes(*(tuple(x.shape) for x in tensors))
    return tuple(movement.expand(x, shape) for x in tensors)


# ---- creation and randomness -----------------------------------------------------------------
def logspace(
    start: float,
    end: float,
    steps: int,
    base: float = 10.0,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """`steps` values from base**start to base**end, evenly spaced in the exponent."""
    exponents = creation.linspace(start, end, steps, dtype=dt.float64, device=device)
    out = math_ops.pow(float(base), exponents)._cast(
        dt.default_float if dtype is None else dt.to_dtype(dtype)
    )
    return creation._finish(out, requires_grad)


def _zero_gradient(values: Tensor, inputs: tuple[Operand, ...], name: str) -> Tensor:
    """`values`, a draw from a distribution of `inputs`: PyTorch gives the parameters of a
    sample a zero gradient (no reparameterization)."""
    return math_ops._step_function(values, inputs, name)


def normal(
    mean: Tensor | float,
    std: Tensor | float = 1.0,
    size: Sequence[int] | None = None,
    *,
    generator: object = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Normal samples with the given means and standard deviations: tensors of them
    (broadcast together), or numbers with a `size`."""
    if not isinstance(std, Tensor) and std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std:g}")
    tensors = [x for x in (mean, std) if isinstance(x, Tensor)]
    if not tensors:
        if size is None:
            raise TypeError('normal() missing 1 required positional argument: "size"')
        d = dt.default_float if dtype is None else dt.to_dtype(dtype)
        z = creation.randn(tuple(size), dtype=d, device=device)
        return creation._finish(z * float(std) + float(mean), requires_grad)
    ref = tensors[0]
    if not ref.dtype.is_floating_point:
        raise NotImplementedError(
            f"\"normal_kernel_cpu\" not implemented for '{ref.dtype.torch_name}'"
        )
    shape = math_ops.broadcast_shapes(*(tuple(x.shape) for x in tensors))
    z = creation.randn(shape, dtype=ref.dtype, device=ref.device)
    plain = [x.detach() if isinstance(x, Tensor) else x for x in (mean, std)]
    name = {(True, False): "NormalBackward1", (False, True): "NormalBackward2"}.get(
        (isinstance(mean, Tensor), isinstance(std, Tensor)), "NormalBackward3"
    )
    return _zero_gradient(z * plain[1] + plain[0], (mean, std), name)


def bernoulli(input: Tensor, p: float | None = None, *, generator: object = None) -> Tensor:  # noqa: A002
    """1 with probability `input` (or `p`), else 0, elementwise, in input's dtype."""
    _check_tensor("bernoulli", input)
    if p is not None and not 0 <= p <= 1:
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p:g}")
    chance = input.detach() if p is None else p
    draws = creation.rand(tuple(input.shape), dtype=_draw_type(input), device=input.device)
    values = compare(Op.CMPLT, draws, chance)._cast(input.dtype)
    return _zero_gradient(values, (input,) if p is None else (), "BernoulliBackward0")


def _draw_type(x: Tensor) -> dt.DType:
    return x.dtype if x.dtype.is_floating_point else dt.default_float


def _bernoulli_fill(self: Tensor, p: Tensor | float = 0.5, *, generator: object = None) -> Tensor:
    """Draws for `bernoulli_`: 1 with probability p (a number or a broadcastable tensor)."""
    if not isinstance(p, Tensor) and not 0 <= p <= 1:
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p:g}")
    draws = creation.rand(tuple(self.shape), dtype=_draw_type(self), device=self.device)
    chance = p.detach() if isinstance(p, Tensor) else p
    return compare(Op.CMPLT, draws, chance)._cast(self.dtype)


def randperm(
    n: int,
    *,
    generator: object = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """A random permutation of 0 .. n-1: the order that sorts n uniform draws."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(
            f"randperm(): argument 'n' (position 1) must be int, not {type(n).__name__}"
        )
    if n < 0:
        raise RuntimeError(f"n must be non-negative, got{n}")
    keys = creation.rand(n, dtype=dt.float64, device=device)
    perm = reductions.argsort(keys)._cast(dt.int64 if dtype is None else dt.to_dtype(dtype))
    return creation._finish(perm, requires_grad)


def multinomial(
    input: Tensor,  # noqa: A002
    num_samples: int,
    replacement: bool = False,
    *,
    generator: object = None,
) -> Tensor:
    """Indices drawn from the categories weighted by each row of input (1-d or 2-d).

    Without replacement: the categories of the num_samples largest log(u) / weight, for
    uniform u (exponential races: the order of drawing one at a time). With replacement:
    the categories whose cumulative weight interval holds u * total. Weights are not
    checked for negative, infinite or NaN values (that would read them)."""
    _check_tensor("multinomial", input)
    if input.ndim not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    if not input.dtype.is_floating_point:
        raise RuntimeError(
            f"multinomial only supports floating-point dtypes for input, got: "
            f"{input.dtype.torch_name}"
        )
    if num_samples <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    n = input.shape[-1]
    if not replacement and num_samples > n:
        raise RuntimeError(
            "cannot sample n_sample > prob_dist.size(-1) samples without replacement"
        )
    rows = input.detach().reshape(-1, n)._cast(dt.float64)
    count = rows.shape[0]
    if replacement:
        bounds = reductions.cumsum(rows, 1)
        draws = creation.rand(count, num_samples, 1, dtype=dt.float64, device=input.device)
        targets = draws * bounds[:, n - 1 :].reshape(count, 1, 1)
        below = compare(Op.CMPLE, bounds.reshape(count, 1, n), targets)
        picks = math_ops.clamp(math_ops.sum(below, 2), max=n - 1)
    else:
        draws = creation.rand(rows.shape, dtype=dt.float64, device=input.device)
        picks = reductions.topk(math_ops.log(draws) / rows, num_samples, 1).indices
    return picks.reshape(num_samples) if input.ndim == 1 else picks


def dropout(input: Tensor, p: float, train: bool) -> Tensor:  # noqa: A002
    """Zero each element with probability p and scale the others by 1 / (1 - p), when
    `train`; else input itself."""
    _check_tensor("dropout", input)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not train or p == 0.0:
        return input
    keep = creation.rand(tuple(input.shape), dtype=input.dtype, device=input.device) >= p
    scale = 1.0 / (1.0 - p) if p < 1.0 else 0.0
    return math_ops._renamed(where(keep, input * scale, 0.0), "NativeDropoutBackward0")


# ---- Tensor methods --------------------------------------------------------------------------
def _new(make: Callable[..., Tensor], what: str) -> Callable[..., Tensor]:
    def method(
        self: Tensor,
        *size: Any,
        dtype: Any = None,
        device: Any = None,
        requires_grad: bool = False,
        **kw: Any,
    ) -> Tensor:
        return make(
            *size,
            dtype=dtype or self.dtype,
            device=device or self.device,
            requires_grad=requires_grad,
            **kw,
        )

    method.__doc__ = f"{what} of `size`, with self's dtype and device by default."
    return method


def _new_full(
    self: Tensor,
    size: Sequence[int],
    fill_value: Scalar,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """A tensor of `size` filled with fill_value, with self's dtype and device by default."""
    return creation.full(
        size,
        fill_value,
        dtype=dtype or self.dtype,
        device=device or self.device,
        requires_grad=requires_grad,
    )


def _new_tensor(
    self: Tensor, data: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    """A copy of data, with self's dtype and device by default."""
    if isinstance(data, Tensor):
        out = data.detach().to(device or self.device, dt.to_dtype(dtype or self.dtype))
        return creation._finish(out.clone(), requires_grad)
    return creation.tensor(
        data, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad
    )


def _type_as(self: Tensor, other: Tensor) -> Tensor:
    """self cast to other's dtype."""
    return self._cast(other.dtype)


def _view_as(self: Tensor, other: Tensor) -> Tensor:
    """A view of self with other's shape."""
    return self.view(tuple(other.shape))


def _reshape_as(self: Tensor, other: Tensor) -> Tensor:
    """self reshaped to other's shape."""
    return self.reshape(tuple(other.shape))


def _element_size(self: Tensor) -> int:
    """Bytes per element."""
    return self.dtype.itemsize


def _nelement(self: Tensor) -> int:
    """Number of elements (`numel`)."""
    return self.numel()


def _is_contiguous(self: Tensor, memory_format: object = None) -> bool:
    """Whether self's elements lie in row-major order in its storage."""
    return views.contiguous(self) is self


_NEW_MATH = {  # methods and in-place methods
    "acos": acos,
    "asin": asin,
    "atan": atan,
    "atan2": atan2,
    "ceil": ceil,
    "cosh": cosh,
    "sinh": sinh,
    "tan": tan,
    "erf": erf,
    "expm1": expm1,
    "log10": log10,
    "log1p": log1p,
    "round": round,
    "trunc": trunc,
    "square": square,
    "lerp": lerp,
    "fmod": fmod,
    "logical_and": logical_and,
    "logical_or": logical_or,
}

METHODS: dict[str, Any] = {
    **_NEW_MATH,
    "isnan": isnan,
    "isinf": isinf,
    "isfinite": isfinite,
    "isclose": isclose,
    "allclose": allclose,
    "equal": equal,
    "broadcast_to": broadcast_to,
    "bernoulli": bernoulli,
    "multinomial": multinomial,
    "type_as": _type_as,
    "view_as": _view_as,
    "reshape_as": _reshape_as,
    "new_ones": _new(creation.ones, "Ones"),
    "new_zeros": _new(creation.zeros, "Zeros"),
    "new_empty": _new(creation.empty, "An uninitialized tensor (zeros here)"),
    "new_full": _new_full,
    "new_tensor": _new_tensor,
    "element_size": _element_size,
    "nelement": _nelement,
    "is_contiguous": _is_contiguous,
}
IN_PLACE: dict[str, Any] = {
    **{f"{name}_": fn for name, fn in _NEW_MATH.items()},
    "neg_": neg,
    "remainder_": remainder,
    "clip_": clip,
    "logical_not_": logical_not,
    **{f"{fn.__name__}_": fn for fn in (eq, ne, lt, le, gt, ge)},
    "bernoulli_": _bernoulli_fill,
}
