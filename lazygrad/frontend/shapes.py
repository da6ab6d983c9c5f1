"""Products and shape functions beyond the core of `linalg` and `movement` (`bmm`, `einsum`,
`tril`, `roll`, `hstack`, ...), each built from lazy movement ops, masks and matmul."""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from string import ascii_letters
from typing import Any

import numpy as np

from .. import dtypes as dt
from ..size import sizes_of
from ..tensor import Tensor
from . import math_ops
from .creation import arange, tensor, zeros
from .indexing import getitem
from .linalg import matmul, mm
from .math_ops import broadcast_shapes, where
from .movement import cat, expand, flatten, pad, permute, reshape, shrink, transpose, unsqueeze
from .views import view_op

Scalar = int | float | bool


# ---- helpers ------------------------------------------------------------------------------
def _bounds(x: Tensor, dim: int, start: int, stop: int) -> tuple[tuple[int, int], ...]:
    """Shrink bounds keeping [start, stop) of `dim` and all of every other dim."""
    return tuple((start, stop) if k == dim else (0, n) for k, n in enumerate(x.shape))


def _pads(ndim: int, dim: int, before: int, after: int) -> tuple[tuple[int, int], ...]:
    return tuple((before, after) if k == dim else (0, 0) for k in range(ndim))


def _movedim(x: Tensor, source: int, destination: int) -> Tensor:
    """Dim `source` moved to position `destination`, the others kept in order."""
    order = [d for d in range(x.ndim) if d != source]
    order.insert(destination % x.ndim, source)
    return permute(x, order)


def _check_tensor(fn: str, arg: str, position: int, x: object) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(
            f"{fn}(): argument '{arg}' (position {position}) must be Tensor, not {type(x).__name__}"
        )


# ---- products -----------------------------------------------------------------------------
def bmm(input: Tensor, mat2: Tensor) -> Tensor:  # noqa: A002 - torch's parameter name
    """Batched matrix product of two 3-D tensors with the same batch size (no broadcasting)."""
    _check_tensor("bmm", "mat2", 2, mat2)
    if input.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor")
    if mat2.ndim != 3:
        raise RuntimeError("batch2 must be a 3D tensor")
    b, _, k = input.shape
    if tuple(mat2.shape[:2]) != (b, k):
        raise RuntimeError(
            f"Expected size for first two dimensions of batch2 tensor to be: [{b}, {k}] "
            f"but got: [{mat2.shape[0]}, {mat2.shape[1]}]."
        )
    return matmul(input, mat2)


def _scaled_sum(input: Tensor, product: Tensor, beta: Scalar, alpha: Scalar) -> Tensor:  # noqa: A002
    """beta * input + alpha * product, input broadcast to product's shape (ignored if beta=0)."""
    base = expand(input, product.shape)
    out = product if alpha == 1 else product * alpha
    if beta == 0:
        return out
    return (base if beta == 1 else base * beta) + out


def addmm(
    input: Tensor,  # noqa: A002
    mat1: Tensor,
    mat2: Tensor,
    *,
    beta: Scalar = 1,
    alpha: Scalar = 1,
) -> Tensor:
    """beta * input + alpha * (mat1 @ mat2) for matrices; `input` broadcasts to the result."""
    return _scaled_sum(input, mm(mat1, mat2), beta, alpha)


def baddbmm(
    input: Tensor,  # noqa: A002
    batch1: Tensor,
    batch2: Tensor,
    *,
    beta: Scalar = 1,
    alpha: Scalar = 1,
) -> Tensor:
    """beta * input + alpha * bmm(batch1, batch2); `input` broadcasts to the result."""
    return _scaled_sum(input, bmm(batch1, batch2), beta, alpha)


def dot(input: Tensor, tensor: Tensor) -> Tensor:  # noqa: A002
    """Inner product of two 1-D tensors of the same dtype and size."""
    _check_tensor("dot", "tensor", 2, tensor)
    if input.ndim != 1 or tensor.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.ndim}D and {tensor.ndim}D tensors")
    return matmul(input, tensor)


def outer(input: Tensor, vec2: Tensor) -> Tensor:  # noqa: A002
    """Outer product of two 1-D tensors (result[i, j] = input[i] * vec2[j])."""
    _check_tensor("outer", "vec2", 2, vec2)
    for name, v in (("self", input), ("vec2", vec2)):
        if v.ndim != 1:
            raise RuntimeError(f"outer: Expected 1-D argument {name}, but got {v.ndim}-D")
    return unsqueeze(input, 1) * vec2


