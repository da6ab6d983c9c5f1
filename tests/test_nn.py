"""lg.nn: Module bookkeeping, layers, activations and losses against hand-written NumPy
references (forward values and gradients)."""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
import pytest

import lazygrad as lg
import lazygrad.nn as nn
import lazygrad.nn.functional as F
import lazygrad.nn.init as init

RNG = np.random.default_rng(1234)


def arr(t: lg.Tensor) -> np.ndarray:
    return t.detach().numpy()


def leaf(a: np.ndarray) -> lg.Tensor:
    return lg.tensor(a, requires_grad=True)


def set_params(module: nn.Module, **values: np.ndarray) -> None:
    module.load_state_dict({k: lg.tensor(v) for k, v in values.items()}, strict=False)


def close(
    actual: lg.Tensor | np.ndarray, expected: np.ndarray, atol: float = 1e-5, rtol: float = 1e-5
) -> None:
    got = arr(actual) if isinstance(actual, lg.Tensor) else actual
    np.testing.assert_allclose(got, expected, atol=atol, rtol=rtol)


def log_softmax_ref(x: np.ndarray, axis: int = 1) -> np.ndarray:
    x = x.astype(np.float64)
    m = x.max(axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis, keepdims=True))


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(4, 3)
        self.body = nn.Sequential(nn.ReLU(), nn.Linear(3, 2, bias=False))
        self.register_buffer("running", lg.zeros(2))
        self.register_buffer("scratch", lg.ones(1), persistent=False)
        self.scale = nn.Parameter(lg.ones(()))

    def forward(self, x: lg.Tensor) -> lg.Tensor:
        return self.body(self.fc1(x)) * self.scale + self.running


# ---- Module bookkeeping ------------------------------------------------------------------------
def test_named_parameters_order_and_state_dict_keys() -> None:
    net = Net()
    assert [n for n, _ in net.named_parameters()] == [
        "scale",
        "fc1.weight",
        "fc1.bias",
        "body.1.weight",
    ]
    assert list(net.state_dict()) == ["scale", "running", "fc1.weight", "fc1.bias", "body.1.weight"]
    assert isinstance(net.state_dict(), OrderedDict)
    assert [n for n, _ in net.named_buffers()] == ["running", "scratch"]
    assert [type(m).__name__ for m in net.children()] == ["Linear", "Sequential"]
    assert [n for n, _ in net.named_modules()] == ["", "fc1", "body", "body.0", "body.1"]
    assert len(list(net.parameters())) == 4
    seq = nn.Sequential(nn.Linear(2, 2), nn.Tanh(), nn.Linear(2, 1))
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_parameter_is_a_leaf_tensor_with_torch_repr() -> None:
    p = nn.Parameter(lg.tensor([1.0, 2.0]))
    assert isinstance(p, lg.Tensor) and isinstance(p, nn.Parameter)
    assert p.requires_grad and p.is_leaf
    assert repr(p) == "Parameter containing:\ntensor([1., 2.], requires_grad=True)"
    frozen = nn.Parameter(lg.ones(2), requires_grad=False)
    assert not frozen.requires_grad
    assert not isinstance(p * 2, nn.Parameter)
    source = lg.ones(3, requires_grad=True)
    assert nn.Parameter(source) is not source and nn.Parameter(source).is_leaf
    data = lg.tensor([1.0, 2.0])
    a, b = nn.Parameter(data), nn.Parameter(data)  # separate leaves, separate gradients
    (a * 3 + b).sum().backward()
    assert a.grad.tolist() == [3.0, 3.0] and b.grad.tolist() == [1.0, 1.0]


def test_shared_parameters_are_listed_once() -> None:
    shared = nn.Linear(2, 2)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(model.parameters())) == 2
    assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_attribute_registration_rules() -> None:
    lin = nn.Linear(2, 3)
    lin.bias = None
    assert [n for n, _ in lin.named_parameters()] == ["weight"]
    with pytest.raises(TypeError, match="cannot assign 'Tensor' as parameter 'weight'"):
        lin.weight = lg.ones(3, 2)
    lin.extra = nn.ReLU()
    assert "extra" in dict(lin.named_children())
    del lin.extra
    assert "extra" not in dict(lin.named_children())
    with pytest.raises(AttributeError, match="'Linear' object has no attribute 'nope'"):
        _ = lin.nope

    class Early(nn.Module):
        def __init__(self) -> None:
            self.w = nn.Parameter(lg.ones(1))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Early()


