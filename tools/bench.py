"""Side-by-side benchmarks: lazygrad (cpu and opencl; W5 and W6 also under lg.jit, where
recording the graph in Python is most of the cost) next to eager NumPy and, when they are
installed, numexpr, torch (eager and torch.compile), jax.jit and tinygrad — in one process
run, printing a Markdown table of medians and ratios against eager NumPy (higher is faster),
first-call (compile) time and peak memory; and, against the limits of the hardware measured
first (tools/limits.py: copy bandwidth, FMA / BLAS peak), the memory-bound workloads' GB/s
and W4's GFLOP/s as fractions of those limits.

    python tools/bench.py            # full sizes (W1 on 3 x 2**24 float32, ...)
    python tools/bench.py --quick    # small sizes, for a smoke run
    python tools/bench.py --only W1,W4
    python tools/bench.py --only W8    # the plain training loop (see tools/loop_bench.py)
    python tools/bench.py --no-limits  # skip measuring the limits (a few seconds)
    python tools/bench.py --first-calls --only W1,W3  # also cold and warm first calls (slow)
"""

from __future__ import annotations

import argparse
import functools
import gc
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import limits  # noqa: E402
import loop_bench  # noqa: E402

import lazygrad as lg  # noqa: E402
from lazygrad.buffer import Buffer  # noqa: E402
from lazygrad.ir.node import make  # noqa: E402
from lazygrad.ir.ops import Op  # noqa: E402
from lazygrad.runtime import cpu as cpu_runtime  # noqa: E402
from lazygrad.runtime import opencl_device as cl_device


@dataclass
class Result:
    """Timings of one implementation of one workload."""

    median_s: float
    first_s: float
    peak_mb: float | None = None
    note: str = ""


@dataclass
class Workload:
    """A workload: NumPy inputs, an eager NumPy reference and a lazygrad version."""

    name: str
    title: str
    make_inputs: Callable[[bool], dict[str, np.ndarray]]
    numpy_fn: Callable[[dict], object]
    lazygrad_fn: Callable[[dict], list]  # returns tensors to realize
    per_op: int = 0  # report µs per op instead of ms (W6)
    jit: bool = False  # also run it under lg.jit (where recording the graph costs most)
    flops: Callable[[dict], float] | None = None  # FLOPs one call does, from its inputs
    memory_bound: bool = False  # reported against the memory bandwidth (at least one pass)
    peers: dict[str, Callable[[dict], Callable[[], object]]] = field(default_factory=dict)


@dataclass
class Work:
    """The least one call of a workload must do at the sizes run."""

    flops: float = 0.0  # floating-point operations (0: not counted)
    nbytes: int = 0  # bytes moved: inputs read once + outputs written once (0: not counted)


def least_work(w: Workload, inputs: dict) -> Work:
    """`w`'s FLOPs (when it counts them) and, for a memory-bound workload, its least traffic
    (the output sizes taken from one call of its NumPy version)."""
    flops = w.flops(inputs) if w.flops else 0.0
    nbytes = limits.min_traffic(inputs.values(), w.numpy_fn(inputs)) if w.memory_bound else 0
    return Work(float(flops), nbytes)


MIN_SECONDS = 0.5  # fast workloads repeat until this much was measured (at most 20x)


