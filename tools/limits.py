"""What the hardware allows: a device's memory bandwidth and its compute peak, measured the
way a roofline needs them, for tools/bench.py to report each workload as a fraction of.

- bandwidth: a copy of a large float32 array (far beyond the caches): `np.copyto` on the
  CPU, a float16-vector copy kernel on OpenCL. Bytes moved = bytes read + bytes written
  (2 x the array), as STREAM counts a copy; the write-allocate reads a CPU also makes are
  not counted, so a kernel that streams its stores can pass 100%.
- compute: on OpenCL, a kernel in which each work-item runs long chains of multiply-adds
  on registers (eight independent float16 accumulators, so neither memory nor the latency
  of one chain limits it); written `a * m + c` because the compiler contracts that into
  vector FMAs, while PoCL's `mad()`/`fma()` builtins run several times slower. On the CPU,
  NumPy's BLAS matmul, the best of a few sizes: the practical peak a matmul reaches there.

Every rate is the best of `repeat` runs (on a shared machine, other processes only ever
slow a run down).

    python tools/limits.py           # print the table for cpu and opencl
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

BANDWIDTH_ELEMENTS = 2**24  # float32 elements copied: 64 MiB each way, beyond any cache
FMA_ITEMS = 2**14  # work-items of the FMA kernel: 1 MiB of float16 vectors, in cache
FMA_ITERATIONS = 1024  # loop trips per work-item (8 accumulators x 16 lanes each)
MATMUL_SIZES = (256, 512, 1024, 2048)  # square NumPy matmuls; the fastest is the CPU's peak
MATMUL_SECONDS = 0.25  # about how long each size is timed

_FMA_ACCUMULATORS = 8
_FMA_LANES = 16


@dataclass
class Limits:
    """The measured limits of one device, in bytes/s and FLOP/s."""

    device: str
    bandwidth: float
    flops: float
    bandwidth_how: str = ""
    flops_how: str = ""


def _best_seconds(fn: Callable[[], object], repeat: int) -> float:
    """Shortest of `repeat` timed calls after one untimed warm-up call."""
    fn()
    best = math.inf
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return max(best, 1e-9)


def min_traffic(inputs: Iterable[np.ndarray], outputs: object) -> int:
    """Bytes a workload must move at least: each input read once and each output written
    once (`outputs` an array or a list/tuple of arrays)."""
    outs = outputs if isinstance(outputs, list | tuple) else [outputs]
    return sum(int(np.asarray(a).nbytes) for a in inputs) + sum(
        int(np.asarray(o).nbytes) for o in outs
    )


# ---- CPU ----------------------------------------------------------------------------------------
def cpu_bandwidth(elements: int = BANDWIDTH_ELEMENTS, repeat: int = 10) -> float:
    """Bytes/s of `np.copyto` between two float32 arrays of `elements` (read + written)."""
    src = np.ones(elements, np.float32)
    dst = np.empty_like(src)
    return 2 * src.nbytes / _best_seconds(lambda: np.copyto(dst, src), repeat)


def cpu_matmul_flops(n: int, repeat: int = 3) -> float:
    """FLOP/s (2 n³ per product) of NumPy's BLAS on an n x n float32 matmul."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    out = np.empty_like(a)
    return 2 * n**3 / _best_seconds(lambda: np.matmul(a, b, out=out), repeat)


def cpu_blas_peak(
    sizes: Iterable[int] = MATMUL_SIZES, seconds: float = MATMUL_SECONDS, rate_guess: float = 1e11
) -> tuple[float, int]:
    """(FLOP/s, n) of the fastest of NumPy's float32 matmuls over `sizes`, each repeated
    for about `seconds` at `rate_guess` FLOP/s (at least 3 times, at most 200)."""
    best = (0.0, 0)
    for n in sizes:
        repeat = min(200, max(3, int(seconds * rate_guess / (2 * n**3))))
        best = max(best, (cpu_matmul_flops(n, repeat), n))
    return best


# ---- OpenCL (through lazygrad's runtime: its context, queue, pool and program cache) ---------
_COPY_KERNEL = """
__kernel void limits_copy(__global const float16 *x, __global float16 *y) {
    size_t i = get_global_id(0);
    y[i] = x[i];
}
"""


