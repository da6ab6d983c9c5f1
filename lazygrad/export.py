"""`lg.export(fn, *example_args, path=...)`: a function's compiled tensor program as a
standalone Python module that needs only NumPy (or NumPy and pyopencl, for OpenCL).

Exporting runs `fn` once, lazily, on fresh copies of the example tensors (so the caller's
tensors are left as they were) while `lazygrad.recording` notes which arguments `fn`
updates in place. The tensors it returns and the arguments it updated are then scheduled
together, as one realize would, and the schedule is written out with one public function
that checks its arguments and runs the kernels in order, handing each kernel's outputs to
the kernels that read them:

- for cpu, the NumPy source of each kernel (as `renderer.numpy` renders it) and the runtime
  helpers that source calls, with the buffer plan of `runtime.cpu.Program` (`del` where that
  program returns an array to its pool);
- for OpenCL, the C of every kernel's program (`runtime.opencl.program_for`), joined into one
  source file written beside the module, and pyopencl host code launching them with the
  buffer plan and arguments of `runtime.opencl.run` (outputs, inputs, scratch buffers, the
  index-error flag, then scalar constants; outputs written over dying inputs; float16 held
  as float32 on the device). Copies between devices run through the host, and random
  numbers are drawn on the host and uploaded, as lazygrad runs them.

Random draws call lazygrad's own generator (`runtime.host.rand`, its source written into the
module), so they are lazygrad's values bit for bit, on both devices.

The public function takes the tensor arguments as arrays, the Python scalar arguments as
keywords (defaults: the example call's values) and the key of each random draw N as the
keywords seed_N and counter_N, and returns, in this order, the tensors `fn` returned, then
the arguments it updated in place that it did not return. A key left None continues
lazygrad's random stream: the first call draws the keys the example call draws, and each
later one the keys lazygrad's next call would (new numbers every call); a key given pins
its draw.

A float argument becomes a real parameter of the program when the traced program does not
depend on its value (it reaches the kernels only as a scalar argument); any other scalar
(an int, a bool, or a float the program is specialized on) is fixed to its example value,
and passing another value raises ValueError.

`ScriptExport` does the same for the schedules a script realizes (`lazygrad export`): one
function per schedule, taking the schedule's input buffers as arrays.
"""

from __future__ import annotations

import base64
import functools
import inspect
import io
import keyword
import math
import textwrap
import tokenize
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from . import recording
from .buffer import Buffer
from .device import device as parse_device
from .dtypes import DType, bfloat16, float16, uint8
from .engine.realize import LeafValues, stored_for
from .frontend import creation
from .frontend.creation import tensor
from .ir.cache_key import structural_key
from .ir.node import Node, make
from .ir.ops import Op
from .ir.schedule import Kernel, Schedule, build_schedule
from .runtime import cpu, host
from .tensor import Tensor

# Values a float argument takes while probing whether the program depends on it: odd
# enough that no constant of a program equals one by chance, and none a value that
# simplification specializes on (see `ir.node.SPECIAL_VALUES`).
_PROBES = (0.3183098861837907, 0.2718281828459045)
LINE_LENGTH = 92  # the program's lines (in its function) that are longer are wrapped
OPENCL_KEYWORDS = ("context", "queue")  # what an OpenCL program's function takes besides
# the module docstring's note on random draws, where a function draws random numbers
_DRAWS = [
    "Random numbers are drawn by lazygrad's own generator (_rand below: Philox keyed by a seed",
    "and a counter), so they are lazygrad's values; the keywords seed_N and counter_N are the",
    "key of draw N. Left None, they continue lazygrad's stream: a function's first call draws",
    "the keys traced, each later call the keys lazygrad's next run would (new numbers every",
    "call). A key given pins its draw.",
]


class UnsupportedError(NotImplementedError):
    """A program holds something the exporter cannot write (collectives, bfloat16, a kernel
    on another device than the one exported for)."""


# why a program holding bfloat16 (an argument, a value it computes or returns) is refused
_NO_BFLOAT16 = "bfloat16 is not exported: NumPy has no bfloat16 of its own"


# ---- the helpers the generated kernels call, as plain functions -----------------------------
_HELPER_SOURCES = {
    "_take": '''
def _take(shape, dtype):
    """An array for a kernel to write: in a free block of memory where there is one (a fresh
    large array costs page faults on first touch, as lazygrad's pool knows), else in a new
    block. Every array reading the block (the one returned, and the views of it) refers to
    one _Lease, which gives the block back when the last of them is gone: a view of a
    dropped result keeps its memory, on any interpreter. Safe to call from several threads
    (a block is taken off its free list before use)."""
    dtype = np.dtype(dtype)
    nbytes = dtype.itemsize
    for n in shape:
        nbytes *= n
    size = 1 << (max(nbytes, 256) - 1).bit_length()
    free = _FREE.setdefault(size, [])
    try:
        block, address = free.pop()
    except IndexError:
        block = np.empty(size, np.uint8)
        address = block.ctypes.data
    lease = _Lease(block, address, shape, dtype)
    weakref.finalize(lease, _give_back, free, (block, address))
    return np.asarray(lease)


class _Lease:
    """A block of memory (at `address`) seen as an array of `shape` and `dtype`, through
    NumPy's array interface: that array's base, which every view of it refers to in turn."""

    def __init__(self, block, address, shape, dtype):
        self.block = block
        self.__array_interface__ = {
            "shape": shape,
            "typestr": dtype.str,
            "data": (address, False),  # (not read-only)
            "version": 3,
        }


def _give_back(free, item):
    """Put a block (and its address) that no array reads any more back on its free list,
    unless that holds 8 already."""
    if len(free) < 8:
        free.append(item)


_FREE = {}  # size class -> the blocks of memory no array reads (and their addresses)
''',
    "_release": '''
def _release(arrays):
    """Scratch arrays a kernel is done with (lazygrad returns them to its pool)."""
    arrays.clear()
''',
    "_own": '''
def _own(value, shape, dtype):
    """A new array holding `value` broadcast to `shape`."""
    out = np.empty(shape, dtype)
    np.copyto(out, np.broadcast_to(np.asarray(value, dtype=dtype), shape))
    return out
''',
    "_view": '''
def _view(flat, shape, strides, offset, mask):
    """Read a flat array through a strided view (positions outside `mask` read 0)."""
    if mask is not None:
        out = np.zeros(shape, flat.dtype)
        if all(hi > lo for lo, hi in mask):
            start = offset + sum(lo * s for (lo, _), s in zip(mask, strides, strict=True))
            inner = tuple(hi - lo for lo, hi in mask)
            window = tuple(slice(lo, hi) for lo, hi in mask)
            out[window] = _view(flat, inner, strides, start, None)
        return out
    if shape == ():
        return np.broadcast_to(flat[offset : offset + 1].reshape(()), ())
    if 0 in shape:
        return np.zeros(shape, flat.dtype)
    byte_strides = tuple(s * flat.itemsize for s in strides)
    return np.lib.stride_tricks.as_strided(flat[offset:], shape, byte_strides, writeable=False)
''',
    "_arange": '''
def _arange(start, step, count, dtype):
    """start + i * step for i < count, computed in the target dtype."""
    if np.dtype(dtype).kind == "f":
        return (np.arange(count, dtype=np.float64) * step + start).astype(dtype)
    return np.arange(start, start + count * step, step, dtype=dtype)[:count]
''',
    "_select": '''
def _select(cond, x, y, out):
    """where(cond, x, y) written into `out` (which may be x's or y's array)."""
    np.copyto(out, np.where(cond, x, y))
    return out
''',
    "_max_by_columns": '''
def _max_by_columns(x, out):
    """The max over the last axis of `x` into `out` (that axis kept as 1)."""
    np.copyto(out, np.max(x, axis=-1, keepdims=True))
    return out
''',
    "inf": "\ninf = np.inf\n",
    "nan": "\nnan = np.nan\n",
}


