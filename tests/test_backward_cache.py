"""Remembered derivations: a forward graph of a structure derived before gets its backward
graph rebuilt from the remembered one (no rule runs), and it is the right one."""

from __future__ import annotations

import numpy as np
import pytest

import lazygrad as lg
import lazygrad.nn.functional as F
from lazygrad.ir.passes import autodiff


def _misses_and_hits() -> tuple[int, int]:
    return autodiff.derivation_stats["misses"], autodiff.derivation_stats["hits"]


def test_a_repeated_training_step_rebuilds_its_backward_graph() -> None:
    rng = np.random.default_rng(0)
    w = lg.tensor(rng.standard_normal((4, 3)).astype(np.float32), requires_grad=True)
    for step in range(3):
        x = rng.standard_normal((5, 4)).astype(np.float32)
        y = rng.integers(0, 3, 5)
        before = _misses_and_hits()
        w.grad = None
        loss = F.cross_entropy(lg.tensor(x) @ w, lg.tensor(y))
        loss.backward()
        misses, hits = _misses_and_hits()
        assert (misses - before[0], hits - before[1]) == ((1, 0) if step == 0 else (0, 1))
        logits = x @ w.detach().numpy()
        p = np.exp(logits - logits.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        p[np.arange(5), y] -= 1
        np.testing.assert_allclose(w.grad.numpy(), x.T @ p / 5, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("n", [3, 5, 0.5, 2.5])
def test_scalar_values_are_part_of_the_structure(n: float) -> None:
    """A rule computes with scalars (x ** n needs n - 1): graphs that differ only in a
    scalar's value must not share a derivation."""
    for exponent in (n, n + 1):
        x = lg.tensor([1.5, 2.0], requires_grad=True)
        (x**exponent).sum().backward()
        want = exponent * np.array([1.5, 2.0]) ** (exponent - 1)
        np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-6)


def test_random_draws_are_slots_of_the_structure() -> None:
    """Two dropout steps share a derivation, each with its own mask."""
    lg.manual_seed(3)
    x = lg.ones(64, requires_grad=True)
    grads, outs = [], []
    for _ in range(2):
        x.grad = None
        y = F.dropout(x, 0.5)
        y.sum().backward()
        grads.append(x.grad.numpy())
        outs.append(y.detach().numpy())
    assert not np.array_equal(outs[0], outs[1])
    for g, y in zip(grads, outs, strict=True):
        np.testing.assert_array_equal(g, y)  # the gradient of x * mask * 2 is mask * 2


def test_a_leaf_read_under_another_name_is_not_confused() -> None:
    """x * y and x * x have different wiring: different derivations."""
    x = lg.tensor([2.0, 3.0], requires_grad=True)
    y = lg.tensor([5.0, 7.0], requires_grad=True)
    (x * y).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [5.0, 7.0])
    x.grad = None
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 6.0])


def test_remembered_derivations_are_bounded() -> None:
    for k in range(autodiff.DERIVATIONS_KEPT + 8):
        x = lg.ones(k + 1, requires_grad=True)
        (x * 2.0).sum().backward()
    assert len(autodiff._derivations) == autodiff.DERIVATIONS_KEPT
