"""Runs schedules: the one place where the frontend meets the code generators.

Realized values are remembered per IR node (weakly), so a node computed once is
never computed again and later graphs read its buffer instead.
"""

from __future__ import annotations

import os
import sys
import time
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from .buffer import Buffer
from .ir.node import Node, make
from .ir.ops import Op
from .ir.schedule import Kernel, Schedule, build_schedule
from .tensor import Tensor

# node as recorded -> BUFFER node holding its value
_realized: weakref.WeakKeyDictionary[Node, Node] = weakref.WeakKeyDictionary()

# Called with (schedule, tensors) before each schedule runs: `lazygrad viz` captures graphs here.
schedule_listeners: list[Callable[[Schedule, list[Tensor]], None]] = []


def debug_level() -> int:
    """LAZYGRAD_DEBUG as an int (0 when unset)."""
    try:
        return int(os.environ.get("LAZYGRAD_DEBUG", "0") or 0)
    except ValueError:
        return 0


def backend_for(device: str) -> Any:
    """The code generator module for a device string."""
    if device.startswith("opencl"):
        from .backends import opencl_backend

        return opencl_backend
    from .backends import numpy_backend

    return numpy_backend


def _pending(tensors: tuple[Tensor, ...]) -> list[Tensor]:
    out = []
    for t in tensors:
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor, got {type(t).__name__}")
        if t._node.op is not Op.BUFFER and t._node not in _realized:
            out.append(t)
    return out


def schedule(*tensors: Tensor) -> Schedule:
    """The kernels that realizing `tensors` would run, in order; nothing runs."""
    pending = _pending(tensors)
    nodes = list(dict.fromkeys(t._node for t in pending))
    devices = {t._node: str(t.device) for t in pending}
    return build_schedule(nodes, devices, _realized)


def realize(*tensors: Tensor) -> None:
    """Compute every tensor in `tensors` now, sharing their common subgraphs."""
    pending = _pending(tensors)
    if not pending:
        return
    sched = schedule(*pending)
    for listener in schedule_listeners:
        listener(sched, pending)
    buffers = run_schedule(sched)
    for t in pending:
        lowered = sched.targets[t._node]
        if lowered.op is Op.BUFFER:
            buf_node = lowered
        else:
            buf = buffers[lowered]
            buf_node = make(Op.BUFFER, (), buf, t.dtype, t._node.shape)
        _realized[t._node] = buf_node
        if t.grad_fn is None:  # cut the history only autograd of a non-leaf could need
            t._replace_node(buf_node)


def run_schedule(sched: Schedule) -> dict[Node, Buffer]:
    """Run every kernel; returns the buffer of each kernel output."""
    level = debug_level()
    produced: dict[Node, Buffer] = {}
    for kernel in sched.kernels:
        start = time.perf_counter()
        inputs = [_input_buffer(n, produced) for n in kernel.input_nodes]
        outputs = backend_for(kernel.device).run(kernel, inputs)
        for node, buf in zip(kernel.output_nodes, outputs, strict=True):
            produced[node] = buf
        if level:
            _log_kernel(kernel, time.perf_counter() - start, level)
    return produced


def _input_buffer(node: Node, produced: dict[Node, Buffer]) -> Buffer:
    if node.op is Op.BUFFER:
        return node.arg  # type: ignore[return-value]
    return produced[node]


def _log_kernel(kernel: Kernel, seconds: float, level: int) -> None:
    print(f"[lazygrad] {kernel.name} on {kernel.device}: {len(kernel.ops)} ops "
          f"({', '.join(kernel.ops)}); boundary: {', '.join(kernel.reasons)}; "
          f"{seconds * 1e3:.3f} ms", file=sys.stderr)
    if level >= 2:
        print(kernel.source, file=sys.stderr)


def to_host(t: Tensor) -> np.ndarray:
    """Realize `t` and return a host copy of its values."""
    realize(t)
    node = t._node if t._node.op is Op.BUFFER else _realized[t._node]
    buf: Buffer = node.arg  # type: ignore[assignment]
    return backend_for(buf.device).to_host(buf).reshape(node.shape).copy()
