"""Kernel templates: each kernel kind's plan (from `codegen/`) rendered to an `OpenCLProgram`
plus its launches.

`ReduceKernel` renders elementwise and reduce kernels (with fused prologues and epilogues) as
`codegen.reduce_plan` lays them out: one work-item per row (or per `W` adjacent rows, as vector
lanes) looping over the reduced elements, or work-groups per row combining their work-items'
values through a local-memory tree, split into partial, final and epilogue kernels when
several groups share a row. `DotKernel` renders contractions (`codegen.dot_plan`: packed
panels or local-memory tiles) and `ScatterKernel` indexed writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from ..codegen.access import Access
from ..codegen.bounds import checks_indices, positions_inside
from ..codegen.dot_plan import DotStrategy, Panels, plan_dot
from ..codegen.graph import KernelGraph
from ..codegen.reduce_plan import Lanes, Layout, plan_reduce
from ..codegen.target import Target
from ..dtypes import DType, bool_, float32, int32
from ..ir.node import Node
from ..ir.ops import Op
from ..ir.schedule import Kernel
from ..ir.view import View
from .opencl import (
    ERROR_FLAG,
    CodeContext,
    Emitter,
    SourceBuilder,
    SourceParts,
    Val,
    buf_type,
    combine,
    decompose,
    horizontal,
    identity,
    index_expr,
    kernel_function,
    rounding,
    uses_fp64,
    val_type,
)


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


def _source_builder(kernel: Kernel) -> SourceBuilder:
    """An empty program source for `kernel`: its index type, doubles enabled if it uses any."""
    src = SourceBuilder(index_type(kernel))
    src.fp64 = uses_fp64(kernel.nodes + kernel.input_nodes)
    return src


def _const_dtypes(const_slots: dict[Node, int]) -> list[DType]:
    """The dtypes of the constant arguments, in argument order."""
    return [n.dtype for n in sorted(const_slots, key=const_slots.__getitem__)]


def _flat_launch(name: str, total: int) -> Launch:
    """A launch of `total` work-items (at least one) in work-groups of 64."""
    return Launch(name, (-(-max(total, 1) // 64) * 64,), (64,))


# ---- elementwise and reduce kernels ---------------------------------------------------------
BLOCK = 32  # steps per plain block sum inside a compensated (Kahan) float sum


def compensated(r: Node) -> bool:
    """Whether reduction `r` is a floating-point sum (accumulated with Kahan's method)."""
    return r.op is Op.SUM and r.dtype.is_floating_point


class ReduceKernel:
    """Renders an elementwise or reduce kernel as its plan (`codegen.reduce_plan`) lays it
    out (see the module docstring)."""

    def __init__(self, kernel: Kernel, const_slots: dict[Node, int], target: Target):
        self.kernel = kernel
        self.plan = plan_reduce(kernel, target)
        plan = self.plan
        self.ctx = CodeContext(plan.graph, const_slots, target, plan.accesses, plan.vectors)
        self.const_dtypes = _const_dtypes(const_slots)

    def name(self, suffix: str = "") -> str:
        """The name of one of the kernel's functions: its kind, space and layout."""
        plan = self.plan
        shape = "x".join(map(str, plan.space.sizes)) or "scalar"
        kind = "reduce" if plan.stages else "elementwise"
        return f"{kind}_{shape}{plan.layout.value if plan.stages else ''}{suffix}"

    def program(self) -> OpenCLProgram:
        """Render the kernel's program and launch plan."""
        plan, outputs = self.plan, self.kernel.output_nodes
        src = _source_builder(self.kernel)
        reduces = plan.reduces
        temps: list[DType] = []
        if plan.splits > 1:
            temps = [r.dtype for r in reduces for _ in (0, 1)]  # partials, then finals
        sig = signature(self.kernel, temps, self.const_dtypes)
        launches = []
        if plan.splits == 1:
            launches.append(self._function(src, sig, "", plan.stages, epilogue=True))
        else:
            full = any(not plan.is_row(o) for o in outputs)
            for s, stage in enumerate(plan.stages):
                last = s == len(plan.stages) - 1 and not full
                launches.append(self._function(src, sig, f"_p{s}", [stage], partial=True))
                launches.append(self._final(src, sig, s, stage, reduces, last))
            if full:
                launches.append(self._function(src, sig, "_e", [], epilogue=True, loaded=reduces))
        temp_sizes = [plan.rows * plan.splits, plan.rows] * len(reduces) if temps else []
        return OpenCLProgram(
            src.parts(),
            tuple(launches),
            tuple(zip(temps, temp_sizes, strict=True)),
            tuple(self.const_dtypes),
        )

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
        em = Emitter(src, self.ctx, names, self.plan.width, self.plan.vector_key)
        em.lines.extend(head)
        reduces = self.plan.reduces
        first = reduces.index(stages[0][0]) if stages else len(reduces)
        for j, r in enumerate(loaded if loaded is not None else reduces[:first]):
            em.define(r, Val(f"t{2 * j + 1}[row]", False))
        locals_: list[str] = []
        for stage in stages:
            self._stage(em, stage, reduces, partial, locals_)
        if epilogue:
            self._epilogue(em)
        src.functions.append(kernel_function(name, sig, locals_ + em.lines))
        return Launch(name, (self.plan.global_size,), (self.plan.work_group,))

    def _prologue(self) -> tuple[list[str], dict[object, str]]:
        plan = self.plan
        lines: list[str] = []
        if plan.layout is Layout.ROW_PER_ITEM:
            lines += ["idx_t gid = get_global_id(0);", f"if (gid >= {plan.work_items}) return;"]
            across = plan.lanes is Lanes.ACROSS_ROWS
            lines.append(f"idx_t row = gid * {plan.width};" if across else "idx_t row = gid;")
        else:
            lines += [
                "idx_t grp = get_group_id(0);",
                "int lid = get_local_id(0);",
                f"idx_t row = grp / {plan.splits};",
                f"idx_t t = (grp % {plan.splits}) * {plan.group_size} + lid;",
            ]
        return lines, self._row_names(lines)

    def _row_names(self, lines: list[str]) -> dict[object, str]:
        """Split `row` into the kept groups' indices (named `k<group>`)."""
        kept, sizes = self.plan.kept_groups, self.plan.group_sizes
        names: dict[object, str] = {}
        decompose("row", kept, [sizes[g] for g in kept], names, lines, "k")
        return names

    def _bounds(self) -> tuple[str, str, int]:
        """(first, end, step) of this thread's reduced elements."""
        plan = self.plan
        step, length = plan.step, plan.row_length
        if plan.layout is Layout.ROW_PER_ITEM:
            return "0", str(length), step
        if plan.interleaved:
            return f"t * {step}", str(length), plan.splits * plan.group_size * step
        per = plan.chunk
        return f"t * {per}", f"min((idx_t){length}, t * {per} + {per})", step

    def _loop(self, em: Emitter, block: list[str] | None = None) -> int:
        """Open the loop over this thread's reduced elements; returns how many were opened.

        With `block` (declarations), the loop runs in blocks of `BLOCK` steps: the
        declarations open each block, so block sums stay short (see `_stage`)."""
        if self.plan.row_length == 1:
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
        reduced, sizes = self.plan.reduced_groups, self.plan.group_sizes
        decompose("r", reduced, [sizes[g] for g in reduced], em.names, em.lines, "r")
        return 1 if block is None else 2

    def _emit_row(self, em: Emitter, targets: list[Node]) -> None:
        order = self.plan.graph.order(targets, em.lookup)
        em.emit([n for n in order if self.plan.is_row(n)])

    def _stage(
        self, em: Emitter, stage: list[Node], reduces: list[Node], partial: bool, locals_: list[str]
    ) -> None:
        """Reduce every node of `stage` over this thread's elements, then across threads.

        Floating-point sums add plain block sums of `BLOCK` steps with Kahan's method, which
        keeps float32 accuracy on long rows without a long dependency chain per element."""
        plan = self.plan
        srcs = [r.src[0] for r in stage]
        self._emit_row(em, srcs)
        width, long_rows = plan.width, plan.row_length > 1
        accs, block = [], []
        for r in stage:
            j, t = reduces.index(r), val_type(r.dtype, width)
            init = identity(r.op, r.dtype)
            init = f"(({t})({init}))" if width > 1 else init
            em.lines.append(f"{t} acc{j} = {init};")
            if compensated(r) and long_rows:
                em.lines.append(f"{t} err{j} = {init};")
                block.append(f"{t} blk{j} = {init};")
            accs.append(f"blk{j}" if compensated(r) and long_rows else f"acc{j}")
        opened = self._loop(em, block or None)
        em.emit(srcs)
        for r, s, acc in zip(stage, srcs, accs, strict=True):
            val = em.lookup(s)
            assert val is not None
            value = em.vector(val, s.dtype) if width > 1 else val.expr
            em.lines.append(f"{acc} = {combine(r.op, r.dtype, acc, value, em.src)};")
            if plan.stash is not None and plan.stash.value is s and stage is plan.stages[-1]:
                i = plan.stash.output
                em.store(f"o{i}", plan.output_accesses[i], val, s.dtype, plan.writes_vectors(i))
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
            if plan.lanes is Lanes.ALONG_ROW:
                res = horizontal(r.op, r.dtype, res, width, em.src, em.lines, f"h{j}")
            if plan.layout is Layout.GROUP_PER_ROW and plan.group_size > 1:
                res = self._tree(em, r, res, f"lds{j}", locals_)
            if partial:
                em.lines.append(f"if (lid == 0) t{2 * j}[grp] = {res};")
            em.define(r, Val(res, plan.lanes is Lanes.ACROSS_ROWS))

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
        t, size = val_type(r.dtype), self.plan.group_size
        locals_.append(f"__local {t} {lds}[{size}];")
        step = combine(r.op, r.dtype, f"{lds}[lid]", f"{lds}[lid + s]", em.src)
        em.lines += [
            f"{lds}[lid] = {value};",
            "barrier(CLK_LOCAL_MEM_FENCE);",
            f"for (int s = {size // 2}; s > 0; s >>= 1) {{",
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
        em = Emitter(src, self.ctx, self._row_names(lines))
        em.lines = lines
        splits = self.plan.splits
        for j, r in enumerate(reduces):
            if r in stage:
                t = val_type(r.dtype)
                part = f"t{2 * j}[row * {splits} + i]"
                em.lines += [
                    f"{t} acc{j} = {identity(r.op, r.dtype)};",
                    f"for (idx_t i = 0; i < {splits}; i++) "
                    f"acc{j} = {combine(r.op, r.dtype, f'acc{j}', part, src)};",
                    f"t{2 * j + 1}[row] = acc{j};",
                ]
            em.define(r, Val(f"acc{j}" if r in stage else f"t{2 * j + 1}[row]", False))
        if outputs:
            self._epilogue(em, guard=False)
        src.functions.append(kernel_function(name, sig, em.lines))
        return Launch(name, (self.plan.rows,), (1,))

    def _epilogue(self, em: Emitter, guard: bool = True) -> None:
        """Store the outputs: per-row ones once per row (by its first work-item when `guard`
        and several share a row), full-space ones over this thread's elements."""
        plan = self.plan
        outs = list(zip(self.kernel.output_nodes, plan.output_accesses, strict=True))
        rows = [(i, o, a) for i, (o, a) in enumerate(outs) if plan.is_row(o)]
        full = [(i, o, a) for i, (o, a) in enumerate(outs) if not plan.is_row(o)]
        self._emit_row(em, [o for o, _ in outs])
        if rows:
            guard = guard and plan.layout is Layout.GROUP_PER_ROW
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
        plan = self.plan
        opened = self._loop(em)
        if plan.stash is not None:
            value, i = plan.stash.value, plan.stash.output
            stored = plan.output_accesses[i]
            em.define(value, em.reload(f"o{i}", stored, value.dtype, plan.writes_vectors(i)))
        em.emit([o for _, o, _ in full])
        for i, o, a in full:
            self._store(em, i, o, a)
        if opened:
            em.close()

    def _store(self, em: Emitter, i: int, o: Node, acc: Access) -> None:
        val = em.lookup(o)
        assert val is not None
        em.store(f"o{i}", acc, val, o.dtype, self.plan.writes_vectors(i))


# ---- contractions ---------------------------------------------------------------------------
# The dot product's accumulation may fuse `acc + a * b` into one rounding, as BLAS does; the
# kernels forbid that contraction elsewhere (elementwise code rounds as NumPy's does). On
# PoCL, W4 ran about 10 % slower without it; `mad()` instead ran 5x slower.
CONTRACT = "#pragma OPENCL FP_CONTRACT ON"


class DotKernel:
    """Renders a contraction with its elementwise epilogue as its plan (`codegen.dot_plan`)
    says: two pack kernels and a multiply kernel keeping a register block per work-item
    (PACKED), or one kernel staging tiles in local memory (TILED). Either way the epilogue
    runs per output element on the accumulated value."""

    def __init__(self, kernel: Kernel, const_slots: dict[Node, int], target: Target):
        self.kernel = kernel
        self.plan = plan_dot(kernel, target)
        self.ctx = CodeContext(self.plan.graph, const_slots, target, self.plan.accesses)
        self.const_dtypes = _const_dtypes(const_slots)

    def batch_names(self, lines: list[str]) -> dict[object, str]:
        """Index variables of the output space, the batch dims split from `b` into `lines`."""
        names: dict[object, str] = {"m": "m", "n": "n", "k": "k"}
        batch = self.plan.batch
        real = [d for d, s in enumerate(batch) if s != 1]
        decompose("b", [f"b{d}" for d in real], [batch[d] for d in real], names, lines, "")
        return names

    def program(self) -> OpenCLProgram:
        """Render the pack and multiply kernels (PACKED) or the tiled kernel (TILED)."""
        plan = self.plan
        src = _source_builder(self.kernel)
        shape = f"{plan.batches}x{plan.m}x{plan.k}x{plan.n}"
        if plan.strategy is DotStrategy.TILED:
            sig = signature(self.kernel, [], self.const_dtypes)
            launch = self._tiled(src, sig, f"dot_tiled_{shape}")
            return OpenCLProgram(src.parts(), (launch,), (), tuple(self.const_dtypes))
        temps = tuple(
            (plan.acc_dtype, plan.batches * p.count * p.width * plan.k) for p in plan.panels
        )
        sig = signature(self.kernel, [t for t, _ in temps], self.const_dtypes)
        launches = (
            self._pack_operand(src, sig, f"dot_pack_a_{shape}", 0),
            self._pack_operand(src, sig, f"dot_pack_b_{shape}", 1),
            self._packed(src, sig, f"dot_{shape}"),
        )
        return OpenCLProgram(src.parts(), launches, temps, tuple(self.const_dtypes))

    def _pack_operand(self, src: SourceBuilder, sig: str, name: str, slot: int) -> Launch:
        """Pack operand `slot` (0: A by rows, 1: B by columns) into scratch buffer `t<slot>`,
        a vector or an element at a time."""
        panels = self.plan.panels[slot]
        if panels.whole_vectors:
            return self._pack_vectors(src, sig, name, slot, panels)
        return self._pack(src, sig, name, slot, panels)

    def _pack_vectors(
        self, src: SourceBuilder, sig: str, name: str, slot: int, panels: Panels
    ) -> Launch:
        """Operand panels, one vector of `panels.width` elements per work-item."""
        plan, block = self.plan, panels.width
        acc = plan.operand_accesses[slot]
        vt = f"{val_type(plan.acc_dtype)}{block}"
        index, _ = index_expr(acc, {"k": "k", panels.key: f"p * {block}"})
        base = self.ctx.input_name(acc.base)  # type: ignore[arg-type]
        total = panels.count * plan.k
        lines = [
            "idx_t gid = get_global_id(0);",
            f"if (gid >= {total}) return;",
            f"idx_t k = gid % {plan.k}, p = gid / {plan.k};",
            f"*(__global {vt} *)(t{slot} + gid * {block}) = "
            f"*(__global const {vt} *)({base} + {index});",
        ]
        src.functions.append(kernel_function(name, sig, lines))
        return _flat_launch(name, total)

    def _pack(self, src: SourceBuilder, sig: str, name: str, slot: int, panels: Panels) -> Launch:
        """Copy operand `slot` into zero-padded panels of `panels.width` indices of dim
        `panels.key` (rows of A, columns of B)."""
        plan, block, count, var = self.plan, panels.width, panels.count, panels.key
        total = plan.batches * count * block * plan.k
        lines = [
            "idx_t gid = get_global_id(0);",
            f"if (gid >= {total}) return;",
            f"idx_t e = gid % {block};",
            f"idx_t k = (gid / {block}) % {plan.k};",
            f"idx_t p = (gid / {block * plan.k}) % {count};",
            f"idx_t b = gid / {block * plan.k * count};",
        ]
        names = self.batch_names(lines)
        lines.append(f"idx_t {var} = p * {block} + e;")
        em = Emitter(src, self.ctx, names)
        em.lines = lines
        t = val_type(plan.acc_dtype)
        em.lines.append(f"{t} value = 0;")
        em.open(f"if ({var} < {panels.size})")
        val = em.load(plan.dot.src[slot], plan.operand_accesses[slot])
        em.lines.append(f"value = ({t})({val.expr});")
        em.close()
        em.lines.append(f"t{slot}[gid] = value;")
        src.functions.append(kernel_function(name, sig, em.lines))
        return _flat_launch(name, total)

    def _packed(self, src: SourceBuilder, sig: str, name: str) -> Launch:
        plan, (rows, cols) = self.plan, self.plan.panels
        rm, wn, k = rows.width, cols.width, plan.k
        mp, np_ = rows.count, cols.count
        t = val_type(plan.acc_dtype)
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
        em.lines.append(f"if (m >= {plan.m}) break;")
        em.open(f"for (int j = 0; j < {wn}; j++)")
        em.lines += [f"idx_t n = pn * {wn} + j;", f"if (n >= {plan.n}) break;"]
        self._epilogue(em, "tile[i][j]")
        em.close()
        em.close()
        src.functions.append(kernel_function(name, sig, em.lines))
        return Launch(name, (np_, mp, plan.batches), (1, 1, 1))

    def _epilogue(self, em: Emitter, value: str) -> None:
        d = self.plan.dot.dtype
        em.define(self.plan.dot, em.var(d, False, f"({val_type(d)})({value})"))
        outs = self.kernel.output_nodes
        em.emit(outs)
        for i, o in enumerate(outs):
            val = em.lookup(o)
            assert val is not None
            em.store(f"o{i}", self.plan.output_accesses[i], val, o.dtype, False)

    def _tiled(self, src: SourceBuilder, sig: str, name: str) -> Launch:
        plan, tiling = self.plan, self.plan.tiling
        ts, tk, r, side = tiling.tile, tiling.depth, tiling.per_item, tiling.side
        t = val_type(plan.acc_dtype)
        lines = [
            f"int tx = get_local_id(0), ty = get_local_id(1), tid = ty * {side} + tx;",
            f"idx_t n0 = get_group_id(0) * {ts}, m0 = get_group_id(1) * {ts};",
            "idx_t b = get_group_id(2);",
            f"__local {t} As[{tk}][{ts + 1}], Bs[{tk}][{ts + 1}];",
            f"{t} acc[{r}][{r}];",
            f"for (int i = 0; i < {r}; i++) for (int j = 0; j < {r}; j++) acc[i][j] = 0;",
        ]
        names = self.batch_names(lines)
        em = Emitter(src, self.ctx, names)
        em.lines = lines
        em.open(f"for (idx_t k0 = 0; k0 < {plan.k}; k0 += {tk})")
        for slot in (0, 1):
            em.open(f"for (int e = tid; e < {ts * tk}; e += {tiling.items})")
            if slot == 0:
                em.lines += [f"int r = e / {tk}, c = e % {tk};", "idx_t m = m0 + r, k = k0 + c;"]
                cond, dest = f"m < {plan.m} && k < {plan.k}", "As[c][r]"
            else:
                em.lines += [f"int r = e / {ts}, c = e % {ts};", "idx_t k = k0 + r, n = n0 + c;"]
                cond, dest = f"n < {plan.n} && k < {plan.k}", "Bs[r][c]"
            em.lines.append(f"{t} value = 0;")
            em.open(f"if ({cond})")
            val = em.load(plan.dot.src[slot], plan.operand_accesses[slot])
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
            f"acc[i][j] += As[kk][ty + i * {side}] * Bs[kk][tx + j * {side}];",
            "}",
            "}",
            "}",
            "barrier(CLK_LOCAL_MEM_FENCE);",
        ]
        em.close()
        em.open(f"for (int i = 0; i < {r}; i++)")
        em.open(f"for (int j = 0; j < {r}; j++)")
        em.lines += [
            f"idx_t m = m0 + ty + i * {side}, n = n0 + tx + j * {side};",
            f"if (m >= {plan.m} || n >= {plan.n}) continue;",
        ]
        self._epilogue(em, "acc[i][j]")
        em.close()
        em.close()
        attributes = f"__attribute__((reqd_work_group_size({side}, {side}, 1))) "
        src.functions.append(kernel_function(name, sig, em.lines, attributes))
        groups = (-(-plan.n // ts) * side, -(-plan.m // ts) * side, plan.batches)
        return Launch(name, groups, (side, side, 1))


# ---- indexed writes -------------------------------------------------------------------------
_ATOMIC_ADD_FLOAT = """inline void lg_atomic_add_float(volatile __global float *p, float v) {
  union { uint u; float f; } old, upd;
  do { old.f = *p; upd.f = old.f + v; }
  while (atomic_cmpxchg((volatile __global uint *)p, old.u, upd.u) != old.u);
}"""


class ScatterKernel:
    """out = copy of dst; then out.flat[idx[j]] = val[j] (or += for "add": atomics for 32-bit
    types, one serial work-item otherwise). A position outside dst is skipped, and sets the
    error flag unless the kernel's structure rules it out."""

    def __init__(self, kernel: Kernel, const_slots: dict[Node, int], target: Target):
        self.kernel = kernel
        graph = KernelGraph(kernel.nodes, kernel.input_nodes)
        self.ctx = CodeContext(graph, const_slots, target)
        self.const_dtypes = _const_dtypes(const_slots)
        self.node = next(n for n in kernel.nodes if n.op is Op.SCATTER)

    def program(self) -> OpenCLProgram:
        """Render the copy and the scatter kernels."""
        src = _source_builder(self.kernel)
        sig = signature(self.kernel, [], self.const_dtypes)
        dst, idx, val = self.node.src
        d = self.node.dtype
        em = Emitter(src, self.ctx, {"i": "i"})
        em.lines += ["idx_t i = get_global_id(0);", f"if (i >= {dst.numel}) return;"]
        em.store("o0", Access(None, 0, {"i": 1}), em.load_flat(dst, "i", "i"), d, False)
        copy = self._function(src, sig, f"scatter_copy_{dst.numel}", em.lines, dst.numel)
        serial = self.node.arg == "add" and d.name not in ("float32", "int32")
        em = Emitter(src, self.ctx, {})
        if serial:
            em.lines.append(f"for (idx_t j = 0; j < {idx.numel}; j++) {{")
        else:
            em.lines += ["idx_t j = get_global_id(0);", f"if (j >= {idx.numel}) return;"]
        p, v = em.load_flat(idx, "j", "ji"), em.load_flat(val, "j", "jv")
        em.lines.append(f"long p = (long)({p.expr});")  # a long: see Emitter.gather
        inside = positions_inside(self.node, self.ctx.graph.inputs)
        report = "" if inside else f" else *{ERROR_FLAG} = 1;"
        em.lines.append(f"if (p >= 0 && p < {dst.numel}) {self._write(src, d, v.expr)}{report}")
        if serial:
            em.lines.append("}")
        name = f"scatter_{self.node.arg}_{idx.numel}_{dst.numel}"
        write = self._function(src, sig, name, em.lines, 0 if serial else idx.numel)
        return OpenCLProgram(src.parts(), (copy, write), (), tuple(self.const_dtypes))

    def _write(self, src: SourceBuilder, d: DType, v: str) -> str:
        if self.node.arg != "add":
            return f"o0[p] = {'(uchar)' if d == bool_ else ''}({v});"
        if d == float32:
            src.helpers.setdefault("lg_atomic_add_float", _ATOMIC_ADD_FLOAT)
            return f"lg_atomic_add_float(o0 + p, {v});"
        if d == int32:
            return f"atomic_add(o0 + p, {v});"
        if d == bool_:
            return f"o0[p] = (uchar)(o0[p] | ({v}));"
        if d.is_narrow_float:  # each addition rounded, as PyTorch's float16 index_add_
            return f"o0[p] = {src.need(rounding(d))}(o0[p] + ({v}));"
        return f"o0[p] += {v};"

    def _function(
        self, src: SourceBuilder, sig: str, name: str, lines: list[str], total: int
    ) -> Launch:
        src.functions.append(kernel_function(name, sig, lines))
        if total == 0:  # one work-item runs the whole (serial) loop
            return Launch(name, (1,), (1,))
        return _flat_launch(name, total)
