"""Parity of elementwise ops with NumPy under PyTorch's type promotion and broadcasting.

Random shapes (0-d and size-0 included), broadcasting pairs and all five dtypes are drawn by
hypothesis; the expected dtype comes from `conftest.result_type` (PyTorch's rules, written
independently of lazygrad) and the values from NumPy computing in that dtype.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from conftest import (
    CATEGORY,
    DTYPE_NAMES,
    arrays,
    check,
    examples,
    np_dtype,
    parity,
    result_type,
    shapes,
)
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import lazygrad as lg

ERRSTATE = {"all": "ignore"}

broadcast_pairs = hnp.mutually_broadcastable_shapes(
    num_shapes=2, min_dims=0, max_dims=4, min_side=0, max_side=4
)


def _float_result(name: str) -> str:
    return name if CATEGORY[name] == 2 else "float32"


# name -> (lazygrad/Python operator, NumPy function, dtypes it supports, result-type rule)
# The rule maps the promoted dtype to the result dtype ("same", "bool" or "float").
BINARY: dict[str, tuple[Callable, Callable, tuple[str, ...], str]] = {
    "add": (operator.add, np.add, DTYPE_NAMES, "same"),
    "sub": (operator.sub, np.subtract, ("int32", "int64", "float32", "float64"), "same"),
    "mul": (operator.mul, np.multiply, DTYPE_NAMES, "same"),
    "truediv": (operator.truediv, np.true_divide, DTYPE_NAMES, "float"),
    "floordiv": (
        operator.floordiv,
        np.floor_divide,
        ("int32", "int64", "float32", "float64"),
        "same",
    ),
    "mod": (operator.mod, np.remainder, ("int32", "int64", "float32", "float64"), "same"),
    "pow": (operator.pow, np.power, ("int32", "int64", "float32", "float64"), "same"),
    "maximum": (lg.maximum, np.maximum, DTYPE_NAMES, "same"),
    "minimum": (lg.minimum, np.minimum, DTYPE_NAMES, "same"),
    "lt": (operator.lt, np.less, DTYPE_NAMES, "bool"),
    "le": (operator.le, np.less_equal, DTYPE_NAMES, "bool"),
    "gt": (operator.gt, np.greater, DTYPE_NAMES, "bool"),
    "ge": (operator.ge, np.greater_equal, DTYPE_NAMES, "bool"),
    "eq": (operator.eq, np.equal, DTYPE_NAMES, "bool"),
    "ne": (operator.ne, np.not_equal, DTYPE_NAMES, "bool"),
    "and": (operator.and_, np.bitwise_and, ("bool", "int32", "int64"), "same"),
    "or": (operator.or_, np.bitwise_or, ("bool", "int32", "int64"), "same"),
    "xor": (operator.xor, np.bitwise_xor, ("bool", "int32", "int64"), "same"),
}


def _result(rule: str, promoted: str) -> str:
    return {"same": promoted, "bool": "bool", "float": _float_result(promoted)}[rule]


def _safe_operands(name: str, a: Any, b: Any, compute: str) -> tuple[Any, Any]:
    """Keep operands inside what PyTorch defines: no integer division by zero, no negative
    or overflowing integer powers."""
    integral = CATEGORY[compute] < 2
    if name in ("floordiv", "mod") and integral:
        b = (
            np.where(np.asarray(b) == 0, 1, b).astype(np.asarray(b).dtype)
            if isinstance(b, np.ndarray)
            else (b or 1)
        )
    if name == "pow" and integral:
        if isinstance(b, np.ndarray):
            b = np.clip(np.abs(b), 0, 4).astype(b.dtype)
        else:
            b = min(abs(b), 4)
        if isinstance(a, np.ndarray):
            a = np.clip(a, -6, 6).astype(a.dtype)
    return a, b


def _numpy_binary(fn: Callable, a: Any, b: Any, compute: str, result: str) -> np.ndarray:
    with np.errstate(**ERRSTATE):
        out = fn(np.asarray(a, dtype=np_dtype(compute)), np.asarray(b, dtype=np_dtype(compute)))
    return np.asarray(out).astype(np_dtype(result))


def _tensor(arr: np.ndarray, device: str) -> lg.Tensor:
    return lg.tensor(arr, device=device)


@st.composite
def binary_case(draw: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    supported = BINARY[name][2]
    (shape_a, shape_b), _ = draw(broadcast_pairs)
    da, db = draw(st.sampled_from(supported)), draw(st.sampled_from(supported))
    a, b = draw(arrays(da, shape_a)), draw(arrays(db, shape_b))
    return a, b


@pytest.mark.parametrize("name", list(BINARY))
def test_binary_tensor_tensor(name: str, device: str) -> None:
    op, fn, supported, rule = BINARY[name]

    @examples(device)
    @given(case=binary_case(name))
    def run(case: tuple[np.ndarray, np.ndarray]) -> None:
        a, b = case
        compute = result_type(a, b)
        assume(compute in supported)  # e.g. int32 & bool promote to int32: fine; float & -> no
        a, b = _safe_operands(name, a, b, compute)
        expected = _numpy_binary(fn, a, b, compute, _result(rule, compute))
        check(op(_tensor(a, device), _tensor(b, device)), expected)

    run()


scalars = st.one_of(st.booleans(), st.integers(-5, 5), st.floats(-4, 4, allow_nan=False))


@pytest.mark.parametrize("name", list(BINARY))
def test_binary_tensor_scalar_both_ways(name: str, device: str) -> None:
    op, fn, supported, rule = BINARY[name]

    @examples(device)
    @given(shape=shapes(), dtype=st.sampled_from(supported), scalar=scalars, data=st.data())
    def run(shape: tuple[int, ...], dtype: str, scalar: Any, data: Any) -> None:
        a = data.draw(arrays(dtype, shape))
        compute = result_type(a, scalar)
        assume(compute in supported)
        assume(not (name == "sub" and isinstance(scalar, bool)))  # an error, see test_errors
        if name in ("maximum", "minimum"):  # PyTorch takes tensors only
            with pytest.raises(TypeError, match=f"{name}\\(\\): argument 'other'"):
                op(_tensor(a, device), scalar)
            return
        for reflected in (False, True):
            left, right = (scalar, a) if reflected else (a, scalar)
            left, right = _safe_operands(name, left, right, compute)
            expected = _numpy_binary(fn, left, right, compute, _result(rule, compute))
            if reflected:
                got = op(left, _tensor(right, device))
            else:
                got = op(_tensor(left, device), right)
            check(got, expected)

    run()


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


# name -> (lazygrad function, NumPy reference, dtypes, result rule)
UNARY: dict[str, tuple[Callable, Callable, tuple[str, ...], str]] = {
    "neg": (operator.neg, np.negative, ("int32", "int64", "float32", "float64"), "same"),
    "abs": (abs, np.abs, ("int32", "int64", "float32", "float64"), "same"),
    "exp": (lg.exp, np.exp, DTYPE_NAMES, "float"),
    "log": (lg.log, np.log, DTYPE_NAMES, "float"),
    "log2": (lg.log2, np.log2, DTYPE_NAMES, "float"),
    "sqrt": (lg.sqrt, np.sqrt, DTYPE_NAMES, "float"),
    "rsqrt": (lg.rsqrt, lambda x: 1 / np.sqrt(x), DTYPE_NAMES, "float"),
    "sin": (lg.sin, np.sin, DTYPE_NAMES, "float"),
    "cos": (lg.cos, np.cos, DTYPE_NAMES, "float"),
    "tanh": (lg.tanh, np.tanh, DTYPE_NAMES, "float"),
    "sigmoid": (lg.sigmoid, _sigmoid, DTYPE_NAMES, "float"),
    "reciprocal": (lg.reciprocal, np.reciprocal, DTYPE_NAMES, "float"),
    "relu": (lg.relu, lambda x: np.maximum(x, 0), ("int32", "int64", "float32", "float64"), "same"),
    "sign": (lg.sign, lambda x: x if x.dtype == np.bool_ else np.sign(x), DTYPE_NAMES, "same"),
    "invert": (operator.invert, np.invert, ("bool", "int32", "int64"), "same"),
}


@pytest.mark.parametrize("name", list(UNARY))
def test_unary(name: str, device: str) -> None:
    op, fn, supported, rule = UNARY[name]

    @examples(device)
    @given(shape=shapes(), dtype=st.sampled_from(supported), data=st.data())
    def run(shape: tuple[int, ...], dtype: str, data: Any) -> None:
        a = data.draw(arrays(dtype, shape))
        result = _result(rule, dtype)
        with np.errstate(**ERRSTATE):
            expected = np.asarray(fn(a.astype(np_dtype(result)))).astype(np_dtype(result))
        check(op(_tensor(a, device)), expected, rtol=2e-5 if result == "float32" else None)

    run()


@pytest.mark.parametrize(
    "method",
    [
        "exp",
        "log",
        "sqrt",
        "abs",
        "neg",
        "sigmoid",
        "tanh",
        "relu",
        "sign",
        "reciprocal",
        "rsqrt",
        "log2",
        "sin",
        "cos",
    ],
)
def test_unary_methods_match_functions(method: str, device: str) -> None:
    x = _tensor(np.array([0.5, 1.5, 2.0, 3.25], np.float32), device)
    via_function = getattr(lg, method, getattr(lg.Tensor, method))(x).numpy()
    check(getattr(x, method)(), via_function)


@parity(
    data=st.data(),
    shape=shapes(),
    dtype=st.sampled_from(("int32", "int64", "float32", "float64")),
    low=st.one_of(st.none(), st.integers(-5, 5), st.floats(-5, 5, allow_nan=False)),
    high=st.one_of(st.none(), st.integers(-5, 5), st.floats(-5, 5, allow_nan=False)),
)
def test_clamp_scalars(
    data: Any, shape: tuple[int, ...], dtype: str, low: Any, high: Any, device: str
) -> None:
    assume(low is not None or high is not None)
    a = data.draw(arrays(dtype, shape))
    result = result_type(a, *(v for v in (low, high) if v is not None))
    expected = a.astype(np_dtype(result))
    if low is not None:
        expected = np.maximum(expected, np.asarray(low, np_dtype(result)))
    if high is not None:
        expected = np.minimum(expected, np.asarray(high, np_dtype(result)))
    check(_tensor(a, device).clamp(low, high), expected)
    check(lg.clamp(_tensor(a, device), min=low, max=high), expected)


def test_clamp_with_tensor_bounds(device: str) -> None:
    x = _tensor(np.array([-3.0, 0.5, 4.0], np.float32), device)
    lo = _tensor(np.array([-1.0, 1.0, 0.0], np.float32), device)
    hi = _tensor(np.array([2.0, 2.0, 2.0], np.float32), device)
    check(x.clamp(lo, hi), np.array([-1.0, 1.0, 2.0], np.float32))
    check(x.clamp(min=2.0, max=1.0), np.array([1.0, 1.0, 1.0], np.float32))  # max wins
    check(x.clip(0, 1), np.array([0.0, 0.5, 1.0], np.float32))


@parity(
    data=st.data(),
    shapes3=hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=3, min_side=0, max_side=3),
    dx=st.sampled_from(DTYPE_NAMES),
    dy=st.sampled_from(DTYPE_NAMES),
)
def test_where(data: Any, shapes3: Any, dx: str, dy: str, device: str) -> None:
    (sc, sx, sy), _ = shapes3
    cond = data.draw(arrays("bool", sc))
    x, y = data.draw(arrays(dx, sx)), data.draw(arrays(dy, sy))
    result = result_type(x, y)
    expected = np.where(cond, x.astype(np_dtype(result)), y.astype(np_dtype(result)))
    check(lg.where(_tensor(cond, device), _tensor(x, device), _tensor(y, device)), expected)
    check(_tensor(x, device).where(_tensor(cond, device), _tensor(y, device)), expected)


@pytest.mark.parametrize(
    "x_scalar, y_scalar, dtype",
    [
        (1, 0, "int64"),
        (1.5, 0, "float32"),
        (True, False, "bool"),
        (2, 2.5, "float32"),
    ],
)
def test_where_scalars(x_scalar: Any, y_scalar: Any, dtype: str, device: str) -> None:
    cond = np.array([True, False, True])
    expected = np.where(cond, x_scalar, y_scalar).astype(np_dtype(dtype))
    check(lg.where(_tensor(cond, device), x_scalar, y_scalar), expected, dtype)


def test_where_takes_the_chosen_bits_only(device: str) -> None:
    cond = _tensor(np.array([True, False, True, False]), device)
    x = _tensor(np.array([-0.0, np.nan, np.inf, 1.0], np.float32), device)
    y = _tensor(np.array([np.nan, -0.0, 2.0, -np.inf], np.float32), device)
    got = lg.where(cond, x, y).numpy()
    assert np.array_equal(got, [-0.0, -0.0, np.inf, -np.inf], equal_nan=False)
    assert np.signbit(got[:2]).all()  # -0.0 stays -0.0 from either side
    masked = lg.where(cond, y, 0.0).numpy()  # a NaN not chosen never leaks into the result
    assert np.isnan(masked[0]) and masked[1] == 0 and not np.signbit(masked[1])


def test_where_tensor_and_scalar_keeps_tensor_dtype(device: str) -> None:
    cond = _tensor(np.array([True, False]), device)
    ints = _tensor(np.array([1, 2], np.int32), device)
    check(lg.where(cond, ints, 7), np.array([1, 7], np.int32))
    check(lg.where(cond, ints, 7.5), np.array([1.0, 7.5], np.float32))


@pytest.mark.parametrize(
    "expr, expected_dtype",
    [
        # PyTorch 2.13's result dtypes (SPEC.md's promotion cases and their neighbours)
        (lambda t: t(np.array([1, 2])) / t(np.array([2, 4])), "float32"),  # int / int
        (lambda t: t(np.array([1, 2])) + 1.5, "float32"),  # int tensor + float scalar
        (lambda t: t(np.array([1, 2], np.int32)) + t(np.array(5)), "int32"),  # 0-d loses
        (lambda t: t(np.array([1, 2])) + t(np.array(1.5)), "float64"),  # 0-d of a higher category
        (lambda t: t(np.array([True])) + t(np.array(2, np.int32)), "int32"),
        (lambda t: t(np.array([1.0], np.float32)) + t(np.array(2.0)), "float32"),
        (lambda t: t(np.array([1, 2], np.int32)) + t(np.array([5])), "int64"),
        (lambda t: t(np.array([1.0], np.float32)) + t(np.array([2.0])), "float64"),
        (lambda t: t(np.array(1, np.int32)) + 2.5, "float32"),
        (lambda t: t(np.array(1, np.int32)) + t(np.array(2.5)) + 1, "float64"),
        (lambda t: t(np.array([True])) + t(np.array([True])), "bool"),
        (lambda t: t(np.array([True])) * 2.5, "float32"),
        (lambda t: t(np.array([1], np.int32)) * 2, "int32"),
        (lambda t: t(np.array([1], np.int32)) < 2.5, "bool"),
    ],
)
def test_promotion_table(expr: Callable, expected_dtype: str, device: str) -> None:
    got = expr(lambda a: _tensor(a, device))
    assert got.dtype.name == expected_dtype
    assert got.numpy().dtype == np_dtype(expected_dtype)


@pytest.mark.parametrize(
    "expr, expected, dtype",
    [
        (lambda t: t + 1.5, [2.5, 3.5], "float32"),  # int + float scalar -> float32
        (lambda t: t * 2, [2, 4], "int64"),
        (lambda t: t / 2, [0.5, 1.0], "float32"),
        (lambda t: 2 - t, [1, 0], "int64"),
        (lambda t: 1 / t, [1.0, 0.5], "float32"),
        (lambda t: 2**t, [2, 4], "int64"),
        (lambda t: 2.0**t, [2.0, 4.0], "float32"),
        (lambda t: 7 // t, [7, 3], "int64"),
        (lambda t: 7 % t, [0, 1], "int64"),
        (lambda t: -t, [-1, -2], "int64"),
        (lambda t: +t, [1, 2], "int64"),
        (lambda t: t == 2, [False, True], "bool"),
        (lambda t: 2 > t, [True, False], "bool"),
        (lambda t: t & 3, [1, 2], "int64"),
        (lambda t: 3 | t, [3, 3], "int64"),
        (lambda t: t ^ True, [0, 3], "int64"),
    ],
)
def test_reflected_and_scalar_operators(
    expr: Callable, expected: list, dtype: str, device: str
) -> None:
    t = _tensor(np.array([1, 2]), device)
    check(expr(t), np.array(expected, np_dtype(dtype)))


@pytest.mark.parametrize(
    "expr, expected",
    [
        (lambda t, u: t + u, [True, True, False]),  # bool + bool: logical or, stays bool
        (lambda t, u: t * u, [True, False, False]),  # bool * bool: logical and
        (lambda t, u: t & u, [True, False, False]),
        (lambda t, u: t | u, [True, True, False]),
        (lambda t, u: t ^ u, [False, True, False]),
        (lambda t, u: ~t, [False, False, True]),
        (lambda t, u: t + True, [True, True, True]),
        (lambda t, u: t * False, [False, False, False]),
    ],
)
def test_bool_arithmetic(expr: Callable, expected: list, device: str) -> None:
    t = _tensor(np.array([True, True, False]), device)
    u = _tensor(np.array([True, False, False]), device)
    check(expr(t, u), np.array(expected))


def test_bool_with_numbers_promotes(device: str) -> None:
    t = _tensor(np.array([True, False]), device)
    check(t + 1, np.array([2, 1]))
    check(t * 2.5, np.array([2.5, 0.0], np.float32))
    check(t / 2, np.array([0.5, 0.0], np.float32))
    check(t.sum(), np.array(1))


def test_pow_variants(device: str) -> None:
    t = _tensor(np.array([1.0, 2.0, 3.0], np.float32), device)
    check(t.pow(2), np.array([1.0, 4.0, 9.0], np.float32))
    check(lg.pow(t, 0.5), np.sqrt(np.array([1.0, 2.0, 3.0], np.float32)))
    check(lg.pow(2, t), np.array([2.0, 4.0, 8.0], np.float32))
    check(t**t, np.array([1.0, 4.0, 27.0], np.float32))
    ints = _tensor(np.array([2, 3]), device)
    check(ints**2, np.array([4, 9]))
    check(ints**0.5, np.sqrt(np.array([2, 3], np.float32)))
    check(ints**-1.0, np.array([0.5, 1 / 3], np.float32))


def test_integer_pow_with_negative_tensor_exponent(device: str) -> None:
    base = _tensor(np.array([2, 1, -1, 3]), device)
    exponent = _tensor(np.array([-1, -2, -3, 1]), device)
    check(base**exponent, np.array([0, 1, -1, 3]))


def test_division_and_remainder_signs(device: str) -> None:
    a = np.array([-7, 7, -7, 7])
    b = np.array([2, -2, -2, 2])
    ta, tb = _tensor(a, device), _tensor(b, device)
    check(ta // tb, np.floor_divide(a, b))
    check(ta % tb, np.remainder(a, b))
    check(ta / tb, (a / b).astype(np.float32))
    check(ta.div(tb, rounding_mode="floor"), np.floor_divide(a, b))
    check(ta.div(tb, rounding_mode="trunc"), np.trunc(a / b).astype(np.int64))
    fa, fb = a.astype(np.float32), b.astype(np.float32)
    check(_tensor(fa, device) // _tensor(fb, device), np.floor_divide(fa, fb))
    check(_tensor(fa, device) % _tensor(fb, device), np.remainder(fa, fb))
    with np.errstate(**ERRSTATE):
        check(_tensor(fa, device) / 0, fa / np.float32(0))
        check(_tensor(fa, device) // 0.0, np.floor_divide(fa, np.float32(0)))
        check(_tensor(fa, device) % 0.0, np.remainder(fa, np.float32(0)))


def test_methods_with_alpha(device: str) -> None:
    a = _tensor(np.array([1.0, 2.0], np.float32), device)
    b = _tensor(np.array([10.0, 20.0], np.float32), device)
    check(a.add(b, alpha=2), np.array([21.0, 42.0], np.float32))
    check(a.sub(b, alpha=0.5), np.array([-4.0, -8.0], np.float32))
    check(a.add(1), np.array([2.0, 3.0], np.float32))
    ints = _tensor(np.array([1, 2]), device)
    check(ints.add(ints, alpha=3), np.array([4, 8]))
    check(a.true_divide(2), np.array([0.5, 1.0], np.float32))
    check(ints.floor_divide(2), np.array([0, 1]))
    check(ints.remainder(2), np.array([1, 0]))


def test_comparison_methods(device: str) -> None:
    a = _tensor(np.array([1, 2, 3]), device)
    for method, fn in (
        ("eq", np.equal),
        ("ne", np.not_equal),
        ("lt", np.less),
        ("le", np.less_equal),
        ("gt", np.greater),
        ("ge", np.greater_equal),
    ):
        check(getattr(a, method)(2), fn(np.array([1, 2, 3]), 2))
    assert (a == [1, 2, 3]) is False  # like torch: a list is not a tensor operand


def test_nan_handling(device: str) -> None:
    x = np.array([np.nan, 1.0, -np.inf, np.inf, 0.0], np.float32)
    t = _tensor(x, device)
    y = _tensor(np.array([0.0, np.nan, 1.0, 1.0, -0.0], np.float32), device)
    check(lg.maximum(t, y), np.maximum(x, np.array([0.0, np.nan, 1.0, 1.0, -0.0], np.float32)))
    check(lg.minimum(t, y), np.minimum(x, np.array([0.0, np.nan, 1.0, 1.0, -0.0], np.float32)))
    check(t == t, x == x)
    check(t != t, x != x)
    check(t.relu(), np.array([np.nan, 1.0, 0.0, np.inf, 0.0], np.float32))
    check(t.clamp(-1, 1), np.array([np.nan, 1.0, -1.0, 1.0, 0.0], np.float32))
    with np.errstate(**ERRSTATE):
        check(t.exp(), np.exp(x))
        check(t.sigmoid(), _sigmoid(x))


def test_numpy_scalars_are_python_scalars(device: str) -> None:
    t = _tensor(np.array([1, 2]), device)
    check(t + np.int64(1), np.array([2, 3]))
    check(t * np.float64(0.5), np.array([0.5, 1.0], np.float32))
    check(t + np.float32(0.5), np.array([1.5, 2.5], np.float32))


def test_integer_power_with_a_cast_exponent(device: str) -> None:
    # the exponent is cast in the same kernel: the power must not write over it before use
    base = _tensor(np.array([-2, 3, -1, 2]), device)
    exponent = _tensor(np.array([1, 2, 3, -1], np.int32), device)
    check(base**exponent, np.array([-2, 9, -1, 0]))