def _time(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(median, first call) in seconds: `repeat` timed calls after the first, or more for
    a fast workload (on a shared 2-core machine, five calls of 3 ms scatter too much)."""
    start = time.perf_counter()
    fn()
    first = time.perf_counter() - start
    times: list[float] = []
    while len(times) < repeat or (sum(times) < MIN_SECONDS and len(times) < 20 * repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), first


def _peak_mb(fn: Callable[[], object]) -> float:
    gc.collect()
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


# ---- workloads --------------------------------------------------------------------------------
def _chain_inputs(quick: bool) -> dict:
    rng = np.random.default_rng(0)
    n = 2**16 if quick else 2**24
    return {k: rng.standard_normal(n, dtype=np.float32) for k in "abc"}


def _chain_np(d: dict) -> np.ndarray:
    a, b, c = d["a"], d["b"], d["c"]
    return np.maximum(np.exp(a * b + c) * 0.5 + np.sqrt(np.abs(a)), 0)


def _chain_lg(t: dict) -> list:
    a, b, c = t["a"], t["b"], t["c"]
    return [((a * b + c).exp() * 0.5 + a.abs().sqrt()).relu()]


def _chain_grads_np(d: dict) -> list:
    a, b, c = d["a"], d["b"], d["c"]
    e = np.exp(a * b + c)
    s = np.sqrt(np.abs(a))
    live = (e * 0.5 + s) > 0
    ge = np.where(live, 0.5 * e, 0).astype(np.float32)
    ga = ge * b + np.where(live, np.sign(a) * 0.5 / np.where(s == 0, 1, s), 0)
    return [ga, ge * a, ge]


def _chain_grads_lg(t: dict) -> list:
    a, b, c = (t[k].detach().requires_grad_() for k in "abc")
    loss = ((a * b + c).exp() * 0.5 + a.abs().sqrt()).relu().sum()
    return list(lg.autograd.grad(loss, [a, b, c]))


def _bcast_inputs(quick: bool) -> dict:
    rng = np.random.default_rng(1)
    n = 512 if quick else 4096
    return {
        "x": rng.standard_normal((n, n), dtype=np.float32),
        "scale": rng.standard_normal((n, 1), dtype=np.float32),
        "bias": rng.standard_normal((n,), dtype=np.float32),
    }


def _softmax_inputs(quick: bool) -> dict:
    rng = np.random.default_rng(2)
    return {"x": rng.standard_normal((512 if quick else 4096, 1024), dtype=np.float32)}


def _softmax_np(d: dict) -> np.ndarray:
    x = d["x"]
    e = np.exp(x - x.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def _softmax_lg(t: dict) -> list:
    x = t["x"]
    e = (x - x.max(1, keepdim=True).values).exp()
    return [e / e.sum(1, keepdim=True)]


def _matmul_inputs(quick: bool) -> dict:
    rng = np.random.default_rng(3)
    n = 256 if quick else 1024
    return {
        "a": rng.standard_normal((n, n), dtype=np.float32),
        "b": rng.standard_normal((n, n), dtype=np.float32),
    }


def _mlp_inputs(quick: bool) -> dict:
    rng = np.random.default_rng(4)
    batch = 256
    return {
        "x": rng.standard_normal((batch, 784), dtype=np.float32),
        "y": rng.integers(0, 10, batch),
        "w1": (rng.standard_normal((784, 512)) * 0.03).astype(np.float32),
        "b1": np.zeros(512, np.float32),
        "w2": (rng.standard_normal((512, 10)) * 0.03).astype(np.float32),
        "b2": np.zeros(10, np.float32),
    }


def _mlp_np(d: dict) -> None:
    """One hand-written NumPy training step of a 784-512-10 ReLU MLP (SGD, lr 0.01)."""
    loop_bench.numpy_step(d["x"], d["y"], [d[k] for k in ("w1", "b1", "w2", "b2")], 0.01)


def _mlp_lg(t: dict) -> list:
    params = [t[k] for k in ("w1", "b1", "w2", "b2")]
    for p in params:
        if not p.requires_grad:
            p.requires_grad_()
    x, y = t["x"], t["y"]
    h = (x @ params[0] + params[1]).relu()
    logits = h @ params[2] + params[3]
    loss = lg.nn.functional.cross_entropy(logits, y)  # as the torch peer writes it
    for p in params:
        p.grad = None
    loss.backward()
    with lg.no_grad():
        for p in params:
            p -= 0.01 * p.grad
    return params


def _tiny_inputs(quick: bool) -> dict:
    return {"x": np.linspace(0.1, 1.6, 16, dtype=np.float32)}


def _tiny_np(d: dict) -> np.ndarray:
    x = d["x"]
    for i in range(200):
        x = x * 1.001 if i % 2 else x + 0.001
    return x


def _tiny_lg(t: dict) -> list:
    x = t["x"]
    for i in range(200):
        x = x * 1.001 if i % 2 else x + 0.001
    return [x]


def _residual_inputs(quick: bool) -> dict:
    return {"y": np.random.default_rng(5).standard_normal((64, 32), dtype=np.float32)}


def _residual_np(d: dict) -> np.ndarray:
    y = d["y"]
    for _ in range(400):
        y = y + y.mean(0, keepdims=True) * np.float32(0.001)
    return y


def _residual_lg(t: dict) -> list:
    y = t["y"]
    for _ in range(400):
        y = y + y.mean(0, keepdim=True) * 0.001
    return [y]


WORKLOADS = [
    Workload(
        "W1",
        "relu(exp(a*b+c)*0.5+sqrt(abs(a))), 3x2**24 f32",
        _chain_inputs,
        _chain_np,
        _chain_lg,
        memory_bound=True,
    ),
    Workload(
        "W2",
        "tanh(x*scale+bias), x 4096²",
        _bcast_inputs,
        lambda d: np.tanh(d["x"] * d["scale"] + d["bias"]),
        lambda t: [(t["x"] * t["scale"] + t["bias"]).tanh()],
        memory_bound=True,
    ),
    Workload(
        "W3",
        "row softmax (4096,1024)",
        _softmax_inputs,
        _softmax_np,
        _softmax_lg,
        memory_bound=True,
    ),
    Workload(
        "W4",
        "matmul 1024² f32",
        _matmul_inputs,
        lambda d: d["a"] @ d["b"],
        lambda t: [t["a"] @ t["b"]],
        flops=lambda d: 2 * d["a"].shape[0] * d["a"].shape[1] * d["b"].shape[1],
    ),
    Workload("W5", "MLP 784-512-10 train step, batch 256", _mlp_inputs, _mlp_np, _mlp_lg, jit=True),
    Workload(
        "W6",
        "200 elementwise ops on 16 elements (µs/op)",
        _tiny_inputs,
        _tiny_np,
        _tiny_lg,
        per_op=200,
        jit=True,
    ),
    Workload(
        "W7",
        "grads of W1's sum wrt a, b, c",
        _chain_inputs,
        _chain_grads_np,
        _chain_grads_lg,
        memory_bound=True,
    ),
    Workload(
        "W9",
        "400 residual steps y + y.mean(0) * 0.001, (64,32) (first call: partitioning)",
        _residual_inputs,
        _residual_np,
        _residual_lg,
    ),
]


# ---- runners ------------------------------------------------------------------------------
def run_numpy(w: Workload, inputs: dict, repeat: int) -> Result:
    data = {k: v.copy() for k, v in inputs.items()}
    median, first = _time(lambda: w.numpy_fn(data), repeat)
    return Result(median, first, _peak_mb(lambda: w.numpy_fn(data)))


def _rebound(t: lg.Tensor) -> lg.Tensor:
    """The same storage under a new buffer identity: a new graph for lazygrad (which would
    otherwise, rightly, reuse the result it already computed for the same buffers)."""
    buf = t._node.arg
    clone = Buffer(buf.device, buf.dtype, buf.numel, host=buf.host, dev=buf.dev)
    node = make(Op.BUFFER, (), clone, t.dtype, tuple(t.shape))
    return lg.Tensor._wrap(node, t.device, t.requires_grad)


def lazygrad_step(w: Workload, inputs: dict, device: str, jit: bool = False) -> Callable[[], None]:
    """One call of workload `w` in lazygrad on `device` (inputs uploaded now, not in the
    call), returning once its results are computed."""
    tensors = {k: lg.tensor(v, device=device).realize() for k, v in inputs.items()}
    fn = lg.jit(w.lazygrad_fn) if jit else w.lazygrad_fn

    def step() -> None:
        if w.name != "W5":  # the training step updates its parameters: new buffers anyway
            for k in list(tensors):
                tensors[k] = _rebound(tensors[k])
        lg.realize(*fn(tensors))
        if device != "cpu":  # kernels are queued: wait for them
            cl_device.get_device(lg.device(device).index).synchronize()

    return step


def run_lazygrad(w: Workload, inputs: dict, device: str, repeat: int, jit: bool = False) -> Result:
    step = lazygrad_step(w, inputs, device, jit)
    median, first = _time(step, repeat)
    if device == "cpu":  # with an empty pool, a call allocates what later calls reuse
        cpu_runtime.pool.free.clear()
        cpu_runtime.pool.held = 0
        return Result(median, first, _peak_mb(step))
    dev = cl_device.get_device(lg.device(device).index)
    gc.collect()
    dev.reset_peak()
    before = dev.pool_stats()["bytes_in_use"]
    step()  # the device memory one step takes beyond what is in use before it
    return Result(median, first, (dev.pool_stats()["peak_bytes_in_use"] - before) / 2**20)


EXPORTED = ("W1", "W5")  # workloads also timed as a module written by lg.export


def _exported(w: Workload, inputs: dict) -> Callable[[], object] | None:
    """The workload's program written out by `lg.export` (a module that imports only
    NumPy), imported and called on the NumPy inputs."""
    if w.name not in EXPORTED:
        return None
    keys = list(inputs)

    def program(*tensors: lg.Tensor) -> list:
        return w.lazygrad_fn(dict(zip(keys, tensors, strict=True)))

    path = Path(tempfile.mkdtemp(prefix="lazygrad-export-")) / f"{w.name.lower()}_module.py"
    lg.export(program, *[lg.tensor(inputs[k]) for k in keys], path=path)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    arrays = [inputs[k].copy() for k in keys]
    return lambda: module.program(*arrays)


def _peer_numexpr(w: Workload, inputs: dict) -> Callable[[], object] | None:
    if w.name != "W1" or importlib.util.find_spec("numexpr") is None:
        return None
    import numexpr

    a, b, c = inputs["a"], inputs["b"], inputs["c"]
    expr = "where(exp(a*b+c)*0.5+sqrt(abs(a)) > 0, exp(a*b+c)*0.5+sqrt(abs(a)), 0)"
    return lambda: numexpr.evaluate(expr, local_dict={"a": a, "b": b, "c": c})


def _torch_functions(torch: object) -> dict[str, Callable[..., object]]:
    """Each workload written in PyTorch (W6 has no peer: it measures graph recording)."""
    t = torch

    def chain(a, b, c):  # noqa: ANN001, ANN202
        return t.relu(t.exp(a * b + c) * 0.5 + t.sqrt(a.abs()))

    def chain_grads(a, b, c):  # noqa: ANN001, ANN202
        a, b, c = (x.detach().requires_grad_() for x in (a, b, c))
        return t.autograd.grad(chain(a, b, c).sum(), [a, b, c])

    def train_step(x, y, w1, b1, w2, b2):  # noqa: ANN001, ANN202
        params = [p.requires_grad_() for p in (w1, b1, w2, b2)]
        logits = t.relu(x @ params[0] + params[1]) @ params[2] + params[3]
        loss = t.nn.functional.cross_entropy(logits, y)
        grads = t.autograd.grad(loss, params)
        with t.no_grad():
            for p, g in zip(params, grads, strict=True):
                p -= 0.01 * g

    return {
        "W1": chain,
        "W2": lambda x, scale, bias: t.tanh(x * scale + bias),
        "W3": lambda x: t.softmax(x, 1),
        "W4": lambda a, b: a @ b,
        "W5": train_step,
        "W7": chain_grads,
    }


def _peer_torch(w: Workload, inputs: dict, compiled: bool) -> Callable[[], object] | None:
    if importlib.util.find_spec("torch") is None or w.name == "W6":
        return None
    import torch

    t = {k: torch.from_numpy(v.copy()) for k, v in inputs.items()}
    if compiled and w.name in ("W5", "W7"):
        return None  # compiled autograd is out of scope for this table
    fn = _torch_functions(torch)[w.name]
    if compiled:
        fn = torch.compile(fn)
    return lambda: fn(*t.values())


def _jax_functions(jax: object) -> dict[str, Callable[..., object]]:
    """Each workload written in JAX, jitted (W6 has no peer: it measures graph recording)."""
    jnp = jax.numpy

    def chain(a, b, c):  # noqa: ANN001, ANN202
        return jax.nn.relu(jnp.exp(a * b + c) * 0.5 + jnp.sqrt(jnp.abs(a)))

    def softmax(x):  # noqa: ANN001, ANN202
        e = jnp.exp(x - x.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    def train_step(x, y, w1, b1, w2, b2):  # noqa: ANN001, ANN202
        def loss(params):  # noqa: ANN001, ANN202
            logits = jax.nn.relu(x @ params[0] + params[1]) @ params[2] + params[3]
            return -jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], 1).mean()

        params = (w1, b1, w2, b2)
        return [p - 0.01 * g for p, g in zip(params, jax.grad(loss)(params), strict=True)]

    fns = {
        "W1": chain,
        "W2": lambda x, scale, bias: jnp.tanh(x * scale + bias),
        "W3": softmax,
        "W4": lambda a, b: a @ b,
        "W5": train_step,
        "W7": jax.grad(lambda a, b, c: chain(a, b, c).sum(), argnums=(0, 1, 2)),
    }
    return {k: jax.jit(f) for k, f in fns.items()}


def _peer_jax(w: Workload, inputs: dict) -> Callable[[], object] | None:
    if importlib.util.find_spec("jax") is None or w.name == "W6":
        return None
    os.environ.setdefault("JAX_PLATFORMS", "cpu")  # read when jax is first imported
    import jax

    fn = _jax_functions(jax)[w.name]
    args = [jax.device_put(v, jax.devices("cpu")[0]) for v in inputs.values()]
    if w.name != "W5":
        return lambda: jax.block_until_ready(fn(*args))

    def train() -> None:  # the step returns the new parameters: the next step starts from them
        args[2:] = jax.block_until_ready(fn(*args))

    return train


@functools.cache
def _tinygrad_device() -> str:
    """tinygrad's compiled CPU device or, where that cannot start (it compiles with a `clang`
    executable), its OpenCL device on the OpenCL library that lazygrad's pyopencl loads."""
    os.environ.setdefault("CCACHE", "0")  # no compiled kernels from disk: first call compiles
    from tinygrad import Device

    try:
        return Device["CPU"].device
    except Exception as err:
        if not lg.opencl.is_available():  # tinygrad would find no OpenCL platform either
            raise RuntimeError(f"tinygrad has no usable CPU device: {err}") from err
    import pyopencl  # a wheel brings its own OpenCL library, which tinygrad does not look for

    lib = next((Path(pyopencl.__file__).parent / ".libs").glob("libOpenCL*"), None)
    if lib is not None:
        os.environ.setdefault("OPENCL_PATH", str(lib))
    return Device["CL"].device


