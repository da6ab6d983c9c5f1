"""Tests for lazygrad.ir.view.View: fuzzed movement-op chains checked against NumPy."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lazygrad.ir.view import View

MAX_NUMEL = 256  # keep fuzzed arrays small: the reference materialiser loops in Python
FUZZ = settings(max_examples=300, deadline=None)


# --------------------------------------------------------------------------- reference helpers


def materialise(base: np.ndarray, view: View) -> np.ndarray:
    """Build the array a view describes, one element at a time through ``View.index``."""
    out = np.zeros(view.shape, dtype=base.dtype)
    for idx in np.ndindex(view.shape):
        flat, valid = view.index(idx)
        if valid:
            out[idx] = base[flat]
    return out


def valid_flat_indices(view: View) -> list[int]:
    """Every base index read by a valid element of ``view``."""
    found = []
    for idx in np.ndindex(view.shape):
        flat, valid = view.index(idx)
        if valid:
            found.append(flat)
    return found


def check_min_max(base: np.ndarray, view: View) -> None:
    """``min_max_flat`` matches the brute-force range and stays inside the base."""
    flats = valid_flat_indices(view)
    if not flats:
        with pytest.raises(ValueError):
            view.min_max_flat()
        return
    assert view.min_max_flat() == (min(flats), max(flats))
    assert 0 <= min(flats) and max(flats) < base.size


def check_as_strided(base: np.ndarray, view: View, expected: np.ndarray) -> None:
    """For unmasked, non-negatively strided views, NumPy's as_strided agrees."""
    if view.mask is not None or view.numel == 0 or any(s < 0 for s in view.strides):
        return
    strides = tuple(s * base.itemsize for s in view.strides)
    got = np.lib.stride_tricks.as_strided(base[view.offset :], view.shape, strides)
    np.testing.assert_array_equal(got, expected)


