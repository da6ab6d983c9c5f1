"""Strided views: a chain of movement ops folded into one view of a flat 1-D base buffer.

A :class:`View` maps a multi-index ``i`` of its ``shape`` to the flat base index
``offset + sum(i[k] * strides[k])``. An optional ``mask`` gives, per dim, a half-open window
``[lo, hi)`` of valid indices; elements outside it read as 0 (this is how padding is expressed).

Every View is stored in a canonical form so that views describing the same thing compare (and
hash) equal: size-1 dims get stride 0, a mask covering everything is dropped, an empty view
(a 0 in its shape) has zero strides and offset 0, and a view with no valid element has zero
strides, offset 0 and an all-empty mask.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

Shape = tuple[int, ...]
Mask = tuple[tuple[int, int], ...]


def _ints(values: Iterable[int], what: str) -> Shape:
    """Convert ``values`` to a tuple of Python ints, rejecting floats and other non-integers."""
    try:
        return tuple(operator.index(v) for v in values)
    except TypeError as err:
        raise ValueError(f"{what} must be a sequence of integers, got {values!r}") from err


def _checked_shape(shape: Iterable[int], what: str = "shape") -> Shape:
    """Return ``shape`` as a tuple of ints, raising ValueError on a negative size."""
    shape = _ints(shape, what)
    if any(size < 0 for size in shape):
        raise ValueError(f"{what} {shape} has a negative size")
    return shape


def _row_major_strides(shape: Shape) -> Shape:
    """Row-major (C order) strides, in elements, for ``shape``."""
    strides = []
    step = 1
    for size in reversed(shape):
        strides.append(step)
        step *= size
    return tuple(reversed(strides))


def _checked_mask(mask: Iterable[Iterable[int]] | None, shape: Shape) -> Mask | None:
    """Validate a mask against ``shape``: one ``(lo, hi)`` per dim with 0 <= lo <= hi <= size."""
    if mask is None:
        return None
    pairs = tuple(_ints(pair, "mask entry") for pair in mask)
    if len(pairs) != len(shape) or any(len(pair) != 2 for pair in pairs):
        raise ValueError(f"mask {mask!r} must hold one (lo, hi) pair per dim of shape {shape}")
    for (lo, hi), size in zip(pairs, shape, strict=True):
        if not 0 <= lo <= hi <= size:
            raise ValueError(f"mask window ({lo}, {hi}) out of range for dim of size {size}")
    return tuple((lo, hi) for lo, hi in pairs)


def _canonical(
    shape: Shape, strides: Shape, offset: int, mask: Mask | None
) -> tuple[Shape, Shape, int, Mask | None]:
    """Bring a view's fields into the canonical form described in the module docstring."""
    zeros = (0,) * len(shape)
    if math.prod(shape) == 0:
        return shape, zeros, 0, None
    if mask is not None and any(lo >= hi for lo, hi in mask):
        return shape, zeros, 0, tuple((0, 0) for _ in shape)
    strides = tuple(0 if size == 1 else st for size, st in zip(shape, strides, strict=True))
    if mask is not None and all(m == (0, size) for m, size in zip(mask, shape, strict=True)):
        mask = None
    return shape, strides, offset, mask


def _clip_window(lo: int, hi: int, size: int) -> tuple[int, int]:
    """Clip the window ``[lo, hi)`` to ``[0, size)``, keeping ``lo <= hi``."""
    lo = min(max(lo, 0), size)
    return lo, max(min(hi, size), lo)


