"""The nn API of issue 16: new layers, activations, losses, containers, attention, recurrent
layers, interpolation and nn.utils, against NumPy references written here by hand (on both
devices), float64 central differences for gradients, and PyTorch's documented names
(state_dict keys, defaults, error messages)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from conftest import check, finite_differences

import lazygrad as lg
import lazygrad.nn as nn
import lazygrad.nn.functional as F

RNG = np.random.default_rng(16)
FD = {"rtol": 1e-6, "atol": 1e-8}
LOOSE = {"rtol": 1e-4, "atol": 1e-5}


def rnd(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def t(a: np.ndarray, device: str = "cpu", grad: bool = False) -> lg.Tensor:
    return lg.tensor(a, device=device, requires_grad=grad)


def val(x: lg.Tensor) -> np.ndarray:
    return x.detach().numpy()


def load(module: nn.Module, **values: np.ndarray) -> None:
    """Set parameters/buffers of `module` by state_dict key."""
    module.load_state_dict(
        {k.replace("__", "."): lg.tensor(v) for k, v in values.items()}, strict=False
    )


def grad_matches_fd(fn: Callable[[lg.Tensor], lg.Tensor], a: np.ndarray, device: str) -> None:
    x = lg.tensor(a, dtype=lg.float64, device=device, requires_grad=True)
    fn(x).sum().backward()
    check(x.grad, finite_differences(fn, a, device), **FD)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(x - x.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


def layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


# ---- activations ----------------------------------------------------------------------------
ACT_X = np.array([-30.0, -3.0, -0.5, 0.0, 0.25, 2.0, 19.0, 25.0], np.float32)


@pytest.mark.parametrize(
    ("module", "fn", "ref"),
    [
        (nn.LeakyReLU(), lambda x: F.leaky_relu(x), lambda x: np.where(x > 0, x, 0.01 * x)),
        (
            nn.LeakyReLU(0.2),
            lambda x: F.leaky_relu(x, 0.2),
            lambda x: np.where(x > 0, x, 0.2 * x),
        ),
        (nn.ELU(), lambda x: F.elu(x), lambda x: np.where(x > 0, x, np.exp(x) - 1)),
        (
            nn.ELU(alpha=0.5),
            lambda x: F.elu(x, 0.5),
            lambda x: np.where(x > 0, x, 0.5 * (np.exp(np.minimum(x, 0)) - 1)),
        ),
        (nn.SiLU(), lambda x: F.silu(x), lambda x: x * sigmoid(x)),
        (
            nn.Softplus(),
            lambda x: F.softplus(x),
            lambda x: np.where(x > 20, x, np.log1p(np.exp(x))),
        ),
        (
            nn.Softplus(beta=2.0, threshold=10.0),
            lambda x: F.softplus(x, 2.0, 10.0),
            lambda x: np.where(2 * x > 10, x, np.log1p(np.exp(2 * x)) / 2),
        ),
        (nn.LogSigmoid(), lambda x: F.logsigmoid(x), lambda x: -np.log1p(np.exp(-x))),
    ],
)
def test_activation_values(device: str, module: nn.Module, fn: Callable, ref: Callable) -> None:
    x64 = ACT_X.astype(np.float64)
    with np.errstate(over="ignore"):
        expected = ref(x64).astype(np.float32)
    check(module(t(ACT_X, device)), expected, atol=1e-6)
    check(fn(t(ACT_X, device)), expected, atol=1e-6)


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: F.leaky_relu(x, 0.1),
        lambda x: F.elu(x, 0.7),
        F.silu,
        F.softplus,
        lambda x: F.softplus(x, 0.5, 3.0),
        F.logsigmoid,
    ],
)
def test_activation_gradients_match_finite_differences(device: str, fn: Callable) -> None:
    grad_matches_fd(fn, np.array([-4.0, -1.3, -0.2, 0.3, 1.7, 5.0]), device)


def test_activation_gradients_at_zero_and_far_out(device: str) -> None:
    x = np.array([0.0, -200.0, 200.0], np.float32)
    for fn, expected in [
        (F.softplus, [0.5, 0.0, 1.0]),
        (F.logsigmoid, [0.5, 1.0, 0.0]),
        (lambda v: F.elu(v, 2.0), [2.0, 0.0, 1.0]),
        (lambda v: F.leaky_relu(v, 0.1), [0.1, 0.1, 1.0]),
    ]:
        xt = t(x, device, grad=True)
        fn(xt).sum().backward()
        check(xt.grad, np.array(expected, np.float32))


def test_activation_reprs_and_defaults() -> None:
    assert repr(nn.LeakyReLU()) == "LeakyReLU(negative_slope=0.01)"
    assert repr(nn.ELU()) == "ELU(alpha=1.0)"
    assert repr(nn.Softplus()) == "Softplus(beta=1.0, threshold=20.0)"
    assert repr(nn.SiLU()) == "SiLU()"
    assert nn.LeakyReLU().negative_slope == 0.01


# ---- BatchNorm ------------------------------------------------------------------------------
def bn_train_ref(x: np.ndarray, eps: float = 1e-5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    axes = (0, *range(2, x.ndim))
    mean = x.mean(axes)
    var = x.var(axes)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    out = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
    n = x.size // x.shape[1]
    return out, mean, var * n / (n - 1)


def test_batchnorm2d_train_updates_running_stats_then_eval_uses_them(device: str) -> None:
    bn = nn.BatchNorm2d(3).to(device)
    w, b = np.array([1.0, 2.0, -1.0], np.float32), np.array([0.0, 0.5, 1.0], np.float32)
    load(bn, weight=w, bias=b)
    x1, x2 = rnd(4, 3, 2, 5) * 3 + 1, rnd(2, 3, 3, 3)
    rm, rv = np.zeros(3), np.ones(3)
    for x in (x1, x2):
        out, mean, unbiased = bn_train_ref(x.astype(np.float64))
        check(
            bn(t(x, device)),
            (out * w.reshape(1, 3, 1, 1) + b.reshape(1, 3, 1, 1)).astype(np.float32),
            **LOOSE,
        )
        rm, rv = 0.9 * rm + 0.1 * mean, 0.9 * rv + 0.1 * unbiased
    check(bn.running_mean, rm.astype(np.float32), **LOOSE)
    check(bn.running_var, rv.astype(np.float32), **LOOSE)
    check(bn.num_batches_tracked, np.array(2, np.int64))
    bn.eval()
    x3 = rnd(2, 3, 2, 2)
    shape = (1, 3, 1, 1)
    expected = (x3 - rm.reshape(shape)) / np.sqrt(rv.reshape(shape) + 1e-5)
    check(
        bn(t(x3, device)),
        (expected * w.reshape(shape) + b.reshape(shape)).astype(np.float32),
        **LOOSE,
    )
    check(bn.num_batches_tracked, np.array(2, np.int64))  # eval does not count


def test_batchnorm1d_2d_and_3d_input_and_cumulative_average(device: str) -> None:
    bn = nn.BatchNorm1d(4, momentum=None, affine=False).to(device)
    xs = [rnd(5, 4), rnd(3, 4, 2)]
    unbiased = []
    for x in xs:
        out, _, var = bn_train_ref(x.astype(np.float64))
        check(bn(t(x, device)), out.astype(np.float32), **LOOSE)
        unbiased.append(var)
    # momentum=None: the plain average of the batches' statistics
    check(bn.running_var, ((unbiased[0] + unbiased[1]) / 2).astype(np.float32), **LOOSE)
    assert bn.weight is None and bn.bias is None


def test_batchnorm_without_running_stats_always_uses_the_batch(device: str) -> None:
    bn = nn.BatchNorm1d(2, track_running_stats=False).to(device)
    assert list(bn.state_dict()) == ["weight", "bias"]
    bn.eval()
    x = rnd(6, 2)
    check(bn(t(x, device)), bn_train_ref(x.astype(np.float64))[0].astype(np.float32), **LOOSE)


def test_batchnorm_names_defaults_and_errors() -> None:
    bn = nn.BatchNorm2d(3)
    assert list(bn.state_dict()) == [
        "weight",
        "bias",
        "running_mean",
        "running_var",
        "num_batches_tracked",
    ]
    assert [n for n, _ in bn.named_parameters()] == ["weight", "bias"]
    assert bn.num_batches_tracked.dtype == lg.int64
    np.testing.assert_array_equal(val(bn.weight), np.ones(3))
    np.testing.assert_array_equal(val(bn.running_var), np.ones(3))
    assert (bn.eps, bn.momentum, bn.affine, bn.track_running_stats) == (1e-5, 0.1, True, True)
    assert (
        repr(bn) == "BatchNorm2d(3, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)"
    )
    with pytest.raises(ValueError, match=r"expected 4D input \(got 3D input\)"):
        bn(lg.ones(2, 3, 4))
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input\)"):
        nn.BatchNorm1d(3)(lg.ones(2, 3, 4, 4))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        nn.BatchNorm1d(3)(lg.ones(1, 3))
    nn.BatchNorm1d(3).eval()(lg.ones(1, 3))  # fine in eval mode


def test_batch_norm_gradient_matches_finite_differences(device: str) -> None:
    w = lg.tensor([1.5, -0.5], dtype=lg.float64, device=device)
    b = lg.tensor([0.1, 0.2], dtype=lg.float64, device=device)
    coeff = lg.tensor(RNG.standard_normal((3, 2, 2)), device=device)
    a = RNG.standard_normal((3, 2, 2))
    grad_matches_fd(lambda x: F.batch_norm(x, None, None, w, b, True) * coeff, a, device)


# ---- GroupNorm ------------------------------------------------------------------------------
def test_group_norm_values_and_gradient(device: str) -> None:
    x = rnd(2, 6, 3)
    w, b = rnd(6), rnd(6)
    gn = nn.GroupNorm(3, 6).to(device)
    load(gn, weight=w, bias=b)
    g = x.astype(np.float64).reshape(2, 3, -1)
    norm = (g - g.mean(-1, keepdims=True)) / np.sqrt(g.var(-1, keepdims=True) + 1e-5)
    expected = norm.reshape(x.shape) * w.reshape(1, 6, 1) + b.reshape(1, 6, 1)
    check(gn(t(x, device)), expected.astype(np.float32), **LOOSE)
    coeff = lg.tensor(RNG.standard_normal((2, 4, 2)), device=device)
    grad_matches_fd(lambda v: F.group_norm(v, 2) * coeff, RNG.standard_normal((2, 4, 2)), device)


def test_group_norm_names_and_errors() -> None:
    gn = nn.GroupNorm(2, 4)
    assert list(gn.state_dict()) == ["weight", "bias"]
    assert repr(gn) == "GroupNorm(2, 4, eps=1e-05, affine=True)"
    with pytest.raises(ValueError, match="num_channels must be divisible by num_groups"):
        nn.GroupNorm(3, 4)
    with pytest.raises(RuntimeError, match="divisible by num_groups"):
        F.group_norm(lg.ones(2, 5, 2), 2)
    assert list(nn.GroupNorm(2, 4, affine=False).state_dict()) == []


# ---- Conv1d ---------------------------------------------------------------------------------
def conv1d_ref(x, w, b, stride=1, padding=0, dilation=1, groups=1):
    n, c, length = x.shape
    out_ch, group_ch, k = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding)))
    out_len = (length + 2 * padding - dilation * (k - 1) - 1) // stride + 1
    out = np.zeros((n, out_ch, out_len))
    per_group = out_ch // groups
    for o in range(out_ch):
        g = o // per_group
        for i in range(out_len):
            for j in range(k):
                pos = i * stride + j * dilation
                out[:, o, i] += (xp[:, g * group_ch : (g + 1) * group_ch, pos] * w[o, :, j]).sum(1)
    return out + (0 if b is None else b.reshape(1, -1, 1))


@pytest.mark.parametrize(
    ("stride", "padding", "dilation", "groups", "bias"),
    [(1, 0, 1, 1, True), (2, 1, 1, 1, False), (1, 2, 2, 2, True), (1, "same", 1, 1, True)],
)
def test_conv1d_values(device, stride, padding, dilation, groups, bias) -> None:
    conv = nn.Conv1d(4, 6, 3, stride, padding, dilation, groups, bias).to(device)
    x = rnd(2, 4, 9)
    w, b = val(conv.weight), (val(conv.bias) if bias else None)
    pad = 1 if padding == "same" else padding
    check(
        conv(t(x, device)),
        conv1d_ref(x, w, b, stride, pad, dilation, groups).astype(np.float32),
        **LOOSE,
    )
    # unbatched (C, L)
    check(
        F.conv1d(t(x[0], device), conv.weight.detach(), None, stride, padding, dilation, groups),
        conv1d_ref(x[:1], w, None, stride, pad, dilation, groups)[0].astype(np.float32),
        **LOOSE,
    )


def test_conv1d_names_init_and_errors() -> None:
    conv = nn.Conv1d(4, 6, 3, groups=2)
    assert tuple(conv.weight.shape) == (6, 2, 3) and tuple(conv.bias.shape) == (6,)
    assert list(conv.state_dict()) == ["weight", "bias"]
    assert conv.kernel_size == (3,) and conv.stride == (1,) and conv.padding == (0,)
    bound = 1 / math.sqrt(2 * 3)  # kaiming_uniform(a=√5) and the bias: both 1/√fan_in
    assert np.abs(val(conv.weight)).max() <= bound and np.abs(val(conv.bias)).max() <= bound
    assert repr(nn.Conv1d(2, 3, 5, stride=2)) == "Conv1d(2, 3, kernel_size=(5,), stride=(2,))"
    with pytest.raises(RuntimeError, match="Expected 2D \\(unbatched\\) or 3D \\(batched\\)"):
        conv(lg.ones(1, 2, 4, 3, 3))
    with pytest.raises(RuntimeError, match="to have 4 channels, but got 3 channels instead"):
        conv(lg.ones(1, 3, 8))


def test_conv1d_gradient_matches_finite_differences(device: str) -> None:
    w = lg.tensor(RNG.standard_normal((2, 3, 2)), device=device)
    grad_matches_fd(
        lambda x: F.conv1d(x, w, None, 2, 1) ** 2, RNG.standard_normal((1, 3, 5)), device
    )


# ---- Dropout2d / Dropout1d ------------------------------------------------------------------
def test_dropout2d_zeroes_whole_channels_and_scales_the_rest(device: str) -> None:
    lg.manual_seed(0)
    drop = nn.Dropout2d(p=0.5)
    out = val(drop(lg.ones(8, 16, 3, 4, device=device)))
    per_channel = out.reshape(8, 16, -1)
    assert np.all((per_channel == 0).all(-1) | (per_channel == 2.0).all(-1))
    assert 0.2 < (per_channel[..., 0] == 0).mean() < 0.8
    drop.eval()
    check(drop(lg.ones(2, 3, 2, 2, device=device)), np.ones((2, 3, 2, 2), np.float32))
    lg.manual_seed(1)
    out1 = val(nn.Dropout1d(0.5)(lg.ones(4, 8, 5, device=device)))
    assert np.all((out1 == 0).all(-1) | (out1 == 2.0).all(-1))
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
        nn.Dropout2d(1.5)
    assert repr(nn.Dropout2d()) == "Dropout2d(p=0.5, inplace=False)"


# ---- losses ---------------------------------------------------------------------------------
def reduce_ref(loss: np.ndarray, reduction: str) -> np.ndarray:
    return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_elementwise_loss_values(device: str, reduction: str) -> None:
    x, y = rnd(3, 4), rnd(3, 4)
    p = sigmoid(rnd(3, 4).astype(np.float64))
    target = (RNG.random((3, 4)) > 0.5).astype(np.float64)
    w = RNG.random((3, 4)) + 0.5
    d = (x - y).astype(np.float64)
    cases = [
        (nn.L1Loss(reduction=reduction), (x, y), np.abs(d)),
        (
            nn.SmoothL1Loss(reduction=reduction),
            (x, y),
            np.where(np.abs(d) < 1, 0.5 * d * d, np.abs(d) - 0.5),
        ),
        (
            nn.SmoothL1Loss(reduction=reduction, beta=0.5),
            (x, y),
            np.where(np.abs(d) < 0.5, d * d, np.abs(d) - 0.25),
        ),
        (
            nn.HuberLoss(reduction=reduction, delta=0.5),
            (x, y),
            np.where(np.abs(d) < 0.5, 0.5 * d * d, 0.5 * (np.abs(d) - 0.25)),
        ),
        (
            nn.BCELoss(reduction=reduction),
            (p, target),
            -(target * np.log(p) + (1 - target) * np.log(1 - p)),
        ),
        (
            nn.BCELoss(weight=lg.tensor(w, dtype=lg.float32, device=device), reduction=reduction),
            (p, target),
            -w * (target * np.log(p) + (1 - target) * np.log(1 - p)),
        ),
        (
            nn.BCEWithLogitsLoss(reduction=reduction),
            (x, target),
            -(target * np.log(sigmoid(x)) + (1 - target) * np.log(1 - sigmoid(x))),
        ),
    ]
    for module, (a, b), expected in cases:
        got = module(t(a.astype(np.float32), device), t(b.astype(np.float32), device))
        check(got, reduce_ref(expected, reduction).astype(np.float32), **LOOSE)


def test_bce_with_logits_pos_weight_and_weight(device: str) -> None:
    x, y = rnd(4, 3), (RNG.random((4, 3)) > 0.5).astype(np.float32)
    pw, w = np.array([1.0, 2.0, 0.5], np.float32), RNG.random((4, 3)).astype(np.float32)
    s = sigmoid(x.astype(np.float64))
    expected = -w * (pw * y * np.log(s) + (1 - y) * np.log(1 - s))
    got = F.binary_cross_entropy_with_logits(
        t(x, device), t(y, device), t(w, device), pos_weight=t(pw, device), reduction="sum"
    )
    check(got, np.float32(expected.sum()), **LOOSE)
    loss = nn.BCEWithLogitsLoss(pos_weight=t(pw, device))
    assert list(loss.state_dict()) == ["pos_weight"]


def test_bce_stays_finite_at_the_extremes(device: str) -> None:
    big = t(np.array([-200.0, 200.0, 0.0], np.float32), device, grad=True)
    y = t(np.array([1.0, 0.0, 1.0], np.float32), device)
    loss = F.binary_cross_entropy_with_logits(big, y, reduction="none")
    check(loss, np.array([200.0, 200.0, math.log(2)], np.float32))
    loss.sum().backward()
    check(big.grad, np.array([-1.0, 1.0, -0.5], np.float32))
    # probabilities exactly 0 and 1: each log is clamped at -100
    p = t(np.array([0.0, 1.0, 1.0], np.float32), device)
    check(F.binary_cross_entropy(p, y, reduction="none"), np.array([100.0, 100.0, 0.0], np.float32))


@pytest.mark.parametrize(
    ("reduction", "log_target"), [("batchmean", False), ("sum", True), ("none", False)]
)
def test_kl_div_values(device: str, reduction: str, log_target: bool) -> None:
    logp = np.log(softmax(rnd(3, 4).astype(np.float64)))
    q = softmax(rnd(3, 4).astype(np.float64))
    q[0, 1] = 0.0  # 0·log 0 counts as 0
    target = np.log(q + 1e-3) if log_target else q
    if log_target:
        pointwise = np.exp(target) * (target - logp)
    else:
        pointwise = np.where(q > 0, q * np.log(np.where(q > 0, q, 1)), 0) - q * logp
    expected = {"batchmean": pointwise.sum() / 3, "sum": pointwise.sum(), "none": pointwise}
    got = nn.KLDivLoss(reduction=reduction, log_target=log_target)(
        t(logp.astype(np.float32), device), t(target.astype(np.float32), device)
    )
    check(got, np.asarray(expected[reduction], np.float32), **LOOSE)


def test_kl_div_mean_averages_every_element_with_a_warning(device: str) -> None:
    logp, q = np.log(np.full((2, 2), 0.5)), np.full((2, 2), 0.25)
    with pytest.warns(UserWarning, match="batchmean"):
        got = F.kl_div(t(logp, device), t(q, device))
    check(got, np.array((0.25 * (np.log(0.25) - np.log(0.5)) * 4) / 4))


LOSS_FNS = {
    "l1": lambda x, y: F.l1_loss(x, y),
    "smooth_l1": lambda x, y: F.smooth_l1_loss(x, y, beta=0.7),
    "huber": lambda x, y: F.huber_loss(x, y, delta=0.7),
    "bce": lambda x, y: F.binary_cross_entropy(x.sigmoid(), y.sigmoid()),
    "bce_logits": lambda x, y: F.binary_cross_entropy_with_logits(
        x, y.sigmoid(), pos_weight=lg.tensor([2.0, 0.5, 1.0], dtype=lg.float64, device=x.device)
    ),
    "kl_div": lambda x, y: F.kl_div(x.log_softmax(-1), y.softmax(-1), reduction="batchmean"),
    "kl_div_log": lambda x, y: F.kl_div(x, y, reduction="sum", log_target=True),
}


@pytest.mark.parametrize("name", list(LOSS_FNS))
def test_loss_gradients_match_finite_differences(device: str, name: str) -> None:
    x = RNG.standard_normal((2, 3))
    y = lg.tensor(RNG.standard_normal((2, 3)), device=device)
    x[0, 0] = y[0, 0].item() + 0.3  # away from the kinks, but inside smooth_l1's quadratic part
    grad_matches_fd(lambda v: LOSS_FNS[name](v, y), x, device)


def test_loss_errors_and_legacy_flags() -> None:
    with pytest.raises(ValueError, match="Using a target size .* that is different to the input"):
        F.binary_cross_entropy(lg.ones(3) * 0.5, lg.ones(2))
    with pytest.raises(ValueError, match=r"Target size \(lazygrad.Size\(\[2\]\)\) must be the"):
        F.binary_cross_entropy_with_logits(lg.ones(3), lg.ones(2))
    with pytest.raises(RuntimeError, match="smooth_l1_loss does not support negative values"):
        F.smooth_l1_loss(lg.ones(2), lg.ones(2), beta=-1.0)
    with pytest.raises(ValueError, match="avg is not a valid value for reduction"):
        nn.L1Loss(reduction="avg")
    assert nn.L1Loss(size_average=False).reduction == "sum"
    assert nn.SmoothL1Loss(reduce=False).reduction == "none"
    assert nn.KLDivLoss(reduction="batchmean").reduction == "batchmean"
    check(F.l1_loss(lg.tensor([1.0, 3.0]), lg.zeros(2), size_average=False), np.float32(4.0))
    check(
        F.mse_loss(lg.tensor([1.0, 3.0]), lg.zeros(2), reduce=False),
        np.array([1.0, 9.0], np.float32),
    )


# ---- containers -----------------------------------------------------------------------------
def test_module_dict() -> None:
    d = nn.ModuleDict({"enc": nn.Linear(2, 3), "act": nn.ReLU()})
    d["dec"] = nn.Linear(3, 1)
    d.update([("extra", nn.Identity())])
    assert list(d) == ["enc", "act", "dec", "extra"] and len(d) == 4 and "act" in d
    assert list(d.keys()) == ["enc", "act", "dec", "extra"]
    assert list(d.state_dict()) == ["enc.weight", "enc.bias", "dec.weight", "dec.bias"]
    assert isinstance(d.pop("extra"), nn.Identity) and "extra" not in d
    del d["act"]
    assert [k for k, _ in d.items()] == ["enc", "dec"]
    assert len(list(d.parameters())) == 4
    d.clear()
    assert len(d) == 0 and list(d.parameters()) == []


def test_parameter_list_and_dict() -> None:
    pl = nn.ParameterList([lg.ones(2), nn.Parameter(lg.zeros(3))])
    pl.append(lg.full((1,), 5.0))
    assert len(pl) == 3 and all(isinstance(p, nn.Parameter) for p in pl)
    assert list(pl.state_dict()) == ["0", "1", "2"]
    assert pl[-1].requires_grad and float(val(pl[-1])[0]) == 5.0
    assert len(pl[1:]) == 2

    class Holder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.params = nn.ParameterList([lg.ones(1) for _ in range(2)])

    assert [n for n, _ in Holder().named_parameters()] == ["params.0", "params.1"]
    pd = nn.ParameterDict({"a": lg.ones(2)})
    pd["b"] = nn.Parameter(lg.zeros(1))
    assert list(pd) == ["a", "b"] and list(pd.state_dict()) == ["a", "b"]
    assert isinstance(pd["a"], nn.Parameter)
    del pd["a"]
    assert list(pd.keys()) == ["b"]


# ---- attention ------------------------------------------------------------------------------
def sdpa_ref(q, k, v, mask=None, causal=False, scale=None):
    scores = q @ np.swapaxes(k, -1, -2) * (1 / math.sqrt(q.shape[-1]) if scale is None else scale)
    if causal:
        mask = np.tril(np.ones((q.shape[-2], k.shape[-2]), bool))
    if mask is not None:
        scores = np.where(mask, scores, -np.inf) if mask.dtype == bool else scores + mask
    return softmax(scores) @ v


def test_scaled_dot_product_attention(device: str) -> None:
    q, k, v = rnd(2, 3, 4, 8), rnd(2, 3, 6, 8), rnd(2, 3, 6, 5)
    bool_mask = RNG.random((4, 6)) > 0.3
    bool_mask[:, 0] = True
    float_mask = rnd(2, 1, 4, 6)
    qt, kt, vt = t(q, device), t(k, device), t(v, device)
    check(F.scaled_dot_product_attention(qt, kt, vt), sdpa_ref(q, k, v), **LOOSE)
    check(
        F.scaled_dot_product_attention(qt, kt, vt, t(bool_mask, device)),
        sdpa_ref(q, k, v, bool_mask),
        **LOOSE,
    )
    check(
        F.scaled_dot_product_attention(qt, kt, vt, t(float_mask, device), scale=0.3),
        sdpa_ref(q, k, v, float_mask, scale=0.3),
        **LOOSE,
    )
    check(
        F.scaled_dot_product_attention(qt, kt[..., :4, :], vt[..., :4, :], is_causal=True),
        sdpa_ref(q, k[..., :4, :], v[..., :4, :], causal=True),
        **LOOSE,
    )
    # grouped-query attention: 4 query heads share 2 key/value heads
    q4 = rnd(1, 4, 3, 8)
    check(
        F.scaled_dot_product_attention(t(q4, device), kt[:1, :2], vt[:1, :2], enable_gqa=True),
        sdpa_ref(q4, np.repeat(k[:1, :2], 2, 1), np.repeat(v[:1, :2], 2, 1)),
        **LOOSE,
    )
    with pytest.raises(RuntimeError, match="Explicit attn_mask should not be set"):
        F.scaled_dot_product_attention(qt, kt, vt, t(bool_mask, device), is_causal=True)


def test_sdpa_gradient_matches_finite_differences(device: str) -> None:
    k = lg.tensor(RNG.standard_normal((2, 4, 3)), device=device)
    v = lg.tensor(RNG.standard_normal((2, 4, 3)), device=device)
    grad_matches_fd(
        lambda q: F.scaled_dot_product_attention(q, k, v) ** 2,
        RNG.standard_normal((2, 2, 3)),
        device,
    )


def mha_ref(q, k, v, params, heads, key_padding_mask=None, attn_mask=None):
    """Batch-first reference: returns (output, head-averaged weights)."""
    e = q.shape[-1]
    w, b = params["in_proj_weight"], params["in_proj_bias"]
    qp, kp, vp = (
        q @ w[:e].T + b[:e],
        k @ w[e : 2 * e].T + b[e : 2 * e],
        v @ w[2 * e :].T + b[2 * e :],
    )
    n, length, source, hd = q.shape[0], q.shape[1], k.shape[1], e // heads

    def split(x, rows):
        return x.reshape(n, rows, heads, hd).transpose(0, 2, 1, 3)

    scores = split(qp, length) @ split(kp, source).transpose(0, 1, 3, 2) / math.sqrt(hd)
    if attn_mask is not None:
        scores = np.where(attn_mask, -np.inf, scores)
    if key_padding_mask is not None:
        scores = np.where(key_padding_mask[:, None, None, :], -np.inf, scores)
    weights = softmax(scores)
    out = (weights @ split(vp, source)).transpose(0, 2, 1, 3).reshape(n, length, e)
    return out @ params["out_proj.weight"].T + params["out_proj.bias"], weights.mean(1)


def mha_params(e: int) -> dict[str, np.ndarray]:
    return {
        "in_proj_weight": rnd(3 * e, e) * 0.5,
        "in_proj_bias": rnd(3 * e) * 0.1,
        "out_proj.weight": rnd(e, e) * 0.5,
        "out_proj.bias": rnd(e) * 0.1,
    }


def test_multihead_attention_values(device: str) -> None:
    e, heads = 8, 2
    params = mha_params(e)
    q, kv = rnd(2, 3, e), rnd(2, 5, e)
    padding = np.array([[False] * 4 + [True], [False] * 5])
    causal = np.triu(np.ones((3, 5), bool), 1)
    out_ref, w_ref = mha_ref(q, kv, kv, params, heads, padding, causal)
    for batch_first in (True, False):
        mha = nn.MultiheadAttention(e, heads, batch_first=batch_first).to(device)
        mha.load_state_dict({k: lg.tensor(v) for k, v in params.items()})
        qi, ki = (q, kv) if batch_first else (q.transpose(1, 0, 2), kv.transpose(1, 0, 2))
        out, weights = mha(
            t(qi, device),
            t(ki, device),
            t(ki, device),
            key_padding_mask=t(padding, device),
            attn_mask=t(causal, device),
        )
        check(
            out,
            (out_ref if batch_first else out_ref.transpose(1, 0, 2)).astype(np.float32),
            **LOOSE,
        )
        check(weights, w_ref.astype(np.float32), **LOOSE)
    # unbatched, no weights
    mha.eval()
    out, weights = mha(t(q[0], device), t(kv[0], device), t(kv[0], device), need_weights=False)
    assert weights is None
    check(out, mha_ref(q[:1], kv[:1], kv[:1], params, heads)[0][0].astype(np.float32), **LOOSE)
    out, weights = mha(
        t(q[0], device), t(kv[0], device), t(kv[0], device), average_attn_weights=False
    )
    assert tuple(weights.shape) == (heads, 3, 5)


def test_multihead_attention_names_and_init() -> None:
    mha = nn.MultiheadAttention(6, 3)
    assert list(mha.state_dict()) == [
        "in_proj_weight",
        "in_proj_bias",
        "out_proj.weight",
        "out_proj.bias",
    ]
    assert tuple(mha.in_proj_weight.shape) == (18, 6) and mha.head_dim == 2
    assert type(mha.out_proj).__name__ == "NonDynamicallyQuantizableLinear"
    np.testing.assert_array_equal(val(mha.in_proj_bias), np.zeros(18))
    np.testing.assert_array_equal(val(mha.out_proj.bias), np.zeros(6))
    bound = math.sqrt(6 / (6 + 18))  # xavier_uniform over the stacked (3E, E) weight
    assert np.abs(val(mha.in_proj_weight)).max() <= bound
    separate = nn.MultiheadAttention(6, 2, kdim=4, vdim=5, bias=False, add_bias_kv=True)
    assert list(separate.state_dict()) == [
        "q_proj_weight",
        "k_proj_weight",
        "v_proj_weight",
        "bias_k",
        "bias_v",
        "out_proj.weight",
    ]
    assert separate.in_proj_weight is None
    out, w = separate(lg.ones(3, 2, 6), lg.ones(4, 2, 4), lg.ones(4, 2, 5))
    assert tuple(out.shape) == (3, 2, 6) and tuple(w.shape) == (2, 3, 5)
    with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
        nn.MultiheadAttention(5, 2)


def encoder_layer_ref(x: np.ndarray, p: dict, heads: int, norm_first: bool) -> np.ndarray:
    """TransformerEncoderLayer in eval mode (gelu activation), batch first."""
    att = {k[len("self_attn.") :]: v for k, v in p.items() if k.startswith("self_attn.")}

    def sa(h):
        return mha_ref(h, h, h, att, heads)[0]

    def ff_block(h):
        inner = h @ p["linear1.weight"].T + p["linear1.bias"]
        gelu = 0.5 * inner * (1 + np.vectorize(math.erf)(inner / math.sqrt(2)))
        return gelu @ p["linear2.weight"].T + p["linear2.bias"]

    def norm(h, i):
        return layer_norm(h, p[f"norm{i}.weight"], p[f"norm{i}.bias"])

    if norm_first:
        h = x + sa(norm(x, 1))
        return h + ff_block(norm(h, 2))
    h = norm(x + sa(x), 1)
    return norm(h + ff_block(h), 2)


@pytest.mark.parametrize("norm_first", [False, True])
def test_transformer_encoder_layer_eval_values(device: str, norm_first: bool) -> None:
    x = rnd(2, 4, 8)
    layer = nn.TransformerEncoderLayer(
        8, 2, 16, batch_first=True, norm_first=norm_first, activation="gelu"
    )
    layer = layer.to(device).eval()
    params = {k: val(v) for k, v in layer.state_dict().items()}
    expected = encoder_layer_ref(x, params, 2, norm_first)
    check(layer(t(x, device)), expected.astype(np.float32), rtol=1e-4, atol=1e-4)


def test_transformer_encoder_layer_names_and_options() -> None:
    layer = nn.TransformerEncoderLayer(8, 2)
    assert list(layer.state_dict()) == [
        "self_attn.in_proj_weight",
        "self_attn.in_proj_bias",
        "self_attn.out_proj.weight",
        "self_attn.out_proj.bias",
        "linear1.weight",
        "linear1.bias",
        "linear2.weight",
        "linear2.bias",
        "norm1.weight",
        "norm1.bias",
        "norm2.weight",
        "norm2.bias",
    ]
    assert tuple(layer.linear1.weight.shape) == (2048, 8) and layer.dropout.p == 0.1
    assert tuple(layer(lg.ones(5, 3, 8)).shape) == (5, 3, 8)  # (S, N, E) by default
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")


# ---- recurrent layers -----------------------------------------------------------------------
def rnn_ref(kind, x, params, num_layers, bidirectional, h0=None, c0=None):
    """x (L, N, H_in) -> (output, h_n[, c_n]) by PyTorch's documented equations."""
    hidden = params["weight_hh_l0"].shape[1]
    dirs = ["", "_reverse"] if bidirectional else [""]
    length, n = x.shape[:2]
    zeros = np.zeros((num_layers * len(dirs), n, hidden))
    h0 = zeros if h0 is None else h0
    c0 = zeros if c0 is None else c0
    layer_in, h_n, c_n = x, [], []
    for layer in range(num_layers):
        outs = []
        for d, sfx in enumerate(dirs):
            w_ih, w_hh = params[f"weight_ih_l{layer}{sfx}"], params[f"weight_hh_l{layer}{sfx}"]
            b_ih, b_hh = params[f"bias_ih_l{layer}{sfx}"], params[f"bias_hh_l{layer}{sfx}"]
            h, c = h0[layer * len(dirs) + d], c0[layer * len(dirs) + d]
            seq = [None] * length
            for step in range(length - 1, -1, -1) if d else range(length):
                gi, gh = layer_in[step] @ w_ih.T + b_ih, h @ w_hh.T + b_hh
                if kind == "RNN":
                    h = np.tanh(gi + gh)
                elif kind == "LSTM":
                    i, f, g, o = np.split(gi + gh, 4, -1)
                    c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
                    h = sigmoid(o) * np.tanh(c)
                else:
                    ir, iz, i_n = np.split(gi, 3, -1)
                    hr, hz, h_new = np.split(gh, 3, -1)
                    r, z = sigmoid(ir + hr), sigmoid(iz + hz)
                    h = (1 - z) * np.tanh(i_n + r * h_new) + z * h
                seq[step] = h
            outs.append(np.stack(seq))
            h_n.append(h)
            c_n.append(c)
        layer_in = np.concatenate(outs, -1)
    return layer_in, np.stack(h_n), np.stack(c_n)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_recurrent_layers_values(device: str, kind: str) -> None:
    cls = getattr(nn, kind)
    layers, bidirectional = (2, True) if kind != "RNN" else (2, False)
    model = cls(3, 4, num_layers=layers, bidirectional=bidirectional, batch_first=True).to(device)
    params = {k: val(v).astype(np.float64) for k, v in model.state_dict().items()}
    x = rnd(2, 5, 3)  # batch first
    d = 2 if bidirectional else 1
    h0 = rnd(layers * d, 2, 4)
    out_ref, h_ref, c_ref = rnn_ref(
        kind, x.transpose(1, 0, 2), params, layers, bidirectional, h0, h0 * 0.5
    )
    state = (t(h0, device), t(h0 * 0.5, device)) if kind == "LSTM" else t(h0, device)
    out, hn = model(t(x, device), state)
    check(out, out_ref.transpose(1, 0, 2).astype(np.float32), **LOOSE)
    if kind == "LSTM":
        check(hn[0], h_ref.astype(np.float32), **LOOSE)
        check(hn[1], c_ref.astype(np.float32), **LOOSE)
    else:
        check(hn, h_ref.astype(np.float32), **LOOSE)
    # unbatched input, zero initial state
    out_u, _ = model(t(x[0], device))
    check(
        out_u,
        rnn_ref(kind, x[:1].transpose(1, 0, 2), params, layers, bidirectional)[0][:, 0].astype(
            np.float32
        ),
        **LOOSE,
    )


