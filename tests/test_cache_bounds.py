"""Every cache stays within its limit in a loop whose batch size changes every step, results
stay right after evictions, and a schedule still in the schedule cache keeps working."""

from __future__ import annotations

import gc
import linecache
import os
import sys
from pathlib import Path

import numpy as np
import pytest

import lazygrad as lg
from lazygrad.runtime import (
    cpu as cpu_runtime,
)
from lazygrad.runtime import (
    opencl as cl_runtime,
)
from lazygrad.runtime import (
    opencl_device as cl_device,
)

realize_module = sys.modules["lazygrad.engine.realize"]
SHAPES = {"cpu": 300, "opencl": 16}  # every new shape builds new OpenCL programs (~0.2 s)


@pytest.fixture
def small_caches(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tiny limits for every cache, and a private disk cache."""
    monkeypatch.setenv("LAZYGRAD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(cpu_runtime, "COMPILED_KERNELS", 6)
    monkeypatch.setattr(cl_runtime, "MAX_PROGRAMS", 3)
    monkeypatch.setattr(cl_device, "PROGRAMS_KEPT", 3)
    monkeypatch.setattr(cl_device, "KERNELS_KEPT", 4)


def _step(n: int, device: str) -> None:
    """A few ops on a batch of `n` rows (two kernels), checked against NumPy."""
    x = np.random.default_rng(n).standard_normal((n, 3)).astype(np.float32)
    t = lg.tensor(x, device=device)
    out = ((t - t.max(1, keepdim=True).values).exp() * 0.5).sum(1)
    expected = (np.exp(x - x.max(1, keepdims=True)) * 0.5).sum(1)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5)


def _sizes(device: str) -> dict[str, int]:
    """The sizes of the caches `device` fills (another device's table shrinks to a newly
    patched limit only at its next insertion)."""
    if device == "cpu":
        return {"numpy kernels": len(cpu_runtime._compiled)}
    dev = cl_device.get_device(0)
    return {
        "opencl rendered": len(cl_runtime._programs),
        "opencl programs": len(dev._programs),
        "opencl kernels": len(dev._kernels),
    }


def _limits() -> dict[str, int]:
    return {
        "numpy kernels": cpu_runtime.COMPILED_KERNELS,
        "opencl rendered": cl_runtime.MAX_PROGRAMS,
        "opencl programs": cl_device.PROGRAMS_KEPT,
        "opencl kernels": cl_device.KERNELS_KEPT,
    }


class _NothingStored(dict):
    """A cache that finds nothing and keeps nothing."""

    def store_if_not_present(self, key: object, value: object) -> None:
        pass


def test_caches_stay_bounded_over_many_shapes(
    device: str, small_caches: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(realize_module, "SCHEDULE_CACHE_SIZE", 4)
    if device == "opencl":
        # pyopencl registers the code it generates for a new kernel name in linecache, unless
        # it finds that code in its own disk cache: never, here
        import pyopencl.invoker

        monkeypatch.setattr(pyopencl.invoker, "invoker_cache", _NothingStored(), raising=False)
    gc.collect()
    lines_before = len(linecache.cache)
    for n in range(1, SHAPES[device] + 1):
        _step(n, device)
        sizes = _sizes(device)
        assert all(size <= _limits()[name] for name, size in sizes.items()), sizes
    for n in (1, 2, 3):  # long evicted everywhere: built again
        _step(n, device)
    gc.collect()
    # only live kernel functions (the compiled ones and those of the 4 cached schedules,
    # 2 each) and pyopencl's code for the kernels kept
    bound = 6 + 4 * 2 if device == "cpu" else 4
    assert len(linecache.cache) - lines_before <= bound


def test_a_cached_schedule_survives_its_kernels_eviction(device: str, small_caches: None) -> None:
    misses, evictions = realize_module.cache_stats["misses"], _evictions(device)
    _step(1000, device)
    _step(1000, device)  # run twice: a CPU schedule now runs as one generated program
    for n in range(1001, 1009):  # drops the first shape's kernels from every table
        _step(n, device)
    assert realize_module.cache_stats["misses"] - misses == 9
    assert _evictions(device) - evictions >= 3
    _step(1000, device)  # its schedule is still cached: it runs, rebuilding what it must
    assert realize_module.cache_stats["misses"] - misses == 9


def _evictions(device: str) -> int:
    if device == "cpu":
        return cpu_runtime.evictions["NumPy kernel"]
    return cl_device.get_device(0).build_stats()["evictions"]


def test_eviction_is_logged(
    device: str,
    small_caches: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("LAZYGRAD_DEBUG", "1")
    for n in range(2000, 2008):
        _step(n, device)
    assert "cache full" in capsys.readouterr().err


def test_disk_cache_prunes_the_files_used_longest_ago(tmp_path: Path) -> None:
    for i, name in enumerate(["a", "b", "c", "d"]):
        path = tmp_path / f"{name}.bin"
        path.write_bytes(b"x" * 100)
        os.utime(path, ns=(i * 10**9, i * 10**9))
    (tmp_path / "unrelated.txt").write_bytes(b"y" * 1000)
    assert cl_device.prune_disk_cache(tmp_path, 250) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.bin", "d.bin", "unrelated.txt"]
    assert cl_device.prune_disk_cache(tmp_path / "missing", 0) == 0


def test_disk_cache_stays_under_its_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not lg.opencl.is_available():
        pytest.skip("no OpenCL device")
    monkeypatch.setenv("LAZYGRAD_CACHE_DIR", str(tmp_path))
    dev = cl_device.get_device(0)
    monkeypatch.setattr(dev, "_programs", {})
    monkeypatch.setattr(dev, "_kernels", {})
    cache = cl_device.disk_cache_dir()

    def source(i: int) -> str:
        return f"__kernel void k(__global float *x) {{ x[get_global_id(0)] = {i}.5f; }}"

    def cached(i: int) -> bool:
        return (cache / f"{dev.cache_key(source(i), ())}.bin").exists()

    dev.build(source(0))
    size = next(cache.iterdir()).stat().st_size
    monkeypatch.setenv("LAZYGRAD_CACHE_MAX_MB", str(2.5 * size / 2**20))  # room for 2 files
    dev.build(source(1))
    before = dev.build_stats()
    dev._programs.clear()
    dev.build(source(0))  # from disk, which makes it the file used last
    dev.build(source(2))
    assert cached(0) and not cached(1) and cached(2)
    for i in range(3, 6):
        dev.build(source(i))
        files = list(cache.iterdir())
        assert len(files) == 2 and sum(f.stat().st_size for f in files) <= 2.5 * size
    stats = dev.build_stats()
    assert stats["disk_loads"] - before["disk_loads"] == 1
    assert stats["disk_evictions"] - before["disk_evictions"] == 4
    assert cached(4) and cached(5)


def test_jit_keeps_a_bounded_number_of_plans(monkeypatch: pytest.MonkeyPatch) -> None:
    """A jitted function called with ever new shapes keeps its most recent plans only, and a
    signature dropped from them records again and still gives the right values."""
    jit_module = sys.modules["lazygrad.engine.jit"]
    monkeypatch.setattr(jit_module, "PLANS_KEPT", 4)
    step = lg.jit(lambda t: (t * 2.0 + 1.0).exp())
    for n in [*range(1, 11), 1, 2]:
        x = np.linspace(0, 1, n, dtype=np.float32)
        for _ in range(2):  # a recording, then a replay
            np.testing.assert_allclose(step(lg.tensor(x)).numpy(), np.exp(x * 2 + 1), rtol=1e-6)
        assert len(step.plans) <= 4