def kron(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """Kronecker product: every element of `input` times a block shaped like `other`."""
    _check_tensor("kron", "other", 2, other)
    nd = max(input.ndim, other.ndim)
    a_shape = (1,) * (nd - input.ndim) + tuple(input.shape)
    b_shape = (1,) * (nd - other.ndim) + tuple(other.shape)
    a = reshape(input, tuple(s for n in a_shape for s in (n, 1)))
    b = reshape(other, tuple(s for n in b_shape for s in (1, n)))
    return reshape(a * b, tuple(m * n for m, n in zip(a_shape, b_shape, strict=True)))


def tensordot(
    a: Tensor, b: Tensor, dims: int | Sequence[Sequence[int]] | Sequence[int] = 2
) -> Tensor:
    """Sum of products over dims of `a` and `b`: the last `dims` of a with the first `dims` of b,
    or the two given lists of dims."""
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, int | np.integer):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > min(a.ndim, b.ndim):
            raise RuntimeError(f"tensordot expects dims < ndim_a or ndim_b, but got dims={dims}")
        dims_a, dims_b = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        first, second = dims
        dims_a = [first] if isinstance(first, int) else list(first)
        dims_b = [second] if isinstance(second, int) else list(second)
    if len(dims_a) != len(dims_b):
        raise RuntimeError("both dimension lists should have same length")
    if a.dtype != b.dtype:
        raise RuntimeError(
            f"both inputs should have same dtype, but got {a.dtype.torch_name} and "
            f"{b.dtype.torch_name}"
        )
    dims_a, dims_b = [a._dim(d) for d in dims_a], [b._dim(d) for d in dims_b]
    for da, db in zip(dims_a, dims_b, strict=True):
        if a.shape[da] != b.shape[db]:
            raise RuntimeError(
                f"contracted dimensions need to match, but first has size {a.shape[da]} in "
                f"dim {da} and second has size {b.shape[db]} in dim {db}"
            )
    free_a = [d for d in range(a.ndim) if d not in dims_a]
    free_b = [d for d in range(b.ndim) if d not in dims_b]
    inner = math.prod(a.shape[d] for d in dims_a)
    rows = math.prod(a.shape[d] for d in free_a)
    cols = math.prod(b.shape[d] for d in free_b)
    left = reshape(permute(a, free_a + dims_a), (rows, inner))
    right = reshape(permute(b, dims_b + free_b), (inner, cols))
    out_shape = tuple(a.shape[d] for d in free_a) + tuple(b.shape[d] for d in free_b)
    return reshape(matmul(left, right), out_shape)


def cross(input: Tensor, other: Tensor, dim: int | None = None) -> Tensor:  # noqa: A002
    """Cross product of 3-vectors along `dim` (by default the first dim of size 3), with the
    other dims broadcast."""
    _check_tensor("cross", "other", 2, other)
    if input.ndim != other.ndim:
        raise RuntimeError(
            f"linalg.cross: inputs must have the same number of dimensions. Got {input.ndim} "
            f"and {other.ndim}"
        )
    shape = broadcast_shapes(tuple(input.shape), tuple(other.shape))
    if dim is None:
        if 3 not in shape:
            raise RuntimeError("no dimension of size 3 in input")
        d = shape.index(3)
    else:
        d = input._dim(dim)
    if input.shape[d] != 3 or other.shape[d] != 3:
        raise RuntimeError(
            f"linalg.cross: inputs dimension {d} must have length 3. Got "
            f"{input.shape[d]} and {other.shape[d]}"
        )
    a, b = expand(input, shape), expand(other, shape)
    # result[i] = a[i + 1] * b[i + 2] - a[i + 2] * b[i + 1], indices mod 3
    return roll(a, -1, d) * roll(b, -2, d) - roll(a, -2, d) * roll(b, -1, d)


_CDIST_MODES = (
    "use_mm_for_euclid_dist_if_necessary",
    "use_mm_for_euclid_dist",
    "donot_use_mm_for_euclid_dist",
)