def _runtime_source(fn: Callable) -> str:
    """The source of a runtime function that needs nothing but NumPy, written out as it is
    under the name the kernels call it by (`_` and its name), with the runtime's index
    error message spelled out."""
    name = fn.__name__
    return "\n" + _spelled(inspect.getsource(fn).replace(f"def {name}(", f"def _{name}(", 1))


def _spelled(source: str) -> str:
    """`source` with the runtime's index error message in place of its name."""
    return source.replace("INDEX_OUT_OF_BOUNDS", repr(cpu.INDEX_OUT_OF_BOUNDS))


# the runtime's own integer power, gathers, scatters and random numbers (its draws)
_RUNTIME_HELPERS = (cpu.int_power, cpu.gather, cpu.scatter, host.rand)
_HELPER_SOURCES.update({f"_{fn.__name__}": _runtime_source(fn) for fn in _RUNTIME_HELPERS})

# the checks of the public function's arguments and the keys of its draws, for both kinds
# of module
_ENTRY_HELPERS = {
    "_check": '''
def _check(name, value, shape, dtype):
    """`value` as a flat array, after checking its shape and dtype."""
    array = np.asarray(value)
    if array.shape != shape or array.dtype != np.dtype(dtype):
        raise ValueError(
            f"{name}: expected an array of shape {shape} and dtype {dtype}, "
            f"got shape {array.shape} and dtype {array.dtype}"
        )
    return np.ascontiguousarray(array).reshape(-1)
''',
    "_fixed": '''
def _fixed(name, value, expected):
    """Check a scalar argument the program was specialized on."""
    if value != expected:
        raise ValueError(
            f"{name}: this program was exported for {name}={expected!r} (it was specialized "
            f"on that value), got {value!r}"
        )
''',
    "_Stream": '''
class _Stream:
    """The keys of one function's random draws: `traced`, each draw's key (seed, counter) as
    traced, and `step`, how far one run of the program moves lazygrad's random counter."""

    def __init__(self, step, *traced):
        self.step = step
        self.traced = traced
        self.calls = itertools.count()  # the calls so far that left a counter None

    def keys(self, *given):
        """Each draw's key, from the keywords seed_0, counter_0, seed_1...: a value given as
        is; a seed left None the one traced; a counter left None the one traced moved on by
        `step` per earlier call that left a counter None (as lazygrad's counter moves on)."""
        pairs = list(zip(given[::2], given[1::2], strict=True))
        moved = self.step * next(self.calls) if any(c is None for _, c in pairs) else 0
        return [
            (int(seed if s is None else s), int(counter + moved if c is None else c))
            for (seed, counter), (s, c) in zip(self.traced, pairs, strict=True)
        ]
''',
}

# the host side of an OpenCL program (`runtime.opencl.run` and `opencl_device`, in pyopencl)
_OPENCL_HELPERS = {
    "_first_device": '''
def _first_device():
    """The first OpenCL device of the first platform that has one (lazygrad's opencl:0)."""
    for platform in cl.get_platforms():
        try:
            return platform.get_devices()[0]
        except cl.Error:  # a platform without devices
            continue
    raise RuntimeError("no OpenCL device found")
''',
    "_queue": '''
def _queue(context, queue):
    """The queue to run on: `queue`, else one on `context`, else one on the first OpenCL
    device (made on first use, then reused)."""
    if queue is None:
        if context not in _QUEUES:
            made = cl.Context([_first_device()]) if context is None else context
            _QUEUES[context] = cl.CommandQueue(made)
        queue = _QUEUES[context]
    return queue
''',
    "_kernels": '''
def _kernels(context):
    """The functions of the program in SOURCE, by name (built once per context)."""
    if context not in _KERNELS:
        program = cl.Program(context, SOURCE.read_text()).build(options=BUILD_OPTIONS)
        _KERNELS[context] = {k.function_name: k for k in program.all_kernels()}
    return _KERNELS[context]
''',
    "_empty": '''
def _empty(context, nbytes):
    """A new device buffer of `nbytes` bytes (at least one: OpenCL has no empty buffers)."""
    return cl.Buffer(context, cl.mem_flags.READ_WRITE, max(nbytes, 1))
''',
    "_upload": '''
def _upload(context, values, dtype):
    """A new device buffer holding `values` as `dtype` (float16 held as float32)."""
    flat = np.ascontiguousarray(values, np.float32 if dtype == "float16" else dtype).reshape(-1)
    if flat.size == 0:
        return _empty(context, 0)
    return cl.Buffer(context, cl.mem_flags.READ_WRITE | cl.mem_flags.COPY_HOST_PTR, hostbuf=flat)
''',
    "_download": '''
def _download(queue, buffer, shape, dtype):
    """A device buffer's values as a new array of `shape` and `dtype` (waits for the kernels
    that write it)."""
    out = np.empty(shape, np.float32 if dtype == "float16" else dtype)
    if out.size:
        cl.enqueue_copy(queue, out, buffer)
    return out.astype(dtype, copy=False)
''',
    "_run": '''
def _run(queue, kernels, name, *args):
    """Launch kernel `name` of LAUNCHES: each of its functions in order, with `args`."""
    for function, global_size, local_size in LAUNCHES[name]:
        kernels[function].set_args(*args)
        cl.enqueue_nd_range_kernel(queue, kernels[function], global_size, local_size)
''',
    "_new_flag": '''
def _new_flag(context):
    """A device int, 0 until a kernel finds an index outside the dimension it indexes."""
    flags = cl.mem_flags.READ_WRITE | cl.mem_flags.COPY_HOST_PTR
    return cl.Buffer(context, flags, hostbuf=np.zeros(1, np.int32))
''',
    "_check_flag": _spelled(
        '''
def _check_flag(queue, flag):
    """Raise IndexError if a kernel set `flag` (lazygrad raises it at the next read)."""
    found = np.zeros(1, np.int32)
    cl.enqueue_copy(queue, found, flag)
    if found[0]:
        raise IndexError(INDEX_OUT_OF_BOUNDS)
'''
    ),
}


# ---- tracing ----------------------------------------------------------------------------------
@dataclass
class _Trace:
    """One run of `fn` under recording, scheduled: the schedule, which argument each input
    buffer belongs to, the outputs (label, requested node) in order, and the structural
    key and PARAM nodes (to compare traces with different scalar values)."""

    schedule: Schedule
    arg_of_buffer: dict[int, int]
    outputs: list[tuple[str, Node]]
    key: tuple
    params: list[Node]
    single: bool  # whether the program returns one array (not a tuple)
    keep: list[Any] = field(default_factory=list)  # keeps buffers (and their ids) alive
    # how far one run moves lazygrad's random counter (None: by its number of draws)
    step: int | None = None


def _fresh(value: Any, device: str) -> Any:
    """A new tensor on `device` with the values of a tensor (or array) argument; other
    values as is."""
    if isinstance(value, np.ndarray):
        return tensor(value, device=device)
    if not isinstance(value, Tensor):
        return value
    host = value.detach().numpy()
    return tensor(host, device=device, requires_grad=value.requires_grad)


def _flat_result(result: Any) -> list[Tensor]:
    """The tensors `fn` returned: one tensor, or a tuple or list of them."""
    items = list(result) if isinstance(result, tuple | list) else [result]
    for item in items:
        if not isinstance(item, Tensor):
            raise TypeError(
                "export: the function must return a tensor or a tuple or list of tensors, "
                f"got a {type(item).__name__}"
            )
    return items


