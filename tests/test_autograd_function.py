"""`lg.autograd.Function`: custom ops with a hand-written backward, as in PyTorch; the
backward records lazy IR while the backward graph is derived, so it fuses."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import check

import lazygrad as lg

X = np.array([0.3, 1.7, -2.2], np.float32)


class Exp(lg.autograd.Function):
    @staticmethod
    def forward(ctx, x):  # noqa: ANN001, ANN205
        y = x.exp()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):  # noqa: ANN001, ANN205
        (y,) = ctx.saved_tensors
        return g * y


class RoundThrough(lg.autograd.Function):
    """A straight-through estimator: rounds forward, passes the gradient unchanged."""

    @staticmethod
    def forward(ctx, x):  # noqa: ANN001, ANN205
        return (x + 0.5).floor()

    @staticmethod
    def backward(ctx, g):  # noqa: ANN001, ANN205
        return g


def test_custom_exp_values_gradient_and_name(device: str) -> None:
    x = lg.tensor(X, device=device, requires_grad=True)
    y = Exp.apply(x * 2)
    assert y.grad_fn.name() == "ExpBackward" and y.requires_grad
    check(y.detach(), np.exp(2 * X))
    (y * 3).sum().backward()
    check(x.grad, 6 * np.exp(2 * X))


def test_the_custom_backward_fuses_with_its_neighbours(device: str) -> None:
    """d/dx sum(3 exp(2x)) is one kernel, the forward it reads fused in, as without it."""
    x = lg.tensor(X, device=device, requires_grad=True).realize()
    (Exp.apply(x * 2) * 3).sum().backward()
    custom = [k.ops for k in lg.schedule(x.grad).kernels]
    x.grad = None
    ((x * 2).exp() * 3).sum().backward()
    plain = [k.ops for k in lg.schedule(x.grad).kernels]
    assert custom == plain == [["mul", "exp", "mul", "mul"]]


def test_a_custom_backward_is_not_taken_for_an_equal_graph(device: str) -> None:
    """The straight-through rule holds for the Function's output only; the same ops
    recorded normally keep floor's zero gradient."""
    x = lg.tensor(X, device=device, requires_grad=True)
    (RoundThrough.apply(x) * 3).sum().backward()
    check(x.grad, np.full(3, 3.0, np.float32))
    x.grad = None
    ((x + 0.5).floor() * 3).sum().backward()
    check(x.grad, np.zeros(3, np.float32))


def test_several_outputs_non_tensor_arguments_and_needs_input_grad(device: str) -> None:
    seen = {}

    class ScaleBoth(lg.autograd.Function):
        @staticmethod
        def forward(ctx, x, factor, y):  # noqa: ANN001, ANN205
            seen["needs"] = ctx.needs_input_grad
            ctx.factor = factor
            return x * factor, x * y

        @staticmethod
        def backward(ctx, g1, g2):  # noqa: ANN001, ANN205
            return g1 * ctx.factor + g2 * 5.0, None, None

    x = lg.tensor(X, device=device, requires_grad=True)
    y = lg.full((3,), 5.0, device=device)
    a, b = ScaleBoth.apply(x, 2.0, y)
    assert seen["needs"] == (True, False, False)
    (a + 10 * b).sum().backward()
    check(x.grad, np.full(3, 2.0 + 50.0, np.float32))


def test_non_differentiable_outputs(device: str) -> None:
    class MaxWithIndex(lg.autograd.Function):
        @staticmethod
        def forward(ctx, x):  # noqa: ANN001, ANN205
            values, index = x.max(0)
            ctx.mark_non_differentiable(index)
            ctx.save_for_backward(x, index)
            return values, index

        @staticmethod
        def backward(ctx, g, _):  # noqa: ANN001, ANN205
            x, index = ctx.saved_tensors
            return (lg.arange(x.shape[0], device=x.device) == index).float() * g

    x = lg.tensor(X, device=device, requires_grad=True)
    values, index = MaxWithIndex.apply(x)
    assert values.requires_grad and not index.requires_grad
    values.backward()
    check(x.grad, np.float32([0, 1, 0]))


def test_no_grad_inputs_give_a_plain_tensor(device: str) -> None:
    y = Exp.apply(lg.tensor(X, device=device))
    assert y.grad_fn is None and not y.requires_grad
    with lg.no_grad():
        z = Exp.apply(lg.tensor(X, device=device, requires_grad=True))
    assert z.grad_fn is None


def test_wrong_gradients_raise_pytorchs_errors() -> None:
    class TooMany(lg.autograd.Function):
        @staticmethod
        def forward(ctx, x):  # noqa: ANN001, ANN205
            return x * 2

        @staticmethod
        def backward(ctx, g):  # noqa: ANN001, ANN205
            return g, g

    class WrongShape(TooMany):
        @staticmethod
        def backward(ctx, g):  # noqa: ANN001, ANN205
            return g.sum()

    x = lg.tensor(X, requires_grad=True)
    with pytest.raises(RuntimeError, match="incorrect number of gradients"):
        TooMany.apply(x).sum().backward()
    with pytest.raises(RuntimeError, match="invalid gradient at index 0"):
        WrongShape.apply(x).sum().backward()
    with pytest.raises(NotImplementedError):
        lg.autograd.Function.apply(x)


def test_retain_grad_and_hooks_on_inner_tensors(device: str) -> None:
    """PyTorch's order: tensor hooks change the gradient flowing on, and the retained
    `.grad` is the gradient after them."""
    x = lg.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    h = x * 2
    other = x * 5
    h.retain_grad()
    handle = h.register_hook(lambda g: g * 10)
    ((h**2).sum() + other.sum()).backward()
    check(h.grad, 10 * 2 * np.float32([2, 4, 6]))
    check(x.grad, 2 * 10 * 2 * np.float32([2, 4, 6]) + 5)
    assert other.grad is None
    handle.remove()
    x.grad = None
    h2 = x * 2
    (h2**2).sum().backward()
    check(x.grad, 2 * 2 * np.float32([2, 4, 6]))


def test_leaf_hooks_run_before_accumulation(device: str) -> None:
    x = lg.tensor([1.0, 2.0], device=device, requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g.numpy().tolist()))
    x.register_hook(lambda g: g + 1)
    (x * 3).sum().backward()
    assert seen == [[3.0, 3.0]]
    check(x.grad, np.float32([4, 4]))
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        lg.ones(2).register_hook(lambda g: g)
