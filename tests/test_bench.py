"""tools/bench.py's hardware limits and first-call measurements, on tiny sizes: each returns
positive finite numbers and lands in the printed tables. No timing is asserted."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

import lazygrad as lg

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import bench  # noqa: E402
import limits  # noqa: E402

needs_opencl = pytest.mark.skipif(not lg.opencl.is_available(), reason="no OpenCL device")


def _positive(x: float) -> bool:
    return math.isfinite(x) and x > 0


def test_cpu_limits() -> None:
    assert _positive(limits.cpu_bandwidth(elements=4096, repeat=2))
    assert _positive(limits.cpu_matmul_flops(32, repeat=2))
    flops, n = limits.cpu_blas_peak(sizes=(16, 32), seconds=0.001)
    assert _positive(flops) and n in (16, 32)


@needs_opencl
def test_opencl_limits() -> None:
    assert _positive(limits.opencl_bandwidth(elements=4096, repeat=2))
    assert _positive(limits.opencl_fma_flops(items=64, iterations=4, repeat=2))


def test_min_traffic_counts_inputs_and_outputs_once() -> None:
    a, b = np.zeros(10, np.float32), np.zeros((2, 3), np.float64)
    assert limits.min_traffic([a, b], a) == 40 + 48 + 40
    assert limits.min_traffic([a], [a, b]) == 40 + 40 + 48
    w1 = next(w for w in bench.WORKLOADS if w.name == "W1")
    inputs = w1.make_inputs(True)
    assert bench.least_work(w1, inputs).nbytes == 4 * inputs["a"].nbytes  # a, b, c and out


def test_table_has_limit_columns() -> None:
    by_name = {w.name: w for w in bench.WORKLOADS}
    found = {
        "cpu": limits.Limits("cpu", 10e9, 100e9, "copy", "blas"),
        "opencl": limits.Limits("opencl", 20e9, 200e9, "copy", "fma"),
    }
    work = {"W1": bench.Work(nbytes=10**9), "W4": bench.Work(flops=50e9)}
    res = bench.Result(1.0, 2.0, 3.0)
    rows = [
        (by_name["W1"], "eager NumPy", res, res),
        (by_name["W1"], "lazygrad opencl", res, res),
        (by_name["W4"], "lazygrad cpu", res, res),
        (by_name["W6"], "lazygrad cpu", res, res),
        (by_name["W4"], "tinygrad CL", None, res),
    ]
    table = bench.format_table(rows, found, work)
    lines = table.splitlines()
    assert "GB/s or GFLOP/s" in lines[0] and "of limit" in lines[0]
    assert len({line.count("|") for line in lines}) == 1  # every row has every column
    assert "| 1.0 GB/s | 10% bw |" in lines[2]  # against the cpu copy
    assert "| 1.0 GB/s | 5% bw |" in lines[3]  # against the opencl copy
    assert "| 50 GFLOP/s | 50% peak |" in lines[4]
    assert "of limit" not in bench.format_table(rows)  # without limits: the old columns
    assert "compute peak" in limits.format_limits(found)


def test_first_calls_cpu() -> None:
    cold, warm = bench.cold_and_warm("W6", "cpu", quick=True)
    for call in (cold, warm):
        assert _positive(call.first_s) and _positive(call.process_s)
    w6 = next(w for w in bench.WORKLOADS if w.name == "W6")
    table = bench.format_first_calls([(w6, "lazygrad cpu", cold, warm)])
    assert "cold first call" in table and "warm first call" in table


@needs_opencl
def test_first_calls_opencl_cold_compiles_and_warm_loads() -> None:
    cold, warm = bench.cold_and_warm("W6", "opencl", quick=True)
    assert _positive(cold.first_s) and _positive(warm.first_s)
    assert cold.compiles > 0 and cold.disk_loads == 0  # the caches start empty
    assert warm.compiles == 0 and warm.disk_loads == cold.compiles  # and the second finds them


def test_exported_modules_compute_the_workloads() -> None:
    """The `lg.export` rows time a module that gives the workload's values."""
    w1 = next(w for w in bench.WORKLOADS if w.name == "W1")
    inputs = w1.make_inputs(True)
    call = bench._exported(w1, inputs)
    assert call is not None
    (out,) = call()  # the workload returns a list of one tensor
    np.testing.assert_allclose(out, w1.numpy_fn(inputs), rtol=1e-5)
    w3 = next(w for w in bench.WORKLOADS if w.name == "W3")
    assert bench._exported(w3, w3.make_inputs(True)) is None  # only EXPORTED ones