def strip_ones(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(s for s in shape if s != 1)


def window_is_full(view: View, dim: int) -> bool:
    return view.mask is None or view.mask[dim] == (0, view.shape[dim])


# ------------------------------------------------------------------------------- strategies

shapes = st.lists(st.sampled_from([0, 1, 1, 2, 3, 4]), min_size=0, max_size=4).map(tuple)


def prime_factors(n: int) -> list[int]:
    factors, p = [], 2
    while n > 1:
        while n % p == 0:
            factors.append(p)
            n //= p
        p += 1
    return factors


def draw_with_ones(data: st.DataObject, core: list[int]) -> tuple[int, ...]:
    """Insert 0-2 size-1 dims at random positions into ``core``."""
    for _ in range(data.draw(st.integers(0, 2))):
        core.insert(data.draw(st.integers(0, len(core))), 1)
    return tuple(core)


def draw_random_shape(data: st.DataObject, numel: int) -> tuple[int, ...]:
    """A random shape with ``numel`` elements: shuffled prime factors cut into groups."""
    if numel == 0:
        core = data.draw(st.lists(st.integers(0, 3), min_size=0, max_size=3))
        core.insert(data.draw(st.integers(0, len(core))), 0)
        return draw_with_ones(data, core)
    factors = data.draw(st.permutations(prime_factors(numel)))
    core: list[int] = []
    for f in factors:
        if core and data.draw(st.booleans()):
            core[-1] *= f
        else:
            core.append(f)
    return draw_with_ones(data, core)


def draw_reshape(data: st.DataObject, shape: tuple[int, ...]) -> tuple[str, tuple[int, ...], int]:
    """Pick a reshape target; returns (kind, new_shape, dim involved in a merge/split)."""
    kind = data.draw(st.sampled_from(["ones", "merge", "split", "random"]))
    if kind == "merge" and len(shape) >= 2:
        d = data.draw(st.integers(0, len(shape) - 2))
        return kind, shape[:d] + (shape[d] * shape[d + 1],) + shape[d + 2 :], d
    splittable = [d for d, s in enumerate(shape) if s >= 4 and prime_factors(s) != [s]]
    if kind == "split" and splittable:
        d = data.draw(st.sampled_from(splittable))
        a = data.draw(st.sampled_from([f for f in range(2, shape[d]) if shape[d] % f == 0]))
        return kind, shape[:d] + (a, shape[d] // a) + shape[d + 1 :], d
    if kind == "random":
        return kind, draw_random_shape(data, math.prod(shape)), -1
    return "ones", draw_with_ones(data, list(strip_ones(shape))), -1


# ------------------------------------------------------------------------- the op "interpreter"


def op_permute(data, arr, view, base):
    order = tuple(data.draw(st.permutations(range(arr.ndim))))
    return np.transpose(arr, order), view.permute(order), base


def op_expand(data, arr, view, base):
    new = tuple(data.draw(st.integers(0, 3)) if s == 1 else s for s in arr.shape)
    if math.prod(new) > MAX_NUMEL:
        return arr, view, base
    return np.broadcast_to(arr, new), view.expand(new), base


def op_pad(data, arr, view, base):
    pads = tuple((data.draw(st.integers(0, 2)), data.draw(st.integers(0, 2))) for _ in arr.shape)
    if math.prod(s + b + a for s, (b, a) in zip(arr.shape, pads, strict=True)) > MAX_NUMEL:
        return arr, view, base
    padded = np.pad(arr, pads, mode="constant") if arr.ndim else arr  # np.pad rejects 0-d
    return padded, view.pad(pads), base


def op_shrink(data, arr, view, base):
    bounds = []
    for size in arr.shape:
        start = data.draw(st.integers(0, size))
        bounds.append((start, data.draw(st.integers(start, size))))
    bounds = tuple(bounds)
    sliced = arr[tuple(slice(start, end) for start, end in bounds)]
    return sliced, view.shrink(bounds), base


def op_flip(data, arr, view, base):
    if arr.ndim == 0:
        return arr, view.flip(()), base
    axes = tuple(data.draw(st.lists(st.integers(0, arr.ndim - 1), unique=True)))
    return np.flip(arr, axis=axes), view.flip(axes), base


def op_reshape(data, arr, view, base):
    kind, new_shape, d = draw_reshape(data, arr.shape)
    result = np.reshape(arr.copy(), new_shape)
    reshaped = view.reshape(new_shape)
    must_succeed = (
        view.is_contiguous()
        or view.numel == 0
        or strip_ones(new_shape) == strip_ones(view.shape)
        or (kind == "split" and window_is_full(view, d))
        or (
            kind == "merge"
            and window_is_full(view, d)
            and window_is_full(view, d + 1)
            and view.strides[d] == view.strides[d + 1] * view.shape[d + 1]
        )
    )
    # the one exception: a 0-d view has no mask dim, so it cannot say "invalid" (padding)
    scalar_padding = new_shape == () and view.numel == 1 and not valid_flat_indices(view)
    if must_succeed and not scalar_padding:
        assert reshaped is not None, f"{view} reshape {new_shape} ({kind}) returned None"
    if reshaped is None:  # what the caller does: materialise, continue from a fresh buffer
        return result, View.contiguous(new_shape), result.ravel().copy()
    return result, reshaped, base


OPS = [op_permute, op_expand, op_pad, op_shrink, op_flip, op_reshape]


def check_step(arr: np.ndarray, view: View, base: np.ndarray) -> None:
    assert view.shape == arr.shape
    expected = np.asarray(arr)
    np.testing.assert_array_equal(materialise(base, view), expected)
    check_min_max(base, view)
    check_as_strided(base, view, expected)


@FUZZ
@given(st.data())
def test_fuzz_movement_chain_matches_numpy(data: st.DataObject) -> None:
    shape = data.draw(shapes, label="shape")
    arr = np.arange(1, math.prod(shape) + 1, dtype=np.int64).reshape(shape)
    base = arr.ravel().copy()
    view = View.contiguous(shape)
    check_step(arr, view, base)
    for _ in range(data.draw(st.integers(1, 6), label="chain length")):
        op = data.draw(st.sampled_from(OPS), label="op")
        arr, view, base = op(data, arr, view, base)
        check_step(arr, view, base)


@FUZZ
@given(st.data())
def test_fuzz_reshape_of_contiguous_always_succeeds(data: st.DataObject) -> None:
    shape = data.draw(shapes)
    new_shape = draw_random_shape(data, math.prod(shape))
    reshaped = View.contiguous(shape).reshape(new_shape)
    assert reshaped == View.contiguous(new_shape)


@FUZZ
@given(
    st.lists(st.tuples(st.integers(0, 4), st.integers(0, 5)), max_size=4),
    st.integers(0, 5),
)
def test_fuzz_direct_views_match_as_strided(dims: list[tuple[int, int]], offset: int) -> None:
    shape = tuple(size for size, _ in dims)
    strides = tuple(stride for _, stride in dims)
    extent = offset + sum((size - 1) * stride for size, stride in dims if size > 0) + 1
    base = np.arange(100, 100 + extent, dtype=np.int64)
    view = View(shape, strides, offset)
    expected = np.lib.stride_tricks.as_strided(
        base[offset:], shape, tuple(s * base.itemsize for s in strides)
    )
    np.testing.assert_array_equal(materialise(base, view), expected)
    check_as_strided(base, view, expected)


# ------------------------------------------------------------------------------ edge cases


def test_contiguous_and_canonical_strides() -> None:
    assert View.contiguous((2, 1, 3)).strides == (3, 0, 1)
    assert View.contiguous((2, 3)) == View((2, 3), (3, 1), 0)
    assert View((1, 4), (7, 1), 0) == View.contiguous((1, 4))
    assert View.contiguous((4, 3)).shrink(((1, 2), (0, 3))).strides == (0, 1)
    assert View.contiguous((1, 3)).expand((5, 3)).strides == (0, 1)
    assert View.contiguous((3,)).pad(((0, 0),)) == View.contiguous((3,))
    assert View.contiguous((0, 3)) == View((0, 3), (9, 9), 4)


def test_equality_and_hash() -> None:
    a = View.contiguous((2, 3, 4)).permute((2, 0, 1)).permute((1, 2, 0))
    b = View.contiguous((2, 3, 4))
    assert a == b and hash(a) == hash(b)
    assert len({a, b, View.contiguous((24,)).reshape((2, 3, 4))}) == 1
    padded = View.contiguous((2,)).pad(((1, 1),))
    assert padded == View.contiguous((2,)).pad(((1, 1),))
    assert padded.shrink(((1, 3),)) == View.contiguous((2,))  # full mask dropped
    assert hash(padded) == hash(View((4,), (1,), -1, ((1, 3),)))


def test_frozen() -> None:
    view = View.contiguous((2,))
    with pytest.raises(dataclasses.FrozenInstanceError):
        view.offset = 3  # type: ignore[misc]


def test_numel_ndim_is_contiguous() -> None:
    assert View.contiguous(()).numel == 1 and View.contiguous(()).ndim == 0
    assert View.contiguous((2, 0, 3)).numel == 0
    assert View.contiguous((2, 3)).is_contiguous()
    assert not View.contiguous((2, 3)).permute((1, 0)).is_contiguous()
    assert not View.contiguous((2, 3)).shrink(((1, 2), (0, 3))).is_contiguous()


def test_zero_dim_view() -> None:
    view = View.contiguous(())
    assert view.index(()) == (0, True)
    assert view.min_max_flat() == (0, 0)
    assert view.permute(()) == view and view.flip(()) == view
    up = view.reshape((1, 1, 1))
    assert up == View.contiguous((1, 1, 1)) and up.reshape(()) == view
    assert view.reshape((1,)).expand((3,)).strides == (0,)


def test_size_zero_views() -> None:
    view = View.contiguous((0, 3))
    assert view.reshape((3, 0, 5)) == View.contiguous((3, 0, 5))
    with pytest.raises(ValueError, match="empty"):
        view.min_max_flat()
    padded = view.pad(((1, 1), (0, 0)))  # all padding, nothing valid
    assert padded.shape == (2, 3) and padded.index((1, 2))[1] is False
    flat = padded.reshape((6,))  # still nothing valid: the canonical all-invalid view
    assert flat == View((6,), (0,), 0, ((0, 0),))
    assert not any(flat.index((i,))[1] for i in range(6))
    with pytest.raises(ValueError, match="no valid element"):
        padded.min_max_flat()
    assert View.contiguous((1,)).expand((0,)).numel == 0


def test_all_invalid_views() -> None:
    left = View.contiguous((2,)).pad(((2, 0),)).shrink(((0, 2),))
    right = View.contiguous((2,)).pad(((0, 2),)).shrink(((2, 4),))
    assert left == right and hash(left) == hash(right)
    invalid = View.contiguous((1,)).pad(((1, 0),)).shrink(((0, 1),)).expand((3,))
    assert not any(invalid.index((i,))[1] for i in range(3))
    grid = View.contiguous((1, 1)).pad(((1, 0), (0, 0))).shrink(((0, 1), (0, 1)))
    assert grid.expand((2, 3)).reshape((3, 2)).mask == ((0, 0), (0, 0))


def test_all_invalid_reshape_to_scalar_returns_none() -> None:
    invalid = View.contiguous((1,)).pad(((1, 0),)).shrink(((0, 1),))
    assert invalid.index((0,))[1] is False
    assert invalid.reshape(()) is None  # a 0-d view cannot express "invalid"


def test_reshape_permuted_along_untouched_groups() -> None:
    base = np.arange(24)
    view = View.contiguous((2, 3, 4)).permute((2, 0, 1))  # shape (4, 2, 3)
    merged = view.reshape((4, 6))
    assert merged is not None
    expected = np.transpose(base.reshape(2, 3, 4), (2, 0, 1)).reshape(4, 6)
    np.testing.assert_array_equal(materialise(base, merged), expected)
    assert view.reshape((8, 3)) is None
    with_ones = view.reshape((4, 1, 2, 3, 1))  # inserted 1s keep the permuted groups apart
    assert with_ones is not None
    np.testing.assert_array_equal(materialise(base, with_ones), expected.reshape(4, 1, 2, 3, 1))


def test_reshape_expanded_dims() -> None:
    view = View.contiguous((3, 1)).expand((3, 4))
    split = view.reshape((3, 2, 2))
    assert split == View((3, 2, 2), (1, 0, 0), 0)
    both = View.contiguous((1, 1)).expand((4, 6))
    assert both.reshape((24,)) == View((24,), (0,), 0)
    assert View.contiguous((1, 3)).expand((2, 3)).reshape((6,)) is None


def test_reshape_with_mask() -> None:
    base = np.arange(1, 7)
    padded = View.contiguous((2, 3)).pad(((1, 0), (0, 0)))  # (3, 3), dim 0 masked
    assert padded.reshape((9,)) is None  # masked dim merged: not expressible
    assert padded.reshape((3, 1, 3)) is not None  # only size-1 dims added
    view = View.contiguous((2, 3, 4)).pad(((1, 1), (0, 0), (0, 0)))  # (4, 3, 4)
    merged = view.reshape((4, 12))  # unmasked dims merged, masked dim kept whole
    assert merged is not None and merged.mask == ((1, 3), (0, 12))
    assert view.reshape((2, 2, 12)) is None  # masked dim split
    expected = np.pad(base.reshape(2, 3), ((1, 0), (0, 0))).reshape(3, 1, 3)
    np.testing.assert_array_equal(materialise(base, padded.reshape((3, 1, 3))), expected)


def test_flip_and_pad_broadcast_dims() -> None:
    base = np.arange(1, 4)
    view = View.contiguous((1, 3)).expand((2, 3)).pad(((1, 2), (0, 0))).flip((0, 1))
    expected = np.flip(np.pad(np.broadcast_to(base.reshape(1, 3), (2, 3)), ((1, 2), (0, 0))))
    np.testing.assert_array_equal(materialise(base, view), expected)
    flipped = View.contiguous((3, 4)).flip((0, -1))
    assert flipped.reshape((12,)) == View((12,), (-1,), 11)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda v: v.permute((0,)), r"permute order \(0,\) \(length 1\).*2 dims"),
        (lambda v: v.permute((0, 0)), "not a permutation"),
        (lambda v: v.pad(((1, 1),)), r"pads .* has length 1, but shape \(2, 3\) has 2"),
        (lambda v: v.pad(((1, -1), (0, 0))), "non-negative"),
        (lambda v: v.shrink(((0, 3), (0, 3))), r"\(0, 3\) out of range for a dim of size 2"),
        (lambda v: v.shrink(((2, 1), (0, 3))), "out of range"),
        (lambda v: v.expand((2, 5)), "cannot expand a dim of size 3 to 5"),
        (lambda v: v.expand((2, 3, 1)), "has length 3"),
        (lambda v: v.reshape((5,)), r"\(2, 3\) \(6 elements\) to \(5,\) \(5 elements\)"),
        (lambda v: v.reshape((-1, 6)), "negative"),
        (lambda v: v.flip((2,)), "out of range"),
        (lambda v: v.flip((0, -2)), "repeat"),
        (lambda v: v.index((2, 0)), "out of range"),
        (lambda v: v.index((0,)), "1 entries"),
        (lambda v: v.reshape((2.0, 3)), "integers"),
    ],
)
def test_errors(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call(View.contiguous((2, 3)))


def test_constructor_validation() -> None:
    with pytest.raises(ValueError, match="strides"):
        View((2, 3), (1,), 0)
    with pytest.raises(ValueError, match="mask window"):
        View((2,), (1,), 0, ((0, 3),))
    with pytest.raises(ValueError, match="negative"):
        View.contiguous((2, -1))
