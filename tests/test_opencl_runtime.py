"""Tests for the OpenCL runtime layer (device discovery, buffer pool, copies, build caches).

These run on any OpenCL device; in CI that is PoCL's CPU device (pocl-binary-distribution).
They are skipped only when no device exists *and* ``CI`` is unset; under CI a missing device
is a failure.
"""

import gc
import json
import os
import subprocess
import sys
import uuid
import warnings
from pathlib import Path

import numpy as np
import pytest

from lazygrad.runtime import opencl_device as cl_device

REPO_ROOT = Path(__file__).resolve().parents[1]
AVAILABLE = cl_device.is_available()

pytestmark = pytest.mark.skipif(
    not AVAILABLE and not os.environ.get("CI"),
    reason="no OpenCL device (pip install pocl-binary-distribution)",
)

ADD_KERNEL = """// tag: {tag}
__kernel void add(__global const float *a, __global const float *b, __global float *out) {{
    int i = get_global_id(0);
    out[i] = a[i] + b[i];
}}
"""


@pytest.fixture(autouse=True)
def _opencl_and_private_cache(tmp_path, monkeypatch):
    """Fail loudly under CI without OpenCL; keep every test's disk cache in its tmp_path."""
    if not AVAILABLE:
        pytest.fail("CI is set but no OpenCL device was found; install pocl-binary-distribution")
    monkeypatch.setenv("LAZYGRAD_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def dev() -> cl_device.CLDevice:
    return cl_device.get_device(0)


def add_source() -> str:
    """A fresh add kernel: the unique tag defeats the in-memory cache of the shared device."""
    return ADD_KERNEL.format(tag=uuid.uuid4().hex)


def run_add(dev: cl_device.CLDevice, source: str, n: int = 1000) -> None:
    a = np.arange(n, dtype=np.float32) * 0.5
    b = np.full(n, 2.25, dtype=np.float32)
    bufs = [dev.alloc(x.nbytes) for x in (a, b, a)]
    dev.copyin(bufs[0], a)
    dev.copyin(bufs[1], b)
    knl = dev.kernel(source, "add")
    knl(dev.queue, (n,), None, *(buf.cl_buffer for buf in bufs))
    out = dev.copyout(bufs[2], np.empty(n, dtype=np.float32))
    np.testing.assert_array_equal(out, a + b)
    for buf in bufs:
        dev.free(buf)


def stats_delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {key: after[key] - before[key] for key in after}


# ---- discovery --------------------------------------------------------------------------------


def test_discovery(dev):
    count = cl_device.device_count()
    names = cl_device.device_names()
    assert count >= 1 and len(names) == count
    assert names[0].startswith("opencl:0 — ") and dev.name in names[0]
    assert cl_device.get_device(0) is dev
    assert 0 <= cl_device.gpu_index() < count
    assert isinstance(dev.has_fp64, bool)
    assert dev.max_work_group_size >= 1 and dev.compute_units >= 1 and dev.local_mem_size > 0
    assert dev.preferred_work_group_multiple >= 1
    assert dev.platform_name and dev.driver_version


@pytest.mark.parametrize("bad", [-1, 10_000])
def test_bad_device_index_lists_valid_ones(bad):
    with pytest.raises(cl_device.InvalidDeviceError) as info:
        cl_device.get_device(bad)
    assert isinstance(info.value, RuntimeError) and isinstance(info.value, IndexError)
    message = str(info.value)
    assert str(bad) in message and "opencl:0" in message


# ---- buffer pool ------------------------------------------------------------------------------


def test_size_classes():
    assert cl_device.size_class_for(0) == cl_device.MIN_SIZE_CLASS
    assert cl_device.size_class_for(256) == 256
    assert cl_device.size_class_for(257) == 512
    assert cl_device.size_class_for(1 << 20) == 1 << 20
    assert cl_device.size_class_for((1 << 20) + 1) == 1 << 21
    # When the power of two exceeds the largest allowed allocation, round to 4 KiB instead.
    assert cl_device.size_class_for(5000, max_alloc=6000) == 6000
    assert cl_device.size_class_for(9000, max_alloc=15000) == 12288
    with pytest.raises(ValueError):
        cl_device.size_class_for(-1)


def test_pool_reuses_freed_buffers(dev):
    first = dev.alloc(1000)
    assert first.size_class == 1024 and first.nbytes == 1000
    cl_buffer = first.cl_buffer
    before = dev.pool_stats()
    dev.free(first)
    dev.free(first)  # idempotent
    assert first.freed
    with pytest.raises(RuntimeError):
        _ = first.cl_buffer
    second = dev.alloc(900)  # same size class
    delta = stats_delta(before, dev.pool_stats())
    assert delta["reuses"] == 1 and delta["allocations"] == 0 and delta["frees"] == 1
    assert second.cl_buffer is cl_buffer
    dev.free(second)


def test_garbage_collected_buffer_returns_to_pool(dev):
    gc.collect()  # buffers other tests left to the collector must not land mid-test
    before = dev.pool_stats()
    buf = dev.alloc(3000)
    assert dev.pool_stats()["bytes_in_use"] == before["bytes_in_use"] + 4096
    del buf
    gc.collect()
    after = dev.pool_stats()
    assert after["bytes_in_use"] == before["bytes_in_use"]
    assert after["idle_buffers"] >= 1 and after["frees"] == before["frees"] + 1
    again = dev.alloc(4000)
    assert dev.pool_stats()["reuses"] == after["reuses"] + 1
    again.free()


def test_release_idle(dev):
    dev.free(dev.alloc(5000))
    assert dev.pool_stats()["bytes_idle"] > 0
    assert dev.release_idle() > 0
    assert dev.pool_stats()["bytes_idle"] == 0


@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.bool_])
def test_copy_round_trip(dev, dtype):
    rng = np.random.default_rng(0)
    host = (rng.standard_normal(37) * 1000).astype(dtype)
    buf = dev.alloc(host.nbytes)
    dev.copyin(buf, host)
    out = np.zeros_like(host)
    assert dev.copyout(buf, out) is out
    np.testing.assert_array_equal(out, host)
    dev.free(buf)


