"""Creation functions. Host data becomes a buffer; everything else (zeros, arange, rand, ...)
is a lazy leaf of the graph."""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import dtypes as dt
from ..buffer import Buffer
from ..device import device, to_device
from ..ir.node import const, make
from ..ir.ops import Op
from ..size import sizes_of
from ..tensor import Tensor

_rng_state = {"seed": 0, "counter": itertools.count()}


def manual_seed(seed: int) -> None:
    """Seed every random creation function (rand, randn, randint, dropout)."""
    _rng_state["seed"] = int(seed) % 2**64  # as PyTorch: any int, read as an unsigned 64-bit
    _rng_state["counter"] = itertools.count()


def get_rng_state() -> Tensor:
    """`torch.get_rng_state`: the random state as a uint8 tensor (the seed and the number
    of the next draw, two little-endian unsigned 64-bit integers), for `set_rng_state`."""
    state = _rng_state
    start = next(state["counter"])  # type: ignore[call-overload]
    state["counter"] = itertools.count(start)
    raw = np.array([state["seed"], start % 2**64], dtype="<u8").view(np.uint8)
    return tensor(raw, dtype=dt.uint8)


def set_rng_state(new_state: Tensor) -> None:
    """`torch.set_rng_state`: make the following draws those that came after the draw
    `get_rng_state` returned the state of."""
    if not isinstance(new_state, Tensor) or new_state.dtype is not dt.uint8:
        raise TypeError("set_rng_state expects a torch.ByteTensor (a uint8 tensor)")
    raw = new_state.numpy()
    if raw.shape != (16,):
        raise RuntimeError(f"RNG state must be 16 bytes, got a tensor of shape {raw.shape}")
    seed, counter = (int(v) for v in raw.view("<u8"))
    _rng_state.update(seed=seed, counter=itertools.count(counter))


class Generator:
    """`lg.Generator`: a seed, for the APIs that take a generator (`DataLoader`,
    `random_split`, samplers), as PyTorch's `Generator(device).manual_seed(s)` is used.
    lazygrad's random tensors come from one seeded stream (`lg.manual_seed`)."""

    def __init__(self, device: object = "cpu") -> None:
        self.device = to_device(device)
        self._seed = 67280421310721  # PyTorch's default seed

    def manual_seed(self, seed: int) -> Generator:
        """Set the seed; returns the generator (`g = lg.Generator().manual_seed(0)`)."""
        self._seed = int(seed)
        return self

    def initial_seed(self) -> int:
        """The seed it was given."""
        return self._seed

    def seed(self) -> int:
        """A new nondeterministic seed, set and returned."""
        self._seed = int.from_bytes(os.urandom(8), "little") >> 1
        return self._seed


def _finish(t: Tensor, requires_grad: bool) -> Tensor:
    if requires_grad:
        if not t.dtype.is_floating_point:
            raise RuntimeError(
                "Only Tensors of floating point and complex dtype can require gradients"
            )
        t._set_leaf_requires_grad(True)
    return t


def _host_array(data: Any, dtype: dt.DType | None) -> np.ndarray:
    if isinstance(data, Tensor):
        arr = data.detach()._host()
    elif isinstance(data, np.ndarray | np.generic):
        arr = np.asarray(data)
    else:
        _check_nested(data)
        arr = np.array(data)
        if arr.dtype.kind in "fuO":  # NumPy's way out of an int beyond int64 (uint64, float)
            _check_python_ints(data)
        if arr.dtype == object:  # numbers only when a huge int sits among floats
            try:
                arr = np.array(data, dtype=np.float64)
            except (TypeError, ValueError):
                raise TypeError(f"Could not infer dtype of {type(data).__name__}") from None
        if arr.dtype.kind in "USV":
            raise TypeError("new(): invalid data type 'str'")
        if dtype is None:
            kind = arr.dtype.kind
            if kind == "f":  # Python floats: the default dtype, as in PyTorch
                arr = arr.astype(dt.default_float.np)
            elif kind in "iu":
                arr = arr.astype(np.int64)
            elif kind != "b" and arr.size:
                raise TypeError(f"Could not infer dtype of {arr.dtype}")
            elif kind != "b":
                arr = arr.astype(dt.default_float.np)
    target = dt.to_dtype(dtype) if dtype is not None else dt.from_numpy_dtype(arr.dtype)
    if arr.dtype.kind in "iu" and target.np.kind in "iu" and arr.size:
        info = np.iinfo(target.np)
        if int(arr.max()) > info.max or int(arr.min()) < info.min:
            raise RuntimeError(
                f"value cannot be converted to type {target.np.name}_t without overflow"
            )
    if target.is_narrow_float and arr.dtype.name not in ("float32", target.name):
        arr = arr.astype(np.float32)  # through float32, as PyTorch converts: rounding twice
    return np.array(arr, dtype=target.np, copy=True, order="C")


