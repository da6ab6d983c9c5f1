"""Kernel templates: elementwise and reduce kernels (with fused prologues and epilogues) and
contractions, each rendered to an `OpenCLProgram` plus its launch plan.

Elementwise kernels run one work-item per element, or per `W` elements as explicit vectors.
Reduce kernels iterate one space (kept dims x reduced dims) and compute their reductions in
stages (a reduction joins the first stage after every reduction it reads), then the epilogue:
 - layout "a": one work-item per output row (or per `W` adjacent rows, as vector lanes), with
   a loop over the reduced elements — for many rows or short rows;
 - layout "b": a work-group per row (or `S` groups per row) whose work-items each reduce a part
   of the row, combined through a local-memory tree; with `S > 1` each stage is a partial
   kernel plus a small final kernel, and the epilogue is a third kernel reading their results.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

from ..dtypes import DType, bool_, int32
from ..ir.node import Node
from ..ir.ops import REDUCE_OPS, Op
from ..ir.schedule import Kernel
from ..ir.view import View
from .opencl import (
    ERROR_FLAG,
    VECTOR_DTYPES,
    Access,
    CodeContext,
    Emitter,
    SourceBuilder,
    SourceParts,
    Space,
    Target,
    Val,
    buf_type,
    combine,
    decompose,
    dims_keys,
    horizontal,
    identity,
    index_expr,
    kernel_function,
    loaded_view,
    make_access,
    positions_inside,
    storage_itemsize,
    uses_fp64,
    val_type,
    vector_ok,
)

# The dot product's accumulation may fuse `acc + a * b` into one rounding, as BLAS does; the
# kernels forbid that contraction elsewhere (elementwise code rounds as NumPy's does). On
# PoCL, W4 ran about 10 % slower without it; `mad()` instead ran 5x slower.
CONTRACT = "#pragma OPENCL FP_CONTRACT ON"


@dataclass(frozen=True)
class Launch:
    """One kernel launch of a program: function name and NDRange."""

    name: str
    global_size: tuple[int, ...]
    local_size: tuple[int, ...] | None


@dataclass(frozen=True)
class OpenCLProgram:
    """A rendered program: its source, launches in order, and the scratch buffers it needs.

    Every function takes the same arguments: outputs, inputs, temps, the error flag (see
    `checks_indices`), then constants."""

    parts: SourceParts
    launches: tuple[Launch, ...]
    temps: tuple[tuple[DType, int], ...] = ()
    const_dtypes: tuple[DType, ...] = ()

    @cached_property
    def source(self) -> str:
        """The program's OpenCL C."""
        return self.parts.text()


def written_over(kernel: Kernel) -> dict[int, int]:
    """Outputs of an elementwise kernel that share the buffer of an input dying there
    (output index -> input index): the input has the output's shape and dtype and is read as
    it is, so each work-item reads its elements before it writes the same elements. Not with
    a gather, which reads elements other work-items may have written already."""
    if not kernel.donated or kernel.kind != "elementwise":
        return {}
    if any(n.op is Op.GATHER for n in kernel.nodes):
        return {}
    pairs: dict[int, int] = {}
    for i, out in enumerate(kernel.output_nodes):
        for j, n in enumerate(kernel.input_nodes):
            if n in kernel.donated and j not in pairs.values():
                if (n.dtype, n.shape) == (out.dtype, out.shape):
                    pairs[i] = j
                    break
    return pairs


def checks_indices(kernel: Kernel) -> bool:
    """Whether a gather or scatter of `kernel` may meet a position outside its tensor (an
    index computed on the device): its functions then take the error flag after the temps."""
    inputs = set(kernel.input_nodes)
    return any(
        n.op in (Op.GATHER, Op.SCATTER) and not positions_inside(n, inputs) for n in kernel.nodes
    )


def signature(kernel: Kernel, temps: list[DType], consts: list[DType]) -> str:
    """The argument list shared by every function of a program (no `restrict` on the two
    arguments of a buffer written over): outputs, inputs, temps, the error flag of a kernel
    that `checks_indices`, then constants."""
    pairs = written_over(kernel)
    shared = set(pairs.values())
    args = [
        f"__global {buf_type(n.dtype)} *{'' if i in pairs else 'restrict '}o{i}"
        for i, n in enumerate(kernel.output_nodes)
    ]
    args += [
        f"__global const {buf_type(n.dtype)} *{'' if i in shared else 'restrict '}x{i}"
        for i, n in enumerate(kernel.input_nodes)
    ]
    args += [f"__global {buf_type(d)} *restrict t{i}" for i, d in enumerate(temps)]
    if checks_indices(kernel):
        args.append(f"__global int *restrict {ERROR_FLAG}")
    args += [f"const {val_type(d)} c{i}" for i, d in enumerate(consts)]
    return ", ".join(args)