def test_copy_validation(dev):
    buf = dev.alloc(16)
    with pytest.raises(ValueError):
        dev.copyin(buf, np.zeros(8, dtype=np.float32))  # 32 bytes > 16
    with pytest.raises(ValueError):
        dev.copyin(buf, np.zeros((4, 4), dtype=np.float32)[:, 0])  # not contiguous
    dev.free(buf)


def test_device_to_device_copy(dev):
    host = np.arange(20, dtype=np.int64)
    src, dst = dev.alloc(host.nbytes), dev.alloc(host.nbytes)
    dev.copyin(src, host)
    dev.copy(dst, src)
    dev.synchronize()
    np.testing.assert_array_equal(dev.copyout(dst, np.empty_like(host)), host)
    dev.free(src)
    dev.free(dst)


def test_zero_size_buffers(dev):
    buf = dev.alloc(0)
    assert buf.nbytes == 0 and buf.size_class == cl_device.MIN_SIZE_CLASS
    empty = np.zeros(0, dtype=np.float32)
    dev.copyin(buf, empty)
    assert dev.copyout(buf, np.empty(0, dtype=np.float32)).shape == (0,)
    dev.free(buf)


def test_out_of_memory_is_clear_and_harmless(dev):
    keep = np.arange(64, dtype=np.float32)
    buf = dev.alloc(keep.nbytes)
    dev.copyin(buf, keep)
    with pytest.raises(cl_device.DeviceOutOfMemoryError) as info:
        dev.alloc(1 << 50)
    message = str(info.value)
    assert dev.name in message and str(1 << 50) in message and "pool" in message
    np.testing.assert_array_equal(dev.copyout(buf, np.empty_like(keep)), keep)
    dev.free(buf)


def test_allocation_failure_releases_idle_buffers_and_retries(dev, monkeypatch):
    dev.release_idle()  # other tests in this process may have left a buffer of any class
    dev.free(dev.alloc(1 << 16))  # leave an idle buffer in the pool
    real_try_create = dev._pool._try_create
    calls = []

    def fail_first(size_class):
        calls.append(size_class)
        return None if len(calls) == 1 else real_try_create(size_class)

    monkeypatch.setattr(dev._pool, "_try_create", fail_first)
    before = dev.pool_stats()
    buf = dev.alloc(1 << 17)  # a class with no idle buffer: forces a fresh allocation
    delta = stats_delta(before, dev.pool_stats())
    assert len(calls) == 2 and delta["released"] >= 1 and dev.pool_stats()["bytes_idle"] == 0
    buf.free()

    monkeypatch.setattr(dev._pool, "_try_create", lambda size_class: None)
    with pytest.raises(cl_device.DeviceOutOfMemoryError, match="idle buffers"):
        dev.alloc(1 << 18)


# ---- building ---------------------------------------------------------------------------------


def test_build_and_run_kernel(dev):
    run_add(dev, add_source())


