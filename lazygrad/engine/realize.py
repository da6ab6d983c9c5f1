"""Runs schedules: the one place where the frontend meets the runtimes.

Realized values are remembered per IR node (weakly), so a node computed once is
never computed again and later graphs read its buffer instead.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import weakref
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import live, recording
from ..buffer import Buffer
from ..debug import debug_level
from ..ir.cache_key import structural_key
from ..ir.node import Node, make, refresh_depth, settle
from ..ir.ops import Op
from ..ir.schedule import Kernel, Schedule, build_schedule
from ..runtime import backend_for, cpu, kernel_source
from ..tensor import Tensor, _LeafToken, is_leaf_token


class _Lookup:
    """`in` and `[]` for a mapping of nodes to values that defines `get`."""

    def get(self, node: Node, default: Node | None = None) -> Node | None:
        raise NotImplementedError  # each lookup says how it finds a value

    def __contains__(self, node: Node) -> bool:
        return self.get(node) is not None

    def __getitem__(self, node: Node) -> Node:
        value = self.get(node)
        if value is None:
            raise KeyError(node)
        return value


class RealizedValues(_Lookup):
    """Recorded node -> the BUFFER node holding its value, per device, kept while the node
    lives. Nodes carry no device (`lg.arange(4)` on cpu and on opencl is one node), so a
    value stored on one device is found for a tensor on another only by `get`, which graph
    lowering uses, never by `get_on`, which tells a tensor what it already holds.

    Looked up by `id()` with the node itself checked: a WeakKeyDictionary builds a weak
    reference on every lookup, and the schedule cache's key looks up every node of every
    graph a program realizes."""

    def __init__(self) -> None:
        self._entries: dict[int, tuple[weakref.ref[Node], dict[str, Node]]] = {}

    def _values(self, node: Node) -> dict[str, Node] | None:
        entry = self._entries.get(id(node))
        return entry[1] if entry is not None and entry[0]() is node else None

    def get(self, node: Node, default: Node | None = None) -> Node | None:
        """The value stored last for `node`, on whichever device."""
        values = self._values(node)
        return next(reversed(values.values())) if values else default

    def get_on(self, node: Node, device: str) -> Node | None:
        """The value stored for `node` on `device`, if any."""
        values = self._values(node)
        return values.get(device) if values else None

    def __setitem__(self, node: Node, value: Node) -> None:
        device = value.arg.device  # type: ignore[union-attr]
        values = self._values(node)
        if values is None:
            key = id(node)
            values = {}
            self._entries[key] = (weakref.ref(node, lambda ref: self._forget(key, ref)), values)
        values.pop(device, None)  # the latest stored comes last
        values[device] = value

    def _forget(self, key: int, ref: weakref.ref[Node]) -> None:
        entry = self._entries.get(key)
        if entry is not None and entry[0] is ref:
            del self._entries[key]

    def items(self) -> list[tuple[Node, Node]]:
        pairs = ((ref(), values) for ref, values in list(self._entries.values()))
        return [(node, next(reversed(v.values()))) for node, v in pairs if node is not None]


realized_values = RealizedValues()


class _OnDevice(_Lookup):
    """The values stored on one device: what a graph realized there may read."""

    def __init__(self, device: str) -> None:
        self.device = device

    def get(self, node: Node, default: Node | None = None) -> Node | None:
        found = realized_values.get_on(node, self.device)
        return default if found is None else found


class LeafValues(_Lookup):
    """The realized values of leaves only (buffers, and leaves that require grad): what a
    `lg.jit` recording reads as inputs, since a replay has nothing but its arguments and
    the tensors from before the call. Values computed before the call that its graph
    shares (hash-consing finds them) are computed again inside it."""

    def get(self, node: Node, default: Node | None = None) -> Node | None:
        return realized_values.get(node, default) if is_leaf_token(node) else default


# Called with (schedule, tensors) before each schedule runs: `lazygrad viz` captures graphs here.
schedule_listeners: list[Callable[[Schedule, list[Tensor]], None]] = []


def pending_of(tensors: tuple[Tensor, ...]) -> list[Tensor]:
    """The distinct tensors among `tensors` that have work to run (TypeError for a
    non-tensor)."""
    out: list[Tensor] = []
    for t in {id(t): t for t in tensors}.values():
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor, got {type(t).__name__}")
        if t._node.op is Op.BUFFER:
            continue
        stored = realized_values.get_on(t._node, str(t.device))
        if stored is not None:  # computed already (for another tensor): just point at it
            point_at(t, stored, shared=True)
            continue
        out.append(t)
    return out


def _targets(pending: list[Tensor]) -> tuple[list[Node], dict[Node, str]]:
    """The distinct nodes to realize and the device each is wanted on."""
    devices = {t._node: str(t.device) for t in pending}
    return list(devices), devices


def _also_realized(pending: list[Tensor]) -> list[Tensor]:
    """The live tensors besides `pending` whose pending work overlaps theirs (directly or
    through each other): realized with them, they share the work and store it, so nothing
    the program can still read is computed twice and no live tensor's history reaches
    back past this realize (the weights a loop updates after reading its loss, say).

    Nodes keep their work group up to date as they are made (`ir.node.WorkGroup`), so this
    compares one group per live tensor instead of walking graphs."""
    asked = {id(t) for t in pending}
    groups = {g.find() for g in (t._node.group for t in pending) if g is not None}
    if not groups:
        return []
    device = str(pending[0].device)
    also = []
    for t in live.tensors():
        group = t._node.group
        if group is not None and id(t) not in asked and group.find() in groups:
            if str(t.device) == device and realized_values.get_on(t._node, device) is None:
                also.append(t)
    return also


def stored_for(devices: dict[Node, str]) -> _Lookup:
    """The stored values a graph realized on `devices` reads."""
    wanted = set(devices.values())
    return _OnDevice(wanted.pop()) if len(wanted) == 1 else realized_values


# Tensors every realize computes too, whatever it was asked for: the collectives of a
# distributed run, which every process must run, in the order they were called, even where
# it never reads their result (`lazygrad.distributed` adds them).
must_run: list[Tensor] = []


def _must_run(pending: list[Tensor]) -> list[Tensor]:
    """The tensors of `must_run` still pending on this realize's device (taken off it)."""
    if not must_run:  # the common case: no distributed run
        return []
    asked = {id(t) for t in pending}
    device = str(pending[0].device)
    waiting = [t for t in must_run if t._node.op is not Op.BUFFER and id(t) not in asked]
    due = [t for t in waiting if str(t.device) == device]
    must_run[:] = [t for t in waiting if str(t.device) != device]
    return due


