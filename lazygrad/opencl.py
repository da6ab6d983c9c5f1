"""`lg.opencl`: what OpenCL devices this machine has."""

from __future__ import annotations

from .backends import opencl_runtime


def is_available() -> bool:
    """Whether at least one OpenCL device can be used."""
    return opencl_runtime.is_available()


def device_count() -> int:
    """How many OpenCL devices there are (0 without an OpenCL platform)."""
    return opencl_runtime.device_count()
