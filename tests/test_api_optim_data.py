"""RMSprop, Adagrad and AdamW against NumPy re-implementations of PyTorch's update rules
(both devices); the lr schedulers against PyTorch's documented formulas, written out here;
lg.utils.data (batching, shuffling, drop_last, collation, samplers, random_split);
lg.cuda and lg.accelerator."""

from __future__ import annotations

import math
from collections import namedtuple
from collections.abc import Callable

import numpy as np
import pytest

import lazygrad as lg
import lazygrad.optim as optim
from lazygrad.engine.realize import schedule_listeners
from lazygrad.ir.node import toposort
from lazygrad.optim import lr_scheduler as sched
from lazygrad.utils import data

RNG = np.random.default_rng(16)
X = RNG.standard_normal((8, 4)).astype(np.float32)
T = RNG.standard_normal((8, 3)).astype(np.float32)
W0 = RNG.standard_normal((3, 4)).astype(np.float32)
B0 = RNG.standard_normal(3).astype(np.float32)
STEPS = 5


# ---- optimizers ------------------------------------------------------------------------------
def gradients(w: np.ndarray, b: np.ndarray) -> list[np.ndarray]:
    """d/dθ mean((X Wᵀ + b - T)²), in float64."""
    x = X.astype(np.float64)
    dy = 2 * (x @ w.T + b - T) / T.size
    return [dy.T @ x, dy.sum(0)]


def train(device: str, make: Callable[[list[lg.Tensor]], optim.Optimizer]) -> list[lg.Tensor]:
    """STEPS steps of linear least squares on `device`; the final (weight, bias)."""
    w = lg.tensor(W0, device=device, requires_grad=True)
    b = lg.tensor(B0, device=device, requires_grad=True)
    opt = make([w, b])
    x, t = lg.tensor(X, device=device), lg.tensor(T, device=device)
    for _ in range(STEPS):
        opt.zero_grad()
        ((x @ w.T + b - t) ** 2).mean().backward()
        opt.step()
    return [w, b]


def assert_params(got: list[lg.Tensor], expected: list[np.ndarray]) -> None:
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g.detach().numpy(), e, atol=2e-5, rtol=1e-4)


def rmsprop_reference(
    lr: float = 1e-2,
    alpha: float = 0.99,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    centered: bool = False,
    maximize: bool = False,
) -> list[np.ndarray]:
    params = [W0.astype(np.float64), B0.astype(np.float64)]
    v = [np.zeros_like(p) for p in params]
    g_avg = [np.zeros_like(p) for p in params]
    buf = [np.zeros_like(p) for p in params]
    for _ in range(STEPS):
        for i, g in enumerate(gradients(*params)):
            g = -g if maximize else g
            g = g + weight_decay * params[i]
            v[i] = alpha * v[i] + (1 - alpha) * g**2
            v_tilde = v[i]
            if centered:
                g_avg[i] = alpha * g_avg[i] + (1 - alpha) * g
                v_tilde = v_tilde - g_avg[i] ** 2
            if momentum > 0:
                buf[i] = momentum * buf[i] + g / (np.sqrt(v_tilde) + eps)
                params[i] = params[i] - lr * buf[i]
            else:
                params[i] = params[i] - lr * g / (np.sqrt(v_tilde) + eps)
    return params


def adagrad_reference(
    lr: float = 1e-2,
    lr_decay: float = 0.0,
    weight_decay: float = 0.0,
    initial_accumulator_value: float = 0.0,
    eps: float = 1e-10,
    maximize: bool = False,
) -> list[np.ndarray]:
    params = [W0.astype(np.float64), B0.astype(np.float64)]
    s = [np.full_like(p, initial_accumulator_value) for p in params]
    for t in range(1, STEPS + 1):
        for i, g in enumerate(gradients(*params)):
            g = -g if maximize else g
            g = g + weight_decay * params[i]
            clr = lr / (1 + (t - 1) * lr_decay)
            s[i] = s[i] + g * g
            params[i] = params[i] - clr * g / (np.sqrt(s[i]) + eps)
    return params