def test_recurrent_names_shapes_init_and_errors() -> None:
    lstm = nn.LSTM(3, 5, num_layers=2, bidirectional=True)
    keys = list(lstm.state_dict())
    assert keys[:8] == [
        "weight_ih_l0",
        "weight_hh_l0",
        "bias_ih_l0",
        "bias_hh_l0",
        "weight_ih_l0_reverse",
        "weight_hh_l0_reverse",
        "bias_ih_l0_reverse",
        "bias_hh_l0_reverse",
    ]
    assert len(keys) == 16 and keys[8] == "weight_ih_l1"
    assert tuple(lstm.weight_ih_l0.shape) == (20, 3) and tuple(lstm.weight_ih_l1.shape) == (20, 10)
    assert tuple(nn.GRU(3, 5).weight_hh_l0.shape) == (15, 5)
    assert tuple(nn.RNN(3, 5).weight_ih_l0.shape) == (5, 3)
    bound = 1 / math.sqrt(5)
    assert all(np.abs(val(p)).max() <= bound for p in lstm.parameters())
    assert list(nn.GRU(2, 2, bias=False).state_dict()) == ["weight_ih_l0", "weight_hh_l0"]
    assert repr(nn.LSTM(3, 5, 2, batch_first=True)) == "LSTM(3, 5, num_layers=2, batch_first=True)"
    out, (h, c) = lstm(lg.ones(4, 2, 3))
    assert tuple(out.shape) == (4, 2, 10) and tuple(h.shape) == tuple(c.shape) == (4, 2, 5)
    with pytest.raises(RuntimeError, match="input.size\\(-1\\) must be equal to input_size"):
        nn.GRU(3, 4)(lg.ones(2, 1, 5))
    with pytest.raises(RuntimeError, match="Expected hidden size \\(1, 2, 4\\), got \\[1, 3, 4\\]"):
        nn.RNN(3, 4)(lg.ones(5, 2, 3), lg.zeros(1, 3, 4))
    with pytest.raises(ValueError, match="Unknown nonlinearity 'sigmoid'"):
        nn.RNN(3, 4, nonlinearity="sigmoid")


