"""The NumPy code generator: one Python function per fused kernel.

Each IR node becomes one NumPy statement named after its op. Values live in
scratch arrays assigned by liveness: an op writes over an operand that dies at
it (`np.exp(s0, out=s0)`), so a chain of elementwise ops touches one array.
Views are read in place (reshape/transpose, else `as_strided`); contractions call
`np.matmul` (BLAS). A long elementwise chain over big arrays loops over chunks that stay
in cache. The generated code calls the helpers of `runtime.cpu` by their `_` names.
"""

from __future__ import annotations

import math

from ..ir.node import Node
from ..ir.ops import ELEMENTWISE, OP_TABLE, REDUCE_OPS, Op
from ..ir.schedule import Kernel
from ..ir.view import View

_SCALARS = (Op.CONST, Op.PARAM)

SHORT_ROW = 16  # a max over rows this short, and at least MANY_ROWS of them, goes by columns
MANY_ROWS = 128


def _short_rows(shape: tuple[int, ...], axes: tuple[int, ...]) -> bool:
    """Whether a reduction over `axes` of `shape` is over many short rows (the last axis)."""
    rows = math.prod(shape[:-1])
    return axes == (len(shape) - 1,) and 1 < shape[-1] <= SHORT_ROW and rows >= MANY_ROWS


# ---- code generation ------------------------------------------------------------------------
def _literal(value: object, dtype: str) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        text = "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    else:
        text = repr(value)
    return f"{'' if dtype == 'bfloat16' else 'np.'}{dtype}({text})"  # (not in NumPy's names)


def _wide_accumulator(n: Node) -> str:
    """The `dtype=` argument that makes a float16 or bfloat16 sum, product or matmul
    accumulate in float32 and round once at the end, as PyTorch does ('' for other
    dtypes)."""
    return ", dtype=np.float32" if n.dtype.is_narrow_float else ""


_ERF_HELPER = "_erf = np.frompyfunc(__import__('math').erf, 1, 1)"

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
        self.helpers: set[str] = set()  # module-level definitions the statements call
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
                *sorted(self.helpers),
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
                wide = _wide_accumulator(n) if op is not Op.RMAX else ""
                self.line(n, slot, f"{fn}({a[0]}, axis={n.arg}, keepdims=True, out={slot}{wide})")
        elif op is Op.DOT:
            slot = self.new_slot(n, [])
            self.line(n, slot, f"np.matmul({a[0]}, {a[1]}, out={slot}{_wide_accumulator(n)})")
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
            source = a[0]
            if n.dtype.is_narrow_float and n.src[0].dtype.name not in ("float32", n.dtype.name):
                # through float32, as PyTorch converts (and OpenCL computes): rounding twice
                source = f"np.asarray({source}, np.float32)"
            self.line(n, slot, f"np.copyto({slot}, {source}, casting='unsafe')")
        elif op is Op.ERF:  # no NumPy ufunc: Python's math.erf over the elements
            slot = self.new_slot(n, list(n.src))
            self.helpers.add(_ERF_HELPER)
            self.line(n, slot, f"{slot}[...] = _erf({a[0]})")
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
    the chain's intermediates stay in cache; None else."""
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