def _trace(fn: Callable, args: list[Any], names: list[str], device: str) -> _Trace:
    """Run `fn` lazily on fresh copies of `args` and schedule what it returns and updates.
    Its random draws take the keys a call now would draw: lazygrad's random state is left
    as it was (so every trace of `fn` draws the same keys)."""
    copies = [_fresh(a, device) for a in args]
    tensors = {i: t for i, t in enumerate(copies) if isinstance(t, Tensor)}
    starts = {id(t._node.arg): i for i, t in tensors.items()}  # fresh tensors: BUFFER nodes
    keep = [t._node.arg for t in tensors.values()]
    state = _random_state()
    rec = recording.Recording()
    recording.active = rec
    try:
        result = fn(*copies)
    finally:
        recording.active = None
        step = _moved(state)
        _set_random_state(*state)
    if rec.broken is not None:
        raise ValueError(f"export: cannot export {_function_name(fn)}: {rec.broken}")
    returned = _flat_result(result)
    copy_ids = {id(t): i for i, t in tensors.items()}
    for t, *_ in rec.changed.values():
        if id(t) not in copy_ids and id(t) not in rec.created:
            raise ValueError(
                f"export: {_function_name(fn)} updates a tensor that is not one of its arguments; "
                "pass it as an argument to export the update"
            )
    outputs = [(f"returned value {i}", t) for i, t in enumerate(returned)]
    returned_ids = {id(t) for t in returned}
    for t, *_ in rec.changed.values():
        i = copy_ids.get(id(t))
        if i is not None and id(t) not in returned_ids:
            outputs.append((f"argument {names[i]}, updated in place", t))
    nodes = list(dict.fromkeys(t._node for _, t in outputs))
    devices = {t._node: str(t.device) for _, t in outputs}
    stored = LeafValues()
    key, _, params = structural_key(nodes, [devices[n] for n in nodes], stored)
    sched = build_schedule(nodes, devices, stored)
    keep.append(sched)
    single = isinstance(result, Tensor) and len(outputs) == 1
    labelled = [(label, t._node) for label, t in outputs]
    return _Trace(sched, starts, labelled, key, params, single, keep, step)


def _moved(before: tuple[int, int]) -> int:
    """How far lazygrad's random counter moved on since the random state was `before`: 0
    where the seed changed or the counter went back (a function that sets the seed itself
    draws the same keys at every call)."""
    seed, counter = _random_state()
    return counter - before[1] if seed == before[0] and counter >= before[1] else 0


def _random_state() -> tuple[int, int]:
    """lazygrad's random state, left as it is: the seed and the counter of the next draw."""
    seed, counter = creation.get_rng_state().numpy().view("<u8").tolist()
    return seed, counter


def _set_random_state(seed: int, counter: int) -> None:
    """Make the next draw take the key (seed, counter), and the draws after it the counters
    that follow (as `lg.manual_seed(seed)` then `counter` draws would)."""
    raw = np.array([seed, counter], dtype="<u8").view(np.uint8)
    creation.set_rng_state(tensor(raw, dtype=uint8))


def _scalar_names(
    fn: Callable, args: list[Any], names: list[str], device: str
) -> tuple[_Trace, dict[Node, str]]:
    """Trace `fn` and find which float arguments are parameters of the program: returns
    the trace and, per PARAM node that stands for such an argument, the argument's name.

    The floats are given two sets of probe values: when both traces build the same program
    and each PARAM either keeps its value or holds a probe value in both, the program was
    traced with the probes in place (no simplification relied on the example values).
    Otherwise every scalar is fixed to its example value (the program is traced with
    them)."""
    floats = [i for i, a in enumerate(args) if type(a) is float]
    if not floats:
        return _trace(fn, args, names, device), {}
    traces = []
    for probe in _PROBES:
        probed = list(args)
        for k, i in enumerate(floats):
            probed[i] = probe + 0.001 * k
        try:
            traces.append(_trace(fn, probed, names, device))
        except Exception:  # noqa: BLE001 - a probe value the function rejects: keep them fixed
            break
    if len(traces) == 2 and _same_program(traces):
        first, second = traces
        found: dict[Node, str] = {}
        for a, b in zip(first.params, second.params, strict=True):
            if a.arg == b.arg:
                continue  # a constant of the program
            k = next((k for k in range(len(floats)) if _holds(a, _PROBES[0] + 0.001 * k)), None)
            if k is None or not _holds(b, _PROBES[1] + 0.001 * k):
                break  # a value computed from an argument: the arguments stay fixed
            found[a] = names[floats[k]]
        else:
            return first, found
    return _trace(fn, args, names, device), {}


def _holds(param: Node, value: float) -> bool:
    """Whether a PARAM node holds `value` (as its dtype stores it)."""
    return param.op is Op.PARAM and param.arg == param.dtype.np.type(value).item()


def _same_program(traces: list[_Trace]) -> bool:
    first, second = traces
    return first.key == second.key and len(first.params) == len(second.params)


def _is_array(value: Any) -> bool:
    return isinstance(value, Tensor | np.ndarray)


# ---- writing the module -----------------------------------------------------------------------
def _renamed(source: str, names: dict[str, str]) -> str:
    """`source` with the identifiers in `names` renamed (comments and strings untouched)."""
    tokens = []
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.NAME and tok.string in names:
            tok = tok._replace(string=names[tok.string])
        tokens.append(tok)
    return tokenize.untokenize(tokens)


def _names_in(text: str) -> set[str]:
    """The identifiers `text` (Python source) reads or writes."""
    return {
        tok.string
        for tok in tokenize.generate_tokens(io.StringIO(text).readline)
        if tok.type == tokenize.NAME
    }


def _split_statements(source: str) -> str:
    """One statement per line: `a; b` becomes two lines with `a`'s indentation."""
    lines = []
    for line in source.splitlines():
        code, sep, comment = line.partition("  #")
        parts = code.split("; ")
        indent = code[: len(code) - len(code.lstrip())]
        lines.extend([parts[0], *(indent + p for p in parts[1:])])
        if sep:
            lines[-1] += sep + comment
    return "\n".join(lines) + "\n"


def _kernel_source(kernel: Kernel, index: int, fname: str) -> str:
    """A kernel's NumPy source as module text: its function named `fname` and its
    module-level names prefixed with the kernel's index, so kernels do not collide."""
    source = cpu.render(kernel)
    tree_names = _module_names(source)
    renames = {n: f"_k{index}_{n.lstrip('_')}" for n in tree_names}
    renames["kernel"] = fname
    text = _split_statements(_renamed(source, renames).rstrip("\n"))
    if tree_names:  # two blank lines between its kept arrays and its function
        text = text.replace(f"\ndef {fname}(", f"\n\n\ndef {fname}(")
    return text


def _module_names(source: str) -> set[str]:
    """The names a kernel's source assigns at module level (its kept arrays, `_erf`)."""
    names = set()
    for line in source.splitlines():
        target, sep, _ = line.partition(" = ")
        if sep and target.isidentifier() and not line.startswith(" "):
            names.add(target)
    return names


def _literal(value: Any, dtype: Any) -> str:
    """A NumPy scalar literal of `dtype` (a lazygrad or NumPy dtype)."""
    if isinstance(value, float) and not math.isfinite(value):
        text = "np.nan" if math.isnan(value) else ("np.inf" if value > 0 else "-np.inf")
    else:
        text = repr(value)
    return f"{_numpy_type(dtype)}({text})"


def _numpy_type(dtype: Any) -> str:
    """The NumPy scalar type of a dtype, as the module spells it (np.bool_ for NumPy 1 too)."""
    return "np.bool_" if dtype.name == "bool" else f"np.{dtype.name}"


