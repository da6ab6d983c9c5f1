"""Regression tests for values an adversarial sweep found silently wrong (each failed before
its fix): every one of them is checked against NumPy or PyTorch's documented behaviour."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from conftest import device_params, use_device

import lazygrad as lg
import lazygrad.nn as nn
import lazygrad.nn.functional as F


def test_where_whose_other_branch_simplifies_back_to_the_same_value(device: str) -> None:
    """`where(c, y, y2)` where y2 is y again through views that cancel: the kernel's output
    array is also y's, and the select must not clobber y before reading it."""
    y = lg.tensor([1.0, 2.0, 3.0], device=device)
    c = lg.tensor([True, False, True], device=device)
    np.testing.assert_array_equal(lg.where(c, y * 2, (y * 2).flip(0).flip(0)).numpy(), [2, 4, 6])
    m = lg.tensor([[1.0, 2.0], [3.0, 4.0]], device=device)
    np.testing.assert_array_equal(lg.where(m > 2, m + 1, (m + 1).T.T).numpy(), [[2, 3], [4, 5]])
    z = lg.ones(3, 1, 1, device=device)
    np.testing.assert_array_equal(lg.where(z > 0, z * 3, (z * 3).mT).numpy().ravel(), [3, 3, 3])


def test_contiguous_of_a_non_contiguous_view_is_a_copy() -> None:
    x = lg.arange(6.0).reshape(2, 3)
    y = x.T.contiguous()
    y.add_(1000)
    np.testing.assert_array_equal(x.numpy(), np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(y.numpy(), np.arange(6.0).reshape(2, 3).T + 1000)
    column = x[:, 1].contiguous()
    column.fill_(-1)
    np.testing.assert_array_equal(x.numpy(), np.arange(6.0).reshape(2, 3))
    # already contiguous: PyTorch returns the tensor itself (a row of x is x's storage)
    assert x.contiguous() is x
    row = x[1]
    assert row.contiguous() is row
    row.contiguous().fill_(7)
    np.testing.assert_array_equal(x.numpy(), [[0, 1, 2], [7, 7, 7]])


def test_a_view_of_a_copy_writes_into_the_copy() -> None:
    x = lg.arange(6.0).reshape(2, 3)
    y = x.T.reshape(-1)  # not one strided window of x: a copy
    y[0:2].fill_(100.0)
    np.testing.assert_array_equal(x.numpy(), np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(y.numpy(), [100, 100, 1, 4, 2, 5])
    a = lg.arange(6.0)
    b = a.reshape(2, 3)  # contiguous: a view, so writes through its views reach a
    b[0].fill_(7.0)
    np.testing.assert_array_equal(a.numpy(), [7, 7, 7, 3, 4, 5])


@pytest.mark.parametrize("loss", [F.cross_entropy, lambda x, t: F.nll_loss(x.log_softmax(1), t)])
def test_class_targets_out_of_range_raise(loss: object) -> None:
    x = lg.randn(3, 4)
    for bad in ([0, 4, 1], [0, -2, 1]):
        with pytest.raises(IndexError, match=f"Target {bad[1]} is out of bounds"):
            loss(x, lg.tensor(bad))  # type: ignore[operator]
    # the ignored index is no error, and the others count as usual
    kept = loss(x, lg.tensor([0, -100, 3])).item()  # type: ignore[operator]
    logp = x.log_softmax(1).numpy()
    assert kept == pytest.approx(-(logp[0, 0] + logp[2, 3]) / 2, rel=1e-5)


@pytest.mark.parametrize(
    "make",
    [
        lambda: lg.tensor([2**63]),
        lambda: lg.tensor(2**63),
        lambda: lg.tensor([2**63 - 1, 2**63]),
        lambda: lg.tensor([[1, -(2**63) - 1]]),
    ],
)
def test_python_ints_beyond_int64_raise(make: object) -> None:
    with pytest.raises(RuntimeError, match="Overflow when unpacking long"):
        make()  # type: ignore[operator]


def test_integers_that_do_not_fit_the_dtype_raise() -> None:
    with pytest.raises(RuntimeError, match="int32_t without overflow"):
        lg.tensor([2**40], dtype=lg.int32)
    with pytest.raises(RuntimeError, match="int64_t without overflow"):
        lg.tensor(np.array([2**64 - 1], np.uint64))
    # what fits is kept exactly
    assert lg.tensor([2**31 - 1], dtype=lg.int32).tolist() == [2**31 - 1]
    assert lg.tensor([-(2**63), 2**63 - 1]).tolist() == [-(2**63), 2**63 - 1]
    assert lg.tensor(np.array([3], np.uint64)).tolist() == [3]
    # with a float among them, ints become floats (as in PyTorch)
    assert lg.tensor([1.5, 2**70]).dtype == lg.float32


def test_threads_realizing_the_same_structure_get_their_own_values() -> None:
    """Cached kernels and schedules are shared by every graph of one structure: realizes
    from several threads at once must not mix their scratch arrays."""
    errors: list[str] = []

    def work(seed: int) -> None:
        rng = np.random.default_rng(seed)
        for _ in range(150):
            a = rng.standard_normal((64, 33)).astype(np.float32)
            x = lg.tensor(a)
            got = ((x * 2.0 + 1.0).exp().sum(1) / (x.abs() + 1.0).sum(1)).numpy()
            want = np.exp(a * 2 + 1).sum(1) / (np.abs(a) + 1).sum(1)
            if not np.allclose(got, want, rtol=1e-4):
                errors.append(f"thread {seed}")

    threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


@pytest.mark.parametrize("dev", device_params())
def test_lazy_index_tensors_out_of_bounds_raise(dev: str) -> None:
    """Index values known only when the graph runs are checked there: PyTorch raises
    IndexError (a device-side assert on GPUs) where this read 0, wrapped, or read the next
    row."""
    use_device(dev)
    x = lg.arange(4.0, device=dev)
    i = lg.tensor([1], device=dev) * 1  # computed: its values are not on the host
    np.testing.assert_array_equal(x[i * -1].numpy(), [3.0])  # in bounds: from the end
    m = lg.arange(12.0, device=dev).reshape(3, 4)
    for read in (lambda: x[i * 5], lambda: x[i * -5], lambda: m[i * 0, i * 4]):
        with pytest.raises(IndexError, match="out of bounds"):
            read().numpy()
    y = lg.zeros(4, device=dev)
    with pytest.raises(IndexError, match="out of bounds"):
        y[i * 4] = 1.0
        y.numpy()
    with pytest.raises(IndexError, match="out of bounds"):
        nn.Embedding(3, 2).to(dev)(i * 3).detach().numpy()
    np.testing.assert_array_equal(x.numpy(), [0, 1, 2, 3])  # what was involved stays usable
    z = lg.zeros(4, device=dev)
    z[i * 2] = 5.0  # and later indexing works as usual
    np.testing.assert_array_equal(z.numpy(), [0, 0, 5, 0])


def test_an_index_error_on_opencl_is_reported_once() -> None:
    """The device's error flag is read and reset at the next read from the device (the CPU
    raises as the kernel runs), so a later read raises only if a later kernel went out of
    bounds too."""
    use_device("opencl")
    x = lg.tensor([0.0, 1.0, 2.0, 3.0], device="opencl")
    i = lg.tensor([2], device="opencl") * 2
    lg.realize(x[i])  # no read yet: reported at the next read, as CUDA's device asserts are
    with pytest.raises(IndexError, match="out of bounds"):
        (x + i).numpy()
    np.testing.assert_array_equal((x * i).numpy(), [0, 4, 8, 12])
    np.testing.assert_array_equal(x[i - 1].numpy(), [3.0])


def test_positions_the_kernel_keeps_in_bounds_are_not_checked_on_opencl() -> None:
    """Writes through a basic index scatter to arange positions: no flag to read back."""
    use_device("opencl")
    from lazygrad.engine.realize import schedule
    from lazygrad.runtime import opencl as cl_runtime

    y = lg.zeros(4, 3, device="opencl")
    y[1:3, 0] = 5.0
    (kernel,) = [k for k in schedule(y).kernels if k.kind == "scatter"]
    assert "lg_err" not in cl_runtime.render(kernel)
    x, i = lg.tensor([1.0, 2.0], device="opencl"), lg.tensor([1], device="opencl") * 1
    assert "lg_err" in cl_runtime.render(schedule(x[i]).kernels[-1])
    np.testing.assert_array_equal(y.numpy()[:, 0], [0, 5, 5, 0])


def test_a_view_made_with_a_0d_index_tensor_keeps_its_position() -> None:
    """A 0-d index tensor selects like the int it holds when the view is made (found by the
    fuzzer: writes through the view followed later changes of the index)."""
    x = lg.tensor([-2, 1, 4])
    i = lg.tensor(0)
    g = x[i]
    i.add_(1)
    g.add_(10)
    np.testing.assert_array_equal(x.numpy(), [8, 1, 4])


def test_cat_of_one_tensor_and_empty_ones_is_a_new_tensor() -> None:
    """cat([x, empty]) returned x itself, so writes to the result changed x (fuzzer find)."""
    x = lg.tensor([1.0, -1.5])
    c = lg.cat([x, lg.zeros(0), lg.zeros(0)], -1)
    assert c is not x
    c.unsqueeze(0)[0, lg.tensor([1])] = 5.0
    np.testing.assert_array_equal(x.numpy(), [1.0, -1.5])
    np.testing.assert_array_equal(c.numpy(), [1.0, 5.0])


def test_one_graph_realized_on_two_devices_keeps_a_value_per_device() -> None:
    """Nodes carry no device: `arange(4)` on cpu and on opencl is one node. A value stored on
    one device must not be taken for the other's (the OpenCL tensor pointed at a CPU
    buffer, and indexing it failed)."""
    use_device("opencl")
    x = lg.arange(4.0, device="cpu")
    np.testing.assert_array_equal(x.numpy(), [0, 1, 2, 3])
    y = lg.arange(4.0, device="opencl")
    y.realize()
    assert y._node.arg.device == str(y.device)
    i = lg.tensor([1], device="opencl") * 1
    np.testing.assert_array_equal(y[i].numpy(), [1.0])
    np.testing.assert_array_equal((y + i).numpy(), [1, 2, 3, 4])
    a, b = lg.arange(3.0) * 2, lg.arange(3.0, device="opencl") * 2
    lg.realize(a, b)  # one node wanted on both devices at once
    assert (a._node.arg.device, b._node.arg.device) == ("cpu", str(b.device))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
