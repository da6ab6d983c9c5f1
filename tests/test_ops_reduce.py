"""Parity of reductions, softmax/log_softmax and matmul with NumPy.

Reductions are drawn over random shapes (0-d and size-0 included), random `dim` (None, an
int, a tuple, negative dims) and `keepdim`; references are computed in float64 and compared
with a tolerance suited to float32 accumulation in another order.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from conftest import CATEGORY, arrays, check, examples, np_dtype, parity, shapes
from hypothesis import assume, given
from hypothesis import strategies as st

import lazygrad as lg
from lazygrad.runtime import kernel_source

NUMERIC = ("bool", "int32", "int64", "float32", "float64")
FLOATS = ("float32", "float64")
REDUCE_TOL = {"float32": (1e-4, 1e-4), "float64": (1e-9, 1e-9)}


@st.composite
def reduce_case(
    draw: Any, dtypes: tuple[str, ...] = NUMERIC, tuple_dims: bool = True, nonempty: bool = False
) -> tuple[np.ndarray, Any, bool]:
    """An array, a `dim` argument (None, int or tuple; possibly negative) and keepdim."""
    shape = draw(shapes(min_side=1 if nonempty else 0))
    a = draw(arrays(draw(st.sampled_from(dtypes)), shape))
    ndim = a.ndim
    choices = [st.none()]
    if ndim:
        one = st.integers(-ndim, ndim - 1)
        choices.append(one)
        if tuple_dims:
            choices.append(
                st.lists(one, min_size=1, max_size=ndim, unique_by=lambda d: d % ndim).map(tuple)
            )
    else:
        choices.append(st.sampled_from([0, -1]))
    dim = draw(st.one_of(*choices))
    return a, dim, draw(st.booleans())


def _axes(a: np.ndarray, dim: Any) -> tuple[int, ...] | None:
    if dim is None or a.ndim == 0:
        return None
    return tuple(d % a.ndim for d in ((dim,) if isinstance(dim, int) else dim))


def _tol(name: str) -> dict[str, float]:
    if name in REDUCE_TOL:
        rtol, atol = REDUCE_TOL[name]
        return {"rtol": rtol, "atol": atol}
    return {}


def _call(t: lg.Tensor, method: str, dim: Any, keepdim: bool) -> lg.Tensor:
    if dim is None:
        return getattr(t, method)() if not keepdim else getattr(t, method)(None, keepdim=True)
    return getattr(t, method)(dim, keepdim=keepdim)


@pytest.mark.parametrize("method, numpy_fn", [("sum", np.sum), ("prod", np.prod)])
def test_sum_prod(method: str, numpy_fn: Callable, device: str) -> None:
    @examples(device)
    @given(case=reduce_case(tuple_dims=method == "sum"))
    def run(case: tuple[np.ndarray, Any, bool]) -> None:
        a, dim, keepdim = case
        if method == "prod":
            a = np.clip(a, -3, 3).astype(a.dtype)  # keep integer products in range
        result = a.dtype.name if CATEGORY.get(a.dtype.name, 0) == 2 else "int64"
        expected = numpy_fn(
            a.astype(np.float64 if result != "int64" else np.int64),
            axis=_axes(a, dim),
            keepdims=keepdim,
        )
        got = _call(lg.tensor(a, device=device), method, dim, keepdim)
        check(got, np.asarray(expected).astype(np_dtype(result)), **_tol(result))

    run()


def test_sum_dtype_argument(device: str) -> None:
    t = lg.tensor(np.array([1.5, 2.25]), device=device)
    check(t.sum(dtype=lg.float32), np.array(3.75, np.float32))
    check(lg.tensor(np.array([1, 2], np.int32), device=device).sum(), np.array(3))
    check(lg.tensor([True, True, False], device=device).sum(0), np.array(2))
    check(lg.tensor([[1.0, 2.0], [3.0, 4.0]], device=device).sum(()), np.array(10.0, np.float32))


@pytest.mark.parametrize("method", ["mean", "var", "std"])
def test_mean_var_std(method: str, device: str) -> None:
    @examples(device)
    @given(case=reduce_case(FLOATS), correction=st.sampled_from([None, 0, 1, 2]))
    def run(case: tuple[np.ndarray, Any, bool], correction: int | None) -> None:
        a, dim, keepdim = case
        axes = _axes(a, dim)
        t = lg.tensor(a, device=device)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's mean of an empty slice
            if method == "mean":
                expected = np.mean(a.astype(np.float64), axis=axes, keepdims=keepdim)
                got = _call(t, "mean", dim, keepdim)
            else:
                ddof = 1 if correction is None else correction
                count = a.size if axes is None else int(np.prod([a.shape[i] for i in axes]))
                centered = a.astype(np.float64) - np.mean(
                    a.astype(np.float64), axis=axes, keepdims=True
                )
                total = np.sum(centered * centered, axis=axes, keepdims=keepdim)
                expected = total / max(count - ddof, 0)
                if method == "std":
                    expected = np.sqrt(expected)
                kwargs = {} if correction is None else {"correction": correction}
                got = getattr(t, method)(dim, keepdim=keepdim, **kwargs)
        check(got, np.asarray(expected).astype(a.dtype), **_tol(a.dtype.name))

    run()


def test_var_unbiased_flag(device: str) -> None:
    a = np.array([[1.0, 5.0, 2.0], [7.0, 2.0, 4.0]], np.float32)
    t = lg.tensor(a, device=device)
    check(t.var(1, unbiased=False), a.var(1).astype(np.float32))
    check(t.var(1, True), a.var(1, ddof=1).astype(np.float32))
    check(t.var(False), np.asarray(a.var()).astype(np.float32))  # the legacy positional flag
    check(t.std(0, keepdim=True), a.std(0, ddof=1, keepdims=True).astype(np.float32))
    check(lg.var(t), np.asarray(a.var(ddof=1), np.float32))
    check(lg.std(t, 1, correction=0), a.std(1).astype(np.float32))


def test_mean_dtype_argument(device: str) -> None:
    t = lg.tensor(np.array([1, 2], np.int32), device=device)
    check(t.mean(dtype=lg.float32), np.array(1.5, np.float32))
    check(lg.mean(lg.tensor([1.0, 2.0], device=device), dtype=lg.float64), np.array(1.5))


@pytest.mark.parametrize("method", ["max", "min"])
def test_max_min_all(method: str, device: str) -> None:
    @examples(device)
    @given(shape=shapes(min_side=1), dtype=st.sampled_from(NUMERIC), data=st.data())
    def run(shape: tuple[int, ...], dtype: str, data: Any) -> None:
        a = data.draw(arrays(dtype, shape))
        check(getattr(lg.tensor(a, device=device), method)(), getattr(np, method)(a))

    run()


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32"])
def test_max_over_many_short_rows(dtype: str, device: str) -> None:
    # the NumPy backend takes these a column at a time; the values must not change
    rng = np.random.default_rng(9)
    a = (rng.standard_normal((300, 2, 10)) * 50).astype(dtype)
    if dtype != "int32":
        a[0, 0, 3], a[1, 1, :] = np.nan, -np.inf
        a[2, 0, :] = [-0.0] * 5 + [np.nan] + [1.0] * 4
        a[3, :, :] = [-1.0, -0.0, 0.0, -0.0, -2.0] * 2  # ties of zeros of both signs
    t = lg.tensor(a, device=device)
    for got, want in [
        (t.max(-1).values, a.max(-1)),
        (t.max(2, keepdim=True).values, a.max(2, keepdims=True)),
        (t.min(-1).values, a.min(-1)),
        (t[:, :, :3].max(-1).values, a[:, :, :3].max(-1)),
        (t.transpose(1, 2).max(-1).values, a.transpose(0, 2, 1).max(-1)),
    ]:
        check(got, want)
        # exactly (check allows a tolerance); which zero a tie of 0.0 and -0.0 keeps is
        # unspecified, as in NumPy, whose own reduce picks one by its SIMD lane order
        assert np.array_equal(got.numpy(), want, equal_nan=want.dtype.kind == "f")
    if device == "cpu":
        assert "_max_by_columns" in kernel_source(lg.schedule(t.max(-1).values)[0])
        assert "_max_by_columns" not in kernel_source(
            lg.schedule(t[:50].max(-1).values)[0]
        )  # few rows
        assert "_max_by_columns" not in kernel_source(
            lg.schedule(t.max(1).values)[0]
        )  # not the last axis


@pytest.mark.parametrize("method", ["max", "min"])
def test_max_min_dim_returns_values_and_indices(method: str, device: str) -> None:
    @examples(device)
    @given(case=reduce_case(NUMERIC, tuple_dims=False, nonempty=True))
    def run(case: tuple[np.ndarray, Any, bool]) -> None:
        a, dim, keepdim = case
        assume(dim is not None)
        out = getattr(lg.tensor(a, device=device), method)(dim, keepdim=keepdim)
        values, indices = out
        assert out.values is values and out.indices is indices
        axis = None if a.ndim == 0 else dim % a.ndim
        arg = np.argmax if method == "max" else np.argmin
        expected_idx = np.asarray(arg(a, axis=axis)) if a.ndim else np.array(0)
        expected_val = getattr(np, method)(a, axis=axis)
        if keepdim and a.ndim:
            expected_idx = np.expand_dims(expected_idx, axis)
            expected_val = np.expand_dims(expected_val, axis)
        check(values, np.asarray(expected_val))
        check(indices, expected_idx.astype(np.int64))

    run()


@pytest.mark.parametrize("method", ["argmax", "argmin"])
def test_argmax_argmin(method: str, device: str) -> None:
    @examples(device)
    @given(
        case=reduce_case(("int32", "int64", "float32", "float64"), tuple_dims=False, nonempty=True)
    )
    def run(case: tuple[np.ndarray, Any, bool]) -> None:
        a, dim, keepdim = case
        t = lg.tensor(a, device=device)
        fn = getattr(np, method)
        if dim is None:
            expected = np.asarray(fn(a))
            if keepdim:
                expected = expected.reshape((1,) * a.ndim)
            got = getattr(t, method)(keepdim=keepdim) if keepdim else getattr(t, method)()
        else:
            axis = dim % a.ndim if a.ndim else None
            expected = np.asarray(fn(a, axis=axis)) if a.ndim else np.array(0)
            if keepdim and a.ndim:
                expected = np.expand_dims(expected, axis)
            got = getattr(t, method)(dim, keepdim=keepdim)
        check(got, expected.astype(np.int64))

    run()


def test_extremes_with_nan_ties_and_int_limits(device: str) -> None:
    x = lg.tensor(np.array([3.0, np.nan, 1.0, np.nan], np.float32), device=device)
    check(x.max(), np.array(np.nan, np.float32))
    check(x.argmax(), np.array(1))  # the first NaN, like PyTorch
    check(x.argmin(), np.array(1))
    ties = lg.tensor([[1, 5, 5], [7, 7, 2]], device=device)
    check(ties.argmax(1), np.array([1, 0]))
    check(ties.max(1).indices, np.array([1, 0]))
    check(ties.min(0).indices, np.array([0, 0, 1]))
    big = np.array([np.iinfo(np.int64).min, 0, np.iinfo(np.int64).max])
    t = lg.tensor(big, device=device)
    check(t.min(), np.array(big.min()))
    check(t.max(), np.array(big.max()))
    check(t.argmin(), np.array(0))
    flags = lg.tensor([True, False, True], device=device)
    check(flags.max(), np.array(True))
    check(flags.min(), np.array(False))
    check(flags.min(0).values, np.array(False))
    check(flags.min(0).indices, np.array(1))


def test_max_with_tensor_is_maximum(device: str) -> None:
    a = lg.tensor([1, 5], device=device)
    b = lg.tensor([4, 2], device=device)
    check(a.max(b), np.array([4, 5]))
    check(lg.min(a, b), np.array([1, 2]))


def test_return_type_repr(device: str) -> None:
    out = lg.tensor([[1, 5], [7, 2]]).max(1)
    assert repr(out) == (
        "lazygrad.return_types.max(\nvalues=tensor([5, 7]),\nindices=tensor([1, 0]))"
    )
    assert type(out).__name__ == "max"
    values, indices = lg.tensor([[1, 5], [7, 2]]).min(dim=0, keepdim=True)
    check(values, np.array([[1, 2]]))
    check(indices, np.array([[0, 1]]))


def test_max_records_its_indices_only_when_asked(device: str) -> None:
    x = lg.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 7.0]], device=device)
    out = x.max(1)
    box = tuple.__getitem__(out, 1)
    assert box[1] is None  # nothing recorded for the indices yet
    x.add_(lg.tensor([[9.0, 0.0, 0.0], [0.0, 0.0, 1.0]], device=device))  # x changes later
    check(out.indices, np.array([1, 0]))  # the indices of x as it was
    assert box[1] is out[1] is out[-1] is list(out)[1]  # recorded once
    assert len(out) == 2 and isinstance(out, tuple) and out[0] is out.values
    with pytest.raises(IndexError, match="tuple index out of range"):
        out[2]


def test_logsumexp(device: str) -> None:
    @examples(device)
    @given(case=reduce_case(NUMERIC))
    def run(case: tuple[np.ndarray, Any, bool]) -> None:
        a, dim, keepdim = case
        assume(dim is not None)
        axes = _axes(a, dim)
        result = a.dtype.name if a.dtype.kind == "f" else "float32"
        with np.errstate(all="ignore"):
            values = a.astype(np.float64)
            expected = np.log(np.sum(np.exp(values), axis=axes, keepdims=keepdim))
        got = lg.tensor(a, device=device).logsumexp(dim, keepdim=keepdim)
        check(got, np.asarray(expected).astype(np_dtype(result)), **_tol(result))

    run()


def test_logsumexp_extremes(device: str) -> None:
    x = lg.tensor(
        np.array([[-np.inf, -np.inf], [1000.0, 1000.0], [np.inf, 1.0]], np.float32), device=device
    )
    check(x.logsumexp(1), np.array([-np.inf, 1000.0 + np.log(2.0), np.inf], np.float32))
    check(lg.logsumexp(lg.zeros(0, 3, device=device), 0), np.full(3, -np.inf, np.float32))


def _softmax(a: np.ndarray, axis: int) -> np.ndarray:
    shifted = a - np.max(a, axis=axis, keepdims=True) if a.size else a
    e = np.exp(shifted)
    return e / np.sum(e, axis=axis, keepdims=True)


@pytest.mark.parametrize("method", ["softmax", "log_softmax"])
def test_softmax(method: str, device: str) -> None:
    @examples(device)
    @given(data=st.data(), shape=shapes(max_dims=3), dtype=st.sampled_from(FLOATS))
    def run(data: Any, shape: tuple[int, ...], dtype: str) -> None:
        a = data.draw(arrays(dtype, shape))
        dim = (
            data.draw(st.integers(-a.ndim, a.ndim - 1))
            if a.ndim
            else data.draw(st.sampled_from([0, -1]))
        )
        axis = dim % a.ndim if a.ndim else None
        with np.errstate(all="ignore"):
            expected = _softmax(a.astype(np.float64), axis) if a.ndim else np.ones(())
            if method == "log_softmax":
                expected = np.log(expected)
        t = lg.tensor(a, device=device)
        check(getattr(t, method)(dim), expected.astype(a.dtype), **_tol(dtype))
        check(getattr(lg, method)(t, dim), expected.astype(a.dtype), **_tol(dtype))

    run()


def test_softmax_dtype_and_extremes(device: str) -> None:
    t = lg.tensor([[1, 5], [7, 2]], device=device)
    expected = _softmax(np.array([[1.0, 5.0], [7.0, 2.0]]), 1)
    check(t.softmax(1, dtype=lg.float64), expected)
    check(t.log_softmax(1, dtype=lg.float32), np.log(expected).astype(np.float32))
    big = lg.tensor(np.array([[1000.0, 1000.0], [-np.inf, 0.0]], np.float32), device=device)
    check(big.softmax(1), np.array([[0.5, 0.5], [0.0, 1.0]], np.float32))
    check(big.log_softmax(1), np.array([[-np.log(2.0), -np.log(2.0)], [-np.inf, 0.0]], np.float32))


matmul_shapes = st.sampled_from(
    [
        ((3,), (3,)),
        ((2, 3), (3,)),
        ((3,), (3, 4)),
        ((2, 3), (3, 4)),
        ((5, 2, 3), (3, 4)),
        ((5, 2, 3), (5, 3, 4)),
        ((2, 1, 2, 3), (4, 3, 2)),
        ((3,), (2, 3, 4)),
        ((2, 2, 3), (3,)),
        ((0, 3), (3, 2)),
        ((2, 0), (0, 2)),
        ((1, 1), (1, 1)),
        ((4, 1, 3), (1, 3, 0)),
    ]
)


@parity(
    data=st.data(),
    pair=matmul_shapes,
    dtype=st.sampled_from(("int32", "int64", "float32", "float64")),
)
def test_matmul(data: Any, pair: Any, dtype: str, device: str) -> None:
    sa, sb = pair
    a = data.draw(arrays(dtype, sa, -4, 4))
    b = data.draw(arrays(dtype, sb, -4, 4))
    expected = np.matmul(a.astype(np.float64), b.astype(np.float64)).astype(a.dtype)
    ta, tb = lg.tensor(a, device=device), lg.tensor(b, device=device)
    tol = {"rtol": 1e-5, "atol": 1e-4} if dtype == "float32" else {}
    check(ta @ tb, expected, **tol)
    check(lg.matmul(ta, tb), expected, **tol)
    check(ta.matmul(tb), expected, **tol)
    if len(sa) == len(sb) == 2:
        check(ta.mm(tb), expected, **tol)


def test_matmul_large_floats(device: str) -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((64, 96)).astype(np.float32)
    b = rng.standard_normal((96, 32)).astype(np.float32)
    check(lg.tensor(a, device=device) @ lg.tensor(b, device=device), a @ b, rtol=1e-4, atol=1e-4)


def test_matmul_of_views_and_expressions(device: str) -> None:
    a = np.arange(12.0, dtype=np.float32).reshape(3, 4)
    t = lg.tensor(a, device=device)
    check(t @ t.T, a @ a.T)
    check(t.t() @ (t * 2 + 1), a.T @ (a * 2 + 1))
    check((t @ t.T).sum(1).relu(), np.maximum((a @ a.T).sum(1), 0))
    check(t[1:, ::2] @ t[:2, 1::2], a[1:, ::2] @ a[:2, 1::2])


def test_empty_inputs_skip_dtype_errors(device: str) -> None:
    # PyTorch never dispatches a kernel for empty inputs, so these do not raise there either
    empty_ints = lg.zeros(1, 0, dtype=lg.int32, device=device)
    check(empty_ints.softmax(1), np.zeros((1, 0), np.int32))
    flags = lg.zeros(0, 1, dtype=lg.bool, device=device)
    check(flags @ lg.zeros(1, 2, dtype=lg.bool, device=device), np.zeros((0, 2), bool))
    check(
        lg.zeros(2, 0, dtype=lg.int64, device=device)
        // lg.zeros(1, 1, dtype=lg.int64, device=device),
        np.zeros((2, 0), np.int64),
    )


def test_division_by_a_row_value_at_the_float_range_ends(device: str) -> None:
    # Dividing by a row's value must give exactly what dividing each element gives, also for
    # divisors whose reciprocal is not a normal number (denormal or huge, 0, inf).
    tiny = np.float32(1e-41)  # denormal, and so is the row's sum: its reciprocal overflows
    rows = np.array(
        [
            [1.0, 2.0, 3.0, 4.0] * 8,
            [tiny, 2 * tiny, 0.0, tiny] * 8,
            [3e37, 1e37, 2e37, 1e37] * 8,  # sum 2.2e39 overflows to inf in float32
            [3e37, 3e37, 3e37] + [0.0] * 29,  # sum 9e37: its reciprocal is denormal
            [0.0] * 32,  # 0 / 0
        ],
        np.float32,
    )
    x = lg.tensor(rows, device=device)
    with np.errstate(all="ignore"):
        total = rows.sum(1, keepdims=True, dtype=np.float32)
        expected = rows / total
    got = (x / x.sum(1, keepdim=True)).numpy()
    np.testing.assert_allclose(got, expected, rtol=3e-7, atol=0, equal_nan=True)
    softmax = (x - x.max(1, keepdim=True).values).exp()
    check(softmax / softmax.sum(1, keepdim=True), np.asarray(lg.softmax(x, 1).numpy()))
    ones = np.random.default_rng(5).uniform(1, 2, (300, 16)).astype(np.float32)
    scaled = lg.tensor(ones, device=device)  # the max of each row divides to exactly 1
    got = (scaled / scaled.max(1, keepdim=True).values).numpy()
    assert np.array_equal(got, ones / ones.max(1, keepdims=True))


def test_var_without_degrees_of_freedom_matches_pytorch(device: str) -> None:
    # PyTorch sums the squares in double: values that differ give x / 0 = inf even when
    # their float32 squares underflow to 0; equal values give 0 / 0 = nan
    rows = np.array([[2.4e-44, 0.0], [1.0, 1.0], [1.0, 2.0], [np.nan, 1.0]], np.float32)
    got = lg.tensor(rows, device=device).var(1, correction=2)
    check(got, np.array([np.inf, np.nan, np.inf, np.nan], np.float32))
    doubles = lg.tensor([[8.5e-272, 0.0]], dtype=lg.float64, device=device)
    check(doubles.var(1, correction=2), np.array([np.nan]))  # double squares underflow too