def test_recurrent_cells_match_one_step_of_the_layers(device: str) -> None:
    x, h = rnd(2, 3), rnd(2, 4)
    for cell_cls, layer_kind in ((nn.RNNCell, "RNN"), (nn.GRUCell, "GRU"), (nn.LSTMCell, "LSTM")):
        cell = cell_cls(3, 4).to(device)
        assert list(cell.state_dict()) == ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]
        params = {f"{k}_l0": val(v).astype(np.float64) for k, v in cell.state_dict().items()}
        out, h_ref, c_ref = rnn_ref(layer_kind, x[None], params, 1, False, h[None], h[None])
        state = (t(h, device), t(h, device)) if layer_kind == "LSTM" else t(h, device)
        got = cell(t(x, device), state)
        if layer_kind == "LSTM":
            check(got[0], h_ref[0].astype(np.float32), **LOOSE)
            check(got[1], c_ref[0].astype(np.float32), **LOOSE)
        else:
            check(got, h_ref[0].astype(np.float32), **LOOSE)


def test_lstm_gradient_matches_finite_differences(device: str) -> None:
    lg.manual_seed(3)
    lstm = nn.LSTM(2, 3).to(device).double()
    grad_matches_fd(lambda x: lstm(x)[0] ** 2, RNG.standard_normal((3, 1, 2)), device)


