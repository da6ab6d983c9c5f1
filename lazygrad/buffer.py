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
        self.release: Any = None  # the backend's finalizer returning the storage to its pool

    @property
    def nbytes(self) -> int:
        return self.numel * self.dtype.itemsize

    def __repr__(self) -> str:
        return f"Buffer({self.device}, {self.dtype.name}, {self.numel})"
