"""Gradients derived by the autodiff pass, checked against central finite differences in
float64, plus the autograd semantics of SPEC.md and fusion of the backward graph."""

from __future__ import annotations

import numpy as np
import pytest

import lazygrad as lg

EPS = 1e-6


def _inputs(shapes, rng, positive=False):
    arrays = []
    for shape in shapes:
        mag = rng.uniform(0.5, 1.5, size=shape)
        sign = np.ones(shape) if positive else rng.choice([-1.0, 1.0], size=shape)
        arrays.append(np.asarray(mag * sign, dtype=np.float64))
    return arrays


def gradcheck(fn, shapes, device, positive=False, seed=0):
    """Compare lg.autograd.grad of sum(fn(*x) * w) with central differences."""
    rng = np.random.default_rng(seed)
    arrays = _inputs(shapes, rng, positive)
    tensors = [lg.tensor(a, device=device, requires_grad=True) for a in arrays]
    out = fn(*tensors)
    weights = rng.uniform(0.5, 1.5, size=tuple(out.shape))
    loss = (out * lg.tensor(weights, device=device)).sum()
    analytic = lg.autograd.grad(loss, tensors, allow_unused=True)

    def value(xs):
        y = fn(*[lg.tensor(x, device=device, requires_grad=True) for x in xs])
        return float((y.detach().numpy().astype(np.float64) * weights).sum())

    for i, a in enumerate(arrays):
        numeric = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            plus = [x.copy() for x in arrays]
            minus = [x.copy() for x in arrays]
            plus[i][idx] += EPS
            minus[i][idx] -= EPS
            numeric[idx] = (value(plus) - value(minus)) / (2 * EPS)
        got = np.zeros_like(a) if analytic[i] is None else analytic[i].numpy()
        np.testing.assert_allclose(
            got, numeric, rtol=1e-5, atol=1e-6, err_msg=f"gradient of input {i}"
        )


ELEMENTWISE = {
    "add": (lambda a, b: a + b, [(3, 4), (4,)], False),
    "sub": (lambda a, b: a - b, [(3, 1), (1, 4)], False),
    "rsub": (lambda a: 2 - a, [(5,)], False),
    "mul": (lambda a, b: a * b, [(2, 3), (2, 3)], False),
    "div": (lambda a, b: a / b, [(3, 4), (3, 1)], False),
    "rdiv": (lambda a: 1 / a, [(4,)], False),
    "pow_scalar": (lambda a: a**3, [(4,)], False),
    "pow_tensor": (lambda a, b: a**b, [(3,), (3,)], True),
    "rpow": (lambda a: 2**a, [(3,)], False),
    "neg": (lambda a: -a, [(3,)], False),
    "abs": (lambda a: a.abs(), [(5,)], False),
    "exp": (lambda a: a.exp(), [(2, 2)], False),
    "log": (lambda a: a.log(), [(4,)], True),
    "log2": (lambda a: a.log2(), [(4,)], True),
    "sqrt": (lambda a: a.sqrt(), [(4,)], True),
    "rsqrt": (lambda a: a.rsqrt(), [(4,)], True),
    "sin": (lambda a: a.sin(), [(4,)], False),
    "cos": (lambda a: a.cos(), [(4,)], False),
    "tanh": (lambda a: a.tanh(), [(4,)], False),
    "sigmoid": (lambda a: a.sigmoid(), [(4,)], False),
    "relu": (lambda a: a.relu(), [(6,)], False),
    "clamp": (lambda a: a.clamp(-1.0, 1.0), [(6,)], False),
    "maximum": (lambda a, b: lg.maximum(a, b), [(5,), (5,)], False),
    "minimum": (lambda a, b: lg.minimum(a, b), [(2, 3), (3,)], False),
    "where": (lambda a, b: lg.where(a > 0, a, b), [(5,), (5,)], False),
    "reciprocal": (lambda a: a.reciprocal(), [(4,)], False),
    "remainder": (lambda a: a % 0.7, [(4,)], True),
    "square_chain": (lambda a: ((a * a + 1).log() * a).tanh(), [(3, 3)], False),
}

