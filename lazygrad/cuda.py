"""`lg.cuda`: PyTorch's CUDA queries, answered for lazygrad's GPU-class devices.

lazygrad has no CUDA backend; its accelerators are OpenCL devices. Here a "CUDA device" is
an OpenCL device whose type is GPU. OpenCL CPU devices (PoCL's portable CPU device, for
one) do not count: they run the same kernels on the host's cores, so a program asking
"is there a GPU?" should hear no. So `is_available()` is True only with an OpenCL GPU, and
`device_count()` counts OpenCL GPUs. `lg.device("cuda")` (and "gpu") already resolves to the
first OpenCL GPU; note that "cuda:N" names OpenCL device N (all OpenCL devices, not only
GPUs, are numbered there), while this module numbers the GPUs alone (0 is the first GPU).

Never raises for a missing GPU where PyTorch's call would only report: the queries answer
False/0, and `synchronize`, `empty_cache`, the seeding functions are safe no-ops then.
"""

from __future__ import annotations

import functools
from typing import Any

from .device import device as _device
from .frontend.creation import manual_seed as _manual_seed
from .runtime import opencl_device

__all__ = [
    "is_available",
    "device_count",
    "current_device",
    "get_device_name",
    "synchronize",
    "empty_cache",
    "manual_seed",
    "manual_seed_all",
    "seed",
    "is_initialized",
]


@functools.cache
def _gpu_indices() -> tuple[int, ...]:
    """The OpenCL indices of the GPU-type devices, in OpenCL's order (found once)."""
    found = []
    for index in range(opencl_device.device_count()):
        try:
            if opencl_device.get_device(index).is_gpu:
                found.append(index)
        except Exception:  # a device whose context cannot be made is not usable
            continue
    return tuple(found)


def is_available() -> bool:
    """Whether an OpenCL GPU can be used (an OpenCL CPU device does not count)."""
    return bool(_gpu_indices())


def device_count() -> int:
    """How many OpenCL GPUs there are (0 without one)."""
    return len(_gpu_indices())


def is_initialized() -> bool:
    """Whether a GPU has been found and set up (lazygrad sets one up on first use)."""
    return is_available()


def current_device() -> int:
    """The index (among GPUs) of the GPU `lg.device("cuda")` selects: always 0."""
    if not is_available():
        raise RuntimeError("No CUDA GPUs are available")
    return 0


def _opencl_index(device: Any = None) -> int | None:
    """The OpenCL index meant by a device argument (None: the first GPU, or None)."""
    if device is None:
        gpus = _gpu_indices()
        return gpus[0] if gpus else None
    if isinstance(device, int):
        return _gpu_indices()[device]
    return _device(device).index


def get_device_name(device: Any = None) -> str:
    """The name of a GPU: an index among GPUs, a device or device string, or None for the
    current one."""
    index = _opencl_index(device)
    if index is None:
        raise RuntimeError("No CUDA GPUs are available")
    return opencl_device.get_device(index).name


def synchronize(device: Any = None) -> None:
    """Wait until every command queued on the GPU has finished (a no-op without one).
    lazygrad runs kernels when a value is realized, so this only waits for work already
    handed to the device."""
    index = _opencl_index(device)
    if index is not None:
        opencl_device.get_device(index).synchronize()


def empty_cache() -> None:
    """Give the GPUs' idle pooled buffers back to the driver (a no-op without a GPU)."""
    for index in _gpu_indices():
        opencl_device.get_device(index).release_idle()


def manual_seed(seed: int) -> None:
    """Seed lazygrad's random stream. lazygrad has one stream for every device, so this
    seeds CPU draws too (the same as `lg.manual_seed`)."""
    _manual_seed(seed)


def manual_seed_all(seed: int) -> None:
    """Seed lazygrad's random stream (one stream serves every device)."""
    _manual_seed(seed)


def seed() -> None:
    """Kept for PyTorch compatibility: a no-op (lazygrad's stream is seeded by
    `manual_seed`)."""