def index_type(kernel: Kernel) -> str:
    """`int` unless some tensor or view reaches 2**31 elements."""
    limit = 2**31 - 1
    for n in [*kernel.nodes, *kernel.input_nodes]:
        if n.numel >= limit:
            return "long"
        if n.op is Op.VIEW:
            v: View = n.arg  # type: ignore[assignment]
            span = abs(v.offset) + sum(
                abs(s) * size for s, size in zip(v.strides, v.shape, strict=True)
            )
            if span >= limit:
                return "long"
    return "int"


BLOCK = 32  # steps per plain block sum inside a compensated (Kahan) float sum


def compensated(r: Node) -> bool:
    """Whether reduction `r` is a floating-point sum (accumulated with Kahan's method)."""
    return r.op is Op.SUM and r.dtype.is_floating_point


def pow2_at_least(n: int) -> int:
    """The smallest power of two >= n (1 for n <= 1)."""
    return 1 << max(0, (max(n, 1) - 1).bit_length())


class ReduceKernel:
    """Renders an elementwise or reduce kernel (see the module docstring for the layouts)."""

    def __init__(self, kernel: Kernel, const_slots: dict[Node, int], target: Target):
        self.kernel = kernel
        self.target = target
        self.ctx = CodeContext(kernel.nodes, kernel.input_nodes, const_slots, target)
        self.const_dtypes = [n.dtype for n in sorted(const_slots, key=const_slots.__getitem__)]
        reduces = [n for n in kernel.nodes if n.op in REDUCE_OPS]
        full = reduces[-1].src[0].shape if reduces else kernel.output_nodes[0].shape
        axes = set(reduces[-1].arg) if reduces else set()  # type: ignore[arg-type]
        keep = [i for i, n in enumerate(full) if n != 1]
        self.space = Space([full[i] for i in keep], [i in axes for i in keep])
        self.rows = math.prod(
            n for n, r in zip(self.space.sizes, self.space.reduced, strict=True) if not r
        )
        self.rn = math.prod(
            n for n, r in zip(self.space.sizes, self.space.reduced, strict=True) if r
        )
        self.row_sizes = [
            n for n, r in zip(self.space.sizes, self.space.reduced, strict=True) if not r
        ]
        self.stages = self._stages(reduces)
        self._accesses()
        self.sizes = self.space.group_sizes()
        red = self.space.group_reduced()
        self.kept = [g for g, r in enumerate(red) if not r]
        self.red = [g for g, r in enumerate(red) if r]
        self._choose_layout()
        self.stash = self._choose_stash()

    # ---- analysis -----------------------------------------------------------------------
    def is_row(self, n: Node) -> bool:
        """Whether `n` lives in the reduced space (one value per row)."""
        return self.rn != 1 and [d for d in n.shape if d != 1] == self.row_sizes

    def _positions(self, n: Node) -> list[int]:
        if self.is_row(n):
            return [p for p, r in enumerate(self.space.reduced) if not r]
        return list(range(len(self.space.sizes)))

    def _stages(self, reduces: list[Node]) -> list[list[Node]]:
        after: dict[Node, int] = {}
        for n in self.kernel.nodes:
            level = max((after.get(s, -1) for s in n.src), default=-1)
            after[n] = level + 1 if n.op in REDUCE_OPS else level
        stages: list[list[Node]] = [
            [] for _ in range(max((after[r] for r in reduces), default=-1) + 1)
        ]
        for r in reduces:
            stages[after[r]].append(r)
        return stages

    def _accesses(self) -> None:
        ctx, region = self.ctx, self.ctx.region
        leaves = ctx.leaves(self.kernel.output_nodes)
        raw = {}
        for leaf in leaves:
            base, view = loaded_view(leaf, region, ctx.inputs)
            raw[leaf] = make_access(base, view, dims_keys(leaf.shape, self._positions(leaf)))
        outs = [
            make_access(None, View.contiguous(o.shape), dims_keys(o.shape, self._positions(o)))
            for o in self.kernel.output_nodes
        ]
        self.space.coalesce([*raw.values(), *outs])
        for leaf, acc in raw.items():
            ctx.access[leaf] = self.space.regroup(acc)
        self.out_access = [self.space.regroup(a) for a in outs]

    def _choose_layout(self) -> None:
        t, rn = self.target, self.rn
        rows = max(1, self.rows)  # no rows at all (a reduce of a (2, 0) tensor over dim 0)
        cu = max(1, t.compute_units)
        self.layout, self.splits, self.local = "a", 1, 1
        if rn > 1 and t.is_gpu and rn > 32:
            self.layout = "b"
            self.local = min(256, t.max_work_group_size, pow2_at_least(rn // 4))
            self.splits = max(1, min(-(-4 * cu // rows), rn // (self.local * 64)))
        elif rn > 1 and not t.is_gpu and rows < 2 * cu:
            self.splits = max(1, min(-(-8 * cu // rows), rn // 4096))
            self.layout = "b" if self.splits > 1 else "a"
        self.width, self.vkey, self.mode = 1, None, ""
        last = len(self.sizes) - 1
        if last < 0:
            return
        mode = "r" if last in self.red else "k"
        if mode == "k" and self.layout == "b":
            return
        for w in t.vector_widths:
            if mode == "k" and rn > 1 and rows // w < 2 * cu:
                continue  # lanes over rows would leave compute units idle
            if self.sizes[last] % w == 0 and self._vectorizable(mode, last):
                self.width, self.vkey, self.mode = w, last, mode
                return

    def _choose_stash(self) -> tuple[Node, int] | None:
        """A value the last stage reduces that the epilogue computes again (softmax's `exp`),
        with a full-space output of its dtype: the last stage stores the value there and the
        epilogue reads it back instead of computing it twice.
        Both loops visit the same elements in the same work-item, so each reads back only
        what it wrote."""
        if self.splits != 1 or self.rn == 1 or not self.stages:
            return None
        outs = self.kernel.output_nodes
        full = [i for i, o in enumerate(outs) if not self.is_row(o)]
        needed: set[Node] = set()  # what the epilogue computes (reductions are done by then)
        stack = [outs[i] for i in full]
        while stack:
            n = stack.pop()
            if n not in needed and n in self.ctx.region:
                needed.add(n)
                if n.op not in REDUCE_OPS:
                    stack.extend(n.src)
        for r in self.stages[-1]:
            value = r.src[0]
            if value not in needed or self.ctx.is_leaf(value) or value.dtype == bool_:
                continue
            vector = self.ctx.vector.get(value, False)
            for i in full:
                if outs[i].dtype == value.dtype and self._vector_store(i) == vector:
                    return value, i
        return None

    def _vectorizable(self, mode: str, key: int) -> bool:
        """Whether every value varying along `key` can be computed as a vector."""
        ctx, vec = self.ctx, self.ctx.vector
        vec.clear()
        for n in ctx.order(self.kernel.output_nodes, lambda n: None):
            if ctx.is_leaf(n):
                acc = ctx.access[n]
                vec[n] = key in acc.terms
                ok = key not in acc.windows and (
                    not vec[n]
                    or (
                        acc.terms[key] == 1
                        and n.dtype in VECTOR_DTYPES
                        and acc.base is not None
                        and acc.base.op is not Op.ARANGE
                    )
                )
            elif n.op in REDUCE_OPS:
                vec[n] = mode == "k"
                ok = n.dtype.name in ("float32", "int32")
            else:
                vec[n] = any(vec.get(s, False) for s in ctx.operands(n))
                ok = not vec[n] or vector_ok(n)
            if not ok:
                return self._novector()
        return True

    def _novector(self) -> bool:
        self.ctx.vector.clear()
        return False

    # ---- rendering ----------------------------------------------------------------------
    def name(self, suffix: str = "") -> str:
        shape = "x".join(map(str, self.space.sizes)) or "scalar"
        kind = "reduce" if self.stages else "elementwise"
        return f"{kind}_{shape}{self.layout if self.stages else ''}{suffix}"

    def program(self) -> OpenCLProgram:
        """Render the kernel's program and launch plan."""
        src = SourceBuilder(index_type(self.kernel))
        src.fp64 = uses_fp64(self.kernel.nodes + self.kernel.input_nodes)
        reduces = [r for stage in self.stages for r in stage]
        temps: list[DType] = []
        if self.splits > 1:
            temps = [r.dtype for r in reduces for _ in (0, 1)]  # partials, then finals
        sig = signature(self.kernel, temps, self.const_dtypes)
        launches = []
        if self.splits == 1:
            launches.append(self._function(src, sig, "", self.stages, epilogue=True))
        else:
            full = any(not self.is_row(o) for o in self.kernel.output_nodes)
            for s, stage in enumerate(self.stages):
                last = s == len(self.stages) - 1 and not full
                launches.append(self._function(src, sig, f"_p{s}", [stage], partial=True))
                launches.append(self._final(src, sig, s, stage, reduces, last))
            if full:
                launches.append(self._function(src, sig, "_e", [], epilogue=True, loaded=reduces))
        temp_sizes = [self.rows * self.splits, self.rows] * len(reduces) if temps else []
        return OpenCLProgram(
            src.parts(),
            tuple(launches),
            tuple(zip(temps, temp_sizes, strict=True)),
            tuple(self.const_dtypes),
        )

    def _threads(self) -> int:
        if self.layout == "b":
            return self.rows * self.splits * self.local
        return self.rows // self.width if self.mode == "k" else self.rows

    def _launch(self, name: str) -> Launch:
        total = self._threads()
        if self.layout == "b":
            return Launch(name, (total,), (self.local,))
        if self.target.is_gpu:
            local = min(self.target.max_work_group_size, 4 * self.target.preferred_multiple)
        else:
            local = min(64, max(1, total // (4 * max(1, self.target.compute_units))))
            local = 1 << (local.bit_length() - 1)
        return Launch(name, (-(-max(total, 1) // local) * local,), (local,))

    def _function(
        self,
        src: SourceBuilder,
        sig: str,
        suffix: str,
        stages: list[list[Node]],
        partial: bool = False,
        epilogue: bool = False,
        loaded: list[Node] | None = None,
    ) -> Launch:
        name = self.name(suffix)
        head, names = self._prologue()
        em = Emitter(src, self.ctx, names, self.width, self.vkey)
        em.lines.extend(head)
        reduces = [r for stage in self.stages for r in stage]
        first = reduces.index(stages[0][0]) if stages else len(reduces)
        for j, r in enumerate(loaded if loaded is not None else reduces[:first]):
            em.define(r, Val(f"t{2 * j + 1}[row]", False))
        locals_: list[str] = []
        for stage in stages:
            self._stage(em, stage, reduces, partial, locals_)
        if epilogue:
            self._epilogue(em)
        src.functions.append(kernel_function(name, sig, locals_ + em.lines))
        return self._launch(name)

    def _prologue(self) -> tuple[list[str], dict[object, str]]:
        lines: list[str] = []
        if self.layout == "a":
            lines += ["idx_t gid = get_global_id(0);", f"if (gid >= {self._threads()}) return;"]
            lines.append(
                f"idx_t row = gid * {self.width};" if self.mode == "k" else "idx_t row = gid;"
            )
        else:
            lines += [
                "idx_t grp = get_group_id(0);",
                "int lid = get_local_id(0);",
                f"idx_t row = grp / {self.splits};",
                f"idx_t t = (grp % {self.splits}) * {self.local} + lid;",
            ]
        names: dict[object, str] = {}
        decompose("row", self.kept, [self.sizes[g] for g in self.kept], names, lines, "k")
        return lines, names

    def _bounds(self) -> tuple[str, str, int]:
        """(first, end, step) of this thread's reduced elements."""
        step = self.width if self.mode == "r" else 1
        if self.layout == "a":
            return "0", str(self.rn), step
        if self.target.is_gpu:
            return f"t * {step}", str(self.rn), self.splits * self.local * step
        per = -(-self.rn // (self.splits * self.local * step)) * step
        return f"t * {per}", f"min((idx_t){self.rn}, t * {per} + {per})", step

    def _loop(self, em: Emitter, block: list[str] | None = None) -> int:
        """Open the loop over this thread's reduced elements; returns how many were opened.

        With `block` (declarations), the loop runs in blocks of `BLOCK` steps: the
        declarations open each block, so block sums stay short (see `_stage`)."""
        if self.rn == 1:
            return 0
        first, end, step = self._bounds()
        if block is None:
            em.open(f"for (idx_t r = {first}; r < {end}; r += {step})")
        else:
            em.open(f"for (idx_t rb = {first}; rb < {end}; rb += {BLOCK * step})")
            em.lines += block
            em.open(
                f"for (idx_t r = rb; r < min((idx_t)({end}), rb + {BLOCK * step}); r += {step})"
            )
        decompose("r", self.red, [self.sizes[g] for g in self.red], em.names, em.lines, "r")
        return 1 if block is None else 2

    def _emit_row(self, em: Emitter, targets: list[Node]) -> None:
        em.emit([n for n in self.ctx.order(targets, em.lookup) if self.is_row(n)])

    def _stage(
        self, em: Emitter, stage: list[Node], reduces: list[Node], partial: bool, locals_: list[str]
    ) -> None:
        """Reduce every node of `stage` over this thread's elements, then across threads.

        Floating-point sums add plain block sums of `BLOCK` steps with Kahan's method, which
        keeps float32 accuracy on long rows without a long dependency chain per element."""
        srcs = [r.src[0] for r in stage]
        self._emit_row(em, srcs)
        width = self.width if self.mode in ("k", "r") else 1
        accs, block = [], []
        for r in stage:
            j, t = reduces.index(r), val_type(r.dtype, width)
            init = identity(r.op, r.dtype)
            init = f"(({t})({init}))" if width > 1 else init
            em.lines.append(f"{t} acc{j} = {init};")
            if compensated(r) and self.rn > 1:
                em.lines.append(f"{t} err{j} = {init};")
                block.append(f"{t} blk{j} = {init};")
            accs.append(f"blk{j}" if compensated(r) and self.rn > 1 else f"acc{j}")
        opened = self._loop(em, block or None)
        em.emit(srcs)
        for r, s, acc in zip(stage, srcs, accs, strict=True):
            val = em.lookup(s)
            assert val is not None
            value = em.vector(val, s.dtype) if width > 1 else val.expr
            em.lines.append(f"{acc} = {combine(r.op, r.dtype, acc, value, em.src)};")
            if self.stash is not None and self.stash[0] is s and stage is self.stages[-1]:
                i = self.stash[1]
                em.store(f"o{i}", self.out_access[i], val, s.dtype, self._vector_store(i))
        if opened:
            em.close()
        for r, acc in zip(stage, accs, strict=True):
            if acc.startswith("blk"):
                self._kahan(em, acc.replace("blk", ""), val_type(r.dtype, width))
        if opened == 2:
            em.close()
        for r in stage:
            j = reduces.index(r)
            res = f"acc{j}"
            if self.mode == "r":
                res = horizontal(r.op, r.dtype, res, self.width, em.src, em.lines, f"h{j}")
            if self.layout == "b" and self.local > 1:
                res = self._tree(em, r, res, f"lds{j}", locals_)
            if partial:
                em.lines.append(f"if (lid == 0) t{2 * j}[grp] = {res};")
            em.define(r, Val(res, self.mode == "k"))

    @staticmethod
    def _kahan(em: Emitter, j: str, t: str) -> None:
        """acc += blk with error compensation (skipped once the sum is not finite)."""
        em.lines += [
            f"{t} y{j} = blk{j} - err{j};",
            f"{t} s{j} = acc{j} + y{j};",
            f"err{j} = isfinite(s{j}) ? (s{j} - acc{j}) - y{j} : ({t})(0);",
            f"acc{j} = s{j};",
        ]

    def _tree(self, em: Emitter, r: Node, value: str, lds: str, locals_: list[str]) -> str:
        """Combine one value per work-item through local memory; every item gets the result."""
        t = val_type(r.dtype)
        locals_.append(f"__local {t} {lds}[{self.local}];")
        step = combine(r.op, r.dtype, f"{lds}[lid]", f"{lds}[lid + s]", em.src)
        em.lines += [
            f"{lds}[lid] = {value};",
            "barrier(CLK_LOCAL_MEM_FENCE);",
            f"for (int s = {self.local // 2}; s > 0; s >>= 1) {{",
            f"  if (lid < s) {lds}[lid] = {step};",
            "  barrier(CLK_LOCAL_MEM_FENCE);",
            "}",
            f"{t} {lds}_all = {lds}[0];",
        ]
        return f"{lds}_all"

    def _final(
        self,
        src: SourceBuilder,
        sig: str,
        s: int,
        stage: list[Node],
        reduces: list[Node],
        outputs: bool,
    ) -> Launch:
        """Combine the `splits` partial results of one stage per row (one work-item each);
        with `outputs`, also compute and store the kernel's (per-row) outputs."""
        name = self.name(f"_f{s}")
        lines = ["idx_t row = get_group_id(0);"]
        names: dict[object, str] = {}
        decompose("row", self.kept, [self.sizes[g] for g in self.kept], names, lines, "k")
        em = Emitter(src, self.ctx, names)
        em.lines = lines
        for j, r in enumerate(reduces):
            if r in stage:
                t = val_type(r.dtype)
                part = f"t{2 * j}[row * {self.splits} + i]"
                em.lines += [
                    f"{t} acc{j} = {identity(r.op, r.dtype)};",
                    f"for (idx_t i = 0; i < {self.splits}; i++) "
                    f"acc{j} = {combine(r.op, r.dtype, f'acc{j}', part, src)};",
                    f"t{2 * j + 1}[row] = acc{j};",
                ]
            em.define(r, Val(f"acc{j}" if r in stage else f"t{2 * j + 1}[row]", False))
        if outputs:
            self._epilogue(em, guard=False)
        src.functions.append(kernel_function(name, sig, em.lines))
        return Launch(name, (self.rows,), (1,))

    def _epilogue(self, em: Emitter, guard: bool = True) -> None:
        """Store the outputs: per-row ones once per row (by its first work-item when `guard`
        and several share a row), full-space ones over this thread's elements."""
        outs = list(zip(self.kernel.output_nodes, self.out_access, strict=True))
        rows = [(i, o, a) for i, (o, a) in enumerate(outs) if self.is_row(o)]
        full = [(i, o, a) for i, (o, a) in enumerate(outs) if not self.is_row(o)]
        self._emit_row(em, [o for o, _ in outs])
        if rows:
            guard = guard and self.layout == "b"
            if guard:
                em.open("if (t == 0)")
            em.emit([o for _, o, _ in rows])
            for i, o, a in rows:
                self._store(em, i, o, a)
            if guard:
                em.close()
        if full:
            self._full_loop(em, full)

    def _full_loop(self, em: Emitter, full: list[tuple[int, Node, Access]]) -> None:
        opened = self._loop(em)
        if self.stash is not None:
            value, i = self.stash
            em.define(
                value, em.reload(f"o{i}", self.out_access[i], value.dtype, self._vector_store(i))
            )
        em.emit([o for _, o, _ in full])
        for i, o, a in full:
            self._store(em, i, o, a)
        if opened:
            em.close()

    def _vector_store(self, i: int) -> bool:
        """Whether output `i` is written a vector at a time."""
        return self.vkey is not None and self.vkey in self.out_access[i].covered

    def _store(self, em: Emitter, i: int, o: Node, acc: Access) -> None:
        val = em.lookup(o)
        assert val is not None
        em.store(f"o{i}", acc, val, o.dtype, self._vector_store(i))


# ---- contractions ---------------------------------------------------------------------------
class DotKernel:
    """A contraction with its elementwise epilogue.

    CPU devices: both operands are first packed (through their views, zero-padded) into
    panels — A as [batch][M/RM][K][RM], B as [batch][N/WN][K][WN] — then each work-item keeps
    an RM x WN block in `RM` vector registers. GPUs: 64x64 tiles staged in local memory, each
    work-item of a 16x16 group computing 4x4 outputs. Either way the epilogue runs per output
    element on the accumulated value."""

    RM = 8

    def __init__(
        self,
        kernel: Kernel,
        const_slots: dict[Node, int],
        target: Target,
        tiled: bool | None = None,
    ):
        self.kernel = kernel
        self.target = target
        self.tiled = target.is_gpu if tiled is None else tiled
        self.ctx = CodeContext(kernel.nodes, kernel.input_nodes, const_slots, target)
        self.const_dtypes = [n.dtype for n in sorted(const_slots, key=const_slots.__getitem__)]
        self.dot = next(n for n in kernel.nodes if n.op is Op.DOT)
        a, b = self.dot.src
        self.batch = self.dot.shape[:-2]
        self.nb = math.prod(self.batch)
        self.m, self.k, self.n = a.shape[-2], a.shape[-1], b.shape[-1]
        self.acc_dtype = int32 if self.dot.dtype == bool_ else self.dot.dtype
        # lanes per panel row: 64 bytes, at most 16 (OpenCL's widest vector; 8-bit and 16-bit
        # types pack 16 too)
        self.wn = 64 // max(storage_itemsize(self.acc_dtype), 4)
        full = self.dot.shape
        self.keys = [self._key(d) for d in range(len(full)) if full[d] != 1]
        for leaf in self.ctx.leaves(kernel.output_nodes):
            base, view = loaded_view(leaf, self.ctx.region, self.ctx.inputs)
            self.ctx.access[leaf] = make_access(base, view, self._dims(leaf.shape))

    def _key(self, d: int) -> object:
        nd = len(self.dot.shape)
        return "m" if d == nd - 2 else ("n" if d == nd - 1 else f"b{d}")

    def _dims(self, shape: tuple[int, ...]) -> list[object | None]:
        """Keys of a node's dims in the output space (None for size-1 dims)."""
        positions = dims_keys(shape, list(range(len(self.keys))))
        return [None if p is None else self.keys[p] for p in positions]  # type: ignore[index]

    def operand_access(self, x: Node, inner: str, outer: str) -> Access:
        """The access of operand `x` (..., rows, cols) with its last two dims named."""
        base, view = loaded_view(x, self.ctx.region, self.ctx.inputs)
        nd = len(x.shape)
        keys: list[object | None] = [f"b{d}" for d in range(nd - 2)] + [outer, inner]
        return make_access(
            base, view, [k if s != 1 else None for k, s in zip(keys, x.shape, strict=True)]
        )

    def batch_names(self, lines: list[str]) -> dict[object, str]:
        names: dict[object, str] = {"m": "m", "n": "n", "k": "k"}
        real = [d for d, s in enumerate(self.batch) if s != 1]
        decompose("b", [f"b{d}" for d in real], [self.batch[d] for d in real], names, lines, "")
        return names

    def program(self) -> OpenCLProgram:
        """Render the pack and multiply kernels (CPU) or the tiled kernel (GPU)."""
        src = SourceBuilder(index_type(self.kernel))
        src.fp64 = uses_fp64(self.kernel.nodes + self.kernel.input_nodes)
        shape = f"{self.nb}x{self.m}x{self.k}x{self.n}"
        if self.tiled:
            sig = signature(self.kernel, [], self.const_dtypes)
            launch = self._tiled(src, sig, f"dot_tiled_{shape}")
            return OpenCLProgram(src.parts(), (launch,), (), tuple(self.const_dtypes))
        rm, wn = self.RM, self.wn
        mp, np_ = -(-self.m // rm), -(-self.n // wn)
        temps = (
            (self.acc_dtype, self.nb * mp * rm * self.k),
            (self.acc_dtype, self.nb * np_ * wn * self.k),
        )
        sig = signature(self.kernel, [t for t, _ in temps], self.const_dtypes)
        launches = (
            self._pack_operand(src, sig, f"dot_pack_a_{shape}", 0, ("m", "k"), "m", rm),
            self._pack_operand(src, sig, f"dot_pack_b_{shape}", 1, ("k", "n"), "n", wn),
            self._packed(src, sig, f"dot_{shape}", mp, np_),
        )
        return OpenCLProgram(src.parts(), launches, temps, tuple(self.const_dtypes))

    def _vector_panels(self, x: Node, dims: tuple[str, str], var: str, block: int) -> Access | None:
        """The access of operand `x` when each of its panel rows (`block` consecutive indices
        of dim `var` at one k) is one aligned vector of the input: no batch, mask or cast,
        and the dim contiguous. It is then packed a vector at a time instead of an element at
        a time (about twice as fast on PoCL)."""
        size = self.m if var == "m" else self.n
        if self.nb != 1 or size % block or x.dtype != self.acc_dtype:
            return None
        acc = self.operand_access(x, dims[1], dims[0])
        if acc.windows or acc.dead or acc.base not in self.ctx.inputs:
            return None
        if acc.terms.get(var) != 1 or acc.offset % block or acc.terms.get("k", 0) % block:
            return None
        return acc

    def _pack_vectors(
        self, src: SourceBuilder, sig: str, name: str, slot: int, acc: Access, var: str, block: int
    ) -> Launch:
        """Operand panels (see `_pack`), one vector of `block` elements per work-item."""
        vt = f"{val_type(self.acc_dtype)}{block}"
        panels = (self.m if var == "m" else self.n) // block
        index, _ = index_expr(acc, {"k": "k", var: f"p * {block}"})
        base = self.ctx.input_name(acc.base)  # type: ignore[arg-type]
        total = panels * self.k
        lines = [
            "idx_t gid = get_global_id(0);",
            f"if (gid >= {total}) return;",
            f"idx_t k = gid % {self.k}, p = gid / {self.k};",
            f"*(__global {vt} *)(t{slot} + gid * {block}) = "
            f"*(__global const {vt} *)({base} + {index});",
        ]
        self._function(src, sig, name, lines)
        return Launch(name, (-(-max(total, 1) // 64) * 64,), (64,))

    def _pack_operand(
        self,
        src: SourceBuilder,
        sig: str,
        name: str,
        slot: int,
        dims: tuple[str, str],
        var: str,
        block: int,
    ) -> Launch:
        """Pack operand `slot` (0: A by rows, 1: B by columns) a vector or an element at a
        time."""
        x = self.dot.src[slot]
        acc = self._vector_panels(x, dims, var, block)
        if acc is not None:
            return self._pack_vectors(src, sig, name, slot, acc, var, block)
        return self._pack(src, sig, name, slot, x, dims, var, block)

    def _pack(
        self,
        src: SourceBuilder,
        sig: str,
        name: str,
        slot: int,
        x: Node,
        dims: tuple[str, str],
        var: str,
        block: int,
    ) -> Launch:
        """Copy operand `x` (its last two dims named `dims`) into zero-padded panels of
        `block` indices of dim `var` (rows of A, columns of B)."""
        size = self.m if var == "m" else self.n
        panels = -(-size // block)
        total = self.nb * panels * block * self.k
        lines = [
            "idx_t gid = get_global_id(0);",
            f"if (gid >= {total}) return;",
            f"idx_t e = gid % {block};",
            f"idx_t k = (gid / {block}) % {self.k};",
            f"idx_t p = (gid / {block * self.k}) % {panels};",
            f"idx_t b = gid / {block * self.k * panels};",
        ]
        names = self.batch_names(lines)
        lines.append(f"idx_t {var} = p * {block} + e;")
        em = Emitter(src, self.ctx, names)
        em.lines = lines
        t = val_type(self.acc_dtype)
        em.lines.append(f"{t} value = 0;")
        em.open(f"if ({var} < {size})")
        val = em.load(x, self.operand_access(x, dims[1], dims[0]))
        em.lines.append(f"value = ({t})({val.expr});")
        em.close()
        em.lines.append(f"t{slot}[gid] = value;")
        self._function(src, sig, name, em.lines)
        return Launch(name, (-(-max(total, 1) // 64) * 64,), (64,))

    def _function(
        self, src: SourceBuilder, sig: str, name: str, lines: list[str], attrs: str = ""
    ) -> None:
        src.functions.append(kernel_function(name, sig, lines, attrs))

    def _packed(self, src: SourceBuilder, sig: str, name: str, mp: int, np_: int) -> Launch:
        rm, wn, k = self.RM, self.wn, self.k
        t = val_type(self.acc_dtype)
        vt = f"{t}{wn}"
        lines = [
            "idx_t pn = get_global_id(0), pm = get_global_id(1), b = get_global_id(2);",
            f"__global const {t} *ap = t0 + (b * {mp} + pm) * {k * rm};",
            f"__global const {t} *bp = t1 + (b * {np_} + pn) * {k * wn};",
        ]
        lines += [f"{vt} acc{i} = ({vt})(0);" for i in range(rm)]
        lines += [
            f"for (idx_t k = 0; k < {k}; k++) {{",
            CONTRACT,
            f"  {vt} bv = *(__global const {vt} *)(bp + k * {wn});",
        ]
        lines += [f"  acc{i} += ap[k * {rm} + {i}] * bv;" for i in range(rm)]
        lines += ["}", f"{t} tile[{rm}][{wn}];"]
        lines += [f"vstore{wn}(acc{i}, 0, tile[{i}]);" for i in range(rm)]
        names = self.batch_names(lines)
        em = Emitter(src, self.ctx, names)
        em.lines = lines
        em.open(f"for (int i = 0; i < {rm}; i++)")
        em.lines.append(f"idx_t m = pm * {rm} + i;")
        em.lines.append(f"if (m >= {self.m}) break;")
        em.open(f"for (int j = 0; j < {wn}; j++)")
        em.lines += [f"idx_t n = pn * {wn} + j;", f"if (n >= {self.n}) break;"]
        self._epilogue(em, "tile[i][j]")
        em.close()
        em.close()
        self._function(src, sig, name, em.lines)
        return Launch(name, (np_, mp, self.nb), (1, 1, 1))

    def _epilogue(self, em: Emitter, value: str) -> None:
        d = self.dot.dtype
        em.define(self.dot, em.var(d, False, f"({val_type(d)})({value})"))
        outs = self.kernel.output_nodes
        em.emit(outs)
        for i, o in enumerate(outs):
            acc = make_access(None, View.contiguous(o.shape), self._dims(o.shape))
            val = em.lookup(o)
            assert val is not None
            em.store(f"o{i}", acc, val, o.dtype, False)

    def _tiled(self, src: SourceBuilder, sig: str, name: str) -> Launch:
        ts, tk, r = 64, 16, 4
        t = val_type(self.acc_dtype)
        a, b = self.dot.src
        lines = [
            "int tx = get_local_id(0), ty = get_local_id(1), tid = ty * 16 + tx;",
            f"idx_t n0 = get_group_id(0) * {ts}, m0 = get_group_id(1) * {ts};",
            "idx_t b = get_group_id(2);",
            f"__local {t} As[{tk}][{ts + 1}], Bs[{tk}][{ts + 1}];",
            f"{t} acc[{r}][{r}];",
            f"for (int i = 0; i < {r}; i++) for (int j = 0; j < {r}; j++) acc[i][j] = 0;",
        ]
        names = self.batch_names(lines)
        em = Emitter(src, self.ctx, names)
        em.lines = lines
        em.open(f"for (idx_t k0 = 0; k0 < {self.k}; k0 += {tk})")
        for x, tile, inner, outer, size in (
            (a, "As", "k", "m", self.m),
            (b, "Bs", "n", "k", self.n),
        ):
            em.open(f"for (int e = tid; e < {ts * tk}; e += 256)")
            if tile == "As":
                em.lines += [f"int r = e / {tk}, c = e % {tk};", "idx_t m = m0 + r, k = k0 + c;"]
                cond, dest = f"m < {size} && k < {self.k}", "As[c][r]"
            else:
                em.lines += [f"int r = e / {ts}, c = e % {ts};", "idx_t k = k0 + r, n = n0 + c;"]
                cond, dest = f"n < {size} && k < {self.k}", "Bs[r][c]"
            em.lines.append(f"{t} value = 0;")
            em.open(f"if ({cond})")
            val = em.load(x, self.operand_access(x, inner, outer))
            em.lines.append(f"value = ({t})({val.expr});")
            em.close()
            em.lines.append(f"{dest} = value;")
            em.close()
        em.lines += [
            "barrier(CLK_LOCAL_MEM_FENCE);",
            f"for (int kk = 0; kk < {tk}; kk++) {{",
            f"for (int i = 0; i < {r}; i++) {{",
            f"for (int j = 0; j < {r}; j++) {{",
            CONTRACT,
            "acc[i][j] += As[kk][ty + i * 16] * Bs[kk][tx + j * 16];",
            "}",
            "}",
            "}",
            "barrier(CLK_LOCAL_MEM_FENCE);",
        ]
        em.close()
        em.open(f"for (int i = 0; i < {r}; i++)")
        em.open(f"for (int j = 0; j < {r}; j++)")
        em.lines += [
            "idx_t m = m0 + ty + i * 16, n = n0 + tx + j * 16;",
            f"if (m >= {self.m} || n >= {self.n}) continue;",
        ]
        self._epilogue(em, "acc[i][j]")
        em.close()
        em.close()
        self._function(
            src, sig, name, em.lines, "__attribute__((reqd_work_group_size(16, 16, 1))) "
        )
        groups = (-(-self.n // ts) * 16, -(-self.m // ts) * 16, self.nb)
        return Launch(name, groups, (16, 16, 1))