def _tinygrad_functions(tinygrad: object) -> dict[str, Callable[..., object]]:
    """Each workload written in tinygrad: a graph built anew on each call, except the training
    step, which TinyJit replays."""

    def chain(a, b, c):  # noqa: ANN001, ANN202
        return ((a * b + c).exp() * 0.5 + a.abs().sqrt()).relu()

    def softmax(x):  # noqa: ANN001, ANN202
        e = (x - x.max(1, keepdim=True)).exp()
        return e / e.sum(1, keepdim=True)

    @tinygrad.TinyJit
    def train_step(x, y, w1, b1, w2, b2):  # noqa: ANN001, ANN202
        params = (w1, b1, w2, b2)
        loss = ((x @ w1 + b1).relu() @ w2 + b2).sparse_categorical_crossentropy(y)
        for p, g in zip(params, loss.gradient(*params), strict=True):
            p.assign(p - 0.01 * g)
        return tinygrad.Tensor.realize(*params)

    def elementwise_200(x):  # noqa: ANN001, ANN202
        for i in range(200):
            x = x * 1.001 if i % 2 else x + 0.001
        return x

    return {
        "W1": chain,
        "W2": lambda x, scale, bias: (x * scale + bias).tanh(),
        "W3": softmax,
        "W4": lambda a, b: a @ b,
        "W5": train_step,
        "W6": elementwise_200,
        "W7": lambda a, b, c: chain(a, b, c).sum().gradient(a, b, c),
    }