# ---- interpolate ----------------------------------------------------------------------------
def source_index(out: int, size: int, align_corners: bool) -> np.ndarray:
    dst = np.arange(out, dtype=np.float64)
    if align_corners:
        return dst * ((size - 1) / (out - 1)) if out > 1 else np.zeros(out)
    return np.clip((dst + 0.5) * size / out - 0.5, 0, None)


def bilinear_ref(x: np.ndarray, out_hw: tuple[int, int], align_corners: bool) -> np.ndarray:
    n, c, h, w = x.shape
    ys, xs = source_index(out_hw[0], h, align_corners), source_index(out_hw[1], w, align_corners)
    out = np.zeros((n, c, *out_hw))
    for i, sy in enumerate(ys):
        for j, sx in enumerate(xs):
            y0, x0 = min(int(sy), h - 1), min(int(sx), w - 1)
            y1, x1 = min(y0 + 1, h - 1), min(x0 + 1, w - 1)
            fy, fx = sy - y0, sx - x0
            out[:, :, i, j] = (
                x[:, :, y0, x0] * (1 - fy) * (1 - fx)
                + x[:, :, y0, x1] * (1 - fy) * fx
                + x[:, :, y1, x0] * fy * (1 - fx)
                + x[:, :, y1, x1] * fy * fx
            )
    return out