_INT64 = np.iinfo(np.int64)


def _check_python_ints(data: Any) -> None:
    """PyTorch's overflow error for a Python int that no int64 holds, where the data is
    integers only (with a float among them, the ints become floats too)."""
    stack, overflow = [data], False
    while stack:
        x = stack.pop()
        if isinstance(x, list | tuple):
            stack.extend(x)
        elif isinstance(x, float):
            return
        elif isinstance(x, int) and not isinstance(x, bool):
            overflow = overflow or not _INT64.min <= x <= _INT64.max
    if overflow:
        raise RuntimeError("Overflow when unpacking long")


def _check_nested(data: Any) -> None:
    """PyTorch's error for ragged nested lists (NumPy's complains about inhomogeneous shapes)."""
    level: list[Any] = [data]
    dim = 0
    while level and all(isinstance(x, list | tuple) for x in level):
        length = len(level[0])
        for x in level:
            if len(x) != length:
                raise ValueError(
                    f"expected sequence of length {length} at dim {dim} (got {len(x)})"
                )
        level = [y for x in level for y in x]
        dim += 1
    if any(isinstance(x, list | tuple) for x in level):
        raise TypeError("not a sequence")


def buffer_tensor(arr: np.ndarray, dev: device, requires_grad: bool = False) -> Tensor:
    """A realized tensor holding a copy of the host array `arr`."""
    d = dt.from_numpy_dtype(arr.dtype)
    buf = Buffer(str(dev), d, arr.size, host=np.ascontiguousarray(arr).reshape(-1))
    node = make(Op.BUFFER, (), buf, d, tuple(arr.shape))
    return _finish(Tensor._wrap(node, dev), requires_grad)


def tensor(data: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor holding a copy of `data` (nested lists, scalars or NumPy arrays)."""
    return buffer_tensor(_host_array(data, dtype), to_device(device), requires_grad)


def from_numpy(ndarray: np.ndarray) -> Tensor:
    """A CPU tensor with the array's values and dtype."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    return buffer_tensor(
        np.array(ndarray, dtype=dt.from_numpy_dtype(ndarray.dtype).np), to_device("cpu")
    )


