"""Fusion you can count (kernels in `lg.schedule`), memory you can count (tracemalloc while
realizing), and graphs deep enough to break any recursion on graph depth."""

from __future__ import annotations

import importlib
import tracemalloc
from collections.abc import Callable

import numpy as np
import pytest
from conftest import check, use_device

import lazygrad as lg
from lazygrad.ir.passes import fuse
from lazygrad.ir.schedule import Schedule
from lazygrad.renderer import numpy as numpy_renderer
from lazygrad.runtime import cpu as cpu_runtime
from lazygrad.runtime import kernel_source
from lazygrad.runtime import opencl_device as cl_device

REALIZE_MODULE = importlib.import_module("lazygrad.engine.realize")
MiB = 2**20


def _inputs(device: str, shape: tuple[int, ...], count: int, seed: int = 0) -> list[lg.Tensor]:
    rng = np.random.default_rng(seed)
    return [
        lg.tensor(rng.standard_normal(shape).astype(np.float32), device=device)
        for _ in range(count)
    ]


def chain(a: lg.Tensor, b: lg.Tensor, c: lg.Tensor) -> lg.Tensor:
    """The issue's 7-op elementwise chain."""
    return ((a * b + c).exp() * 0.5 + a.abs().sqrt()).relu()


def numpy_chain(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.maximum(np.exp(a * b + c) * np.float32(0.5) + np.sqrt(np.abs(a)), 0)


def test_elementwise_chain_is_one_kernel(device: str) -> None:
    a, b, c = _inputs(device, (64, 64), 3)
    y = chain(a, b, c)
    kernels = lg.schedule(y)
    assert len(kernels) == 1
    assert kernels[0].ops == ["mul", "add", "exp", "mul", "abs", "sqrt", "add", "max"]
    check(y, numpy_chain(a.numpy(), b.numpy(), c.numpy()))


def test_broadcast_expression_is_one_kernel(device: str) -> None:
    x = lg.randn(4096, 4096, device=device)  # never realized: only its schedule matters
    scale = lg.randn(4096, 1, device=device).realize()
    bias = lg.randn(4096, device=device).realize()
    kernels = lg.schedule((x * scale + bias).tanh())
    compute = [k for k in kernels if k.ops != ["rand"]]  # x's random numbers are a leaf
    assert len(compute) == 1
    assert compute[0].ops == ["mul", "add", "tanh"]
    assert [k.outputs[0].shape for k in compute] == [(4096, 4096)]
    assert len(kernels) == 2  # the rand kernel making x, then everything else


def test_broadcast_expression_values(device: str) -> None:
    x, scale, bias = (
        _inputs(device, (64, 32), 1)[0],
        *_inputs(device, (64, 1), 1, seed=1),
        *_inputs(device, (32,), 1, seed=2),
    )
    y = (x * scale + bias).tanh()
    assert len(lg.schedule(y)) == 1
    check(y, np.tanh(x.numpy() * scale.numpy() + bias.numpy()), rtol=2e-5)


def test_softmax_kernels(device: str) -> None:
    (x,) = _inputs(device, (32, 100), 1)
    assert len(lg.schedule(x.softmax(1))) <= 2
    shifted = x - x.max(1, keepdim=True).values
    e = shifted.exp()
    by_hand = e / e.sum(1, keepdim=True)
    del shifted, e  # values a user still holds are stored: these are dropped, so fused
    assert len(lg.schedule(by_hand)) <= 2
    expected = np.exp(x.numpy() - x.numpy().max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    check(x.softmax(1), expected, rtol=1e-5, atol=1e-7)
    check(by_hand, expected, rtol=1e-5, atol=1e-7)
    assert len(lg.schedule(x.log_softmax(-1))) <= 2


def test_layernorm_style_expression(device: str) -> None:
    x, w, b = _inputs(device, (16, 64), 1)[0], *_inputs(device, (64,), 2, seed=3)
    mean = x.mean(-1, keepdim=True)
    var = x.var(-1, keepdim=True, unbiased=False)
    y = (x - mean) / (var + 1e-5).sqrt() * w + b
    kernels = lg.schedule(y)
    # Today both reductions and the normalisation fuse into one kernel; two are acceptable.
    assert len(kernels) <= 2
    assert sum(k.ops.count("sum") for k in kernels) == 2  # mean(x) is computed once
    xn = x.numpy()
    expected = (xn - xn.mean(-1, keepdims=True)) / np.sqrt(xn.var(-1, keepdims=True) + 1e-5)
    check(y, expected * w.numpy() + b.numpy(), rtol=1e-4, atol=1e-5)
    assert len(lg.schedule(x.mean())) == 1
    assert len(lg.schedule(x.std(1))) <= 2


def test_shared_subgraph_runs_once(device: str) -> None:
    a, b = _inputs(device, (32, 48), 2)
    shared = (a * b).sum(1, keepdim=True).exp()
    y = a / shared
    z = b - shared
    both = lg.schedule(y, z)
    assert len(both) <= len(lg.schedule(y)) + len(lg.schedule(z))
    assert sum(k.ops.count("sum") for k in both) == 1  # the shared reduce is not repeated
    runs: list[str] = []
    original = REALIZE_MODULE.run_schedule

    def counting(schedule, *args, **kwargs):  # noqa: ANN001, ANN202
        runs.extend(k.name for k in schedule.kernels)
        return original(schedule, *args, **kwargs)

    REALIZE_MODULE.run_schedule = counting
    try:
        lg.realize(y, z)
    finally:
        REALIZE_MODULE.run_schedule = original
    assert len(runs) == len(both)
    s = np.exp((a.numpy() * b.numpy()).sum(1, keepdims=True))
    check(y, a.numpy() / s, rtol=1e-5)
    check(z, b.numpy() - s, rtol=1e-5)
    assert len(lg.schedule(y, z)) == 0


def test_realized_tensors_contribute_no_kernels(device: str) -> None:
    a, b = _inputs(device, (8, 8), 2)
    assert len(lg.schedule(a)) == 0  # host data is already a buffer
    y = (a + b).exp()
    assert len(lg.schedule(y)) == 1
    y.realize()
    assert len(lg.schedule(y)) == 0 and len(y.schedule()) == 0
    z = y * 2 + a
    kernels = lg.schedule(z)
    assert len(kernels) == 1
    assert "exp" not in kernels[0].ops  # y is read from its buffer, not recomputed
    assert [spec.shape for spec in kernels[0].inputs] == [(8, 8), (8, 8)]


def test_kernel_attributes(device: str) -> None:
    a, b = _inputs(device, (4, 5), 2)
    kernels = lg.schedule((a * b).sum(0))
    assert len(kernels) == 1
    k = kernels[0]
    assert isinstance(k.name, str) and k.name
    assert str(k.device).startswith(device)
    assert k.ops == ["mul", "sum"]
    assert [(spec.shape, spec.dtype) for spec in k.inputs] == [((4, 5), lg.float32)] * 2
    assert [spec.dtype for spec in k.outputs] == [lg.float32]
    assert int(np.prod(k.outputs[0].shape)) == 5
    assert isinstance(kernel_source(k), str) and kernel_source(k)
    if device == "cpu":
        assert "np." in kernel_source(k)
    assert repr(k).startswith(f"Kernel({k.name}, device={k.device}, ops=['mul', 'sum'], ")
    assert "inputs=[float32[4, 5], float32[4, 5]]" in repr(k)


def test_schedule_runs_nothing(device: str) -> None:
    a, b = _inputs(device, (4, 4), 2)
    y = a * b + 1
    original = REALIZE_MODULE.run_schedule

    def refuse(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError("schedule() must not run kernels")

    REALIZE_MODULE.run_schedule = refuse
    try:
        kernels = lg.schedule(y)
        _ = [kernel_source(k) for k in kernels]
    finally:
        REALIZE_MODULE.run_schedule = original
    assert len(kernels) == 1


def test_fused_chain_memory() -> None:
    """Realizing the chain on 2**24 float32 elements allocates one output and at most one
    scratch array, where eager NumPy holds several temporaries at once."""
    n = 2**24
    rng = np.random.default_rng(0)
    host = [rng.standard_normal(n, dtype=np.float32) for _ in range(3)]
    a, b, c = (lg.tensor(x) for x in host)
    lg.realize(a, b, c)
    y = chain(a, b, c)
    lg.schedule(y)  # compile outside the measurement
    tracemalloc.start()
    try:
        y.realize()
        _, lazy_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    tracemalloc.start()
    try:
        eager = numpy_chain(*host)
        _, eager_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    array = n * 4
    assert lazy_peak < 2.5 * array, f"lazy peak {lazy_peak / MiB:.0f} MiB"
    assert eager_peak > lazy_peak, (eager_peak / MiB, lazy_peak / MiB)
    assert eager_peak >= 2.5 * array  # eager NumPy really does hold temporaries
    np.testing.assert_allclose(y.numpy()[:1000], eager[:1000], rtol=1e-5)


def _fresh_allocations(device: str) -> Callable[[], int]:
    """A counter of the arrays a device allocates from now on (not taken from its pool)."""
    if device == "cpu":
        pool = cpu_runtime.pool
        pool.free.clear()
        pool.held = 0
        start = pool.stats["allocations"]
        return lambda: pool.stats["allocations"] - start
    dev = cl_device.get_device(lg.device(device).index)
    dev.release_idle()
    start = dev.pool_stats()["allocations"]
    return lambda: dev.pool_stats()["allocations"] - start


def test_the_cpu_pool_reuses_memory_by_size_class() -> None:
    """Arrays come from blocks of a power-of-two size; a block given back (through any
    view of it) serves the next array of its class, whatever its shape and dtype."""
    allocated = _fresh_allocations("cpu")
    pool = cpu_runtime.pool
    a = pool.take((256, 512), "float32")
    assert a.shape == (256, 512) and a.dtype == np.float32 and a.flags.c_contiguous
    pool.give(a.reshape(-1)[:10])  # any view returns the whole block
    b = pool.take((500, 100), "float64")  # 400 KB: the same 512 KiB class
    assert np.shares_memory(a, b) and allocated() == 1
    c = pool.take((3,), "int64")  # another class: a new block
    assert allocated() == 2 and not np.shares_memory(b, c)
    pool.give(np.zeros(256, np.float32))  # not a block of the pool: ignored
    assert pool.take((64,), "float32") is not None and allocated() == 3


def test_intermediates_go_back_to_the_pool_after_their_last_kernel(device: str) -> None:
    n = 64
    eye = np.eye(n, dtype=np.float32)
    a = (lg.tensor(eye / 2, device=device) * 2.0).realize()  # computed there: no upload
    x = a
    for _ in range(6):  # six kernels, each reading only the one before
        x = x @ a + 1.0
    kernels = lg.schedule(x)
    assert len(kernels) == 6
    assert [len(r) for r in kernels.releases] == [0, 1, 1, 1, 1, 1]
    allocated = _fresh_allocations(device)
    x.realize()
    # kernel 3 writes where kernel 1's dead output was, and so on: two arrays in turn, plus
    # a scratch array (CPU) or the matmul's two packing buffers (OpenCL); without releasing,
    # one more for every kernel
    assert allocated() <= 4
    expected = eye
    for _ in range(6):
        expected = expected @ eye + 1
    check(x, expected)


def test_deep_graph_needs_no_recursion(device: str) -> None:
    start = np.linspace(-1, 1, 8, dtype=np.float32)
    x = lg.tensor(start, device=device)
    expected = start.copy()
    for _ in range(10_000):  # 20,000 elementwise ops that simplification cannot remove
        x = x * 1.0001 + 0.0001
        expected = expected * np.float32(1.0001) + np.float32(0.0001)
    kernels = lg.schedule(x)
    assert sum(len(k.ops) for k in kernels) == 20_000
    check(x, expected, rtol=1e-5)


def test_deep_graph_of_mixed_ops(device: str) -> None:
    x = lg.tensor(np.ones(4, np.float32), device=device)
    y = x
    for i in range(3000):
        y = (y + x).relu() if i % 2 else y * 0.5 + x.sum() * 0.001
    check(y.sum(), np.asarray(_mixed_reference()), rtol=1e-4)


def _mixed_reference() -> np.float32:
    x = np.ones(4, np.float32)
    y = x
    for i in range(3000):
        y = np.maximum(y + x, 0) if i % 2 else y * np.float32(0.5) + x.sum() * np.float32(0.001)
    return y.sum()


# ---- regressions ------------------------------------------------------------------------------
def test_schedule_cache_does_not_serve_stale_constants() -> None:
    """A realized constant is an input slot of the cached schedule, never a baked-in value."""
    assert lg.full((), False).item() is False
    assert lg.full((), True).item() is True
    assert lg.full((4,), False).tolist() == [False] * 4
    assert lg.full((4,), True).tolist() == [True] * 4


def test_schedule_cache_does_not_serve_stale_results() -> None:
    """x.log() realized through lg.log(x), then read via detach(), is the log (not the
    cached result of an earlier x.exp() with the same structure)."""
    for name in ("exp", "log"):
        x = lg.tensor(np.array([0.5, 1.5], np.float32))
        lazy = getattr(x, name)()
        eager = getattr(lg, name)(x).numpy()
        np.testing.assert_array_equal(lazy.detach().numpy(), eager)


def test_a_kernel_writes_over_an_input_that_dies_there() -> None:
    a = (lg.tensor(np.eye(64, dtype=np.float32) / 2) * 2.0).realize()
    x = a @ a  # its own kernel
    y = x.sum(1, keepdim=True) + x.exp()  # reads x as it is (last by exp), and nothing else does
    del x  # (a tensor the user still holds would be stored)
    kernels = lg.schedule(y)
    assert [k.kind for k in kernels] == ["dot", "reduce"]
    assert kernels[1].donated == tuple(kernels[0].output_nodes)
    assert "d0 = x0" in kernel_source(kernels[1])  # the input array serves as a scratch array
    allocated = _fresh_allocations("cpu")
    y.realize()
    # x only: exp(x), then y, are written over x, and the row sums (small) are an array
    # kept with the kernel
    assert allocated() == 1
    check(y, np.exp(np.eye(64)) + 1.0, "float32")


def test_an_input_read_through_a_view_is_not_written_over() -> None:
    a = (lg.tensor(np.arange(16, dtype=np.float32).reshape(4, 4) / 32) * 2.0).realize()
    x = a @ a
    y = x.exp() + x.T.sum(0, keepdim=True)  # x is read twice, once transposed
    assert all(not k.donated for k in lg.schedule(y).kernels)
    xn = np.arange(16, dtype=np.float32).reshape(4, 4) / 16
    xn = xn @ xn
    check(y, np.exp(xn) + xn.T.sum(0, keepdims=True), rtol=1e-5)


def test_a_reordered_read_of_a_kernel_output_is_never_fused_with_it(device: str) -> None:
    rng = np.random.default_rng(2)
    data, weights = (rng.standard_normal((4, 4)).astype(np.float32) for _ in range(2))
    x, w = lg.tensor(data, device=device), lg.tensor(weights, device=device)
    a = x * 2
    y = a.relu()
    z = y.T + a  # reads y transposed, and shares a with y's kernel
    lg.realize(y, z)
    check(z, np.maximum(2 * data, 0).T + 2 * data)
    h = (x * 2).relu()
    p, q = h @ w, h.T + x * 2
    lg.realize(p, q)
    check(q, np.maximum(2 * data, 0).T + 2 * data)
    check(p, np.maximum(2 * data, 0) @ weights, rtol=1e-5)


def test_a_clone_of_a_dying_input_keeps_its_values() -> None:
    x = lg.zeros(4, 4)
    x[lg.tensor([1, 2])] = 5.0  # a scatter: its own kernel, whose output dies in the next
    c = x.clone()
    del x  # (a tensor the user still holds would be stored)
    e = c * 2  # the clone's kernel writes over x's array, but must keep the clone's values
    kernels = lg.schedule(c, e).kernels
    assert kernels[-1].ops == ["contiguous", "mul"] and kernels[-1].donated
    lg.realize(c, e)
    expected = np.zeros((4, 4), np.float32)
    expected[[1, 2]] = 5
    np.testing.assert_array_equal(c.numpy(), expected)
    np.testing.assert_array_equal(e.numpy(), 2 * expected)


def test_merging_kernels_never_closes_a_cycle_through_another_merge(device: str) -> None:
    """Loss, gradients and updated weights realized together: the count of targets that a
    cross-entropy divides by is read by the row kernel of its gradient, and the loss reads
    that row kernel; merging the count into the loss's kernel would close a cycle."""
    rng = np.random.default_rng(3)
    x = lg.tensor(rng.standard_normal((8, 6), dtype=np.float32), device=device)
    y = lg.tensor(rng.integers(0, 3, 8), device=device)
    w = lg.tensor(rng.standard_normal((6, 3), dtype=np.float32), device=device)
    w.requires_grad_()
    loss = lg.nn.functional.cross_entropy(x @ w, y)
    loss.backward()
    with lg.no_grad():
        updated = w - 0.1 * w.grad
    lg.realize(loss, w.grad, updated)  # raised "the kernel graph has a cycle"
    logits = x.numpy() @ w.detach().numpy()
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    check(loss, -np.log(p[np.arange(8), y.numpy()]).mean(), rtol=1e-5, atol=1e-6)
    onehot = np.eye(3, dtype=np.float32)[y.numpy()]
    grad = x.numpy().T @ (p - onehot) / 8
    check(w.grad, grad, rtol=1e-4, atol=1e-6)
    check(updated, w.detach().numpy() - 0.1 * grad, rtol=1e-4, atol=1e-6)


def test_an_update_reading_a_wanted_gradient_shares_its_kernel(device: str) -> None:
    """A gradient the caller wants (so written out) and the update that reads it: one
    kernel writes both, for a contraction's gradient and for a reduction's."""
    rng = np.random.default_rng(4)
    a, g = (rng.standard_normal((5, 4), dtype=np.float32) for _ in range(2))
    w, b = rng.standard_normal((4, 4), dtype=np.float32), rng.standard_normal(4, dtype=np.float32)
    ta, tg, tw, tb = (lg.tensor(v, device=device) for v in (a, g, w, b))
    grad_w, grad_b = ta.T @ tg, tg.sum(0)
    new_w, new_b = tw - 0.5 * grad_w, tb - 0.5 * grad_b
    kernels = lg.schedule(grad_w, new_w, grad_b, new_b).kernels
    assert sorted(len(k.output_nodes) for k in kernels) == [2, 2]
    lg.realize(grad_w, new_w, grad_b, new_b)
    check(grad_w, a.T @ g, rtol=1e-5, atol=1e-6)
    check(new_w, w - 0.5 * (a.T @ g), rtol=1e-5, atol=1e-6)
    check(grad_b, g.sum(0), rtol=1e-5, atol=1e-6)
    check(new_b, b - 0.5 * g.sum(0), rtol=1e-5, atol=1e-6)


def test_a_repeating_cpu_schedule_runs_as_one_program() -> None:
    """From its second run on, a cached schedule of several NumPy kernels is one generated
    function; its results are the kernel-by-kernel ones."""
    rng = np.random.default_rng(5)
    w = rng.standard_normal((4, 3)).astype(np.float32)
    tw = lg.tensor(w)
    for _ in range(3):
        x = rng.standard_normal((5, 4)).astype(np.float32)
        out = ((lg.tensor(x) @ tw).relu() + 1).sum(0)
        kernels = len(lg.schedule(out).kernels)
        check(out, (np.maximum(x @ w, 0) + 1).sum(0), rtol=1e-5, atol=1e-6)
    assert kernels == 2
    programs = [
        e.schedule.program
        for e in REALIZE_MODULE._schedule_cache.values()
        if isinstance(e.schedule.program, cpu_runtime.Program)
    ]
    assert any("k0(" in p.source and "k1(" in p.source for p in programs)


def test_views_of_inputs_render_as_reshapes_and_transposes() -> None:
    """Permuted, broadcast and sliced reads of an input are NumPy reshapes (no
    `as_strided`), and read the right elements."""
    rng = np.random.default_rng(6)
    a = rng.standard_normal((2, 3, 4)).astype(np.float32)
    b = rng.standard_normal((4,)).astype(np.float32)
    ta, tb = lg.tensor(a), lg.tensor(b)
    cases = [
        (ta.permute(2, 0, 1) * 2, a.transpose(2, 0, 1) * 2),
        (ta + tb, a + b),
        (ta[1] * tb, a[1] * b),
        (ta.reshape(6, 4).T @ ta.reshape(6, 4), a.reshape(6, 4).T @ a.reshape(6, 4)),
        (tb.reshape(4, 1) * tb, b.reshape(4, 1) * b),
    ]
    for got, want in cases:
        source = "".join(kernel_source(k) for k in lg.schedule(got).kernels)
        assert "_view(" not in source, source
        check(got, want, rtol=1e-5, atol=1e-6)


def test_small_scratch_arrays_stay_with_their_kernel_and_never_leave_it() -> None:
    """A small scratch array is made once with its kernel; an output never is one (a later
    run would write over an earlier result)."""
    rng = np.random.default_rng(8)
    arrays = [rng.standard_normal((6, 5)).astype(np.float32) for _ in range(3)]

    def softmax_rows(t: lg.Tensor) -> lg.Tensor:
        e = (t - t.max(1, keepdim=True).values).exp()
        return e / e.sum(1, keepdim=True)

    results = [softmax_rows(lg.tensor(a)).realize() for a in arrays]
    (kernel,) = lg.schedule(softmax_rows(lg.tensor(arrays[0]))).kernels
    assert "kept between calls" in kernel_source(kernel)
    for got, a in zip(results, arrays, strict=True):
        e = np.exp(a - a.max(1, keepdims=True))
        check(got, e / e.sum(1, keepdims=True), rtol=1e-5, atol=1e-6)


def test_two_outputs_of_one_array_never_share_its_memory() -> None:
    """A kernel returns a scratch array as one output only: a second output of the same
    values is a copy, so the first dying (its array back to the pool) leaves it intact."""
    data = np.arange(6, dtype=np.float32).reshape(2, 3)
    x = lg.tensor(data)
    kept, flat = x.sum(1, keepdim=True), x.sum(1)
    (kernel,) = lg.schedule(kept, flat).kernels
    assert len(kernel.output_nodes) == 2 and "_own(" in kernel_source(kernel)
    lg.realize(kept, flat)
    del kept
    for _ in range(3):  # reuse pooled arrays of both shapes
        (lg.tensor(np.ones((2, 1), np.float32)) * 5).realize()
        (lg.tensor(np.ones(2, np.float32)) * 5).realize()
    check(flat, data.sum(1))


def test_long_chains_over_big_arrays_run_a_chunk_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An elementwise chain of 4+ ops over big arrays runs in chunks that stay in cache;
    the values are those of one pass, bit for bit, whatever the last chunk's length."""
    monkeypatch.setattr(numpy_renderer, "CHUNK", 1000)
    monkeypatch.setattr(numpy_renderer, "CHUNK_MIN_ELEMENTS", 4096)
    rng = np.random.default_rng(9)
    a, b, c = (rng.standard_normal(10007).astype(np.float32) for _ in range(3))
    ta, tb, tc = (lg.tensor(v) for v in (a, b, c))
    out = chain(ta, tb, tc)
    (kernel,) = lg.schedule(out).kernels
    assert "for _a in range(0, 10007, 1000):" in kernel_source(kernel)
    np.testing.assert_array_equal(out.numpy(), numpy_chain(a, b, c))
    # two outputs, a 2-d shape, and an input computed by the kernel before (random
    # draws), which dies here: the chain writes over it
    x = lg.rand(10007, 1)
    y = (x * 3.0).exp() + x.abs().sqrt()
    z = (y - 1.0) * 0.5
    drawn_node = x._node
    del x  # (a tensor the user still holds would be stored)
    kernels = lg.schedule(y, z).kernels
    assert kernels[-1].donated and "for _a in range(" in kernel_source(kernels[-1])
    lg.realize(y, z)
    # drawn again, in a schedule of its own: the same numbers
    drawn = lg.Tensor._wrap(drawn_node, lg.device("cpu")).numpy()
    want = np.exp(drawn * np.float32(3)) + np.sqrt(np.abs(drawn))
    check(y, want, rtol=1e-6)
    check(z, (want - 1) * np.float32(0.5), rtol=1e-6)


def test_short_chains_and_broadcasts_run_in_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(numpy_renderer, "CHUNK", 1000)
    monkeypatch.setattr(numpy_renderer, "CHUNK_MIN_ELEMENTS", 4096)
    x, row = lg.tensor(np.ones((100, 100), np.float32)), lg.tensor(np.ones(100, np.float32))
    for make in (lambda: (x * 2).exp(), lambda: ((x * 2 + row).exp() * 3).sqrt()):
        (kernel,) = lg.schedule(make()).kernels  # short; a broadcast input
        assert "for _a" not in kernel_source(kernel)


def _residual_chain(steps: int, device: str = "cpu") -> lg.Tensor:
    """`y + y.mean(0)` residuals mixed with transposes and flips: every step a reduction
    and a movement over the whole history."""
    y = lg.tensor(np.linspace(-1, 1, 64 * 32, dtype=np.float32).reshape(64, 32), device=device)
    for i in range(steps):
        if i % 3 == 0:
            y = y + y.mean(0, keepdim=True) * 0.001
        elif i % 3 == 1:
            y = (y.T * 1.001).T
        else:
            y = y.flip(0) + 0.1
    return y


def test_partitioning_scales_linearly_with_the_graph() -> None:
    """Work per node is bounded (movements are pushed through at most PUSH_LIMIT nodes,
    merge candidates come from an index): 20,000 ops partition in seconds, and a graph
    four times longer has about four times the kernels."""
    short, long = lg.schedule(_residual_chain(500)), lg.schedule(_residual_chain(2000))
    assert 3.5 * len(short) <= len(long) <= 4.5 * len(short)
    big = _residual_chain(20_000)
    assert len(lg.schedule(big)) > 1000


def test_a_kernel_computes_at_most_reduce_stages_reductions(device: str) -> None:
    y = lg.tensor(np.linspace(-1, 1, 64 * 32, dtype=np.float32).reshape(64, 32), device=device)
    want = y.numpy().astype(np.float64)
    for _ in range(100):
        y = y + y.mean(0, keepdim=True) * 0.001
        want = want + want.mean(0, keepdims=True) * 0.001
    kernels = lg.schedule(y).kernels
    stages = [sum(op == "sum" for op in k.ops) for k in kernels]
    assert max(stages) == fuse.REDUCE_STAGES and len(kernels) == 7, stages
    assert "kernel length" in {r for k in kernels for r in k.reasons}
    check(y, want.astype(np.float32), rtol=1e-5, atol=1e-6)


def test_a_kernel_takes_at_most_its_argument_budget(device: str) -> None:
    """A sum of 300 tensors: OpenCL guarantees 1,024 bytes of kernel arguments (128
    arrays), so the chain is split into kernels of at most KERNEL_ARGUMENTS each."""
    xs = [lg.tensor(np.full(8, i, np.float32), device=device) for i in range(300)]
    total = xs[0]
    for x in xs[1:]:
        total = total + x
    kernels = lg.schedule(total).kernels
    assert len(kernels) > 1
    assert all(len(k.input_nodes) + len(k.param_nodes) <= fuse.KERNEL_ARGUMENTS for k in kernels)
    assert "kernel arguments" in {r for k in kernels for r in k.reasons}
    check(total, np.full(8, sum(range(300)), np.float32))


# ---- shared values: recomputed when cheap, written out once when expensive (RECOMPUTE_LIMIT)
def _sin_cos(t: lg.Tensor, n: int) -> lg.Tensor:
    """`n` elementwise ops (sin, cos, sin, ...): a subgraph of exactly `n` nodes."""
    for i in range(n):
        t = t.sin() if i % 2 == 0 else t.cos()
    return t


def _np_sin_cos(a: np.ndarray, n: int) -> np.ndarray:
    for i in range(n):
        a = np.sin(a) if i % 2 == 0 else np.cos(a)
    return a


def _chain_ops(kernels: Schedule) -> int:
    return sum(op in ("sin", "cos") for k in kernels for op in k.ops)


def _sums_of_cheap_and_expensive(x: lg.Tensor) -> tuple[lg.Tensor, lg.Tensor]:
    # built in a function: a shared value the caller still held would be an output
    a, b = _sin_cos(x, 17), (x * 2).exp()
    return (a * b).sum(0), (a + b).sum(1)


def test_shared_values_two_reduces_recompute_cheap_and_store_expensive(device: str) -> None:
    """Two reductions read a 17-node value (written out once) and a 3-node one (recomputed)."""
    (x,) = _inputs(device, (8, 16), 1)
    s0, s1 = _sums_of_cheap_and_expensive(x)
    kernels = lg.schedule(s0, s1)
    assert [k.reasons for k in kernels] == [["shared expensive value"], ["output"], ["output"]]
    assert kernels[0].ops == ["sin", "cos"] * 8 + ["sin"]
    assert kernels[1].ops == ["mul", "exp", "mul", "sum"]
    assert kernels[2].ops == ["mul", "exp", "add", "sum"]
    a, b = _np_sin_cos(x.numpy(), 17), np.exp(x.numpy() * 2)
    check(s0, (a * b).sum(0), atol=1e-5)
    check(s1, (a + b).sum(1), atol=1e-5)


def _three_readers(x: lg.Tensor) -> tuple[lg.Tensor, lg.Tensor, lg.Tensor]:
    a, b = _sin_cos(x, 17), x.exp() * 3
    return (a + b).sum(0), (a * b).max(1).values, a - b


def test_shared_values_three_readers_compute_the_chain_once(device: str) -> None:
    """Three kernels read both values: the long chain runs once, the cheap exp in each."""
    (x,) = _inputs(device, (8, 16), 1)
    s, m, d = _three_readers(x)
    kernels = lg.schedule(s, m, d)
    assert len(kernels) == 3
    assert _chain_ops(kernels) == 17
    assert sum(k.ops.count("exp") for k in kernels) == 3
    assert kernels[0].reasons == ["shared expensive value", "output"]  # `a - b` fused in
    a, b = _np_sin_cos(x.numpy(), 17), np.exp(x.numpy()) * 3
    check(s, (a + b).sum(0), rtol=1e-5, atol=1e-5)
    check(m, (a * b).max(1), rtol=1e-5, atol=1e-5)
    check(d, a - b, rtol=1e-5, atol=1e-5)


def _both_sides_of_the_limit(x: lg.Tensor, z: lg.Tensor) -> list[lg.Tensor]:
    a, c = _sin_cos(x, 16), _sin_cos(z, 17)
    return [a.sum(0), a.sum(1), c.sum(0), c.sum(1)]


def test_shared_value_limit_is_sixteen_nodes(device: str) -> None:
    """A shared 16-node value is recomputed by each reader; a 17-node one is written out."""
    x, z = _inputs(device, (8, 16), 2)
    outs = _both_sides_of_the_limit(x, z)
    kernels = lg.schedule(*outs)
    assert len(kernels) == 5
    stored = [k for k in kernels if "shared expensive value" in k.reasons]
    assert len(stored) == 1 and stored[0].ops == ["sin", "cos"] * 8 + ["sin"]
    assert _chain_ops(kernels) == 16 + 16 + 17  # the 16-node value twice, the other once
    a, c = _np_sin_cos(x.numpy(), 16), _np_sin_cos(z.numpy(), 17)
    for got, want in zip(outs, [a.sum(0), a.sum(1), c.sum(0), c.sum(1)], strict=True):
        check(got, want, atol=1e-5)


@pytest.mark.parametrize("device", ["cpu", "opencl"])
def test_a_long_chain_is_cut_into_kernels_that_share_a_program(device: str) -> None:
    """A chain longer than KERNEL_OPS is cut (a device compiler's time grows with a kernel's
    length); the repeating pieces are one program, built once."""
    use_device(device)
    steps = 4 * fuse.KERNEL_OPS + 3
    values = np.linspace(0, 1, 64, dtype=np.float32)
    x = lg.tensor(values, device=device).realize()
    want = values.copy()
    for i in range(steps):
        x = x * np.float32(1.0001) if i % 2 else x + np.float32(0.0001)
        want = want * np.float32(1.0001) if i % 2 else want + np.float32(0.0001)
    kernels = lg.schedule(x).kernels
    assert [len(k.ops) for k in kernels] == [fuse.KERNEL_OPS] * 4 + [3]
    if device == "opencl":
        dev = cl_device.get_device(0)
        before = dev.build_stats()
        x.realize()
        after = dev.build_stats()
        built = sum(after[k] - before[k] for k in ("compiles", "disk_loads"))
        # the middle 1000-op kernels (which write over the input they read) share one
        # program; the first (whose input is the caller's) and the 3-op tail are others
        assert built <= 3
    np.testing.assert_allclose(x.numpy(), want, rtol=1e-5)