def _peer_tinygrad(w: Workload, inputs: dict) -> Callable[[], object] | None:
    if importlib.util.find_spec("tinygrad") is None:
        return None
    device = _tinygrad_device()
    import tinygrad

    fn = _tinygrad_functions(tinygrad)[w.name]
    args = [tinygrad.Tensor(v.copy(), device=device).realize() for v in inputs.values()]

    def step() -> None:
        out = fn(*args)
        tinygrad.Tensor.realize(*(out if isinstance(out, list | tuple) else [out]))
        tinygrad.Device[device].synchronize()  # kernels are queued: wait for them

    return step


def limit_device(impl: str) -> str:
    """The device whose limits a row is held against: lazygrad's own device, tinygrad's OpenCL
    device ("tinygrad CL") on OpenCL, and everything else on the CPU."""
    if impl.startswith("lazygrad "):
        return impl.split()[1]
    return "opencl" if impl.endswith(" CL") else "cpu"


def _limit_cells(
    impl: str, res: Result, work: Work, found: dict[str, limits.Limits]
) -> tuple[str, str]:
    """(rate, fraction of the limit): GFLOP/s against the compute peak where FLOPs are
    counted, else GB/s against the memory bandwidth where bytes are; blank otherwise."""
    lim = found.get(limit_device(impl))
    if work.flops:
        rate = work.flops / res.median_s
        return f"{rate / 1e9:.0f} GFLOP/s", "" if lim is None else f"{rate / lim.flops:.0%} peak"
    if work.nbytes:
        rate = work.nbytes / res.median_s
        share = "" if lim is None else f"{rate / lim.bandwidth:.0%} bw"
        return f"{rate / 1e9:.1f} GB/s", share
    return "", ""