def test_train_eval_and_zero_grad() -> None:
    net = Net()
    assert net.training and all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert net.body[1].training
    net(lg.ones(5, 4)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(arr(p.grad).sum() == 0 for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_sequential_indexing_and_repr() -> None:
    seq = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    assert len(seq) == 3
    assert isinstance(seq[0], nn.Linear) and isinstance(seq[-1], nn.Linear)
    assert isinstance(seq[1:], nn.Sequential) and len(seq[1:]) == 2
    assert [type(m).__name__ for m in seq] == ["Linear", "ReLU", "Linear"]
    with pytest.raises(IndexError):
        seq[3]
    assert repr(seq) == (
        "Sequential(\n"
        "  (0): Linear(in_features=64, out_features=128, bias=True)\n"
        "  (1): ReLU()\n"
        "  (2): Linear(in_features=128, out_features=10, bias=True)\n"
        ")"
    )
    named = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.GELU())]))
    assert list(named.state_dict()) == ["fc.weight", "fc.bias"]
    assert repr(Net()) == (
        "Net(\n"
        "  (fc1): Linear(in_features=4, out_features=3, bias=True)\n"
        "  (body): Sequential(\n"
        "    (0): ReLU()\n"
        "    (1): Linear(in_features=3, out_features=2, bias=False)\n"
        "  )\n"
        ")"
    )


def test_layer_reprs() -> None:
    assert repr(nn.Conv2d(1, 8, 3, stride=2, padding=1)) == (
        "Conv2d(1, 8, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1))"
    )
    assert repr(nn.Conv2d(4, 8, (3, 5), bias=False, groups=2)) == (
        "Conv2d(4, 8, kernel_size=(3, 5), stride=(1, 1), groups=2, bias=False)"
    )
    assert repr(nn.LayerNorm(5)) == "LayerNorm((5,), eps=1e-05, elementwise_affine=True)"
    assert repr(nn.Embedding(10, 3)) == "Embedding(10, 3)"
    assert repr(nn.Dropout(0.2)) == "Dropout(p=0.2, inplace=False)"
    assert repr(nn.GELU()) == "GELU(approximate='none')"
    assert repr(nn.Softmax(dim=1)) == "Softmax(dim=1)"
    assert repr(nn.Flatten()) == "Flatten(start_dim=1, end_dim=-1)"
    assert repr(nn.CrossEntropyLoss()) == "CrossEntropyLoss()"


def test_load_state_dict_copies_and_reports_pytorch_errors() -> None:
    src, dst = nn.Linear(4, 3), nn.Linear(4, 3)
    result = dst.load_state_dict(src.state_dict())
    assert repr(result) == "<All keys matched successfully>"
    np.testing.assert_array_equal(arr(dst.weight), arr(src.weight))
    assert dst.weight.requires_grad and dst.weight.is_leaf

    state = src.state_dict()
    del state["bias"]
    state["extra"] = lg.zeros(1)
    with pytest.raises(RuntimeError) as err:
        dst.load_state_dict(state)
    assert str(err.value) == (
        'Error(s) in loading state_dict for Linear:\n\tMissing key(s) in state_dict: "bias". '
        '\n\tUnexpected key(s) in state_dict: "extra". '
    )
    missing, unexpected = dst.load_state_dict(state, strict=False)
    assert (missing, unexpected) == (["bias"], ["extra"])

    with pytest.raises(RuntimeError) as err:
        dst.load_state_dict({"weight": lg.zeros(2, 4), "bias": lg.zeros(3)})
    assert str(err.value) == (
        "Error(s) in loading state_dict for Linear:\n\tsize mismatch for weight: copying a "
        "param with shape lazygrad.Size([2, 4]) from checkpoint, the shape in current model is "
        "lazygrad.Size([3, 4])."
    )


def test_load_state_dict_nested_and_buffers() -> None:
    a, b = Net(), Net()
    with lg.no_grad():
        a.running.copy_(lg.tensor([1.0, 2.0]))
    b.load_state_dict(a.state_dict())
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        np.testing.assert_array_equal(arr(x), arr(y), err_msg=name)
    x = lg.tensor(RNG.standard_normal((3, 4)).astype(np.float32))
    np.testing.assert_array_equal(arr(a(x)), arr(b(x)))


