"""Binds the op functions to `Tensor` as methods and operators, in one visible place."""

from __future__ import annotations

from typing import Any

from .. import dtypes
from ..engine import realize
from ..ir.ops import Op
from ..ir.schedule import Schedule
from ..tensor import Tensor
from ..viz import Graph
from . import (
    autograd,
    creation,
    indexing,
    linalg,
    math_ops,
    movement,
    pointwise,
    reductions,
    shapes,
    views,
)
from .math_ops import binary, compare, is_operand


def _operator(fn: Any) -> Any:
    """A binary operator: NotImplemented for operands that are not tensors or numbers, so
    Python raises its usual `unsupported operand type(s)` TypeError."""

    def method(self: Tensor, other: Any) -> Any:
        return fn(self, other) if is_operand(other) else NotImplemented

    return method


def _reflected(fn: Any) -> Any:
    return _operator(lambda self, other: fn(other, self))


def in_place(self: Tensor, result: Tensor) -> Tensor:
    """Make `self` hold `result`, with PyTorch's view semantics: the tensor `self` is a view
    of, and that tensor's other views, see the new values too."""
    views.before_in_place(self)
    self._in_place(result)
    views.after_in_place(self)
    return self


def _in_place(fn: Any) -> Any:
    def method(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        return in_place(self, fn(views.snapshot(self), *args, **kwargs))

    method.__name__ = fn.__name__ + "_"
    method.__doc__ = f"In-place version of `{fn.__name__}`."
    return method


def _comparison(op: Op, swap: bool = False) -> Any:
    def method(a: Tensor, b: Any) -> Any:
        if not is_operand(b):
            return NotImplemented
        return compare(op, b, a) if swap else compare(op, a, b)

    return method


def _zero_(self: Tensor) -> Tensor:
    return fill_(self, 0)


def fill_(self: Tensor, value: Any) -> Tensor:
    """Fill with `value` (a number or a 0-d tensor) in place."""
    from .creation import full

    if isinstance(value, Tensor):
        if value.ndim:
            raise RuntimeError(
                "fill_ only supports 0-dimension value tensor but got tensor with "
                f"{value.ndim} dimensions."
            )
        self._check_device(value)
        return in_place(self, movement.expand(value._cast(self.dtype), self.shape))
    return in_place(self, full(self.shape, value, dtype=self.dtype, device=self.device))


def copy_(self: Tensor, src: Tensor) -> Tensor:
    """Copy `src` (broadcast, cast, moved to this device) into self in place."""
    if not isinstance(src, Tensor):
        raise TypeError(
            f"copy_(): argument 'src' (position 1) must be Tensor, not {type(src).__name__}"
        )
    shape = math_ops.broadcast_shapes(tuple(self.shape), tuple(src.shape))
    if shape != tuple(self.shape):
        raise RuntimeError(
            f"output with shape {list(self.shape)} doesn't match the broadcast shape {list(shape)}"
        )
    moved = src.to(self.device)._cast(self.dtype)
    return in_place(self, movement.expand(moved, self.shape))


_METHODS = {
    "contiguous": views.contiguous,
    "add": math_ops.add,
    "sub": math_ops.sub,
    "mul": math_ops.mul,
    "div": math_ops.div,
    "true_divide": math_ops.div,
    "floor_divide": math_ops.floor_divide,
    "remainder": math_ops.remainder,
    "pow": math_ops.pow,
    "neg": math_ops.neg,
    "abs": math_ops.abs,
    "exp": math_ops.exp,
    "log": math_ops.log,
    "log2": math_ops.log2,
    "sqrt": math_ops.sqrt,
    "rsqrt": math_ops.rsqrt,
    "sin": math_ops.sin,
    "cos": math_ops.cos,
    "tanh": math_ops.tanh,
    "sigmoid": math_ops.sigmoid,
    "relu": math_ops.relu,
    "reciprocal": math_ops.reciprocal,
    "sign": math_ops.sign,
    "floor": math_ops.floor,
    "clamp": math_ops.clamp,
    "clip": math_ops.clamp,
    "maximum": math_ops.maximum,
    "minimum": math_ops.minimum,
    "logical_not": math_ops.logical_not,
    "sum": math_ops.sum,
    "mean": math_ops.mean,
    "max": math_ops.max,
    "min": math_ops.min,
    "prod": math_ops.prod,
    "argmax": math_ops.argmax,
    "argmin": math_ops.argmin,
    "var": math_ops.var,
    "std": math_ops.std,
    "logsumexp": math_ops.logsumexp,
    "softmax": math_ops.softmax,
    "log_softmax": math_ops.log_softmax,
    "matmul": linalg.matmul,
    "mm": linalg.mm,
    "reshape": movement.reshape,
    "view": movement.reshape,
    "permute": movement.permute,
    "transpose": movement.transpose,
    "t": movement.t,
    "flatten": movement.flatten,
    "unsqueeze": movement.unsqueeze,
    "squeeze": movement.squeeze,
    "expand": movement.expand,
    "expand_as": movement.expand_as,
    "flip": movement.flip,
    "split": movement.split,
    "chunk": movement.chunk,
    "where": lambda self, condition, other: math_ops.where(condition, self, other),
    "eq": _comparison(Op.CMPEQ),
    "ne": _comparison(Op.CMPNE),
    "lt": _comparison(Op.CMPLT),
    "le": _comparison(Op.CMPLE),
    "gt": _comparison(Op.CMPLT, swap=True),
    "ge": _comparison(Op.CMPLE, swap=True),
    "fill_": fill_,
    "zero_": _zero_,
    "copy_": copy_,
    "__getitem__": indexing.getitem,
    "__setitem__": indexing.setitem,
}


def _bitwise(op: Op) -> Any:
    return lambda a, b: binary(op, "", a, b)


def _matmul_operator(a: Tensor, b: Any) -> Any:
    return linalg.matmul(a, b) if isinstance(b, Tensor) else NotImplemented


_OPERATORS = {
    "__add__": _operator(math_ops.add),
    "__radd__": _reflected(math_ops.add),
    "__sub__": _operator(math_ops.sub),
    "__rsub__": _operator(math_ops.rsub),
    "__mul__": _operator(math_ops.mul),
    "__rmul__": _reflected(math_ops.mul),
    "__truediv__": _operator(math_ops.div),
    "__rtruediv__": _reflected(lambda a, b: binary(Op.DIV, "DivBackward0", a, b)),
    "__floordiv__": _operator(math_ops.floor_divide),
    "__rfloordiv__": _reflected(math_ops.floor_divide),
    "__mod__": _operator(math_ops.remainder),
    "__rmod__": _reflected(math_ops.remainder),
    "__pow__": _operator(math_ops.pow),
    "__rpow__": _reflected(math_ops.pow),
    "__matmul__": _matmul_operator,
    "__rmatmul__": lambda a, b: NotImplemented,
    "__neg__": math_ops.neg,
    "__pos__": lambda self: self,
    "__abs__": math_ops.abs,
    "__invert__": math_ops.invert,
    "__and__": _operator(_bitwise(Op.AND)),
    "__rand__": _reflected(_bitwise(Op.AND)),
    "__or__": _operator(_bitwise(Op.OR)),
    "__ror__": _reflected(_bitwise(Op.OR)),
    "__xor__": _operator(_bitwise(Op.XOR)),
    "__rxor__": _reflected(_bitwise(Op.XOR)),
    "__eq__": _METHODS["eq"],
    "__ne__": _METHODS["ne"],
    "__lt__": _METHODS["lt"],
    "__le__": _METHODS["le"],
    "__gt__": _METHODS["gt"],
    "__ge__": _METHODS["ge"],
}

_IN_PLACE = {
    "add_": math_ops.add,
    "sub_": math_ops.sub,
    "mul_": math_ops.mul,
    "div_": math_ops.div,
    "clamp_": math_ops.clamp,
    "pow_": math_ops.pow,
    "__iadd__": math_ops.add,
    "__isub__": math_ops.sub,
    "__imul__": math_ops.mul,
    "__itruediv__": math_ops.div,
    "__ifloordiv__": math_ops.floor_divide,
    "__imod__": math_ops.remainder,
    "__ipow__": math_ops.pow,
    "__iand__": _bitwise(Op.AND),
    "__ior__": _bitwise(Op.OR),
    "__ixor__": _bitwise(Op.XOR),
}


# ---- what runs the engine: construction from data, realizing, reading, backward ------------
def _construct(self: Tensor, *data: Any, device: Any = None) -> None:
    """`Tensor(data)` holds data of the default float dtype; `Tensor(2, 3)` (ints) is an
    uninitialized (here: zero) tensor of that size, as in PyTorch."""
    if data and all(isinstance(d, int) and not isinstance(d, bool) for d in data):
        t = creation.zeros(*data, device=device)
    elif len(data) > 1:
        raise TypeError("Tensor() takes one data argument or integer sizes")
    else:
        t = creation.tensor(data[0] if data else [], dtype=dtypes.default_float, device=device)
    self._init(t._node, t._device)


def _realize(self: Tensor) -> Tensor:
    """Run the kernels that compute this tensor now; returns self."""
    realize.realize(self)
    return self


def _schedule(self: Tensor) -> Schedule:
    """The kernels realizing this tensor would run (nothing runs)."""
    return realize.schedule(self)


def _graph(self: Tensor, **options: Any) -> Any:
    """The IR graph behind this tensor (see `lazygrad.viz.Graph` for the options)."""
    return Graph([self], **options)


def _backward(
    self: Tensor,
    gradient: Tensor | None = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
) -> None:
    """Accumulate d(self)/d(leaf) into `.grad` of every leaf that requires grad (lazily)."""
    autograd.backward(self, gradient, retain_graph, create_graph)


def _layout(self: Tensor) -> tuple[tuple[int, ...], int]:
    """(strides, storage offset) in elements, as PyTorch would lay `self` out: a view's
    window in its base's storage, else row-major."""
    window = views.window_in_root(self)
    if window is not None:
        return window
    strides, step = [], 1
    for n in reversed(self.shape):
        strides.append(step)
        step *= max(n, 1)
    return tuple(reversed(strides)), 0


def _stride(self: Tensor, dim: int | None = None) -> tuple[int, ...] | int:
    """The strides in elements (of one dim, or all)."""
    strides = _layout(self)[0]
    return strides if dim is None else strides[self._dim(dim)]


def _storage_offset(self: Tensor) -> int:
    """Where this tensor's first element is in its storage, in elements."""
    return _layout(self)[1]


_ENGINE = {
    "stride": _stride,
    "storage_offset": _storage_offset,
    "register_hook": autograd.register_hook,
    "retain_grad": autograd.retain_grad,
    "__init__": _construct,
    "realize": _realize,
    "schedule": _schedule,
    "graph": _graph,
    "_host": realize.to_host,
    "backward": _backward,
}


def bind() -> None:
    """Attach every method and operator to `Tensor`."""
    extra = (pointwise, reductions, shapes)
    for name, fn in _ENGINE.items():
        setattr(Tensor, name, fn)
    for name, fn in {**_METHODS, **_OPERATORS}.items():
        setattr(Tensor, name, fn)
    for module in extra:
        for name, fn in module.METHODS.items():
            setattr(Tensor, name, fn)
    for name, fn in _IN_PLACE.items():
        setattr(Tensor, name, _in_place(fn))
    for module in extra:
        for name, fn in module.IN_PLACE.items():
            setattr(Tensor, name, _in_place(fn))
    Tensor.T = property(movement.T)  # type: ignore[attr-defined]
    Tensor.data = property(views.data_alias, Tensor._set_data)  # type: ignore[attr-defined]
    Tensor.mT = property(lambda self: self.transpose(-2, -1))  # type: ignore[attr-defined]