def format_table(
    rows: list[tuple],
    found: dict[str, limits.Limits] | None = None,
    work: dict[str, Work] | None = None,
) -> str:
    """The Markdown table of `rows` ((workload, implementation, Result or None, NumPy's
    Result)); with `found` limits, two more columns: the rate reached (GB/s for memory-bound
    workloads, GFLOP/s for W4) and its fraction of that device's limit."""
    work = work or {}
    header = "| workload | implementation | median | ratio vs NumPy | first call | peak MiB |"
    rule = "|---|---|---|---|---|---|"
    if found is not None:
        header += " GB/s or GFLOP/s | of limit |"
        rule += "---|---|"
    lines = [header, rule]
    for workload, impl, res, base in rows:
        if res is None:
            extra = " | |" if found is not None else ""
            lines.append(f"| {workload.name} | {impl} | skipped | | | |{extra}")
            continue
        done = work.get(workload.name, Work())
        if workload.per_op:
            median = f"{res.median_s / workload.per_op * 1e6:.2f} µs/op"
        elif done.flops:
            median = f"{res.median_s * 1e3:.1f} ms ({done.flops / res.median_s / 1e9:.0f} GFLOP/s)"
        else:
            median = f"{res.median_s * 1e3:.1f} ms"
        ratio = f"{base.median_s / res.median_s:.2f}x"
        peak = "" if res.peak_mb is None else f"{res.peak_mb:.0f}"
        line = (
            f"| {workload.name} {workload.title} | {impl}{res.note} | {median} | {ratio} "
            f"| {res.first_s * 1e3:.0f} ms | {peak} |"
        )
        if found is not None:
            rate, share = _limit_cells(impl, res, done, found)
            line += f" {rate} | {share} |"
        lines.append(line)
    return "\n".join(lines)


