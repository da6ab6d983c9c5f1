"""Binds the op functions to `Tensor` as methods and operators, in one visible place."""

from __future__ import annotations

from typing import Any

from . import indexing, math_ops, movement
from .ir.ops import Op
from .math_ops import binary, compare
from .tensor import Tensor


def _reflected(fn: Any) -> Any:
    return lambda self, other: fn(other, self)


def _in_place(fn: Any) -> Any:
    def method(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        return self._in_place(fn(self, *args, **kwargs))

    method.__name__ = fn.__name__ + "_"
    method.__doc__ = f"In-place version of `{fn.__name__}`."
    return method


def _comparison(op: Op, swap: bool = False) -> Any:
    def method(a: Tensor, b: Any) -> Any:
        if not isinstance(b, Tensor | bool | int | float | list | tuple) and not hasattr(
                b, "__array__"):
            return NotImplemented
        return compare(op, b, a) if swap else compare(op, a, b)

    return method


def _zero_(self: Tensor) -> Tensor:
    return fill_(self, 0)


def fill_(self: Tensor, value: Any) -> Tensor:
    """Fill with `value` in place."""
    from .creation import full

    if isinstance(value, Tensor):
        return self._in_place(value.expand(self.shape) if value.ndim else value.expand(self.shape))
    return self._in_place(full(self.shape, value, dtype=self.dtype, device=self.device))


def copy_(self: Tensor, src: Tensor) -> Tensor:
    """Copy `src` (broadcast, cast, moved to this device) into self in place."""
    moved = src.to(self.device)._cast(self.dtype)
    return self._in_place(movement.expand(moved, self.shape))


_METHODS = {
    "add": math_ops.add, "sub": math_ops.sub, "mul": math_ops.mul, "div": math_ops.div,
    "true_divide": math_ops.div, "floor_divide": math_ops.floor_divide,
    "remainder": math_ops.remainder, "pow": math_ops.pow, "neg": math_ops.neg,
    "abs": math_ops.abs, "exp": math_ops.exp, "log": math_ops.log, "log2": math_ops.log2,
    "sqrt": math_ops.sqrt, "rsqrt": math_ops.rsqrt, "sin": math_ops.sin, "cos": math_ops.cos,
    "tanh": math_ops.tanh, "sigmoid": math_ops.sigmoid, "relu": math_ops.relu,
    "reciprocal": math_ops.reciprocal, "sign": math_ops.sign, "floor": math_ops.floor,
    "clamp": math_ops.clamp, "clip": math_ops.clamp, "maximum": math_ops.maximum,
    "minimum": math_ops.minimum, "logical_not": math_ops.logical_not,
    "sum": math_ops.sum, "mean": math_ops.mean, "max": math_ops.max, "min": math_ops.min,
    "prod": math_ops.prod, "argmax": math_ops.argmax, "argmin": math_ops.argmin,
    "var": math_ops.var, "std": math_ops.std, "logsumexp": math_ops.logsumexp,
    "softmax": math_ops.softmax, "log_softmax": math_ops.log_softmax,
    "matmul": math_ops.matmul, "mm": math_ops.matmul,
    "reshape": movement.reshape, "view": movement.reshape, "permute": movement.permute,
    "transpose": movement.transpose, "t": movement.t, "flatten": movement.flatten,
    "unsqueeze": movement.unsqueeze, "squeeze": movement.squeeze, "expand": movement.expand,
    "expand_as": movement.expand_as, "flip": movement.flip, "split": movement.split,
    "chunk": movement.chunk,
    "where": lambda self, condition, other: math_ops.where(condition, self, other),
    "eq": _comparison(Op.CMPEQ), "ne": _comparison(Op.CMPNE), "lt": _comparison(Op.CMPLT),
    "le": _comparison(Op.CMPLE), "gt": _comparison(Op.CMPLT, swap=True),
    "ge": _comparison(Op.CMPLE, swap=True),
    "fill_": fill_, "zero_": _zero_, "copy_": copy_,
    "__getitem__": indexing.getitem, "__setitem__": indexing.setitem,
}

_OPERATORS = {
    "__add__": math_ops.add, "__radd__": _reflected(math_ops.add),
    "__sub__": math_ops.sub, "__rsub__": _reflected(lambda a, b: binary(Op.SUB, "RsubBackward1",
                                                                        a, b)),
    "__mul__": math_ops.mul, "__rmul__": _reflected(math_ops.mul),
    "__truediv__": math_ops.div, "__rtruediv__": _reflected(lambda a, b: binary(
        Op.DIV, "DivBackward0", a, b)),
    "__floordiv__": math_ops.floor_divide, "__rfloordiv__": _reflected(math_ops.floor_divide),
    "__mod__": math_ops.remainder, "__rmod__": _reflected(math_ops.remainder),
    "__pow__": math_ops.pow, "__rpow__": _reflected(math_ops.pow),
    "__matmul__": math_ops.matmul, "__rmatmul__": _reflected(math_ops.matmul),
    "__neg__": math_ops.neg, "__pos__": lambda self: self, "__abs__": math_ops.abs,
    "__invert__": math_ops.invert,
    "__and__": lambda a, b: binary(Op.AND, "", a, b),
    "__rand__": lambda a, b: binary(Op.AND, "", b, a),
    "__or__": lambda a, b: binary(Op.OR, "", a, b),
    "__ror__": lambda a, b: binary(Op.OR, "", b, a),
    "__xor__": lambda a, b: binary(Op.XOR, "", a, b),
    "__rxor__": lambda a, b: binary(Op.XOR, "", b, a),
    "__eq__": _METHODS["eq"], "__ne__": _METHODS["ne"], "__lt__": _METHODS["lt"],
    "__le__": _METHODS["le"], "__gt__": _METHODS["gt"], "__ge__": _METHODS["ge"],
}

_IN_PLACE = {
    "add_": math_ops.add, "sub_": math_ops.sub, "mul_": math_ops.mul, "div_": math_ops.div,
    "clamp_": math_ops.clamp, "pow_": math_ops.pow,
    "__iadd__": math_ops.add, "__isub__": math_ops.sub, "__imul__": math_ops.mul,
    "__itruediv__": math_ops.div, "__ifloordiv__": math_ops.floor_divide,
    "__imod__": math_ops.remainder, "__ipow__": math_ops.pow,
    "__iand__": _OPERATORS["__and__"], "__ior__": _OPERATORS["__or__"],
    "__ixor__": _OPERATORS["__xor__"],
}


def bind() -> None:
    """Attach every method and operator to `Tensor`."""
    for name, fn in {**_METHODS, **_OPERATORS}.items():
        setattr(Tensor, name, fn)
    for name, fn in _IN_PLACE.items():
        setattr(Tensor, name, _in_place(fn))
    Tensor.T = property(movement.T)  # type: ignore[attr-defined]
    Tensor.mT = property(lambda self: self.transpose(-2, -1))  # type: ignore[attr-defined]