def test_to_dtype_and_device() -> None:
    net = Net()
    weight = net.fc1.weight
    assert net.to("cpu") is net and net.fc1.weight is weight
    net.double()
    assert all(p.dtype == lg.float64 for p in net.parameters())
    assert net.running.dtype == lg.float64
    assert net.fc1.weight.requires_grad and isinstance(net.fc1.weight, nn.Parameter)
    out = net(lg.ones(2, 4, dtype=lg.float64))
    assert out.dtype == lg.float64
    with pytest.raises(TypeError, match="floating point"):
        net.to(lg.int64)


# ---- default initialization ----------------------------------------------------------------------
def test_default_initializations_match_pytorch_distributions() -> None:
    lg.manual_seed(0)
    lin = nn.Linear(400, 300)
    w, b = arr(lin.weight), arr(lin.bias)
    bound = 1 / math.sqrt(400)  # kaiming_uniform(a=√5) gives ±1/√fan_in
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.98 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.01 * bound
    assert np.abs(b).max() <= bound and b.std() > 0.5 * bound / math.sqrt(3)
    conv = nn.Conv2d(8, 16, 3)
    conv_bound = 1 / math.sqrt(8 * 9)
    assert np.abs(arr(conv.weight)).max() <= conv_bound
    assert np.abs(arr(conv.bias)).max() <= conv_bound
    emb = arr(nn.Embedding(1000, 50).weight)
    assert abs(emb.mean()) < 0.02 and abs(emb.std() - 1) < 0.02
    ln = nn.LayerNorm((3, 4))
    np.testing.assert_array_equal(arr(ln.weight), np.ones((3, 4)))
    np.testing.assert_array_equal(arr(ln.bias), np.zeros((3, 4)))


def test_init_functions() -> None:
    assert init.calculate_gain("relu") == math.sqrt(2)
    assert init.calculate_gain("tanh") == 5 / 3
    assert init.calculate_gain("linear") == init.calculate_gain("sigmoid") == 1
    assert init.calculate_gain("leaky_relu", 0.2) == math.sqrt(2 / 1.04)
    assert init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        init.calculate_gain("swish")
    lg.manual_seed(1)
    t = nn.Parameter(lg.empty(200, 300))
    assert init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu") is t
    assert abs(arr(t).std() - math.sqrt(2 / 200)) < 0.003
    init.xavier_uniform_(t, gain=2.0)
    bound = 2.0 * math.sqrt(6 / 500)
    assert np.abs(arr(t)).max() <= bound and np.abs(arr(t)).max() > 0.98 * bound
    init.xavier_normal_(t)
    assert abs(arr(t).std() - math.sqrt(2 / 500)) < 0.003
    init.normal_(t, mean=3.0, std=0.5)
    assert abs(arr(t).mean() - 3) < 0.01 and abs(arr(t).std() - 0.5) < 0.01
    init.uniform_(t, -2.0, -1.0)
    assert arr(t).min() >= -2 and arr(t).max() < -1
    init.constant_(t, 0.25)
    assert np.all(arr(t) == 0.25)
    init.zeros_(t)
    assert np.all(arr(t) == 0) and t.requires_grad and t.is_leaf
    init.ones_(t)
    assert np.all(arr(t) == 1)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(lg.zeros(3))


# ---- layers ------------------------------------------------------------------------------------
def test_linear_forward_and_gradients() -> None:
    w = RNG.standard_normal((3, 5)).astype(np.float32)
    b = RNG.standard_normal(3).astype(np.float32)
    x = RNG.standard_normal((4, 5)).astype(np.float32)
    up = RNG.standard_normal((4, 3)).astype(np.float32)
    lin = nn.Linear(5, 3)
    set_params(lin, weight=w, bias=b)
    xt = leaf(x)
    y = lin(xt)
    close(y, x @ w.T + b)
    (y * lg.tensor(up)).sum().backward()
    close(lin.weight.grad, up.T @ x)
    close(lin.bias.grad, up.sum(0))
    close(xt.grad, up @ w)
    batched = lin(lg.tensor(np.stack([x, x])))
    close(batched, np.stack([x @ w.T + b] * 2))


