"""Realized storage: a flat, contiguous block of one dtype on one device."""

from __future__ import annotations

from typing import Any

import numpy as np

from .dtype import DType


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
