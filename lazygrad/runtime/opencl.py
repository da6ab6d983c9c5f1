"""The OpenCL backend: what `lazygrad.engine.realize` calls for kernels on `opencl:N` devices.

`render(kernel)` gives a kernel's OpenCL C source; `run(kernel, inputs)` runs it and returns
the output buffers; `to_host(buf)` copies a buffer back. Programs are cached by the kernel's
*structure* — ops, wiring, shapes, dtypes and views, with input buffers as numbered slots and
floating-point constants as kernel arguments — so a training loop that makes new buffers and
new learning rates every step renders and builds each kernel once (the MAX_PROGRAMS used last
stay rendered). Built binaries are cached by the runtime (in memory and on disk, keyed by
source, each cache bounded), and function names depend only on the structure, so a second
process finds them on disk.

Transfers are host round trips: copies to OpenCL upload (once per buffer; the host array is
kept), copies out download; random numbers are drawn on the host exactly as on the CPU.
Every kernel kind's template is in `renderer.opencl_kernels`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from .. import lru
from ..buffer import Buffer, on_download
from ..codegen.bounds import checks_indices
from ..codegen.target import Target
from ..debug import log
from ..dtypes import DType, bool_, float64, numpy_scalar
from ..ir.cache_key import kernel_key
from ..ir.node import Node
from ..ir.ops import Op
from ..ir.schedule import Kernel
from ..renderer.opencl import joined_source, storage_itemsize
from ..renderer.opencl_kernels import (
    DotKernel,
    OpenCLProgram,
    ReduceKernel,
    ScatterKernel,
    written_over,
)
from . import collective, cpu, host, opencl_device
from .compiled import CompiledForms

try:
    import pyopencl as cl
except Exception:  # pragma: no cover - the runtime reports a missing pyopencl clearly
    cl = None

MAX_PROGRAMS = 1024  # rendered programs kept (the least recently used go first)
# "-w": generated code may compare a value with itself (NaN tests); never -cl-fast-relaxed-math
BUILD_OPTIONS = ("-w",)
EXACT_DIVIDE_SQRT = "-cl-fp32-correctly-rounded-divide-sqrt"  # float32 `/` and sqrt as NumPy's
_programs: dict[tuple, OpenCLProgram] = {}
HOST_KINDS = ("copy", "collective", "rand")  # kernels that run on the host, no program
_targets: dict[int, Target] = {}


def device_index(device: str) -> int:
    """The OpenCL device index of a device string such as 'opencl:1' ('opencl' is 0)."""
    _, _, index = device.partition(":")
    return int(index) if index else 0


def target(index: int) -> Target:
    """What the code generator needs to know about OpenCL device `index`."""
    if index not in _targets:
        dev = opencl_device.get_device(index)
        multiple = dev.preferred_work_group_multiple if dev.is_gpu else 1
        align = int(dev.cl_device.mem_base_addr_align) // 8
        _targets[index] = Target(
            dev.name,
            dev.has_fp64,
            dev.is_gpu,
            dev.compute_units,
            dev.max_work_group_size,
            multiple,
            align,
        )
    return _targets[index]


@functools.cache  # per device (devices live as long as the process): not on every launch
def build_options(dev: opencl_device.CLDevice) -> tuple[str, ...]:
    """The compiler options for `dev`: float32 division and sqrt correctly rounded where the
    device can do so, as the NumPy backend's are."""
    return BUILD_OPTIONS + (EXACT_DIVIDE_SQRT,) if dev.rounds_divide_sqrt_exactly else BUILD_OPTIONS


# ---- the program cache ---------------------------------------------------------------------
def structure(kernel: Kernel) -> tuple[tuple, dict[Node, int]]:
    """(key, constant slots): equal keys render to the same program (`ir.cache_key.kernel_key`
    with float constants as arguments, plus the outputs written over inputs, which change the
    signature)."""
    key, slots = kernel_key(kernel, _is_argument)
    return (key, tuple(written_over(kernel).items())), slots