def conv2d_reference(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray | None,
    stride: int,
    padding: int,
    dilation: int = 1,
    groups: int = 1,
) -> np.ndarray:
    """Naive direct convolution (loops over output pixels)."""
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    oh = (h + 2 * padding - dilation * (kh - 1) - 1) // stride + 1
    ow = (wd + 2 * padding - dilation * (kw - 1) - 1) // stride + 1
    out = np.zeros((n, o, oh, ow), dtype=np.float64)
    og = o // groups
    for oc in range(o):
        g = oc // og
        for i in range(oh):
            for j in range(ow):
                rows = i * stride + dilation * np.arange(kh)
                cols = j * stride + dilation * np.arange(kw)
                patch = xp[:, g * cg : (g + 1) * cg][:, :, rows][:, :, :, cols]
                out[:, oc, i, j] = (patch * w[oc]).sum(axis=(1, 2, 3))
    if b is not None:
        out += b.reshape(1, o, 1, 1)
    return out


@pytest.mark.parametrize(
    "stride,padding,dilation,groups", [(1, 0, 1, 1), (2, 1, 1, 1), (1, 2, 2, 1), (2, 1, 1, 2)]
)
def test_conv2d_matches_naive_convolution(
    stride: int, padding: int, dilation: int, groups: int
) -> None:
    x = RNG.standard_normal((2, 4, 7, 6)).astype(np.float32)
    conv = nn.Conv2d(4, 6, 3, stride=stride, padding=padding, dilation=dilation, groups=groups)
    w = RNG.standard_normal(tuple(conv.weight.shape)).astype(np.float32)
    b = RNG.standard_normal(6).astype(np.float32)
    set_params(conv, weight=w, bias=b)
    xt = leaf(x)
    y = conv(xt)
    expected = conv2d_reference(x, w, b, stride, padding, dilation, groups)
    close(y, expected, atol=1e-4)
    # gradients: d/dθ Σ y·u, by finite linearity = the reference conv's vector-Jacobian product
    up = RNG.standard_normal(expected.shape).astype(np.float32)
    (y * lg.tensor(up)).sum().backward()
    close(conv.bias.grad, up.sum(axis=(0, 2, 3)), atol=1e-4)
    eps = 1e-3
    for index in [(0, 0, 0, 0), (5, 1, 2, 1), (3, 0, 1, 2)]:
        bumped = w.astype(np.float64).copy()
        bumped[index] += eps
        slope = (
            (conv2d_reference(x, bumped, b, stride, padding, dilation, groups) - expected) * up
        ).sum() / eps
        assert abs(arr(conv.weight.grad)[index] - slope) < 2e-2 * max(1, abs(slope))
    grad_x = arr(xt.grad)
    for index in [(0, 0, 0, 0), (1, 3, 4, 5), (0, 2, 6, 3)]:
        bumped = x.astype(np.float64).copy()
        bumped[index] += eps
        slope = (
            (conv2d_reference(bumped, w, b, stride, padding, dilation, groups) - expected) * up
        ).sum() / eps
        assert abs(grad_x[index] - slope) < 2e-2 * max(1, abs(slope))


def test_conv2d_weight_gradient_exact() -> None:
    x = RNG.standard_normal((2, 3, 5, 5)).astype(np.float32)
    w = RNG.standard_normal((4, 3, 3, 3)).astype(np.float32)
    up = RNG.standard_normal((2, 4, 3, 3)).astype(np.float32)
    wt = leaf(w)
    (F.conv2d(lg.tensor(x), wt, stride=2, padding=1) * lg.tensor(up)).sum().backward()
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    expected = np.zeros_like(w)
    for i in range(3):
        for j in range(3):
            patch = xp[:, :, i : i + 5 : 2, j : j + 5 : 2]  # (N, C, 3, 3)
            expected[:, :, i, j] = np.einsum("nohw,nchw->oc", up, patch)
    close(wt.grad, expected, atol=1e-4)


