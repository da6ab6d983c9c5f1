"""`t[key]` and `t[key] = value`: basic indexing as movement ops, advanced indexing as GATHER,
assignment as SCATTER into the flat positions the same key selects."""

from __future__ import annotations

import math

import numpy as np

from . import dtype as dt
from .ir.node import make
from .ir.ops import Op
from .math_ops import broadcast_shapes, expand_node, where
from .movement import pad, permute, reshape, shrink
from .tensor import Tensor


def _normalize_key(x: Tensor, key: object) -> list[object]:
    items = list(key) if isinstance(key, tuple) else [key]
    out: list[object] = []
    for item in items:
        if isinstance(item, list | np.ndarray) or (isinstance(item, Tensor)):
            from .creation import tensor

            t = item if isinstance(item, Tensor) else tensor(item, device=x.device)
            if t.dtype == dt.bool_:
                out.extend(_mask_to_indices(t))
                continue
            if t.dtype.is_floating_point:
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
            out.append(t)
        elif isinstance(item, bool):
            raise IndexError("indexing with a Python bool is not supported")
        elif item is None or item is Ellipsis or isinstance(item, slice):
            out.append(item)
        elif isinstance(item, int | np.integer) or (hasattr(item, "__index__")):
            out.append(int(item.__index__()))  # type: ignore[union-attr]
        else:
            raise IndexError("only integers, slices (`:`), ellipsis (`...`), None and long or "
                             "byte Variables are valid indices (got "
                             f"{type(item).__name__})")
    return out


def _mask_to_indices(mask: Tensor) -> list[Tensor]:
    """A boolean mask selects a data-dependent number of elements, so it is realized here."""
    from .creation import tensor

    hits = np.nonzero(mask.detach()._host())
    return [tensor(h.astype(np.int64), device=mask.device) for h in hits]


def _expand_ellipsis(x: Tensor, items: list[object]) -> list[object]:
    consumed = sum(1 for i in items if i is not None and i is not Ellipsis)
    if consumed > x.ndim:
        raise IndexError(f"too many indices for tensor of dimension {x.ndim}")
    ellipses = [i for i, item in enumerate(items) if item is Ellipsis]
    if len(ellipses) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    fill = [slice(None)] * (x.ndim - consumed)
    if ellipses:
        at = ellipses[0]
        return items[:at] + fill + items[at + 1:]
    return items + fill