def _is_argument(node: Node) -> bool:
    """Float constants and every PARAM (except bools, whose value the schedule cache keys
    exactly) are passed as kernel arguments, so new values never need a new program."""
    if node.op is Op.PARAM:
        return node.dtype != bool_
    return node.op is Op.CONST and node.dtype.is_floating_point


def check_dtypes(kernel: Kernel, index: int) -> None:
    """float64 needs cl_khr_fp64: raise a clear error naming the device otherwise."""
    tgt = target(index)
    if tgt.has_fp64:
        return
    if any(n.dtype == float64 for n in [*kernel.nodes, *kernel.input_nodes]):
        raise RuntimeError(
            f"float64 is not supported on OpenCL device opencl:{index} "
            f"({tgt.name!r}): it does not report cl_khr_fp64. Use float32, or "
            "another device."
        )


def build_program(kernel: Kernel, slots: dict[Node, int], tgt: Target) -> OpenCLProgram:
    """Render `kernel` with the template for its kind."""
    if kernel.kind == "dot":
        return DotKernel(kernel, slots, tgt).program()
    if kernel.kind == "scatter":
        return ScatterKernel(kernel, slots, tgt).program()
    return ReduceKernel(kernel, slots, tgt).program()


def program_for(
    kernel: Kernel, values: dict[Node, object] | None = None
) -> tuple[OpenCLProgram, list[object]]:
    """The (cached) program for `kernel` and the values of its scalar arguments (`values`
    overrides the values PARAM nodes were recorded with)."""
    values = values or {}
    plan = _plan(kernel)
    key, slots = plan.key, plan.slots
    program = lru.get(_programs, key)
    if program is None:  # never rendered, or dropped (a kernel's plan keeps only the key)
        index = device_index(kernel.device)
        check_dtypes(kernel, index)
        program = build_program(kernel, slots, target(index))
        cpu.remember(_programs, key, program, MAX_PROGRAMS, "OpenCL rendered program")
    return program, [values.get(n, n.arg) for n in plan.arguments]


class _LaunchPlan(NamedTuple):
    """What running a kernel needs that depends on the kernel alone: its program's key and
    constant slots, the constants in argument order, the outputs written over inputs, and
    whether it takes the error flag."""

    key: tuple
    slots: dict[Node, int]
    arguments: list[Node]
    written_over: dict[int, int]
    checked: bool


_plans = CompiledForms()


def _plan(kernel: Kernel) -> _LaunchPlan:
    """The kernel's plan, worked out once per kernel (a cached schedule runs its kernels
    again and again)."""
    plan = _plans.get(kernel)
    if plan is None:
        key, slots = structure(kernel)
        arguments = sorted(slots, key=slots.__getitem__)
        plan = _LaunchPlan(key, slots, arguments, written_over(kernel), checks_indices(kernel))
        _plans.keep(kernel, plan)
    return plan  # type: ignore[no-any-return]


def render(kernel: Kernel) -> str:
    """The OpenCL C source of `kernel` (transfers and random numbers run on the host)."""
    if kernel.kind == "copy":
        return f"// {kernel.name}: a host round trip to {kernel.device}, no kernel source"
    if kernel.kind == "collective":
        return f"// {kernel.name}: {collective.describe(kernel.output_nodes[0])}"
    if kernel.kind == "rand":
        return f"// {kernel.name}: generated on the host (Philox, as on cpu) and uploaded"
    return program_for(kernel)[0].source