def test_memory_cache(dev):
    source = add_source()
    before = dev.build_stats()
    program = dev.build(source)
    assert dev.build(source) is program
    assert dev.kernel(source, "add") is dev.kernel(source, "add")
    delta = stats_delta(before, dev.build_stats())
    assert delta["compiles"] == 1 and delta["memory_hits"] >= 2
    assert dev.build(source, ("-DUNUSED=1",)) is not program  # options are part of the key


def test_build_error_has_source_and_log(dev):
    source = "__kernel void broken(__global float *x) {\n    x[0] = undefined_symbol_xyz;\n}\n"
    with pytest.raises(cl_device.KernelBuildError) as info:
        dev.build(source)
    message = str(info.value)
    assert "2 |     x[0] = undefined_symbol_xyz;" in message
    assert "undefined_symbol_xyz" in info.value.log
    assert "--- build log ---" in message


def test_a_build_log_with_notes_raises_no_warning(dev):
    # drivers log notes on successful builds (NVIDIA's on every kernel); pyopencl turns any log
    # into a CompilerWarning that users can do nothing about
    source = "#warning a note from the compiler\n" + add_source()
    before = dev.build_stats()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run_add(dev, source)  # from source
        dev._programs.clear()
        dev._kernels.clear()
        run_add(dev, source)  # from the disk cache
    delta = stats_delta(before, dev.build_stats())
    assert delta["compiles"] == 1 and delta["disk_loads"] == 1


