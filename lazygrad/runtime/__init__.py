"""Runtimes: where kernels run. Each device kind has a module with the same functions
(`render`, `run`, `to_host`, ...) that `backend_for` picks; buffers, compiled programs,
pools and copies live there. What a runtime derives from a kernel (its source, its
compiled form) is kept here, by kernel, never on the IR's `Kernel`."""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Protocol, cast

import numpy as np

from ..buffer import Buffer
from ..ir.schedule import Kernel
from .compiled import CompiledForms

__all__ = ["Backend", "CompiledForms", "backend_for", "kernel_source"]


class Backend(Protocol):
    """What every runtime module offers (`cpu`, `opencl`): the engine needs nothing else."""

    def render(self, kernel: Kernel) -> str:
        """The kernel's generated source."""
        ...

    def prepare(self, kernels: Sequence[Kernel]) -> None:
        """Make ready ahead what running these kernels needs (OpenCL: build their programs
        together)."""
        ...

    def run(self, kernel: Kernel, inputs: list[Buffer], params: Sequence[object] = ()) -> list:
        """Run the kernel on these input buffers and arguments; its output buffers."""
        ...

    def to_host(self, buf: Buffer) -> np.ndarray:
        """The flat host array of one of its buffers."""
        ...


def backend_for(device: str) -> Backend:
    """The runtime for a device string ("cpu", "opencl:0", ...)."""
    if device.startswith("opencl"):
        from . import opencl

        return cast(Backend, opencl)
    from . import cpu

    return cast(Backend, cpu)


_sources: weakref.WeakKeyDictionary[Kernel, str] = weakref.WeakKeyDictionary()


def kernel_source(kernel: Kernel) -> str:
    """The generated code of `kernel` (NumPy source for cpu, OpenCL C for opencl), rendered
    once per kernel."""
    source = _sources.get(kernel)
    if source is None:
        source = _sources[kernel] = backend_for(kernel.device).render(kernel)
    return source