def _fma_kernel(accumulators: int = _FMA_ACCUMULATORS, iterations: int = FMA_ITERATIONS) -> str:
    """Source of `limits_fma`: per work-item, `accumulators` float16 chains of `iterations`
    multiply-adds each, summed into one stored float (so nothing is dead code)."""
    names = [f"a{j}" for j in range(accumulators)]
    init = "\n".join(f"    float16 {a} = (float16)(x[i] + {j}.0f);" for j, a in enumerate(names))
    body = "\n".join(f"        {a} = {a} * m + c;" for a in names)
    return f"""
__kernel void limits_fma(__global float *x, float m, float c) {{
    size_t i = get_global_id(0);
{init}
    for (int k = 0; k < {iterations}; k++) {{
{body}
    }}
    float16 s = {" + ".join(names)};
    x[i] = s.s0 + s.sf;
}}
"""


def opencl_bandwidth(elements: int = BANDWIDTH_ELEMENTS, repeat: int = 10, index: int = 0) -> float:
    """Bytes/s of a device-to-device copy kernel over `elements` float32 (read + written),
    `elements` rounded up to a multiple of 16."""
    from lazygrad.runtime import opencl_device as cl_device

    dev = cl_device.get_device(index)
    vectors = max(1, -(-elements // _FMA_LANES))
    nbytes = vectors * _FMA_LANES * 4
    src, dst = dev.alloc(nbytes), dev.alloc(nbytes)
    try:
        dev.copyin(src, np.ones(vectors * _FMA_LANES, np.float32))
        knl = dev.kernel(_COPY_KERNEL, "limits_copy")

        def copy() -> None:
            knl(dev.queue, (vectors,), None, src.cl_buffer, dst.cl_buffer)
            dev.synchronize()

        return 2 * nbytes / _best_seconds(copy, repeat)
    finally:
        dev.free(src)
        dev.free(dst)


def opencl_fma_flops(
    items: int = FMA_ITEMS, iterations: int = FMA_ITERATIONS, repeat: int = 10, index: int = 0
) -> float:
    """FLOP/s (2 per multiply-add and lane) of the compute-bound `limits_fma` kernel."""
    from lazygrad.runtime import opencl_device as cl_device

    dev = cl_device.get_device(index)
    buf = dev.alloc(items * 4)
    try:
        dev.copyin(buf, np.zeros(items, np.float32))
        knl = dev.kernel(_fma_kernel(_FMA_ACCUMULATORS, iterations), "limits_fma")
        m, c = np.float32(0.999), np.float32(0.001)

        def run() -> None:
            knl(dev.queue, (items,), None, buf.cl_buffer, m, c)
            dev.synchronize()

        flops = 2 * _FMA_ACCUMULATORS * _FMA_LANES * iterations * items
        return flops / _best_seconds(run, repeat)
    finally:
        dev.free(buf)


def measure(devices: Iterable[str], quick: bool = False) -> dict[str, Limits]:
    """The limits of each of `devices` ("cpu", "opencl"); `quick` leaves out the largest
    CPU matmul (the copies keep their size: a small copy would measure a cache, not memory)."""
    found: dict[str, Limits] = {}
    mib = BANDWIDTH_ELEMENTS * 4 / 2**20
    for device in devices:
        if device == "cpu":
            flops, n = cpu_blas_peak(MATMUL_SIZES[:-1] if quick else MATMUL_SIZES)
            found[device] = Limits(
                device,
                cpu_bandwidth(),
                flops,
                f"np.copyto, {mib:.0f} MiB",
                f"NumPy BLAS matmul, best at {n}² f32",
            )
        elif device.startswith("opencl"):
            index = int(device.partition(":")[2] or 0)
            found[device] = Limits(
                device,
                opencl_bandwidth(index=index),
                opencl_fma_flops(index=index),
                f"copy kernel of 16-wide float32 vectors, {mib:.0f} MiB",
                f"FMA chains on 16-wide float32 vectors, {FMA_ITEMS} items",
            )
    return found


def format_limits(limits: dict[str, Limits]) -> str:
    """A Markdown table of the measured limits."""
    lines = [
        "| device | memory bandwidth | measured with | compute peak | measured with |",
        "|---|---|---|---|---|",
    ]
    for lim in limits.values():
        lines.append(
            f"| {lim.device} | {lim.bandwidth / 1e9:.1f} GB/s | {lim.bandwidth_how} "
            f"| {lim.flops / 1e9:.0f} GFLOP/s | {lim.flops_how} |"
        )
    return "\n".join(lines)


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import lazygrad as lg

    devices = ["cpu"] + (["opencl"] if lg.opencl.is_available() else [])
    print(format_limits(measure(devices)))


if __name__ == "__main__":
    main()
