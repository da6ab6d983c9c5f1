"""Plain PyTorch-style code: nothing a user can still read is computed twice, and a loop step
costs the same at step 2,000 as at step 10 (no history reaching back past the last realize).

Kernel counts come from `schedule_listeners`, which sees every schedule that runs."""

from __future__ import annotations

import gc
import importlib
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest

import lazygrad as lg
import lazygrad.nn.functional as F
from lazygrad import live, nn
from lazygrad.engine.realize import schedule_listeners
from lazygrad.ir import node as ir_node

realize = importlib.import_module(
    "lazygrad.engine.realize"
)  # the module (lg.realize is a function)


@contextmanager
def kernel_log() -> Iterator[list[list[str]]]:
    """Each schedule that runs inside the block, as the list of its kernels' kinds."""
    runs: list[list[str]] = []

    def listener(sched: object, tensors: object) -> None:
        runs.append([k.kind for k in sched])  # type: ignore[attr-defined]

    schedule_listeners.append(listener)
    try:
        yield runs
    finally:
        schedule_listeners.remove(listener)


def _regression(device: str, steps: int, read_every: int) -> tuple[list[float], np.ndarray]:
    """The issue's loop: manual SGD on a linear least-squares model, loss read now and then."""
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((200, 3)).astype(np.float32)
    ys = rng.standard_normal(200).astype(np.float32)
    x, y = lg.tensor(xs, device=device), lg.tensor(ys, device=device)
    w = lg.tensor([0.5, -0.5, 0.25], device=device, requires_grad=True)
    losses = []
    for t in range(steps):
        loss = ((x @ w - y) ** 2).sum()
        if t % read_every == read_every - 1:
            losses.append(loss.item())
        loss.backward()
        with lg.no_grad():
            w -= 1e-3 * w.grad
        w.grad.zero_()
    return losses, w.detach().numpy()


def _regression_numpy(steps: int, read_every: int) -> tuple[list[float], np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 3)).astype(np.float32)
    y = rng.standard_normal(200).astype(np.float32)
    w = np.array([0.5, -0.5, 0.25], np.float32)
    losses = []
    for t in range(steps):
        r = x @ w - y
        if t % read_every == read_every - 1:
            losses.append(float((r**2).sum()))
        w = w - np.float32(1e-3) * (2 * x.T @ r)
    return losses, w


def test_loop_costs_the_same_kernels_at_every_read(device: str) -> None:
    with kernel_log() as runs:
        losses, w = _regression(device, steps=2000, read_every=50)
    reads = runs[:-1]  # the last schedule computes the final weights
    assert len(reads) == 40  # one schedule per read: nothing flushed in between
    assert len({len(r) for r in reads[1:]}) == 1, [len(r) for r in reads]
    assert len(reads[-1]) < 200  # 50 steps of work, not 2,000
    want_losses, want_w = _regression_numpy(2000, 50)
    np.testing.assert_allclose(losses, want_losses, rtol=1e-4)
    np.testing.assert_allclose(w, want_w, rtol=1e-4, atol=1e-5)


def test_a_value_read_once_is_never_computed_again(device: str) -> None:
    lg.manual_seed(0)
    a = lg.randn(4, device=device)
    b = a * 2
    with kernel_log() as runs:
        first = b.numpy()
        again = a.numpy()
    assert len(runs) == 1  # the draw ran once: `a` was stored as `b` was computed
    np.testing.assert_array_equal(first, again * 2)
    c = (a * 3).exp()
    with kernel_log() as runs:
        total = c.sum().item()
        values = c.numpy()
    assert len(runs) == 1
    assert total == pytest.approx(float(values.sum()), rel=1e-6)
    assert len(lg.schedule(c)) == 0 and len(lg.schedule(a)) == 0


def test_values_held_in_a_list_are_stored_with_the_value_read(device: str) -> None:
    x = lg.arange(6, dtype=lg.float32, device=device)
    kept = [x * 2, (x * 2).exp()]
    out = (kept[1] + kept[0]).sum()
    with kernel_log() as runs:
        out.item()
        kept[0].numpy(), kept[1].numpy()
    assert len(runs) == 1
    assert all(len(lg.schedule(t)) == 0 for t in kept)