def cdist(
    x1: Tensor,
    x2: Tensor,
    p: float = 2.0,
    compute_mode: str = "use_mm_for_euclid_dist_if_necessary",
) -> Tensor:
    """p-norm distances between the rows of x1 (..., P, M) and x2 (..., R, M): (..., P, R).

    Computed directly from the differences (for every compute_mode); the gradient at a zero
    distance is zero, as in PyTorch."""
    if compute_mode not in _CDIST_MODES:
        raise ValueError(f"{compute_mode} is not a valid value for compute_mode")
    for name, x in (("X1", x1), ("X2", x2)):
        if x.ndim < 2:
            raise RuntimeError(f"cdist only supports at least 2D tensors, {name} got: {x.ndim}D")
        if not x.dtype.is_floating_point:
            raise RuntimeError(
                f"cdist only supports floating-point dtypes, {name} got: {x.dtype.torch_name}"
            )
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(
            f"X1 and X2 must have the same number of columns. X1: {x1.shape[-1]} X2: {x2.shape[-1]}"
        )
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    diff = unsqueeze(x1, -2) - unsqueeze(x2, -3)
    if p == 0:
        return math_ops.sum(diff != 0, -1)._cast(diff.dtype)
    if p == math.inf:
        if diff.shape[-1] == 0:
            return math_ops.sum(diff, -1)
        return math_ops.max(math_ops.abs(diff), -1).values
    if p == 1:
        return math_ops.sum(math_ops.abs(diff), -1)
    total = math_ops.sum(diff * diff if p == 2 else math_ops.abs(diff) ** p, -1)
    zero = total == 0  # the root's gradient is infinite there: keep it out of the graph
    root = where(zero, 1.0, total)
    return where(zero, 0.0, math_ops.sqrt(root) if p == 2 else root ** (1 / p))


# ---- einsum -------------------------------------------------------------------------------
Label = str | int  # a letter, or the position of a dim the ellipsis covers


def _sublist_equation(args: tuple) -> tuple[str, list[Tensor]]:
    """The equation of einsum's sublist format: (op, [0, 1], op, [1, 2], [0, 2])."""

    def letters(sub: Sequence) -> str:
        out = ""
        for s in sub:
            if s is Ellipsis:
                out += "..."
            elif isinstance(s, int) and 0 <= s < 52:
                out += ascii_letters[(s + 26) % 52]  # 0-25: A-Z, 26-51: a-z, as PyTorch
            else:
                raise ValueError(
                    "einsum(): subscript in subscript list is not within the valid range [0, 52)"
                )
        return out

    count = len(args) // 2
    equation = ",".join(letters(s) for s in args[1 : 2 * count : 2])
    if len(args) % 2:
        equation += "->" + letters(args[-1])
    return equation, list(args[0 : 2 * count : 2])


def _terms(equation: str) -> list[list[str | None]]:
    """Each comma-separated term as a list of letters, None standing for an ellipsis."""
    terms, current, i = [], [], 0
    while i <= len(equation):
        if i == len(equation) or equation[i] == ",":
            terms.append(current)
            current = []
            i += 1
        elif equation.startswith("...", i):
            if None in current:
                raise RuntimeError(
                    f"einsum(): found '.' for operand {len(terms)} for which an ellipsis was "
                    "already found"
                )
            current.append(None)
            i += 3
        elif equation[i] == ".":
            raise RuntimeError(
                f"einsum(): found '.' for operand {len(terms)} that is not part of any ellipsis"
            )
        else:
            current.append(equation[i])
            i += 1
    return terms


def _operand_labels(terms: list[list[str | None]], operands: list[Tensor]) -> list[list[Label]]:
    """The label of every dim of every operand, ellipsis dims as ints aligned to the right."""
    if len(operands) > len(terms):
        raise RuntimeError("einsum(): more operands were provided than specified in the equation")
    if len(operands) < len(terms):
        raise RuntimeError("einsum(): fewer operands were provided than specified in the equation")
    spans = []
    for i, (term, x) in enumerate(zip(terms, operands, strict=True)):
        named = len(term) - (None in term)
        if None not in term and named != x.ndim:
            raise RuntimeError(
                f"einsum(): the number of subscripts in the equation ({named}) does not match "
                f"the number of dimensions ({x.ndim}) for operand {i} and no ellipsis was given"
            )
        if named > x.ndim:
            raise RuntimeError(
                f"einsum(): the number of subscripts in the equation ({named}) is more than "
                f"the number of dimensions ({x.ndim}) for operand {i}"
            )
        spans.append(x.ndim - named)
    width = max(spans)
    labels = []
    for term, span in zip(terms, spans, strict=True):
        out: list[Label] = []
        for item in term:
            out += list(range(width - span, width)) if item is None else [item]
        labels.append(out)
    return labels