def adamw_reference(
    lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8, weight_decay: float = 1e-2
) -> list[np.ndarray]:
    params = [W0.astype(np.float64), B0.astype(np.float64)]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    b1, b2 = betas
    for t in range(1, STEPS + 1):
        for i, g in enumerate(gradients(*params)):
            params[i] = params[i] * (1 - lr * weight_decay)
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            m_hat, v_hat = m[i] / (1 - b1**t), v[i] / (1 - b2**t)
            params[i] = params[i] - lr * m_hat / (np.sqrt(v_hat) + eps)
    return params


RMSPROP_CASES = [
    {},
    {"lr": 0.02, "alpha": 0.9, "momentum": 0.5},
    {"lr": 0.01, "centered": True, "eps": 1e-6},
    {"lr": 0.01, "centered": True, "momentum": 0.9, "weight_decay": 0.1},
    {"lr": 0.01, "maximize": True, "weight_decay": 0.05},
]


@pytest.mark.parametrize("kwargs", RMSPROP_CASES, ids=lambda k: ",".join(map(str, k.items())))
def test_rmsprop_matches_numpy_reference(device: str, kwargs: dict) -> None:
    assert_params(train(device, lambda p: optim.RMSprop(p, **kwargs)), rmsprop_reference(**kwargs))


ADAGRAD_CASES = [
    {},
    {"lr": 0.1, "lr_decay": 0.1, "weight_decay": 0.05},
    {"lr": 0.05, "initial_accumulator_value": 0.5, "eps": 1e-6},
    {"lr": 0.05, "maximize": True},
]


@pytest.mark.parametrize("kwargs", ADAGRAD_CASES, ids=lambda k: ",".join(map(str, k.items())))
def test_adagrad_matches_numpy_reference(device: str, kwargs: dict) -> None:
    assert_params(train(device, lambda p: optim.Adagrad(p, **kwargs)), adagrad_reference(**kwargs))


def test_adamw_matches_numpy_reference_on_each_device(device: str) -> None:
    got = train(device, lambda p: optim.AdamW(p, lr=0.02, weight_decay=0.3))
    assert_params(got, adamw_reference(lr=0.02, weight_decay=0.3))


def test_defaults_and_errors_match_pytorch() -> None:
    p = [lg.zeros(2, requires_grad=True)]
    assert optim.RMSprop(p).defaults == {
        "lr": 1e-2,
        "momentum": 0.0,
        "alpha": 0.99,
        "eps": 1e-8,
        "centered": False,
        "weight_decay": 0.0,
        "maximize": False,
    }
    assert optim.Adagrad(p).defaults == {
        "lr": 1e-2,
        "lr_decay": 0.0,
        "eps": 1e-10,
        "weight_decay": 0.0,
        "initial_accumulator_value": 0.0,
        "maximize": False,
    }
    with pytest.raises(ValueError, match="Invalid alpha value: -0.5"):
        optim.RMSprop(p, alpha=-0.5)
    with pytest.raises(ValueError, match="Invalid momentum value: -1"):
        optim.RMSprop(p, momentum=-1)
    with pytest.raises(ValueError, match="Invalid lr_decay value: -0.1"):
        optim.Adagrad(p, lr_decay=-0.1)
    with pytest.raises(ValueError, match="Invalid initial_accumulator_value value: -1"):
        optim.Adagrad(p, initial_accumulator_value=-1)


def test_adagrad_state_exists_from_construction_and_round_trips() -> None:
    w = lg.tensor(W0, requires_grad=True)
    opt = optim.Adagrad([w], initial_accumulator_value=0.25)
    state = opt.state_dict()["state"][0]
    assert state["step"].item() == 0
    np.testing.assert_array_equal(state["sum"].numpy(), np.full(W0.shape, 0.25, np.float32))


@pytest.mark.parametrize(
    "make",
    [
        lambda p: optim.RMSprop(p, lr=0.01, momentum=0.9, centered=True),
        lambda p: optim.Adagrad(p, lr=0.1, lr_decay=0.01),
    ],
    ids=["rmsprop", "adagrad"],
)
def test_state_dict_resumes_the_same_trajectory(make: Callable) -> None:
    full = train("cpu", make)
    w = lg.tensor(W0, requires_grad=True)
    b = lg.tensor(B0, requires_grad=True)
    x, t = lg.tensor(X), lg.tensor(T)
    opt = make([w, b])
    for step in range(STEPS):
        if step == 2:  # a fresh optimizer continues from the saved state
            saved = opt.state_dict()
            opt = make([w, b])
            opt.load_state_dict(saved)
        opt.zero_grad()
        ((x @ w.T + b - t) ** 2).mean().backward()
        opt.step()
    assert_params([w, b], [p.detach().numpy() for p in full])