def _strided(x: Tensor, dim: int, step: int) -> Tensor:
    """Every `step`-th element along `dim`: pad to a multiple of step, split, keep column 0."""
    n = x.shape[dim]
    if step == 1 or n == 0:
        return x
    count = -(-n // step)
    padded = pad(x, tuple((0, count * step - n) if k == dim else (0, 0) for k in range(x.ndim)))
    split = reshape(padded, x.shape[:dim] + (count, step) + x.shape[dim + 1:])
    bounds = tuple((0, 1) if k == dim + 1 else (0, m) for k, m in enumerate(split.shape))
    return reshape(shrink(split, bounds), x.shape[:dim] + (count,) + x.shape[dim + 1:])


def getitem(x: Tensor, key: object) -> Tensor:
    """`x[key]` with PyTorch's semantics for ints, slices, None, ..., int tensors and masks."""
    items = _expand_ellipsis(x, _normalize_key(x, key))
    bounds, steps, out_shape, advanced = [], [], [], []
    dim = 0
    for item in items:
        if item is None:
            out_shape.append(1)
            continue
        n = x.shape[dim]
        if isinstance(item, int):
            if not -n <= item < n:
                raise IndexError(f"index {item} is out of bounds for dimension {dim} with size {n}")
            item %= n
            bounds.append((item, item + 1))
            steps.append(1)
        elif isinstance(item, slice):
            start, stop, step = item.indices(n)
            if step <= 0:
                raise ValueError("step must be greater than zero")
            stop = max(stop, start)
            bounds.append((start, stop))
            steps.append(step)
            out_shape.append(-(-(stop - start) // step))
        else:
            bounds.append((0, n))
            steps.append(1)
            advanced.append((len(out_shape), item, n))
            out_shape.append(n)
        dim += 1
    y = shrink(x, tuple(bounds))
    for d, step in enumerate(steps):
        y = _strided(y, d, step)
    y = reshape(y, tuple(out_shape))
    if advanced:
        y = _gather(y, advanced)
    if y is x:
        return x._result(x._node, "AliasBackward0", (x,)) if x.requires_grad else \
            Tensor._wrap(x._node, x.device)
    if y.grad_fn is not None:
        y.grad_fn._name = "IndexBackward0" if advanced else (
            "SelectBackward0" if any(isinstance(i, int) for i in items) else "SliceBackward0")
        y.grad_fn._inputs = (x,)
    return y


def _gather(y: Tensor, advanced: list[tuple[int, Tensor, int]]) -> Tensor:
    """Advanced indexing of the dims listed in `advanced` as one GATHER of flat positions."""
    dims = [d for d, _, _ in advanced]
    rest = [d for d in range(y.ndim) if d not in dims]
    batch = broadcast_shapes(*(t.shape for _, t, _ in advanced))
    src = permute(y, dims + rest)
    rest_shape = tuple(y.shape[d] for d in rest)
    inner = math.prod(rest_shape)
    position = None
    scale = inner
    for d, idx, n in reversed(advanced):
        y._check_device(idx)
        _check_host_bounds(idx, n, d)
        idx = idx._cast(dt.int64).detach()
        idx = where(idx < 0, idx + n, idx)
        term = idx * scale
        position = term if position is None else position + term
        scale *= n
    assert position is not None
    from .creation import arange

    offsets = reshape(arange(inner, device=y.device), rest_shape) if rest_shape else None
    full_shape = batch + rest_shape
    pos = expand_node(reshape(position, batch + (1,) * len(rest_shape))._node, full_shape)
    if offsets is not None:
        pos = make(Op.ADD, (pos, expand_node(offsets._node, full_shape)))
    out = src._result(make(Op.GATHER, (src._node, pos)), "IndexBackward0", (src,))
    if dims == list(range(dims[0], dims[0] + len(dims))) and dims[0] > 0:
        nb, first = len(batch), dims[0]
        order = list(range(nb, nb + first)) + list(range(nb)) + list(range(nb + first, out.ndim))
        out = permute(out, order)
    return out


def _check_host_bounds(idx: Tensor, n: int, dim: int) -> None:
    """Index tensors made from host data are checked now, like PyTorch; lazy ones at realize."""
    buf = idx._node.arg if idx._node.op is Op.BUFFER else None
    host = getattr(buf, "host", None)
    if host is not None and host.size:
        bad = host[(host >= n) | (host < -n)]
        if bad.size:
            raise IndexError(f"index {bad[0]} is out of bounds for dimension {dim} with size {n}")


def setitem(x: Tensor, key: object, value: object) -> None:
    """`x[key] = value`: a functional update; tensors recorded earlier keep the old values."""
    from .creation import arange

    positions = getitem(reshape(arange(x.numel(), device=x.device), x.shape), key).detach()
    if isinstance(value, Tensor):
        x._check_device(value)
        try:
            shape = broadcast_shapes(value.shape, positions.shape)
        except RuntimeError:
            shape = None
        if shape != positions.shape:
            raise RuntimeError(f"shape mismatch: value tensor of shape {list(value.shape)} cannot "
                               f"be broadcast to indexing result of shape {list(positions.shape)}")
        vnode = expand_node(value._cast_node(x.dtype), positions.shape)
        inputs: tuple = (x, value)
    else:
        from .ir.node import const

        vnode = const(value, x.dtype, positions.shape)
        inputs = (x, None)
    node = make(Op.SCATTER, (x._node, positions._node, vnode), "set")
    x._in_place(x._result(node, "CopySlices", inputs))