def test_interpolate_bilinear(device: str) -> None:
    x = rnd(1, 2, 3, 4)
    for size, align in [((6, 8), False), ((5, 3), True), ((2, 7), False), ((1, 1), True)]:
        check(
            F.interpolate(t(x, device), size=size, mode="bilinear", align_corners=align),
            bilinear_ref(x.astype(np.float64), size, align).astype(np.float32),
            **LOOSE,
        )
    check(
        F.interpolate(t(x, device), scale_factor=2, mode="bilinear"),
        bilinear_ref(x.astype(np.float64), (6, 8), False).astype(np.float32),
        **LOOSE,
    )


def test_interpolate_nearest_and_linear(device: str) -> None:
    x = rnd(2, 1, 3, 4)
    rows, cols = (
        np.floor(np.arange(5) * 3 / 5).astype(int),
        np.floor(np.arange(2) * 2.0).astype(int),
    )
    check(F.interpolate(t(x, device), size=(5, 2)), x[:, :, rows][:, :, :, cols])
    exact_rows = np.minimum(np.floor((np.arange(5) + 0.5) * 3 / 5), 2).astype(int)
    check(F.interpolate(t(x, device), size=(5, 4), mode="nearest-exact"), x[:, :, exact_rows])
    check(F.interpolate(t(x, device), scale_factor=(2, 1)), np.repeat(x, 2, axis=2))
    line = rnd(1, 2, 4)
    src = source_index(7, 4, False)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, 3)
    expected = line[..., lo] * (1 - (src - lo)) + line[..., hi] * (src - lo)
    check(
        F.interpolate(t(line, device), size=7, mode="linear"), expected.astype(np.float32), **LOOSE
    )


