"""Reductions, scans, sorting and indexed reads and writes (`all`, `cumsum`, `sort`, `topk`,
`gather`, `scatter`, ...), built from lazy primitives so they run as kernels on every device.

- Scans (cumsum, cumprod) combine each element with the one 1, 2, 4, ... places before it:
  ceil(log2 n) steps of shifted (padded) copies.
- Sorting is a bitonic network over the sorted dim padded to a power of two: each step
  compares every element with a partner found by a reshape and a flip, and keeps the smaller
  or the larger. Elements are compared as (class, value, index) so that the order is total:
  ties keep their original order (stable, like PyTorch's `stable=True`), NaNs sort as the
  largest values and the padding after everything. Values are then gathered from the input
  at the sorted indices, which is what routes their gradient back.
- Functions whose result size depends on values (nonzero, masked_select, unique) read those
  values when called, as PyTorch synchronizes there.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import dtypes as dt
from ..ir.node import const, make
from ..ir.ops import Op
from ..tensor import Scalar, Tensor
from . import math_ops
from .creation import arange, full, tensor
from .indexing import OUT_OF_BOUNDS, _host_index
from .math_ops import Dims, _ReturnType, compare, where
from .movement import expand, pad, reshape, shrink, transpose

__all__ = [
    "all",
    "any",
    "amax",
    "amin",
    "cumsum",
    "cumprod",
    "sort",
    "argsort",
    "topk",
    "median",
    "norm",
    "var_mean",
    "nonzero",
    "masked_select",
    "masked_fill",
    "gather",
    "scatter",
    "scatter_add",
    "index_select",
    "unique",
    "take",
]


def _return_type(name: str) -> type[_ReturnType]:
    """A (values, indices) named tuple printed like `torch.return_types.NAME`."""
    doc = f"What `{name}` returns: (values, indices)."
    cls = type(name, (_ReturnType,), {"__slots__": (), "_name": name, "__doc__": doc})
    cls.__module__ = "lazygrad.return_types"
    return cls


SortResult = _return_type("sort")
TopkResult = _return_type("topk")
MedianResult = _return_type("median")


# ---- all, any, amax, amin --------------------------------------------------------------------
def any(input: Tensor, dim: Dims = None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """Whether any element along `dim` (all elements by default) is nonzero (NaN counts)."""
    hits = math_ops.sum(compare(Op.CMPNE, input, False), dim, keepdim)
    return compare(Op.CMPLT, 0, hits)


def all(input: Tensor, dim: Dims = None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """Whether every element along `dim` (all elements by default) is nonzero (NaN counts)."""
    misses = math_ops.sum(compare(Op.CMPEQ, input, False), dim, keepdim)
    return compare(Op.CMPEQ, misses, 0)


def _extreme_axes(x: Tensor, dim: Dims, fn: str) -> tuple[int, ...]:
    """The axes amax/amin reduce (`()` means all), with PyTorch's errors for empty ones."""
    axes = math_ops.reduce_axes(x, dim)
    if dim is None or (isinstance(dim, Sequence) and not dim):
        math_ops._check_nonempty(x, fn, None)
    for a in axes:
        math_ops._check_nonempty(x, fn, a)
    return axes


def amax(input: Tensor, dim: Dims = (), keepdim: bool = False) -> Tensor:
    """Maximum along `dim` (all dims by default); the gradient is shared evenly by ties."""
    axes = _extreme_axes(input, dim, "amax")
    source = input._cast(dt.int64) if input.dtype == dt.bool_ else input
    out = math_ops._reduce(source, Op.RMAX, axes, keepdim, "AmaxBackward0")
    return out._cast(input.dtype)


def amin(input: Tensor, dim: Dims = (), keepdim: bool = False) -> Tensor:
    """Minimum along `dim` (all dims by default); the gradient is shared evenly by ties."""
    axes = _extreme_axes(input, dim, "amin")
    flipped = math_ops._flip_order(amax(math_ops._flip_order(input), axes, keepdim))
    return math_ops._as_one_op(flipped, "AminBackward0", (input,))


