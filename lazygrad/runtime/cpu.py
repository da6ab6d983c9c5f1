"""The CPU runtime: runs NumPy kernels (rendered by `renderer.numpy`) and whole schedules as
one generated program (`Program`), with the helpers the generated code calls and a pool
of arrays. Sources are compiled once per distinct text (the COMPILED_KERNELS used last
stay compiled), under a `<lazygrad:NAME>` file name registered in `linecache` so
tracebacks show them, for as long as the function lives.
"""

from __future__ import annotations

import functools
import linecache
import math
import weakref
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np

from .. import lru
from ..buffer import MIN_SIZE_CLASS, Buffer, host_array, size_class_for
from ..debug import log
from ..dtypes import bfloat16, numpy_scalar
from ..ir.node import Node
from ..ir.ops import Op
from ..ir.schedule import Kernel, Schedule
from ..renderer import numpy as numpy_renderer
from . import collective
from .compiled import CompiledForms
from .host import operand_on_host, rand, view

KernelFn = Callable[..., tuple[np.ndarray, ...]]
_SCALARS = (Op.CONST, Op.PARAM)


# ---- runtime helpers the generated code calls ---------------------------------------------
@functools.lru_cache(maxsize=256)
def arange(start: float, step: float, count: int, dtype: str) -> np.ndarray:
    """start + i * step for i < count, computed in the target dtype like PyTorch (once per
    distinct range: kernels only read it)."""
    if np.dtype(dtype).kind == "f":
        values = (np.arange(count, dtype=np.float64) * step + start).astype(dtype)
    else:
        values = np.arange(start, start + count * step, step, dtype=dtype)[:count]
    values.flags.writeable = False
    return values


class ArrayPool:
    """Memory blocks kept for reuse by size class (the next power of two of the bytes, as
    in the OpenCL pool): a fresh large array costs page faults on first touch (several
    times the cost of the kernel that fills it); a reused block does not. An array is
    handed out as a view of a block, of any shape and dtype that fits; giving back any
    view of it returns the whole block."""

    REQUESTS_KEPT = 1024  # (shape, dtype) -> size class lookups remembered

    def __init__(self, limit_bytes: int = 1 << 30):
        self.free: dict[int, list[np.ndarray]] = {}
        self.limit = limit_bytes
        self.held = 0
        self.stats = {"allocations": 0, "reuses": 0}
        self._requests: dict[tuple, tuple[np.dtype, int]] = {}  # (shape, dtype) -> its class

    def take(self, shape: tuple[int, ...], dtype: str) -> np.ndarray:
        request = self._requests.get((shape, dtype))
        if request is None:
            kind = np.dtype(dtype)
            request = (kind, size_class_for(math.prod(shape) * kind.itemsize))
            if len(self._requests) >= self.REQUESTS_KEPT:  # a loop over ever new shapes
                self._requests.clear()
            self._requests[(shape, dtype)] = request
        kind, size = request
        stack = self.free.get(size)
        if stack:
            block = stack.pop()
            self.held -= size
            self.stats["reuses"] += 1
        else:
            block = np.empty(size, np.uint8)
            self.stats["allocations"] += 1
        return np.ndarray(shape, kind, block)

    def give(self, arr: np.ndarray) -> None:
        block = arr if arr.base is None else arr.base
        if type(block) is not np.ndarray or block.dtype is not _BYTES or block.ndim != 1:
            return  # not a block of this pool (a kernel's copy, random draws): let it go
        size = block.size
        is_class = size >= MIN_SIZE_CLASS and not size & (size - 1)  # see size_class_for
        if is_class and self.held + size <= self.limit:
            self.free.setdefault(size, []).append(block)
            self.held += size


_BYTES = np.dtype(np.uint8)
pool = ArrayPool()