def _output_labels(rhs: str | None, labels: list[list[Label]]) -> list[Label]:
    """The output's labels: as written after '->', else the ellipsis dims then every letter
    used once, in alphabetical order."""
    width = max((lab for term in labels for lab in term if isinstance(lab, int)), default=-1) + 1
    if rhs is None:
        counts: dict[Label, int] = {}
        for term in labels:
            for lab in term:
                counts[lab] = counts.get(lab, 0) + 1
        return list(range(width)) + sorted(
            lab for lab, c in counts.items() if isinstance(lab, str) and c == 1
        )
    terms = _terms(rhs)
    if len(terms) > 1:
        raise RuntimeError("einsum(): found ',' in the output subscripts")
    out: list[Label] = []
    used = {lab for term in labels for lab in term}
    for item in terms[0]:
        if item is None:
            out += list(range(width))
        elif item in out:
            raise RuntimeError(
                f"einsum(): output subscript {item} appears more than once in the output"
            )
        elif item not in used:
            raise RuntimeError(
                f"einsum(): output subscript {item} does not appear in the equation for any "
                "input operand"
            )
        else:
            out.append(item)
    return out


def _distinct(x: Tensor, labels: list[Label], number: int) -> tuple[Tensor, list[Label]]:
    """A label repeated within one operand becomes one dim: the diagonal of its dims."""
    for lab in labels:
        found = [i for i, other in enumerate(labels) if other == lab]
        if len(found) > 1:
            i, j = found[:2]
            if x.shape[i] != x.shape[j]:
                raise RuntimeError(
                    f"einsum(): subscript {lab} is repeated for operand {number} but the sizes "
                    f"don't match, {x.shape[i]} != {x.shape[j]}"
                )
            rest = [other for k, other in enumerate(labels) if k not in (i, j)]
            return _distinct(_diagonal(x, 0, i, j), rest + [lab], number)
    return x, labels


def _sum_out(x: Tensor, labels: list[Label], keep: set[Label]) -> tuple[Tensor, list[Label]]:
    """Sum over the dims whose labels are not kept (the dtype stays)."""
    axes = [i for i, lab in enumerate(labels) if lab not in keep]
    if not axes:
        return x, labels
    return math_ops.sum(x, axes, dtype=x.dtype), [lab for lab in labels if lab in keep]


def _contract(
    x: Tensor, lx: list[Label], y: Tensor, ly: list[Label], keep: set[Label]
) -> tuple[Tensor, list[Label]]:
    """Two operands as one batched matmul: shared kept labels are the batch, shared others
    are summed over, the rest are the rows (x's) and columns (y's)."""
    batch = [lab for lab in lx if lab in ly and lab in keep]
    inner = [lab for lab in lx if lab in ly and lab not in keep]
    rows = [lab for lab in lx if lab not in ly]
    cols = [lab for lab in ly if lab not in lx]
    size = {lab: n for lab, n in zip(lx, x.shape, strict=True)}
    for lab, n in zip(ly, y.shape, strict=True):
        m = size.get(lab, n)
        if m != n and 1 not in (m, n):
            raise RuntimeError(
                f"einsum(): operands do not broadcast with remapped shapes (original->remapped): "
                f"{list(x.shape)} and {list(y.shape)} disagree on subscript {lab} ({m} != {n})"
            )
        size[lab] = n if m == 1 else m

    def arrange(t: Tensor, labels: list[Label], order: list[Label]) -> Tensor:
        t = permute(t, [labels.index(lab) for lab in order])
        return expand(t, tuple(size[lab] if lab in batch + inner else -1 for lab in order))

    def count(group: list[Label]) -> int:
        return math.prod(size[lab] for lab in group)

    a = reshape(arrange(x, lx, batch + rows + inner), (count(batch), count(rows), count(inner)))
    b = reshape(arrange(y, ly, batch + inner + cols), (count(batch), count(inner), count(cols)))
    out_labels = batch + rows + cols
    return reshape(matmul(a, b), tuple(size[lab] for lab in out_labels)), out_labels