# ---- scans -------------------------------------------------------------------------------------
def _along(n: int, d: int, ndim: int, device: Any) -> Tensor:
    """arange(n) laid along dim d of an `ndim`-dim tensor (size 1 elsewhere)."""
    return reshape(arange(n, device=device), [n if a == d else 1 for a in range(ndim)])


def _scan(x: Tensor, d: int, op: Op) -> Tensor:
    """Inclusive scan of x along d with ADD or MUL, in ceil(log2 n) steps: step s combines
    each element with the one s places before it (or the identity, before the start)."""
    n = x.shape[d] if x.ndim else 1
    step = 1
    while step < n:
        kept = tuple((0, n - step) if a == d else (0, m) for a, m in enumerate(x.shape))
        moved = pad(shrink(x, kept), tuple((step, 0) if a == d else (0, 0) for a in range(x.ndim)))
        if op is Op.MUL:  # padding is zeros; a product needs ones before the start
            moved = where(_along(n, d, x.ndim, x.device) < step, 1, moved)
        x = math_ops.binary(op, "", x, moved)
        step *= 2
    return x


def _cumulative(input: Tensor, dim: int, dtype: object, op: Op, name: str) -> Tensor:
    d = input._dim(dim)
    x = math_ops._accumulating(input) if dtype is None else input._cast(dt.to_dtype(dtype))
    out = _scan(x, d, op)
    if out is input:  # nothing to combine: still a new tensor
        out = input.clone()
    return math_ops._as_one_op(out, name, (input,))


def cumsum(input: Tensor, dim: int, *, dtype: object = None) -> Tensor:
    """Cumulative sums along `dim` (integers and bools accumulate in int64)."""
    return _cumulative(input, dim, dtype, Op.ADD, "CumsumBackward0")


def cumprod(input: Tensor, dim: int, *, dtype: object = None) -> Tensor:
    """Cumulative products along `dim` (integers and bools accumulate in int64)."""
    return _cumulative(input, dim, dtype, Op.MUL, "CumprodBackward0")


# ---- indexed reads -----------------------------------------------------------------------------
def _positions(shape: tuple[int, ...], d: int, index: Tensor) -> Tensor:
    """Flat positions, in a tensor of `shape`, of the elements `index` (of the same rank)
    names: its values are the coordinates along dim d, its own coordinates the others."""
    strides = [math.prod(shape[a + 1 :]) for a in range(len(shape))]
    flat = index * strides[d]
    for a, n in enumerate(index.shape):
        if a != d and n > 1:
            flat = flat + _along(n, a, index.ndim, index.device) * strides[a]
    return flat


def _take_along(x: Tensor, d: int, index: Tensor, name: str) -> Tensor:
    """x's elements at `index` along dim d (indices known to be in range), as one GATHER."""
    node = make(Op.GATHER, (x._node, _positions(x.shape, d, index.detach())._node))
    return x._result(node, name, (x,))


def _checked(index: Tensor, lo: int, hi: int, error: Callable[[int], Exception]) -> Tensor:
    """`index`, its values in [lo, hi): checked now when they are on the host (raising
    `error(value)`), else those outside mapped to OUT_OF_BOUNDS, which the kernel reading
    them reports as an IndexError."""
    host = _host_index(index)
    if host is None:
        return where((index >= lo) & (index < hi), index, OUT_OF_BOUNDS)
    bad = host[(host < lo) | (host >= hi)]
    if bad.size:
        raise error(int(bad.flat[0]))
    return index


def _index_of(fn: str, input: Tensor, index: object) -> Tensor:
    """An int64 index tensor on input's device, checked like PyTorch's gather and scatter."""
    if not isinstance(index, Tensor):
        raise TypeError(
            f"{fn}(): argument 'index' (position 3) must be Tensor, not {type(index).__name__}"
        )
    if index.dtype != dt.int64:
        raise RuntimeError(f"{fn}(): Expected dtype int64 for index")
    input._check_device(index)
    if builtins.max(index.ndim, 1) != builtins.max(input.ndim, 1):
        raise RuntimeError("Index tensor must have the same number of dimensions as input tensor")
    return index