def full(
    size: Sequence[int],
    fill_value: int | float | bool,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """A tensor of `size` filled with `fill_value`."""
    shape = _size_args((size,), None, "full")
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    if dtype is None:
        dtype = dt.result_type([], [], [fill_value])
    d = dt.to_dtype(dtype)
    if d.category == 1 and isinstance(fill_value, int | np.integer):
        info = np.iinfo(d.np)
        if not info.min <= int(fill_value) <= info.max:
            raise RuntimeError(f"value cannot be converted to type {d.name}_t without overflow")
    return _finish(Tensor._wrap(const(fill_value, d, shape), to_device(device)), requires_grad)


def _size_args(size: tuple, kwargs_size: Any, fn: str) -> tuple[int, ...]:
    """Sizes given as `*size` or `size=`, checked like PyTorch (integers, not negative)."""
    if size and kwargs_size is not None:
        raise TypeError(f"{fn}() got multiple values for argument 'size'")
    if not size and kwargs_size is None:
        raise TypeError(f'{fn}() missing 1 required positional arguments: "size"')
    sizes = sizes_of(size if size else (kwargs_size,), fn, "size")
    negative = [s for s in sizes if s < 0]
    if negative:
        if fn == "zeros":
            raise RuntimeError("zeros: Dimension size must be non-negative.")
        raise RuntimeError(
            f"Trying to create tensor with negative dimension {negative[0]}: {list(sizes)}"
        )
    return sizes


def zeros(
    *size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False, **kw: Any
) -> Tensor:
    """A tensor of zeros."""
    shape = _size_args(size, kw.get("size"), "zeros")
    return full(
        shape, 0, dtype=dtype or dt.default_float, device=device, requires_grad=requires_grad
    )


def ones(
    *size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False, **kw: Any
) -> Tensor:
    """A tensor of ones."""
    shape = _size_args(size, kw.get("size"), "ones")
    return full(
        shape, 1, dtype=dtype or dt.default_float, device=device, requires_grad=requires_grad
    )


def empty(
    *size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False, **kw: Any
) -> Tensor:
    """An uninitialized tensor (lazygrad fills it with zeros)."""
    shape = _size_args(size, kw.get("size"), "empty")
    return full(
        shape, 0, dtype=dtype or dt.default_float, device=device, requires_grad=requires_grad
    )


def arange(
    start: float,
    end: float | None = None,
    step: float = 1,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Values from start (inclusive) to end (exclusive) by step, sized and computed as
    PyTorch does: in int64 arithmetic for int64 results, else from doubles."""
    if end is None:
        start, end = 0, start
    start, end, step = (_number(v, "arange") for v in (start, end, step))
    if dtype is None:
        dtype = dt.result_type([], [], [start, end, step])
    d = dt.to_dtype(dtype)
    if d == dt.bool_:
        raise NotImplementedError("\"arange_cpu\" not implemented for 'Bool'")
    # PyTorch checks and computes the values with start/end/step cast to the result type
    # (truncated for integers), but sizes non-int64 results from the uncast values.
    xstart, xend, xstep = (v if d.is_floating_point else int(v) for v in (start, end, step))
    if xstep == 0:
        raise RuntimeError("step must be nonzero")
    if not ((xstep > 0 and xend >= xstart) or (xstep < 0 and xend <= xstart)):
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    if d == dt.int64:  # C++ integer division, which truncates toward zero
        sign = 1 if xstep > 0 else -1
        num = xend - xstart + xstep - sign
        count = (abs(num) // abs(xstep)) * (1 if (num >= 0) == (xstep > 0) else -1)
    else:
        count = math.ceil((float(end) - float(start)) / float(step))
    node = make(Op.ARANGE, (), (xstart, xstep), d, (max(count, 0),))
    return _finish(Tensor._wrap(node, to_device(device)), requires_grad)


def _number(value: Any, fn: str) -> int | float:
    """A Python number from an argument (0-d tensors and NumPy scalars too)."""
    if isinstance(value, Tensor | np.generic):
        value = value.item()
    if not isinstance(value, int | float):
        raise TypeError(f"{fn}(): argument must be a number, not {type(value).__name__}")
    return value


def linspace(
    start: float,
    end: float,
    steps: int,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """`steps` evenly spaced values from start to end inclusive.

    Computed on the host as PyTorch computes them: the first half counts up from `start`
    and the second half down from `end`, with the step in the result's precision."""
    start, end = _number(start, "linspace"), _number(end, "linspace")
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer):
        raise TypeError(f"linspace(): argument 'steps' must be int, not {type(steps).__name__}")
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    d = dt.to_dtype(dtype) if dtype is not None else dt.default_float
    if d == dt.bool_:
        raise NotImplementedError("\"linspace_cpu\" not implemented for 'Bool'")
    index = np.arange(steps, dtype=np.float64)
    if d.is_floating_point:
        lo, hi = d.np.type(start), d.np.type(end)
        step = (hi - lo) / d.np.type(max(steps - 1, 1))
    else:
        lo, hi = int(start), int(end)
        step = (hi - lo) / max(steps - 1, 1)
    lo, hi, step = float(lo), float(hi), float(step)
    half = steps // 2
    values = np.where(index < half, lo + step * index, hi - step * (steps - 1 - index))
    if steps == 1:
        values = np.array([lo])
    arr = np.trunc(values).astype(d.np) if not d.is_floating_point else values.astype(d.np)
    return buffer_tensor(arr, to_device(device), requires_grad)


def eye(
    n: int,
    m: int | None = None,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """The identity matrix (n x m)."""
    m = n if m is None else m
    for name, value in (("n", n), ("m", m)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise TypeError(f"eye(): argument '{name}' must be int, not {type(value).__name__}")
        if value < 0:
            raise RuntimeError(f"{name} must be greater or equal to 0, got {value}")
    rows = (
        arange(n, device=device).reshape(n, 1) if n else zeros(0, 1, dtype=dt.int64, device=device)
    )
    cols = (
        arange(m, device=device).reshape(1, m) if m else zeros(1, 0, dtype=dt.int64, device=device)
    )
    out = (rows == cols)._cast(dt.to_dtype(dtype) if dtype is not None else dt.default_float)
    return _finish(out, requires_grad)


def _random(kind: str, shape: tuple[int, ...], d: dt.DType, dev: Any, extra: tuple = ()) -> Tensor:
    seed, counter = _rng_state["seed"], next(_rng_state["counter"])  # type: ignore[call-overload]
    node = make(Op.RAND, (), (kind, seed, counter) + extra, d, shape)
    return Tensor._wrap(node, to_device(dev))


def rand(
    *size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False, **kw: Any
) -> Tensor:
    """Uniform samples in [0, 1)."""
    shape = _size_args(size, kw.get("size"), "rand")
    d = dt.to_dtype(dtype) if dtype is not None else dt.default_float
    if not d.is_floating_point:
        raise NotImplementedError(f"\"check_uniform_bounds\" not implemented for '{d.torch_name}'")
    return _finish(_random("uniform", shape, d, device), requires_grad)


def randn(
    *size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False, **kw: Any
) -> Tensor:
    """Standard normal samples."""
    shape = _size_args(size, kw.get("size"), "randn")
    d = dt.to_dtype(dtype) if dtype is not None else dt.default_float
    if not d.is_floating_point:
        raise NotImplementedError(f"\"normal_kernel_cpu\" not implemented for '{d.torch_name}'")
    return _finish(_random("normal", shape, d, device), requires_grad)


def randint(
    *args: Any,
    size: Sequence[int] | None = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
    **kw: Any,
) -> Tensor:
    """Integer samples in [low, high): `randint(high, size)` or `randint(low, high, size)`."""
    low, high = kw.pop("low", 0), kw.pop("high", None)
    if kw:
        raise TypeError(f"randint() got an unexpected keyword argument '{next(iter(kw))}'")
    args_ = list(args)
    if size is None and args_ and isinstance(args_[-1], Sequence):
        size = args_.pop()
    if len(args_) == 2:
        low, high = args_
    elif len(args_) == 1:
        if high is None:
            high = args_[0]
        else:
            low = args_[0]
    elif args_:
        raise TypeError(f"randint() takes at most 3 positional arguments ({len(args)} given)")
    if high is None or size is None:
        raise TypeError("randint() missing required arguments: 'high' and 'size'")
    for value in (low, high):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise TypeError(
                f"randint(): argument 'low'/'high' must be int, not {type(value).__name__}"
            )
    if low >= high:
        raise RuntimeError(
            f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}"
        )
    d = dt.to_dtype(dtype) if dtype is not None else dt.int64
    limits = {
        dt.bool_: (0, 1),
        dt.uint8: (0, 2**8 - 1),
        dt.int8: (-(2**7), 2**7 - 1),
        dt.int16: (-(2**15), 2**15 - 1),
        dt.int32: (-(2**31), 2**31 - 1),
    }.get(d)
    if limits is not None and not (limits[0] <= low and high - 1 <= limits[1]):
        bad = "from" if low < limits[0] else "to - 1"
        raise RuntimeError(f"{bad} is out of bounds for {d.c_name}")
    shape = _size_args((), size, "randint")
    out = _random("integers", shape, d, device, (int(low), int(high)))
    return _finish(out, requires_grad)


def _like(x: Tensor, dtype: Any, device: Any) -> tuple[tuple[int, ...], Any, Any]:
    return tuple(x.shape), dtype or x.dtype, device or x.device


def zeros_like(
    input: Tensor, *, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    """Zeros with the shape (and, unless given, dtype and device) of `x`."""
    shape, d, dev = _like(input, dtype, device)
    return full(shape, 0, dtype=d, device=dev, requires_grad=requires_grad)


def ones_like(
    input: Tensor, *, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    """Ones with the shape (and, unless given, dtype and device) of `x`."""
    shape, d, dev = _like(input, dtype, device)
    return full(shape, 1, dtype=d, device=dev, requires_grad=requires_grad)


def full_like(
    input: Tensor,
    fill_value: Any,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """`fill_value` with the shape (and, unless given, dtype and device) of `x`."""
    shape, d, dev = _like(input, dtype, device)
    return full(shape, fill_value, dtype=d, device=dev, requires_grad=requires_grad)


def empty_like(input: Tensor, **kw: Any) -> Tensor:
    """An uninitialized tensor like `x` (lazygrad fills it with zeros)."""
    return zeros_like(input, **kw)


def rand_like(
    input: Tensor, *, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    """Uniform samples in [0, 1) with the shape of `x`."""
    shape, d, dev = _like(input, dtype, device)
    return rand(shape, dtype=d, device=dev, requires_grad=requires_grad)


def randn_like(
    input: Tensor, *, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    """Standard normal samples with the shape of `x`."""
    shape, d, dev = _like(input, dtype, device)
    return randn(shape, dtype=d, device=dev, requires_grad=requires_grad)
