"""OpenCL runtime layer: device discovery, pooled buffers, copies and cached program builds.

This module knows nothing about tensors or the IR. It hands out devices (one context and one
in-order command queue each), device buffers from a per-device pool with power-of-two size
classes, and compiled programs from a two-level cache (in memory per device, the
least recently used beyond PROGRAMS_KEPT programs and KERNELS_KEPT kernels dropped; on disk
across processes, the least recently used files beyond ``$LAZYGRAD_CACHE_MAX_MB`` deleted).
The kernel renderer builds on top of it.

Everything that touches OpenCL is lazy: importing this module never queries the driver.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import linecache
import operator
import os
import struct
import tempfile
import threading
import time
import warnings
import weakref
from collections import defaultdict, deque
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from .. import lru
from ..buffer import MIN_SIZE_CLASS, size_class_for
from ..debug import log

try:  # pyopencl is a hard dependency, but a broken install must not break `import lazygrad`.
    import pyopencl as cl
except Exception as _import_error:  # pragma: no cover - depends on the environment
    cl = None
    _CL_IMPORT_ERROR: str | None = f"pyopencl could not be imported: {_import_error}"
else:
    _CL_IMPORT_ERROR = None

__all__ = [
    "DeviceAllocation",
    "CLDevice",
    "DeviceOutOfMemoryError",
    "InvalidDeviceError",
    "KernelBuildError",
    "OpenCLUnavailableError",
    "MIN_SIZE_CLASS",
    "device_count",
    "device_names",
    "disk_cache_dir",
    "disk_cache_limit",
    "get_device",
    "gpu_index",
    "is_available",
    "prune_disk_cache",
    "size_class_for",
]

_CACHE_MAGIC = b"LAZYGRAD-CLBIN\x00\x01"  # 16 bytes: name + format version
_CACHE_FORMAT_VERSION = 1
_DIGEST_HEX_LEN = 64
_HEADER = struct.Struct(f"<{len(_CACHE_MAGIC)}s{_DIGEST_HEX_LEN}sQ32s")  # magic, key, len, sha
PROGRAMS_KEPT = 256  # built programs kept in memory per device
KERNELS_KEPT = 512  # kernel objects kept in memory per device (a program may have several)
DISK_CACHE_MB = 256  # default size cap of the on-disk binary cache


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------

_INSTALL_HINT = (
    "To get one, `pip install 'lazygrad[opencl]'` (PoCL: a portable CPU device) "
    "or install your GPU vendor's OpenCL driver (ICD)."
)


class OpenCLUnavailableError(RuntimeError):
    """No usable OpenCL platform/device was found."""

    def __init__(self, reason: str = "") -> None:
        detail = f" ({reason})" if reason else ""
        super().__init__(f"No OpenCL platform/device found{detail}. {_INSTALL_HINT}")
        self.reason = reason


class InvalidDeviceError(RuntimeError, IndexError):
    """A device index outside the valid range was requested (also an ``IndexError``)."""


class KernelBuildError(RuntimeError):
    """The OpenCL compiler rejected a program; carries the numbered source and build log."""

    def __init__(self, device_name: str, source: str, options: tuple[str, ...], log: str) -> None:
        self.device_name = device_name
        self.source = source
        self.options = options
        self.log = log
        opts = " ".join(options) if options else "(none)"
        super().__init__(
            f"OpenCL kernel build failed on {device_name!r} (options: {opts}).\n"
            f"--- build log ---\n{log.strip()}\n"
            f"--- source ---\n{number_lines(source)}"
        )


class DeviceOutOfMemoryError(RuntimeError):
    """A device allocation failed even after releasing the pool's idle buffers."""

    def __init__(
        self, device_name: str, requested: int, in_use: int, idle: int, detail: str = ""
    ) -> None:
        self.device_name = device_name
        self.requested = requested
        self.pooled = in_use + idle
        extra = f" {detail}" if detail else ""
        super().__init__(
            f"OpenCL device {device_name!r} is out of memory: could not allocate "
            f"{requested} bytes ({_human(requested)}). The buffer pool currently holds "
            f"{self.pooled} bytes ({_human(in_use)} in use, {_human(idle)} idle).{extra}"
        )