def gather(input: Tensor, dim: int, index: Tensor, *, sparse_grad: bool = False) -> Tensor:
    """out[i][j] = input[index[i][j]][j] for dim 0 (and likewise for other dims); the
    gradient is added back at the indexed positions."""
    index = _index_of("gather", input, index)
    x = reshape(input, [1]) if input.ndim == 0 else input
    idx = reshape(index, [1]) if index.ndim == 0 else index
    d = x._dim(dim)
    for a in range(x.ndim):
        if a != d and idx.shape[a] > x.shape[a]:
            raise RuntimeError(
                f"Size does not match at dimension {a} expected index {list(idx.shape)} to be "
                f"no larger than self {list(x.shape)} apart from dimension {d}"
            )
    n = x.shape[d]
    idx = _checked(
        idx,
        0,
        n,
        lambda v: RuntimeError(f"index {v} is out of bounds for dimension {d} with size {n}"),
    )
    out = _take_along(x, d, idx, "GatherBackward0")
    return reshape(out, ()) if index.ndim == 0 else out


def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """The slices of `input` along `dim` at the positions listed in `index` (a vector)."""
    if index.dtype not in (dt.int32, dt.int64):
        raise RuntimeError("index_select(): Expected dtype int32 or int64 for index")
    if index.ndim > 1:
        raise IndexError("index_select(): Index is supposed to be a vector")
    input._check_device(index)
    x = reshape(input, [1]) if input.ndim == 0 else input
    d = x._dim(dim)
    n, k = x.shape[d], index.numel()
    idx = _checked(index._cast(dt.int64), 0, n, lambda v: IndexError("index out of range in self"))
    shape = tuple(k if a == d else m for a, m in enumerate(x.shape))
    out = _take_along(
        x, d, expand(reshape(idx, [k if a == d else 1 for a in range(x.ndim)]), shape), ""
    )
    out = reshape(out, ()) if input.ndim == 0 else out
    return math_ops._as_one_op(out, "IndexSelectBackward0", (input,))


def take(input: Tensor, index: Tensor) -> Tensor:
    """The elements of `input`, read as a flat vector, at `index` (negative counts from the
    end); the result has index's shape."""
    if index.dtype != dt.int64:
        raise RuntimeError(
            f"take(): Expected a long tensor for index, but got {index.dtype.torch_name}"
        )
    input._check_device(index)
    n = input.numel()
    idx = _checked(
        index,
        -n,
        n,
        lambda v: IndexError(
            f"out of range: tried to access index {v} on a tensor of {n} elements."
        ),
    )
    idx = where(idx < 0, idx + n, idx)
    return input._result(
        make(Op.GATHER, (input._node, idx.detach()._node)), "TakeBackward0", (input,)
    )