def _constant(array: np.ndarray) -> str:
    """An expression building a copy of `array` (flat)."""
    if array.size <= 64:
        return f"np.array({array.tolist()!r}, dtype={array.dtype.name!r})"
    data = base64.b64encode(np.ascontiguousarray(array).tobytes()).decode()
    return f"np.frombuffer(base64.b64decode({data!r}), dtype={array.dtype.name!r}).copy()"


@dataclass(frozen=True)
class _Arg:
    """An argument of a public function: an array (its NumPy dtype name and shape) or a
    Python scalar (its example value)."""

    name: str
    dtype: str | None = None
    shape: tuple[int, ...] = ()
    value: Any = None

    @property
    def is_array(self) -> bool:
        return self.dtype is not None

    def describe(self, params: set[str]) -> str:
        """Its line in the docstring."""
        if self.is_array:
            return f"{self.name}: a NumPy array, {self.dtype}{list(self.shape)}"
        if self.name in params:
            return f"{self.name}: a number (default {self.value!r})"
        return f"{self.name}: fixed to {self.value!r} (the program was specialized on it)"


@dataclass
class _Function:
    """One public function of a module: its name, what its docstring calls the program, its
    arguments, the traced schedule and which PARAM nodes are its keyword arguments."""

    name: str
    title: str
    args: list[_Arg]
    trace: _Trace
    kwargs: dict[Node, str]

    @property
    def params(self) -> set[str]:
        """The scalar arguments that are real parameters (not fixed)."""
        return set(self.kwargs.values())

    @functools.cached_property
    def draws(self) -> dict[Node, int]:
        """Its random draws (RAND nodes), numbered in the order they were drawn (by counter;
        ties in the order its kernels take them): draw N's key is the keywords seed_N and
        counter_N."""
        kernels = self.trace.schedule.kernels
        found = dict.fromkeys(p for k in kernels for p in k.param_nodes if p.op is Op.RAND)
        drawn = sorted(found, key=lambda node: node.arg[2])  # type: ignore[index]
        return {node: i for i, node in enumerate(drawn)}

    def draw_keywords(self) -> list[str]:
        """The keywords of its random draws, in order: seed_0, counter_0, seed_1..."""
        return [name for i in self.draws.values() for name in _draw_names(i)]

    @property
    def step(self) -> int:
        """How far one run of its program moves lazygrad's random counter: how far the
        traced call moved it, else (a script's schedule) its number of draws."""
        return len(self.draws) if self.trace.step is None else self.trace.step

    @property
    def stream(self) -> str:
        """The module-level name of its draws' `_Stream`."""
        return f"_draws_{self.name}"

    def stream_lines(self) -> list[str]:
        """The statement making its `_Stream` (the step and each draw's traced key), which
        the module runs just before defining the function."""
        keys = [f"({node.arg[1]}, {node.arg[2]})" for node in self.draws]  # type: ignore[index]
        note = f"# {self.name}'s random draws: how far a run moves the counter, each traced key"
        return [note, *_call_lines(f"{self.stream} = _Stream", [str(self.step), *keys])]


def _draw_names(index: int) -> tuple[str, str]:
    """The keywords of random draw `index`: its seed and its counter."""
    return f"seed_{index}", f"counter_{index}"


def _describe_draw(node: Node, index: int) -> str:
    """A random draw's line in a docstring: its keywords, traced key and what it draws."""
    kind, seed, counter, *extra = node.arg  # type: ignore[misc]
    what = f"{kind} in [{extra[0]}, {extra[1]})" if extra else kind
    names = ", ".join(_draw_names(index))
    array = f"{node.dtype.name}{list(node.shape)}"
    return f"{names}: the key of random draw {index} (traced {seed}, {counter}), {what} {array}"


class _Keyword(str):
    """A kernel's scalar argument that the public function takes as the keyword it names."""


def _opencl_source(programs: list[Any], module_name: str, options: tuple[str, ...]) -> str:
    """The text of the OpenCL C file: the distinct `programs` (`OpenCLProgram`s) joined into
    one source, as `runtime.opencl.prepare` joins them, under a line naming its module."""
    from .renderer.opencl import joined_source
    from .runtime.opencl import joined_renames

    renames = joined_renames(programs)
    joined = joined_source([(p.parts, renames[p.source]) for p in programs])
    head = f"// The OpenCL C of {module_name}, exported by lazygrad (build options: "
    return f"{head}{' '.join(options)})\n{joined}\n"


@dataclass
class _Module:
    """What the public functions of one module share: module-level constants and the kernels
    (NumPy functions, or OpenCL programs and their launches)."""

    device: str  # "cpu" or "opencl:N"
    several: bool  # more than one public function: kernel names take the function's name
    constants: list[str] = field(default_factory=list)
    kernels: list[str] = field(default_factory=list)  # NumPy kernel functions
    programs: dict[str, Any] = field(default_factory=dict)  # source -> OpenCLProgram
    launches: dict[str, Any] = field(default_factory=dict)  # kernel name -> its OpenCLProgram

    @property
    def opencl(self) -> bool:
        return self.device != "cpu"