def test_conv2d_errors_and_unbatched() -> None:
    conv = nn.Conv2d(3, 2, 3)
    with pytest.raises(RuntimeError, match="to have 3 channels, but got 4 channels"):
        conv(lg.zeros(1, 4, 5, 5))
    with pytest.raises(RuntimeError, match="Kernel size can't be greater"):
        conv(lg.zeros(1, 3, 2, 2))
    x = RNG.standard_normal((3, 5, 5)).astype(np.float32)
    assert conv(lg.tensor(x)).shape == (2, 3, 3)
    close(conv(lg.tensor(x)), arr(conv(lg.tensor(x[None])))[0])
    same = nn.Conv2d(3, 2, 3, padding="same")
    assert same(lg.zeros(1, 3, 6, 7)).shape == (1, 2, 6, 7)


def test_pooling_matches_numpy() -> None:
    x = RNG.standard_normal((2, 3, 6, 6)).astype(np.float32)
    windows = x.reshape(2, 3, 3, 2, 3, 2)
    close(nn.MaxPool2d(2)(lg.tensor(x)), windows.max(axis=(3, 5)))
    close(nn.AvgPool2d(2)(lg.tensor(x)), windows.mean(axis=(3, 5)))
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    expected = np.stack(
        [
            padded[:, :, i : i + 3, j : j + 3].max(axis=(2, 3))
            for i in range(0, 6, 2)
            for j in range(0, 6, 2)
        ],
        -1,
    )
    close(F.max_pool2d(lg.tensor(x), 3, 2, 1), expected.reshape(2, 3, 3, 3))


def test_layer_norm_forward_and_gradients() -> None:
    x = RNG.standard_normal((4, 3, 5)).astype(np.float32) * 3 + 1
    w = RNG.standard_normal(5).astype(np.float32)
    b = RNG.standard_normal(5).astype(np.float32)
    up = RNG.standard_normal((4, 3, 5)).astype(np.float32)
    ln = nn.LayerNorm(5, eps=1e-5)
    set_params(ln, weight=w, bias=b)
    xt = leaf(x)
    y = ln(xt)
    mu = x.mean(-1, keepdims=True)
    sigma = np.sqrt(x.var(-1, keepdims=True) + 1e-5)
    xhat = (x - mu) / sigma
    close(y, xhat * w + b, atol=1e-5)
    (y * lg.tensor(up)).sum().backward()
    gx = up * w
    expected_dx = (
        gx - gx.mean(-1, keepdims=True) - xhat * (gx * xhat).mean(-1, keepdims=True)
    ) / sigma
    close(xt.grad, expected_dx, atol=1e-4)
    close(ln.weight.grad, (up * xhat).sum(axis=(0, 1)), atol=1e-4)
    close(ln.bias.grad, up.sum(axis=(0, 1)), atol=1e-4)
    plain = nn.LayerNorm((3, 5), elementwise_affine=False)
    assert list(plain.parameters()) == []
    flat = x.reshape(4, 15)
    close(
        plain(lg.tensor(x)),
        ((flat - flat.mean(1, keepdims=True)) / np.sqrt(flat.var(1, keepdims=True) + 1e-5)).reshape(
            x.shape
        ),
    )
    with pytest.raises(RuntimeError, match=r"expected input with shape \[\*, 5\]"):
        ln(lg.zeros(2, 4))


def test_embedding_lookup_and_gradient() -> None:
    emb = nn.Embedding(6, 3)
    table = RNG.standard_normal((6, 3)).astype(np.float32)
    set_params(emb, weight=table)
    idx = np.array([[0, 2, 2], [5, 0, 1]])
    out = emb(lg.tensor(idx))
    close(out, table[idx])
    up = RNG.standard_normal((2, 3, 3)).astype(np.float32)
    (out * lg.tensor(up)).sum().backward()
    expected = np.zeros_like(table)
    np.add.at(expected, idx, up)
    close(emb.weight.grad, expected)


def test_embedding_padding_idx() -> None:
    emb = nn.Embedding(5, 2, padding_idx=1)
    assert np.all(arr(emb.weight)[1] == 0) and np.any(arr(emb.weight)[0] != 0)
    idx = lg.tensor([1, 3, 1])
    emb(idx).sum().backward()
    np.testing.assert_array_equal(arr(emb.weight.grad)[1], [0, 0])
    np.testing.assert_array_equal(arr(emb.weight.grad)[3], [1, 1])
    with pytest.raises(RuntimeError, match="indices"):
        emb(lg.tensor([0.0]))


