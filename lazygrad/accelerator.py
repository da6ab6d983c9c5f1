"""`lg.accelerator`: the current accelerator, as `torch.accelerator` reports it.

lazygrad's accelerator is an OpenCL GPU, the same devices `lg.cuda` counts: the CPU,
and OpenCL CPU devices such as PoCL's, are not accelerators. `current_accelerator()`
returns the device that `lg.device("cuda")` picks (the first OpenCL GPU), with its index:
lazygrad's `device("opencl")` means OpenCL device 0, which need not be that GPU, so the
index-less device PyTorch returns would not lead there.
"""

from __future__ import annotations

from typing import Any

from . import cuda
from .device import device

__all__ = [
    "is_available",
    "current_accelerator",
    "device_count",
    "current_device_index",
    "synchronize",
]


def is_available() -> bool:
    """Whether an accelerator (an OpenCL GPU) can be used."""
    return cuda.is_available()


def current_accelerator(check_available: bool = False) -> device | None:
    """The accelerator's device, or None without one. lazygrad has no build-time notion of
    an accelerator, so `check_available` changes nothing: the answer is always the
    run-time one."""
    return device("cuda") if cuda.is_available() else None


def device_count() -> int:
    """How many accelerators there are (0 without one)."""
    return cuda.device_count()


def current_device_index() -> int:
    """The index of the current accelerator among accelerators (0), or -1 without one."""
    return 0 if cuda.is_available() else -1


def synchronize(device: Any = None) -> None:
    """Wait for the work queued on the accelerator (a no-op without one)."""
    cuda.synchronize(device)