@dataclass
class _Writer:
    """Builds one public function's body: the NumPy program (see `_OpenCLWriter`)."""

    fn: _Function
    module: _Module
    lines: list[str] = field(default_factory=list)
    value_of: dict[Node, str] = field(default_factory=dict)  # node -> flat host array name
    array_of: dict[Node, str] = field(default_factory=dict)  # node -> its kernel's output
    typed: dict[Node, str] = field(default_factory=dict)  # PARAM node -> its expression

    def body(self) -> list[str]:
        """The function's statements: argument checks, the kernels, the return."""
        sched = self.fn.trace.schedule
        for k, (kernel, dead) in enumerate(zip(sched.kernels, sched.releases, strict=True)):
            self.call(k, kernel, self.kernel_name(kernel, k))
            for node in dead:
                if node in self.array_of:
                    self.lines.append(f"del {self.array_of.pop(node)}  # last read")
                    if node.op is not Op.BUFFER:  # (an input keeps its host array's name)
                        self.value_of.pop(node, None)
        results = [self.result(node) for _, node in self.fn.trace.outputs]
        end = [f"return {results[0]}"] if self.fn.trace.single else _call_lines("return ", results)
        run = [*self.lines, *self.finish(), *end]
        used = _names_in("\n".join(run))
        return [*self.entry(used), *self.setup(used), *run]

    def entry(self, used: set[str]) -> list[str]:
        """The checks of the arguments (`used`: the names the rest of the body reads)."""
        lines = []
        for a in self.fn.args:
            if a.is_array:
                check = f'_check("{a.name}", {a.name}, {a.shape}, "{a.dtype}")'
                flat = f"{a.name}_flat"
                lines.append(f"{flat} = {check}" if flat in used else check)
            elif a.name not in self.fn.params:
                lines.append(f'_fixed("{a.name}", {a.name}, {a.value!r})')
        if self.fn.draws:
            lines += _call_lines(f"keys = {self.fn.stream}.keys", self.fn.draw_keywords())
        return lines

    def setup(self, used: set[str]) -> list[str]:
        return []  # the NumPy program needs nothing before its kernels

    def finish(self) -> list[str]:
        return []  # nor after them

    def kernel_name(self, kernel: Kernel, k: int) -> str:
        """The name a kernel has in the module."""
        name = kernel.name if kernel.name.isidentifier() else f"kernel_{k}"
        return f"{self.fn.name}_{name}" if self.module.several else name

    def host_input(self, node: Node) -> str:
        """The flat host array of an input buffer: an argument, else a constant of the module."""
        if node in self.value_of:
            return self.value_of[node]
        i = self.fn.trace.arg_of_buffer.get(id(node.arg))
        if i is not None:
            name = f"{self.fn.args[i].name}_flat"
        else:
            name = f"_CONST{len(self.module.constants)}"
            self.module.constants.append(f"{name} = {_constant(cpu.to_host(node.arg))}")
        self.value_of[node] = name
        return name

    def param(self, node: Node) -> str:
        """A scalar argument of a NumPy kernel: its keyword, typed, or its value (a random
        draw's key: a tuple, as `runtime.cpu` passes it)."""
        if node not in self.typed:
            if node.op is Op.RAND:
                head, extra = self.draw_key(node)
                self.typed[node] = f"({', '.join([*head, *map(repr, extra)])})"
            else:
                name = self.fn.kwargs.get(node)
                typed = f"{_numpy_type(node.dtype)}({name})"
                self.typed[node] = typed if name else _literal(node.arg, node.dtype)
        return self.typed[node]

    def draw_key(self, node: Node) -> tuple[list[str], tuple]:
        """A random draw's kind, seed and counter (its key in `keys`, which the function's
        `_Stream` gives) as the module passes them, and the kind's extra arguments (an
        integer draw's range)."""
        kind, _seed, _counter, *extra = node.arg  # type: ignore[misc]
        return [_quoted(kind), f"*keys[{self.fn.draws[node]}]"], tuple(extra)

    def call(self, k: int, kernel: Kernel, fname: str) -> None:
        """The kernel's function in the module, and the line calling it."""
        self.module.kernels.append(_kernel_source(kernel, len(self.module.kernels), fname))
        args = [self.input_or_output(n) for n in kernel.input_nodes]
        args += [self.param(p) for p in kernel.param_nodes]
        outs = [f"o{k}_{j}" for j in range(len(kernel.output_nodes))]
        target = f"({outs[0]},)" if len(outs) == 1 else ", ".join(outs)
        self.lines += _call_lines(f"{target} = {fname}", args)
        for node, name in zip(kernel.output_nodes, outs, strict=True):
            self.array_of[node] = name

    def input_or_output(self, node: Node) -> str:
        if node.op is Op.BUFFER:
            return self.host_input(node)
        if node not in self.value_of:  # an earlier kernel's output, read flat
            self.value_of[node] = f"{self.array_of[node]}.reshape(-1)"
        return self.value_of[node]

    def result(self, requested: Node) -> str:
        """The expression returning one output."""
        lowered = self.fn.trace.schedule.targets[requested]
        shape = requested.shape
        if lowered.op is Op.BUFFER:  # an input (or constant) as is: a copy of it
            return f"{self.host_input(lowered)}.reshape({shape}).copy()"
        name = self.array_of[lowered]
        return name if lowered.shape == shape else f"{name}.reshape({shape})"


@dataclass
class _OpenCLWriter(_Writer):
    """Builds one public function's body: the host side of the OpenCL program, which runs
    each kernel as `runtime.opencl.run` does. `array_of` names device buffers here."""

    flagged: bool = False  # whether a kernel takes the index-error flag

    def setup(self, used: set[str]) -> list[str]:
        """The queue, context and built program, where the body uses them."""
        lines = []
        if used & {"queue", "context"}:
            lines += ["queue = _queue(context, queue)", "context = queue.context"]
        return lines + (["kernels = _kernels(context)"] if "kernels" in used else [])

    def finish(self) -> list[str]:
        return ["_check_flag(queue, flag)"] if self.flagged else []

    def input_or_output(self, node: Node) -> str:
        """The device buffer of an input: uploaded on first use, as lazygrad does."""
        if node not in self.array_of:
            host = self.host_input(node)
            name = host.removesuffix("_flat").lstrip("_").lower() + "_dev"
            self.lines.append(f'{name} = _upload(context, {host}, "{node.dtype.name}")')
            self.array_of[node] = name
        return self.array_of[node]

    def call(self, k: int, kernel: Kernel, fname: str) -> None:
        if kernel.kind == "copy":
            self.copy(k, kernel)
        elif kernel.kind == "rand":
            self.draw(k, kernel)
        else:
            self.launch(k, kernel, fname)

    def draw(self, k: int, kernel: Kernel) -> None:
        """Random numbers: drawn on the host by lazygrad's generator and uploaded, as
        `runtime.opencl` draws them."""
        out = kernel.output_nodes[0]
        head, extra = self.draw_key(out)
        values = f"_rand({', '.join(head)}, {extra!r}, {out.shape}, {_quoted(out.dtype.name)})"
        self.array_of[out] = f"o{k}_0"
        self.lines.append(f"# {kernel.name}: random numbers drawn on the host and uploaded")
        self.lines += _call_lines(f"o{k}_0 = _upload", ["context", values, _quoted(out.dtype.name)])

    def copy(self, k: int, kernel: Kernel) -> None:
        """A copy between devices: through the host, read through its view (if any)."""
        out, node = kernel.output_nodes[0], kernel.input_nodes[0]
        source = out.src[0]
        if node.op is Op.BUFFER:
            host = self.host_input(node)
        else:
            host = f'_download(queue, {self.array_of[node]}, ({node.numel},), "{node.dtype.name}")'
        if source.op is Op.VIEW and source not in kernel.input_nodes:
            v = source.arg
            host = f"_view({host}, {v.shape}, {v.strides}, {v.offset}, {v.mask})"  # type: ignore[union-attr]
        self.array_of[out] = f"o{k}_0"
        self.lines.append(f"# {kernel.name}: a copy to {kernel.device}, through the host")
        self.lines.append(f'o{k}_0 = _upload(context, {host}, "{out.dtype.name}")')

    def launch(self, k: int, kernel: Kernel, fname: str) -> None:
        """The kernel's launches (noted in LAUNCHES) and the line running them with the
        arguments `runtime.opencl.run` passes."""
        from .renderer.opencl import storage_itemsize
        from .renderer.opencl_kernels import checks_indices, written_over
        from .runtime.opencl import program_for

        outs = [f"o{k}_{i}" for i in range(len(kernel.output_nodes))]
        for i, node in enumerate(kernel.output_nodes):
            self.array_of[node] = outs[i]
        empty = all(n.numel == 0 for n in kernel.output_nodes)
        shared = {} if empty else written_over(kernel)
        inputs = [] if empty else [self.input_or_output(n) for n in kernel.input_nodes]
        for i, node in enumerate(kernel.output_nodes):
            if i in shared:
                self.lines.append(f"{outs[i]} = {inputs[shared[i]]}  # written over in place")
            else:
                nbytes = node.numel * storage_itemsize(node.dtype)
                self.lines.append(f"{outs[i]} = _empty(context, {nbytes})")
        if empty:
            return  # nothing to compute, as lazygrad launches nothing
        keywords = {
            n: _Keyword(self.fn.kwargs[n]) for n in kernel.param_nodes if n in self.fn.kwargs
        }
        program, consts = program_for(kernel, keywords)  # type: ignore[arg-type]
        self.module.programs.setdefault(program.source, program)
        self.module.launches[fname] = program
        args = ["queue", "kernels", f'"{fname}"', *outs, *inputs]
        args += [f"_empty(context, {max(n, 1) * storage_itemsize(d)})" for d, n in program.temps]
        if checks_indices(kernel):
            if not self.flagged:
                self.flagged = True
                self.lines.append(
                    "flag = _new_flag(context)  # set where an index is out of bounds"
                )
            args.append("flag")
        args += [_device_scalar(v, d) for v, d in zip(consts, program.const_dtypes, strict=True)]
        self.lines += _call_lines("_run", args)

    def result(self, requested: Node) -> str:
        lowered = self.fn.trace.schedule.targets[requested]
        if lowered.op is Op.BUFFER:  # an input (or constant) as is: a copy of it
            return f"{self.host_input(lowered)}.reshape({requested.shape}).copy()"
        name = self.array_of[lowered]
        return f'_download(queue, {name}, {requested.shape}, "{requested.dtype.name}")'