# ---- indexed writes ----------------------------------------------------------------------------
def _scattered(
    fn: str, input: Tensor, dim: int, index: Tensor, src: Tensor | Scalar, mode: str, name: str
) -> Tensor:
    """input with src's elements written (mode "set") or added ("add") at the positions
    index names along dim; src may be a number."""
    index = _index_of(fn, input, index)
    x = reshape(input, [1]) if input.ndim == 0 else input
    idx = reshape(index, [1]) if index.ndim == 0 else index
    d = x._dim(dim)
    if isinstance(src, Tensor):
        input._check_device(src)
        if src.dtype != input.dtype:
            raise RuntimeError(f"{fn}(): Expected self.dtype to be equal to src.dtype")
        if builtins.max(src.ndim, 1) != x.ndim:
            raise RuntimeError("Index tensor must have the same number of dimensions as src tensor")
        src_shape = tuple(src.shape) or (1,)
    else:
        src_shape = idx.shape
    too_big = builtins.any(
        idx.shape[a] > src_shape[a] or (a != d and idx.shape[a] > x.shape[a]) for a in range(x.ndim)
    )
    if too_big:
        raise RuntimeError(
            f"Expected index {list(idx.shape)} to be no larger than self {list(x.shape)} apart "
            f"from dimension {d} and to be no larger size than src {list(src_shape)}"
        )
    n = x.shape[d]
    idx = _checked(
        idx,
        0,
        n,
        lambda v: RuntimeError(f"index {v} is out of bounds for dimension {d} with size {n}"),
    )
    positions = _positions(x.shape, d, idx.detach())._node
    if isinstance(src, Tensor):
        part = reshape(src, src_shape)
        values = shrink(part, tuple((0, m) for m in idx.shape))._node
    else:
        values = const(src, input.dtype, idx.shape)
    node = make(Op.SCATTER, (x._node, positions, values), mode)
    out = x._result(node, name, (x, src if isinstance(src, Tensor) else None))
    return reshape(out, ()) if input.ndim == 0 else out


def scatter(
    input: Tensor,
    dim: int,
    index: Tensor,
    src: Tensor | Scalar | None = None,
    value: Scalar | None = None,
    *,
    reduce: str | None = None,
) -> Tensor:
    """input with `src`'s elements (or the number `value`) written at the positions `index`
    names along `dim`: out[index[i][j]][j] = src[i][j] for dim 0. `reduce="add"` adds
    instead; where an index repeats, which write wins is unspecified, as in PyTorch."""
    given = value if src is None else src
    if given is None:
        raise TypeError("scatter() missing 1 required positional argument: 'src' or 'value'")
    if reduce not in (None, "add"):
        if reduce == "multiply":
            raise NotImplementedError("scatter(reduce='multiply') is not supported by lazygrad")
        raise RuntimeError("reduce argument must be either add or multiply.")
    if reduce == "add":
        return _scattered("scatter", input, dim, index, given, "add", "ScatterBackward1")
    name = "ScatterBackward0" if isinstance(given, Tensor) else "ScatterBackward1"
    return _scattered("scatter", input, dim, index, given, "set", name)


def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """input with `src`'s elements added at the positions `index` names along `dim`
    (repeated indices accumulate): out[index[i][j]][j] += src[i][j] for dim 0."""
    return _scattered("scatter_add", input, dim, index, src, "add", "ScatterAddBackward0")


def masked_fill(input: Tensor, mask: Tensor, value: Tensor | Scalar) -> Tensor:
    """input with `value` (a number or a 0-d tensor) where the boolean `mask` holds (input
    and mask broadcast together)."""
    if mask.dtype != dt.bool_:
        raise RuntimeError(
            "masked_fill_ only supports boolean masks, but got mask with dtype "
            f"{mask.dtype.torch_name}"
        )
    if isinstance(value, Tensor):
        if value.ndim:
            raise RuntimeError(
                "masked_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                f"{value.ndim} dimension(s)."
            )
        fill = value._cast(input.dtype)
    else:
        fill = full((), value, dtype=input.dtype, device=input.device)
    out = where(mask, fill, input)
    inputs = (input, value if isinstance(value, Tensor) else None)
    return math_ops._as_one_op(out, "MaskedFillBackward0", inputs)


# ---- sorting -----------------------------------------------------------------------------------
def _sort_fields(keys: Tensor, size: int, descending: bool) -> list[Tensor]:
    """(class, value, index) of each element of the rows of `keys`, padded to `size`: the
    class orders NaNs after the numbers (descending: before them) and the padding last."""
    rows, n = keys.shape
    widen = ((0, 0), (0, size - n))
    values = keys._cast(dt.int32) if keys.dtype == dt.bool_ else keys
    if values.dtype.is_floating_point:
        nan = compare(Op.CMPNE, values, values)
        values = where(nan, 0, values)
        rank = (nan if not descending else math_ops.logical_not(nan))._cast(dt.int32)
    else:
        rank = full(keys.shape, 0, dtype=dt.int32, device=keys.device)
    place = arange(size, device=keys.device)
    rank = where(place >= n, 2, pad(rank, widen))
    return [rank, pad(values, widen), expand(place, (rows, size))]


