"""Creation functions. Host data becomes a buffer; everything else (zeros, arange, rand, ...)
is a lazy leaf of the graph."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import dtype as dt
from .buffer import Buffer
from .device import device, to_device
from .ir.node import const, make
from .ir.ops import Op
from .movement import _sizes
from .tensor import Tensor

_rng_state = {"seed": 0, "counter": itertools.count()}


def manual_seed(seed: int) -> None:
    """Seed every random creation function (rand, randn, randint, dropout)."""
    _rng_state["seed"] = int(seed)
    _rng_state["counter"] = itertools.count()


def _finish(t: Tensor, requires_grad: bool) -> Tensor:
    if requires_grad:
        if not t.dtype.is_floating_point:
            raise RuntimeError("Only Tensors of floating point and complex dtype can require "
                               "gradients")
        t._set_leaf_requires_grad(True)
    return t


def _host_array(data: Any, dtype: dt.DType | None) -> np.ndarray:
    if isinstance(data, Tensor):
        arr = data.detach()._host()
    elif isinstance(data, np.ndarray | np.generic):
        arr = np.asarray(data)
    else:
        arr = np.array(data)
        if arr.dtype == object:
            raise TypeError(f"Could not infer dtype of {type(data).__name__}")
        if dtype is None:
            kind = arr.dtype.kind
            if kind == "f":
                arr = arr.astype(np.float32)
            elif kind in "iu":
                arr = arr.astype(np.int64)
            elif kind != "b" and arr.size:
                raise TypeError(f"Could not infer dtype of {arr.dtype}")
            elif kind != "b":
                arr = arr.astype(np.float32)
    target = dt.to_dtype(dtype) if dtype is not None else dt.from_numpy_dtype(arr.dtype)
    return np.array(arr, dtype=target.np, copy=True, order="C")


def buffer_tensor(arr: np.ndarray, dev: device, requires_grad: bool = False) -> Tensor:
    """A realized tensor holding a copy of the host array `arr`."""
    d = dt.from_numpy_dtype(arr.dtype)
    buf = Buffer(str(dev), d, arr.size, host=np.ascontiguousarray(arr).reshape(-1))
    node = make(Op.BUFFER, (), buf, d, tuple(arr.shape))
    return _finish(Tensor._wrap(node, dev), requires_grad)


def tensor(data: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
           ) -> Tensor:
    """A tensor holding a copy of `data` (nested lists, scalars or NumPy arrays)."""
    return buffer_tensor(_host_array(data, dtype), to_device(device), requires_grad)


def from_numpy(arr: np.ndarray) -> Tensor:
    """A CPU tensor with the array's values and dtype."""
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(arr).__name__})")
    return buffer_tensor(np.array(arr, dtype=dt.from_numpy_dtype(arr.dtype).np), to_device("cpu"))