def schedule(*tensors: Tensor) -> Schedule:
    """The kernels that realizing `tensors` would run, in order; nothing runs. Like
    realizing, it includes the live tensors whose pending work overlaps theirs."""
    pending = pending_of(tensors)
    nodes, devices = _targets(pending + _also_realized(pending))
    return build_schedule(nodes, devices, stored_for(devices))


def buffer_of(node: Node, stored: _Lookup | None = None) -> Buffer:
    """The buffer an input node of a graph stands for (see `structural_key`), as `stored`
    (by default: every stored value) finds it."""
    if node.op is Op.BUFFER:
        return node.arg  # type: ignore[return-value]
    return (stored or realized_values)[node].arg  # type: ignore[return-value]


def _slots(inputs: list[Node]) -> dict[Node, Node]:
    """A placeholder BUFFER node (a buffer without storage) for each input of a graph: a
    cached schedule is built against these, so the cache keeps no tensor's memory alive, and
    every run binds them to the buffers of the graph at hand."""
    slots = {}
    for node in inputs:
        buf = buffer_of(node)
        slots[node] = make(
            Op.BUFFER, (), Buffer(buf.device, buf.dtype, buf.numel), node.dtype, node.shape
        )
    return slots


@dataclass
class CachedSchedule:
    """A schedule built once, against placeholder input nodes (in slot order), and the
    position of each target's lowered node."""

    schedule: Schedule
    inputs: list[Node]
    params: list[Node]
    lowered: list[Node]
    # per target, whether its buffer may be another's too (an input's, or another target's)
    shared: list[bool]
    targets: list[tuple[Any, tuple[int, ...]]]  # per target, its dtype and shape

    def run(self, bindings: dict[Node, Buffer], values: dict[Node, Any]) -> list[Node]:
        """Run the schedule with these input buffers and arguments; returns a BUFFER node
        holding each target's value, in target order."""
        with _one_at_a_time:
            buffers = run_schedule(self.schedule, bindings, values)
        out = []
        for lowered, (dtype, shape) in zip(self.lowered, self.targets, strict=True):
            buf = bindings[lowered] if lowered.op is Op.BUFFER else buffers[lowered]
            out.append(make(Op.BUFFER, (), buf, dtype, shape))
        return out