def _precedes(mine: list[Tensor], theirs: list[Tensor], descending: bool) -> Tensor:
    """Whether each element comes before its partner: by class, then value, then index."""
    (rank_a, value_a, index_a), (rank_b, value_b, index_b) = mine, theirs
    first = compare(Op.CMPLT, index_a, index_b)
    smaller = (value_b, value_a) if descending else (value_a, value_b)
    first = compare(Op.CMPLT, *smaller) | (compare(Op.CMPEQ, value_a, value_b) & first)
    return compare(Op.CMPLT, rank_a, rank_b) | (compare(Op.CMPEQ, rank_a, rank_b) & first)


def _exchange(fields: list[Tensor], mask: int, bit: int, descending: bool) -> list[Tensor]:
    """One compare-exchange step over flat fields (rows of a power-of-two size, end to end):
    the element at position i meets the one at i ^ mask, and where bit `bit` of i is clear
    it keeps whichever comes first, else the other. `mask` and `bit` come as 0-d tensors,
    so every step runs the same program and no two steps share a node."""
    device = fields[0].device
    place = arange(fields[0].numel(), device=device)
    mask_t, bit_t = (tensor(v, dtype=dt.int64, device=device) for v in (mask, bit))
    partner = (place ^ mask_t)._node
    theirs = [Tensor._wrap(make(Op.GATHER, (f._node, partner)), device) for f in fields]
    first_of_pair = compare(Op.CMPEQ, place & bit_t, 0)
    keep = compare(Op.CMPEQ, _precedes(fields, theirs, descending), first_of_pair)
    return [where(keep, a, b) for a, b in zip(fields, theirs, strict=True)]