def _device_scalar(value: Any, dtype: DType) -> str:
    """A kernel's scalar argument as `runtime.opencl` passes it: a NumPy scalar of the type
    the kernel computes in (a float16 value rounded to half, passed as a float)."""
    from .runtime.opencl import _scalar

    if isinstance(value, _Keyword):
        text = f"np.float16({value})" if dtype is float16 else str(value)
        return f"{_numpy_type(_scalar(0, dtype).dtype)}({text})"
    scalar = _scalar(value, dtype)
    return _literal(scalar.item(), scalar.dtype)


def _call_lines(head: str, args: list[str]) -> list[str]:
    """`head(args)`, its arguments packed onto indented lines where one line would be long
    (`head` "return " gives a tuple)."""
    line = f"{head}({', '.join(args)}{',' if len(args) == 1 and head == 'return ' else ''})"
    if len(line) <= LINE_LENGTH:
        return [line]
    lines = [f"{head}(", ""]
    for a in args:
        if lines[-1] and len(lines[-1]) + len(a) + 2 > LINE_LENGTH:
            lines.append("")
        lines[-1] += f" {a}," if lines[-1] else f"    {a},"
    return [*lines, ")"]


def _signature(fn: _Function, opencl: bool) -> list[str]:
    """The public function's `def` line (lines, where long): arrays first, then keywords:
    the scalars, the keys of the random draws and, for OpenCL, the context and queue to run
    on."""
    arrays = [a.name for a in fn.args if a.is_array]
    keywords = [f"{a.name}={a.value!r}" for a in fn.args if not a.is_array]
    keywords += [f"{name}=None" for name in fn.draw_keywords()]
    keywords += [f"{name}=None" for name in OPENCL_KEYWORDS] if opencl else []
    lines = _call_lines(f"def {fn.name}", [*arrays, "*", *keywords] if keywords else arrays)
    return [*lines[:-1], lines[-1] + ":"]


def _docstring(fn: _Function, opencl: bool) -> list[str]:
    """The public function's docstring: its arguments and results."""
    kernels = _kernel_count(len(fn.trace.schedule.kernels))
    lines = [f'"""{fn.title}, as lazygrad compiled it: {kernels}.', "", "Arguments:"]
    lines += [f"    {a.describe(fn.params)}" for a in fn.args]
    lines += [f"    {_describe_draw(node, i)}" for node, i in fn.draws.items()]
    if opencl:
        lines += [
            "    context: the pyopencl Context to run in (default: one on the first device)",
            "    queue: the pyopencl CommandQueue to run on (default: one on `context`)",
        ]
    lines += ["", *_keys_note(fn.step)] if fn.draws else []
    lines += ["", "Returns, in this order:"]
    for i, (label, node) in enumerate(fn.trace.outputs):
        lines.append(f"    {i}: {node.dtype.name}{list(node.shape)}, {label}")
    lines.append('"""')
    return lines


def _keys_note(step: int) -> list[str]:
    """What a draw's keywords left None mean, for a program whose run moves lazygrad's
    random counter by `step` (a paragraph of the function's docstring)."""
    return textwrap.wrap(
        "Random keys: a seed_N left None is the one traced; a counter_N left None is the one "
        "traced at the first call that leaves a counter None, and "
        f"{step} further on at each such call after it, as lazygrad's counter moves on by "
        f"{step} at each run of this program (so each call draws new numbers, lazygrad's). "
        "A key given pins its draw.",
        LINE_LENGTH - 4,
    )


def _kernel_count(count: int) -> str:
    return f"{count} kernel{'' if count == 1 else 's'}"


def _check_schedule(sched: Schedule, device: str) -> None:
    """Raise UnsupportedError, naming the kernel, where the schedule holds one the module
    cannot run on `device`, or where it returns bfloat16 (a stored value no kernel reads)."""
    for kernel in sched.kernels:
        reason = _unsupported(kernel, device)
        if reason is not None:
            raise UnsupportedError(f"kernel {kernel.name} on {kernel.device}: {reason}")
    if any(node.dtype is bfloat16 for node in sched.targets):
        raise UnsupportedError(f"a value it returns is bfloat16: {_NO_BFLOAT16}")


def _unsupported(kernel: Kernel, device: str) -> str | None:
    """Why a module for `device` cannot run `kernel` (None: it can)."""
    if kernel.kind == "collective":
        return "collectives are not exported"
    nodes = (kernel.nodes, kernel.input_nodes, kernel.output_nodes, kernel.param_nodes)
    if any(n.dtype is bfloat16 for group in nodes for n in group):
        return _NO_BFLOAT16
    on_cpu = kernel.device == "cpu"
    if device == "cpu":
        ok = on_cpu and kernel.kind != "copy"
        return None if ok else "a NumPy program runs every kernel on cpu, with no copies"
    if kernel.kind in ("copy", "rand"):
        return None  # run on the host, as lazygrad runs it
    if on_cpu:
        return "an OpenCL program runs every kernel on the OpenCL device"
    from .runtime.opencl import check_dtypes, device_index

    try:
        check_dtypes(kernel, device_index(kernel.device))
    except RuntimeError as err:  # float64 on a device without it
        return str(err)
    return None


def opencl_source_path(path: str | Path) -> Path:
    """Where the OpenCL C of the module at `path` goes: beside it, with the suffix .cl."""
    module = Path(path)
    source = module.with_suffix(".cl")
    if source == module:
        raise ValueError(f"export: {module} ends in .cl, the name of the OpenCL C beside it")
    return source


def _files(
    functions: list[_Function], device: str, path: Path, about: list[str]
) -> dict[Path, str]:
    """The module's text at `path` (and the OpenCL C beside it, for OpenCL), for the public
    `functions`; `about` is the module docstring."""
    module = _Module(device, len(functions) > 1)
    writer = _OpenCLWriter if module.opencl else _Writer
    programs = [_public_function(fn, writer(fn, module).body(), module.opencl) for fn in functions]
    if module.opencl:
        return _opencl_files(module, programs, path, about)
    helpers = _needed({**_HELPER_SOURCES, **_ENTRY_HELPERS}, "\n".join(module.kernels + programs))
    definitions = [
        _section("runtime helpers the kernels call", helpers),
        _section("kernels, in the order the program runs them", module.kernels),
    ]
    imports = _imports(_base64(module) + _stdlib(helpers), ["import numpy as np"])
    return {path: _text(about, imports, _constants(module), definitions, programs)}


def _public_function(fn: _Function, body: list[str], opencl: bool) -> str:
    """The public function's text: the `_Stream` of its draws (if it draws), its `def` line,
    docstring and body."""
    lines = [*_docstring(fn, opencl), *body]
    text = "\n".join([*_signature(fn, opencl), *(f"    {x}" if x else "" for x in lines)])
    return "\n\n\n".join(["\n".join(fn.stream_lines()), text]) if fn.draws else text