def graph_signatures(opt: optim.Optimizer, params: list[lg.Tensor], steps: int, after=None):
    """The (op, shape) list of every schedule a step realizes, per step."""
    x, t = lg.tensor(X), lg.tensor(T)
    seen: list[list] = []

    def listener(schedule: object, tensors: list[lg.Tensor]) -> None:
        seen[-1].append([(n.op, n.shape) for n in toposort([x._node for x in tensors])])

    w, b = params
    schedule_listeners.append(listener)
    try:
        for _ in range(steps):
            opt.zero_grad()
            ((x @ w.T + b - t) ** 2).mean().backward()
            seen.append([])
            opt.step()
            if after is not None:
                after()
    finally:
        schedule_listeners.remove(listener)
    return seen


@pytest.mark.parametrize(
    "make",
    [
        lambda p: optim.RMSprop(p, momentum=0.5, centered=True),
        lambda p: optim.Adagrad(p, lr_decay=0.1),
        lambda p: optim.SGD(p, lr=0.1, momentum=0.9),
    ],
    ids=["rmsprop", "adagrad", "sgd+StepLR"],
)
def test_each_step_is_one_schedule_of_the_same_graph(make: Callable) -> None:
    """Constant cost per step: one schedule, the same graph every step (learning rates and
    step-dependent factors enter as buffers, so a scheduler changes values, not graphs)."""
    params = [lg.tensor(W0, requires_grad=True), lg.tensor(B0, requires_grad=True)]
    opt = make(params)
    scheduler = sched.StepLR(opt, step_size=1, gamma=0.5)
    seen = graph_signatures(opt, params, 4, after=scheduler.step)
    assert all(len(step) == 1 for step in seen)
    assert seen[1] == seen[2] == seen[3]


# ---- learning-rate schedulers ------------------------------------------------------------------
BASE = 0.1


def run_scheduler(
    make: Callable, epochs: int, groups: int = 1
) -> tuple[list[list[float]], sched.LRScheduler]:
    """get_last_lr() after construction and after each of `epochs` steps."""
    params = [
        {"params": [lg.zeros(2, requires_grad=True)], "lr": BASE * (i + 1)} for i in range(groups)
    ]
    opt = optim.SGD(params, lr=BASE, momentum=0.9)
    scheduler = make(opt)
    lrs = [scheduler.get_last_lr()]
    for _ in range(epochs):
        opt.step()
        scheduler.step()
        lrs.append(scheduler.get_last_lr())
        assert [g["lr"] for g in opt.param_groups] == lrs[-1]
    assert scheduler.last_epoch == epochs
    return lrs, scheduler


def cosine(base: float, e: int, t_max: int, eta_min: float) -> float:
    return eta_min + (base - eta_min) * (1 + math.cos(math.pi * e / t_max)) / 2