def test_flatten_identity_module_list() -> None:
    x = lg.zeros(2, 3, 4, 5)
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 2)(x).shape == (24, 5)
    assert nn.Identity()(x) is x
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(layers) == 3 and len(list(layers.parameters())) == 6
    assert list(layers.state_dict())[:2] == ["0.weight", "0.bias"]


# ---- activations --------------------------------------------------------------------------------
def test_elementwise_activations_and_gradients() -> None:
    x = np.array([-3.0, -1.0, -0.25, 0.5, 2.0, 4.0], dtype=np.float32)
    sig = 1 / (1 + np.exp(-x))
    cases = [
        (nn.ReLU(), np.maximum(x, 0), (x > 0).astype(np.float32)),
        (nn.Sigmoid(), sig, sig * (1 - sig)),
        (nn.Tanh(), np.tanh(x), 1 - np.tanh(x) ** 2),
    ]
    for module, value, slope in cases:
        xt = leaf(x)
        y = module(xt)
        close(y, value)
        y.sum().backward()
        close(xt.grad, slope)


def test_gelu_erf_matches_reference_to_1e6() -> None:
    x = np.linspace(-6, 6, 2001)
    erf = np.vectorize(math.erf)(x / math.sqrt(2))
    xt = lg.tensor(x, dtype=lg.float64, requires_grad=True)
    y = nn.GELU()(xt)
    close(y, 0.5 * x * (1 + erf), atol=1e-6, rtol=0)
    y.sum().backward()
    pdf = np.exp(-x * x / 2) / math.sqrt(2 * math.pi)
    close(xt.grad, 0.5 * (1 + erf) + x * pdf, atol=1e-5, rtol=0)
    assert F._erf(lg.tensor([0.0])).item() == 0.0
    assert F.gelu(lg.tensor([0.0])).item() == 0.0


def test_gelu_tanh_approximation() -> None:
    x = np.linspace(-4, 4, 101).astype(np.float32)
    inner = math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)
    close(nn.GELU("tanh")(lg.tensor(x)), 0.5 * x * (1 + np.tanh(inner)))
    with pytest.raises(RuntimeError, match="approximate argument"):
        F.gelu(lg.tensor(x), approximate="fast")


def test_softmax_modules() -> None:
    x = RNG.standard_normal((3, 4)).astype(np.float32) * 50
    e = np.exp(x - x.max(1, keepdims=True))
    close(nn.Softmax(dim=1)(lg.tensor(x)), e / e.sum(1, keepdims=True))
    close(nn.LogSoftmax(dim=1)(lg.tensor(x)), log_softmax_ref(x, 1), atol=1e-4)
    e0 = np.exp(x - x.max(0))
    close(F.softmax(lg.tensor(x), 0), e0 / e0.sum(0))


# ---- dropout ------------------------------------------------------------------------------------
def test_dropout_train_eval_scaling_and_seed() -> None:
    x = lg.ones(200, 100)
    drop = nn.Dropout(0.25)
    lg.manual_seed(7)
    a = arr(drop(x))
    assert set(np.unique(a)) <= {0.0, np.float32(1 / 0.75)}
    assert abs((a == 0).mean() - 0.25) < 0.02
    lg.manual_seed(7)
    np.testing.assert_array_equal(arr(drop(x)), a)
    assert not np.array_equal(arr(drop(x)), a)  # the next draw differs
    drop.eval()
    assert drop(x) is x
    assert nn.Dropout(0.0)(x) is x
    assert np.all(arr(nn.Dropout(1.0)(x)) == 0)
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)


def test_dropout_gradient_is_the_scaled_mask() -> None:
    lg.manual_seed(3)
    xt = leaf(RNG.standard_normal((50, 40)).astype(np.float32))
    y = F.dropout(xt, 0.5)
    y.sum().backward()
    kept = arr(y) != 0
    np.testing.assert_allclose(arr(xt.grad), kept * 2.0)