REDUCTIONS = {
    "sum": (lambda a: a.sum(), [(3, 4)]),
    "sum_dim": (lambda a: a.sum(1, keepdim=True), [(3, 4)]),
    "sum_dims": (lambda a: a.sum((0, 2)), [(2, 3, 2)]),
    "mean": (lambda a: a.mean(0), [(3, 4)]),
    "max": (lambda a: a.max(), [(3, 4)]),
    "max_dim": (lambda a: a.max(1).values, [(3, 4)]),
    "min_dim": (lambda a: a.min(0).values, [(3, 4)]),
    "prod": (lambda a: a.prod(1), [(2, 3)]),
    "var": (lambda a: a.var(1), [(3, 4)]),
    "std": (lambda a: a.std(), [(3, 4)]),
    "logsumexp": (lambda a: a.logsumexp(1), [(3, 4)]),
    "softmax": (lambda a: a.softmax(1), [(3, 4)]),
    "log_softmax": (lambda a: a.log_softmax(0), [(3, 4)]),
}

STRUCTURE = {
    "matmul": (lambda a, b: a @ b, [(3, 4), (4, 2)]),
    "matmul_batched": (lambda a, b: a @ b, [(2, 3, 4), (4, 2)]),
    "matvec": (lambda a, b: a @ b, [(3, 4), (4,)]),
    "dot": (lambda a, b: a @ b, [(4,), (4,)]),
    "reshape": (lambda a: a.reshape(4, 3) * 2, [(3, 4)]),
    "permute": (lambda a: a.permute(2, 0, 1) * 2, [(2, 3, 2)]),
    "transpose_add": (lambda a: a.T + a, [(3, 3)]),
    "expand": (lambda a: a.expand(3, 4) * 1.5, [(3, 1)]),
    "flip": (lambda a: a.flip(0) * a, [(4,)]),
    "cat": (lambda a, b: lg.cat([a, b * 2], 1), [(2, 3), (2, 2)]),
    "stack": (lambda a, b: lg.stack([a, b], 0), [(3,), (3,)]),
    "split": (lambda a: a.split(2, 1)[1] * 3, [(2, 5)]),
    "slice": (lambda a: a[1:, ::2], [(3, 5)]),
    "int_index": (lambda a: a[[0, 2, 2]], [(3, 2)]),
    "select": (lambda a: a[1] * a[0], [(3, 2)]),
    "setitem": (lambda a, b: _setitem(a, b), [(3, 4), (4,)]),
    "unsqueeze_squeeze": (lambda a: a.unsqueeze(0).squeeze() * a, [(3,)]),
    "flatten": (lambda a: a.flatten() ** 2, [(2, 3)]),
}


def _setitem(a, b):
    c = a * 1
    c[1] = b
    return c * c


@pytest.mark.parametrize("name", list(ELEMENTWISE))
def test_gradcheck_elementwise(name, device):
    fn, shapes, positive = ELEMENTWISE[name]
    gradcheck(fn, shapes, device, positive)


@pytest.mark.parametrize("name", list(REDUCTIONS))
def test_gradcheck_reductions(name, device):
    fn, shapes = REDUCTIONS[name]
    gradcheck(fn, shapes, device)


@pytest.mark.parametrize("name", list(STRUCTURE))
def test_gradcheck_structure(name, device):
    fn, shapes = STRUCTURE[name]
    gradcheck(fn, shapes, device)


SECOND_ORDER = {
    "mul": lambda a: a * a * a,
    "exp": lambda a: a.exp(),
    "tanh": lambda a: a.tanh(),
    "sigmoid": lambda a: a.sigmoid(),
    "log": lambda a: (a * a).log(),
    "div": lambda a: 1 / (a * a + 1),
    "sin": lambda a: a.sin() * a,
}


@pytest.mark.parametrize("name", list(SECOND_ORDER))
def test_second_derivative_elementwise(name, device):
    fn = SECOND_ORDER[name]

    def first(a):
        (g,) = lg.autograd.grad(fn(a).sum(), a, create_graph=True)
        return g

    gradcheck(first, [(4,)], device)


def test_second_derivative_matmul(device):
    rng = np.random.default_rng(1)
    b = lg.tensor(rng.standard_normal((3, 2)), device=device)

    def first(a):
        (g,) = lg.autograd.grad(((a @ b) ** 2).sum(), a, create_graph=True)
        return g

    gradcheck(first, [(2, 3)], device)


# ---- semantics ------------------------------------------------------------------------------
def test_requires_grad_only_on_floats():
    with pytest.raises(RuntimeError, match="Only Tensors of floating point and complex dtype"):
        lg.tensor([1, 2], requires_grad=True)
    t = lg.tensor([1, 2])
    with pytest.raises(RuntimeError, match="only Tensors of floating point and complex dtype"):
        t.requires_grad = True
    with pytest.raises(RuntimeError, match="only Tensors of floating point dtype"):
        t.requires_grad_()
    assert t.tolist() == [1, 2]