def own(value: object, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    """A kernel output that is not a whole scratch array (a broadcast, a constant, an input
    read through a view): a fresh array holding its values."""
    out = pool.take(shape, dtype)
    np.copyto(out, np.broadcast_to(np.asarray(value, dtype=dtype), shape))
    return out


def bfloat16_scalar(value: object) -> np.generic:
    """`value` as a bfloat16 NumPy scalar (NumPy's namespace has no `np.bfloat16`)."""
    return bfloat16.np.type(value)  # type: ignore[no-any-return]


def int_power(base: object, exponent: object, out: np.ndarray) -> np.ndarray:
    """Integer power as PyTorch computes it: a negative exponent gives 0, except for the
    bases 1 (always 1) and -1 (+-1 by parity); NumPy raises instead."""
    b, e = np.broadcast_to(base, out.shape), np.broadcast_to(exponent, out.shape)
    np.power(b, np.maximum(e, 0), out=out)
    negative = e < 0
    if negative.any():
        bn, en = b[negative], e[negative]
        out[negative] = np.where(bn == 1, 1, np.where(bn == -1, 1 - 2 * (en % 2), 0))
    return out


_BITS = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def select(cond: object, x: object, y: object, out: np.ndarray) -> np.ndarray:
    """`where(cond, x, y)` written into `out` (which may be `x`'s array, or `y`'s).

    NumPy's masked copy branches per element and costs ~5 ns each on an unpredictable mask
    (a ReLU's). Multiplying bit patterns by the 0/1 condition instead takes one pass for
    `where(c, x, 0)` (faster than NumPy's `x * c`, which is also wrong for inf and NaN) and
    copies every bit exactly (NaN payloads, -0.0)."""
    if np.ndim(cond) == 0:
        np.copyto(out, x if cond else y)
        return out
    uint = _BITS[out.dtype.itemsize]
    bits = out.view(uint)
    x_bits = np.asarray(x, out.dtype).view(uint)
    y_bits = np.asarray(y, out.dtype).view(uint)
    if np.ndim(y) == 0 and not y_bits:  # where(c, x, 0): x's bits times 1 or 0
        np.multiply(x_bits, cond, out=bits)
    else:  # y ^ ((x ^ y) * c)
        if np.may_share_memory(bits, y_bits):  # `out` is y's array too (y is x, seen
            y_bits = y_bits.copy()  # through a view that simplified away): y is read last
        np.bitwise_xor(x_bits, y_bits, out=bits)
        np.multiply(bits, cond, out=bits)
        np.bitwise_xor(bits, y_bits, out=bits)
    return out


def max_by_columns(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """The max over `x`'s last axis into `out` (that axis kept as 1), one whole column at a
    time: NumPy's reduce walks each short row alone, which is slow for many short rows (a
    cross-entropy's max over 10 classes). The same values, since max does not depend on the order
    (which zero a tie of 0.0 and -0.0 keeps does, in NumPy's own reduce too)."""
    np.copyto(out, x[..., :1])
    for j in range(1, x.shape[-1]):
        np.maximum(out, x[..., j : j + 1], out=out)
    return out


# Why a gather or scatter position lies outside its tensor: an index checked on the host
# raises before any kernel runs, so this is an index tensor whose values the graph computed
# (`indexing.OUT_OF_BOUNDS` marks its values outside their dimension).
INDEX_OUT_OF_BOUNDS = (
    "index out of bounds: an index tensor computed on the device held a value outside the "
    "dimension it indexes"
)


def gather(source: np.ndarray, positions: np.ndarray, out: np.ndarray) -> np.ndarray:
    """`source`'s elements at `positions` into `out`; IndexError(INDEX_OUT_OF_BOUNDS) for a
    position outside it."""
    try:
        return np.take(source, positions, out=out)
    except IndexError:
        raise IndexError(INDEX_OUT_OF_BOUNDS) from None


def scatter(flat: np.ndarray, positions: np.ndarray, values: np.ndarray, add: bool) -> None:
    """Write (or with `add`, accumulate) `values` into `flat` at `positions`;
    IndexError(INDEX_OUT_OF_BOUNDS) for a position outside it."""
    try:
        if add:
            np.add.at(flat, positions, values)
        else:
            flat[positions] = values
    except IndexError:
        raise IndexError(INDEX_OUT_OF_BOUNDS) from None


def release(scratch: list[np.ndarray]) -> None:
    """Return a kernel's scratch arrays (those not handed out as outputs) to the pool."""
    for arr in scratch:
        pool.give(arr)


_HELPERS = {
    "np": np,
    "_view": view,
    "_arange": arange,
    "_rand": rand,
    "_own": own,
    "_take": pool.take,
    "_release": release,
    "_int_power": int_power,
    "_select": select,
    "_gather": gather,
    "_scatter": scatter,
    "_max_by_columns": max_by_columns,
    "inf": np.inf,
    "nan": np.nan,
    "bfloat16": bfloat16_scalar,
}


# ---- bounded caches ---------------------------------------------------------------------------
evictions: Counter[str] = Counter()  # per cache, entries dropped for want of room
K = TypeVar("K")
V = TypeVar("V")


def remember(table: dict[K, V], key: K, value: V, limit: int, what: str) -> None:
    """`lru.put` into a table of `what`s, counting in `evictions[what]` and logging what it
    drops."""
    dropped = lru.put(table, key, value, limit)
    if dropped:
        evictions[what] += len(dropped)
        log(
            f"{what} cache full ({limit}): dropped the least recently used "
            f"({evictions[what]} so far)"
        )


# distinct kernel sources kept compiled for new kernels (a cached schedule's kernels keep
# their own functions, in `_functions`, whatever leaves this table)
COMPILED_KERNELS = 1024
_compiled: dict[str, KernelFn] = {}  # source body -> function, in order of last use
_functions = CompiledForms()


def compile_kernel(kernel: Kernel) -> KernelFn:
    """The callable for `kernel`, compiled once per distinct source (and kept on the kernel,
    which a cached schedule runs again and again, whatever leaves `_compiled` meanwhile)."""
    fn = _functions.get(kernel)
    if fn is not None:
        return fn  # type: ignore[no-any-return]
    if any(n.dtype is bfloat16 for n in kernel.nodes):
        bfloat16.np  # noqa: B018 - loads ml_dtypes, whose dtype the source names as 'bfloat16'
    source = numpy_renderer.render(kernel)
    body = source.split("\n", 1)[1]
    fn = lru.get(_compiled, body)
    if fn is None:
        fn = _compile(source, kernel.name)
        remember(_compiled, body, fn, COMPILED_KERNELS, "NumPy kernel")
    return _functions.keep(kernel, fn)  # type: ignore[no-any-return]


def _compile(source: str, name: str) -> KernelFn:
    """Compile a kernel's source, shown in tracebacks for as long as its function lives."""
    filename, count = f"<lazygrad:{name}>", 1
    while filename in linecache.cache:  # another kernel of that name still lives
        count += 1
        filename = f"<lazygrad:{name}#{count}>"
    lines = source.splitlines(True)
    linecache.cache[filename] = (len(source), None, lines, filename)
    namespace = dict(_HELPERS)
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - our generated code
    fn = namespace.pop("kernel")  # no cycle through its globals: freed as soon as unused
    weakref.finalize(fn, _forget_source, filename, lines)
    return fn


def _forget_source(filename: str, lines: list[str]) -> None:
    """Drop a dead kernel's source from linecache (unless the name was registered again)."""
    entry = linecache.cache.get(filename)
    if entry is not None and entry[2] is lines:
        del linecache.cache[filename]


def prepare(kernels: Sequence[Kernel]) -> None:
    """Nothing to do ahead: a kernel's NumPy source compiles when it first runs, in far less
    time than a launch takes."""


def render(kernel: Kernel) -> str:
    """The Python source of a kernel (a collective says what it does instead)."""
    if kernel.kind == "collective":
        return f"# {kernel.name}: {collective.describe(kernel.output_nodes[0])}"
    return numpy_renderer.render(kernel)


def _copied_to_host(kernel: Kernel, source_buffer: Buffer) -> np.ndarray:
    """A transfer to the CPU, as a new array this backend owns."""
    out = kernel.output_nodes[0]
    return np.array(operand_on_host(kernel, source_buffer), dtype=out.dtype.np).reshape(out.shape)


def run(kernel: Kernel, inputs: list, params: list | tuple = ()) -> list:
    """Run `kernel` on CPU buffers with its scalar arguments; returns the output buffers."""
    if kernel.kind == "copy":
        arrays = [_copied_to_host(kernel, inputs[0])]
    elif kernel.kind == "collective":
        arrays = [collective.run(kernel.output_nodes[0], operand_on_host(kernel, inputs[0]))]
    else:
        with np.errstate(all="ignore"):
            typed = _typed(kernel.param_nodes, params)
            fn = compile_kernel(kernel)
            for node, buf in zip(kernel.input_nodes, inputs, strict=True):
                if node in kernel.donated:
                    buf.release = None  # the kernel's array now: it returns it to the pool
            arrays = list(fn(*(b.host for b in inputs), *typed))
    return [_pooled_buffer(n, a) for n, a in zip(kernel.output_nodes, arrays, strict=True)]


def _typed(param_nodes: list[Node], values: list | tuple) -> list:
    """Scalar arguments as NumPy scalars of their node's dtype (random draws' keys as is;
    integers wrap around into narrow dtypes, as PyTorch casts scalar operands)."""
    return [
        v if p.op is Op.RAND else numpy_scalar(v, p.dtype)
        for p, v in zip(param_nodes, values, strict=True)
    ]


def _pooled_buffer(node: Node, array: np.ndarray) -> Buffer:
    """A CPU buffer for a kernel's output array, which returns to the pool with it."""
    buf = Buffer("cpu", node.dtype, array.size, host=array.reshape(-1))
    buf.release = (pool.give, array)
    return buf


_NOT_COMPILED = ("copy", "collective")  # kernels `run` carries out itself


class Program:
    """A whole schedule of CPU kernels as one generated Python function: the values that
    pass between kernels are local arrays (no buffer objects, finalizers or per-kernel
    bookkeeping), and each is handed back to the pool after its last reader."""

    def __init__(self, sched: Schedule):
        produced: dict[Node, str] = {}
        inputs: dict[Node, str] = {}
        params: dict[Node, str] = {}
        namespace: dict[str, object] = {"_give": pool.give}
        lines = []
        for k, (kernel, dead) in enumerate(zip(sched.kernels, sched.releases, strict=True)):
            namespace[f"k{k}"] = compile_kernel(kernel)
            args = []
            for n in kernel.input_nodes:
                if n in produced:
                    args.append(f"f{produced[n]}")
                else:
                    args.append(inputs.setdefault(n, f"i{len(inputs)}"))
            args += [params.setdefault(p, f"p{len(params)}") for p in kernel.param_nodes]
            names = [f"{k}_{j}" for j in range(len(kernel.output_nodes))]
            outs = "".join(f"o{name}, " for name in names)
            lines.append(f"{outs}= k{k}({', '.join(args)})  # {kernel.name}")
            for node, name in zip(kernel.output_nodes, names, strict=True):
                produced[node] = name
                lines.append(f"f{name} = o{name}.reshape(-1)")
            for node in dead:
                if node in produced and node not in kernel.donated:
                    lines.append(f"_give(o{produced[node]})")
                produced.pop(node, None)
        self.input_nodes = list(inputs)
        self.param_nodes = list(params)
        self._typed: tuple[object, list] = (None, [])  # the last arguments, typed
        self.output_nodes = list(produced)
        returned = "".join(f"o{produced[n]}, " for n in self.output_nodes)
        lines.append(f"return ({returned})")
        signature = ", ".join([*inputs.values(), *params.values()])
        source = f"def program({signature}):\n" + "".join(f"    {line}\n" for line in lines)
        exec(compile(source, "<lazygrad:program>", "exec"), namespace)  # noqa: S102
        self.source = source
        # popped: no cycle through its globals, so it goes with its schedule
        self.fn: Callable[..., tuple[np.ndarray, ...]] = namespace.pop("program")  # type: ignore

    @staticmethod
    def fits(sched: Schedule) -> bool:
        """Whether every kernel is a NumPy kernel (no transfers, no other device)."""
        return all(
            k.device == "cpu" and k.kind not in ("copy", "collective") for k in sched.kernels
        )

    def run(self, bindings: dict[Node, object], values: dict[Node, object]) -> dict | None:
        """Run with these input buffers and arguments; returns the buffer of each value the
        schedule leaves (None if an input has no host array: run kernel by kernel then)."""
        arrays = []
        for n in self.input_nodes:
            host = (bindings.get(n) or n.arg).host  # type: ignore[union-attr]
            if host is None:
                return None
            arrays.append(host)
        if values is not self._typed[0]:  # a replay passes the same arguments each time
            args = [values.get(p, p.arg) for p in self.param_nodes]
            self._typed = (values, _typed(self.param_nodes, args))
        typed = self._typed[1]
        with np.errstate(all="ignore"):
            outputs = self.fn(*arrays, *typed)
        return {n: _pooled_buffer(n, a) for n, a in zip(self.output_nodes, outputs, strict=True)}


def to_host(buf: Buffer) -> np.ndarray:
    """The flat host array of a buffer on any device."""
    return host_array(buf)
