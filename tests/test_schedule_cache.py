"""The schedule cache: graphs of one structure share a schedule, anything else never does."""

from __future__ import annotations

import sys

import numpy as np

import lazygrad as lg

realize_module = sys.modules["lazygrad.realize"]


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


def test_constant_value_shape_dtype_never_share():
    base = lambda: (_fresh([1.0, 2.0]) * 3).sum()  # noqa: E731
    _misses(base)
    assert _misses(lambda: (_fresh([1.0, 2.0]) * 4).sum()) == 1  # constant's value
    assert _misses(lambda: (_fresh([1.0, 2.0, 3.0]) * 3).sum()) == 1  # shape
    assert _misses(lambda: (_fresh([1.0, 2.0], np.float64) * 3).sum()) == 1  # dtype
    assert (_fresh([1.0, 2.0]) * 4).sum().item() == 12.0


def test_device_never_shares():
    if not lg.opencl.is_available():
        return
    _misses(lambda: _fresh([1.0, 2.0]) * 7)
    assert _misses(lambda: _fresh([1.0, 2.0], device="opencl") * 7) == 1


def test_aliasing_is_part_of_the_structure():
    a, b = _fresh([1.0, 2.0]), _fresh([3.0, 4.0])
    _misses(lambda: a * b)
    c = _fresh([5.0, 6.0])
    assert _misses(lambda: c * c) == 1  # one buffer read twice is another graph
    assert (c * c).tolist() == [25.0, 36.0]