def test_unrelated_pending_tensors_stay_pending_when_one_is_read(device: str) -> None:
    """Only live tensors whose pending work meets the one read are realized with it: many
    unrelated pending tensors are neither computed early nor walked (their work groups
    are compared, see `ir.node.WorkGroup`)."""
    held = [lg.arange(4, dtype=lg.float32, device=device) * float(k) for k in range(50)]
    near = held[7].exp()  # reads held[7]'s pending work: stored with it
    with kernel_log() as runs:
        np.testing.assert_array_equal(held[7].numpy(), np.arange(4) * 7.0)
    assert len(runs) == 1
    assert len(lg.schedule(near)) == 0
    assert all(len(lg.schedule(t)) == 1 for i, t in enumerate(held) if i != 7)
    np.testing.assert_array_equal(held[3].numpy(), np.arange(4) * 3.0)


def test_work_groups_join_when_graphs_meet_and_part_at_stored_values() -> None:
    """A node made from two pending graphs joins their groups; a stored value belongs to no
    group, so graphs that only read it stay apart."""
    x = lg.arange(3, dtype=lg.float32).exp()
    y = lg.arange(3, dtype=lg.float32).sin()
    assert x._node.group.find() is not y._node.group.find()
    z = x + y
    assert x._node.group.find() is y._node.group.find() is z._node.group.find()
    z.realize()
    assert z._node.group is None and x._node.group is None
    assert (x * 2)._node.group is not (y * 2)._node.group
    assert (x.T)._node.group is None  # a view of a stored value does no work


def test_a_dropped_temporary_is_fused_through_not_stored() -> None:
    x = lg.arange(6, dtype=lg.float32).realize()
    y = ((x * 2).exp() + 1).sum()
    assert [k.kind for k in lg.schedule(y)] == ["reduce"]


def test_autograd_keeps_no_intermediate_tensor_alive() -> None:
    w = lg.ones(3, requires_grad=True)
    h = w * 2
    ref = weakref.ref(h)
    loss = h.exp().sum()
    del h
    gc.collect()
    assert ref() is None  # only the graph (nodes) is kept for backward, not the tensor
    loss.backward()
    np.testing.assert_allclose(w.grad.numpy(), 2 * np.exp(2.0) * np.ones(3), rtol=1e-6)


def test_a_loop_that_never_reads_stays_bounded(device: str) -> None:
    """10,000 steps without a read: the history is cut at a depth limit, so the number of
    live IR nodes and the depth of the weights' pending graph stay bounded."""
    x = lg.randn(64, 3, device=device)
    y = lg.randn(64, device=device)
    w = lg.zeros(3, device=device, requires_grad=True)
    sizes = []
    with kernel_log() as runs:
        for step in range(10_000):
            loss = ((x @ w - y) ** 2).mean()
            loss.backward()
            with lg.no_grad():
                w -= 0.01 * w.grad
            w.grad.zero_()
            assert w._node.depth <= realize.UPDATE_DEPTH_LIMIT + 100
            if step % 2000 == 1999:
                gc.collect()
                sizes.append(len(ir_node._interned))
    assert runs, "the depth limit never realized anything"
    assert max(sizes) < 2 * min(sizes) + 1000, sizes
    assert np.isfinite(w.detach().numpy()).all()


def test_depth_limit_flush_is_logged(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("LAZYGRAD_DEBUG", "1")
    monkeypatch.setattr(realize, "UPDATE_DEPTH_LIMIT", 20)
    w = lg.zeros(3)
    for _ in range(30):
        w += 1
    assert w._node.depth <= 20  # realized at the update that passed the limit
    assert "LAZYGRAD_UPDATE_DEPTH" in capsys.readouterr().err
    np.testing.assert_array_equal(w.numpy(), [30.0] * 3)


def _manual_sgd(model: nn.Module, loss: lg.Tensor, lr: float) -> None:
    """The update of PyTorch's tutorials: zero_grad, backward, p -= lr * p.grad."""
    model.zero_grad()
    loss.backward()
    with lg.no_grad():
        for p in model.parameters():
            p -= lr * p.grad


def test_model_zero_grad_and_manual_update(device: str) -> None:
    lg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1)).to(device)
    x, y = lg.randn(32, 4, device=device), lg.randn(32, 1, device=device)
    with kernel_log() as runs:
        for _ in range(300):
            loss = F.mse_loss(model(x), y)
            _manual_sgd(model, loss, 0.05)
            loss.item()
    assert len({len(r) for r in runs[2:]}) == 1, [len(r) for r in runs]
    # the weights updated after the last read were realized with it: they shared its work
    assert all(len(lg.schedule(p)) == 0 for p in model.parameters())


