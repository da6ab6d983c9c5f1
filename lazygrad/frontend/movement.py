"""Movement ops (reshape, permute, expand, ...), cat/stack/split, as IR movement nodes."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .. import dtypes as dt
from ..ir.node import make
from ..ir.ops import Op
from ..size import sizes_of
from ..tensor import Tensor
from .views import view_op


def _torch_type(x: Tensor) -> str:
    return f"lazygrad.{x.dtype.torch_name}Tensor"


def _axes(x: Tensor, dims: int | Sequence[int]) -> tuple[int, ...]:
    """Checked, normalized dims (PyTorch's range and repeated-dim errors)."""
    from .math_ops import reduce_axes

    return reduce_axes(x, dims, empty_means_all=False)


def _movement(x: Tensor, op: Op, arg: object, name: str) -> Tensor:
    node = make(op, (x._node,), arg)
    return x if node is x._node else x._result(node, name, (x,))


@view_op(may_copy=True)
def reshape(input: Tensor, *shape: int | Sequence[int]) -> Tensor:
    """The same elements in row-major order with a new shape (one size may be -1)."""
    given = sizes_of(shape)
    sizes = list(given)
    numel = input.numel()
    for i, s in enumerate(sizes):
        if s < -1:
            raise RuntimeError(f"invalid shape dimension {s} at index {i} of shape {list(given)}")
    if sizes.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = math.prod(s for s in sizes if s != -1)
    if -1 in sizes:
        if known == 0:
            if numel == 0:
                raise RuntimeError(
                    f"cannot reshape tensor of 0 elements into shape {list(given)} "
                    "because the unspecified dimension size -1 can be any value "
                    "and is ambiguous"
                )
            raise RuntimeError(f"shape '{list(given)}' is invalid for input of size {numel}")
        if numel % known:
            raise RuntimeError(f"shape '{list(given)}' is invalid for input of size {numel}")
        sizes[sizes.index(-1)] = numel // known
    if math.prod(sizes) != numel:
        raise RuntimeError(f"shape '{list(given)}' is invalid for input of size {numel}")
    if tuple(sizes) == input._node.shape:
        return input
    return _movement(input, Op.RESHAPE, tuple(sizes), "ViewBackward0")


@view_op
def permute(input: Tensor, *dims: int | Sequence[int]) -> Tensor:
    """Reorder dimensions."""
    if not dims:
        raise TypeError('permute() missing 1 required positional arguments: "dims"')
    order = sizes_of(dims, "permute", "dims")
    if len(order) != input.ndim:
        raise RuntimeError(
            "permute(sparse_coo): number of dimensions in the tensor input does "
            "not match the length of the desired ordering of dimensions i.e. "
            f"input.dim() = {input.ndim} is not equal to len(dims) = {len(order)}"
        )
    order = tuple(input._dim(d) for d in order)
    if len(set(order)) != len(order):
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    if order == tuple(range(input.ndim)):
        return input
    return _movement(input, Op.PERMUTE, order, "PermuteBackward0")


@view_op
def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap two dimensions."""
    if input.ndim == 0:
        input._dim(dim0), input._dim(dim1)
        return input
    order = list(range(input.ndim))
    a, b = input._dim(dim0), input._dim(dim1)
    order[a], order[b] = order[b], order[a]
    out = permute(input, order)
    if out.grad_fn is not None:
        out.grad_fn._name = "TransposeBackward0"
    return out


@view_op
def t(x: Tensor) -> Tensor:
    """Transpose of a tensor with at most 2 dimensions."""
    if x.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {x.ndim}D")
    return transpose(x, 0, -1) if x.ndim == 2 else x


@view_op
def T(x: Tensor) -> Tensor:  # noqa: N802 - torch's property name
    """All dimensions reversed."""
    return permute(x, tuple(reversed(range(x.ndim)))) if x.ndim > 1 else x


@view_op(may_copy=True)
def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dimensions start_dim..end_dim into one."""
    if input.ndim == 0:
        return reshape(input, 1)
    s, e = input._dim(start_dim), input._dim(end_dim)
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    shape = input.shape[:s] + (math.prod(input.shape[s : e + 1]),) + input.shape[e + 1 :]
    return reshape(input, shape)


@view_op
def unsqueeze(input: Tensor, dim: int) -> Tensor:
    """Insert a size-1 dimension at `dim`."""
    d = input._dim(dim, input.ndim + 1)
    return reshape(input, input.shape[:d] + (1,) + input.shape[d:])


@view_op
def squeeze(input: Tensor, dim: int | Sequence[int] | None = None) -> Tensor:
    """Remove size-1 dimensions (all, or those named)."""
    dims = set(range(input.ndim)) if dim is None else set(_axes(input, dim))
    return reshape(input, tuple(n for i, n in enumerate(input.shape) if not (i in dims and n == 1)))


@view_op
def expand(x: Tensor, *sizes: int | Sequence[int]) -> Tensor:
    """Broadcast to a larger shape without copying (-1 keeps a size)."""
    target = list(sizes_of(sizes, "expand", "size"))
    if len(target) < x.ndim:
        raise RuntimeError(
            f"expand({_torch_type(x)}{{{list(x.shape)}}}, size={target}): the "
            f"number of sizes provided ({len(target)}) must be greater or equal to "
            f"the number of dimensions in the tensor ({x.ndim})"
        )
    lead = len(target) - x.ndim
    for i, n in enumerate(x.shape):
        want = target[lead + i]
        if want == -1:
            target[lead + i] = n
        elif n != 1 and want != n:
            raise RuntimeError(
                f"The expanded size of the tensor ({want}) must match the existing "
                f"size ({n}) at non-singleton dimension {lead + i}.  Target sizes: "
                f"{list(sizes_of(sizes, 'expand', 'size'))}.  Tensor sizes: "
                f"{list(x.shape)}"
            )
    if any(n < 0 for n in target[:lead]):
        raise RuntimeError(
            "The expanded size of the tensor (-1) isn't allowed in a leading, "
            "non-existing dimension 0"
        )
    y = reshape(x, (1,) * lead + x.shape) if lead else x
    if tuple(target) == y._node.shape:
        return y
    out = _movement(y, Op.EXPAND, tuple(target), "ExpandBackward0")
    if out.grad_fn is not None:
        out.grad_fn.set_inputs("ExpandBackward0", (x,))
    return out


@view_op
def expand_as(x: Tensor, other: Tensor) -> Tensor:
    """`x` broadcast to the shape of `other`."""
    return expand(x, other.shape)


def flip(x: Tensor, *dims: int | Sequence[int]) -> Tensor:
    """Reverse the order of elements along `dims` (given as one sequence or as arguments)."""
    if not dims:
        raise TypeError('flip() missing 1 required positional arguments: "dims"')
    axes = _axes(x, dims[0] if len(dims) == 1 else dims)  # type: ignore[arg-type]
    return _movement(x, Op.FLIP, axes, "FlipBackward0") if axes else x


def shrink(x: Tensor, bounds: tuple[tuple[int, int], ...]) -> Tensor:
    """Keep bounds[i] = (start, end) of each dimension."""
    if all(b == (0, n) for b, n in zip(bounds, x.shape, strict=True)):
        return x
    return _movement(x, Op.SHRINK, tuple(bounds), "SliceBackward0")


def pad(x: Tensor, pads: tuple[tuple[int, int], ...]) -> Tensor:
    """Zero-pad each dimension by pads[i] = (before, after)."""
    if all(p == (0, 0) for p in pads):
        return x
    return _movement(x, Op.PAD, tuple(pads), "ConstantPadNdBackward0")


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Concatenate along `dim` (each input zero-padded into place, then summed)."""
    if isinstance(tensors, Tensor):
        raise TypeError(
            "cat(): argument 'tensors' (position 1) must be tuple of Tensors, not Tensor"
        )
    tensors = list(tensors)
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    for i, x in enumerate(tensors):
        if not isinstance(x, Tensor):
            raise TypeError(
                f"expected Tensor as element {i} in argument 0, but got {type(x).__name__}"
            )
        if x.ndim == 0:
            raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be concatenated")
    parts = [x for x in tensors if not (x.ndim == 1 and x.shape[0] == 0)] or tensors[:1]
    ref = parts[0]
    d = ref._dim(dim)
    for i, x in enumerate(parts):
        ref._check_device(x)
        if x.ndim != ref.ndim:
            raise RuntimeError(
                f"Tensors must have same number of dimensions: got {ref.ndim} and {x.ndim}"
            )
        for k in range(ref.ndim):
            if k != d and x.shape[k] != ref.shape[k]:
                raise RuntimeError(
                    f"Sizes of tensors must match except in dimension {d}. Expected "
                    f"size {ref.shape[k]} but got size {x.shape[k]} for tensor "
                    f"number {i} in the list."
                )
    ctype = tensors[0].dtype
    for x in tensors[1:]:  # the skipped empty tensors take part in the promotion too
        ctype = dt.promote_types(ctype, x.dtype)
    total = sum(x.shape[d] for x in parts)
    out, start = None, 0
    for x in parts:
        pads = tuple(
            (start, total - start - x.shape[d]) if k == d else (0, 0) for k in range(ref.ndim)
        )
        piece = pad(x._cast(ctype), pads)
        out = piece if out is None else (out | piece if ctype == dt.bool_ else out + piece)
        start += x.shape[d]
    assert out is not None
    if any(out is x for x in tensors):  # one part and empty ones: still a new tensor
        out = out._result(out._node, "CatBackward0", (out,))
    if out.grad_fn is not None:
        out.grad_fn.set_inputs("CatBackward0", tuple(parts))
    return out


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors of one shape along a new dimension."""
    if isinstance(tensors, Tensor):
        raise TypeError(
            "stack(): argument 'tensors' (position 1) must be tuple of Tensors, not Tensor"
        )
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    for i, x in enumerate(tensors):
        if x.shape != tensors[0].shape:
            raise RuntimeError(
                f"stack expects each tensor to be equal size, but got "
                f"{list(tensors[0].shape)} at entry 0 and {list(x.shape)} at entry "
                f"{i}"
            )
    d = tensors[0]._dim(dim, tensors[0].ndim + 1)
    out = cat([unsqueeze(x, d) for x in tensors], d)
    if out.grad_fn is not None:
        out.grad_fn.set_inputs("StackBackward0", tuple(tensors))
    return out


@view_op
def split(
    tensor: Tensor, split_size_or_sections: int | Sequence[int], dim: int = 0
) -> tuple[Tensor, ...]:
    """Pieces of `split_size` along `dim` (the last may be smaller), or of the given sizes."""
    if tensor.ndim == 0:
        raise RuntimeError("split expects at least a 1-dimensional tensor")
    d = tensor._dim(dim)
    n = tensor.shape[d]
    if isinstance(split_size_or_sections, int | np.integer):
        step = int(split_size_or_sections)
        if step < 0:
            raise RuntimeError(
                f"split expects split_size be non-negative, but got split_size={step}"
            )
        if step == 0 and n:
            raise RuntimeError(
                f"split_size can only be 0 if dimension size is 0, but got dimension size of {n}"
            )
        sizes = [min(step, n - s) for s in range(0, n, step)] if n else [0]
    else:
        sizes = list(sizes_of((split_size_or_sections,), "split_with_sizes", "split_sizes"))
        if any(s < 0 for s in sizes):
            raise RuntimeError(
                f"split_with_sizes expects split_sizes have only non-negative "
                f"entries, but got split_sizes={sizes}"
            )
        if sum(sizes) != n:
            raise RuntimeError(
                f"split_with_sizes expects split_sizes to sum exactly to {n} "
                f"(input tensor's size at dimension {d}), but got split_sizes="
                f"{sizes}"
            )
    out, start = [], 0
    for size in sizes:
        bounds = tuple(
            (start, start + size) if k == d else (0, m) for k, m in enumerate(tensor.shape)
        )
        out.append(shrink(tensor, bounds))
        start += size
    return tuple(out)


@view_op
def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """Split into `chunks` pieces of equal size (the last may be smaller)."""
    if input.ndim == 0:
        raise RuntimeError("chunk expects at least a 1-dimensional tensor")
    if chunks <= 0:
        raise RuntimeError("chunk expects `chunks` to be greater than 0, got: " + str(chunks))
    n = input.shape[input._dim(dim)]
    if n == 0:  # PyTorch gives `chunks` empty pieces
        return split(input, [0] * chunks, dim)
    return split(input, -(-n // chunks), dim)
