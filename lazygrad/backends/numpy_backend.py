"""The NumPy code generator: one Python function per fused kernel.

Each IR node becomes one NumPy statement named after its op. Values live in
scratch arrays assigned by liveness: an op writes over an operand that dies at
it (`np.exp(s0, out=s0)`), so a chain of elementwise ops touches one array.
Views are read in place (reshape/transpose, else `as_strided`); contractions call
`np.matmul` (BLAS). A long elementwise chain over big arrays loops over chunks that stay
in cache. Sources are compiled once per distinct text (the COMPILED_KERNELS used last stay
compiled), under a `<lazygrad:NAME>` file name registered in `linecache` so tracebacks show
them, for as long as the function lives.
"""

from __future__ import annotations

import functools
import linecache
import math
import weakref
from collections import Counter
from collections.abc import Callable
from typing import TypeVar

import numpy as np

from ..buffer import MIN_SIZE_CLASS, Buffer, size_class_for
from ..debug import log
from ..ir.node import Node
from ..ir.ops import ELEMENTWISE, OP_TABLE, REDUCE_OPS, Op
from ..ir.schedule import Kernel, Schedule
from ..ir.view import View
from . import lru

KernelFn = Callable[..., tuple[np.ndarray, ...]]
_SCALARS = (Op.CONST, Op.PARAM)


# ---- runtime helpers the generated code calls ---------------------------------------------
def view(
    flat: np.ndarray,
    shape: tuple[int, ...],
    strides: tuple[int, ...],
    offset: int,
    mask: tuple[tuple[int, int], ...] | None,
) -> np.ndarray:
    """Read a flat array through a View (masked positions read 0)."""
    item = flat.itemsize
    if mask is None:
        if not shape or math.prod(shape) == 0:
            return np.broadcast_to(
                flat[offset : offset + 1].reshape(()) if shape == () else np.zeros((), flat.dtype),
                shape,
            )
        return np.lib.stride_tricks.as_strided(
            flat[offset:], shape, tuple(s * item for s in strides), writeable=False
        )
    out = np.zeros(shape, flat.dtype)
    if all(hi > lo for lo, hi in mask):
        inner = View(
            tuple(hi - lo for lo, hi in mask),
            strides,
            offset + sum(lo * s for (lo, _), s in zip(mask, strides, strict=True)),
        )
        out[tuple(slice(lo, hi) for lo, hi in mask)] = view(
            flat, inner.shape, inner.strides, inner.offset, None
        )
    return out


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


def rand(
    kind: str, seed: int, counter: int, extra: tuple, shape: tuple[int, ...], dtype: str
) -> np.ndarray:
    """Random numbers from Philox keyed by (seed, counter): the same on every run and device."""
    # (seed, counter) is the 128-bit key: every draw gets its own stream (a shared key with
    # different counters would give overlapping, shifted streams).
    key = np.array([seed % 2**64, counter % 2**64], dtype=np.uint64)
    gen = np.random.Generator(np.random.Philox(key=key))
    if kind == "uniform":
        return gen.random(shape, dtype=np.float64).astype(dtype)
    if kind == "normal":
        return gen.standard_normal(shape, dtype=np.float64).astype(dtype)
    low, high = extra
    return gen.integers(low, high, shape).astype(dtype)


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


SHORT_ROW = 16  # a max over rows this short, and at least MANY_ROWS of them, goes by columns
MANY_ROWS = 128


def _short_rows(shape: tuple[int, ...], axes: tuple[int, ...]) -> bool:
    """Whether a reduction over `axes` of `shape` is over many short rows (the last axis)."""
    rows = math.prod(shape[:-1])
    return axes == (len(shape) - 1,) and 1 < shape[-1] <= SHORT_ROW and rows >= MANY_ROWS