# Realizes run one at a time (threads take turns): a cached schedule and its kernels'
# scratch arrays are shared by every graph of one structure.
_one_at_a_time = threading.RLock()

_schedule_cache: OrderedDict[tuple, CachedSchedule] = OrderedDict()
SCHEDULE_CACHE_SIZE = 64
cache_stats = {"hits": 0, "misses": 0}


def _cached_schedule(
    nodes: list[Node], devices: dict[Node, str], realized: _Lookup
) -> tuple[CachedSchedule, list[Node], list[Node]]:
    """The schedule for `nodes` from the cache (keyed by graph structure), or a new one."""
    key, inputs, params = structural_key(nodes, [devices[n] for n in nodes], realized)
    entry = _schedule_cache.get(key)
    if entry is not None:
        _schedule_cache.move_to_end(key)
        cache_stats["hits"] += 1
        return entry, inputs, params
    cache_stats["misses"] += 1
    slots = _slots(inputs)
    sched = build_schedule(nodes, devices, slots)
    lowered = [sched.targets[n] for n in nodes]
    sched.targets = {}  # the recorded graph it names would keep its buffers alive in the cache
    repeats = Counter(lowered)
    shared = [n.op is Op.BUFFER or repeats[n] > 1 for n in lowered]
    targets = [(n.dtype, n.shape) for n in nodes]
    entry = CachedSchedule(sched, [slots[n] for n in inputs], params, lowered, shared, targets)
    _schedule_cache[key] = entry
    if len(_schedule_cache) > SCHEDULE_CACHE_SIZE:
        _schedule_cache.popitem(last=False)
    return entry, inputs, params


def realize(*tensors: Tensor) -> None:
    """Compute every tensor in `tensors` now, sharing their common subgraphs.

    A graph with the structure of an earlier one reuses that schedule (kernels and all)
    with this graph's input buffers bound in place of the earlier ones. While `lg.jit`
    records a function, realizing waits for the end of the call (values stay lazy)."""
    rec = recording.active
    if rec is not None and rec.broken is None:
        return
    for t in tensors:  # the common case of a replayed step: everything is realized already
        if not isinstance(t, Tensor) or t._node.op is not Op.BUFFER:
            break
    else:
        return
    with _one_at_a_time:
        pending = pending_of(tensors)
        if pending:
            realize_pending(pending)


@dataclass
class Realized:
    """What one realize ran: the target nodes, the cached schedule, the graph's input nodes
    in the schedule's slot order, and the argument passed for each of its PARAM nodes."""

    nodes: list[Node]
    entry: CachedSchedule
    inputs: list[Node]
    values: dict[Node, Any]