def test_leaves_grad_fn_and_next_functions():
    w = lg.tensor([1.0, 2.0], requires_grad=True)
    y = (w * 2).sum()
    assert w.is_leaf and not y.is_leaf
    assert y.grad_fn.name() == "SumBackward0"
    ((inner, _),) = y.grad_fn.next_functions
    assert inner.name() == "MulBackward0"
    assert inner.next_functions[0][0].variable is w
    assert repr(w @ w.detach()).endswith("grad_fn=<DotBackward0>)")
    m = lg.ones(2, 2, requires_grad=True)
    assert (m @ m).grad_fn.name() == "MmBackward0"
    assert m.mean().grad_fn.name() == "MeanBackward0"
    assert m.softmax(0).grad_fn.name() == "SoftmaxBackward0"


def test_backward_accumulates_and_clears():
    x = lg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x**2).sum().backward()
    (x**2).sum().backward()
    assert x.grad.tolist() == [4.0, 8.0, 12.0]
    x.grad = None
    (x * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0, 3.0]


def test_backward_non_scalar_needs_gradient():
    x = lg.tensor([1.0, 2.0], requires_grad=True)
    y = x * x
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar"):
        y.backward()
    y.backward(lg.tensor([1.0, 0.5]))
    assert x.grad.tolist() == [2.0, 2.0]


def test_retain_graph():
    x = lg.tensor([1.0, 2.0], requires_grad=True)
    y = (x**2).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.tolist() == [4.0, 8.0]
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_autograd_grad_leaves_grad_untouched():
    x = lg.tensor([1.0, 2.0], requires_grad=True)
    (g,) = lg.autograd.grad((x**3).sum(), x)
    assert g.tolist() == [3.0, 12.0]
    assert x.grad is None


def test_no_grad_enable_grad_and_decorators():
    x = lg.tensor([1.0], requires_grad=True)
    with lg.no_grad():
        assert not lg.is_grad_enabled()
        assert not (x * 2).requires_grad
        with lg.enable_grad():
            assert (x * 2).requires_grad

    @lg.no_grad()
    def f(t):
        return t * 2

    assert not f(x).requires_grad
    assert lg.is_grad_enabled()


def test_detach_and_in_place_on_leaf():
    x = lg.tensor([1.0, 2.0], requires_grad=True)
    assert not x.detach().requires_grad
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        x.add_(1)
    with lg.no_grad():
        x.add_(1)
    assert x.detach().tolist() == [2.0, 3.0]
    assert x.requires_grad and x.is_leaf


def test_grad_is_lazy_and_realizes_together():
    a = lg.tensor(np.ones((8, 8), np.float32), requires_grad=True)
    b = lg.tensor(np.ones((8, 8), np.float32), requires_grad=True)
    ((a * b).exp()).sum().backward()
    alone = lg.schedule(a.grad)  # not computed yet; b.grad shares exp(a*b), so comes along
    assert len(alone) == 1 and alone[0].ops == ["mul", "exp", "mul", "mul"]
    assert len(alone[0].outputs) == 2
    assert len(lg.schedule(a.grad, b.grad)) == 1
    lg.realize(a.grad, b.grad)
    assert len(lg.schedule(a.grad, b.grad)) == 0
    np.testing.assert_allclose(a.grad.numpy(), np.full((8, 8), np.e, np.float32), rtol=1e-6)
    np.testing.assert_allclose(b.grad.numpy(), np.full((8, 8), np.e, np.float32), rtol=1e-6)


def test_leaf_realized_before_backward_still_gets_grad():
    w = lg.randn(3, requires_grad=True)
    loss = (w * 2).sum()
    _ = repr(w)  # realizes w
    loss.backward()
    assert w.grad.tolist() == [2.0, 2.0, 2.0]


# ---- fusion of the backward graph -----------------------------------------------------------
def test_chain_gradients_fuse(device):
    rng = np.random.default_rng(0)
    a, b, c = (
        lg.tensor(
            rng.uniform(0.5, 1.5, (64, 64)).astype(np.float32), device=device, requires_grad=True
        )
        for _ in range(3)
    )
    loss = ((a * b + c).exp() * 0.5 + a.abs().sqrt()).relu().sum()
    loss.backward()
    kernels = lg.schedule(a.grad, b.grad, c.grad)
    assert sorted(k.kind for k in kernels) == ["elementwise", "reduce"]  # the loss is held
    del loss, kernels
    assert len(lg.schedule(a.grad, b.grad, c.grad)) == 1  # the gradients alone: one kernel
    A, B, C = (t.detach().numpy() for t in (a, b, c))
    e = np.exp(A * B + C)
    np.testing.assert_allclose(a.grad.numpy(), e * 0.5 * B + 0.5 / np.sqrt(A), rtol=1e-4)
    np.testing.assert_allclose(b.grad.numpy(), e * 0.5 * A, rtol=1e-4)
    np.testing.assert_allclose(c.grad.numpy(), e * 0.5, rtol=1e-4)