# ---- losses -------------------------------------------------------------------------------------
def test_mse_loss_reductions_and_gradient() -> None:
    a = RNG.standard_normal((4, 3)).astype(np.float32)
    b = RNG.standard_normal((4, 3)).astype(np.float32)
    close(nn.MSELoss()(lg.tensor(a), lg.tensor(b)), ((a - b) ** 2).mean())
    close(nn.MSELoss(reduction="sum")(lg.tensor(a), lg.tensor(b)), ((a - b) ** 2).sum())
    close(nn.MSELoss(reduction="none")(lg.tensor(a), lg.tensor(b)), (a - b) ** 2)
    at = leaf(a)
    F.mse_loss(at, lg.tensor(b)).backward()
    close(at.grad, 2 * (a - b) / a.size)
    with pytest.raises(ValueError, match="is not a valid value for reduction"):
        nn.MSELoss(reduction="avg")


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_reductions_and_gradient(reduction: str) -> None:
    logits = RNG.standard_normal((6, 5)).astype(np.float32) * 3
    logits[0, 2] = 1000.0  # stability: a huge logit must not overflow
    target = np.array([2, 0, 4, 4, 1, 3])
    lt = leaf(logits)
    loss = nn.CrossEntropyLoss(reduction=reduction)(lt, lg.tensor(target))
    per = -log_softmax_ref(logits)[np.arange(6), target]
    expected = {"mean": per.mean(), "sum": per.sum(), "none": per}[reduction]
    close(loss, expected, atol=1e-5)
    loss.sum().backward()
    probs = np.exp(log_softmax_ref(logits))
    onehot = np.eye(5)[target]
    scale = 1 / 6 if reduction == "mean" else 1.0
    close(lt.grad, (probs - onehot) * scale, atol=1e-5)


def test_cross_entropy_weight_ignore_index_and_spatial() -> None:
    logits = RNG.standard_normal((5, 4)).astype(np.float32)
    target = np.array([1, -100, 3, 0, 1])
    weight = np.array([0.5, 2.0, 1.0, 3.0], dtype=np.float32)
    lsm = log_softmax_ref(logits)
    valid = target != -100
    w_t = np.where(valid, weight[np.where(valid, target, 0)], 0)
    per = -np.where(valid, lsm[np.arange(5), np.where(valid, target, 0)], 0) * w_t
    loss = F.cross_entropy(lg.tensor(logits), lg.tensor(target), weight=lg.tensor(weight))
    close(loss, per.sum() / w_t.sum())
    close(
        F.cross_entropy(lg.tensor(logits), lg.tensor(target), reduction="none"),
        -np.where(valid, lsm[np.arange(5), np.where(valid, target, 0)], 0),
    )
    # (N, C, d) input with (N, d) targets: the class dim is 1
    spatial = RNG.standard_normal((2, 4, 3)).astype(np.float32)
    t2 = np.array([[0, 3, 1], [2, 2, 0]])
    lsm2 = log_softmax_ref(spatial, 1)
    expected = -np.take_along_axis(lsm2, t2[:, None, :], 1).mean()
    close(F.cross_entropy(lg.tensor(spatial), lg.tensor(t2)), expected)
    # unbatched: (C,) input and a 0-d target
    close(F.cross_entropy(lg.tensor(logits[0]), lg.tensor(1)), -lsm[0, 1])


def test_cross_entropy_probabilities_and_label_smoothing() -> None:
    logits = RNG.standard_normal((4, 3)).astype(np.float32)
    probs = RNG.random((4, 3)).astype(np.float32)
    probs /= probs.sum(1, keepdims=True)
    lsm = log_softmax_ref(logits)
    close(F.cross_entropy(lg.tensor(logits), lg.tensor(probs)), -(probs * lsm).sum(1).mean())
    target = np.array([0, 2, 1, 1])
    eps = 0.1
    nll = -lsm[np.arange(4), target]
    smooth = -lsm.sum(1)
    expected = ((1 - eps) * nll + eps / 3 * smooth).mean()
    close(F.cross_entropy(lg.tensor(logits), lg.tensor(target), label_smoothing=eps), expected)


def test_nll_loss_matches_numpy() -> None:
    logp = log_softmax_ref(RNG.standard_normal((4, 3))).astype(np.float32)
    target = np.array([2, 1, 0, 2])
    lt = leaf(logp)
    loss = nn.NLLLoss()(lt, lg.tensor(target))
    close(loss, -logp[np.arange(4), target].mean())
    loss.backward()
    expected = np.zeros_like(logp)
    expected[np.arange(4), target] = -0.25
    close(lt.grad, expected)
    close(
        nn.NLLLoss(reduction="sum")(lg.tensor(logp), lg.tensor(target)),
        -logp[np.arange(4), target].sum(),
    )
    weighted = nn.NLLLoss(weight=lg.tensor([1.0, 2.0, 3.0]))
    assert list(weighted.state_dict()) == ["weight"]
    w = np.array([1.0, 2.0, 3.0])[target]
    close(
        weighted(lg.tensor(logp), lg.tensor(target)),
        (-logp[np.arange(4), target] * w).sum() / w.sum(),
    )