def test_hand_written_gradients_with_masked_writes(device: str) -> None:
    """The two-layer network of PyTorch's tensor tutorial, gradients written by hand."""
    rng = np.random.default_rng(1)
    xs, ys = rng.standard_normal((16, 5)), rng.standard_normal((16, 2))
    w1s, w2s = rng.standard_normal((5, 6)) * 0.3, rng.standard_normal((6, 2)) * 0.3
    x, y = lg.tensor(xs, device=device), lg.tensor(ys, device=device)
    w1, w2 = lg.tensor(w1s, device=device), lg.tensor(w2s, device=device)
    with kernel_log() as runs:
        for _ in range(200):
            h = x @ w1
            h_relu = h.clamp(min=0)
            y_pred = h_relu @ w2
            loss = (y_pred - y).pow(2).sum().item()
            grad_y_pred = 2.0 * (y_pred - y)
            grad_w2 = h_relu.T @ grad_y_pred
            grad_h = grad_y_pred @ w2.T
            grad_h[h < 0] = 0
            grad_w1 = x.T @ grad_h
            w1 -= 1e-3 * grad_w1
            w2 -= 1e-3 * grad_w2
    # two reads a step (the loss, and the mask's count of elements), the same every step
    assert runs[4:] == runs[2:-2], [len(r) for r in runs]
    for _ in range(200):  # the same in NumPy
        h = xs @ w1s
        h_relu = np.maximum(h, 0)
        y_pred = h_relu @ w2s
        want = ((y_pred - ys) ** 2).sum()
        grad_y_pred = 2.0 * (y_pred - ys)
        grad_w2 = h_relu.T @ grad_y_pred
        grad_h = grad_y_pred @ w2s.T
        grad_h[h < 0] = 0
        w1s = w1s - 1e-3 * (xs.T @ grad_h)
        w2s = w2s - 1e-3 * grad_w2
    assert loss == pytest.approx(want, rel=1e-5)
    np.testing.assert_allclose(w1.numpy(), w1s, rtol=1e-6)


def test_jit_step_over_linear_layers_replays() -> None:
    """An `nn.Linear` forward keeps its weight's `.T` view only while the step runs: the
    in-place update is not a write through a view, and the step replays."""
    lg.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    eager = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    eager.load_state_dict(model.state_dict())
    x, y = lg.randn(16, 6), lg.randint(0, 3, (16,))

    def step(net: nn.Module, x: lg.Tensor, y: lg.Tensor) -> lg.Tensor:
        loss = F.cross_entropy(net(x), y)
        _manual_sgd(net, loss, 0.1)
        return loss

    jitted = lg.jit(lambda x, y: step(model, x, y))
    for _ in range(5):
        got = jitted(x, y).item()
        want = step(eager, x, y).item()
        assert got == pytest.approx(want, rel=1e-5)
    (plan,) = jitted.plans.values()
    assert type(plan).__name__ == "_ReplayPlan"  # replayed, not run as usual
    for p, q in zip(model.parameters(), eager.parameters(), strict=True):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-5)


def test_live_registry_forgets_dead_tensors() -> None:
    before = sum(1 for _ in live.tensors())
    made = [lg.zeros(2) for _ in range(100)]
    assert sum(1 for _ in live.tensors()) >= before + 100
    del made
    assert sum(1 for _ in live.tensors()) <= before + 5


def test_a_linear_layers_weight_update_fuses_into_its_gradient_contraction() -> None:
    """`x @ w.T` differentiates to `g.T @ x` in w's own layout, so `w -= lr * w.grad`
    is an epilogue of the gradient's contraction rather than a kernel of its own."""
    layer = nn.Linear(6, 4)
    lg.realize(*layer.parameters())
    x = lg.randn(8, 6).realize()
    layer(x).sum().backward()
    with lg.no_grad():
        layer.weight -= 0.1 * layer.weight.grad
    kernels = lg.schedule(layer.weight)
    update = [k for k in kernels if "sub" in k.ops]
    assert len(update) == 1 and update[0].kind == "dot", kernels.kernels


def test_transposes_of_transposes_cancel() -> None:
    x = lg.randn(3, 4, 5).realize()
    y = x.permute(2, 0, 1).permute(1, 2, 0) * 2
    (kernel,) = lg.schedule(y)
    assert kernel.kind == "elementwise"
    np.testing.assert_allclose(y.numpy(), x.numpy() * 2)
