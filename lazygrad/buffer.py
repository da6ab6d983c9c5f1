"""Realized storage: a flat, contiguous block of one dtype on one device."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .dtypes import DType


class Buffer:
    """Storage behind a realized tensor. `host` holds a flat NumPy array (always for the
    CPU; for OpenCL until first uploaded); `dev` holds the backend's device allocation.
    Buffers are never written after they are filled, so graphs may share them freely."""

    __slots__ = ("device", "dtype", "numel", "host", "dev", "release", "__weakref__")

    def __init__(
        self, device: str, dtype: DType, numel: int, host: np.ndarray | None = None, dev: Any = None
    ):
        self.device = device
        self.dtype = dtype
        self.numel = numel
        self.host = host
        self.dev = dev
        # (function, storage): called when the buffer dies, to return its storage to the
        # backend's pool; None when nothing is to be returned (or a kernel took it over)
        self.release: tuple[Any, Any] | None = None

    def __del__(self) -> None:
        if self.release is not None:
            give, storage = self.release
            try:
                give(storage)
            except Exception:  # noqa: S110 - at interpreter exit the pool may be gone already
                pass

    @property
    def nbytes(self) -> int:
        return self.numel * self.dtype.itemsize

    def __repr__(self) -> str:
        return f"Buffer({self.device}, {self.dtype.name}, {self.numel})"


# device kind ("opencl") -> how a buffer of it comes to the host; each device runtime
# registers its own when imported (before it can make a buffer)
_downloads: dict[str, Callable[[Buffer], np.ndarray]] = {}


def on_download(kind: str, download: Callable[[Buffer], np.ndarray]) -> None:
    """Register how buffers of a device kind are copied to the host."""
    _downloads[kind] = download


def host_array(buf: Buffer) -> np.ndarray:
    """The flat host array of a buffer on any device (downloaded when it is not there)."""
    if buf.host is not None:
        return buf.host
    return _downloads[buf.device.split(":")[0]](buf)


#: Smallest pool size class in bytes; every request (including 0 bytes) gets at least this much.
MIN_SIZE_CLASS = 256
#: Granularity used instead of a power of two when the power of two would exceed the device's
#: largest allowed single allocation.
_LARGE_ALIGN = 4096


def size_class_for(nbytes: int, max_alloc: int | None = None) -> int:
    """Return the pool size class for a request of ``nbytes``.

    The class is the next power of two, at least :data:`MIN_SIZE_CLASS`. When that power of two
    would exceed ``max_alloc`` but the request itself fits, the request is rounded up to 4 KiB
    instead (capped at ``max_alloc``), so large-but-legal buffers stay allocatable.
    """
    if nbytes < 0:
        raise ValueError(f"cannot allocate a negative number of bytes ({nbytes})")
    cls = max(MIN_SIZE_CLASS, 1 << (max(nbytes, 1) - 1).bit_length())
    if max_alloc is not None and cls > max_alloc >= nbytes:
        cls = min(-(-nbytes // _LARGE_ALIGN) * _LARGE_ALIGN, max_alloc)
    return cls
