"""Parity of movement ops (reshape, permute, expand, flip, cat, split, ...) with NumPy, over
random shapes including 0-d and size-0 tensors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from conftest import DTYPE_NAMES, arrays, check, np_dtype, parity, promote, shapes
from hypothesis import strategies as st

import lazygrad as lg


@st.composite
def array_case(draw: Any, min_dims: int = 0, max_dims: int = 4, min_side: int = 0) -> np.ndarray:
    shape = draw(shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side))
    return draw(arrays(draw(st.sampled_from(DTYPE_NAMES)), shape))


@st.composite
def reshape_case(draw: Any) -> tuple[np.ndarray, tuple[int, ...]]:
    """An array and a shape with the same number of elements (maybe with one -1)."""
    a = draw(array_case())
    factors, n = [], a.size
    for _ in range(draw(st.integers(0, 3))):
        divisors = [d for d in range(1, n + 1) if n % d == 0] if n else [0, 1, 2]
        d = draw(st.sampled_from(divisors))
        factors.append(d)
        n = n // d if d else n
    if a.size:
        factors.append(n)
    elif not factors:
        factors = [0]
    shape = tuple(factors) if a.size or 0 in factors else (0,) + tuple(factors)
    if a.size and draw(st.booleans()):
        i = draw(st.integers(0, len(shape) - 1))
        shape = shape[:i] + (-1,) + shape[i + 1 :]
    return a, shape


@parity(case=reshape_case())
def test_reshape_and_view(case: tuple[np.ndarray, tuple[int, ...]], device: str) -> None:
    a, shape = case
    expected = a.reshape(shape)
    t = lg.tensor(a, device=device)
    check(t.reshape(shape), expected)
    check(t.reshape(*shape), expected)
    check(t.view(shape), expected)
    check(lg.reshape(t, shape), expected)
    check((t.reshape(shape) == t.reshape(-1).reshape(shape)), np.ones(expected.shape, bool))


@parity(a=array_case(), data=st.data())
def test_permute_and_transpose(a: np.ndarray, data: Any, device: str) -> None:
    order = data.draw(st.permutations(range(a.ndim)))
    t = lg.tensor(a, device=device)
    if order:  # permute() with no dims is an error, as in PyTorch
        check(t.permute(*order), a.transpose(order))
    check(t.permute(tuple(order)), a.transpose(order))
    check(lg.permute(t, order), a.transpose(order))
    if a.ndim:
        d0 = data.draw(st.integers(-a.ndim, a.ndim - 1))
        d1 = data.draw(st.integers(-a.ndim, a.ndim - 1))
        check(t.transpose(d0, d1), np.swapaxes(a, d0, d1))
        check(lg.transpose(t, d0, d1), np.swapaxes(a, d0, d1))
    check(t.T, a.T)


def test_t_and_mT(device: str) -> None:
    a = np.arange(6).reshape(2, 3)
    t = lg.tensor(a, device=device)
    check(t.t(), a.T)
    check(lg.tensor(np.arange(3), device=device).t(), np.arange(3))
    check(lg.tensor(5, device=device).t(), np.array(5))
    b = np.arange(24).reshape(2, 3, 4)
    check(lg.tensor(b, device=device).mT, np.swapaxes(b, -2, -1))


@parity(a=array_case(), data=st.data())
def test_flatten(a: np.ndarray, data: Any, device: str) -> None:
    t = lg.tensor(a, device=device)
    check(t.flatten(), a.reshape(-1))
    check(lg.flatten(t), a.reshape(-1))
    if a.ndim:
        start = data.draw(st.integers(0, a.ndim - 1))
        end = data.draw(st.integers(start, a.ndim - 1))
        shape = a.shape[:start] + (int(np.prod(a.shape[start : end + 1])),) + a.shape[end + 1 :]
        check(t.flatten(start, end), a.reshape(shape))
        check(t.flatten(start - a.ndim, end - a.ndim), a.reshape(shape))


@parity(a=array_case(max_dims=3), data=st.data())
def test_unsqueeze_squeeze(a: np.ndarray, data: Any, device: str) -> None:
    t = lg.tensor(a, device=device)
    d = data.draw(st.integers(-a.ndim - 1, a.ndim))
    check(t.unsqueeze(d), np.expand_dims(a, d))
    check(lg.unsqueeze(t, d), np.expand_dims(a, d))
    b = np.expand_dims(np.expand_dims(a, 0), -1)
    u = lg.tensor(b, device=device)
    check(u.squeeze(), b.squeeze())
    check(lg.squeeze(u), b.squeeze())
    check(u.squeeze(0), np.squeeze(b, 0))
    check(u.squeeze(-1), np.squeeze(b, -1))
    check(u.squeeze((0, -1)), np.squeeze(b, (0, b.ndim - 1)))
    if a.ndim and a.shape[0] != 1:
        check(t.squeeze(0), a)  # a dim that is not 1 stays


@parity(a=array_case(max_dims=3), data=st.data())
def test_expand(a: np.ndarray, data: Any, device: str) -> None:
    lead = data.draw(st.lists(st.integers(0, 3), max_size=2))
    target = [data.draw(st.integers(0, 3)) if n == 1 else n for n in a.shape]
    expected = np.broadcast_to(a, tuple(lead) + tuple(target))
    t = lg.tensor(a, device=device)
    check(t.expand(*lead, *target), expected)
    check(t.expand(tuple(lead) + tuple(target)), expected)
    keep = [-1] * a.ndim
    check(t.expand(*lead, *keep), np.broadcast_to(a, tuple(lead) + a.shape))
    check(t.expand_as(lg.zeros(expected.shape, device=device)), expected)


@parity(a=array_case(min_dims=1), data=st.data())
def test_flip(a: np.ndarray, data: Any, device: str) -> None:
    dims = data.draw(
        st.lists(
            st.integers(-a.ndim, a.ndim - 1),
            min_size=1,
            max_size=a.ndim,
            unique_by=lambda d: d % a.ndim,
        )
    )
    t = lg.tensor(a, device=device)
    check(t.flip(dims), np.flip(a, tuple(dims)))
    check(t.flip(*dims), np.flip(a, tuple(dims)))
    check(t.flip(dims[0]), np.flip(a, dims[0]))


def test_flip_0d(device: str) -> None:
    check(lg.tensor(3.0, device=device).flip(0), np.array(3.0, np.float32))


@parity(
    data=st.data(),
    base=shapes(min_dims=1, max_dims=3),
    dtypes=st.lists(st.sampled_from(DTYPE_NAMES), min_size=1, max_size=4),
)
def test_cat(data: Any, base: tuple[int, ...], dtypes: list[str], device: str) -> None:
    dim = data.draw(st.integers(-len(base), len(base) - 1))
    axis = dim % len(base)
    parts = []
    for name in dtypes:
        shape = list(base)
        shape[axis] = data.draw(st.integers(0, 3))
        parts.append(data.draw(arrays(name, tuple(shape))))
    result = dtypes[0]
    for name in dtypes[1:]:
        result = promote(result, name)
    expected = np.concatenate([p.astype(np_dtype(result)) for p in parts], axis=axis)
    tensors = [lg.tensor(p, device=device) for p in parts]
    check(lg.cat(tensors, dim), expected)
    check(lg.cat(tuple(tensors), dim=dim), expected)


def test_cat_skips_legacy_empty_tensors(device: str) -> None:
    a = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    t = lg.tensor(a, device=device)
    check(lg.cat([t, lg.zeros(0, device=device)], 1), a)
    check(lg.cat([lg.zeros(0, device=device), t]), a)
    check(
        lg.cat([lg.tensor([True], device=device), lg.tensor([False], device=device)]),
        np.array([True, False]),
    )


@parity(
    data=st.data(),
    shape=shapes(max_dims=3),
    count=st.integers(1, 4),
    dtype=st.sampled_from(DTYPE_NAMES),
)
def test_stack(data: Any, shape: tuple[int, ...], count: int, dtype: str, device: str) -> None:
    parts = [data.draw(arrays(dtype, shape)) for _ in range(count)]
    dim = data.draw(st.integers(-len(shape) - 1, len(shape)))
    expected = np.stack(parts, axis=dim)
    check(lg.stack([lg.tensor(p, device=device) for p in parts], dim), expected)


@parity(a=array_case(min_dims=1), data=st.data())
def test_split_and_chunk(a: np.ndarray, data: Any, device: str) -> None:
    dim = data.draw(st.integers(-a.ndim, a.ndim - 1))
    axis = dim % a.ndim
    n = a.shape[axis]
    t = lg.tensor(a, device=device)
    size = data.draw(st.integers(1, 4))
    pieces = t.split(size, dim)
    bounds = list(range(size, n, size))
    expected = np.split(a, bounds, axis=axis) if n else [a]
    assert len(pieces) == len(expected)
    for got, want in zip(pieces, expected, strict=True):
        check(got, want)
    sections = data.draw(st.lists(st.integers(0, 3), min_size=1, max_size=4))
    if sum(sections) == n:
        cuts = np.cumsum(sections)[:-1]
        for got, want in zip(lg.split(t, sections, dim), np.split(a, cuts, axis=axis), strict=True):
            check(got, want)
    chunks = data.draw(st.integers(1, 5))
    step = -(-n // chunks) if n else 0
    got_chunks = t.chunk(chunks, dim)
    if n:
        expected_chunks = np.split(a, list(range(step, n, step)), axis=axis)
    else:
        expected_chunks = [a] * chunks
    assert len(got_chunks) == len(expected_chunks)
    for got, want in zip(got_chunks, expected_chunks, strict=True):
        check(got, want)
    check(lg.chunk(t, chunks, dim)[0], expected_chunks[0])


def test_contiguous_keeps_values_and_copies_only_a_non_contiguous_view(device: str) -> None:
    base = lg.tensor(np.arange(6).reshape(2, 3), device=device)
    assert base.contiguous() is base
    t = base.t()
    assert t.contiguous() is not t  # a transpose is not row-major: PyTorch copies
    check(t.contiguous(), np.arange(6).reshape(2, 3).T)


def test_chains_of_views_and_compute(device: str) -> None:
    a = np.arange(120, dtype=np.float32).reshape(2, 3, 4, 5)
    t = lg.tensor(a, device=device)
    got = t.permute(3, 1, 0, 2).reshape(5, 24)[1:4].flip(1).T.unsqueeze(0) * 2
    want = a.transpose(3, 1, 0, 2).reshape(5, 24)[1:4][:, ::-1].T[None] * 2
    check(got, want)
    check(t.transpose(1, 2).flatten(2).sum(-1), a.transpose(0, 2, 1, 3).reshape(2, 4, 15).sum(-1))
    check(
        t[:, None, ::2].expand(2, 3, 2, 4, 5).sum((1, 3)),
        np.broadcast_to(a[:, None, ::2], (2, 3, 2, 4, 5)).sum((1, 3)),
    )


@pytest.mark.parametrize("shape", [(0,), (2, 0), (0, 3, 1)])
def test_size_zero_movement(shape: tuple[int, ...], device: str) -> None:
    a = np.zeros(shape, np.float32)
    t = lg.tensor(a, device=device)
    check(t.reshape(-1), a.reshape(-1))
    check(t.T, a.T)
    check(t.unsqueeze(0), a[None])
    check(t.flip(0), a)
    check(lg.cat([t, t]), np.concatenate([a, a]))
