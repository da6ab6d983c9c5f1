"""`lg.opencl`: what OpenCL devices this machine has."""

from __future__ import annotations

from .runtime import opencl_device


def is_available() -> bool:
    """Whether at least one OpenCL device can be used."""
    return opencl_device.is_available()


def device_count() -> int:
    """How many OpenCL devices there are (0 without an OpenCL platform)."""
    return opencl_device.device_count()