SCHEDULER_CASES = {
    "StepLR": (lambda o: sched.StepLR(o, step_size=3, gamma=0.5), lambda b, e: b * 0.5 ** (e // 3)),
    "MultiStepLR": (
        lambda o: sched.MultiStepLR(o, milestones=[2, 5, 5], gamma=0.1),
        lambda b, e: b * 0.1 ** sum(m <= e for m in [2, 5, 5]),
    ),
    "ExponentialLR": (lambda o: sched.ExponentialLR(o, gamma=0.9), lambda b, e: b * 0.9**e),
    "CosineAnnealingLR": (
        lambda o: sched.CosineAnnealingLR(o, T_max=5, eta_min=0.01),
        lambda b, e: cosine(b, e, 5, 0.01),  # continues as a cosine wave past T_max
    ),
    "LambdaLR": (lambda o: sched.LambdaLR(o, lambda e: 1 / (e + 1)), lambda b, e: b / (e + 1)),
}


@pytest.mark.parametrize("name", list(SCHEDULER_CASES))
def test_scheduler_follows_pytorch_formula(name: str) -> None:
    make, formula = SCHEDULER_CASES[name]
    lrs, scheduler = run_scheduler(make, 14, groups=2)
    assert scheduler.base_lrs == [BASE, 2 * BASE]
    for e, got in enumerate(lrs):
        np.testing.assert_allclose(
            got, [formula(BASE, e), formula(2 * BASE, e)], rtol=1e-9, atol=1e-15
        )


@pytest.mark.parametrize("name", list(SCHEDULER_CASES))
def test_scheduler_state_dict_resumes(name: str) -> None:
    make, _ = SCHEDULER_CASES[name]
    full, _ = run_scheduler(make, 10)
    opt = optim.SGD([lg.zeros(2, requires_grad=True)], lr=BASE, momentum=0.9)
    first = make(opt)
    for _ in range(4):
        first.step()
    state = first.state_dict()
    assert "optimizer" not in state and state["last_epoch"] == 4
    second = make(opt)  # a new scheduler on the same optimizer, then its saved state
    second.load_state_dict(state)
    lrs = []
    for _ in range(6):
        second.step()
        lrs.append(second.get_last_lr())
    np.testing.assert_allclose(lrs, full[5:], rtol=1e-12)


def test_lambda_lr_per_group_and_errors() -> None:
    lrs, _ = run_scheduler(lambda o: sched.LambdaLR(o, [lambda e: 0.5**e, lambda e: e + 1]), 4, 2)
    assert lrs == [[BASE * 0.5**e, 2 * BASE * (e + 1)] for e in range(5)]
    opt = optim.SGD([lg.zeros(1, requires_grad=True)], lr=BASE)
    with pytest.raises(ValueError, match="Expected 1 lr_lambdas, but got 2"):
        sched.LambdaLR(opt, [lambda e: 1, lambda e: 1])
    with pytest.raises(TypeError, match="list is not an Optimizer"):
        sched.StepLR([], 1)
    with pytest.raises(KeyError, match=r"param 'initial_lr' is not specified in param_groups\[0\]"):
        sched.ExponentialLR(opt, 0.5, last_epoch=3)


def one_cycle_reference(
    step: int, total: int, max_lr: float, pct: float, div: float, final_div: float, strategy: str
) -> tuple[float, float]:
    """PyTorch's documented 1cycle (two phases): (lr, momentum) at `step`."""
    initial, low, high = max_lr / div, 0.85, 0.95
    minimum = initial / final_div
    up_end = pct * total - 1

    def anneal(start: float, end: float, frac: float) -> float:
        if strategy == "cos":
            return end + (start - end) / 2 * (1 + math.cos(math.pi * frac))
        return start + (end - start) * frac

    if step <= up_end:
        frac = step / up_end
        return anneal(initial, max_lr, frac), anneal(high, low, frac)
    frac = (step - up_end) / (total - 1 - up_end)
    return anneal(max_lr, minimum, frac), anneal(low, high, frac)


@pytest.mark.parametrize("strategy", ["cos", "linear"])
def test_one_cycle_lr_and_momentum(strategy: str) -> None:
    opt = optim.SGD([lg.zeros(2, requires_grad=True)], lr=0.5, momentum=0.9)
    scheduler = sched.OneCycleLR(opt, max_lr=1.0, total_steps=20, anneal_strategy=strategy)
    for step in range(20):
        want_lr, want_m = one_cycle_reference(step, 20, 1.0, 0.3, 25.0, 1e4, strategy)
        assert math.isclose(scheduler.get_last_lr()[0], want_lr, rel_tol=1e-12)
        assert math.isclose(opt.param_groups[0]["momentum"], want_m, rel_tol=1e-12)
        opt.step()
        if step < 19:
            scheduler.step()
    scheduler.step()  # step 20 == total_steps is allowed, one more is not
    with pytest.raises(
        ValueError, match="Tried to step 21 times. The specified number of total steps is 20"
    ):
        scheduler.step()


def test_one_cycle_three_phase_and_adam_beta1() -> None:
    opt = optim.Adam([lg.zeros(2, requires_grad=True)], betas=(0.9, 0.99))
    scheduler = sched.OneCycleLR(opt, max_lr=0.01, epochs=2, steps_per_epoch=5, three_phase=True)
    initial, minimum = 0.01 / 25, 0.01 / 25 / 1e4
    ends = [0.3 * 10 - 1, 2 * 0.3 * 10 - 2, 9]  # phase ends: up, down to initial_lr, anneal

    def cos_anneal(start: float, end: float, frac: float) -> float:
        return end + (start - end) / 2 * (1 + math.cos(math.pi * frac))

    for step in range(10):
        if step <= ends[0]:
            f = step / ends[0]
            want = (cos_anneal(initial, 0.01, f), cos_anneal(0.95, 0.85, f))
        elif step <= ends[1]:
            f = (step - ends[0]) / (ends[1] - ends[0])
            want = (cos_anneal(0.01, initial, f), cos_anneal(0.85, 0.95, f))
        else:
            f = (step - ends[1]) / (ends[2] - ends[1])
            want = (cos_anneal(initial, minimum, f), 0.95)
        assert math.isclose(scheduler.get_last_lr()[0], want[0], rel_tol=1e-12)
        assert math.isclose(opt.param_groups[0]["betas"][0], want[1], rel_tol=1e-12)
        assert opt.param_groups[0]["betas"][1] == 0.99
        scheduler.step()


def test_one_cycle_errors() -> None:
    opt = optim.SGD([lg.zeros(1, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="You must define either total_steps OR"):
        sched.OneCycleLR(opt, max_lr=1.0)
    with pytest.raises(ValueError, match="Expected positive integer total_steps, but got 0"):
        sched.OneCycleLR(opt, max_lr=1.0, total_steps=0)
    with pytest.raises(ValueError, match="anneal_strategy must be one of 'cos' or 'linear'"):
        sched.OneCycleLR(opt, max_lr=1.0, total_steps=5, anneal_strategy="step")
    with pytest.raises(
        ValueError, match="max_lr must have the same length as optimizer.param_groups"
    ):
        sched.OneCycleLR(opt, max_lr=[1.0, 2.0], total_steps=5)


PLATEAU_METRICS = [1.0, 0.9, 0.95, 0.95, 0.95, 0.8, 0.85, 0.85, 0.85, 0.85, 0.85]


@pytest.mark.parametrize(
    "kwargs,expected",
    [
        # 3 bad epochs > patience 2 -> halve; cooldown 1 swallows the next bad epoch
        (
            {"factor": 0.5, "patience": 2, "cooldown": 1},
            [1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25],
        ),
        (
            {"factor": 0.5, "patience": 2, "cooldown": 1, "min_lr": 0.3},
            [1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.3, 0.3, 0.3],
        ),
        # 'max' mode: every value after 1.0 is worse; reductions after 2 bad epochs each time
        (
            {"mode": "max", "factor": 0.1, "patience": 1},
            [1, 1, 0.1, 0.1, 0.01, 0.01, 0.001, 0.001, 1e-4, 1e-4, 1e-5],
        ),
        # 'abs' threshold 0.1: 0.9 is not better than 1.0 - 0.1; 0.8 is
        (
            {"threshold": 0.1, "threshold_mode": "abs", "patience": 3, "factor": 0.5},
            [1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25],
        ),
    ],
)
def test_reduce_lr_on_plateau(kwargs: dict, expected: list[float]) -> None:
    opt = optim.SGD([lg.zeros(1, requires_grad=True)], lr=1.0)
    scheduler = sched.ReduceLROnPlateau(opt, **kwargs)
    assert scheduler.last_epoch == 0 and scheduler.get_last_lr() == [1.0]
    got = []
    for metric in PLATEAU_METRICS:
        scheduler.step(lg.tensor(metric, dtype=lg.float64))  # a 0-d tensor, as losses are
        got.append(scheduler.get_last_lr()[0])
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert scheduler.last_epoch == len(PLATEAU_METRICS)
    restored = sched.ReduceLROnPlateau(opt)
    restored.load_state_dict(scheduler.state_dict())
    assert (restored.best, restored.num_bad_epochs, restored.mode) == (
        scheduler.best,
        scheduler.num_bad_epochs,
        scheduler.mode,
    )


def test_reduce_lr_on_plateau_errors() -> None:
    opt = optim.SGD([lg.zeros(1, requires_grad=True)], lr=1.0)
    with pytest.raises(ValueError, match="Factor should be < 1.0."):
        sched.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="mode avg is unknown!"):
        sched.ReduceLROnPlateau(opt, mode="avg")
    with pytest.raises(ValueError, match="expected 1 min_lrs, got 2"):
        sched.ReduceLROnPlateau(opt, min_lr=[0.1, 0.2])


# ---- lg.utils.data ---------------------------------------------------------------------------
class SeededGenerator:
    """The part of torch.Generator the data utilities use: manual_seed / initial_seed."""

    def __init__(self) -> None:
        self.seed = 0

    def manual_seed(self, seed: int) -> SeededGenerator:
        self.seed = seed
        return self

    def initial_seed(self) -> int:
        return self.seed


XS = np.arange(30, dtype=np.float32).reshape(10, 3)
YS = np.arange(10, dtype=np.int64) * 10


def rows_of(batches: list) -> list[int]:
    return [int(v) for xb, yb in batches for v in yb.numpy() // 10]


@pytest.mark.parametrize("drop_last,sizes", [(False, [4, 4, 2]), (True, [4, 4])])
def test_dataloader_batches_in_order(device: str, drop_last: bool, sizes: list[int]) -> None:
    ds = data.TensorDataset(lg.tensor(XS, device=device), lg.tensor(YS, device=device))
    assert len(ds) == 10
    x3, y3 = ds[3]
    np.testing.assert_array_equal(x3.numpy(), XS[3])
    loader = data.DataLoader(ds, batch_size=4, drop_last=drop_last)
    batches = list(loader)
    assert len(loader) == len(sizes) and [len(b[1]) for b in batches] == sizes
    start = 0
    for (xb, yb), size in zip(batches, sizes, strict=True):
        assert isinstance(xb, lg.Tensor) and xb.device == lg.device(device)
        np.testing.assert_array_equal(xb.numpy(), XS[start : start + size])
        np.testing.assert_array_equal(yb.numpy(), YS[start : start + size])
        start += size


def test_tensor_dataset_gather_equals_stacked_rows() -> None:
    ds = data.TensorDataset(lg.tensor(XS), lg.tensor(YS))
    fast = data.DataLoader(
        ds, batch_size=3, shuffle=True, generator=SeededGenerator().manual_seed(1)
    )
    slow = data.DataLoader(
        ds,
        batch_size=3,
        shuffle=True,
        generator=SeededGenerator().manual_seed(1),
        collate_fn=lambda batch: data.default_collate(batch),
    )
    for (xf, yf), (xs, ys) in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(xf.numpy(), xs.numpy())
        np.testing.assert_array_equal(yf.numpy(), ys.numpy())
    with pytest.raises(AssertionError, match="Size mismatch between tensors"):
        data.TensorDataset(lg.zeros(3), lg.zeros(4))


def test_shuffle_is_a_permutation_reproducible_and_new_each_epoch() -> None:
    ds = data.TensorDataset(lg.tensor(XS), lg.tensor(YS))
    gen = SeededGenerator().manual_seed(7)
    loader = data.DataLoader(ds, batch_size=4, shuffle=True, generator=gen)
    first, second = rows_of(list(loader)), rows_of(list(loader))
    assert sorted(first) == sorted(second) == list(range(10))
    assert first != second  # reshuffled every pass
    again = data.DataLoader(
        ds, batch_size=4, shuffle=True, generator=SeededGenerator().manual_seed(7)
    )
    assert rows_of(list(again)) == first
    lg.manual_seed(3)
    unseeded = rows_of(list(data.DataLoader(ds, batch_size=5, shuffle=True)))
    lg.manual_seed(3)
    assert rows_of(list(data.DataLoader(ds, batch_size=5, shuffle=True))) == unseeded


class Records(data.Dataset):
    Point = namedtuple("Point", "x y")

    def __len__(self) -> int:
        return 5

    def __getitem__(self, i: int) -> dict:
        return {
            "image": np.full((2, 2), i, np.float32),
            "label": i,
            "weight": i / 2,
            "name": f"r{i}",
            "pair": (np.int32(i), [i, -i]),
            "point": self.Point(float(i), True),
        }


def test_default_collation_of_dicts_tuples_numbers_and_arrays() -> None:
    batch = next(iter(data.DataLoader(Records(), batch_size=3)))
    check = lambda t, values, dtype: (  # noqa: E731
        isinstance(t, lg.Tensor)
        and t.dtype.name == dtype
        and np.array_equal(t.numpy(), np.asarray(values))
    )
    assert set(batch) == {"image", "label", "weight", "name", "pair", "point"}
    assert check(batch["image"], [np.full((2, 2), i, np.float32) for i in range(3)], "float32")
    assert check(batch["label"], [0, 1, 2], "int64")
    assert check(batch["weight"], [0.0, 0.5, 1.0], "float64")
    assert batch["name"] == ["r0", "r1", "r2"]
    pair = batch["pair"]
    assert isinstance(pair, list) and check(pair[0], [0, 1, 2], "int32")  # tuples -> list
    assert check(pair[1][0], [0, 1, 2], "int64") and check(pair[1][1], [0, -1, -2], "int64")
    assert isinstance(batch["point"], Records.Point)
    assert check(batch["point"].x, [0.0, 1.0, 2.0], "float64")
    assert check(batch["point"].y, [True, True, True], "bool")
    with pytest.raises(TypeError, match="default_collate: batch must contain tensors"):
        data.default_collate([object(), object()])
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal size"):
        data.default_collate([[1, 2], [3]])


def test_collate_fn_samplers_and_no_batching() -> None:
    ds = data.TensorDataset(lg.tensor(XS), lg.tensor(YS))
    sums = list(data.DataLoader(ds, batch_size=5, collate_fn=lambda b: sum(int(y) for _, y in b)))
    assert sums == [sum(YS[:5]), sum(YS[5:])]
    batches = list(data.DataLoader(ds, batch_sampler=[[9, 0], [4]]))
    assert rows_of(batches) == [9, 0, 4]
    sampler = data.SubsetRandomSampler([1, 3, 5], generator=np.random.default_rng(0))
    assert sorted(rows_of(list(data.DataLoader(ds, batch_size=2, sampler=sampler)))) == [1, 3, 5]
    single = list(data.DataLoader(ds, batch_size=None))
    assert len(single) == 10 and single[2][0].shape == (3,)
    with pytest.raises(ValueError, match="sampler option is mutually exclusive with shuffle"):
        data.DataLoader(ds, sampler=data.SequentialSampler(ds), shuffle=True)
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        data.DataLoader(ds, batch_size=2, batch_sampler=[[0]])
    with pytest.raises(ValueError, match="batch_size=None option disables auto-batching"):
        data.DataLoader(ds, batch_size=None, drop_last=True)


def test_batch_and_random_samplers() -> None:
    batches = list(data.BatchSampler(data.SequentialSampler(range(7)), 3, drop_last=False))
    assert batches == [[0, 1, 2], [3, 4, 5], [6]]
    assert len(data.BatchSampler(range(7), 3, drop_last=True)) == 2
    with pytest.raises(ValueError, match="batch_size should be a positive integer value"):
        data.BatchSampler(range(3), 0, False)
    with pytest.raises(ValueError, match="drop_last should be a boolean value"):
        data.BatchSampler(range(3), 2, 1)
    draws = list(
        data.RandomSampler(
            range(4), replacement=True, num_samples=50, generator=np.random.default_rng(1)
        )
    )
    assert len(draws) == 50 and set(draws) <= {0, 1, 2, 3}
    longer = list(data.RandomSampler(range(4), num_samples=10, generator=np.random.default_rng(2)))
    assert sorted(longer[:4]) == sorted(longer[4:8]) == [0, 1, 2, 3] and len(longer) == 10
    with pytest.raises(ValueError, match="num_samples should be a positive integer value"):
        data.RandomSampler(range(4), num_samples=0)


class Stream(data.IterableDataset):
    def __iter__(self):
        return iter(range(7))


def test_iterable_dataset_and_concat() -> None:
    batches = list(data.DataLoader(Stream(), batch_size=3))
    assert [b.numpy().tolist() for b in batches] == [[0, 1, 2], [3, 4, 5], [6]]
    both = data.TensorDataset(lg.tensor(XS[:4])) + data.TensorDataset(lg.tensor(XS[4:]))
    assert len(both) == 10
    np.testing.assert_array_equal(both[5][0].numpy(), XS[5])
    np.testing.assert_array_equal(both[-1][0].numpy(), XS[9])


@pytest.mark.parametrize(
    "lengths,sizes",
    [([3, 7], [3, 7]), ([0.3, 0.7], [3, 7]), ([0.33, 0.33, 0.34], [4, 3, 3]), ([0.5, 0.5], [5, 5])],
)
def test_random_split(lengths: list, sizes: list[int]) -> None:
    ds = data.TensorDataset(lg.tensor(XS), lg.tensor(YS))
    parts = data.random_split(ds, lengths, generator=SeededGenerator().manual_seed(42))
    assert [len(p) for p in parts] == sizes
    indices = [i for p in parts for i in p.indices]
    assert sorted(indices) == list(range(10))
    again = data.random_split(ds, lengths, generator=SeededGenerator().manual_seed(42))
    assert [p.indices for p in again] == [p.indices for p in parts]
    for part in parts:  # a Subset batches the rows it picked, in its order
        if len(part):
            got = rows_of(list(data.DataLoader(part, batch_size=2)))
            assert got == list(part.indices)


def test_random_split_errors() -> None:
    ds = data.TensorDataset(lg.tensor(XS))
    with pytest.raises(ValueError, match="Sum of input lengths does not equal the length"):
        data.random_split(ds, [3, 3])
    with pytest.raises(ValueError, match="Fraction at index 1 is not between 0 and 1"):
        data.random_split(ds, [0.5, 1.5, -1.0])
    with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
        data.random_split(ds, [1.0, 0.0])


# ---- lg.cuda, lg.accelerator -------------------------------------------------------------------
def opencl_gpu_count() -> int:
    """OpenCL devices of type GPU, counted with pyopencl directly."""
    try:
        import pyopencl as cl

        return sum(
            bool(d.type & cl.device_type.GPU) for p in cl.get_platforms() for d in p.get_devices()
        )
    except Exception:
        return 0


def test_cuda_and_accelerator_answer_for_opencl_gpus() -> None:
    gpus = opencl_gpu_count()
    assert lg.cuda.device_count() == lg.accelerator.device_count() == gpus
    assert lg.cuda.is_available() == lg.accelerator.is_available() == (gpus > 0)
    current = lg.accelerator.current_accelerator()
    if gpus:
        assert current == lg.device("cuda") and current.type == "opencl"
        assert isinstance(lg.cuda.get_device_name(0), str)
    else:
        assert current is None and lg.accelerator.current_accelerator(check_available=True) is None
        with pytest.raises(RuntimeError, match="No CUDA GPUs are available"):
            lg.cuda.get_device_name()
    # safe with or without a GPU
    lg.cuda.synchronize()
    lg.accelerator.synchronize()
    lg.cuda.empty_cache()
    lg.cuda.manual_seed(4)
    a = lg.rand(3).numpy()
    lg.cuda.manual_seed_all(4)
    np.testing.assert_array_equal(lg.rand(3).numpy(), a)


def test_generator_seeds_the_data_utilities_reproducibly() -> None:
    """`lg.Generator().manual_seed(s)`, as PyTorch programs pass to random_split."""
    g = lg.Generator().manual_seed(42)
    assert g.initial_seed() == 42 and isinstance(g.seed(), int)
    split = [lg.utils.data.random_split(range(10), [0.7, 0.3], lg.Generator().manual_seed(1))]
    again = lg.utils.data.random_split(range(10), [0.7, 0.3], lg.Generator().manual_seed(1))
    assert [list(s) for s in split[0]] == [list(s) for s in again]
    assert sorted(list(split[0][0]) + list(split[0][1])) == list(range(10))