def realize_pending(pending: list[Tensor], recording: bool = False) -> Realized:
    """Realize tensors that `pending_of` returned (each needs computing), together with the
    live tensors whose pending work overlaps theirs (see `_also_realized`). A `lg.jit`
    recording realizes only `pending` and reads only leaf values (see `LeafValues`)."""
    by_device: dict[str, list[Tensor]] = {}
    for t in pending:
        by_device.setdefault(str(t.device), []).append(t)
    if len(by_device) > 1 and not recording:  # a node may be wanted on two devices
        done = [realize_pending(group, recording) for group in by_device.values()]
        return done[-1]
    if not recording:
        pending = pending + _also_realized(pending)
        pending = pending + _must_run(pending)
    nodes, devices = _targets(pending)
    stored = LeafValues() if recording else stored_for(devices)
    entry, inputs, params = _cached_schedule(nodes, devices, stored)
    for listener in schedule_listeners:
        listener(entry.schedule, pending)
    bindings = {
        slot: buffer_of(new, stored) for slot, new in zip(entry.inputs, inputs, strict=True)
    }
    values = {old: new.arg for old, new in zip(entry.params, params, strict=True)}
    results = entry.run(bindings, values)
    for node, value in zip(nodes, results, strict=True):
        realized_values[node] = value
        settle(node)
    shared = {node for node, many in zip(nodes, entry.shared, strict=True) if many}
    value_of = dict(zip(nodes, results, strict=True))
    for t in pending:
        point_at(t, value_of[t._node], shared=t._node in shared)
    return Realized(nodes, entry, inputs, values)


def point_at(t: Tensor, value: Node, shared: bool) -> None:
    """Let `t` stand for its value's BUFFER node, cutting the history (only autograd of a
    non-leaf could need it). A leaf that requires grad and whose buffer may be another
    tensor's too (`x.detach().requires_grad_()`) keeps a node of its own around the buffer,
    since autograd tells leaves apart by node; lowering drops that CONTIGUOUS for free."""
    if t.grad_fn is not None:
        return
    if not (shared and t.requires_grad):
        t._replace_node(value)
        return
    node = t._node
    if is_leaf_token(node) and node.src[0] is value:
        return  # settled by an earlier realize
    own = make(Op.CONTIGUOUS, (value,), _LeafToken())
    realized_values[own] = value
    settle(own)
    t._replace_node(own)


# An in-place update (or a gradient accumulated into `.grad`) that leaves a tensor with a
# pending graph deeper than this realizes every live tensor: a loop that never reads a
# value still runs in bounded memory and time per step.
UPDATE_DEPTH_LIMIT = int(os.environ.get("LAZYGRAD_UPDATE_DEPTH", "4096"))


def updated(*tensors: Tensor) -> None:
    """Called after an in-place update of `tensors`: flush when one's history is too deep."""
    for t in tensors:
        if (
            t._node.depth > UPDATE_DEPTH_LIMIT
            and refresh_depth(t._node, realized_values) > UPDATE_DEPTH_LIMIT
        ):
            if debug_level():
                print(
                    f"[lazygrad] an update left a graph {t._node.depth} ops deep (limit "
                    f"{UPDATE_DEPTH_LIMIT}, LAZYGRAD_UPDATE_DEPTH): realizing every live "
                    "tensor",
                    file=sys.stderr,
                )
            flush()
            return


def flush() -> None:
    """Realize every live tensor that has pending work, as one schedule."""
    realize(*[t for t in live.tensors() if t._node.op is not Op.BUFFER])