def _sort_indices(x: Tensor, d: int, descending: bool) -> Tensor:
    """The int64 indices along dim d that sort x (x has at least one dim): a bitonic
    network, stable, NaNs counted as the largest values."""
    keys = transpose(x.detach(), d, -1)
    n = keys.shape[-1]
    if n <= 1:
        return transpose(expand(arange(n, device=x.device), tuple(keys.shape)), d, -1)
    size = 1 << (n - 1).bit_length()
    rows = reshape(keys, [math.prod(keys.shape[:-1]), n])
    fields = [reshape(f, [rows.shape[0] * size]) for f in _sort_fields(rows, size, descending)]
    block = 2
    while block <= size:  # merge sorted runs of block / 2 into runs of block
        fields = _exchange(fields, block - 1, block // 2, descending)  # mirrored halves
        half = block // 4
        while half:
            fields = _exchange(fields, half, half, descending)
            half //= 2
        block *= 2
    order = shrink(reshape(fields[2], [rows.shape[0], size]), ((0, rows.shape[0]), (0, n)))
    order = reshape(order, tuple(keys.shape))
    return transpose(order, d, -1)


def sort(
    input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False
) -> SortResult:
    """(values, indices) of `input` sorted along `dim`. Equal elements keep their order
    (always stable); NaNs count as larger than every number."""
    x = reshape(input, [1]) if input.ndim == 0 else input
    d = x._dim(dim)
    indices = _sort_indices(x, d, descending)
    values = _take_along(x, d, indices, "SortBackward0")
    if input.ndim == 0:
        values, indices = reshape(values, ()), reshape(indices, ())
    return SortResult(values, lambda: indices)


def argsort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    """The indices that sort `input` along `dim` (stable; NaNs count as the largest)."""
    return sort(input, dim, descending, stable).indices


def topk(
    input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True
) -> TopkResult:
    """(values, indices) of the k largest (or smallest) elements along `dim`, in order;
    among equal elements the first ones are taken."""
    x = reshape(input, [1]) if input.ndim == 0 else input
    d = x._dim(dim)
    if not 0 <= k <= x.shape[d]:
        raise RuntimeError("selected index k out of range")
    order = _sort_indices(x, d, largest)
    indices = shrink(order, tuple((0, k) if a == d else (0, m) for a, m in enumerate(order.shape)))
    values = _take_along(x, d, indices, "TopkBackward0")
    if input.ndim == 0:
        values, indices = reshape(values, ()), reshape(indices, ())
    return TopkResult(values, lambda: indices)


def _median_along(x: Tensor, d: int, keepdim: bool) -> tuple[Tensor, Tensor]:
    """The lower median of x along d and its index (the first NaN's, where there are NaNs)."""
    n = x.shape[d]
    order = _sort_indices(x, d, False)
    at = full(
        tuple(1 if a == d else m for a, m in enumerate(x.shape)),
        (n - 1) // 2,
        dtype=dt.int64,
        device=x.device,
    )
    if x.dtype.is_floating_point:  # NaNs sort last: the first of them is at n - count
        nans = math_ops.sum(compare(Op.CMPNE, x, x), d, keepdim=True)
        at = where(compare(Op.CMPLT, 0, nans), n - nans, at)
    index = _take_along(order, d, at, "")
    values = _take_along(x, d, index, "MedianBackward1")
    if not keepdim:
        kept = tuple(m for a, m in enumerate(index.shape) if a != d)
        values, index = reshape(values, kept), reshape(index, kept)
    return values, index


def median(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Any:
    """The lower median of all elements, or (values, indices) of the lower medians along
    `dim`; NaN where there are NaNs, as in PyTorch."""
    if dim is None:
        if input.numel() == 0:
            return full((), math.nan, dtype=input.dtype, device=input.device)
        values, _ = _median_along(reshape(input, [-1]), 0, False)
        return math_ops._as_one_op(values, "MedianBackward0", (input,))
    math_ops._int_dim("median", dim)
    math_ops._check_nonempty(input, "median", dim)
    x = reshape(input, [1]) if input.ndim == 0 else input
    values, index = _median_along(x, x._dim(dim), keepdim and input.ndim > 0)
    return MedianResult(values, lambda: index)


# ---- norms and moments -------------------------------------------------------------------------
def norm(
    input: Tensor,
    p: float | str | None = "fro",
    dim: Dims = None,
    keepdim: bool = False,
    dtype: object = None,
) -> Tensor:
    """The vector p-norm over `dim` (all elements by default): p = "fro" or 2, 1, inf,
    -inf, 0 (the count of nonzeros) or any other number."""
    x = input if dtype is None else input._cast(dt.to_dtype(dtype))
    if not x.dtype.is_floating_point:
        raise RuntimeError(
            "linalg.vector_norm: Expected a floating point or complex tensor as input. "
            f"Got {x.dtype.torch_name}"
        )
    if p == "nuc":
        raise NotImplementedError("norm(p='nuc') needs singular values, which lazygrad lacks")
    p = 2 if p in ("fro", None) else p
    axes = math_ops.reduce_axes(x, dim)
    size = math_ops.abs(x)
    if p == math.inf:
        out = amax(size, axes, keepdim)
    elif p == -math.inf:
        out = amin(size, axes, keepdim)
    elif p == 0:
        count = math_ops.sum(compare(Op.CMPNE, x, 0)._cast(x.dtype), axes, keepdim)
        out = math_ops._step_function(count, (x,), "")
    elif p == 1:
        out = math_ops.sum(size, axes, keepdim)
    elif p == 2:  # a zero norm has a zero gradient (the `where`), not 0 / 0
        total = math_ops.sum(x * x, axes, keepdim)
        out = math_ops.sqrt(where(compare(Op.CMPEQ, total, 0), 0.0, total))
    else:
        out = math_ops.sum(size**p, axes, keepdim) ** (1.0 / p)
    return math_ops._as_one_op(out, "NormBackward1", (input,))


def var_mean(
    input: Tensor,
    dim: Dims = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction: float | None = None,
) -> tuple[Tensor, Tensor]:
    """(variance, mean) over `dim`, with Bessel's correction by default (`correction=1`)."""
    if isinstance(dim, bool):  # var_mean(x, True): the legacy `unbiased` positional argument
        dim, unbiased = None, dim
    variance = math_ops.var(input, dim, unbiased, keepdim, correction=correction)
    return variance, math_ops.mean(input, dim, keepdim)


# ---- value-dependent sizes ---------------------------------------------------------------------
def nonzero(input: Tensor, *, as_tuple: bool = False) -> Tensor | tuple[Tensor, ...]:
    """The indices of the nonzero elements: an (n, ndim) int64 tensor, or with `as_tuple`
    one index vector per dim. Reads the values (the size of the result depends on them)."""
    host = input.detach()._host()
    found = np.argwhere(host.reshape(1) if as_tuple and input.ndim == 0 else host)
    found = found.astype(np.int64)
    if as_tuple:
        return tuple(tensor(found[:, a].copy(), device=input.device) for a in range(found.shape[1]))
    return tensor(found, device=input.device)


def masked_select(input: Tensor, mask: Tensor) -> Tensor:
    """The elements of `input` where the boolean `mask` holds (broadcast together), as a
    vector. Reads the mask (the size of the result depends on it)."""
    if mask.dtype != dt.bool_:
        raise RuntimeError("masked_select: expected BoolTensor for mask")
    input._check_device(mask)
    shape = math_ops.broadcast_shapes(tuple(input.shape), tuple(mask.shape))
    hits = np.flatnonzero(np.broadcast_to(mask.detach()._host(), shape)).astype(np.int64)
    positions = tensor(hits, device=input.device)
    node = make(Op.GATHER, (math_ops.expand_node(input._node, shape), positions._node))
    return input._result(node, "MaskedSelectBackward0", (input,))


def unique(
    input: Tensor,
    sorted: bool = True,
    return_inverse: bool = False,
    return_counts: bool = False,
    dim: int | None = None,
) -> Tensor | tuple[Tensor, ...]:
    """The distinct elements of `input`, sorted, and optionally the index of each input
    element among them (`return_inverse`) and how often each occurs (`return_counts`).
    The sort runs as kernels; where runs of equal values start is read back to size the
    result."""
    if dim is not None:
        raise NotImplementedError("unique(dim=...) is not supported by lazygrad")
    flat = reshape(input.detach(), [-1])
    n = flat.numel()
    order = _sort_indices(flat, 0, False)
    ordered = _take_along(flat, 0, order, "")
    starts_run = compare(Op.CMPEQ, arange(n, device=input.device), 0)
    if n > 1:
        changed = compare(Op.CMPNE, shrink(ordered, ((1, n),)), shrink(ordered, ((0, n - 1),)))
        starts_run = starts_run | pad(changed, ((1, 0),))
    starts = np.flatnonzero(starts_run._host()).astype(np.int64)
    out = [_take_along(ordered, 0, tensor(starts, device=input.device), "")]
    if return_inverse:
        group = cumsum(starts_run, 0) - 1
        zeros = const(0, dt.int64, (n,))
        inverse = Tensor._wrap(
            make(Op.SCATTER, (zeros, order._node, group._node), "set"), input.device
        )
        out.append(reshape(inverse, tuple(input.shape)))
    if return_counts:
        counts = np.diff(np.append(starts, n)).astype(np.int64)
        out.append(tensor(counts, device=input.device))
    return out[0] if len(out) == 1 else tuple(out)


METHODS: dict[str, Any] = {name: globals()[name] for name in __all__ if name != "var_mean"}
IN_PLACE: dict[str, Any] = {
    "masked_fill_": masked_fill,
    "scatter_": scatter,
    "scatter_add_": scatter_add,
}