@dataclass(frozen=True, slots=True)
class View:
    """An immutable, hashable strided view of a flat base buffer (see the module docstring).

    Element ``i`` reads ``base[offset + sum(i[k] * strides[k])]`` when ``mask`` is None or
    ``lo[k] <= i[k] < hi[k]`` for every dim, and 0 otherwise. Strides are in elements; a stride
    of 0 broadcasts and a negative stride walks backwards (a flip). Construction validates the
    fields and canonicalises them, so equal views compare and hash equal.
    """

    shape: tuple[int, ...]
    strides: tuple[int, ...]
    offset: int
    mask: tuple[tuple[int, int], ...] | None = None

    def __post_init__(self) -> None:
        """Validate the fields and store them in canonical form."""
        shape = _checked_shape(self.shape)
        strides = _ints(self.strides, "strides")
        if len(strides) != len(shape):
            raise ValueError(f"strides {strides} do not match the {len(shape)} dims of {shape}")
        offset = operator.index(self.offset)
        fields = _canonical(shape, strides, offset, _checked_mask(self.mask, shape))
        for name, value in zip(("shape", "strides", "offset", "mask"), fields, strict=True):
            object.__setattr__(self, name, value)

    # ----------------------------------------------------------------- construction, queries

    @staticmethod
    def contiguous(shape: Sequence[int]) -> View:
        """The row-major view of a fresh buffer of ``shape``: offset 0, no mask."""
        shape = _checked_shape(shape)
        return View(shape, _row_major_strides(shape), 0)

    @property
    def numel(self) -> int:
        """Number of elements in the view (1 for a 0-d view)."""
        return math.prod(self.shape)

    @property
    def ndim(self) -> int:
        """Number of dims."""
        return len(self.shape)

    def is_contiguous(self) -> bool:
        """True iff this view is exactly ``View.contiguous(self.shape)``."""
        return self == View.contiguous(self.shape)

    def index(self, idx: Sequence[int]) -> tuple[int, bool]:
        """Return ``(flat base index, valid)`` for multi-index ``idx`` (reference semantics)."""
        idx = _ints(idx, "index")
        if len(idx) != self.ndim:
            raise ValueError(f"index {idx} has {len(idx)} entries, view has shape {self.shape}")
        if any(not 0 <= i < size for i, size in zip(idx, self.shape, strict=True)):
            raise ValueError(f"index {idx} out of range for shape {self.shape}")
        flat = self.offset + sum(i * st for i, st in zip(idx, self.strides, strict=True))
        return flat, all(lo <= i < hi for i, (lo, hi) in zip(idx, self._windows(), strict=True))

    def min_max_flat(self) -> tuple[int, int]:
        """Smallest and largest base index read by a valid element.

        Raises ValueError when the view has no elements or no valid element.
        """
        if self.numel == 0:
            raise ValueError(f"view of shape {self.shape} is empty")
        windows = self._windows()
        if any(lo >= hi for lo, hi in windows):
            raise ValueError(f"view of shape {self.shape} has no valid element")
        smallest = largest = self.offset
        for (lo, hi), st in zip(windows, self.strides, strict=True):
            first, last = lo * st, (hi - 1) * st
            smallest += min(first, last)
            largest += max(first, last)
        return smallest, largest

    # ----------------------------------------------------------------------- movement ops

    def permute(self, order: Sequence[int]) -> View:
        """Reorder the dims: result dim ``k`` is this view's dim ``order[k]``."""
        order = _ints(order, "permute order")
        if sorted(order) != list(range(self.ndim)):
            raise ValueError(
                f"permute order {order} (length {len(order)}) is not a permutation of the "
                f"{self.ndim} dims of shape {self.shape}"
            )
        mask = None if self.mask is None else tuple(self.mask[d] for d in order)
        shape = tuple(self.shape[d] for d in order)
        return View(shape, tuple(self.strides[d] for d in order), self.offset, mask)

    def expand(self, new_shape: Sequence[int]) -> View:
        """Broadcast size-1 dims to ``new_shape`` (same ndim); grown dims get stride 0."""
        new_shape = _checked_shape(new_shape, "expand shape")
        self._check_ndim(len(new_shape), f"expand shape {new_shape}")
        for old, new in zip(self.shape, new_shape, strict=True):
            if old != new and old != 1:
                raise ValueError(
                    f"cannot expand a dim of size {old} to {new} ({self.shape} -> {new_shape}): "
                    "only size-1 dims can be expanded"
                )
        strides, windows = [], []
        for old, new, st, (lo, hi) in zip(
            self.shape, new_shape, self.strides, self._windows(), strict=True
        ):
            grown = old != new
            strides.append(0 if grown else st)
            windows.append((0, new if lo < hi else 0) if grown else (lo, hi))
        mask = None if self.mask is None else tuple(windows)
        return View(new_shape, tuple(strides), self.offset, mask)

    def pad(self, pads: Sequence[tuple[int, int]]) -> View:
        """Pad each dim with ``(before, after)`` zeros; the valid window moves into the mask."""
        pads = self._pairs(pads, "pads")
        if any(before < 0 or after < 0 for before, after in pads):
            raise ValueError(f"pads {pads} must be non-negative")
        if all(pair == (0, 0) for pair in pads):
            return self
        shape = tuple(size + b + a for size, (b, a) in zip(self.shape, pads, strict=True))
        offset = self.offset - sum(b * st for (b, _), st in zip(pads, self.strides, strict=True))
        mask = tuple(
            (lo + b, hi + b) for (lo, hi), (b, _) in zip(self._windows(), pads, strict=True)
        )
        return View(shape, self.strides, offset, mask)

    def shrink(self, bounds: Sequence[tuple[int, int]]) -> View:
        """Keep ``[start, end)`` of each dim, with ``0 <= start <= end <= size``."""
        bounds = self._pairs(bounds, "shrink bounds")
        for (start, end), size in zip(bounds, self.shape, strict=True):
            if not 0 <= start <= end <= size:
                raise ValueError(
                    f"shrink bounds ({start}, {end}) out of range for a dim of size {size} "
                    f"(shape {self.shape})"
                )
        shape = tuple(end - start for start, end in bounds)
        offset = self.offset + sum(s * st for (s, _), st in zip(bounds, self.strides, strict=True))
        mask = None
        if self.mask is not None:
            mask = tuple(
                _clip_window(lo - start, hi - start, end - start)
                for (lo, hi), (start, end) in zip(self.mask, bounds, strict=True)
            )
        return View(shape, self.strides, offset, mask)

    def flip(self, axes: Iterable[int]) -> View:
        """Reverse the given dims (negative axes count from the end)."""
        flipped = self._axes(axes)
        strides = list(self.strides)
        offset = self.offset
        windows = list(self._windows())
        for d in flipped:
            size = self.shape[d]
            offset += (size - 1) * strides[d]
            strides[d] = -strides[d]
            lo, hi = windows[d]
            windows[d] = (size - hi, size - lo)
        mask = None if self.mask is None else tuple(windows)
        return View(self.shape, tuple(strides), offset, mask)

    def reshape(self, new_shape: Sequence[int]) -> View | None:
        """Reinterpret the elements (row-major order) as ``new_shape``.

        Returns None when the result cannot be expressed exactly as one View; the caller then
        materialises the data and continues from a contiguous view. Masked dims are only kept
        whole (moved past added/removed size-1 dims); unmasked dims merge or split when their
        strides allow it. A view whose only element is padding cannot become 0-d (a 0-d view
        has no mask dim to mark it invalid), so that reshape returns None too.
        """
        new_shape = _checked_shape(new_shape, "reshape shape")
        if math.prod(new_shape) != self.numel:
            raise ValueError(
                f"cannot reshape shape {self.shape} ({self.numel} elements) to {new_shape} "
                f"({math.prod(new_shape)} elements)"
            )
        if new_shape == self.shape:
            return self
        if self.numel == 0:
            return View.contiguous(new_shape)
        if self.mask is not None and any(lo >= hi for lo, hi in self.mask):
            return self._all_invalid(new_shape)
        return self._reshape_groups(new_shape)

    # -------------------------------------------------------------------------- helpers

    def _windows(self) -> Mask:
        """The mask, or the full window of every dim when there is none."""
        if self.mask is not None:
            return self.mask
        return tuple((0, size) for size in self.shape)

    def _check_ndim(self, count: int, what: str) -> None:
        """Raise ValueError unless ``count`` equals this view's ndim."""
        if count != self.ndim:
            raise ValueError(f"{what} has length {count}, but shape {self.shape} has {self.ndim}")

    def _pairs(self, pairs: Sequence[tuple[int, int]], what: str) -> Mask:
        """Validate a per-dim sequence of integer pairs (pads or shrink bounds)."""
        result = tuple(_ints(pair, what) for pair in pairs)
        self._check_ndim(len(result), f"{what} {result}")
        if any(len(pair) != 2 for pair in result):
            raise ValueError(f"{what} {result} must hold one pair per dim")
        return tuple((first, second) for first, second in result)

    def _axes(self, axes: Iterable[int]) -> Shape:
        """Normalise flip axes to non-negative, distinct dims."""
        normalised = []
        for axis in _ints(axes, "flip axes"):
            if not -self.ndim <= axis < self.ndim:
                raise ValueError(f"flip axis {axis} out of range for {self.ndim} dims")
            normalised.append(axis % self.ndim)
        if len(set(normalised)) != len(normalised):
            raise ValueError(f"flip axes {tuple(axes)} repeat a dim")
        return tuple(normalised)

    @staticmethod
    def _all_invalid(shape: Shape) -> View | None:
        """A view of ``shape`` with no valid element (impossible for a 0-d shape)."""
        if not shape:
            return None
        return View(shape, (0,) * len(shape), 0, tuple((0, 0) for _ in shape))

    def _reshape_groups(self, new_shape: Shape) -> View | None:
        """Reshape a non-empty view by matching groups of non-1 dims with equal products.

        Each group of old dims must be mergeable into one linear dim (each stride equals the
        next stride times the next size); a group containing a masked dim must be that single
        dim mapped onto a single new dim. Size-1 dims are dropped and inserted freely.
        """
        old = [
            (size, st, window)
            for size, st, window in zip(self.shape, self.strides, self._windows(), strict=True)
            if size != 1
        ]
        new_dims = [d for d, size in enumerate(new_shape) if size != 1]
        strides = [0] * len(new_shape)
        mask = [(0, size) for size in new_shape]
        o_start = n_start = 0
        while o_start < len(old):
            o_end, n_end = o_start + 1, n_start + 1
            o_prod, n_prod = old[o_start][0], new_shape[new_dims[n_start]]
            while o_prod != n_prod:
                if o_prod < n_prod:
                    o_prod *= old[o_end][0]
                    o_end += 1
                else:
                    n_prod *= new_shape[new_dims[n_end]]
                    n_end += 1
            group = old[o_start:o_end]
            if any(a[1] != b[1] * b[0] for a, b in pairwise(group)):
                return None
            masked = any(window != (0, size) for size, _, window in group)
            if masked and (len(group) != 1 or n_end - n_start != 1):
                return None
            if masked:
                mask[new_dims[n_start]] = group[0][2]
            step = group[-1][1]
            for d in reversed(new_dims[n_start:n_end]):
                strides[d] = step
                step *= new_shape[d]
            o_start, n_start = o_end, n_end
        return View(new_shape, tuple(strides), self.offset, tuple(mask))