def prepare(kernels: Sequence[Kernel]) -> None:
    """Build the programs of `kernels` that are not built yet as one OpenCL program per
    device: a build's cost is mostly fixed (PoCL: 8 small kernels take ~1.5 s one by one,
    ~0.5 s as one program), so a schedule's first run compiles once rather than once per
    kernel. Kernels `run` launches nothing for (host work, empty outputs) are left out."""
    pending: dict[int, dict[str, OpenCLProgram]] = {}
    for kernel in kernels:
        if kernel.kind in HOST_KINDS or all(n.numel == 0 for n in kernel.output_nodes):
            continue
        program = program_for(kernel)[0]
        index = device_index(kernel.device)
        dev = opencl_device.get_device(index)
        if not dev.is_built(program.source, build_options(dev)):
            pending.setdefault(index, {})[program.source] = program
    for index, programs in pending.items():
        if len(programs) > 1:
            dev = opencl_device.get_device(index)
            renames = joined_renames(list(programs.values()))
            joined = joined_source([(p.parts, renames[p.source]) for p in programs.values()])
            sources = [(source, _suffix(renames[source])) for source in programs]
            dev.build_joined(sources, joined, build_options(dev))


def joined_renames(programs: list[OpenCLProgram]) -> dict[str, dict[str, str]]:
    """Per program source, the functions a joined source of `programs` renames and their new
    names: a program whose function names an earlier program uses too gets them all
    suffixed with `_j` and its position; the others keep theirs."""
    seen: set[str] = set()
    renames = {}
    for i, p in enumerate(programs):
        names = {launch.name for launch in p.launches}
        clash = bool(names & seen)
        renames[p.source] = {name: f"{name}_j{i}" for name in sorted(names)} if clash else {}
        seen |= names
    return renames


def _suffix(renames: dict[str, str]) -> str:
    """The suffix `joined_renames` gave a program's functions ('' when none)."""
    return next((new[len(old) :] for old, new in renames.items()), "")


# ---- running ------------------------------------------------------------------------------
def _stored(host: np.ndarray, d: DType) -> np.ndarray:
    """A flat host array of dtype `d` as device memory holds it (narrow floats as float32)."""
    flat = np.ascontiguousarray(host).reshape(-1)
    return flat.astype(np.float32) if d.is_narrow_float else flat


def _upload(array: np.ndarray, device: str, node: Node) -> Buffer:
    dev = opencl_device.get_device(device_index(device))
    flat = np.ascontiguousarray(array, dtype=node.dtype.np).reshape(-1)
    stored = _stored(flat, node.dtype)
    mem = dev.alloc(stored.nbytes)
    dev.copyin(mem, stored)
    return Buffer(device, node.dtype, node.numel, host=flat, dev=mem)


def device_buffer(buf: Buffer, device: str) -> opencl_device.DeviceAllocation:
    """The device allocation of `buf`, uploading host data on first use."""
    if buf.dev is None:
        if buf.host is None:
            raise RuntimeError(f"{buf!r} has neither host data nor a device allocation")
        dev = opencl_device.get_device(device_index(device))
        stored = _stored(buf.host, buf.dtype)
        mem = dev.alloc(stored.nbytes)
        dev.copyin(mem, stored)
        buf.dev = mem
    return buf.dev


def _transfer(kernel: Kernel, inputs: list[Buffer]) -> list[Buffer]:
    """A copy onto this device, or a collective (which runs on host arrays: the operand
    goes down and the result comes back up)."""
    out = kernel.output_nodes[0]
    array = host.operand_on_host(kernel, inputs[0])
    if kernel.kind == "collective":
        log(f"{kernel.name}: {out.arg[0]} through host memory")  # type: ignore[index]
        array = collective.run(out, array)
    return [_upload(array, kernel.device, out)]


def _random(kernel: Kernel, values: dict[Node, object]) -> list[Buffer]:
    node = kernel.output_nodes[0]
    kind, seed, counter, *extra = values.get(node, node.arg)  # type: ignore[misc]
    values = host.rand(kind, seed, counter, tuple(extra), node.shape, node.dtype.np)
    return [_upload(values, kernel.device, node)]


