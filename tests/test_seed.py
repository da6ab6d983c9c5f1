"""Every snippet of the seed article (shared/seed/pytorch-fundamentals.md), run with lazygrad.

Each test is one snippet translated line by line (``torch`` -> ``lg``). The expected values and
reprs are what PyTorch 2.13.0 really prints for the same code (with ``torch.`` spelled
``lazygrad.``), which is not always what the article's comments say: ``y * 4`` prints floats, and
the accumulated gradient prints as ``tensor([ 4.,  8., 12.])``.
"""

import os

import pytest

import lazygrad as lg


def _no_opencl_outside_ci() -> bool:
    """True on a machine without an OpenCL device, unless CI is set (CI has PoCL)."""
    return not lg.opencl.is_available() and "CI" not in os.environ


# The condition is a string so that it is evaluated when the test runs, not at import.
requires_opencl = pytest.mark.skipif(
    "_no_opencl_outside_ci()", reason="no OpenCL device here and CI is unset"
)


def test_tensors_snippet() -> None:
    x = lg.Tensor([1, 2, 3, 4])
    assert x.shape == (4,)
    assert repr(x.shape) == "lazygrad.Size([4])"
    assert x.dtype == lg.float32
    assert repr(x) == "tensor([1., 2., 3., 4.])"

    y = lg.Tensor([[1, 2], [3, 4]])
    assert y.shape == (2, 2)
    assert repr(y.shape) == "lazygrad.Size([2, 2])"
    assert repr(y[0]) == "tensor([1., 2.])"
    assert repr(y[:, 0]) == "tensor([1., 3.])"
    assert repr(y[0, 0]) == "tensor(1.)"
    assert repr(y[1][1]) == "tensor(4.)"
    assert y[0].tolist() == [1.0, 2.0]
    assert y[:, 0].tolist() == [1.0, 3.0]
    assert y[0, 0].item() == 1.0
    assert y[1][1].item() == 4.0

    z = lg.randn(size=(2, 3))
    assert z.shape == (2, 3)
    assert repr(z.shape) == "lazygrad.Size([2, 3])"
    assert z.dtype == lg.float32
    assert repr(z).startswith("tensor([[")

    assert (y * 4).tolist() == [[4.0, 8.0], [12.0, 16.0]]
    assert (y * 4).dtype == lg.float32
    assert repr(y * 4) == "tensor([[ 4.,  8.],\n        [12., 16.]])"


def test_dtype_and_size_names() -> None:
    assert repr(lg.float32) == "lazygrad.float32"
    assert str(lg.float32) == "lazygrad.float32"
    assert repr(lg.int64) == "lazygrad.int64"
    assert repr(lg.Size([4])) == "lazygrad.Size([4])"
    assert str(lg.Size([2, 2])) == "lazygrad.Size([2, 2])"


def test_broadcasting_snippet() -> None:
    a = lg.tensor([1, 2, 3, 4])
    b = lg.tensor([3])
    assert a.dtype == lg.int64
    assert (a + b).tolist() == [4, 5, 6, 7]
    assert (a + b).dtype == lg.int64
    assert (a + b).shape == (4,)

    c = lg.tensor([[1, 2], [3, 4]])
    d = lg.tensor([2, 4])
    assert (c * d).tolist() == [[2, 8], [6, 16]]
    assert (c * d).dtype == lg.int64
    quotient = (c / b).tolist()
    assert (c / b).dtype == lg.float32
    assert (c / b).shape == (2, 2)
    assert quotient[0][0] == pytest.approx(1 / 3)
    assert quotient[0][1] == pytest.approx(2 / 3)
    assert quotient[1] == [1.0, pytest.approx(4 / 3)]

    e = lg.tensor([[3], [2]])
    assert e.shape == (2, 1)
    assert (c * e).tolist() == [[3, 6], [6, 8]]
    assert (c * e).dtype == lg.int64


def test_broadcasting_snippet_reprs() -> None:
    a = lg.tensor([1, 2, 3, 4])
    b = lg.tensor([3])
    c = lg.tensor([[1, 2], [3, 4]])
    d = lg.tensor([2, 4])
    e = lg.tensor([[3], [2]])
    assert repr(a) == "tensor([1, 2, 3, 4])"
    assert repr(b) == "tensor([3])"
    assert repr(a + b) == "tensor([4, 5, 6, 7])"
    assert repr(c * d) == "tensor([[ 2,  8],\n        [ 6, 16]])"
    assert repr(c / b) == "tensor([[0.3333, 0.6667],\n        [1.0000, 1.3333]])"
    assert repr(e) == "tensor([[3],\n        [2]])"
    assert repr(c * e) == "tensor([[3, 6],\n        [6, 8]])"


