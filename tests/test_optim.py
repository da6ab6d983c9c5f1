"""lg.optim: SGD, Adam and AdamW against hand-written NumPy versions of PyTorch's update
rules, one schedule per step, and the kernel count of a fused training step."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import lazygrad as lg
import lazygrad.nn as nn
import lazygrad.nn.functional as F
import lazygrad.optim as optim
from lazygrad.engine.realize import schedule_listeners
from lazygrad.ir.node import toposort

RNG = np.random.default_rng(99)
X = RNG.standard_normal((8, 4)).astype(np.float32)
T = RNG.standard_normal((8, 3)).astype(np.float32)
W0 = RNG.standard_normal((3, 4)).astype(np.float32)
B0 = RNG.standard_normal(3).astype(np.float32)
STEPS = 5


def gradients(w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """d/dθ mean((X Wᵀ + b - T)²), in float64."""
    x = X.astype(np.float64)
    dy = 2 * (x @ w.T + b - T) / T.size
    return dy.T @ x, dy.sum(0)


def sgd_reference(
    lr: float | tuple[float, float],
    momentum: float = 0.0,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
    maximize: bool = False,
) -> list[np.ndarray]:
    params = [W0.astype(np.float64), B0.astype(np.float64)]
    lrs = lr if isinstance(lr, tuple) else (lr, lr)  # per parameter (two param groups)
    bufs: list[np.ndarray | None] = [None, None]
    for _ in range(STEPS):
        for i, g in enumerate(gradients(*params)):
            g = -g if maximize else g
            if weight_decay:
                g = g + weight_decay * params[i]
            if momentum:
                prev = bufs[i]
                bufs[i] = g.copy() if prev is None else momentum * prev + (1 - dampening) * g
                g = g + momentum * bufs[i] if nesterov else bufs[i]
            params[i] = params[i] - lrs[i] * g
    return params


def adam_reference(
    lr: float,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    amsgrad: bool = False,
    decoupled: bool = False,
    maximize: bool = False,
) -> list[np.ndarray]:
    params = [W0.astype(np.float64), B0.astype(np.float64)]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    v_max = [np.zeros_like(p) for p in params]
    b1, b2 = betas
    for t in range(1, STEPS + 1):
        for i, g in enumerate(gradients(*params)):
            g = -g if maximize else g
            if decoupled:
                params[i] = params[i] * (1 - lr * weight_decay)
            elif weight_decay:
                g = g + weight_decay * params[i]
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            v_max[i] = np.maximum(v_max[i], v[i])
            second = v_max[i] if amsgrad else v[i]
            denom = np.sqrt(second) / np.sqrt(1 - b2**t) + eps
            params[i] = params[i] - lr / (1 - b1**t) * m[i] / denom
    return params


def make_linear() -> nn.Linear:
    lin = nn.Linear(4, 3)
    lin.load_state_dict({"weight": lg.tensor(W0), "bias": lg.tensor(B0)})
    return lin


def train(
    make: Callable[[list[nn.Parameter]], optim.Optimizer], steps: int = STEPS
) -> tuple[nn.Linear, optim.Optimizer]:
    lin = make_linear()
    opt = make(list(lin.parameters()))
    x, t = lg.tensor(X), lg.tensor(T)
    for _ in range(steps):
        opt.zero_grad()
        F.mse_loss(lin(x), t).backward()
        opt.step()
    return lin, opt


def check(lin: nn.Linear, expected: list[np.ndarray]) -> None:
    np.testing.assert_allclose(lin.weight.detach().numpy(), expected[0], atol=1e-5, rtol=0)
    np.testing.assert_allclose(lin.bias.detach().numpy(), expected[1], atol=1e-5, rtol=0)


SGD_CASES = [
    {"lr": 0.1},
    {"lr": 0.1, "momentum": 0.9},
    {"lr": 0.05, "momentum": 0.9, "nesterov": True},
    {"lr": 0.1, "momentum": 0.8, "dampening": 0.3, "weight_decay": 0.01},
    {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1, "maximize": True},
]


@pytest.mark.parametrize("kwargs", SGD_CASES, ids=lambda k: ",".join(map(str, k.items())))
def test_sgd_matches_numpy_reference(kwargs: dict) -> None:
    lin, _ = train(lambda p: optim.SGD(p, **kwargs))
    check(lin, sgd_reference(**kwargs))


ADAM_CASES = [
    ({"lr": 0.01}, {}),
    ({"lr": 0.05, "betas": (0.8, 0.99), "eps": 1e-6}, {}),
    ({"lr": 0.01, "weight_decay": 0.1}, {}),
    ({"lr": 0.02, "amsgrad": True}, {}),
    ({"lr": 0.01, "maximize": True}, {}),
]


@pytest.mark.parametrize("kwargs,_", ADAM_CASES, ids=lambda k: ",".join(map(str, k.items())))
def test_adam_matches_numpy_reference(kwargs: dict, _: dict) -> None:
    lin, _opt = train(lambda p: optim.Adam(p, **kwargs))
    check(lin, adam_reference(**kwargs))


@pytest.mark.parametrize(
    "kwargs", [{"lr": 0.01}, {"lr": 0.02, "weight_decay": 0.5}, {"lr": 0.01, "amsgrad": True}]
)
def test_adamw_matches_numpy_reference(kwargs: dict) -> None:
    lin, _ = train(lambda p: optim.AdamW(p, **kwargs))
    check(
        lin,
        adam_reference(
            decoupled=True,
            weight_decay=kwargs.get("weight_decay", 1e-2),
            **{k: v for k, v in kwargs.items() if k != "weight_decay"},
        ),
    )


def test_defaults_match_pytorch() -> None:
    p = [nn.Parameter(lg.zeros(2))]
    assert optim.SGD(p).defaults == {
        "lr": 1e-3,
        "momentum": 0.0,
        "dampening": 0.0,
        "weight_decay": 0.0,
        "nesterov": False,
        "maximize": False,
    }
    adam = optim.Adam(p).defaults
    assert (adam["lr"], adam["betas"], adam["eps"], adam["weight_decay"]) == (
        1e-3,
        (0.9, 0.999),
        1e-8,
        0.0,
    )
    assert optim.AdamW(p).defaults["weight_decay"] == 1e-2


def test_param_groups_use_their_own_hyperparameters() -> None:
    lin = make_linear()
    opt = optim.SGD(
        [{"params": [lin.weight], "lr": 0.1}, {"params": [lin.bias]}], lr=0.01, momentum=0.5
    )
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.01]
    x, t = lg.tensor(X), lg.tensor(T)
    for _ in range(STEPS):
        opt.zero_grad()
        F.mse_loss(lin(x), t).backward()
        opt.step()
    check(lin, sgd_reference((0.1, 0.01), momentum=0.5))


def test_parameters_without_grad_are_skipped_and_zero_grad() -> None:
    lin = make_linear()
    opt = optim.Adam(lin.parameters(), lr=0.1)
    (lin(lg.tensor(X)) * 0).sum().backward()
    lin.bias.grad = None
    opt.step()
    assert list(opt.state) == [lin.weight]  # state exists only for updated parameters
    np.testing.assert_array_equal(lin.bias.detach().numpy(), B0)
    opt.zero_grad(set_to_none=False)
    assert np.all(lin.weight.grad.numpy() == 0)
    opt.zero_grad()
    assert lin.weight.grad is None


def test_invalid_arguments() -> None:
    p = [nn.Parameter(lg.zeros(2))]
    with pytest.raises(ValueError, match="Invalid learning rate"):
        optim.SGD(p, lr=-1)
    with pytest.raises(ValueError, match="Nesterov momentum requires"):
        optim.SGD(p, lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="Invalid beta parameter at index 1"):
        optim.Adam(p, betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([p[0] * 2], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": p}, {"params": p}], lr=0.1)


def test_closure_returns_loss() -> None:
    lin = make_linear()
    opt = optim.SGD(lin.parameters(), lr=0.1)

    def closure() -> lg.Tensor:
        opt.zero_grad()
        loss = F.mse_loss(lin(lg.tensor(X)), lg.tensor(T))
        loss.backward()
        return loss

    loss = opt.step(closure)
    w, b = W0.astype(np.float64), B0.astype(np.float64)
    assert abs(loss.item() - ((X @ w.T + b - T) ** 2).mean()) < 1e-5
    check(lin, [p - 0.1 * g for p, g in zip((w, b), gradients(w, b), strict=True)])


def count_schedules(fn: Callable[[], object]) -> list[tuple[int, int]]:
    """Run fn; return (kernels, IR nodes) of every schedule it realized."""
    seen: list[tuple[int, int]] = []

    def listener(sched: object, tensors: list[lg.Tensor]) -> None:
        seen.append((len(sched), len(toposort([t._node for t in tensors]))))  # type: ignore

    schedule_listeners.append(listener)
    try:
        fn()
    finally:
        schedule_listeners.remove(listener)
    return seen


@pytest.mark.parametrize(
    "make",
    [
        lambda p: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4),
        lambda p: optim.Adam(p, lr=1e-3),
        lambda p: optim.AdamW(p, lr=1e-3, amsgrad=True),
    ],
    ids=["sgd", "adam", "adamw"],
)
def test_step_runs_exactly_one_schedule(make: Callable) -> None:
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    lg.realize(*model.parameters())
    opt = make(list(model.parameters()))
    x, t = lg.tensor(X), lg.tensor(T)
    for _ in range(3):
        opt.zero_grad()
        F.mse_loss(model(x), t).backward()  # lazy: the backward runs inside the step
        assert len(count_schedules(opt.step)) == 1


def test_first_step_realizes_lazy_initialization_too() -> None:
    """Nothing is realized before the first step: init, forward, backward and update run as
    one schedule, and the result equals the same step from realized initial weights."""
    lg.manual_seed(5)
    lazy = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    lg.manual_seed(5)
    eager = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    lg.realize(*eager.parameters())
    x, t = lg.tensor(X), lg.tensor(T)
    for model in (lazy, eager):
        opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        F.mse_loss(model(x), t).backward()
        assert len(count_schedules(opt.step)) == 1
    for a, b in zip(lazy.parameters(), eager.parameters(), strict=True):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), atol=1e-6)


def test_adam_step_graph_has_no_step_dependent_constants() -> None:
    """Bias corrections enter as 0-d buffers: every step records the same graph."""
    lin = make_linear()
    opt = optim.Adam(lin.parameters(), lr=0.01)
    x, t = lg.tensor(X), lg.tensor(T)
    signatures = []

    def listener(sched: object, tensors: list[lg.Tensor]) -> None:
        nodes = toposort([tensor._node for tensor in tensors])
        signatures.append(
            [
                (
                    n.op,
                    n.shape,
                    n.arg if isinstance(n.arg, int | float | tuple) else type(n.arg).__name__,
                )
                for n in nodes
            ]
        )

    schedule_listeners.append(listener)
    try:
        for _ in range(4):
            opt.zero_grad()
            F.mse_loss(lin(x), t).backward()
            opt.step()
    finally:
        schedule_listeners.remove(listener)
    assert signatures[1] == signatures[2] == signatures[3]


def test_training_step_fuses_into_few_kernels() -> None:
    """Forward + backward + SGD update of a 784-512-10 MLP at batch 256: kernels vs IR ops."""
    lg.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10))
    x, y = lg.randn(256, 784), lg.randint(0, 10, (256,))
    lg.realize(x, y, *model.parameters())
    opt = optim.SGD(model.parameters(), lr=0.01)
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    ((kernels, ops),) = count_schedules(opt.step)
    print(f"784-512-10 MLP, batch 256, one SGD training step: {ops} IR ops -> {kernels} kernels")
    assert kernels < ops / 4, (kernels, ops)


def test_state_dict_round_trip_continues_identically() -> None:
    lin_a, opt_a = train(lambda p: optim.Adam(p, lr=0.01), steps=2)
    saved = opt_a.state_dict()
    assert sorted(saved) == ["param_groups", "state"]
    assert saved["param_groups"][0]["params"] == [0, 1]
    assert sorted(saved["state"][0]) == ["exp_avg", "exp_avg_sq", "step"]
    assert saved["state"][0]["step"].item() == 2
    lin_b = make_linear()
    lin_b.load_state_dict(lin_a.state_dict())
    opt_b = optim.Adam(lin_b.parameters(), lr=0.5)
    opt_b.load_state_dict(saved)
    assert opt_b.param_groups[0]["lr"] == 0.01
    x, t = lg.tensor(X), lg.tensor(T)
    for lin, opt in ((lin_a, opt_a), (lin_b, opt_b)):
        for _ in range(STEPS - 2):
            opt.zero_grad()
            F.mse_loss(lin(x), t).backward()
            opt.step()
    check(lin_b, adam_reference(0.01))
    np.testing.assert_array_equal(lin_a.weight.detach().numpy(), lin_b.weight.detach().numpy())
    with pytest.raises(ValueError, match="different number of parameter groups"):
        opt_b.load_state_dict({"state": {}, "param_groups": []})


def test_matches_torch_when_installed() -> None:
    torch = pytest.importorskip("torch")
    for name, kwargs in [
        ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
        ("Adam", {"lr": 0.01, "weight_decay": 0.1}),
        ("AdamW", {"lr": 0.01, "amsgrad": True}),
    ]:
        lin, _ = train(lambda p, n=name, k=kwargs: getattr(optim, n)(p, **k))
        ref = torch.nn.Linear(4, 3)
        with torch.no_grad():
            ref.weight.copy_(torch.tensor(W0))
            ref.bias.copy_(torch.tensor(B0))
        opt = getattr(torch.optim, name)(ref.parameters(), **kwargs)
        for _ in range(STEPS):
            opt.zero_grad()
            torch.nn.functional.mse_loss(ref(torch.tensor(X)), torch.tensor(T)).backward()
            opt.step()
        check(lin, [ref.weight.detach().numpy(), ref.bias.detach().numpy()])