def _scalar(value: object, dtype: DType) -> np.generic:
    """A constant argument as the NumPy scalar pyopencl passes by value (a narrow float's
    value rounded to its precision, passed as the float the kernel computes in; integers
    wrapped into narrow types)."""
    if dtype.is_narrow_float:
        return np.float32(dtype.np.type(value))
    return numpy_scalar(value, dtype)


def run(kernel: Kernel, inputs: list[Buffer], params: list | tuple = ()) -> list[Buffer]:
    """Run `kernel` on its OpenCL device with its scalar arguments (`params`, one per
    `kernel.param_nodes`); returns one new buffer per output."""
    values = dict(zip(kernel.param_nodes, params, strict=True))
    if kernel.kind in ("copy", "collective"):
        return _transfer(kernel, inputs)
    if kernel.kind == "rand":
        return _random(kernel, values)
    program, consts = program_for(kernel, values)
    dev = opencl_device.get_device(device_index(kernel.device))
    plan = _plan(kernel)
    shared = plan.written_over
    outs = [
        inputs[shared[i]].dev if i in shared else dev.alloc(n.numel * storage_itemsize(n.dtype))
        for i, n in enumerate(kernel.output_nodes)
    ]
    result = [
        Buffer(kernel.device, n.dtype, n.numel, dev=m)
        for n, m in zip(kernel.output_nodes, outs, strict=True)
    ]
    if all(n.numel == 0 for n in kernel.output_nodes):
        return result
    temps = [dev.alloc(max(count, 1) * storage_itemsize(d)) for d, count in program.temps]
    args = [m.cl_buffer for m in outs]
    args += [device_buffer(b, kernel.device).cl_buffer for b in inputs]
    args += [m.cl_buffer for m in temps]
    args += [dev.error_flag] if plan.checked else []
    args += [_scalar(v, d) for v, d in zip(consts, program.const_dtypes, strict=True)]
    options = build_options(dev)
    try:
        for launch in program.launches:
            knl = dev.kernel(program.source, launch.name, options)
            knl.set_args(*args)
            cl.enqueue_nd_range_kernel(dev.queue, knl, launch.global_size, launch.local_size)
    finally:
        for m in temps:  # the in-order queue finishes these launches before any reuse
            m.free()
        if plan.checked:  # after the launches: a check that misses them leaves this set
            _flag_pending.add(dev.index)
    return result


# ---- errors found on the device -------------------------------------------------------------
# Devices that ran a kernel taking the error flag since the flag was last read. The flag is
# read at the next download from the device (which waits for the kernels anyway), not after
# each kernel: like CUDA's device-side asserts, an error shows at the next read of a result.
_flag_pending: set[int] = set()


def check_index_errors(dev: opencl_device.CLDevice) -> None:
    """Raise IndexError if a gather or scatter run on `dev` since the last check met a
    position outside its tensor (reading the flag only when such a kernel ran)."""
    if dev.index not in _flag_pending:
        return
    _flag_pending.discard(dev.index)
    if dev.take_error_flag():
        raise IndexError(
            f"{cpu.INDEX_OUT_OF_BOUNDS} (a kernel on opencl:{dev.index} found it; "
            "like a device-side assert, it shows at the next read from the device, and the "
            "kernel read 0 for that index and skipped writes to it)"
        )


def to_host(buf: Buffer) -> np.ndarray:
    """The flat host array of an OpenCL buffer (downloaded once, then kept). Raises the
    IndexError of an index out of bounds that kernels reported (see `check_index_errors`)."""
    if buf.host is None:
        dev = opencl_device.get_device(device_index(buf.device))
        check_index_errors(dev)
        narrow = buf.dtype.is_narrow_float
        out = np.empty(buf.numel, dtype=np.float32 if narrow else buf.dtype.np)
        dev.copyout(buf.dev, out)
        buf.host = out.astype(buf.dtype.np) if narrow else out
    return buf.host


on_download("opencl", to_host)
