"""Gradients at the edges where a naive chain rule goes wrong, against PyTorch's rules.

torch is not a dependency: every expected value is written out by hand (or computed with
NumPy from PyTorch's documented backward formula), and smooth cases are also compared with
float64 central differences."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from conftest import check, finite_differences

import lazygrad as lg

NAN = float("nan")
FD = {"rtol": 1e-6, "atol": 1e-8}  # what float64 central differences with h = 1e-6 resolve


def grad_of(fn: Callable[[lg.Tensor], lg.Tensor], values, device: str, dtype=lg.float32):
    """x.grad after fn(x).sum().backward(), for x made of `values`."""
    x = lg.tensor(values, dtype=dtype, device=device, requires_grad=True)
    fn(x).sum().backward()
    assert x.grad is not None
    return x.grad


# ---- 1. stable gradients of saturating functions ----------------------------------------------
def test_sigmoid_grad_is_s_times_one_minus_s_and_finite_when_saturated(device: str) -> None:
    x = np.array([-100.0, -88.8, -60.0, -20.0, 0.0, 3.0, 20.0, 100.0], np.float32)
    with np.errstate(over="ignore"):
        s = np.float32(1) / (np.float32(1) + np.exp(-x))
    g = grad_of(lambda t: t.sigmoid(), x, device)
    assert np.isfinite(g.numpy()).all()
    # PyTorch's sigmoid_backward: grad * (1 - s) * s; tiny values kept to full relative precision
    check(g, (1 - s) * s, rtol=1e-6, atol=0)
    assert g.numpy()[2] > 0  # sigmoid(-60) ~ 8.8e-27: not flushed to zero either


def test_sigmoid_grad_in_float64_saturates_to_zero_and_matches_finite_differences(
    device: str,
) -> None:
    g = grad_of(lambda t: t.sigmoid(), [-800.0, 800.0], device, lg.float64)
    check(g, np.array([0.0, 0.0]), atol=0)
    a = np.array([-30.0, -2.0, 0.5, 7.0])
    expected = finite_differences(lambda t: t.sigmoid(), a, device)
    check(grad_of(lambda t: t.sigmoid(), a, device, lg.float64), expected, **FD)


def test_sigmoid_records_one_sigmoid_backward_node() -> None:
    x = lg.tensor([1.0, 2.0], requires_grad=True)
    s = x.sigmoid()
    assert s.grad_fn.name() == "SigmoidBackward0"
    assert s.grad_fn.next_functions[0][0].variable is x


def test_tanh_grad_is_one_minus_t_squared_and_zero_when_saturated(device: str) -> None:
    x = np.array([-100.0, -20.0, -0.5, 0.0, 2.0, 100.0], np.float32)
    t = np.tanh(x)
    g = grad_of(lambda v: v.tanh(), x, device)
    assert np.isfinite(g.numpy()).all()
    check(g, 1 - t * t)  # OpenCL's tanh may miss +-1 by an ulp: 1 - t * t ~ 1e-7 there


def test_log_softmax_grad_is_g_minus_softmax_times_sum_g_for_extreme_logits(device: str) -> None:
    w = lg.tensor([1.0, 2.0, 3.0], device=device)
    g = grad_of(lambda x: x.log_softmax(0) * w, [1000.0, 0.0, -1000.0], device)
    # softmax = [1, 0, 0] and sum(g) = 6: g - softmax * 6
    check(g, np.array([-5.0, 2.0, 3.0], np.float32))
    rows = [[1000.0, 1000.0, -np.inf], [-5.0, 0.0, 5.0]]
    g = grad_of(lambda x: x.log_softmax(1) * w, rows, device)
    e = np.exp(np.array([-5.0, 0.0, 5.0]) - 5.0)
    softmax = np.array([[0.5, 0.5, 0.0], e / e.sum()])
    check(g, (np.array([1.0, 2.0, 3.0]) - softmax * 6).astype(np.float32), rtol=1e-5)


# ---- 2. prod with zeros -----------------------------------------------------------------------
def test_prod_grad_is_product_of_the_others_with_zeros(device: str) -> None:
    check(grad_of(lambda x: x.prod(), [2.0, 3.0, 4.0], device), np.float32([12, 8, 6]))
    check(grad_of(lambda x: x.prod(), [2.0, 0.0, 3.0], device), np.float32([0, 6, 0]))
    check(grad_of(lambda x: x.prod(), [0.0, 2.0, 0.0], device), np.float32([0, 0, 0]))
    rows = [[2.0, 0.0, 3.0], [0.0, 5.0, 0.0], [1.0, 2.0, 4.0], [-0.0, 1.5, 2.0]]
    expected = np.float32([[0, 6, 0], [0, 0, 0], [8, 4, 2], [3, 0, 0]])
    check(grad_of(lambda x: x.prod(1), rows, device), expected)
    check(grad_of(lambda x: x.prod(1, keepdim=True), rows, device), expected)
    cols = np.array(rows, np.float32).T
    check(grad_of(lambda x: x.prod(0), cols, device), expected.T)


def test_prod_grad_at_a_zero_matches_finite_differences(device: str) -> None:
    a = np.array([[0.0, 1.5, -2.0], [0.7, 0.0, 0.0], [1.1, -0.9, 2.0]])
    for fn in (lambda t: t.prod(), lambda t: t.prod(1), lambda t: t.prod(0)):
        check(grad_of(fn, a, device, lg.float64), finite_differences(fn, a, device), **FD)


# ---- 3. var and std of constant rows ----------------------------------------------------------
def test_var_and_std_grads_are_zero_not_nan_for_constant_rows(device: str) -> None:
    rows = [[2.0, 2.0, 2.0], [1.0, 2.0, 3.0]]
    # var: 2 (x - mean) / (n - 1); std: (x - mean) / ((n - 1) std), masked to 0 where std == 0
    check(grad_of(lambda x: x.var(1), rows, device), np.float32([[0, 0, 0], [-1, 0, 1]]))
    check(grad_of(lambda x: x.std(1), rows, device), np.float32([[0, 0, 0], [-0.5, 0, 0.5]]))
    check(
        grad_of(lambda x: x.std(1, keepdim=True, correction=0), rows, device),
        (np.float32([[0, 0, 0], [-1, 0, 1]]) / np.sqrt(np.float32(6))),
    )
    zeros = np.zeros((2, 2), np.float32)
    check(grad_of(lambda x: x.std(), [[4.0, 4.0], [4.0, 4.0]], device), zeros, atol=0)
    check(grad_of(lambda x: x.var(), [[4.0, 4.0], [4.0, 4.0]], device), zeros, atol=0)


def test_std_value_and_grad_unchanged_for_spread_rows(device: str) -> None:
    a = np.array([[0.3, -1.2, 2.0, 0.1], [1.0, 1.0, 1.5, -0.5]])
    t = lg.tensor(a, device=device)
    check(t.std(1), a.std(1, ddof=1))
    fn = lambda x: x.std(1)  # noqa: E731
    check(grad_of(fn, a, device, lg.float64), finite_differences(fn, a, device), **FD)


# ---- 4. clamp at its bounds -------------------------------------------------------------------
def test_clamp_grad_passes_at_the_bounds_inclusive(device: str) -> None:
    x = [-1.0, 0.0, 0.5, 1.0, 2.0, NAN]
    check(grad_of(lambda t: t.clamp(0.0, 1.0), x, device), np.float32([0, 1, 1, 1, 0, 0]))
    check(grad_of(lambda t: t.clamp(min=0.0), x, device), np.float32([0, 1, 1, 1, 1, 0]))
    check(grad_of(lambda t: t.clamp(max=1.0), x, device), np.float32([1, 1, 1, 1, 0, 0]))
    check(grad_of(lambda t: t.clamp(0, 1), x, device), np.float32([0, 1, 1, 1, 0, 0]))
    # min > max: every element is max, and x gets no gradient
    check(grad_of(lambda t: t.clamp(2.0, 1.0), x, device), np.zeros(6, np.float32))
    out = lg.tensor(x, device=device, requires_grad=True).clamp(0.0, 1.0)
    check(out, np.float32([0, 0, 0.5, 1, 1, NAN]))
    assert out.grad_fn.name() == "ClampBackward1"


def test_clamp_with_tensor_bounds_sends_the_gradient_to_x_on_ties(device: str) -> None:
    def leaf(values: list[float]) -> lg.Tensor:
        return lg.tensor(values, device=device, requires_grad=True)

    x = leaf([-3.0, 1.0, 0.5, 2.0, 4.0])  # below lo, at lo, at hi, at hi, above hi
    lo = leaf([-1.0, 1.0, 0.0, 0.0, 0.0])
    hi = leaf([2.0, 2.0, 0.5, 2.0, 2.0])
    out = x.clamp(lo, hi)
    assert out.grad_fn.name() == "ClampBackward0"
    check(out, np.float32([-1, 1, 0.5, 2, 2]))
    out.sum().backward()
    check(x.grad, np.float32([0, 1, 1, 1, 0]))
    check(lo.grad, np.float32([1, 0, 0, 0, 0]))
    check(hi.grad, np.float32([0, 0, 0, 0, 1]))


def test_clamp_with_equal_or_crossed_tensor_bounds_follows_pytorchs_masks(device: str) -> None:
    """x < min == max: no input gets the gradient; min > max: max gets it all; NaN: none."""

    def leaf(values: list[float]) -> lg.Tensor:
        return lg.tensor(values, device=device, requires_grad=True)

    x = leaf([-3.0, 5.0, 0.0, 9.0, NAN])
    lo = leaf([1.0, 1.0, 2.0, 2.0, 0.0])
    hi = leaf([1.0, 1.0, 1.0, 1.0, 1.0])
    out = x.clamp(lo, hi)
    check(out, np.float32([1, 1, 1, 1, NAN]))
    out.sum().backward()
    check(x.grad, np.float32([0, 0, 0, 0, 0]))
    check(lo.grad, np.float32([0, 0, 0, 0, 0]))
    check(hi.grad, np.float32([0, 1, 1, 1, 0]))


# ---- 5. maximum / minimum ties ----------------------------------------------------------------
def test_maximum_and_minimum_ties_split_the_gradient_in_half(device: str) -> None:
    x = lg.tensor([1.0, 5.0, 3.0], device=device, requires_grad=True)
    y = lg.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    (lg.maximum(x, y) + 10 * lg.minimum(x, y)).sum().backward()
    check(x.grad, np.float32([5.5, 1, 5.5]))
    check(y.grad, np.float32([5.5, 10, 5.5]))


def test_maximum_against_a_constant_tensor_splits_ties_too(device: str) -> None:
    ones = lg.ones(3, device=device)
    check(grad_of(lambda x: lg.maximum(x, ones), [1.0, 0.0, 2.0], device), np.float32([0.5, 0, 1]))
    full = lg.full((3,), 2.0, device=device)
    check(grad_of(lambda x: lg.minimum(x, full), [1.0, 2.0, 3.0], device), np.float32([1, 0.5, 0]))
    y = lg.ones(3, device=device, requires_grad=True)
    x = lg.tensor([1.0, 0.0, 2.0], device=device, requires_grad=True)
    lg.maximum(x, y).sum().backward()
    check(y.grad, np.float32([0.5, 1, 0]))


def test_relu_grad_at_zero_stays_zero(device: str) -> None:
    # threshold_backward: the gradient passes where x > 0 only
    check(grad_of(lambda x: x.relu(), [-1.0, 0.0, 2.0], device), np.float32([0, 0, 1]))


# ---- 6. max / min ties ------------------------------------------------------------------------
def test_max_dim_grad_goes_to_the_returned_index_only(device: str) -> None:
    rows = [[1.0, 3.0, 3.0], [2.0, 2.0, 2.0], [5.0, 1.0, 5.0], [1.0, NAN, NAN]]
    expected = np.float32([[0, 1, 0], [1, 0, 0], [1, 0, 0], [0, 1, 0]])
    check(grad_of(lambda x: x.max(1).values, rows, device), expected)
    check(grad_of(lambda x: x.max(1, keepdim=True)[0], rows, device), expected)
    check(grad_of(lambda x: x.max(0).values, np.array(rows).T, device), expected.T)
    x = lg.tensor(rows, device=device, requires_grad=True)
    values, indices = x.max(1)
    check(values, np.float32([3, 2, 5, NAN]))
    check(indices, np.array([1, 0, 0, 1]))
    assert values.grad_fn.name() == "MaxBackward0"


def test_min_dim_grad_goes_to_the_returned_index_only(device: str) -> None:
    rows = [[3.0, 1.0, 1.0], [2.0, 2.0, 2.0], [-0.0, 4.0, 0.0]]
    expected = np.float32([[0, 1, 0], [1, 0, 0], [1, 0, 0]])
    check(grad_of(lambda x: x.min(1).values, rows, device), expected)
    x = lg.tensor(rows, device=device, requires_grad=True)
    values, indices = x.min(1)
    check(values, np.float32([1, 2, 0]))
    check(indices, np.array([1, 0, 0]))
    assert values.grad_fn.name() == "MinBackward0"


def test_full_max_and_min_spread_the_grad_evenly_over_ties(device: str) -> None:
    check(grad_of(lambda x: x.max(), [1.0, 3.0, 3.0], device), np.float32([0, 0.5, 0.5]))
    check(
        grad_of(lambda x: x.min(), [[1.0, 1.0], [3.0, 1.0]], device),
        np.float32([[1, 1], [0, 1]]) / 3,
    )
    # a NaN max: the gradient is shared by the NaNs
    check(grad_of(lambda x: x.max(), [1.0, NAN, 3.0, NAN], device), np.float32([0, 0.5, 0, 0.5]))


def test_max_of_a_vector_full_and_along_dim_0_keep_their_own_rules(device: str) -> None:
    # both reduce the one dim: x.max() spreads over the tie, x.max(0) picks the first
    g = grad_of(lambda x: x.max() + 10 * x.max(0).values, [1.0, 3.0, 3.0], device)
    check(g, np.float32([0, 10.5, 0.5]))


def test_max_pool2d_grad_goes_to_the_first_maximum_of_each_window(device: str) -> None:
    g = grad_of(lambda x: lg.nn.functional.max_pool2d(x, 2), np.ones((1, 1, 2, 4)), device)
    check(g, np.float32([[[[1, 0, 1, 0], [0, 0, 0, 0]]]]))


# ---- 7. step functions --------------------------------------------------------------------------
def test_sign_records_sign_backward_and_gives_zero_grad(device: str) -> None:
    x = lg.tensor([3.0, -2.0, 0.0, np.inf], device=device, requires_grad=True)
    s = x.sign()
    assert s.requires_grad and s.grad_fn.name() == "SignBackward0"
    check(s, np.float32([1, -1, 0, 1]))
    (s * lg.tensor([1.0, np.inf, 2.0, 3.0], device=device)).sum().backward()
    check(x.grad, np.zeros(4, np.float32), atol=0)  # zero even for an infinite upstream grad


def test_floor_records_floor_backward_and_gives_zero_grad(device: str) -> None:
    x = lg.tensor([1.5, -2.5, 3.0], device=device, requires_grad=True)
    y = x.floor()
    assert y.grad_fn.name() == "FloorBackward0"
    (y * 3).sum().backward()
    check(x.grad, np.zeros(3, np.float32), atol=0)
    (g,) = lg.autograd.grad((x.floor() + x).sum(), x)
    check(g, np.ones(3, np.float32))


def test_trunc_division_grad_is_zero_even_for_a_zero_divisor(device: str) -> None:
    a = lg.tensor([7.0, -7.0, 1.0], device=device, requires_grad=True)
    b = lg.tensor([2.0, 2.0, 0.0], device=device, requires_grad=True)
    q = a.div(b, rounding_mode="trunc")
    check(q, np.float32([3, -3, np.inf]))
    q.sum().backward()
    check(a.grad, np.zeros(3, np.float32), atol=0)
    check(b.grad, np.zeros(3, np.float32), atol=0)


# ---- 8. softmax of a 0-d tensor -----------------------------------------------------------------
def test_softmax_and_log_softmax_of_a_0d_tensor_are_shifted(device: str) -> None:
    for value in (100.0, 1000.0, -1000.0):
        x = lg.tensor(value, device=device)
        check(x.softmax(0), np.float32(1.0))
        check(x.log_softmax(-1), np.float32(0.0))
    check(grad_of(lambda x: x.softmax(0), 100.0, device), np.float32(0.0))
    check(grad_of(lambda x: x.log_softmax(0), 1000.0, device), np.float32(0.0))