def _opencl_files(
    module: _Module, programs: list[str], path: Path, about: list[str]
) -> dict[Path, str]:
    """The OpenCL module's text and its OpenCL C, by path."""
    from .runtime.opencl import build_options, device_index, joined_renames
    from .runtime.opencl_device import get_device

    options = build_options(get_device(device_index(module.device)))
    source_path = opencl_source_path(path)
    kept = list(module.programs.values())
    shared = {name: _HELPER_SOURCES[name] for name in ("_view", "_rand")}
    helpers = {**shared, **_OPENCL_HELPERS, **_ENTRY_HELPERS}
    used = _needed(helpers, "\n".join(programs))
    names = _names_in("\n".join(used))
    setup = []
    if module.launches:  # (none: the functions only move arrays, or compute nothing)
        setup += _opencl_setup(source_path.name, options, module.launches, joined_renames(kept))
    if "_QUEUES" in names:
        setup.append("_QUEUES = {}  # context (None: the first device's) -> the queue made on it")
    stdlib = (
        _base64(module) + _stdlib(used) + (["from pathlib import Path"] if module.launches else [])
    )
    third_party = ["import numpy as np"] + (["import pyopencl as cl"] if "cl" in names else [])
    statements = ["\n".join(setup), *_constants(module)] if setup else _constants(module)
    definitions = [_section("runtime helpers the program calls", used)]
    imports = _imports(stdlib, third_party)
    text = _text(about, imports, statements, definitions, programs)
    return {path: text, source_path: _opencl_source(kept, path.name, options)}


def _base64(module: _Module) -> list[str]:
    """The import the module's constants need."""
    return ["import base64"] if any("base64." in c for c in module.constants) else []


def _stdlib(helpers: list[str]) -> list[str]:
    """The imports the helpers need (`_Stream` counts calls, `_take` gives memory back once
    its arrays are gone)."""
    return [f"import {m}" for m in ("itertools", "weakref") if any(f"{m}." in h for h in helpers)]


def _imports(stdlib: list[str], third_party: list[str]) -> list[str]:
    """The module's import lines, in two groups."""
    return [*stdlib, "", *third_party] if stdlib else third_party


def _constants(module: _Module) -> list[str]:
    """The block of the module's constants, if it has any."""
    if not module.constants:
        return []
    return ["# ---- constants the functions read\n" + "\n".join(module.constants)]


def _text(
    about: list[str],
    imports: list[str],
    statements: list[str],
    definitions: list[str],
    programs: list[str],
) -> str:
    """The module's text: its docstring, imports, blocks of statements, blocks of
    definitions, then the `programs`."""
    title = "the program" if len(programs) == 1 else "the programs"
    blocks = [*statements, *definitions, _section(title, programs)]
    # statements go one blank line below the imports, definitions two
    head = ['"""' + about[0], *about[1:], '"""', "", *imports, "", *([] if statements else [""])]
    return "\n".join(head) + "\n" + "\n\n\n".join(blocks) + "\n"


def _needed(helpers: dict[str, str], text: str) -> list[str]:
    """The sources of the helpers `text` calls, and of the helpers those call, in the order
    of `helpers`."""
    wanted: set[str] = set()
    reads = _names_in(text) & helpers.keys()
    while reads - wanted:
        wanted |= reads
        reads = set().union(*(_names_in(helpers[n]) for n in wanted)) & helpers.keys()
    return [src for name, src in helpers.items() if name in wanted]


def _opencl_setup(
    source_name: str,
    options: tuple[str, ...],
    launches: dict[str, Any],
    renames: dict[str, dict[str, str]],
) -> list[str]:
    """The statements that say where the program's source is, how to build it and what each
    kernel launches, and the dict of built programs."""
    lines = [
        "# ---- the OpenCL program: its source (beside this file), build options and launches",
        f'SOURCE = Path(__file__).with_name("{source_name}")',
        f"BUILD_OPTIONS = [{', '.join(map(_quoted, options))}]",
        "# per kernel, the functions it launches in order, with their global and local sizes",
        "LAUNCHES = {",
    ]
    for name, program in launches.items():
        new = renames[program.source]
        lines.append(f'    "{name}": (')
        for f in program.launches:
            lines.append(f'        ("{new.get(f.name, f.name)}", {f.global_size}, {f.local_size}),')
        lines.append("    ),")
    return [*lines, "}", "_KERNELS = {}  # context -> the program's functions, by name"]


def _quoted(text: str) -> str:
    """`text` as a double-quoted Python string (for text without quotes or backslashes)."""
    return f'"{text}"'


def _section(title: str, texts: list[str]) -> str:
    """A section of the module: a title comment over its definitions."""
    return f"# ---- {title}\n" + "\n\n\n".join(t.strip("\n") for t in texts)


def _arg_names(fn: Callable, count: int) -> list[str]:
    """The names of `fn`'s first `count` parameters (arg0... where it has no signature)."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        params = []
    names = []
    for i in range(count):
        p = params[i] if i < len(params) else None
        positional = p is not None and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        names.append(p.name if positional else f"arg{i}")
    return names


def _function_name(fn: Callable) -> str:
    """The public function's name: `fn`'s, else "program" (for a lambda)."""
    name = getattr(fn, "__name__", "").lstrip("_")
    return name if name.isidentifier() and not keyword.iskeyword(name) else "program"


def _spec_of(value: Any) -> _Arg:
    """A tensor or array argument's NumPy dtype name and shape (its name left empty)."""
    if isinstance(value, Tensor):
        return _Arg("", value._node.dtype.name, tuple(value.shape))
    return _Arg("", value.dtype.name, value.shape)


def _target(device: Any) -> str:
    """The device a module is written for: "cpu" or "opencl:N"."""
    return "cpu" if device is None else str(parse_device(device))


def export(
    fn: Callable[..., Any],
    *example_args: Any,
    path: str | Path = "step.py",
    device: str | None = None,
) -> Path:
    """Write the program `fn(*example_args)` compiles to as a standalone module at `path`,
    which imports only NumPy (and pyopencl, for OpenCL), and return the path.

    The module's one public function, named after `fn`, takes the tensor arguments as NumPy
    arrays (their shapes and dtypes checked: ValueError otherwise) and the scalar arguments
    as keywords defaulting to the example values, and returns NumPy arrays: the tensors
    `fn` returned, then the arguments it updated in place that it did not return (a
    training step's updated parameters), in argument order. Its docstring lists both.

    Random draws (`lg.rand`, `lg.randn`, `lg.randint`, dropout...) are lazygrad's: the module
    holds lazygrad's generator, and draw N's key (see `lg.manual_seed`) is the keywords
    seed_N and counter_N. Left None (their default), they continue lazygrad's stream as a
    loop of calls would: the first such call draws the keys `fn(*example_args)` would draw
    if called now (exporting leaves lazygrad's random state as it was), so it gives that
    call's values bit for bit, and each later one the keys lazygrad's next call would (the
    counters moved on by as many as one call of `fn` moved lazygrad's), so each call draws
    new numbers. A key given pins its draw.

    `device`: None or "cpu" writes the NumPy program; "opencl" (or "opencl:N") writes the
    OpenCL program, traced on that device: its C goes beside the module (`path` with the
    suffix .cl, read by the module from its own folder), and the function takes `context`
    and `queue` keywords (pyopencl objects; by default a queue on the first OpenCL device).
    A program holding what the exporter cannot write (collectives; bfloat16, as an argument,
    a value computed or one returned) raises UnsupportedError (a NotImplementedError), and
    nothing is written.

    A NumPy program's function is not safe to call from several threads at once: its
    kernels keep small scratch arrays between calls (the memory `_take` hands out, and the
    keys of the draws, are safe)."""
    target = _target(device)
    args = list(example_args)
    names = _arg_names(fn, len(args))
    _check_args(names, args, target)
    trace, kwargs = _scalar_names(fn, args, names, target)
    name = _function_name(fn)
    try:
        _check_schedule(trace.schedule, target)
    except UnsupportedError as err:
        raise UnsupportedError(f"export: cannot export {name}: {err}") from None
    specs = [
        replace(_spec_of(a), name=n) if _is_array(a) else _Arg(n, value=a)
        for n, a in zip(names, args, strict=True)
    ]
    function = _Function(name, getattr(fn, "__name__", name), specs, trace, kwargs)
    _check_draw_names(function)
    out = Path(path)
    call = f"Call {name}(...) with NumPy arrays; see its docstring for the arguments and results."
    lines = [call, *(_DRAWS if function.draws else [])]
    about = _about(f"{name}: a program exported by lazygrad", target, out, lines)
    for file, text in _files([function], target, out, about).items():
        file.write_text(text)
    return out


