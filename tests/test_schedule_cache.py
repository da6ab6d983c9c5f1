"""The schedule cache: graphs of one structure share a schedule, anything else never does."""

from __future__ import annotations

import sys

import numpy as np
from conftest import use_device

import lazygrad as lg
from lazygrad.ir.cache_key import structural_key

realize_module = sys.modules["lazygrad.engine.realize"]


def _misses(build) -> int:
    before = realize_module.cache_stats["misses"]
    build().realize()
    return realize_module.cache_stats["misses"] - before


def _fresh(values, dtype=np.float32, device="cpu"):
    return lg.tensor(np.asarray(values, dtype=dtype), device=device)


def test_same_structure_new_buffers_hits():
    assert _misses(lambda: (_fresh([1.0, 2.0]) * 3 + 1).exp()) in (0, 1)
    assert _misses(lambda: (_fresh([5.0, 6.0]) * 3 + 1).exp()) == 0
    out = (_fresh([0.0, 1.0]) * 3 + 1).exp()
    np.testing.assert_allclose(out.numpy(), np.exp(np.array([0.0, 1.0]) * 3 + 1), rtol=1e-6)


def _scaled(x, value):
    return (x * lg.full((2,), value)).sum()


def test_constant_value_shape_dtype_never_share():
    _misses(lambda: _scaled(_fresh([1.0, 2.0]), 3.0))
    assert _misses(lambda: _scaled(_fresh([1.0, 2.0]), 4.0)) == 1  # a constant's value
    assert _misses(lambda: (_fresh([1.0, 2.0, 3.0]) * 3.0).sum()) == 1  # shape
    assert _misses(lambda: _scaled(_fresh([1.0, 2.0], np.float64), 3.0)) == 1  # dtype
    assert _scaled(_fresh([1.0, 2.0]), 4.0).item() == 12.0


def test_python_scalars_are_arguments_not_recompiles():
    """A learning rate that changes every step reuses the schedule and its kernels."""
    w = _fresh([1.0, 2.0])
    _misses(lambda: _fresh([1.0, 2.0]) - 0.1 * _fresh([1.0, 2.0]))
    for lr in (0.2, 0.3, 0.05):
        assert _misses(lambda lr=lr: _fresh([1.0, 2.0]) - lr * _fresh([1.0, 2.0])) == 0
    np.testing.assert_allclose((w - 0.3 * w).numpy(), [0.7, 1.4], rtol=1e-6)


def test_special_scalar_values_are_keyed():
    """x * 1 simplifies to x, so it must not share a schedule with x * 3."""
    _misses(lambda: _fresh([1.0, 2.0]) * 3.0 + 5.0)
    assert _misses(lambda: _fresh([1.0, 2.0]) * 1.0 + 5.0) == 1
    assert (_fresh([1.0, 2.0]) * 1.0 + 5.0).tolist() == [6.0, 7.0]


def test_device_is_part_of_the_key():
    """One graph wanted on two devices has two keys (checked without any OpenCL device)."""
    node = (_fresh([1.0, 2.0]) * 7)._node
    on_cpu, _, _ = structural_key([node], ["cpu"], {})
    assert structural_key([node], ["cpu"], {})[0] == on_cpu
    assert structural_key([node], ["opencl:0"], {})[0] != on_cpu


def test_device_never_shares():
    use_device("opencl")  # skips (with a reason) without OpenCL, fails under CI
    _misses(lambda: _fresh([1.0, 2.0]) * 7)
    assert _misses(lambda: _fresh([1.0, 2.0], device="opencl") * 7) == 1


def test_aliasing_is_part_of_the_structure():
    a, b = _fresh([1.0, 2.0]), _fresh([3.0, 4.0])
    _misses(lambda: a * b)
    c = _fresh([5.0, 6.0])
    assert _misses(lambda: c * c) == 1  # one buffer read twice is another graph
    assert (c * c).tolist() == [25.0, 36.0]


def test_the_cache_keeps_no_input_alive():
    import gc
    import weakref

    x = _fresh(np.arange(4096.0))
    y = (x * 7.5 + 0.25).sqrt()
    y.realize()
    held = weakref.ref(x._node.arg)
    del x, y
    gc.collect()
    assert held() is None  # the cached schedule was built against placeholders
    z = (_fresh(np.arange(4096.0)) * 7.5 + 0.25).sqrt()
    assert _misses(lambda: z) == 0
    np.testing.assert_allclose(z.numpy(), np.sqrt(np.arange(4096.0) * 7.5 + 0.25), rtol=1e-6)


def test_slots_holding_one_buffer_first_are_bound_apart_later():
    a = _fresh([1.0, 2.0, 3.0]).realize()
    leaf = a.detach().requires_grad_().realize()  # the same buffer, a node of its own
    first = (leaf * 2 + a).detach()
    np.testing.assert_allclose(first.numpy(), [3.0, 6.0, 9.0])
    b = _fresh([1.0, 1.0, 1.0]).realize()
    other = _fresh([10.0, 20.0, 30.0]).detach().requires_grad_().realize()
    second = (other * 2 + b).detach()  # same structure, two different buffers
    assert _misses(lambda: second) == 0
    np.testing.assert_allclose(second.numpy(), [21.0, 41.0, 61.0])