def einsum(*args: Any) -> Tensor:
    """Einstein summation: `einsum("ij,jk->ik", a, b)`, with an implicit output, repeated
    subscripts (diagonals, traces), '...' broadcasting, operands given as a list, or the
    sublist format `einsum(a, [0, 1], b, [1, 2], [0, 2])`.

    Operands are contracted left to right, two at a time, each step one batched matmul
    (no contraction-order optimization); summed dims keep the operand dtype."""
    if not args:
        raise RuntimeError(
            "einsum(): must specify the equation string and at least one operand, or at "
            "least one operand and its subscripts list"
        )
    if isinstance(args[0], Tensor):
        equation, operands = _sublist_equation(args)
    else:
        equation = args[0]
        given = args[1:]
        operands = list(
            given[0] if len(given) == 1 and isinstance(given[0], list | tuple) else given
        )
    if not operands:
        raise RuntimeError(
            "einsum(): must specify the equation string and at least one operand, or at "
            "least one operand and its subscripts list"
        )
    for i, char in enumerate(equation):
        if char not in ascii_letters + ",.->" and not char.isspace():
            raise RuntimeError(
                f"einsum(): invalid subscript given at index {i} in the equation string, "
                "subscripts must be in [a-zA-Z]"
            )
    compact = "".join(equation.split())
    lhs, arrow, rhs = compact.partition("->")
    labels = _operand_labels(_terms(lhs), operands)
    out = _output_labels(rhs if arrow else None, labels)
    pairs = [_distinct(x, lab, i) for i, (x, lab) in enumerate(zip(operands, labels, strict=True))]
    x, lx = pairs[0]
    for k, (y, ly) in enumerate(pairs[1:], start=1):
        x._check_device(y)
        keep = set(out).union(*(lab for _, lab in pairs[k + 1 :]))
        x, lx = _sum_out(x, lx, keep | set(ly))
        y, ly = _sum_out(y, ly, keep | set(lx))
        x, lx = _contract(x, lx, y, ly, keep)
    x, lx = _sum_out(x, lx, set(out))
    return permute(x, [lx.index(lab) for lab in out]) if x.ndim else x


# ---- triangles and diagonals --------------------------------------------------------------
def _triangle(x: Tensor, diagonal: int, lower: bool, fn: str) -> Tensor:
    if x.ndim < 2:
        raise RuntimeError(f"{fn}: input tensor must have at least 2 dimensions")
    n, m = x.shape[-2:]
    offset = unsqueeze(arange(m, device=x.device), 0) - unsqueeze(arange(n, device=x.device), 1)
    keep = offset <= diagonal if lower else offset >= diagonal
    return where(keep, x, zeros((), dtype=x.dtype, device=x.device))


def tril(input: Tensor, diagonal: int = 0) -> Tensor:  # noqa: A002
    """The lower triangle of the last two dims (on and below `diagonal`), the rest zero."""
    return _triangle(input, diagonal, True, "tril")


def triu(input: Tensor, diagonal: int = 0) -> Tensor:  # noqa: A002
    """The upper triangle of the last two dims (on and above `diagonal`), the rest zero."""
    return _triangle(input, diagonal, False, "triu")


def _diagonal(input: Tensor, offset: int, dim1: int, dim2: int) -> Tensor:  # noqa: A002
    a, b = input._dim(dim1), input._dim(dim2)
    if a == b:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    y = permute(input, [d for d in range(input.ndim) if d not in (a, b)] + [a, b])
    *batch, n, m = y.shape
    top, left = min(max(-offset, 0), n), min(max(offset, 0), m)
    size = max(0, min(n - top, m - left))
    y = shrink(y, tuple((0, k) for k in batch) + ((top, top + size), (left, left + size)))
    # the flat square read in rows of size + 1: its first column is the diagonal
    flat = pad(reshape(y, (*batch, size * size)), _pads(len(batch) + 1, len(batch), 0, size))
    rows = reshape(flat, (*batch, size, size + 1))
    return reshape(shrink(rows, _bounds(rows, len(batch) + 1, 0, 1)), (*batch, size))


@view_op
def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:  # noqa: A002
    """The diagonal of dims dim1 and dim2 (shifted by `offset`), as the last dim of a view."""
    return _diagonal(input, offset, dim1, dim2)


def diag_embed(input: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:  # noqa: A002
    """Matrices (in dims dim1, dim2 of the result) whose `offset` diagonal holds the last dim
    of `input`, zero elsewhere."""
    ndim = input.ndim + 1
    a, b = input._dim(dim1, ndim), input._dim(dim2, ndim)
    if a == b:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    *batch, n = input.shape
    nb = len(batch)
    # rows of n + 1 (the value, then n zeros) read as a flat n x n square: a diagonal matrix
    y = reshape(pad(unsqueeze(input, -1), _pads(ndim, nb + 1, 0, n)), (*batch, n * (n + 1)))
    y = reshape(shrink(y, _bounds(y, nb, 0, n * n)), (*batch, n, n))
    k = abs(offset)
    corner = ((0, k), (k, 0)) if offset >= 0 else ((k, 0), (0, k))
    y = pad(y, ((0, 0),) * nb + corner)
    rest = iter(range(nb))
    return permute(y, [nb if p == a else nb + 1 if p == b else next(rest) for p in range(ndim)])


def diag(input: Tensor, diagonal: int = 0) -> Tensor:  # noqa: A002
    """A 1-D tensor as the `diagonal` of a square matrix, or a matrix's `diagonal` as 1-D."""
    if input.ndim == 1:
        return diag_embed(input, diagonal, 0, 1)
    if input.ndim == 2:
        return _diagonal(input, diagonal, 0, 1)
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {input.ndim}D")


def trace(input: Tensor) -> Tensor:  # noqa: A002
    """Sum of the main diagonal of a matrix (integers sum in int64)."""
    if input.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input.ndim}")
    return math_ops.sum(_diagonal(input, 0, 0, 1))


