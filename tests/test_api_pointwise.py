"""The pointwise API of `lazygrad.frontend.pointwise`: values against NumPy (and Python's
math.erf) on both devices, gradients against float64 central differences and PyTorch's
rules at the edges, PyTorch's errors, grad-mode and default-device switches, and the
Tensor methods (in-place forms with view semantics included)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from conftest import check

import lazygrad as lg

FD = {"rtol": 1e-6, "atol": 1e-8}  # what float64 central differences with h = 1e-6 resolve


def finite_differences(fn: Callable[..., lg.Tensor], arrays: list[np.ndarray], device: str):
    """Central differences of sum(fn(*xs)) in float64, one array per argument."""

    def value(vs: list[np.ndarray]) -> float:
        return float(fn(*(lg.tensor(v, device=device) for v in vs)).sum().item())

    grads = []
    for k, a in enumerate(arrays):
        out = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            plus = [v.copy() for v in arrays]
            minus = [v.copy() for v in arrays]
            plus[k][idx] += 1e-6
            minus[k][idx] -= 1e-6
            out[idx] = (value(plus) - value(minus)) / 2e-6
        grads.append(out)
    return grads


def grads_of(fn: Callable[..., lg.Tensor], arrays: list[np.ndarray], device: str):
    """The .grad of each argument after fn(*xs).sum().backward()."""
    xs = [lg.tensor(a, device=device, requires_grad=True) for a in arrays]
    fn(*xs).sum().backward()
    return [x.grad for x in xs]


def erf_reference(a: np.ndarray) -> np.ndarray:
    return np.vectorize(math.erf)(a.astype(np.float64)).astype(a.dtype)


INSIDE = np.array([-0.95, -0.5, -1e-3, 0.0, 2e-8, 0.3, 0.9])  # within [-1, 1]
WIDE = np.array([-30.0, -3.5, -1.0, -1e-7, 0.0, 1e-9, 0.7, 2.0, 9.0])

UNARY = [  # name, NumPy reference, inputs
    ("acos", np.arccos, INSIDE),
    ("asin", np.arcsin, INSIDE),
    ("atan", np.arctan, WIDE),
    ("sinh", np.sinh, WIDE),
    ("cosh", np.cosh, WIDE),
    ("tan", np.tan, np.array([-1.5, -0.3, 0.0, 1e-6, 1.0, 1.57, 4.0])),
    ("erf", erf_reference, WIDE),
    ("expm1", np.expm1, WIDE),
    ("log1p", np.log1p, np.array([-1.0, -0.5, -1e-9, 0.0, 1e-12, 3.0, 1e6])),
    ("log10", np.log10, np.array([0.0, 1e-30, 0.5, 1.0, 10.0, 1234.5])),
    ("ceil", np.ceil, np.array([-2.5, -1.0, -0.2, 0.0, 0.2, 1.0, 2.5, 1e20])),
    ("trunc", np.trunc, np.array([-2.5, -1.0, -0.7, 0.0, 0.7, 1.0, 2.5, -1e20])),
    ("round", np.round, np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.49999997, -3.7, 1e20])),
    ("square", np.square, WIDE),
]


@pytest.mark.parametrize("name,reference,values", UNARY, ids=[u[0] for u in UNARY])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_unary_values_match_numpy(device: str, name: str, reference, values, dtype: str) -> None:
    a = values.astype(dtype)
    with np.errstate(all="ignore"):
        expected = reference(a)
    for out in (getattr(lg, name)(lg.tensor(a, device=device)), getattr(lg.tensor(a), name)()):
        check(out.to("cpu"), expected)


@pytest.mark.parametrize("name", ["acos", "asin", "atan", "sinh", "cosh", "tan", "erf"])
def test_float_functions_of_integers_and_bools_give_float32(device: str, name: str) -> None:
    ints = lg.tensor([0, 1, -1], device=device)
    check(getattr(lg, name)(ints), getattr(lg, name)(ints.float()).numpy())
    bools = lg.tensor([True, False], device=device)
    assert getattr(lg, name)(bools).dtype == lg.float32


def test_outside_the_domain_is_nan_and_poles_are_infinite(device: str) -> None:
    x = lg.tensor([-1.5, 1.0, 2.0], dtype=lg.float64, device=device)
    check(lg.acos(x), np.array([math.nan, 0.0, math.nan]))
    check(lg.asin(x), np.array([math.nan, math.pi / 2, math.nan]))
    check(lg.log1p(lg.tensor([-1.0, -2.0], device=device)), np.array([-np.inf, np.nan], "f4"))
    check(
        lg.erf(lg.tensor([np.inf, -np.inf, np.nan], device=device)), np.array([1, -1, np.nan], "f4")
    )


def test_log1p_and_expm1_keep_full_precision_near_zero(device: str) -> None:
    tiny = np.array([1e-10, -3e-9, 1e-30], np.float32)
    check(lg.log1p(lg.tensor(tiny, device=device)), np.log1p(tiny), rtol=1e-6, atol=0)
    check(lg.expm1(lg.tensor(tiny, device=device)), np.expm1(tiny), rtol=1e-6, atol=0)


def test_erf_of_a_large_tensor_matches_math_erf(device: str) -> None:
    a = np.linspace(-6, 6, 200_003).astype(np.float64)
    out = lg.erf(lg.tensor(a, device=device) * 1.0 + 0.0)  # inside a fused, chunked kernel
    check(out, erf_reference(a))


def test_rounding_keeps_integer_tensors_as_copies(device: str) -> None:
    x = lg.tensor([-3, 0, 7], device=device)
    for name in ("ceil", "trunc", "round"):
        out = getattr(lg, name)(x)
        assert out is not x
        check(out, np.array([-3, 0, 7]))


def test_round_decimals_rounds_the_scaled_value_half_to_even(device: str) -> None:
    a = np.array([1.2345, -2.675, 0.125, 1234.5, 0.5], np.float64)
    x = lg.tensor(a, device=device)
    check(lg.round(x, decimals=2), np.rint(a * 100) / 100)
    check(x.round(decimals=-2), np.rint(a / 100) * 100)
    with pytest.raises(NotImplementedError, match="round_cpu"):
        lg.round(lg.tensor([1, 2]), decimals=1)


# ---- gradients -------------------------------------------------------------------------------
SMOOTH = [  # name, arguments (float64), function
    ("acos", [INSIDE], lg.acos),
    ("asin", [INSIDE], lg.asin),
    ("atan", [WIDE[1:-1]], lg.atan),
    ("sinh", [WIDE[1:-1]], lg.sinh),
    ("cosh", [WIDE[1:-1]], lg.cosh),
    ("tan", [np.array([-1.2, -0.3, 0.0, 0.8, 4.0])], lg.tan),
    ("erf", [WIDE], lg.erf),
    ("expm1", [WIDE[1:-1]], lg.expm1),
    ("log1p", [np.array([-0.9, -1e-3, 0.0, 2.0, 50.0])], lg.log1p),
    ("log10", [np.array([1e-3, 0.5, 1.0, 7.0])], lg.log10),
    ("square", [WIDE[1:-1]], lg.square),
    ("atan2", [np.array([-2.0, 0.5, 3.0, -0.1]), np.array([1.0, -2.0, 0.5, -0.3])], lg.atan2),
    ("fmod", [np.array([-7.5, 5.3, 2.2, -0.4]), np.array([2.0, -1.5, 0.7, 0.3])], lg.fmod),
    (
        "lerp",
        [np.array([-1.0, 0.5, 2.0]), np.array([3.0, 0.1, -4.0]), np.array([0.2, 0.7, -1.5])],
        lg.lerp,
    ),
    (
        "lerp_scalar",
        [np.array([-1.0, 0.5]), np.array([3.0, 0.1])],
        lambda a, b: lg.lerp(a, b, 0.75),
    ),
]


@pytest.mark.parametrize("name,arrays,fn", SMOOTH, ids=[s[0] for s in SMOOTH])
def test_gradients_match_float64_finite_differences(device: str, name: str, arrays, fn) -> None:
    expected = finite_differences(fn, arrays, device)
    for got, want in zip(grads_of(fn, arrays, device), expected, strict=True):
        check(got, want, **FD)


@pytest.mark.parametrize("name", ["round", "trunc", "ceil"])
def test_rounding_has_a_zero_gradient_and_pytorch_grad_fn(device: str, name: str) -> None:
    (g,) = grads_of(getattr(lg, name), [np.array([-1.5, -0.5, 0.5, 2.0, 2.7])], device)
    check(g, np.zeros(5))
    x = lg.tensor([0.3], requires_grad=True)
    assert getattr(lg, name)(x).grad_fn.name() == f"{name.capitalize()}Backward0"
    assert lg.round(x, decimals=1).grad_fn.name() == "RoundBackward1"


def test_gradients_at_the_edges_follow_pytorch(device: str) -> None:
    edge = np.array([-1.0, 1.0])
    (g,) = grads_of(lg.asin, [edge], device)
    check(g, np.array([np.inf, np.inf]))  # 1 / sqrt(1 - x²)
    (g,) = grads_of(lg.acos, [edge], device)
    check(g, np.array([-np.inf, -np.inf]))
    (g,) = grads_of(lg.log1p, [np.array([-1.0])], device)
    check(g, np.array([np.inf]))
    gy, gx = grads_of(lg.atan2, [np.array([0.0]), np.array([0.0])], device)
    check(gy, np.array([np.nan]))  # g * x / (x² + y²): 0 * inf, as in PyTorch
    check(gx, np.array([np.nan]))


def test_grad_fn_names_are_pytorch_names() -> None:
    x = lg.tensor([0.5, 0.25], requires_grad=True)
    y = lg.tensor([0.1, 0.2], requires_grad=True)
    names = {
        "AcosBackward0": lg.acos(x),
        "AtanBackward0": lg.atan(x),
        "TanBackward0": lg.tan(x),
        "ErfBackward0": lg.erf(x),
        "Log1PBackward0": lg.log1p(x),
        "Log10Backward0": lg.log10(x),
        "PowBackward0": lg.square(x),
        "Atan2Backward0": lg.atan2(x, y),
        "FmodBackward0": lg.fmod(x, 0.3),
        "FmodBackward1": lg.fmod(x, y),
        "LerpBackward0": lg.lerp(x, y, 0.5),
        "LerpBackward1": lg.lerp(x, y, y),
        "CloneBackward0": lg.clone(x),
    }
    for name, out in names.items():
        assert out.grad_fn.name() == name


# ---- fmod, remainder, lerp ---------------------------------------------------------------------
def test_fmod_takes_the_sign_of_the_dividend(device: str) -> None:
    a = np.array([-7.5, 7.5, -7.5, 7.5, -1e-8, 0.0, np.inf, 3.0], np.float32)
    b = np.array([2.0, -2.0, -2.0, 2.0, 1.0, 3.0, 2.0, np.inf], np.float32)
    with np.errstate(invalid="ignore"):
        expected = np.fmod(a, b)
    check(lg.fmod(lg.tensor(a, device=device), lg.tensor(b, device=device)), expected)
    with np.errstate(invalid="ignore"):
        by_number = np.fmod(a, np.float32(2.5))
    check(lg.tensor(a, device=device).fmod(2.5), by_number)
    ints = np.array([-7, 7, -7, 7, 0])
    check(lg.fmod(lg.tensor(ints, device=device), 3), np.fmod(ints, 3))
    check(lg.remainder(lg.tensor(ints, device=device), -3), np.remainder(ints, -3))


def test_fmod_errors_like_pytorch() -> None:
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        lg.fmod(lg.tensor([4, 5]), lg.tensor([1, 0]))
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        lg.fmod(lg.tensor([4, 5]), 0)
    with pytest.raises(NotImplementedError, match="fmod_cpu"):
        lg.fmod(lg.tensor([True]), lg.tensor([True]))
    check(lg.fmod(lg.tensor([4.0]), 0), np.array([np.nan], "f4"))


def test_lerp_is_exact_at_both_ends_and_checks_dtypes(device: str) -> None:
    start = lg.tensor([1.0, -2.0, 1e8], device=device)
    end = lg.tensor([3.0, 5.0, 0.1], device=device)
    check(lg.lerp(start, end, 1.0), end.numpy())  # from the end: exact there
    check(lg.lerp(start, end, 0.0), start.numpy())
    weights = lg.tensor([0.0, 1.0, 0.25], device=device)
    expected = np.array([1.0, 5.0, 1e8 + 0.25 * (0.1 - 1e8)], np.float32)
    check(start.lerp(end, weights), expected)
    with pytest.raises(RuntimeError, match="expected dtype float for `end` but got dtype double"):
        lg.lerp(start, end.double(), 0.5)
    with pytest.raises(RuntimeError, match="for `weight`"):
        lg.lerp(start, end, weights.double())


# ---- operators as functions, predicates ---------------------------------------------------------
def test_operator_functions_match_numpy(device: str) -> None:
    a = np.array([[1.0, -2.0, 3.0]], np.float32)
    b = np.array([[2.0], [-2.0]], np.float32)
    x, y = lg.tensor(a, device=device), lg.tensor(b, device=device)
    check(lg.add(x, y, alpha=2), a + 2 * b)
    check(lg.sub(x, y, alpha=3), a - 3 * b)
    check(lg.mul(x, y), a * b)
    check(lg.div(x, y), a / b)
    check(lg.div(x, y, rounding_mode="trunc"), np.trunc(a / b))
    check(lg.div(x, y, rounding_mode="floor"), np.floor(a / b))
    check(lg.neg(x), -a)
    for name, op in [("eq", np.equal), ("ne", np.not_equal), ("lt", np.less), ("le", np.less_equal),
                     ("gt", np.greater), ("ge", np.greater_equal)]:  # fmt: skip
        check(getattr(lg, name)(x, y), op(a, b))
        check(getattr(lg, name)(x, 1.0), op(a, np.float32(1.0)))
    with pytest.raises(RuntimeError, match="rounding_mode"):
        lg.div(x, y, rounding_mode="round")


def test_nan_inf_predicates(device: str) -> None:
    a = np.array([np.nan, np.inf, -np.inf, 0.0, -1e38, 5.0], np.float32)
    x = lg.tensor(a, device=device)
    check(lg.isnan(x), np.isnan(a))
    check(x.isnan(), np.isnan(a))
    check(lg.isinf(x), np.isinf(a))
    check(lg.isfinite(x), np.isfinite(a))
    for ints in (lg.tensor([1, -2], device=device), lg.tensor([True, False], device=device)):
        check(lg.isnan(ints), np.array([False, False]))
        check(lg.isinf(ints), np.array([False, False]))
        check(lg.isfinite(ints), np.array([True, True]))


def test_isclose_and_allclose_follow_pytorch(device: str) -> None:
    a = np.array([1.0, np.inf, -np.inf, np.nan, 1e-9, 100.0, np.inf], np.float64)
    b = np.array([1.0 + 1e-6, np.inf, np.inf, np.nan, 0.0, 100.1, np.nan], np.float64)
    x, y = lg.tensor(a, device=device), lg.tensor(b, device=device)
    check(lg.isclose(x, y), np.isclose(a, b))
    check(lg.isclose(x, y, equal_nan=True), np.isclose(a, b, equal_nan=True))
    check(x.isclose(y, rtol=1e-2), np.isclose(a, b, rtol=1e-2))
    assert lg.allclose(x[:2], y[:2]) is True
    assert lg.allclose(x, y) is False
    assert lg.allclose(x[3:4], y[3:4], equal_nan=True) is True
    assert x[:0].allclose(y[:0]) is True
    ints = lg.tensor([10, 20], device=device)
    check(lg.isclose(ints, lg.tensor([10, 21], device=device), rtol=0.04), np.array([True, False]))
    with pytest.raises(RuntimeError, match="Float did not match Double"):
        lg.isclose(x.float(), x)
    with pytest.raises(
        RuntimeError, match="rtol must be greater than or equal to zero, but got -1"
    ):
        lg.isclose(x, y, rtol=-1.0)


def test_equal_compares_sizes_and_values(device: str) -> None:
    x = lg.tensor([1.0, 2.0], device=device)
    assert lg.equal(x, lg.tensor([1.0, 2.0], device=device)) is True
    assert x.equal(lg.tensor([1.0, 3.0], device=device)) is False
    assert lg.equal(x, lg.tensor([[1.0, 2.0]], device=device)) is False
    nan = lg.tensor([math.nan], device=device)
    assert lg.equal(nan, nan) is False


def test_logical_functions(device: str) -> None:
    a = np.array([0.0, 1.0, np.nan, -2.0])
    b = np.array([0, 0, 3, 1])
    x, y = lg.tensor(a, device=device), lg.tensor(b, device=device)
    check(lg.logical_and(x, y), np.logical_and(a, b))
    check(lg.logical_or(x, y), np.logical_or(a, b))
    check(lg.logical_not(x), np.logical_not(a))
    check(x.logical_and(y), np.logical_and(a, b))
    z = lg.tensor(a, device=device)
    z.logical_or_(y)  # in place: the result keeps z's dtype
    check(z, np.logical_or(a, b).astype(np.float64))
    with pytest.raises(TypeError, match="argument 'other'"):
        lg.logical_and(x, 1)


def test_functions_check_that_input_is_a_tensor() -> None:
    with pytest.raises(
        TypeError, match=r"acos\(\): argument 'input' \(position 1\) must be Tensor"
    ):
        lg.acos(0.5)
    with pytest.raises(TypeError, match="isnan"):
        lg.isnan([1.0])


# ---- tensors as a whole ------------------------------------------------------------------------
def test_clone_flip_t_numel_is_tensor_as_tensor(device: str) -> None:
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    x = lg.tensor(a, device=device)
    assert lg.clone(x) is not x
    check(lg.clone(x), a)
    check(lg.flip(x, [0, 1]), a[::-1, ::-1])
    check(lg.flip(x, (1,)), a[:, ::-1])
    check(lg.t(x), a.T)
    assert lg.numel(x) == 6
    assert lg.is_tensor(x) and not lg.is_tensor(a)
    assert lg.as_tensor(x) is x
    check(lg.as_tensor(x, dtype=lg.float64), a.astype(np.float64))
    check(lg.as_tensor([[1, 2]], device=device), np.array([[1, 2]]))
    check(lg.as_tensor(a, dtype=lg.int32), a.astype(np.int32))


def test_floor_is_offered_at_the_top_level(device: str) -> None:
    a = np.array([-1.5, -0.0, 0.2, 3.0], np.float32)
    check(lg.floor(lg.tensor(a, device=device)), np.floor(a))


def test_get_default_dtype() -> None:
    assert lg.get_default_dtype() is lg.float32


def test_set_default_device_sets_the_device_of_new_tensors(device: str) -> None:
    try:
        lg.set_default_device(device)
        assert lg.get_default_device() == lg.device(device)
        assert lg.zeros(2).device == lg.device(device)
        assert lg.tensor([1.0]).device == lg.device(device)
    finally:
        lg.set_default_device(None)
    assert lg.get_default_device() == lg.device("cpu")


# ---- grad mode ---------------------------------------------------------------------------------
def test_set_grad_enabled_as_a_function_a_context_and_a_decorator() -> None:
    x = lg.tensor([1.0], requires_grad=True)
    lg.set_grad_enabled(False)
    try:
        assert not lg.is_grad_enabled()
        assert not (x * 2).requires_grad
    finally:
        lg.set_grad_enabled(True)
    assert lg.is_grad_enabled()
    with lg.set_grad_enabled(False):
        assert not (x * 2).requires_grad
        with lg.set_grad_enabled(True):
            assert (x * 2).requires_grad
        assert not lg.is_grad_enabled()
    assert lg.is_grad_enabled()

    @lg.set_grad_enabled(False)
    def double(t: lg.Tensor) -> lg.Tensor:
        return t * 2

    assert lg.is_grad_enabled()  # decorating changes nothing
    assert not double(x).requires_grad
    assert lg.is_grad_enabled()
    with pytest.raises(TypeError, match="enabled must be a bool"):
        lg.set_grad_enabled(1)


def test_inference_mode_disables_grad_in_blocks_and_decorated_functions() -> None:
    x = lg.tensor([1.0], requires_grad=True)
    with lg.inference_mode():
        assert not (x * 2).requires_grad
    with lg.no_grad(), lg.inference_mode(False):  # False leaves grad mode as it is
        assert not lg.is_grad_enabled()
    with lg.inference_mode(False):
        assert (x * 2).requires_grad

    @lg.inference_mode()
    def called(t: lg.Tensor) -> lg.Tensor:
        return t * 2

    @lg.inference_mode
    def bare(t: lg.Tensor) -> lg.Tensor:
        return t * 2

    assert not called(x).requires_grad and not bare(x).requires_grad
    assert lg.is_grad_enabled()


# ---- broadcasting ------------------------------------------------------------------------------
def test_broadcast_shapes_tensors_and_to(device: str) -> None:
    assert lg.broadcast_shapes((2, 1), (3,), 1) == lg.Size([2, 3])
    assert lg.broadcast_shapes() == lg.Size([])
    assert lg.broadcast_shapes((0, 1), (4,)) == (0, 4)
    with pytest.raises(RuntimeError, match="Shape mismatch: objects cannot be broadcast"):
        lg.broadcast_shapes((2,), (3,))
    a, b = np.arange(3.0, dtype=np.float32), np.ones((2, 1), np.int64)
    x, y = lg.broadcast_tensors(lg.tensor(a, device=device), lg.tensor(b, device=device))
    ea, eb = np.broadcast_arrays(a, b)
    check(x, ea)
    check(y, eb)
    check(lg.broadcast_to(lg.tensor(a, device=device), (4, -1)), np.broadcast_to(a, (4, 3)))
    check(lg.tensor(a, device=device).broadcast_to((2, 3)), np.broadcast_to(a, (2, 3)))
    with pytest.raises(RuntimeError, match="must match the size of tensor b"):
        lg.broadcast_tensors(lg.ones(2), lg.ones(3))


# ---- creation and randomness --------------------------------------------------------------------
def test_logspace_matches_numpy(device: str) -> None:
    check(lg.logspace(-2, 3, 6, device=device), np.logspace(-2, 3, 6).astype(np.float32))
    check(lg.logspace(0, 4, 5, base=2.0, dtype=lg.float64), np.logspace(0, 4, 5, base=2.0))
    check(lg.logspace(0, 2, 3, dtype=lg.int64), np.array([1, 10, 100]))
    assert lg.logspace(0, 1, 0).shape == (0,)


def test_normal_has_the_asked_moments_and_zero_gradient(device: str) -> None:
    lg.manual_seed(3)
    mean = lg.full((200_000,), 2.0, device=device, requires_grad=True)
    sample = lg.normal(mean, 3.0)
    values = sample.detach().numpy()
    assert abs(values.mean() - 2.0) < 0.05 and abs(values.std() - 3.0) < 0.05
    assert sample.grad_fn.name() == "NormalBackward1"
    sample.sum().backward()
    check(mean.grad, np.zeros(200_000, np.float32))
    std = lg.tensor([[0.0], [1.0]], device=device)
    out = lg.normal(lg.tensor([5.0, 6.0, 7.0], device=device), std).numpy()
    assert out.shape == (2, 3)
    np.testing.assert_array_equal(out[0], [5.0, 6.0, 7.0])
    draws = lg.normal(-1.0, 0.5, size=(50_000,), dtype=lg.float64, device=device)
    assert draws.dtype == lg.float64
    assert abs(draws.numpy().mean() + 1.0) < 0.02
    with pytest.raises(RuntimeError, match="normal expects std >= 0.0, but found std -1"):
        lg.normal(mean, -1.0)


def test_bernoulli_draws_ones_with_the_given_probability(device: str) -> None:
    lg.manual_seed(0)
    p = lg.tensor([0.0, 1.0, 0.25], dtype=lg.float64, device=device).expand(100_000, 3)
    draws = lg.bernoulli(p).numpy()
    assert draws.dtype == np.float64 and set(np.unique(draws)) <= {0.0, 1.0}
    assert draws[:, 0].sum() == 0 and draws[:, 1].all()
    assert abs(draws[:, 2].mean() - 0.25) < 0.01
    assert abs(lg.bernoulli(lg.zeros(100_000, device=device), 0.75).numpy().mean() - 0.75) < 0.01
    x = lg.zeros(100_000, dtype=lg.int64, device=device)
    x.bernoulli_(0.5)
    assert x.dtype == lg.int64 and abs(x.numpy().mean() - 0.5) < 0.01
    with pytest.raises(RuntimeError, match=r"expects p to be in \[0, 1\], but got p=2"):
        lg.bernoulli(p, 2.0)


def test_randperm_is_a_permutation(device: str) -> None:
    lg.manual_seed(5)
    perm = lg.randperm(1000, device=device)
    assert perm.dtype == lg.int64 and perm.device == lg.device(device)
    values = perm.numpy()
    np.testing.assert_array_equal(np.sort(values), np.arange(1000))
    assert not np.array_equal(values, np.arange(1000))
    assert lg.randperm(0).shape == (0,)
    assert lg.randperm(4, dtype=lg.int32).dtype == lg.int32
    with pytest.raises(RuntimeError, match="n must be non-negative"):
        lg.randperm(-1)


def test_multinomial_with_replacement_follows_the_weights(device: str) -> None:
    lg.manual_seed(2)
    weights = lg.tensor([[0.0, 1.0, 3.0], [2.0, 0.0, 0.0]], device=device)
    draws = lg.multinomial(weights, 40_000, replacement=True).numpy()
    assert draws.shape == (2, 40_000) and draws.dtype == np.int64
    freq = np.bincount(draws[0], minlength=3) / 40_000
    np.testing.assert_allclose(freq, [0.0, 0.25, 0.75], atol=0.01)
    assert (draws[1] == 0).all()


def test_multinomial_without_replacement_draws_distinct_categories(device: str) -> None:
    lg.manual_seed(4)
    weights = lg.tensor([1.0, 2.0, 0.0, 5.0, 2.0], device=device).expand(20_000, 5)
    draws = lg.multinomial(weights, 4).numpy()
    assert draws.shape == (20_000, 4)
    assert all(len(set(row)) == 4 and 2 not in row for row in draws[:200])
    first = np.bincount(draws[:, 0], minlength=5) / 20_000
    np.testing.assert_allclose(first, [0.1, 0.2, 0.0, 0.5, 0.2], atol=0.015)
    assert lg.multinomial(lg.tensor([0.0, 1.0], device=device), 1).shape == (1,)
    with pytest.raises(RuntimeError, match="cannot sample n_sample > prob_dist"):
        lg.multinomial(weights, 6)
    with pytest.raises(RuntimeError, match="prob_dist must be 1 or 2 dim"):
        lg.multinomial(lg.ones(2, 2, 2), 1)


def test_dropout_zeroes_and_scales(device: str) -> None:
    lg.manual_seed(1)
    x = lg.ones(100_000, device=device, requires_grad=True)
    out = lg.dropout(x, 0.2, True)
    values = out.detach().numpy()
    assert set(np.unique(values)) <= {0.0, np.float32(1.25)}
    assert abs((values == 0).mean() - 0.2) < 0.01
    out.sum().backward()
    check(x.grad, values)  # the gradient is the mask times the scale
    assert lg.dropout(x, 0.2, False) is x
    check(lg.dropout(x.detach(), 1.0, True), np.zeros(100_000, np.float32))
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
        lg.dropout(x, 1.5, True)


# ---- Tensor methods ----------------------------------------------------------------------------
def test_like_and_new_methods(device: str) -> None:
    x = lg.tensor([[1, 2, 3]], dtype=lg.int32, device=device)
    y = lg.tensor([1.5, 2.5, 3.5], dtype=lg.float64, device=device)
    check(x.type_as(y), np.array([[1, 2, 3]], np.float64))
    check(y.view_as(x), np.array([[1.5, 2.5, 3.5]]))
    check(y.reshape_as(x), np.array([[1.5, 2.5, 3.5]]))
    check(x.new_ones(2, 2), np.ones((2, 2), np.int32))
    check(x.new_zeros((3,)), np.zeros(3, np.int32))
    check(x.new_full((2,), 7), np.full(2, 7, np.int32))
    check(y.new_tensor([1, 2]), np.array([1.0, 2.0]))
    check(y.new_tensor(x, dtype=lg.int64), np.array([[1, 2, 3]]))
    assert x.new_ones(1).device == x.device and y.new_tensor([1]).device == y.device
    made = y.new_zeros(2, dtype=lg.float32, requires_grad=True)
    assert made.dtype == lg.float32 and made.requires_grad and made.is_leaf
    assert x.element_size() == 4 and y.element_size() == 8
    assert lg.tensor([True]).element_size() == 1
    assert x.nelement() == 3


def test_is_contiguous_follows_the_layout() -> None:
    x = lg.zeros(3, 4)
    assert x.is_contiguous()
    assert not x.t().is_contiguous()
    assert x[1].is_contiguous()
    assert not x[:, 1].is_contiguous()
    assert x.t().contiguous().is_contiguous()
    assert not lg.zeros(1, 4).expand(3, 4).is_contiguous()


@pytest.mark.parametrize(
    "name,args,reference",
    [
        ("acos_", (), np.arccos),
        ("asin_", (), np.arcsin),
        ("atan_", (), np.arctan),
        ("sinh_", (), np.sinh),
        ("cosh_", (), np.cosh),
        ("tan_", (), np.tan),
        ("erf_", (), erf_reference),
        ("expm1_", (), np.expm1),
        ("log1p_", (), np.log1p),
        ("log10_", (), np.log10),
        ("ceil_", (), np.ceil),
        ("trunc_", (), np.trunc),
        ("round_", (), np.round),
        ("square_", (), np.square),
        ("neg_", (), np.negative),
        ("clip_", (-0.2, 0.3), lambda a: np.clip(a, -0.2, 0.3)),
        ("fmod_", (0.25,), lambda a: np.fmod(a, np.float32(0.25))),
        ("remainder_", (0.25,), lambda a: np.remainder(a, np.float32(0.25))),
        ("atan2_", "tensor", lambda a: np.arctan2(a, a[::-1].copy())),
        ("lerp_", "lerp", lambda a: a + np.float32(0.25) * (a[::-1] - a)),
    ],
)
def test_in_place_methods_write_through_views(device: str, name: str, args, reference) -> None:
    a = np.array([[-0.7, -0.5, 0.1], [0.5, 0.25, 0.9]], np.float32)
    base = lg.tensor(a, device=device)
    row = base[1]  # a view: the in-place op must reach the base
    if args == "tensor":
        args = (lg.tensor(a[1][::-1].copy(), device=device),)
    elif args == "lerp":
        args = (lg.tensor(a[1][::-1].copy(), device=device), 0.25)
    assert getattr(row, name)(*args) is row
    expected = a.copy()
    with np.errstate(all="ignore"):
        expected[1] = reference(a[1])
    check(row, expected[1], rtol=1e-5, atol=1e-6)
    check(base, expected, rtol=1e-5, atol=1e-6)


def test_in_place_comparisons_keep_the_dtype(device: str) -> None:
    x = lg.tensor([1.0, 2.0, 3.0], device=device)
    x.gt_(1.5)
    check(x, np.array([0.0, 1.0, 1.0], np.float32))
    with pytest.raises(
        RuntimeError, match="result type Float can't be cast to the desired output type Long"
    ):
        lg.tensor([1, 2], device=device).acos_()