def test_pad_function() -> None:
    x = RNG.standard_normal((2, 3, 4)).astype(np.float32)
    close(F.pad(lg.tensor(x), (1, 2)), np.pad(x, ((0, 0), (0, 0), (1, 2))))
    close(
        F.pad(lg.tensor(x), (1, 0, 0, 2), value=-1.5),
        np.pad(x, ((0, 0), (0, 2), (1, 0)), constant_values=-1.5),
    )
    close(F.pad(lg.tensor(x), (-1, 1)), np.pad(x[:, :, 1:], ((0, 0), (0, 0), (0, 1))))


def test_one_hot() -> None:
    np.testing.assert_array_equal(arr(F.one_hot(lg.tensor([0, 2, 1]), 4)), np.eye(4)[[0, 2, 1]])
    assert F.one_hot(lg.tensor([0, 2])).shape == (2, 3)


def test_forward_is_lazy() -> None:
    """A forward and backward through every layer records IR and runs no kernel."""
    from lazygrad.engine.realize import schedule_listeners

    model = nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1),
        nn.GELU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.LayerNorm(8),
        nn.Dropout(0.1),
        nn.Linear(8, 3),
    )
    calls: list[int] = []
    schedule_listeners.append(lambda sched, tensors: calls.append(len(sched)))
    try:
        x = lg.randn(2, 1, 4, 4)
        loss = F.cross_entropy(model(x), lg.tensor([0, 2]))
        loss.backward()
        assert calls == []
        loss.item()
    finally:
        schedule_listeners.pop()
    assert len(calls) == 1


def test_functional_matches_torch_when_installed() -> None:
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    x = RNG.standard_normal((2, 4, 7, 6)).astype(np.float32)
    w = RNG.standard_normal((6, 2, 3, 3)).astype(np.float32)
    logits = RNG.standard_normal((5, 4)).astype(np.float32)
    target = np.array([1, -100, 3, 0, 1])
    weight = np.array([0.5, 2.0, 1.0, 3.0], dtype=np.float32)
    cases = [
        (lambda m, a, b: m.conv2d(a, b, stride=2, padding=1, groups=2), x, w),
        (lambda m, a, b: m.layer_norm(a, (7, 6)), x, w),
        (lambda m, a, b: m.gelu(a), x, w),
        (lambda m, a, b: m.max_pool2d(a, 3, 2, 1), x, w),
    ]
    for fn, a, b in cases:
        ours_a, ours_b = leaf(a), leaf(b)
        theirs_a = torch.tensor(a, requires_grad=True)
        theirs_b = torch.tensor(b, requires_grad=True)
        ours, theirs = fn(F, ours_a, ours_b), fn(tf, theirs_a, theirs_b)
        close(ours, theirs.detach().numpy(), atol=1e-4)
        up = RNG.standard_normal(tuple(theirs.shape)).astype(np.float32)
        (ours * lg.tensor(up)).sum().backward()
        (theirs * torch.tensor(up)).sum().backward()
        close(ours_a.grad, theirs_a.grad.numpy(), atol=1e-4)
    for kwargs in [
        {},
        {"weight": weight},
        {"label_smoothing": 0.2},
        {"weight": weight, "label_smoothing": 0.1, "reduction": "sum"},
    ]:
        ours_in, theirs_in = leaf(logits), torch.tensor(logits, requires_grad=True)
        ours = F.cross_entropy(
            ours_in,
            lg.tensor(target),
            **{k: lg.tensor(v) if k == "weight" else v for k, v in kwargs.items()},
        )
        theirs = tf.cross_entropy(
            theirs_in,
            torch.tensor(target),
            **{k: torch.tensor(v) if k == "weight" else v for k, v in kwargs.items()},
        )
        close(ours, theirs.detach().numpy())
        ours.backward()
        theirs.backward()
        close(ours_in.grad, theirs_in.grad.numpy())