LIMITS_LEGEND = """
GB/s: the bytes a workload must move at least (inputs read once, outputs written once) over
its median; bw: that as a share of its device's copy bandwidth. GFLOP/s over the median; peak:
that as a share of its device's compute peak (the limits table: FMA chains on opencl, NumPy's
best BLAS matmul on cpu). Sizes that fit in cache (--quick) can pass 100% bw."""


# ---- first calls in fresh processes ----------------------------------------------------------
FIRST_CALL_TIMEOUT_S = 600.0


@dataclass
class FirstCall:
    """One first call of a workload in a fresh process."""

    first_s: float  # the first call itself (inputs already uploaded), as `first` in the table
    process_s: float  # the whole process: interpreter, imports, inputs, first call
    compiles: int = 0  # OpenCL programs compiled from source
    disk_loads: int = 0  # OpenCL programs loaded from the on-disk cache


def cache_env(root: Path) -> dict[str, str]:
    """The environment variables that send every compilation cache under `root`: lazygrad's
    (LAZYGRAD_CACHE_DIR), PoCL's (POCL_CACHE_DIR), and, through XDG_CACHE_HOME, pyopencl's
    compiler and invoker caches (which follow platformdirs) and anything else that
    follows the XDG convention."""
    return {
        "LAZYGRAD_CACHE_DIR": str(root / "lazygrad"),
        "POCL_CACHE_DIR": str(root / "pocl"),
        "XDG_CACHE_HOME": str(root / "xdg"),
    }


