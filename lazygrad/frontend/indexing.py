"""`t[key]` and `t[key] = value`: basic indexing as movement ops, advanced indexing as GATHER,
assignment as SCATTER into the flat positions the same key selects.

A key is normalized into items: None (a new dim), Ellipsis, slices, ints, integer index
tensors (advanced indexing) and boolean masks. A mask selects a data-dependent number of
elements, so it is realized when the key is recorded and becomes index tensors, like PyTorch's
`nonzero()`; a 0-d mask (a Python bool or a 0-d bool tensor) adds a dim of size 1 or 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import dtypes as dt
from ..ir.node import const, make
from ..ir.ops import Op
from ..tensor import Tensor
from .math_ops import broadcast_shapes, expand_node
from .movement import pad, reshape, shrink
from .views import after_in_place, before_in_place, register_view, snapshot, write_target


@dataclass
class _Mask:
    """A boolean mask of `ndim` >= 1 dims, checked against the dims it covers."""

    mask: Tensor


@dataclass
class _Flag:
    """A 0-d boolean index: a new dim of size 1 (True) or 0 (False)."""

    keep: bool


def _normalize_key(x: Tensor, key: object) -> list[object]:
    items = list(key) if isinstance(key, tuple) else [key]
    out: list[object] = []
    for item in items:
        if isinstance(item, bool | np.bool_):
            out.append(_Flag(bool(item)))
        elif isinstance(item, list | np.ndarray | Tensor):
            out.append(_index_tensor(x, item))
        elif item is None or item is Ellipsis or isinstance(item, slice):
            out.append(item)
        elif isinstance(item, int | np.integer) or hasattr(item, "__index__"):
            out.append(int(item.__index__()))  # type: ignore[union-attr]
        else:
            raise IndexError(
                "only integers, slices (`:`), ellipsis (`...`), None and long or "
                "byte Variables are valid indices (got "
                f"{type(item).__name__})"
            )
    return out


def _index_tensor(x: Tensor, item: object) -> object:
    """An index given as a list, array or tensor: an integer index tensor or a mask."""
    from .creation import tensor

    if isinstance(item, Tensor):
        t = _on_device_of(x, item)
    elif isinstance(item, list) and len(item) == 0:
        t = tensor(np.zeros(0, np.int64), device=x.device)
    else:
        t = tensor(item, device=x.device)
    if t.dtype == dt.bool_:
        return _Flag(bool(t.item())) if t.ndim == 0 else _Mask(t)
    if t.dtype.is_floating_point:
        raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
    if t.ndim == 0:
        return int(t.item())
    return t


def _on_device_of(x: Tensor, index: Tensor) -> Tensor:
    """An index tensor on x's device: like PyTorch, CPU indices may index any device."""
    if index.device == x.device:
        return index
    if index.device.type != "cpu":
        raise RuntimeError(
            "indices should be either on cpu or on the same device as the "
            f"indexed tensor ({x.device})"
        )
    return index.to(x.device)


def _consumed(item: object) -> int:
    """How many dims of the indexed tensor an item uses up."""
    if item is None or item is Ellipsis or isinstance(item, _Flag):
        return 0
    if isinstance(item, _Mask):
        return item.mask.ndim
    return 1


def _expand_ellipsis(x: Tensor, items: list[object]) -> list[object]:
    if x.ndim == 0 and any(isinstance(i, int) for i in items):
        raise IndexError(
            "invalid index of a 0-dim tensor. Use `tensor.item()` in Python or "
            "`tensor.item<T>()` in C++ to convert a 0-dim tensor to a number"
        )
    consumed = sum(_consumed(i) for i in items)
    if consumed > x.ndim:
        raise IndexError(f"too many indices for tensor of dimension {x.ndim}")
    ellipses = [i for i, item in enumerate(items) if item is Ellipsis]
    if len(ellipses) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    fill: list[object] = [slice(None)] * (x.ndim - consumed)
    if ellipses:
        at = ellipses[0]
        return items[:at] + fill + items[at + 1 :]
    return items + fill


def _masks_to_indices(x: Tensor, items: list[object]) -> list[object]:
    """Check each mask against the dims it covers and replace it by its index tensors."""
    from .creation import tensor

    out: list[object] = []
    dim = 0
    for item in items:
        if isinstance(item, _Mask):
            mask = item.mask
            for i, n in enumerate(mask.shape):
                if n != x.shape[dim + i]:
                    raise IndexError(
                        f"The shape of the mask {list(mask.shape)} at index {i} "
                        "does not match the shape of the indexed tensor "
                        f"{list(x.shape)} at index {dim + i}"
                    )
            hits = np.nonzero(mask.detach()._host())
            out.extend(tensor(h.astype(np.int64), device=x.device) for h in hits)
        else:
            out.append(item)
        dim += _consumed(item)
    return out