# ---- slices, repeats and rolls ------------------------------------------------------------
@view_op
def narrow(input: Tensor, dim: int, start: int | Tensor, length: int) -> Tensor:  # noqa: A002
    """`length` elements of dim `dim` from `start` (a view)."""
    if input.ndim == 0:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    if length < 0:
        raise RuntimeError("narrow(): length must be non-negative.")
    d = input._dim(dim)
    n, begin = input.shape[d], operator.index(start)
    if not -n <= begin <= n:
        raise IndexError(
            f"start out of range (expected to be in range of [{-n}, {n}], but got {begin})"
        )
    begin = begin + n if begin < 0 else begin
    if begin + length > n:
        raise RuntimeError(f"start ({begin}) + length ({length}) exceeds dimension size ({n}).")
    return shrink(input, _bounds(input, d, begin, begin + length))


@view_op
def select(input: Tensor, dim: int, index: int | Tensor) -> Tensor:  # noqa: A002
    """The slice at `index` of dim `dim`, that dim removed (a view)."""
    if input.ndim == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    d = input._dim(dim)
    n, i = input.shape[d], operator.index(index)
    if not -n <= i < n:
        raise IndexError(
            f"select(): index {i} out of range for tensor of size {list(input.shape)} at "
            f"dimension {d}"
        )
    y = shrink(input, _bounds(input, d, i % n, i % n + 1))
    return reshape(y, input.shape[:d] + input.shape[d + 1 :])


def unbind(input: Tensor, dim: int = 0) -> tuple[Tensor, ...]:  # noqa: A002
    """Every slice along `dim`, that dim removed (views)."""
    if input.ndim == 0:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    d = input._dim(dim)
    return tuple(select(input, d, i) for i in range(input.shape[d]))