def test_unwritable_cache_dir_is_ignored(dev, tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory should go")
    monkeypatch.setenv("LAZYGRAD_CACHE_DIR", str(blocker / "cache"))
    before = dev.build_stats()
    run_add(dev, add_source())
    delta = stats_delta(before, dev.build_stats())
    assert delta["compiles"] == 1 and delta["disk_writes"] == 0


def test_disk_cache_dir_resolution(tmp_path, monkeypatch):
    assert cl_device.disk_cache_dir() == tmp_path / "cache" / "opencl"
    monkeypatch.delenv("LAZYGRAD_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cl_device.disk_cache_dir() == tmp_path / "xdg" / "lazygrad" / "opencl"


def test_cache_file_validation():
    digest = "ab" * 32
    blob = cl_device._pack_binary(digest, b"binary payload")
    assert cl_device._unpack_binary(blob, digest) == b"binary payload"
    assert cl_device._unpack_binary(blob, "cd" * 32) is None  # another key
    assert cl_device._unpack_binary(blob[:-3], digest) is None  # truncated
    assert cl_device._unpack_binary(blob[:10], digest) is None  # truncated header
    assert cl_device._unpack_binary(blob[:-1] + b"X", digest) is None  # flipped payload byte
    assert cl_device._unpack_binary(b"JUNK" + blob[4:], digest) is None  # foreign magic


SUBPROCESS_SCRIPT = """
import json, sys
import numpy as np
from lazygrad.runtime import opencl_device as cl_device

dev = cl_device.get_device(0)
source = sys.stdin.read()
a = np.arange(256, dtype=np.float32)
bufs = [dev.alloc(a.nbytes) for _ in range(3)]
dev.copyin(bufs[0], a)
dev.copyin(bufs[1], a)
dev.kernel(source, "add")(dev.queue, (256,), None, *(b.cl_buffer for b in bufs))
out = dev.copyout(bufs[2], np.empty_like(a))
print(json.dumps({"stats": dev.build_stats(), "ok": bool((out == 2 * a).all())}))
"""


def build_in_subprocess(source: str, cache_dir: Path) -> dict[str, int]:
    env = dict(os.environ, LAZYGRAD_CACHE_DIR=str(cache_dir))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, "-c", SUBPROCESS_SCRIPT],
        input=source,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["ok"], "kernel produced wrong values"
    return result["stats"]


def test_disk_cache_across_processes(tmp_path):
    cache_dir = tmp_path / "shared-cache"
    source = add_source()

    first = build_in_subprocess(source, cache_dir)
    assert (first["compiles"], first["disk_loads"], first["disk_writes"]) == (1, 0, 1)
    (cached,) = (cache_dir / "opencl").glob("*.bin")

    second = build_in_subprocess(source, cache_dir)
    assert (second["compiles"], second["disk_loads"]) == (0, 1)

    data = cached.read_bytes()
    cached.write_bytes(data[: len(data) // 2])  # truncated / corrupt cache file
    third = build_in_subprocess(source, cache_dir)
    assert (third["compiles"], third["disk_loads"], third["disk_rejects"]) == (1, 0, 1)
    assert third["disk_writes"] == 1
    assert cl_device._unpack_binary(cached.read_bytes(), cached.stem) is not None

    fourth = build_in_subprocess(source, cache_dir)  # the rewritten file loads again
    assert (fourth["compiles"], fourth["disk_loads"]) == (0, 1)


# ---- building a schedule's programs together ------------------------------------------------


def test_a_schedule_builds_its_kernels_as_one_program(dev):
    import lazygrad as lg

    n, m = 40 + uuid.uuid4().int % 500, 7  # a size no other test uses: nothing built yet
    x = np.random.default_rng(0).standard_normal((n, m)).astype(np.float32)
    t = lg.tensor(x, device="opencl:0")
    rows, gram, top = (t.exp() * 2).sum(1), (t.T @ t).relu(), t.max(0).values
    sched = lg.schedule(rows, gram, top)
    assert len([k for k in sched.kernels if k.kind != "copy"]) >= 3
    before = dev.build_stats()
    lg.realize(rows, gram, top)
    assert stats_delta(before, dev.build_stats())["compiles"] == 1
    np.testing.assert_allclose(rows.numpy(), (np.exp(x) * 2).sum(1), rtol=1e-5)
    np.testing.assert_allclose(gram.numpy(), np.maximum(x.T @ x, 0), rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(top.numpy(), x.max(0))


def test_joined_source_defines_each_helper_once_under_each_index_type():
    from lazygrad.renderer.opencl import SourceParts, joined_source

    helper = ("LG_NZ", "#define LG_NZ(a) ((a) != 0)")
    one = SourceParts(False, "int", (helper,), ("__kernel void f(void) {}",))
    two = SourceParts(True, "long", (helper,), ("__kernel void f(void) {}",))
    text = joined_source([(one, {}), (two, {"f": "f_j1"})])
    assert text.count(helper[1]) == 1 and text.startswith("#pragma OPENCL EXTENSION cl_khr_fp64")
    assert text.index("#define idx_t int") < text.index("void f") < text.index("#define idx_t long")
    assert text.index("#define idx_t long") < text.index("#define f f_j1") < text.rindex("void f")
    assert text.rstrip().endswith("#undef f")


def test_programs_whose_function_names_clash_are_renamed_when_built_together(dev):
    from lazygrad.renderer.opencl import SourceParts, joined_source
    from lazygrad.renderer.opencl_kernels import Launch, OpenCLProgram
    from lazygrad.runtime import opencl

    def program(value: int) -> OpenCLProgram:
        body = f"__kernel void f(__global int *x) {{ x[0] = {value}; }}"
        return OpenCLProgram(SourceParts(False, "int", (), (body,)), (Launch("f", (1,), None),))

    programs = [program(1), program(2), program(3)]
    renames = opencl.joined_renames(programs)
    assert [renames[p.source] for p in programs] == [{}, {"f": "f_j1"}, {"f": "f_j2"}]
    pairs = [(p.parts, renames[p.source]) for p in programs]
    sources = [(p.source, opencl._suffix(renames[p.source])) for p in programs]
    options = opencl.build_options(dev)
    before = dev.build_stats()
    dev.build_joined(sources, joined_source(pairs) + f"// {uuid.uuid4().hex}", options)
    for value, p in enumerate(programs, 1):
        out = dev.alloc(4)
        dev.kernel(p.source, "f", options)(dev.queue, (1,), None, out.cl_buffer)
        host = np.zeros(1, np.int32)
        dev.copyout(out, host)
        assert host[0] == value
    assert stats_delta(before, dev.build_stats())["compiles"] == 1


def test_a_joined_build_that_fails_leaves_each_source_to_report_its_own_error(dev):
    good = add_source()
    bad = "__kernel void broken(__global float *x) {\n    x[0] = undefined_symbol_xyz;\n}\n"
    dev.build_joined([(good, ""), (bad, "")], good + bad, ())
    assert not dev.is_built(good, ()) and not dev.is_built(bad, ())
    run_add(dev, good)
    with pytest.raises(cl_device.KernelBuildError, match="undefined_symbol_xyz"):
        dev.build(bad)


def test_build_of_a_source_built_joined_and_renamed_gives_its_own_names(dev):
    first, second = add_source(), add_source()  # both name their function `add`
    dev.build_joined(
        [(first, ""), (second, "_j1")], first + second.replace("void add(", "void add_j1("), ()
    )
    run_add(dev, second)  # through kernel(): the joined program, function `add_j1`
    program = dev.build(second)  # a caller asking for `add` by name gets second's own `add`
    assert [k.function_name for k in program.all_kernels()] == ["add"]