def _check_args(names: list[str], args: list[Any], device: str) -> None:
    """Raise where an argument cannot be one of the exported function's."""
    for n, a in zip(names, args, strict=True):
        if not _is_array(a) and type(a) not in (bool, int, float):
            raise TypeError(
                f"export: argument {n} is a {type(a).__name__}: only tensors, NumPy arrays and "
                "Python numbers can be arguments of an exported function"
            )
        if _is_array(a) and _spec_of(a).dtype == bfloat16.name:
            raise UnsupportedError(f"export: argument {n} is bfloat16: {_NO_BFLOAT16}")
        if device != "cpu" and n in OPENCL_KEYWORDS:
            raise ValueError(
                f"export: argument {n}: an OpenCL program's function takes {n}= itself "
                "(the pyopencl object to run on); rename the argument"
            )


def _check_draw_names(fn: _Function) -> None:
    """Raise where an argument has the name of a random draw's keyword, or of the variable
    holding the keys of the draws (`keys`)."""
    for name in [*fn.draw_keywords(), "keys"] if fn.draws else []:
        if any(a.name == name for a in fn.args):
            raise ValueError(
                f"export: argument {name}: {fn.name} draws random numbers and names the keys "
                f"of its draws {name} itself; rename the argument"
            )


def _about(title: str, device: str, path: Path, lines: list[str]) -> list[str]:
    """The module docstring: `title` and what the module needs, for OpenCL where its C is
    and which device its launch sizes suit, then `lines`."""
    if device == "cpu":
        return [f"{title}. Needs only NumPy.", "", *lines]
    return [
        f"{title}. Needs NumPy and pyopencl.",
        "",
        f"The OpenCL C is in {opencl_source_path(path).name}, which this module reads from its "
        "own folder; the",
        f"launch sizes suit {_device_name(device)}.",
        "",
        *lines,
    ]


def _device_name(device: str) -> str:
    """`device` and the name of the device behind it."""
    from .runtime.opencl import device_index
    from .runtime.opencl_device import get_device

    return f"{device} ({get_device(device_index(device)).name})"


# ---- the schedules a script realizes (`lazygrad export`) ----------------------------------------
class ScriptExport:
    """The schedules a script realizes, noted while it runs (`add`, a realize listener) and
    written as one module (`files`): one function per schedule, `schedule_1`, `schedule_2`...
    in the order they first ran, each taking the schedule's input buffers as arrays (in the
    order its docstring and the module docstring list them), the key of each random draw N
    as the keywords seed_N and counter_N, and returning a tuple of the values it realized.
    Keys left None (the default) draw the keys of the schedule's first realize at the first
    such call, then counters moved on by the schedule's number of draws at each call after
    it (new numbers every call); a key given pins its draw. A schedule realized again with
    the same structure and scalar constants is the same function, whatever keys its draws
    took."""

    def __init__(self, device: str = "cpu", script: str = "the script") -> None:
        self.device = _target(device)
        self.script = script
        self.functions: list[_Function] = []
        self.runs: list[int] = []  # per function, how many realizes ran its schedule
        self._known: dict[tuple, int] = {}  # (structure, PARAM nodes) -> function index

    def add(self, tensors: list[Tensor]) -> None:
        """Note the realize of `tensors` about to run (call it as `engine.realize` calls its
        schedule listeners). Raises UnsupportedError where its schedule cannot be exported,
        naming the schedule."""
        nodes = list(dict.fromkeys(t._node for t in tensors))
        devices = {t._node: str(t.device) for t in tensors}
        key, inputs, params = structural_key(
            nodes, [devices[n] for n in nodes], stored_for(devices)
        )
        scalars = tuple(p for p in params if p.op is Op.PARAM)  # a draw's key is a keyword
        known = self._known.get((key, scalars))
        if known is not None:
            self.runs[known] += 1
            return
        number = len(self.functions) + 1
        trace = self._trace(nodes, inputs, key, params)
        try:
            _check_schedule(trace.schedule, self.device)
        except UnsupportedError as err:
            raise UnsupportedError(f"schedule {number}: {err}") from None
        args = [_Arg(f"input_{i}", n.dtype.name, n.shape) for i, n in enumerate(inputs)]
        title = f"Schedule {number} of {self.script}"
        self._known[(key, scalars)] = len(self.functions)
        self.functions.append(_Function(f"schedule_{number}", title, args, trace, {}))
        self.runs.append(1)

    def _trace(self, nodes: list[Node], inputs: list[Node], key: tuple, params: list) -> _Trace:
        """The schedule of `nodes` on this export's device, built as `engine.realize` builds
        a schedule it caches: against placeholder buffers for its inputs, in slot order."""
        slots = {
            n: make(Op.BUFFER, (), Buffer(self.device, n.dtype, n.numel), n.dtype, n.shape)
            for n in inputs
        }
        sched = build_schedule(nodes, dict.fromkeys(nodes, self.device), slots)
        outputs = [(f"realized value {i}", n) for i, n in enumerate(nodes)]
        buffers = {id(slots[n].arg): i for i, n in enumerate(inputs)}
        return _Trace(sched, buffers, outputs, key, params, single=False, keep=[slots])

    def files(self, path: str | Path) -> dict[Path, str]:
        """The module at `path` (and, for OpenCL, its C beside it): each file and its text."""
        lines = [
            "One function per schedule (realized again with the same structure and scalar",
            "constants, a schedule is the same function). Each takes the schedule's input",
            "buffers as NumPy arrays, in the order listed, and the keys of its random draws as",
            "keywords (left None: the keys its first realize drew at the first call, new ones",
            "at each call after it), and returns a tuple of the values it realized.",
        ]
        lines += ([""] + _DRAWS) if any(fn.draws for fn in self.functions) else []
        for fn, runs in zip(self.functions, self.runs, strict=True):
            lines += ["", *_listed(fn, runs)]
        title = f"The schedules {self.script} realized, exported by lazygrad"
        about = _about(title, self.device, Path(path), lines)
        return _files(self.functions, self.device, Path(path), about)


def _listed(fn: _Function, runs: int) -> list[str]:
    """A schedule's function in the module docstring: its parameters, kernels, how often the
    script realized it, its arguments (arrays, then the keys of its draws) and results."""
    times = "" if runs == 1 else f" (realized {runs} times)"
    names = [a.name for a in fn.args]
    names += ["*", *fn.draw_keywords()] if fn.draws else []
    kernels = _kernel_count(len(fn.trace.schedule.kernels))
    # a long parameter list goes on indented lines (the kernel count stays on the last)
    lines = textwrap.wrap(
        f"{fn.name}({', '.join(names)}):", LINE_LENGTH - 4, subsequent_indent=" " * 8
    )
    lines[-1] += f" {kernels}{times}"
    lines += [f"    {a.name}: {a.dtype}{list(a.shape)}" for a in fn.args]
    lines += [f"    {_describe_draw(node, i)}" for node, i in fn.draws.items()]
    outputs = enumerate(fn.trace.outputs)
    return lines + [f"    returns {i}: {n.dtype.name}{list(n.shape)}" for i, (_, n) in outputs]