def _slice_plan(item: slice, n: int) -> tuple[tuple[int, int], int, int, int]:
    """How to take `item` from a dim of size n: (bounds to shrink to, step, column, count).

    A step > 1 is taken by splitting a window of count * step elements into (count, step)
    and keeping one column; the window is chosen to fit inside the dim when it can (then the
    whole slice stays one strided view), else the slice is padded up to it (column -1)."""
    if item.step == 0:
        raise ValueError("slice step cannot be zero")
    start, stop, step = item.indices(n)
    if step <= 0:
        raise ValueError("step must be greater than zero")
    stop = max(stop, start)
    count = -(-(stop - start) // step)
    if step == 1 or count == 0:
        return (start, start + count), 1, 0, count
    lo = max(0, start - step + 1)
    if lo <= min(start, n - count * step):
        return (lo, lo + count * step), step, start - lo, count
    return (start, stop), step, -1, count


def _take_column(x: Tensor, dim: int, step: int, column: int, count: int) -> Tensor:
    """Every `step`-th element of dim `dim`, starting at `column` (-1: pad the dim first)."""
    if step == 1:
        return x
    if column < 0:
        n = x.shape[dim]
        x = pad(x, tuple((0, count * step - n) if k == dim else (0, 0) for k in range(x.ndim)))
        column = 0
    split = reshape(x, x.shape[:dim] + (count, step) + x.shape[dim + 1 :])
    bounds = tuple(
        (column, column + 1) if k == dim + 1 else (0, m) for k, m in enumerate(split.shape)
    )
    return reshape(shrink(split, bounds), x.shape[:dim] + (count,) + x.shape[dim + 1 :])


@dataclass
class _Advanced:
    """One advanced index: its position among the result's dims, its tensor and dim size."""

    position: int
    index: Tensor
    size: int
    number: int  # which advanced index this is (PyTorch's errors count them)


def getitem(x: Tensor, key: object) -> Tensor:
    """`x[key]` with PyTorch's semantics for ints, slices, None, ..., int tensors and masks.

    Basic indexing (no index tensors) gives a view of `x`: writes through it reach `x`."""
    items = _masks_to_indices(x, _expand_ellipsis(x, _normalize_key(x, key)))
    bounds, steps, out_shape, advanced, flags = [], [], [], [], []
    dim = 0
    for item in items:
        if item is None or isinstance(item, _Flag):
            if isinstance(item, _Flag) and not item.keep:
                flags.append(len(out_shape))
            out_shape.append(1)
            continue
        n = x.shape[dim]
        if isinstance(item, int):
            if not -n <= item < n:
                raise IndexError(f"index {item} is out of bounds for dimension {dim} with size {n}")
            item %= n
            bounds.append((item, item + 1))
            steps.append((1, 0, 1))
        elif isinstance(item, slice):
            window, step, column, count = _slice_plan(item, n)
            bounds.append(window)
            steps.append((step, column, count))
            out_shape.append(count)
        else:
            assert isinstance(item, Tensor)
            bounds.append((0, n))
            steps.append((1, 0, n))
            advanced.append(_Advanced(len(out_shape), item, n, len(advanced)))
            out_shape.append(n)
        dim += 1
    y = shrink(x, tuple(bounds))
    for d, (step, column, count) in enumerate(steps):
        y = _take_column(y, d, step, column, count)
    y = reshape(y, tuple(out_shape))
    if flags:
        y = shrink(y, tuple((0, 0) if d in flags else (0, n) for d, n in enumerate(y.shape)))
    if advanced:
        y = _gather(y, advanced)
    if y is x:
        y = (
            x._result(x._node, "AliasBackward0", (x,))
            if x.requires_grad
            else Tensor._wrap(x._node, x.device)
        )
    elif y.grad_fn is not None:
        y.grad_fn.set_inputs(
            "IndexBackward0"
            if advanced
            else (
                "SelectBackward0" if any(isinstance(i, int) for i in items) else "SliceBackward0"
            ),
            (x,),
        )
    if not advanced and not flags:  # replayed with the ints a 0-d index tensor held now
        frozen = tuple(items)
        register_view(y, x, lambda base: getitem(base, frozen))
    return y


def _gather(y: Tensor, advanced: list[_Advanced]) -> Tensor:
    """Advanced indexing of the dims listed in `advanced` as one GATHER of flat positions.

    The positions are built directly in the result's dim order: the broadcast index dims
    replace the indexed dims where those are adjacent, else they come first (NumPy's rule)."""
    try:
        batch = broadcast_shapes(*(a.index.shape for a in advanced))
    except RuntimeError:
        shapes = ", ".join(str(list(a.index.shape)) for a in advanced)
        raise IndexError(
            f"shape mismatch: indexing tensors could not be broadcast together with shapes {shapes}"
        ) from None
    dims = [a.position for a in advanced]
    rest = [d for d in range(y.ndim) if d not in dims]
    adjacent = dims == list(range(dims[0], dims[0] + len(dims)))
    before = [d for d in rest if d < dims[0]] if adjacent else []
    after = [d for d in rest if d not in before]
    out_shape = tuple(y.shape[d] for d in before) + batch + tuple(y.shape[d] for d in after)
    strides = [math.prod(y.shape[d + 1 :]) for d in range(y.ndim)]
    batch_at = len(before)
    from .creation import arange

    position = None
    for a in advanced:
        _check_host_bounds(a.index, a.size, a.number)
        idx = _wrap_negative(a.index, a.size)._cast(dt.int64).detach()
        shape = (
            (1,) * batch_at + (1,) * (len(batch) - idx.ndim) + tuple(idx.shape) + (1,) * len(after)
        )
        term = reshape(idx, shape) * strides[a.position]
        position = term if position is None else position + term
    for k, d in enumerate(before + after):
        at = k if k < batch_at else k + len(batch)
        shape = tuple(y.shape[d] if i == at else 1 for i in range(len(out_shape)))
        term = reshape(arange(y.shape[d], device=y.device), shape) * strides[d]
        position = term if position is None else position + term
    assert position is not None
    pos = expand_node(position._node, out_shape)
    return y._result(make(Op.GATHER, (y._node, pos)), "IndexBackward0", (y,))


# The position an index outside its dimension maps to: far below any flat position, so the
# sum of an indexed element's terms lies outside the tensor whatever the other indices are,
# and the gather or scatter reading it raises IndexError instead of reading another element
# (OpenCL kernels set the device's error flag, raised at the next read from the device).
OUT_OF_BOUNDS = -(2**62)


def _wrap_negative(idx: Tensor, size: int) -> Tensor:
    """Negative indices count from the end; an index tensor whose values are not on the host
    (checked already) maps indices outside [-size, size) to OUT_OF_BOUNDS."""
    from .math_ops import where

    host = _host_index(idx)
    if host is not None:
        return where(idx < 0, idx + size, idx) if (host < 0).any() else idx
    inside = (idx >= -size) & (idx < size)
    return where(inside, where(idx < 0, idx + size, idx), OUT_OF_BOUNDS)


def _host_index(idx: Tensor) -> np.ndarray | None:
    """The values of an index tensor whose data is on the host (maybe on its way to a device)."""
    node = idx._node
    while node.op in (Op.COPY, Op.CAST) and node.src[0].dtype.category == 1:
        node = node.src[0]
    buf = node.arg if node.op is Op.BUFFER else None
    return getattr(buf, "host", None)


def _check_host_bounds(idx: Tensor, n: int, number: int) -> None:
    """Index tensors made from host data are checked now, like PyTorch; lazy ones are not."""
    host = _host_index(idx)
    if host is not None and host.size:
        bad = host[(host >= n) | (host < -n)]
        if bad.size:
            raise IndexError(
                f"index {bad[0]} is out of bounds for dimension {number} with size {n}"
            )


def setitem(x: Tensor, key: object, value: object) -> None:
    """`x[key] = value`: a functional update; tensors recorded earlier keep the old values,
    views of `x` (and the tensor `x` is a view of) see the new ones."""
    if not isinstance(value, Tensor | bool | int | float | np.generic | np.ndarray):
        raise TypeError(
            f"can't assign a {type(value).__name__} to a lazygrad.{x.dtype.torch_name}Tensor"
        )
    if isinstance(value, np.ndarray):
        from .creation import tensor

        value = tensor(value, device=x.device)
    before_in_place(x, indexed=True)
    target, flat_positions = write_target(x)
    positions = getitem(flat_positions, key).detach()
    if isinstance(value, Tensor):
        x._check_device(value)
        vnode = _value_node(x, key, value, tuple(positions.shape))
        inputs: tuple = (snapshot(target), value)
    else:
        vnode = const(
            value.item() if isinstance(value, np.generic) else value,
            x.dtype,
            tuple(positions.shape),
        )
        inputs = (snapshot(target), None)
    node = make(Op.SCATTER, (target._node, positions._node, vnode), "set")
    target._in_place(target._result(node, "CopySlices", inputs))
    after_in_place(target)


def _value_node(x: Tensor, key: object, value: Tensor, shape: tuple[int, ...]):  # noqa: ANN202
    """`value` cast to x's dtype and broadcast to the indexed shape, with PyTorch's errors:
    an expand error for basic keys, a shape mismatch for advanced ones."""
    from .movement import expand

    items = key if isinstance(key, tuple) else (key,)
    is_advanced = any(isinstance(i, list | np.ndarray | Tensor | bool) for i in items)
    while value.ndim > len(shape) and value.shape[0] == 1:
        value = reshape(value, value.shape[1:])
    if is_advanced:
        try:
            ok = broadcast_shapes(tuple(value.shape), shape) == shape
        except RuntimeError:
            ok = False
        if not ok:
            raise RuntimeError(
                f"shape mismatch: value tensor of shape {list(value.shape)} cannot "
                f"be broadcast to indexing result of shape {list(shape)}"
            )
        return expand_node(value._cast_node(x.dtype), shape)
    return expand(value, shape)._cast(x.dtype)._node