def first_call_child(name: str, device: str, jit: bool, quick: bool) -> dict:
    """In a fresh process: the first call of workload `name` in lazygrad on `device`, with the
    OpenCL build counters it moved (printed as JSON by `--first-call-child`)."""
    w = next(w for w in WORKLOADS if w.name == name)
    step = lazygrad_step(w, w.make_inputs(quick), device, jit)
    before = _build_stats(device)
    start = time.perf_counter()
    step()
    first = time.perf_counter() - start
    after = _build_stats(device)
    return {"first_s": first, **{k: after[k] - before[k] for k in ("compiles", "disk_loads")}}


def _build_stats(device: str) -> dict[str, int]:
    if device == "cpu":
        return {"compiles": 0, "disk_loads": 0}
    return cl_device.get_device(lg.device(device).index).build_stats()


def run_first_call(
    name: str, device: str, jit: bool, quick: bool, env: dict[str, str]
) -> FirstCall:
    """Run `first_call_child` in a new interpreter with `env` added to the environment."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--first-call-child", name]
    cmd += ["--devices", device] + (["--jit"] if jit else []) + (["--quick"] if quick else [])
    start = time.perf_counter()
    done = subprocess.run(
        cmd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=FIRST_CALL_TIMEOUT_S,
    )
    process = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"exit status {done.returncode}: {done.stderr.strip()[-2000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return FirstCall(report["first_s"], process, report["compiles"], report["disk_loads"])


def cold_and_warm(
    name: str, device: str, jit: bool = False, quick: bool = False
) -> tuple[FirstCall, FirstCall]:
    """The first call in a fresh process with empty caches (cold), then in another fresh
    process that finds the caches the first one filled (warm)."""
    with tempfile.TemporaryDirectory(prefix="lazygrad-first-") as tmp:
        env = cache_env(Path(tmp))
        cold = run_first_call(name, device, jit, quick, env)
        warm = run_first_call(name, device, jit, quick, env)
    return cold, warm


def format_first_calls(rows: list[tuple]) -> str:
    """The Markdown table of (workload, implementation, cold FirstCall, warm FirstCall)."""
    lines = [
        "| workload | implementation | cold first call | warm first call | cold process "
        "| warm process | OpenCL programs cold → warm |",
        "|---|---|---|---|---|---|---|",
    ]
    for w, impl, cold, warm in rows:
        if cold is None:
            lines.append(f"| {w.name} | {impl} | failed | | | | |")
            continue
        builds = ""
        if cold.compiles or cold.disk_loads or warm.compiles or warm.disk_loads:
            builds = (
                f"{cold.compiles} compiled, {cold.disk_loads} from disk → "
                f"{warm.compiles} compiled, {warm.disk_loads} from disk"
            )
        lines.append(
            f"| {w.name} {w.title} | {impl} | {cold.first_s * 1e3:.0f} ms "
            f"| {warm.first_s * 1e3:.0f} ms | {cold.process_s:.1f} s | {warm.process_s:.1f} s "
            f"| {builds} |"
        )
    return "\n".join(lines)


def first_call_rows(chosen: list[Workload], devices: list[str], quick: bool) -> list[tuple]:
    """Cold and warm first calls of each workload on each device (and under lg.jit where the
    main table has that row too)."""
    rows: list[tuple] = []
    for w in chosen:
        for device, jit in [(d, j) for d in devices for j in (False, True) if w.jit or not j]:
            impl = f"lazygrad {device}" + (" lg.jit" if jit else "")
            try:
                rows.append((w, impl, *cold_and_warm(w.name, device, jit, quick)))
            except Exception as err:  # report and go on, as the main table does
                print(f"{w.name} first calls with {impl} failed: {err}", file=sys.stderr)
                rows.append((w, impl, None, None))
        print(f"{w.name} first calls done", file=sys.stderr)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes")
    parser.add_argument("--only", default="", help="comma-separated workload names")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--devices", default="cpu,opencl")
    parser.add_argument(
        "--limits",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="measure memory bandwidth and compute peak first (a few seconds) and report "
        "W1-W3, W7 and W4 as fractions of them (default: on)",
    )
    parser.add_argument(
        "--first-calls",
        action="store_true",
        help="also time each workload's first call in fresh processes, with empty caches "
        "(cold) and with the caches the cold one filled (warm); slow",
    )
    parser.add_argument("--first-call-child", default="", help=argparse.SUPPRESS)
    parser.add_argument("--jit", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.first_call_child:  # a fresh process of --first-calls: one first call, as JSON
        report = first_call_child(args.first_call_child, args.devices, args.jit, args.quick)
        print(json.dumps(report))
        return
    chosen = [w for w in WORKLOADS if not args.only or w.name in args.only.split(",")]
    devices = [d for d in args.devices.split(",") if d != "opencl" or lg.opencl.is_available()]
    found: dict[str, limits.Limits] | None = None
    if args.limits and any(w.flops or w.memory_bound for w in chosen):
        found = limits.measure(devices, args.quick)
        print(f"{limits.format_limits(found)}\n")
    rows: list[tuple] = []
    work: dict[str, Work] = {}
    for w in chosen:
        inputs = w.make_inputs(args.quick)
        work[w.name] = least_work(w, inputs)
        base = run_numpy(w, inputs, args.repeat)
        rows.append((w, "eager NumPy", base, base))
        for device, jit in [(d, j) for d in devices for j in (False, True) if w.jit or not j]:
            impl = f"lazygrad {device}" + (" lg.jit" if jit else "")
            try:
                rows.append((w, impl, run_lazygrad(w, inputs, device, args.repeat, jit), base))
            except Exception as err:  # report and go on: one backend must not hide the others
                print(f"{w.name} with {impl} failed: {type(err).__name__}: {err}", file=sys.stderr)
                rows.append((w, impl, None, base))
        for name, build in (
            ("lg.export NumPy module", functools.partial(_exported, w, inputs)),
            ("numexpr", functools.partial(_peer_numexpr, w, inputs)),
            ("torch eager", functools.partial(_peer_torch, w, inputs, False)),
            ("torch.compile", functools.partial(_peer_torch, w, inputs, True)),
            ("jax.jit", functools.partial(_peer_jax, w, inputs)),
            ("tinygrad", functools.partial(_peer_tinygrad, w, inputs)),
        ):
            try:
                peer = build()
                if peer is not None:
                    median, first = _time(peer, args.repeat)
                    if name == "tinygrad":
                        name += f" {_tinygrad_device()}"
                    rows.append((w, name, Result(median, first), base))
            except Exception as err:  # as above: one failing peer must not hide the rest
                print(f"{w.name} with {name} failed: {type(err).__name__}: {err}", file=sys.stderr)
                rows.append((w, name, None, base))
        print(f"{w.name} done", file=sys.stderr)
    if rows:
        print(format_table(rows, found, work))
        if found is not None:
            print(LIMITS_LEGEND)
    if args.first_calls and chosen:
        print(f"\n{format_first_calls(first_call_rows(chosen, devices, args.quick))}")
    if not args.only or "W8" in args.only.split(","):
        print(f"\n{loop_bench.table(300 if args.quick else 2000, devices)}")
    missing = [
        p for p in ("numexpr", "torch", "jax", "tinygrad") if importlib.util.find_spec(p) is None
    ]
    if missing:
        print(f"\nnot installed, skipped: {', '.join(missing)}")


if __name__ == "__main__":
    main()