def test_interpolate_gradient_and_errors(device: str) -> None:
    coeff = lg.tensor(RNG.standard_normal((1, 1, 3, 5)), device=device)
    grad_matches_fd(
        lambda v: F.interpolate(v, size=(3, 5), mode="bilinear") * coeff,
        RNG.standard_normal((1, 1, 2, 2)),
        device,
    )
    with pytest.raises(ValueError, match="only one of size or scale_factor should be defined"):
        F.interpolate(lg.ones(1, 1, 2, 2), size=3, scale_factor=2)
    with pytest.raises(ValueError, match="align_corners option can only be set"):
        F.interpolate(lg.ones(1, 1, 2, 2), size=3, align_corners=True)
    with pytest.raises(NotImplementedError, match="bicubic"):
        F.interpolate(lg.ones(1, 1, 2, 2), size=3, mode="bicubic")


# ---- nn.utils -------------------------------------------------------------------------------
def model_with_grads(device: str) -> tuple[nn.Module, list[np.ndarray]]:
    lg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).to(device)
    (model(lg.ones(5, 3, device=device)) * 3).sum().backward()
    return model, [val(p.grad).astype(np.float64) for p in model.parameters()]


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf])
def test_clip_grad_norm(device: str, norm_type: float) -> None:
    model, grads = model_with_grads(device)
    flat = np.concatenate([g.ravel() for g in grads])
    total = (
        np.abs(flat).max()
        if math.isinf(norm_type)
        else (np.abs(flat) ** norm_type).sum() ** (1 / norm_type)
    )
    max_norm = total / 4
    returned = nn.utils.clip_grad_norm_(model.parameters(), max_norm, norm_type)
    check(returned, np.float32(total), **LOOSE)
    coef = max_norm / (total + 1e-6)
    for p, g in zip(model.parameters(), grads, strict=True):
        check(p.grad, (g * coef).astype(np.float32), **LOOSE)
    # already small enough: unchanged (the coefficient is capped at 1)
    before = [val(p.grad) for p in model.parameters()]
    nn.utils.clip_grad_norm_(model.parameters(), total * 10, norm_type)
    for p, b in zip(model.parameters(), before, strict=True):
        check(p.grad, b, **LOOSE)


def test_clip_grad_value_and_vector_round_trip(device: str) -> None:
    model, grads = model_with_grads(device)
    nn.utils.clip_grad_value_(model.parameters(), 0.5)
    for p, g in zip(model.parameters(), grads, strict=True):
        check(p.grad, np.clip(g, -0.5, 0.5).astype(np.float32), **LOOSE)
    vec = nn.utils.parameters_to_vector(model.parameters())
    flat = np.concatenate([val(p).ravel() for p in model.parameters()])
    check(vec, flat)
    nn.utils.vector_to_parameters(vec * 2, model.parameters())
    check(nn.utils.parameters_to_vector(model.parameters()), flat * 2)
    with pytest.raises(TypeError, match="expected torch.Tensor, but got: list"):
        nn.utils.vector_to_parameters([1.0], model.parameters())


def test_clip_grad_norm_edge_cases() -> None:
    p = nn.Parameter(lg.ones(2))
    check(nn.utils.clip_grad_norm_([p], 1.0), np.float32(0.0))  # no gradients
    p.grad = lg.tensor([math.inf, 1.0])
    with pytest.raises(RuntimeError, match="is non-finite, so it cannot be clipped"):
        nn.utils.clip_grad_norm_(p, 1.0, error_if_nonfinite=True)