def _human(nbytes: int) -> str:
    size = float(nbytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{nbytes} B"  # pragma: no cover - unreachable


def number_lines(source: str) -> str:
    """Return ``source`` with right-aligned 1-based line numbers, as used in build errors."""
    lines = source.splitlines() or [""]
    width = len(str(len(lines)))
    return "\n".join(f"{i:>{width}} | {line}" for i, line in enumerate(lines, start=1))


@contextlib.contextmanager
def _quiet_compiler() -> Iterator[None]:
    """Silence pyopencl's warning about a successful build's log: drivers log notes about the
    generated code there (NVIDIA: "overriding noinline attribute") that users cannot act on. A
    failed build still shows its log, in KernelBuildError."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", cl.CompilerWarning)
        yield


# --------------------------------------------------------------------------------------------
# Device discovery
# --------------------------------------------------------------------------------------------

_discovery_lock = threading.Lock()
_discovered: tuple[list[Any], str] | None = None  # (cl devices, reason when empty)
_devices: dict[int, CLDevice] = {}


def _discover() -> tuple[list[Any], str]:
    """Enumerate all devices of all platforms once; never raises."""
    global _discovered
    with _discovery_lock:
        if _discovered is None:
            _discovered = _enumerate_devices()
        return _discovered


def _enumerate_devices() -> tuple[list[Any], str]:
    if cl is None:
        return [], _CL_IMPORT_ERROR or "pyopencl is not installed"
    try:
        platforms = cl.get_platforms()
    except Exception as err:
        return [], f"listing platforms failed: {err}"
    found: list[Any] = []
    for platform in platforms:
        try:
            found.extend(platform.get_devices())
        except Exception:  # a platform without devices raises DEVICE_NOT_FOUND
            continue
    return found, "" if found else "platforms exist but expose no devices"


def is_available() -> bool:
    """Return True when at least one OpenCL device can be used. Never raises."""
    try:
        return bool(_discover()[0])
    except Exception:  # pragma: no cover - defensive
        return False


def device_count() -> int:
    """Return the number of OpenCL devices (0 when OpenCL is unavailable)."""
    try:
        return len(_discover()[0])
    except Exception:  # pragma: no cover - defensive
        return 0


def device_names() -> list[str]:
    """Describe every device as ``"opencl:<i> — <device name> (<platform name>)"``."""
    return [
        f"opencl:{i} — {d.name.strip()} ({d.platform.name.strip()})"
        for i, d in enumerate(_discover()[0])
    ]


def gpu_index() -> int:
    """Return the index of the first GPU device, or 0 if there is none (CPU-only OpenCL).

    Raises:
        OpenCLUnavailableError: when no OpenCL device exists at all.
    """
    devices, reason = _discover()
    if not devices:
        raise OpenCLUnavailableError(reason)
    for i, dev in enumerate(devices):
        if dev.type & cl.device_type.GPU:
            return i
    return 0


def get_device(index: int = 0) -> CLDevice:
    """Return the (cached) :class:`CLDevice` for ``index``.

    Raises:
        OpenCLUnavailableError: when no OpenCL device exists.
        InvalidDeviceError: when ``index`` is out of range (lists the valid indices).
    """
    devices, reason = _discover()
    if not devices:
        raise OpenCLUnavailableError(reason)
    try:
        index = operator.index(index)
    except TypeError:
        raise TypeError(f"device index must be an integer, got {index!r}") from None
    if not 0 <= index < len(devices):
        listing = "\n  ".join(device_names())
        raise InvalidDeviceError(
            f"OpenCL device index {index!r} is out of range; valid indices are "
            f"0..{len(devices) - 1}:\n  {listing}"
        )
    with _discovery_lock:
        if index not in _devices:
            _devices[index] = CLDevice(index, devices[index])
        return _devices[index]


# --------------------------------------------------------------------------------------------
# Buffers and the pool
# --------------------------------------------------------------------------------------------


class DeviceAllocation:
    """A device allocation handed out by a device's pool.

    Holds the ``pyopencl.Buffer`` (``cl_buffer``), the requested size (``nbytes``) and the pool
    size class (``size_class``, the real allocation size). Call :meth:`free` (or
    ``CLDevice.free``) to return it to the pool; if the object is garbage-collected without
    that, it returns itself. Freeing twice is a no-op.
    """

    __slots__ = ("nbytes", "size_class", "device_index", "_cl", "_finalizer", "__weakref__")

    def __init__(
        self, pool: _BufferPool, cl_buffer: Any, nbytes: int, size_class: int, device_index: int
    ) -> None:
        self.nbytes = nbytes
        self.size_class = size_class
        self.device_index = device_index
        self._cl = cl_buffer
        # The callback holds the pool and the cl buffer, never `self`, so collection works.
        self._finalizer = weakref.finalize(self, pool._reclaim, cl_buffer, size_class)
        self._finalizer.atexit = False

    @property
    def cl_buffer(self) -> Any:
        """The underlying ``pyopencl.Buffer``; raises ``RuntimeError`` once freed."""
        if self._cl is None:
            raise RuntimeError("use of a freed lazygrad OpenCL device allocation")
        return self._cl

    @property
    def freed(self) -> bool:
        """True once the buffer went back to its pool."""
        return self._cl is None

    def free(self) -> None:
        """Return the allocation to its pool (idempotent)."""
        self._cl = None
        self._finalizer()

    def __repr__(self) -> str:
        state = "freed" if self.freed else "live"
        return (
            f"DeviceAllocation(opencl:{self.device_index}, nbytes={self.nbytes}, "
            f"size_class={self.size_class}, {state})"
        )


def _is_alloc_failure(err: BaseException) -> bool:
    """True for OpenCL errors that mean "not enough memory" rather than a programming error."""
    if cl is None or not isinstance(err, cl.Error):
        return False
    codes = {
        cl.status_code.MEM_OBJECT_ALLOCATION_FAILURE,
        cl.status_code.OUT_OF_RESOURCES,
        cl.status_code.OUT_OF_HOST_MEMORY,
        cl.status_code.INVALID_BUFFER_SIZE,
    }
    return getattr(err, "code", None) in codes


class _BufferPool:
    """Per-device free lists keyed by size class.

    Buffers returned by the garbage collector land in a lock-free deque (a finalizer may run
    in the middle of any pool operation) and are moved to the free lists on the next call.
    """

    def __init__(self, context: Any, device_name: str, device_index: int, max_alloc: int):
        self._context = context
        self._device_name = device_name
        self._device_index = device_index
        self._max_alloc = max_alloc
        self._lock = threading.Lock()
        self._idle: dict[int, list[Any]] = defaultdict(list)
        self._returned: deque[tuple[Any, int]] = deque()
        self._counts = {
            "bytes_in_use": 0,
            "bytes_idle": 0,
            "live_buffers": 0,
            "idle_buffers": 0,
            "allocations": 0,
            "reuses": 0,
            "frees": 0,
            "released": 0,
            "peak_bytes_in_use": 0,
        }

    def alloc(self, nbytes: int) -> DeviceAllocation:
        cls = size_class_for(nbytes, self._max_alloc)
        with self._lock:
            self._drain()
            if cls > self._max_alloc:
                raise self._oom(nbytes, f"Largest single allocation is {self._max_alloc} bytes.")
            cl_buffer = self._take_idle(cls) or self._create(nbytes, cls)
            self._counts["bytes_in_use"] += cls
            self._counts["live_buffers"] += 1
            peak = max(self._counts["peak_bytes_in_use"], self._counts["bytes_in_use"])
            self._counts["peak_bytes_in_use"] = peak
        return DeviceAllocation(self, cl_buffer, nbytes, cls, self._device_index)

    def _take_idle(self, cls: int) -> Any | None:
        free_list = self._idle.get(cls)
        if not free_list:
            return None
        self._counts["reuses"] += 1
        self._counts["bytes_idle"] -= cls
        self._counts["idle_buffers"] -= 1
        return free_list.pop()

    def _create(self, nbytes: int, cls: int) -> Any:
        cl_buffer = self._try_create(cls)
        if cl_buffer is None:
            self._release_idle_locked()
            cl_buffer = self._try_create(cls)
        if cl_buffer is None:
            raise self._oom(nbytes, "Releasing the pool's idle buffers did not help.")
        self._counts["allocations"] += 1
        return cl_buffer

    def _try_create(self, cls: int) -> Any | None:
        """Allocate a fresh cl buffer, or return None when the driver reports no memory."""
        try:
            return cl.Buffer(self._context, cl.mem_flags.READ_WRITE, cls)
        except cl.Error as err:
            if _is_alloc_failure(err):
                return None
            raise

    def _oom(self, nbytes: int, detail: str) -> DeviceOutOfMemoryError:
        in_use, idle = self._counts["bytes_in_use"], self._counts["bytes_idle"]
        return DeviceOutOfMemoryError(self._device_name, nbytes, in_use, idle, detail)

    def _reclaim(self, cl_buffer: Any, cls: int) -> None:
        """Finalizer callback: must not lock (it can run inside a locked pool operation)."""
        self._returned.append((cl_buffer, cls))

    def _drain(self) -> None:
        while self._returned:
            cl_buffer, cls = self._returned.popleft()
            self._idle[cls].append(cl_buffer)
            self._counts["bytes_in_use"] -= cls
            self._counts["bytes_idle"] += cls
            self._counts["live_buffers"] -= 1
            self._counts["idle_buffers"] += 1
            self._counts["frees"] += 1

    def collect(self) -> None:
        """Move buffers freed (explicitly or by the GC) onto the free lists."""
        with self._lock:
            self._drain()

    def release_idle(self) -> int:
        """Give every idle buffer back to the driver; return the number of bytes released."""
        with self._lock:
            self._drain()
            return self._release_idle_locked()

    def _release_idle_locked(self) -> int:
        released = 0
        for cls, free_list in self._idle.items():
            for cl_buffer in free_list:
                cl_buffer.release()
                released += cls
                self._counts["released"] += 1
            free_list.clear()
        self._counts["bytes_idle"] = 0
        self._counts["idle_buffers"] = 0
        return released

    def stats(self) -> dict[str, int]:
        with self._lock:
            self._drain()
            return dict(self._counts)

    def reset_peak(self) -> None:
        with self._lock:
            self._drain()
            self._counts["peak_bytes_in_use"] = self._counts["bytes_in_use"]


# --------------------------------------------------------------------------------------------
# On-disk program cache
# --------------------------------------------------------------------------------------------


def disk_cache_dir() -> Path:
    """Directory for cached OpenCL binaries.

    ``$LAZYGRAD_CACHE_DIR/opencl`` if that variable is set, else
    ``$XDG_CACHE_HOME/lazygrad/opencl``, else ``~/.cache/lazygrad/opencl``. Read on every call,
    so changing the environment takes effect immediately.
    """
    root = os.environ.get("LAZYGRAD_CACHE_DIR")
    if root:
        return Path(root).expanduser() / "opencl"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "lazygrad" / "opencl"


def disk_cache_limit() -> int:
    """Bytes the on-disk cache may hold: ``$LAZYGRAD_CACHE_MAX_MB`` MiB (default
    ``DISK_CACHE_MB``). Read on every call, like :func:`disk_cache_dir`."""
    try:
        return int(float(os.environ.get("LAZYGRAD_CACHE_MAX_MB") or DISK_CACHE_MB) * 2**20)
    except ValueError:
        return DISK_CACHE_MB * 2**20


def prune_disk_cache(directory: Path, limit: int) -> int:
    """Delete the cache files of ``directory`` used longest ago (oldest mtime: a load
    touches its file) until they total at most ``limit`` bytes; return how many went.
    Never raises (other processes may prune the same directory)."""
    files = []
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                if entry.name.endswith(".bin"):
                    with contextlib.suppress(OSError):
                        stat = entry.stat()
                        files.append((stat.st_mtime_ns, stat.st_size, entry.path))
    except OSError:
        return 0
    total = sum(size for _, size, _ in files)
    deleted = 0
    for _, size, path in sorted(files):
        if total <= limit:
            break
        with contextlib.suppress(OSError):
            os.unlink(path)
            deleted += 1
        total -= size
    return deleted


def _touch(path: Path) -> None:
    """Mark a cache file as used now (pruned last), to the nanosecond: the file system's own
    clock may give files used milliseconds apart the same time."""
    now = time.time_ns()
    with contextlib.suppress(OSError):
        os.utime(path, ns=(now, now))


def _forget_invoker(function_name: str) -> None:
    """Drop from linecache the argument-setting code pyopencl generated for kernels named
    ``function_name``, or that name renamed in a joined build (``_jN``): one entry per new
    name, registered for tracebacks."""
    prefix = f"<generated: 'pyopencl invoker for '{function_name}"
    prefixes = (prefix + "'", prefix + "_j")
    for filename in [name for name in linecache.cache if name.startswith(prefixes)]:
        del linecache.cache[filename]


def _pack_binary(digest: str, binary: bytes) -> bytes:
    header = _HEADER.pack(
        _CACHE_MAGIC, digest.encode("ascii"), len(binary), hashlib.sha256(binary).digest()
    )
    return header + binary


def _unpack_binary(blob: bytes, digest: str) -> bytes | None:
    """Return the payload if ``blob`` is an intact cache file for ``digest``, else None."""
    if len(blob) < _HEADER.size:
        return None
    magic, key, length, checksum = _HEADER.unpack_from(blob)
    payload = blob[_HEADER.size :]
    if magic != _CACHE_MAGIC or key != digest.encode("ascii") or length != len(payload):
        return None
    if hashlib.sha256(payload).digest() != checksum:
        return None
    return payload


def _write_atomically(path: Path, data: bytes) -> bool:
    """Write ``data`` to ``path`` via a temp file and ``os.replace``; False on any OS error."""
    tmp_name = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", suffix=".bin", dir=path.parent)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp_name, path)
        return True
    except OSError:
        if tmp_name is not None:
            try:
                os.unlink(tmp_name)
            except OSError:
                pass
        return False


# --------------------------------------------------------------------------------------------
# CLDevice
# --------------------------------------------------------------------------------------------

_TRIVIAL_KERNEL = "__kernel void lazygrad_probe(__global float *x) { x[get_global_id(0)] = 0; }"


def _options(options: tuple[str, ...] | str) -> tuple[str, ...]:
    return (options,) if isinstance(options, str) else tuple(options)


class CLDevice:
    """One OpenCL device with its own context, in-order queue, buffer pool and program cache.

    Obtain instances with :func:`get_device`; they are cached per index.
    """

    def __init__(self, index: int, cl_device: Any) -> None:
        self.index = index
        self.cl_device = cl_device
        self.name: str = cl_device.name.strip()
        self.platform_name: str = cl_device.platform.name.strip()
        self.platform_version: str = cl_device.platform.version.strip()
        self.driver_version: str = cl_device.driver_version.strip()
        self.device_version: str = cl_device.version.strip()
        self.is_gpu: bool = bool(cl_device.type & cl.device_type.GPU)
        self.has_fp64: bool = "cl_khr_fp64" in cl_device.extensions.split()
        # OpenCL lets float32 `/` and `sqrt` be off by a few ulp (NVIDIA's are) unless asked
        self.rounds_divide_sqrt_exactly: bool = bool(
            cl_device.single_fp_config & cl.device_fp_config.CORRECTLY_ROUNDED_DIVIDE_SQRT
        )
        self.max_work_group_size: int = int(cl_device.max_work_group_size)
        self.local_mem_size: int = int(cl_device.local_mem_size)
        self.compute_units: int = int(cl_device.max_compute_units)
        self.global_mem_size: int = int(cl_device.global_mem_size)
        self.max_mem_alloc_size: int = int(cl_device.max_mem_alloc_size)
        try:
            self.context = cl.Context([cl_device])
            self.queue = cl.CommandQueue(self.context, cl_device)  # in-order by default
        except cl.Error as err:
            raise OpenCLUnavailableError(
                f"creating a context on {self.name!r} failed: {err}"
            ) from err
        self._pool = _BufferPool(self.context, self.name, index, self.max_mem_alloc_size)
        self._build_lock = threading.RLock()
        # (source, options) -> (program, suffix): a source built with others (`build_joined`)
        # may have had its function names suffixed there
        self._programs: dict[tuple[str, tuple[str, ...]], tuple[Any, str]] = {}
        self._kernels: dict[tuple[str, tuple[str, ...], str], Any] = {}
        self._build_counts = {
            "compiles": 0,
            "disk_loads": 0,
            "memory_hits": 0,
            "disk_writes": 0,
            "disk_rejects": 0,
            "evictions": 0,
            "disk_evictions": 0,
        }

    def __repr__(self) -> str:
        return f"CLDevice(opencl:{self.index}, {self.name!r}, platform={self.platform_name!r})"

    @cached_property
    def preferred_work_group_multiple(self) -> int:
        """The driver's preferred work-group size multiple (queried once on a trivial kernel)."""
        try:
            knl = self.kernel(_TRIVIAL_KERNEL, "lazygrad_probe")
            info = cl.kernel_work_group_info.PREFERRED_WORK_GROUP_SIZE_MULTIPLE
            return max(1, int(knl.get_work_group_info(info, self.cl_device)))
        except (cl.Error, KernelBuildError):
            return 1

    # ---- memory -------------------------------------------------------------------------

    def alloc(self, nbytes: int) -> DeviceAllocation:
        """Allocate ``nbytes`` (0 allowed) from this device's pool.

        Raises:
            DeviceOutOfMemoryError: when the allocation fails even after the pool's idle
                buffers were released.
        """
        return self._pool.alloc(int(nbytes))

    def free(self, buf: DeviceAllocation) -> None:
        """Return ``buf`` to the pool. Freeing an already freed buffer does nothing."""
        if buf.device_index != self.index:
            raise ValueError(f"{buf!r} belongs to opencl:{buf.device_index}, not {self!r}")
        buf.free()
        self._pool.collect()

    def release_idle(self) -> int:
        """Hand the pool's idle buffers back to the driver; return the bytes released."""
        return self._pool.release_idle()

    def pool_stats(self) -> dict[str, int]:
        """Pool counters: ``bytes_in_use``, ``bytes_idle`` (size-class bytes), ``live_buffers``,
        ``idle_buffers``, ``allocations`` (fresh driver allocations), ``reuses``, ``frees``,
        ``released`` (buffers handed back to the driver) and ``peak_bytes_in_use``."""
        return self._pool.stats()

    def reset_peak(self) -> None:
        """Start ``peak_bytes_in_use`` over from the bytes in use now (to measure one step)."""
        self._pool.reset_peak()

    def copyin(self, buf: DeviceAllocation, host: np.ndarray) -> None:
        """Copy a C-contiguous host array into ``buf`` (blocking)."""
        if not host.flags.c_contiguous:
            raise ValueError("copyin needs a C-contiguous host array")
        self._check_fits(buf, host.nbytes, "copyin")
        if host.nbytes:
            self._enqueue_copy(buf, dst=buf.cl_buffer, src=host)

    def copyout(self, buf: DeviceAllocation, out: np.ndarray) -> np.ndarray:
        """Fill the C-contiguous, writeable host array ``out`` from ``buf`` and return it."""
        if not (out.flags.c_contiguous and out.flags.writeable):
            raise ValueError("copyout needs a C-contiguous, writeable host array")
        self._check_fits(buf, out.nbytes, "copyout")
        if out.nbytes:
            self._enqueue_copy(buf, dst=out, src=buf.cl_buffer)
        return out

    def copy(self, dst: DeviceAllocation, src: DeviceAllocation, nbytes: int | None = None) -> None:
        """Device-to-device copy of ``nbytes`` (default: all of ``src``), enqueued in order."""
        nbytes = src.nbytes if nbytes is None else nbytes
        self._check_fits(dst, nbytes, "copy")
        self._check_fits(src, nbytes, "copy")
        if nbytes:
            cl.enqueue_copy(self.queue, dst.cl_buffer, src.cl_buffer, byte_count=nbytes)

    def _check_fits(self, buf: DeviceAllocation, nbytes: int, what: str) -> None:
        if nbytes > buf.nbytes:
            raise ValueError(f"{what} of {nbytes} bytes does not fit {buf!r}")

    def _enqueue_copy(self, buf: DeviceAllocation, dst: Any, src: Any) -> None:
        try:
            cl.enqueue_copy(self.queue, dst, src, is_blocking=True)
        except cl.Error as err:  # lazily-allocating drivers report OOM at first use
            if _is_alloc_failure(err):
                stats = self._pool.stats()
                in_use, idle = stats["bytes_in_use"], stats["bytes_idle"]
                detail = f"The driver failed on first use of {buf!r}: {err}"
                raise DeviceOutOfMemoryError(
                    self.name, buf.size_class, in_use, idle, detail
                ) from err
            raise

    def synchronize(self) -> None:
        """Block until every command queued on this device has finished."""
        self.queue.finish()

    @cached_property
    def error_flag(self) -> Any:
        """A device int (0 until a kernel sets it) through which kernels report an error
        for the host to find later with :meth:`take_error_flag`. Outside the pool: it lives
        as long as the device."""
        zero = np.zeros(1, np.int32)
        flags = cl.mem_flags.READ_WRITE | cl.mem_flags.COPY_HOST_PTR
        return cl.Buffer(self.context, flags, hostbuf=zero)

    def take_error_flag(self) -> int:
        """Wait for the queued work, then return :attr:`error_flag`'s value, resetting it."""
        value = np.zeros(1, np.int32)
        cl.enqueue_copy(self.queue, value, self.error_flag, is_blocking=True)
        if value[0]:
            cl.enqueue_copy(self.queue, self.error_flag, np.zeros(1, np.int32), is_blocking=True)
        return int(value[0])

    # ---- programs -----------------------------------------------------------------------

    def build(self, source: str, options: tuple[str, ...] | str = ()) -> Any:
        """Compile ``source`` into a ``pyopencl.Program`` for this device, with caching.

        Programs are cached in memory by ``(source, options)`` (the ``PROGRAMS_KEPT`` used
        last) and their binaries on disk (see :func:`disk_cache_dir`). No options are added by
        default (in particular no ``-cl-fast-relaxed-math``).

        Raises:
            KernelBuildError: when compilation fails (message has numbered source and log).
        """
        options = _options(options)
        program, suffix = self._built(source, options)
        if suffix:  # built with other sources, its functions renamed: build it alone
            with self._build_lock:
                program = self._build_with_disk_cache(source, options)
                self._remember(
                    self._programs, (source, options), (program, ""), PROGRAMS_KEPT, "program"
                )
        return program

    def _built(self, source: str, options: tuple[str, ...]) -> tuple[Any, str]:
        """`build`'s program and the suffix its function names carry in it."""
        key = (source, options)
        with self._build_lock:
            built = lru.get(self._programs, key)
            if built is not None:
                self._build_counts["memory_hits"] += 1
                return built
            built = (self._build_with_disk_cache(source, options), "")
            self._remember(self._programs, key, built, PROGRAMS_KEPT, "program")
            return built

    def is_built(self, source: str, options: tuple[str, ...]) -> bool:
        """Whether `build(source, options)` would find the program in memory."""
        with self._build_lock:
            return (source, options) in self._programs

    def build_joined(
        self, sources: list[tuple[str, str]], joined: str, options: tuple[str, ...]
    ) -> None:
        """Build `joined` (one source holding the functions of each of `sources`, given as
        (source, suffix appended to its function names)) and keep it as the program of each
        source, so that `kernel(source, name)` finds it: one compiler run (and disk cache
        entry) instead of one per source. A joined build that fails is dropped: each source
        then builds alone and reports its own error."""
        with self._build_lock:
            try:
                program = self._build_with_disk_cache(joined, options)
            except KernelBuildError:
                return
            for source, suffix in sources:
                built = (program, suffix)
                self._remember(self._programs, (source, options), built, PROGRAMS_KEPT, "program")

    def kernel(self, source: str, name: str, options: tuple[str, ...] | str = ()) -> Any:
        """Return the cached ``pyopencl.Kernel`` ``name`` from ``build(source, options)`` (the
        ``KERNELS_KEPT`` used last stay cached)."""
        options = _options(options)
        key = (source, options, name)
        with self._build_lock:
            knl = lru.get(self._kernels, key)
            if knl is None:
                program, suffix = self._built(source, options)
                knl = cl.Kernel(program, name + suffix)
                dropped = self._remember(self._kernels, key, knl, KERNELS_KEPT, "kernel")
                for _, _, dropped_name in dropped:  # (another kernel of that name, if
                    _forget_invoker(dropped_name)  # any, merely shows no invoker source)
            return knl

    def _remember(self, table: dict, key: Any, value: Any, limit: int, what: str) -> list[Any]:
        """`lru.put`, counting what it drops (returned) and logging it."""
        dropped = lru.put(table, key, value, limit)
        if dropped:
            self._build_counts["evictions"] += len(dropped)
            log(
                f"opencl:{self.index} built {what} cache full ({limit}): dropped the least "
                f"recently used ({self._build_counts['evictions']} programs and kernels so far)"
            )
        return dropped

    def build_stats(self) -> dict[str, int]:
        """Build counters: ``compiles`` (from source), ``disk_loads``, ``memory_hits``,
        ``disk_writes``, ``disk_rejects`` (cache files found but unusable), ``evictions``
        (programs and kernels dropped from memory) and ``disk_evictions`` (files deleted)."""
        with self._build_lock:
            return dict(self._build_counts)

    def cache_key(self, source: str, options: tuple[str, ...]) -> str:
        """sha256 hex digest identifying a binary for this source/options/device/driver."""
        parts = [
            _CACHE_FORMAT_VERSION,
            source,
            list(options),
            self.name,
            self.device_version,
            self.platform_name,
            self.platform_version,
            self.driver_version,
            cl.VERSION_TEXT,
        ]
        return hashlib.sha256(json.dumps(parts).encode("utf-8")).hexdigest()

    def _build_with_disk_cache(self, source: str, options: tuple[str, ...]) -> Any:
        digest = self.cache_key(source, options)
        path = disk_cache_dir() / f"{digest}.bin"
        program = self._load_cached(path, digest, options)
        if program is not None:
            self._build_counts["disk_loads"] += 1
            return program
        program = self._compile(source, options)
        self._build_counts["compiles"] += 1
        self._store_cached(path, digest, program)
        return program

    def _load_cached(self, path: Path, digest: str, options: tuple[str, ...]) -> Any | None:
        try:
            blob = path.read_bytes()
        except OSError:
            return None
        binary = _unpack_binary(blob, digest)
        if binary is None:
            self._build_counts["disk_rejects"] += 1
            return None
        try:
            program = cl.Program(self.context, [self.cl_device], [binary])
            with _quiet_compiler():
                program = program.build(options=list(options), devices=[self.cl_device])
        except Exception:  # foreign or stale binary: fall back to a source build
            self._build_counts["disk_rejects"] += 1
            return None
        _touch(path)
        return program

    def _store_cached(self, path: Path, digest: str, program: Any) -> None:
        try:
            binaries = program.get_info(cl.program_info.BINARIES)
        except cl.Error:
            return
        if len(binaries) == 1 and binaries[0]:
            if _write_atomically(path, _pack_binary(digest, bytes(binaries[0]))):
                self._build_counts["disk_writes"] += 1
                _touch(path)
                limit = disk_cache_limit()
                deleted = prune_disk_cache(path.parent, limit)
                if deleted:
                    self._build_counts["disk_evictions"] += deleted
                    log(
                        f"OpenCL disk cache over {limit} bytes (LAZYGRAD_CACHE_MAX_MB): "
                        f"deleted the {deleted} file(s) used longest ago in {path.parent}"
                    )

    def _compile(self, source: str, options: tuple[str, ...]) -> Any:
        program = cl.Program(self.context, source)
        try:
            # cache_dir=False: skip pyopencl's own binary cache so our counters stay honest.
            with _quiet_compiler():
                return program.build(
                    options=list(options), devices=[self.cl_device], cache_dir=False
                )
        except cl.Error as err:
            log = self._build_log(program, str(err))
            raise KernelBuildError(self.name, source, options, log) from None

    def _build_log(self, program: Any, error_text: str) -> str:
        """Combine pyopencl's error text (which embeds the log) with the program's build log."""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                log = program.get_build_info(self.cl_device, cl.program_build_info.LOG)
        except Exception:
            log = ""
        log = (log or "").strip()
        if log and log not in error_text:
            return f"{error_text.strip()}\n{log}"
        return error_text