@view_op
def unfold(input: Tensor, dimension: int, size: int, step: int) -> Tensor:  # noqa: A002
    """Windows of `size` elements every `step` along `dimension`: that dim becomes the window
    count and the window is a new last dim (a view)."""
    if input.ndim == 0:
        return reshape(unfold(reshape(input, (1,)), 0, size, step), (size,))
    d = input._dim(dimension)
    n = input.shape[d]
    if size > n:
        raise RuntimeError(f"maximum size for tensor at dimension {d} is {n} but size is {size}")
    if size < 0:
        raise RuntimeError(f"size is {size} but must be >= 0")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    count = (n - size) // step + 1
    y = _movedim(input, d, -1)
    *batch, _ = y.shape
    nb = len(batch)
    if size == 0:
        empty = reshape(shrink(y, _bounds(y, nb, 0, 0)), (*batch, 1, 0))
        return _movedim(expand(empty, (*batch, count, 0)), nb, d)
    # copies of the dim laid end to end, read in rows of n + step: row i starts at i * step
    width = n + step
    copies = -(-count * width // n)
    flat = reshape(expand(unsqueeze(y, -2), (*batch, copies, n)), (*batch, copies * n))
    rows = reshape(shrink(flat, _bounds(flat, nb, 0, count * width)), (*batch, count, width))
    return _movedim(shrink(rows, _bounds(rows, nb + 1, 0, size)), nb, d)


def roll(
    input: Tensor,  # noqa: A002
    shifts: int | Sequence[int],
    dims: int | Sequence[int] | None = None,
) -> Tensor:
    """Elements shifted along `dims` (the flattened tensor when None), wrapping around."""
    shift_list = [shifts] if isinstance(shifts, int | np.integer) else list(shifts)
    dim_list = [] if dims is None else [dims] if isinstance(dims, int | np.integer) else list(dims)
    if not dim_list and len(shift_list) == 1:
        return reshape(roll(flatten(input), shift_list[0], 0), input.shape)
    if len(shift_list) != len(dim_list):
        raise RuntimeError(
            f"shifts and dimensions must align. shifts: {len(shift_list)}, dims:{len(dim_list)}"
        )
    out = input
    for shift, dim in zip(shift_list, dim_list, strict=True):
        d = input._dim(dim)
        n = input.shape[d]
        s = shift % n if n else 0
        if s:
            out = cat(
                [shrink(out, _bounds(out, d, n - s, n)), shrink(out, _bounds(out, d, 0, n - s))], d
            )
    return out


def repeat(input: Tensor, *sizes: int | Sequence[int]) -> Tensor:  # noqa: A002
    """The tensor tiled `sizes[i]` times along each dim (extra leading sizes add dims)."""
    counts = sizes_of(sizes, "repeat", "repeats")
    if len(counts) < input.ndim:
        raise RuntimeError(
            "Number of dimensions of repeat dims can not be smaller than number of dimensions "
            "of tensor"
        )
    if any(c < 0 for c in counts):
        raise RuntimeError(
            f"Trying to create tensor with negative dimension {min(counts)}: {list(counts)}"
        )
    shape = (1,) * (len(counts) - input.ndim) + tuple(input.shape)
    y = reshape(input, tuple(s for n in shape for s in (1, n)))
    y = expand(y, tuple(s for c, n in zip(counts, shape, strict=True) for s in (c, n)))
    return reshape(y, tuple(c * n for c, n in zip(counts, shape, strict=True)))


def tile(input: Tensor, dims: Sequence[int], *more: int) -> Tensor:  # noqa: A002
    """`repeat` with `dims` padded with leading 1s to the tensor's rank."""
    counts = sizes_of((dims, *more) if more else (dims,), "tile", "dims")
    return repeat(input, (1,) * (input.ndim - len(counts)) + counts)


def repeat_interleave(
    input: Tensor,  # noqa: A002
    repeats: int | Tensor | None = None,
    dim: int | None = None,
    *,
    output_size: int | None = None,
) -> Tensor:
    """Each element repeated `repeats` times (an int, or one count per element of dim `dim`);
    without `dim` the flattened tensor. `repeat_interleave(counts)` repeats arange(len(counts)).

    Counts given as a tensor decide the result's size, so they are read when recorded (as
    PyTorch reads them)."""
    if repeats is None:
        return repeat_interleave(arange(input.shape[0], device=input.device), input)
    x = flatten(input) if dim is None else input
    d = 0 if dim is None else x._dim(dim)
    if isinstance(repeats, Tensor):
        if repeats.ndim > 1:
            raise RuntimeError("repeats must be 0-dim or 1-dim tensor")
        if repeats.dtype.is_floating_point or repeats.dtype == dt.bool_:
            raise RuntimeError("repeats has to be Long or Int tensor")
        counts = repeats.detach()._host().astype(np.int64).reshape(-1)
        if repeats.ndim and counts.size != 1 and counts.size != x.shape[d]:
            raise RuntimeError(
                f"repeats must have the same size as input along dim, but got "
                f"repeats.size(0) = {counts.size} and input.size({d}) = {x.shape[d]}"
            )
    else:
        counts = np.array([operator.index(repeats)])
    if (counts < 0).any():
        raise RuntimeError("repeats can not be negative")
    if counts.size == 1:
        c = int(counts[0])
        y = expand(unsqueeze(x, d + 1), (*x.shape[: d + 1], c, *x.shape[d + 1 :]))
        out = flatten(y, d, d + 1)
    else:
        index = tensor(np.repeat(np.arange(x.shape[d]), counts), device=x.device)
        out = getitem(x, (slice(None),) * d + (index,))
    if output_size is not None and output_size != out.shape[d]:
        raise RuntimeError("allocated size does not match required size")
    return out


def diff(
    input: Tensor,  # noqa: A002
    n: int = 1,
    dim: int = -1,
    prepend: Tensor | None = None,
    append: Tensor | None = None,
) -> Tensor:
    """The n-th forward difference along `dim` (for bools: whether neighbors differ), after
    joining `prepend` and `append` to the ends."""
    if input.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    d = input._dim(dim)
    for extra in (prepend, append):
        if extra is not None and extra.ndim != input.ndim:
            raise RuntimeError("diff expects prepend or append to be the same dimension as input")
    if n == 0:  # a copy of the input, the ends ignored (as PyTorch)
        return input._result(input._node, "CloneBackward0", (input,))
    x = cat([t for t in (prepend, input, append) if t is not None], d)
    for _ in range(n):
        k = x.shape[d]
        if k == 0:
            break
        later, earlier = shrink(x, _bounds(x, d, 1, k)), shrink(x, _bounds(x, d, 0, k - 1))
        x = later != earlier if x.dtype == dt.bool_ else later - earlier
    return x


# ---- stacking and grids -------------------------------------------------------------------
def _tensor_list(tensors: Sequence[Tensor], fn: str) -> list[Tensor]:
    if isinstance(tensors, Tensor):
        raise TypeError(
            f"{fn}(): argument 'tensors' (position 1) must be tuple of Tensors, not Tensor"
        )
    out = list(tensors)
    if not out:
        raise RuntimeError(f"{fn} expects a non-empty TensorList")
    return out


def hstack(tensors: Sequence[Tensor]) -> Tensor:
    """Join along dim 1 (dim 0 for 1-D tensors; 0-d tensors count as 1-D)."""
    parts = [t if t.ndim else reshape(t, (1,)) for t in _tensor_list(tensors, "hstack")]
    return cat(parts, 0 if parts[0].ndim == 1 else 1)


def vstack(tensors: Sequence[Tensor]) -> Tensor:
    """Join along dim 0, 0-d and 1-D tensors first made rows."""
    parts = _tensor_list(tensors, "vstack")
    return cat([t if t.ndim > 1 else reshape(t, (1, -1 if t.numel() else 0)) for t in parts], 0)


def meshgrid(
    *tensors: Tensor | Sequence[Tensor], indexing: str | None = None
) -> tuple[Tensor, ...]:
    """Grids from 0-d/1-D tensors: the i-th result varies along dim i ("ij", the default) or,
    with indexing="xy", the first two inputs along dims 1 and 0 (expanded views)."""
    items = (
        list(tensors[0])
        if len(tensors) == 1 and not isinstance(tensors[0], Tensor)
        else list(tensors)
    )
    if indexing not in (None, "ij", "xy"):
        raise RuntimeError(
            f'torch.meshgrid: indexing must be one of "xy" or "ij", but received: {indexing}'
        )
    if not items:
        raise RuntimeError("meshgrid expects a non-empty TensorList")
    for t in items:
        if t.ndim > 1:
            raise RuntimeError(
                f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but got: {t}"
            )
    order = list(range(len(items)))
    if indexing == "xy" and len(items) > 1:
        order[0], order[1] = 1, 0
    sizes = [t.numel() for t in items]
    shape = tuple(sizes[order.index(p)] for p in range(len(items)))
    out = []
    for t, position in zip(items, order, strict=True):
        lined = reshape(t, tuple(-1 if p == position else 1 for p in range(len(items))))
        out.append(expand(lined, shape))
    return tuple(out)


# ---- conjugate transposes (the identity's conjugation: every dtype here is real) -----------
def _matrix_h(x: Tensor) -> Tensor:
    if x.ndim not in (0, 2):
        raise RuntimeError(
            f"tensor.H is only supported on matrices (2-D tensors). Got {x.ndim}-D tensor."
            + (" For batches of matrices, consider using tensor.mH" if x.ndim > 2 else "")
        )
    return transpose(x, 0, 1) if x.ndim == 2 else x


def _matrix_mh(x: Tensor) -> Tensor:
    if x.ndim < 2:
        raise RuntimeError(
            "tensor.mH is only supported on matrices or batches of matrices. Got "
            f"{x.ndim}-D tensor."
        )
    return transpose(x, -2, -1)


__all__ = [
    "addmm",
    "baddbmm",
    "bmm",
    "cdist",
    "cross",
    "diag",
    "diag_embed",
    "diagonal",
    "diff",
    "dot",
    "einsum",
    "hstack",
    "kron",
    "meshgrid",
    "mm",
    "narrow",
    "outer",
    "repeat_interleave",
    "roll",
    "select",
    "tensordot",
    "tile",
    "trace",
    "tril",
    "triu",
    "unbind",
    "vstack",
]
METHODS: dict[str, Any] = {
    "addmm": addmm,
    "baddbmm": baddbmm,
    "bmm": bmm,
    "cross": cross,
    "diag": diag,
    "diag_embed": diag_embed,
    "diagonal": diagonal,
    "diff": diff,
    "dot": dot,
    "kron": kron,
    "narrow": narrow,
    "outer": outer,
    "repeat": repeat,
    "repeat_interleave": repeat_interleave,
    "roll": roll,
    "select": select,
    "tile": tile,
    "trace": trace,
    "tril": tril,
    "triu": triu,
    "unbind": unbind,
    "unfold": unfold,
    "H": property(_matrix_h),
    "mH": property(_matrix_mh),
}
IN_PLACE: dict[str, Any] = {"tril_": tril, "triu_": triu}