def full(size: Sequence[int], fill_value: int | float | bool, *, dtype: Any = None,
         device: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of `size` filled with `fill_value`."""
    shape = _sizes((size,))
    if dtype is None:
        dtype = dt.result_type([], [], [fill_value])
    d = dt.to_dtype(dtype)
    return _finish(Tensor._wrap(const(fill_value, d, shape), to_device(device)), requires_grad)


def _size_args(size: tuple, kwargs_size: Any) -> tuple[int, ...]:
    sizes = _sizes(size) if size else _sizes((kwargs_size,)) if kwargs_size is not None else ()
    if any(s < 0 for s in sizes):
        raise RuntimeError(f"Trying to create tensor with negative dimension {min(sizes)}: "
                           f"{list(sizes)}")
    return sizes


def zeros(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False,
          **kw: Any) -> Tensor:
    """A tensor of zeros."""
    shape = _size_args(size, kw.get("size"))
    return full(shape, 0, dtype=dtype or dt.float32, device=device, requires_grad=requires_grad)


def ones(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False,
         **kw: Any) -> Tensor:
    """A tensor of ones."""
    shape = _size_args(size, kw.get("size"))
    return full(shape, 1, dtype=dtype or dt.float32, device=device, requires_grad=requires_grad)


def empty(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False,
          **kw: Any) -> Tensor:
    """An uninitialized tensor (lazygrad fills it with zeros)."""
    return zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad, **kw)


def arange(start: float, end: float | None = None, step: float = 1, *, dtype: Any = None,
           device: Any = None, requires_grad: bool = False) -> Tensor:
    """Values from start (inclusive) to end (exclusive) by step."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("step must be nonzero")
    count = max(0, math.ceil((end - start) / step))
    if dtype is None:
        dtype = dt.result_type([], [], [start, end, step])
    d = dt.to_dtype(dtype)
    node = make(Op.ARANGE, (), (start, step), d, (count,))
    return _finish(Tensor._wrap(node, to_device(device)), requires_grad)


def linspace(start: float, end: float, steps: int, *, dtype: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    """`steps` evenly spaced values from start to end inclusive."""
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    d = dt.to_dtype(dtype) if dtype is not None else dt.float32
    if steps == 1:
        return full((1,), start, dtype=d, device=device, requires_grad=requires_grad)
    delta = (end - start) / max(steps - 1, 1)
    t = arange(steps, dtype=dt.float64 if d == dt.float64 else dt.float32, device=device)
    out = (t * delta + start)._cast(d)
    return _finish(out, requires_grad)


def eye(n: int, m: int | None = None, *, dtype: Any = None, device: Any = None,
        requires_grad: bool = False) -> Tensor:
    """The identity matrix (n x m)."""
    m = n if m is None else m
    rows = arange(n, device=device).reshape(n, 1)
    cols = arange(m, device=device).reshape(1, m)
    out = (rows == cols)._cast(dt.to_dtype(dtype) if dtype is not None else dt.float32)
    return _finish(out, requires_grad)


def _random(kind: str, shape: tuple[int, ...], d: dt.DType, dev: Any, extra: tuple = ()
            ) -> Tensor:
    seed, counter = _rng_state["seed"], next(_rng_state["counter"])  # type: ignore[call-overload]
    node = make(Op.RAND, (), (kind, seed, counter) + extra, d, shape)
    return Tensor._wrap(node, to_device(dev))


def rand(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False,
         **kw: Any) -> Tensor:
    """Uniform samples in [0, 1)."""
    shape = _size_args(size, kw.get("size"))
    d = dt.to_dtype(dtype) if dtype is not None else dt.float32
    return _finish(_random("uniform", shape, d, device), requires_grad)


def randn(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False,
          **kw: Any) -> Tensor:
    """Standard normal samples."""
    shape = _size_args(size, kw.get("size"))
    d = dt.to_dtype(dtype) if dtype is not None else dt.float32
    return _finish(_random("normal", shape, d, device), requires_grad)


def randint(low: int, high: int | None = None, size: Sequence[int] = (), *, dtype: Any = None,
            device: Any = None) -> Tensor:
    """Integer samples in [low, high)."""
    if high is None:
        low, high = 0, low
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= "
                           f"to={high}")
    d = dt.to_dtype(dtype) if dtype is not None else dt.int64
    return _random("integers", _sizes((size,)), d, device, (int(low), int(high)))


def _like(x: Tensor, dtype: Any, device: Any) -> tuple[tuple[int, ...], Any, Any]:
    return tuple(x.shape), dtype or x.dtype, device or x.device


def zeros_like(x: Tensor, *, dtype: Any = None, device: Any = None,
               requires_grad: bool = False) -> Tensor:
    shape, d, dev = _like(x, dtype, device)
    return full(shape, 0, dtype=d, device=dev, requires_grad=requires_grad)


def ones_like(x: Tensor, *, dtype: Any = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    shape, d, dev = _like(x, dtype, device)
    return full(shape, 1, dtype=d, device=dev, requires_grad=requires_grad)


def full_like(x: Tensor, fill_value: Any, *, dtype: Any = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    shape, d, dev = _like(x, dtype, device)
    return full(shape, fill_value, dtype=d, device=dev, requires_grad=requires_grad)


def empty_like(x: Tensor, **kw: Any) -> Tensor:
    return zeros_like(x, **kw)


def rand_like(x: Tensor, *, dtype: Any = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    shape, d, dev = _like(x, dtype, device)
    return rand(shape, dtype=d, device=dev, requires_grad=requires_grad)


def randn_like(x: Tensor, *, dtype: Any = None, device: Any = None,
               requires_grad: bool = False) -> Tensor:
    shape, d, dev = _like(x, dtype, device)
    return randn(shape, dtype=d, device=dev, requires_grad=requires_grad)