def run_schedule(
    sched: Schedule, bindings: dict[Node, Any] | None = None, values: dict[Node, Any] | None = None
) -> dict[Node, Buffer]:
    """Run every kernel; returns the buffer of each kernel output. `bindings` maps the
    schedule's input buffer nodes to the buffers to use instead, `values` its PARAM and RAND
    nodes to the arguments to pass."""
    level = debug_level()
    bindings = bindings or {}
    values = values or {}
    if sched.program is None:  # its first run (or every run while debugging)
        _prepare(sched)
    program = None if level else _program_of(sched)
    if program is not None:
        produced = program.run(bindings, values)
        if produced is not None:
            return produced
    produced = {}
    if level:
        count = len(sched.kernels)
        print(
            f"[lazygrad] schedule of {count} kernel{'' if count == 1 else 's'} (cache hits "
            f"{cache_stats['hits']}, misses {cache_stats['misses']})",
            file=sys.stderr,
        )
    for kernel, dead in zip(sched.kernels, sched.releases, strict=True):
        builds = _builds(kernel.device) if level else None
        start = time.perf_counter()
        inputs = [bindings.get(n) or _input_buffer(n, produced) for n in kernel.input_nodes]
        params = [values.get(p, p.arg) for p in kernel.param_nodes]
        outputs = backend_for(kernel.device).run(kernel, inputs, params)
        for node, buf in zip(kernel.output_nodes, outputs, strict=True):
            produced[node] = buf
        del inputs, outputs
        for node in dead:  # the last kernel to need it: its memory returns to the pool
            del produced[node]
        if level:
            seconds = time.perf_counter() - start
            _log_kernel(kernel, seconds, level, _builds(kernel.device) != builds)
    return produced


def _prepare(sched: Schedule) -> None:
    """Let each backend make ready what the schedule's kernels need (see `Backend.prepare`)."""
    by_device: dict[str, list[Kernel]] = {}
    for kernel in sched.kernels:
        by_device.setdefault(kernel.device, []).append(kernel)
    for device, kernels in by_device.items():
        builds = _builds(device)
        start = time.perf_counter()
        backend_for(device).prepare(kernels)
        if debug_level() and _builds(device) != builds:
            print(
                f"[lazygrad] built the programs of {len(kernels)} kernels on {device} "
                f"together: {(time.perf_counter() - start) * 1e3:.3f} ms",
                file=sys.stderr,
            )


_NOT_YET = "not yet"


def _program_of(sched: Schedule) -> Any:
    """The schedule as one NumPy program, built when a schedule runs a second time (a
    cached one repeating; a one-off schedule runs kernel by kernel), or None."""
    if sched.program is None:
        sched.program = _NOT_YET
        return None
    if sched.program is _NOT_YET:
        fits = len(sched.kernels) > 1 and cpu.Program.fits(sched)
        sched.program = cpu.Program(sched) if fits else False
    return sched.program or None


def _input_buffer(node: Node, produced: dict[Node, Buffer]) -> Buffer:
    if node.op is Op.BUFFER:
        return node.arg  # type: ignore[return-value]
    return produced[node]


def _builds(device: str) -> tuple[int, int] | None:
    """OpenCL programs compiled and loaded from the disk cache so far on `device`."""
    if not device.startswith("opencl"):
        return None
    from ..runtime import opencl, opencl_device

    stats = opencl_device.get_device(opencl.device_index(device)).build_stats()
    return stats["compiles"], stats["disk_loads"]


def _log_kernel(kernel: Kernel, seconds: float, level: int, built: bool = False) -> None:
    """One line per kernel run (`built`: its time includes building its OpenCL program)."""
    ops = len(kernel.ops)
    reasons = ", ".join(r if n == 1 else f"{r} (x{n})" for r, n in Counter(kernel.reasons).items())
    print(
        f"[lazygrad] {kernel.name} on {kernel.device}: {ops} op{'' if ops == 1 else 's'} "
        f"({', '.join(kernel.ops)}); boundary: {reasons}; {seconds * 1e3:.3f} ms"
        f"{' (includes compiling)' if built else ''}",
        file=sys.stderr,
    )
    if level >= 2:
        print(kernel_source(kernel), file=sys.stderr)


def to_host(t: Tensor) -> np.ndarray:
    """Realize `t` and return a host copy of its values."""
    if recording.active is not None:
        recording.active.stop_replay("a value was read on the host (item, numpy, print, ...)")
    realize(t)
    node = t._node if t._node.op is Op.BUFFER else realized_values[t._node]
    buf: Buffer = node.arg  # type: ignore[assignment]
    return backend_for(buf.device).to_host(buf).reshape(node.shape).copy()