def test_a_leaf_made_from_a_buffer_is_not_copied(device):
    a, b = (lg.tensor(np.full((64,), v, np.float32), device=device) for v in (2.0, 3.0))
    x, y = a.detach().requires_grad_(), b.detach().requires_grad_()  # leaves of their own
    assert len(lg.schedule(x, y)) == 0  # the buffers already hold their values
    gx, gy = lg.autograd.grad((x * y).exp().sum(), [x, y])
    kernels = lg.schedule(gx, gy)
    assert len(kernels) == 1 and "contiguous" not in kernels[0].ops
    e = np.exp(np.float32(6.0))
    np.testing.assert_allclose(gx.numpy(), np.full((64,), 3 * e, np.float32), rtol=1e-6)
    np.testing.assert_allclose(gy.numpy(), np.full((64,), 2 * e, np.float32), rtol=1e-6)


def test_relu_after_a_matmul_is_its_epilogue_in_both_passes(device):
    rng = np.random.default_rng(1)
    x = lg.tensor(rng.standard_normal((8, 6)).astype(np.float32), device=device)
    w1, w2 = (
        lg.tensor(rng.standard_normal(s).astype(np.float32), device=device, requires_grad=True)
        for s in ((6, 5), (5, 3))
    )
    h = (x @ w1).relu()
    loss = (h @ w2).sum()
    loss.backward()
    kernels = lg.schedule(loss, w1.grad, w2.grad)  # a training step realizes all three
    # the backward mask reads relu's result (h > 0), which the first matmul's kernel writes
    assert [k.ops for k in kernels if "max" in k.ops] == [["dot", "max"]]
    live = (x.numpy() @ w1.detach().numpy()) > 0
    g_h = np.ones((8, 3), np.float32) @ w2.detach().numpy().T * live
    np.testing.assert_allclose(w1.grad.numpy(), x.numpy().T @ g_h, rtol=1e-5, atol=1e-6)


def test_leaves_sharing_one_buffer_keep_their_own_gradients(device):
    x = lg.tensor([1.0, 2.0, 3.0], device=device).realize()
    w1 = x.detach().requires_grad_().realize()
    w2 = x.detach().requires_grad_().realize()
    assert len(lg.schedule(w1, w2)) == 0  # no copies: both read x's buffer
    (w1 * 2 + w2 * 3).sum().backward()
    np.testing.assert_array_equal(w1.grad.numpy(), [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(w2.grad.numpy(), [3.0, 3.0, 3.0])
    lg.manual_seed(0)
    r = lg.randn(3, device=device)
    a, b = r.detach().requires_grad_(), r.detach().requires_grad_()
    lg.realize(a, b)  # one random draw, two leaves
    (a * 2 + b * 3).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(b.grad.numpy(), [3.0, 3.0, 3.0])
    p1 = lg.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    p2 = lg.zeros(3, device=device, requires_grad=True)
    with lg.no_grad():
        p2.copy_(p1)
    lg.realize(p1, p2)
    (p1 * 2 + p2 * 3).sum().backward()
    np.testing.assert_array_equal(p1.grad.numpy(), [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(p2.grad.numpy(), [3.0, 3.0, 3.0])


def test_mlp_backward_and_update_fuse():
    rng = np.random.default_rng(0)
    x = lg.tensor(rng.standard_normal((16, 10)).astype(np.float32))
    params = [
        lg.tensor(rng.standard_normal(s).astype(np.float32) * 0.1, requires_grad=True)
        for s in [(10, 12), (12,), (12, 12), (12,), (12, 3), (3,)]
    ]
    h = x
    for i in range(0, 6, 2):
        h = h @ params[i] + params[i + 1]
        if i < 4:
            h = h.relu()
    loss = (h * h).mean()
    loss.backward()
    with lg.no_grad():
        updated = [p - 0.1 * p.grad for p in params]
    ops = len(lg.ir.node.toposort([u._node for u in updated]))
    kernels = len(lg.schedule(*updated))
    assert kernels < ops / 4, (kernels, ops)


def test_deep_backward_chain():
    x = lg.tensor([0.5], dtype=lg.float64, requires_grad=True)
    y = x
    for i in range(20_000):
        y = y * 1.0001 if i % 2 else y + 0.0001
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0001**10_000], rtol=1e-9)