@requires_opencl
def test_gpu_operations_snippet() -> None:
    gpu = lg.device("cuda")
    assert repr(gpu) == "device(type='opencl', index=0)"

    # method 1: pass the device argument at creation
    x = lg.tensor([1, 2], device=gpu)
    assert x.device == lg.device("cuda")
    assert repr(x.device) == "device(type='opencl', index=0)"
    assert x.tolist() == [1, 2]
    assert repr(x) == "tensor([1, 2], device='opencl:0')"

    # method 2: use `to` to copy a tensor to a target device
    y = lg.tensor([1, 2])
    assert repr(y.device) == "device(type='cpu')"
    assert y.device == lg.device("cpu")
    y = y.to(gpu)
    assert y.device == gpu
    assert repr(y.device) == "device(type='opencl', index=0)"
    assert y.tolist() == [1, 2]


def test_autograd_snippet() -> None:
    w = lg.tensor([1.0, 2.0], requires_grad=True)
    x = w**2
    y = x * 2
    z = y.sum()

    assert repr(w) == "tensor([1., 2.], requires_grad=True)"
    assert repr(x) == "tensor([1., 4.], grad_fn=<PowBackward0>)"
    assert repr(y) == "tensor([2., 8.], grad_fn=<MulBackward0>)"
    assert repr(z) == "tensor(10., grad_fn=<SumBackward0>)"
    assert z.shape == ()

    assert w.grad is None
    z.backward()
    assert repr(w.grad) == "tensor([4., 8.])"
    assert w.grad.tolist() == [4.0, 8.0]
    assert w.grad.dtype == lg.float32


def test_backward_on_non_scalar_raises() -> None:
    w = lg.tensor([1.0, 2.0], requires_grad=True)
    z = w**2
    with pytest.raises(RuntimeError) as info:
        z.backward()
    assert str(info.value) == "grad can be implicitly created only for scalar outputs"


def test_only_floating_point_can_require_grad() -> None:
    with pytest.raises(RuntimeError) as info:
        lg.tensor([1, 2], requires_grad=True)
    expected = "Only Tensors of floating point and complex dtype can require gradients"
    assert str(info.value) == expected


def test_requires_grad_toggle_snippet() -> None:
    x = lg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x.requires_grad = False
    assert repr(x) == "tensor([1., 2., 3.])"
    y = (x**2).sum()
    assert repr(y) == "tensor(14.)"
    assert y.requires_grad is False

    x.requires_grad = True
    y = (x**2).sum()
    assert y.requires_grad is True
    assert repr(y) == "tensor(14., grad_fn=<SumBackward0>)"


def test_no_grad_snippet() -> None:
    x = lg.tensor([1.0, 2.0, 3.0], requires_grad=True)

    with lg.no_grad():
        y = (x**2).sum()

    assert repr(y) == "tensor(14.)"
    assert y.requires_grad is False

    y = (x**2).sum()
    assert y.requires_grad is True
    assert repr(y) == "tensor(14., grad_fn=<SumBackward0>)"


def test_gradient_accumulation_snippet() -> None:
    x = lg.tensor([1.0, 2.0, 3.0], requires_grad=True)

    y = (x**2).sum()
    y.backward()
    assert repr(x.grad) == "tensor([2., 4., 6.])"

    y = (x**2).sum()
    y.backward()
    assert repr(x.grad) == "tensor([ 4.,  8., 12.])"
    assert x.grad.tolist() == [4.0, 8.0, 12.0]


def test_zero_grad_with_none_snippet() -> None:
    x = lg.tensor([1.0, 2.0, 3.0], requires_grad=True)

    y = (x**2).sum()
    y.backward()
    assert repr(x.grad) == "tensor([2., 4., 6.])"

    x.grad = None
    assert x.grad is None

    y = (x**2).sum()
    y.backward()
    assert repr(x.grad) == "tensor([2., 4., 6.])"
    assert x.grad.tolist() == [2.0, 4.0, 6.0]


def test_get_and_set_rng_state_replay_the_draws_that_follow() -> None:
    lg.manual_seed(3)
    lg.randn(4)
    state = lg.get_rng_state()
    assert state.dtype is lg.uint8 and state.shape == (16,)
    first = lg.randn(5).tolist()
    lg.rand(2)
    lg.set_rng_state(state)
    assert lg.randn(5).tolist() == first
    with pytest.raises(TypeError, match="ByteTensor"):
        lg.set_rng_state(lg.zeros(16))
    with pytest.raises(RuntimeError, match="16 bytes"):
        lg.set_rng_state(lg.zeros(3, dtype=lg.uint8))


def test_rng_state_holds_any_seed_pytorch_takes() -> None:
    for seed in (2**63, 2**64 - 1, -1):
        lg.manual_seed(seed)
        state = lg.get_rng_state()
        first = lg.randn(3).tolist()
        lg.set_rng_state(state)
        assert lg.randn(3).tolist() == first
    lg.manual_seed(-1)
    negative = lg.randn(3).tolist()
    lg.manual_seed(2**64 - 1)
    assert lg.randn(3).tolist() == negative  # -1 is read as 2**64 - 1, as in PyTorch
