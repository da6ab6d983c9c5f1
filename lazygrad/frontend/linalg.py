"""Matrix products with PyTorch's dispatch (dot, mv, mm, folded mm, bmm) and its errors,
recorded as one DOT contraction node over broadcast operands."""

from __future__ import annotations

import math

from .. import dtypes as dt
from ..ir.node import make
from ..ir.ops import Op
from ..tensor import Tensor
from .math_ops import broadcast_shapes, expand_node


def matmul(input: Tensor, other: Tensor) -> Tensor:
    """Matrix product with PyTorch's 1-D, batched and broadcasting rules (and its errors)."""
    if not isinstance(other, Tensor):
        raise TypeError(
            f"matmul(): argument 'other' (position 1) must be Tensor, not {type(other).__name__}"
        )
    input._check_device(other)
    if input.ndim == 0 or other.ndim == 0:
        raise RuntimeError(
            "both arguments to matmul need to be at least 1D, but they are "
            f"{input.ndim}D and {other.ndim}D"
        )
    x, y = input._node, other._node
    if input.ndim == 1:
        x = make(Op.RESHAPE, (x,), (1,) + x.shape)
    if other.ndim == 1:
        y = make(Op.RESHAPE, (y,), y.shape + (1,))
    batch = _check_matmul(input, other, x.shape, y.shape)
    x = expand_node(x, batch + x.shape[-2:])
    y = expand_node(y, batch + y.shape[-2:])
    node = make(Op.DOT, (x, y))
    out_shape = batch + (x.shape[-2],) * (input.ndim > 1) + (y.shape[-1],) * (other.ndim > 1)
    if node.shape != out_shape:
        node = make(Op.RESHAPE, (node,), out_shape)
    name = {(1, 1): "DotBackward0", (2, 1): "MvBackward0", (2, 2): "MmBackward0"}.get(
        (input.ndim, other.ndim), "BmmBackward0" if input.ndim == other.ndim == 3 else "MmBackward0"
    )
    return input._result(node, name, (input, other))


def _check_matmul(
    a: Tensor, b: Tensor, xs: tuple[int, ...], ys: tuple[int, ...]
) -> tuple[int, ...]:
    """PyTorch's errors for the path its matmul takes (dot, mv, mm, folded mm or bmm), shape
    errors first; returns the broadcast batch shape."""
    da, db = a.dtype, b.dtype
    if a.ndim == 1 and b.ndim == 1:
        path = "dot"
        if da != db:
            raise RuntimeError(
                f"dot : expected both vectors to have same dtype, but found "
                f"{da.torch_name} and {db.torch_name}"
            )
        if xs[-1] != ys[-2]:
            raise RuntimeError(
                f"inconsistent tensor size, expected tensor [{a.shape[0]}] and src "
                f"[{b.shape[0]}] to have the same number of elements, but got "
                f"{a.shape[0]} and {b.shape[0]} elements respectively"
            )
    elif b.ndim == 1:  # matrix (or folded batch) times vector
        path = "addmv_impl_cpu"
        rows = math.prod(a.shape[:-1])
        if xs[-1] != ys[-2]:
            raise RuntimeError(
                f"size mismatch, got input ({rows}), mat ({rows}x{xs[-1]}), vec ({b.shape[0]})"
            )
        if da != db:
            raise RuntimeError(
                f"addmv input tensors must have the same dtype, but got "
                f"{db.torch_name}, {da.torch_name}, and {db.torch_name}"
            )
    elif b.ndim == 2:  # PyTorch folds the batch of `a` into the rows of one mm
        path = "addmm_impl_cpu_"
        rows = math.prod(xs[:-1])
        if xs[-1] != ys[-2]:
            raise RuntimeError(
                f"mat1 and mat2 shapes cannot be multiplied ({rows}x{xs[-1]} and {ys[-2]}x{ys[-1]})"
            )
        if da != db:
            raise RuntimeError(
                f"expected m1 and m2 to have the same dtype, but got: {da.c_name} != {db.c_name}"
            )
    else:  # bmm over the broadcast batch
        path = "bmm"
        batch = broadcast_shapes(xs[:-2], ys[:-2])
        if xs[-1] != ys[-2]:
            count = math.prod(batch)
            raise RuntimeError(
                f"Expected size for first two dimensions of batch2 tensor to be: "
                f"[{count}, {xs[-1]}] but got: [{count}, {ys[-2]}]."
            )
        if da != db:
            raise RuntimeError(f"expected scalar type {da.torch_name} but found {db.torch_name}")
    if da == dt.bool_ and a.numel() and b.numel():  # PyTorch never dispatches empty inputs
        raise NotImplementedError(f"\"{path}\" not implemented for 'Bool'")
    return broadcast_shapes(xs[:-2], ys[:-2])


def mm(input: Tensor, mat2: Tensor) -> Tensor:
    """Product of two matrices (both must be 2-D)."""
    if input.ndim != 2:
        raise RuntimeError("self must be a matrix")
    if not isinstance(mat2, Tensor) or mat2.ndim != 2:
        raise RuntimeError("mat2 must be a matrix")
    return matmul(input, mat2)