def max_by_columns(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """The max over `x`'s last axis into `out` (that axis kept as 1), one whole column at a
    time: NumPy's reduce walks each short row alone (60 ns a row of 10: a cross-entropy's
    4096x10 max 236 -> 22 us). The same values, since max does not depend on the order
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
}


# ---- code generation ------------------------------------------------------------------------
def _literal(value: object, dtype: str) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        text = "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    else:
        text = repr(value)
    return f"np.{dtype}({text})"


KEPT_BYTES = 16384  # scratch arrays up to this size stay with their kernel


class _Renderer:
    """Renders one kernel: assigns names and scratch arrays, emits one line per node."""

    def __init__(self, kernel: Kernel, chunked: bool = True):
        self.kernel = kernel
        # elements per pass of a long elementwise chain over big arrays (None: one pass)
        self.chunk = _chunk_length(kernel) if chunked else None
        self.region = set(kernel.nodes)
        self.outputs = set(kernel.output_nodes)
        # statements; a tuple (kind, name, statement) where a scratch array comes into use
        self.lines: list[str | tuple[str, str, str]] = []
        self.expr: dict[Node, str] = {}  # how generated code refers to each node's value
        self.flat: dict[Node, str] = {}  # kernel inputs: the flat argument arrays
        self.slot_of: dict[Node, str] = {}  # node -> scratch array holding its value
        self.free: dict[tuple, list[str]] = {}
        self.count = 0
        self.index = 0
        self.sizes: dict[str, tuple[tuple[int, ...], str, int]] = {}  # slot -> shape, dtype, bytes
        self.donated = set(kernel.donated)  # dying inputs this kernel may write over
        # views rendered with size-1 dims where they broadcast: ufuncs broadcast those
        # themselves; other ops get np.broadcast_to
        self.compact: set[Node] = set()
        self.last_use = self._liveness()

    def owner(self, node: Node) -> Node:
        """The node whose scratch array holds `node`'s value (views and copies alias it)."""
        while node.op in (Op.VIEW, Op.CONTIGUOUS) and (
            node.src[0] in self.region or node.src[0] in self.donated
        ):
            node = node.src[0]
        return node

    def _liveness(self) -> dict[Node, int]:
        last: dict[Node, int] = {}
        for i, n in enumerate(self.kernel.nodes):
            for s in n.src:
                if s in self.region or s in self.donated:
                    last[self.owner(s)] = i
        for n in self.outputs:
            last[self.owner(n)] = len(self.kernel.nodes)
        return last

    def render(self) -> str:
        k = self.kernel
        for i, n in enumerate(k.param_nodes):
            self.expr[n] = f"p{i}"
        for i, n in enumerate(k.input_nodes):
            self.flat[n] = f"x{i}"
            self.expr[n] = f"x{i}" if n.shape == (n.numel,) else f"x{i}.reshape({n.shape})"
            if self.chunk and n.numel > 1:  # flat inputs, read a chunk at a time
                self.expr[n] = f"x{i}[_a:_b]"
            if n in self.donated:  # this kernel owns the array now: a scratch array like others
                self.lines.append(("donated", f"d{i}", f"d{i} = {self.expr[n]}"))
                self.expr[n] = self.slot_of[n] = f"d{i}"
        for i, n in enumerate(k.nodes):
            self.index = i
            self.emit(n)
            for d in {self.owner(s) for s in n.src if s in self.region or s in self.donated}:
                if (
                    self.last_use.get(d) == i
                    and d in self.slot_of
                    and self.slot_of.get(n) != self.slot_of[d]
                ):
                    self.free.setdefault((d.shape, d.dtype.name), []).append(self.slot_of[d])
        rets, leaving = self.outputs_of()
        if self.chunk and any(r.startswith("_own(") for r in rets):
            return _Renderer(k, chunked=False).render()  # an output that is no slot: one pass
        params = ", ".join(
            [f"x{i}" for i in range(len(k.input_nodes))]
            + [f"p{i}" for i in range(len(k.param_nodes))]
        )
        if self.chunk:  # every scratch array is a chunk of the call's: none is kept
            kept: list[str] = []
            body, pooled, rets = self.place_chunked(leaving, rets)
        else:
            kept, body, pooled = self.place_slots(leaving)
        return "\n".join(
            [
                *kept,
                f"def kernel({params}):",
                *(["    _scratch = []"] if pooled else []),
                *body,
                *(["    _release(_scratch)"] if pooled else []),
                f"    return ({', '.join(rets)},)",
                "",
            ]
        )

    def place_chunked(
        self, leaving: set[str], rets: list[str]
    ) -> tuple[list[str], bool, list[str]]:
        """`place_slots` for a kernel that runs a chunk at a time: outputs (and donated
        inputs) are whole arrays made before the loop, other scratch arrays hold one chunk,
        and each pass binds every name to its chunk. Returns the body's lines, whether
        anything goes back to the pool, and the returned expressions."""
        n, chunk = self.kernel.output_nodes[0].numel, self.chunk
        before, bind, body = [], [], []
        whole: dict[str, str] = {}
        for line in self.lines:
            if isinstance(line, str):
                body.append(f"        {line}")
                continue
            kind, name, statement = line
            back = "" if name in leaving else f"; _scratch.append(_w{name})"
            if kind == "donated":  # the input array itself (passed flat)
                shape = self.kernel.input_nodes[int(name[1:])].shape
                before.append(f"    _w{name} = x{name[1:]}.reshape({shape}){back}")
                bind.append(f"        {name} = x{name[1:]}[_a:_b]")
            elif name in leaving:
                shape, dtype, _ = self.sizes[name]
                flat = f"_w{name}" if len(shape) == 1 else f"_f{name}"
                before.append(f"    _w{name} = _take({shape}, '{dtype}')")
                if len(shape) != 1:
                    before.append(f"    {flat} = _w{name}.reshape(-1)")
                bind.append(f"        {name} = {flat}[_a:_b]")
            else:
                dtype = self.sizes[name][1]
                before.append(f"    _w{name} = _take(({chunk},), '{dtype}'){back}")
                bind.append(f"        {name} = _w{name}[: min(_b, {n}) - _a]")
            whole[name] = f"_w{name}"
        loop = [f"    for _a in range(0, {n}, {chunk}):", f"        _b = _a + {chunk}"]
        pooled = any(name not in leaving for name in whole)
        return [*before, *loop, *bind, *body], pooled, [whole.get(r, r) for r in rets]

    def outputs_of(self) -> tuple[list[str], set[str]]:
        """How the kernel returns each output: the scratch array holding it (which then
        leaves the kernel), else a copy (`_own`); and the names of the arrays that leave."""
        rets: list[str] = []
        leaving: set[str] = set()
        for n in self.kernel.output_nodes:
            expr, slot = self.expr[n], self.slot_of.get(self.owner(n))
            whole = slot is not None and expr in (slot, f"{slot}.reshape({n.shape})")
            if whole and slot not in leaving and self.slot_numel(slot) == n.numel:
                leaving.add(slot)  # type: ignore[arg-type]
                rets.append(expr)
            else:
                rets.append(f"_own({expr}, {n.shape}, '{n.dtype.name}')")
        return rets, leaving

    def slot_numel(self, slot: str) -> int:
        if slot in self.sizes:
            return math.prod(self.sizes[slot][0])
        owner = next(n for n, name in self.slot_of.items() if name == slot)
        return owner.numel

    def place_slots(self, leaving: set[str]) -> tuple[list[str], list[str], bool]:
        """Where each scratch array comes from. Small ones that never leave the kernel are
        made once, with the kernel (module-level lines), instead of being taken from the
        pool and given back on every call; arrays that leave are the kernel's outputs;
        the others go back to the pool at the end (`_release`). Returns the module-level
        lines, the body's, and whether any array goes back to the pool."""
        kept, body = [], []
        pooled = False
        for line in self.lines:
            if isinstance(line, str):
                body.append(f"    {line}")
                continue
            kind, name, statement = line
            if kind == "new":
                shape, dtype, nbytes = self.sizes[name]
                if name not in leaving and nbytes <= KEPT_BYTES:
                    kept.append(f"{name} = np.empty({shape}, '{dtype}')  # kept between calls")
                    continue
                statement = f"{name} = _take({shape}, '{dtype}')"
            back = "" if name in leaving else f"; _scratch.append({name})"
            pooled = pooled or bool(back)
            body.append(f"    {statement}{back}")
        return kept, body, pooled

    def new_slot(self, node: Node, reuse: list[Node]) -> str:
        """A scratch array for `node`: an operand's that dies here, a free one, or a new one."""
        key = (node.shape, node.dtype.name)
        for s in reuse:
            o = self.owner(s)
            if (
                o in self.slot_of
                and (o.shape, o.dtype.name) == key
                and s.shape == node.shape
                and self.last_use.get(o) == self.index
            ):
                return self.slot_of[o]
        if self.free.get(key):
            return self.free[key].pop()
        name = f"s{self.count}"
        self.count += 1
        self.sizes[name] = (node.shape, node.dtype.name, node.numel * node.dtype.itemsize)
        self.lines.append(("new", name, ""))  # a kept array or a pooled one: see place_slots
        return name

    def emit(self, n: Node) -> None:
        op, dtype = n.op, n.dtype.name
        a = [self.operand(s) for s in n.src]
        if op not in ELEMENTWISE:  # only ufuncs broadcast by themselves
            a = [
                f"np.broadcast_to({e}, {s.shape})" if self.is_scalar(s) or s in self.compact else e
                for e, s in zip(a, n.src, strict=True)
            ]
        if op is Op.VIEW:
            self.expr[n] = self.render_view(n)
        elif op in _SCALARS:
            self.expr[n] = self.operand(n)
        elif op is Op.ARANGE:
            self.expr[n] = self.arange(n)
        elif op is Op.CONTIGUOUS:
            self.expr[n] = a[0]
        elif op is Op.RAND:
            kind, _seed, _counter, *extra = n.arg  # type: ignore[misc]
            slot, key = f"s{self.count}", self.expr[n]
            self.count += 1
            self.expr[n] = self.slot_of[n] = slot
            statement = (
                f"{slot} = _rand({kind!r}, {key}[1], {key}[2], {tuple(extra)}, "
                f"{n.shape}, '{dtype}')"
            )
            self.lines.append(("rand", slot, statement))
        elif op in ELEMENTWISE:
            self.elementwise(n, a)
        elif op in REDUCE_OPS:
            slot = self.new_slot(n, [])
            fn = OP_TABLE[op].np
            if op is Op.RMAX and _short_rows(n.src[0].shape, n.arg):  # type: ignore[arg-type]
                self.line(n, slot, f"_max_by_columns({a[0]}, {slot})")
            else:
                self.line(n, slot, f"{fn}({a[0]}, axis={n.arg}, keepdims=True, out={slot})")
        elif op is Op.DOT:
            slot = self.new_slot(n, [])
            self.line(n, slot, f"np.matmul({a[0]}, {a[1]}, out={slot})")
        elif op is Op.GATHER:
            slot = self.new_slot(n, [])
            self.line(n, slot, f"_gather({a[0]}.reshape(-1), {a[1]}, out={slot})")
        elif op is Op.SCATTER:
            self.scatter(n, a)
        else:
            raise AssertionError(f"the NumPy backend cannot render {op}")

    @staticmethod
    def is_scalar(s: Node) -> bool:
        """Whether `s` renders as a NumPy scalar literal rather than an array."""
        return s.op in _SCALARS or (
            s.op is Op.VIEW and s.src[0].op in _SCALARS and s.arg.mask is None
        )  # type: ignore[union-attr]

    def operand(self, s: Node) -> str:
        """How generated code names the value of `s` (inputs, earlier results, scalars)."""
        if s in self.expr:
            return self.expr[s]
        if s.op is Op.CONST:
            return _literal(s.arg, s.dtype.name)
        return self.arange(s)

    def line(self, n: Node, slot: str, statement: str) -> None:
        self.lines.append(f"{statement}  # {n.op.value} {n.dtype.name}{list(n.shape)}")
        self.expr[n] = slot
        self.slot_of[n] = slot

    def elementwise(self, n: Node, a: list[str]) -> None:
        op = n.op
        if op is Op.WHERE:
            slot = self.new_slot(n, [n.src[1]])
            self.line(n, slot, f"_select({a[0]}, {a[1]}, {a[2]}, {slot})")
        elif op is Op.CAST:
            slot = self.new_slot(n, [])
            self.line(n, slot, f"np.copyto({slot}, {a[0]}, casting='unsafe')")
        else:
            fn = "np.logical_not" if op is Op.NOT and n.dtype.name == "bool" else OP_TABLE[op].np
            if op is Op.POW and n.dtype.category == 1:
                fn = "_int_power"  # reads its operands after writing: never over one of them
            slot = self.new_slot(n, [] if fn == "_int_power" else list(n.src))
            self.line(n, slot, f"{fn}({', '.join(a)}, out={slot})")

    def scatter(self, n: Node, a: list[str]) -> None:
        slot = self.new_slot(n, [])
        flat, idx = f"{slot}.reshape(-1)", f"{a[1]}.reshape(-1)"
        vals = f"np.broadcast_to({a[2]}, {n.src[1].shape}).reshape(-1)"
        write = f"_scatter({flat}, {idx}, {vals}, {n.arg == 'add'})"
        self.line(n, slot, f"{slot}[...] = {a[0]}; {write}")

    def arange(self, n: Node) -> str:
        start, step = n.arg  # type: ignore[misc]
        return f"_arange({start!r}, {step!r}, {n.shape[0]}, '{n.dtype.name}')"

    def render_view(self, n: Node) -> str:
        base, v = n.src[0], n.arg
        assert isinstance(v, View)
        if base.op in _SCALARS:
            lit = self.operand(base)
            if v.mask is None:
                return lit
            return f"_view(np.full(1, {lit}), {v.shape}, {v.strides}, 0, {v.mask})"
        if base in self.region:  # a reduce read back: the same elements, or broadcast
            src = self.expr[base]
            if v.numel == base.numel:
                return f"{src}.reshape({v.shape})"
            self.compact.add(n)  # kept with its reduced dims as 1s
            return src
        flat = self.flat[base] if base in self.flat else f"{self.arange(base)}"
        if self.chunk:  # the same elements (see _chunk_length): this pass's chunk
            return f"{flat}[_a:_b]" if v.numel > 1 else flat
        if v.is_contiguous() and v.numel == base.numel:
            return f"{flat}.reshape({v.shape})"
        plain = _plain_view(v, base.numel)
        if plain is None:
            return f"_view({flat}, {v.shape}, {v.strides}, {v.offset}, {v.mask})"
        block, sizes, perm, shape = plain
        if shape != v.shape:
            self.compact.add(n)
        if perm == tuple(range(len(perm))):  # the block in order: one reshape
            return f"{flat}{block}.reshape({shape})"
        expr = f"{flat}{block}.reshape({sizes}).transpose({perm})"
        permuted = tuple(sizes[p] for p in perm)
        return expr if permuted == shape else f"{expr}.reshape({shape})"


def _plain_view(v: View, numel: int) -> tuple[str, tuple, tuple, tuple] | None:
    """A view that reads a contiguous block of a flat array with its axes permuted and
    broadcast, as (block slice, block sizes, permutation, shape with 1s where it
    broadcasts): NumPy's own reshape/transpose build that in a fraction of `as_strided`'s
    time. None for other views (masked, overlapping, negative strides)."""
    if v.mask is not None:
        return None
    axes = [i for i, (n, st) in enumerate(zip(v.shape, v.strides, strict=True)) if n != 1 and st]
    order = sorted(axes, key=lambda i: -v.strides[i])
    expected = 1
    for i in reversed(order):
        if v.strides[i] != expected:
            return None
        expected *= v.shape[i]
    if v.offset < 0 or v.offset + expected > numel:
        return None
    block = "" if v.offset == 0 and expected == numel else f"[{v.offset}:{v.offset + expected}]"
    sizes = tuple(v.shape[i] for i in order)
    perm = tuple(sorted(range(len(order)), key=lambda j: order[j]))
    shape = tuple(n if i in axes else 1 for i, n in enumerate(v.shape))
    return block, sizes, perm, shape


CHUNK = 32768  # elements per pass: a few arrays of a chunk stay in a core's L2 cache
CHUNK_MIN_ELEMENTS = 1 << 20
CHUNK_MIN_OPS = 4


def _chunk_length(kernel: Kernel) -> int | None:
    """CHUNK when `kernel` is a chain of at least CHUNK_MIN_OPS elementwise ops over the
    same elements of big arrays (inputs read in order, or scalars): run a chunk at a time,
    the chain's intermediates stay in cache (W1's 7-op chain: 74 -> 46 ms); None else."""
    n = kernel.output_nodes[0].numel
    if kernel.kind != "elementwise" or n < CHUNK_MIN_ELEMENTS:
        return None
    if any(o.numel != n for o in kernel.output_nodes):
        return None
    if any(x.numel not in (n, 1) for x in kernel.input_nodes):
        return None
    ops = 0
    for node in kernel.nodes:
        if node.op in _SCALARS:
            continue
        if node.op is Op.VIEW:
            base, view = node.src[0], node.arg
            same = view.mask is None and (  # type: ignore[union-attr]
                base.op in _SCALARS
                or (
                    base in kernel.input_nodes
                    and view.is_contiguous()  # type: ignore[union-attr]
                    and view.numel == base.numel  # type: ignore[union-attr]
                )
            )
            if not same:
                return None
        elif node.op in ELEMENTWISE and node.numel == n:
            ops += 1
        elif node.op is not Op.CONTIGUOUS or node.numel != n:
            return None
    return CHUNK if ops >= CHUNK_MIN_OPS else None


def render(kernel: Kernel) -> str:
    """Python source of the function that runs `kernel` on NumPy arrays."""
    body = _Renderer(kernel).render()
    return f"# {kernel.name}: {', '.join(kernel.ops)}\n{body}"


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


# distinct kernel sources kept compiled for new kernels (a cached schedule's kernels hold
# their own functions, on `Kernel.compiled`, whatever leaves this table)
COMPILED_KERNELS = 1024
_compiled: dict[str, KernelFn] = {}  # source body -> function, in order of last use


def compile_kernel(kernel: Kernel) -> KernelFn:
    """The callable for `kernel`, compiled once per distinct source (and kept on the kernel,
    which a cached schedule runs again and again, whatever leaves `_compiled` meanwhile)."""
    if kernel.compiled is not None:
        return kernel.compiled  # type: ignore[return-value]
    source = kernel.source
    body = source.split("\n", 1)[1]
    fn = lru.get(_compiled, body)
    if fn is None:
        fn = _compile(source, kernel.name)
        remember(_compiled, body, fn, COMPILED_KERNELS, "NumPy kernel")
    kernel.compiled = fn
    return fn


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


def _copied_to_host(kernel: Kernel, source_buffer: object) -> np.ndarray:
    """A transfer to the CPU: the source's values read through the kernel's view (if any),
    as a new array this backend owns."""
    out = kernel.output_nodes[0]
    source = out.src[0]
    host = to_host(source_buffer)
    if source.op is Op.VIEW and source not in kernel.input_nodes:
        v = source.arg
        host = view(host, v.shape, v.strides, v.offset, v.mask)  # type: ignore[union-attr]
    return np.array(host, dtype=out.dtype.np).reshape(out.shape)


def run(kernel: Kernel, inputs: list, params: list | tuple = ()) -> list:
    """Run `kernel` on CPU buffers with its scalar arguments; returns the output buffers."""
    if kernel.kind == "copy":
        arrays = [_copied_to_host(kernel, inputs[0])]
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
    """Scalar arguments as NumPy scalars of their node's dtype (random draws' keys as is)."""
    return [
        v if p.op is Op.RAND else p.dtype.np.type(v)
        for p, v in zip(param_nodes, values, strict=True)
    ]


def _pooled_buffer(node: Node, array: np.ndarray) -> Buffer:
    """A CPU buffer for a kernel's output array, which returns to the pool with it."""
    buf = Buffer("cpu", node.dtype, array.size, host=array.reshape(-1))
    buf.release = (pool.give, array)
    return buf


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
        return all(k.device == "cpu" and k.kind != "copy" for k in sched.kernels)

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


def to_host(buf: object) -> np.ndarray:
    """The flat host array of a buffer on any device."""
    if buf.host is None:  # type: ignore[attr-defined]
        from ..realize import backend_for

        return backend_for(buf.device).to_host(buf)  # type: ignore[attr-defined]
    return buf.host  # type: ignore[attr-defined]
