"""OpenCL C generation: the pieces every kernel template shares.

A kernel reads its operands through index arithmetic. `Access` is one read (or write):
`offset + sum(index[key] * stride)`, valid where every windowed index is inside its window.
`Space` is the iteration space of an elementwise or reduce kernel: the non-1 dims of its full
shape, each kept or reduced, with adjacent dims merged wherever every access allows it (so a
contiguous input is read as `x[i]`). `Emitter` turns IR nodes into OpenCL C statements, one
typed variable per node, either scalar or as `W`-wide vectors along one dim of the space
(explicit vectors matter on CPU devices, where PoCL does not vectorize across work-items).
How each op renders comes from the op table (`OpDef.cl`); this module fills its placeholders.
"""

from __future__ import annotations

import math
import string
from collections.abc import Callable, Container
from dataclasses import dataclass, field

import numpy as np

from ..dtypes import DType, bool_, float16, float32, float64, int32, wrap_scalar
from ..ir.node import Node
from ..ir.ops import ELEMENTWISE, LOADED_LEAVES, OP_TABLE, REDUCE_OPS, Op
from ..ir.view import View

ALIAS_OPS = (Op.CONTIGUOUS, Op.DETACH)
_ROUNDED_WHEN_DEFINED = frozenset((*REDUCE_OPS, Op.DOT))
VECTOR_DTYPES = (float32, int32, bool_)
_FLOAT_VECTOR_OPS = {
    Op.NEG,
    Op.EXP,
    Op.LOG,
    Op.SIN,
    Op.COS,
    Op.SQRT,
    Op.RECIP,
    Op.TANH,
    Op.ABS,
    Op.FLOOR,
    Op.RINT,
    Op.ASIN,
    Op.ACOS,
    Op.ATAN,
    Op.SINH,
    Op.COSH,
    Op.ERF,
    Op.EXPM1,
    Op.LOG1P,
    Op.ATAN2,
    Op.ADD,
    Op.SUB,
    Op.MUL,
    Op.DIV,
    Op.MAX,
    Op.MIN,
    Op.POW,
}
_COMMON_VECTOR_OPS = {Op.WHERE, Op.CAST, Op.CONTIGUOUS, Op.DETACH, Op.VIEW, *REDUCE_OPS}
VECTOR_OPS = {
    "float32": _FLOAT_VECTOR_OPS | _COMMON_VECTOR_OPS,
    "int32": {Op.NEG, Op.ADD, Op.SUB, Op.MUL, Op.MAX, Op.MIN, Op.AND, Op.OR, Op.XOR, Op.NOT}
    | _COMMON_VECTOR_OPS,
    "bool": {Op.CMPLT, Op.CMPLE, Op.CMPEQ, Op.CMPNE, Op.AND, Op.OR, Op.XOR, Op.NOT, Op.MAX, Op.MIN}
    | _COMMON_VECTOR_OPS,
}


def vector_ok(n: Node) -> bool:
    """Whether elementwise or reduce node `n` can be computed on vectors of lanes."""
    if n.dtype not in VECTOR_DTYPES or n.op not in VECTOR_OPS[n.dtype.name]:
        return False
    if any(s.dtype not in VECTOR_DTYPES for s in n.src):
        return False
    # bool lanes are masks (true is -1), so ordering them would invert false < true
    return not (n.op in (Op.CMPLT, Op.CMPLE) and n.src[0].dtype == bool_)


@dataclass(frozen=True)
class Target:
    """What code generation needs to know about the device it generates for."""

    name: str
    has_fp64: bool = True
    is_gpu: bool = False
    compute_units: int = 1
    max_work_group_size: int = 256
    preferred_multiple: int = 1
    base_align: int = 128  # bytes every buffer starts on (CL_DEVICE_MEM_BASE_ADDR_ALIGN / 8)

    @property
    def vector_widths(self) -> tuple[int, ...]:
        """Vector widths to try, widest first (1 = scalar code)."""
        return (4, 2) if self.is_gpu else (16, 8, 4)


# ---- types and literals -------------------------------------------------------------------
# float16: OpenCL C has no arithmetic on `half` without cl_khr_fp16 (PoCL's CPU device lacks
# it), so float16 values live in device memory as float32 (`storage_itemsize`), are computed
# in float, and every float16 result is rounded to half precision (`lg_half`, round to
# nearest even, as NumPy and PyTorch convert), so values match NumPy's float16 arithmetic.
# Sums, products and matmuls accumulate in float and round once, as PyTorch's do.


def storage_itemsize(d: DType) -> int:
    """Bytes per element of a device buffer of dtype `d` (float16 is stored as float32)."""
    return 4 if d is float16 else d.itemsize


def buf_type(d: DType) -> str:
    """The element type of a buffer of dtype `d` (bool is stored as one byte, float16 as a
    float)."""
    return "uchar" if d == bool_ else d.cl_name


def val_type(d: DType, width: int = 1) -> str:
    """The C type of a value: `bool` scalars, and int masks for bool vectors."""
    if width == 1:
        return "bool" if d == bool_ else d.cl_name
    return f"int{width}" if d == bool_ else f"{d.cl_name}{width}"


def literal(value: object, d: DType) -> str:
    """A C literal of dtype `d` (INFINITY/NAN macros, `f` suffix for float32 and float16,
    whose values are rounded to half precision first; integers wrapped into `d`'s range)."""
    if d == bool_:
        return "true" if value else "false"
    single = d.cl_name == "float"  # float32, and float16 computed in float
    if d.is_floating_point:
        v = float(value)  # type: ignore[arg-type]
        if d is float16:
            v = float(np.float16(v))
        if math.isnan(v):
            text = "NAN"
        elif math.isinf(v):
            text = "INFINITY" if v > 0 else "(-INFINITY)"
        else:
            return f"{v!r}f" if single else f"{v!r}"
        return text if single else f"((double){text})"
    v = int(wrap_scalar(int(value), d))  # type: ignore[call-overload]
    if d.itemsize == 8:
        return f"({v + 1}L-1L)" if v == -(2**63) else f"{v}L"
    return f"({v + 1}-1)" if v == -(2**31) else str(v)


def identity(op: Op, d: DType) -> str:
    """The identity of a reduction in dtype `d` (the table's, or the integer minimum)."""
    text = OP_TABLE[op].identity or "0"
    if op is Op.RMAX and not d.is_floating_point:
        if d == bool_:
            return "false"
        return "0" if not d.is_signed else literal(-(2 ** (8 * d.itemsize - 1)), d)
    return text if d.cl_name == "float" or not d.is_floating_point else f"(({d.cl_name}){text})"


# ---- helper functions the templates name ----------------------------------------------------
_MACROS = {
    "LG_FMAX": "#define LG_FMAX(a, b) ((((a) > (b)) || isnan(a)) ? (a) : (b))",
    "LG_FMIN": "#define LG_FMIN(a, b) ((((a) < (b)) || isnan(a)) ? (a) : (b))",
    "LG_IABS": "#define LG_IABS(a) (((a) < 0) ? -(a) : (a))",
    "LG_OR": "#define LG_OR(a, b) ((a) | (b))",
    "LG_AND": "#define LG_AND(a, b) ((a) & (b))",
    "LG_NZ": "#define LG_NZ(a) ((a) != 0)",
}

# A float rounded to the nearest float16 value (ties to even), kept as a float: inf and NaN
# as they are, beyond 65504 (from 65520 up) infinity, below 2**-14 a multiple of 2**-24
# (half's subnormals; scaling by powers of two is exact), else 10 mantissa bits kept.
_HALF_ROUNDING = """inline float lg_half(float x) {
  uint u = as_uint(x), a = u & 0x7fffffffu;
  if (a >= 0x7f800000u) return x;
  if (a >= 0x477ff000u) return copysign(INFINITY, x);
  if (a < 0x38800000u) return rint(x * 16777216.0f) * 5.9604644775390625e-8f;
  u += 0xfffu + ((u >> 13) & 1u);
  return as_float(u & 0xffffe000u);
}"""


def _int_helpers(t: str, u: str) -> dict[str, str]:
    """Floor division, Python-style and C-style modulo and power for C integer type `t`
    (unsigned `u`)."""
    return {
        f"lg_idiv_{t}": f"inline {t} lg_idiv_{t}({t} a, {t} b) {{\n"
        f"  if (b == 0) return 0;\n  if (b == -1) return ({t})(({u})0 - ({u})a);\n"
        f"  {t} q = a / b;\n  if ((a % b != 0) && ((a < 0) != (b < 0))) q -= 1;\n"
        f"  return q;\n}}",
        f"lg_mod_{t}": f"inline {t} lg_mod_{t}({t} a, {t} b) {{\n"
        f"  if (b == 0 || b == -1) return 0;\n  {t} r = a % b;\n"
        f"  if (r != 0 && ((r < 0) != (b < 0))) r += b;\n  return r;\n}}",
        f"lg_fmod_{t}": f"inline {t} lg_fmod_{t}({t} a, {t} b) {{\n"
        f"  return (b == 0 || b == -1) ? 0 : a % b;\n}}",
        f"lg_pow_{t}": f"inline {t} lg_pow_{t}({t} a, {t} b) {{\n"
        f"  if (b < 0) return a == 1 ? 1 : (a == -1 ? ((b & 1) ? -1 : 1) : 0);\n"
        f"  {u} x = ({u})a, r = 1;\n"
        f"  while (b) {{ if (b & 1) r *= x; x *= x; b >>= 1; }}\n  return ({t})r;\n}}",
    }


def _float_helpers(t: str) -> dict[str, str]:
    """NumPy's floor_divide and remainder for C float type `t` (npy_divmod's rules)."""
    return {
        f"lg_idiv_{t}": f"inline {t} lg_idiv_{t}({t} a, {t} b) {{\n"
        f"  {t} m = fmod(a, b);\n  if (b == 0) return a / b;\n  {t} d = (a - m) / b;\n"
        f"  if (m != 0 && ((b < 0) != (m < 0))) d -= 1;\n"
        f"  if (d == 0) return copysign(({t})0, a / b);\n"
        f"  {t} f = floor(d);\n  if (d - f > ({t})0.5) f += 1;\n  return f;\n}}",
        f"lg_mod_{t}": f"inline {t} lg_mod_{t}({t} a, {t} b) {{\n"
        f"  {t} m = fmod(a, b);\n  if (b == 0) return m;\n"
        f"  if (m != 0) {{ if ((b < 0) != (m < 0)) m += b; }} else m = copysign(({t})0, b);\n"
        f"  return m;\n}}",
    }


_FUNCTIONS = {
    "lg_half": _HALF_ROUNDING,
    **_int_helpers("char", "uchar"),
    **_int_helpers("uchar", "uchar"),
    **_int_helpers("short", "ushort"),
    **_int_helpers("int", "uint"),
    **_int_helpers("long", "ulong"),
    **_float_helpers("float"),
    **_float_helpers("double"),
}


@dataclass(frozen=True)
class SourceParts:
    """A program's source in pieces: whether it needs doubles, its index type, the helpers
    (name, definition) it uses and its kernel functions. Kept apart so that the programs of
    several kernels can be built as one (see `joined_source`)."""

    fp64: bool
    index_type: str
    helpers: tuple[tuple[str, str], ...]
    functions: tuple[str, ...]

    def text(self) -> str:
        """The whole program: extensions, index type, helpers, then the kernels."""
        head = [FP64_PRAGMA] if self.fp64 else []
        head += [CONTRACT_OFF, f"typedef {self.index_type} idx_t;"]
        return "\n".join(head + [h for _, h in self.helpers] + [""] + list(self.functions))


FP64_PRAGMA = "#pragma OPENCL EXTENSION cl_khr_fp64 : enable"
# no fused multiply-add behind the user's back: `a * b + c` rounds twice, as in NumPy
CONTRACT_OFF = "#pragma OPENCL FP_CONTRACT OFF"


def joined_source(programs: list[tuple[SourceParts, dict[str, str]]]) -> str:
    """One source holding the kernels of all `programs`, each given with the new names of
    those of its functions that must be renamed (a name another program also uses): each
    under its own index type, every helper defined once, each computing what it computes
    alone."""
    lines = [FP64_PRAGMA] if any(p.fp64 for p, _ in programs) else []
    defined: set[str] = set()
    for p, renames in programs:
        lines += [CONTRACT_OFF, "#undef idx_t", f"#define idx_t {p.index_type}"]
        lines += [h for name, h in p.helpers if name not in defined]
        defined.update(name for name, _ in p.helpers)
        lines += [f"#define {old} {new}" for old, new in renames.items()]
        lines += ["", *p.functions]
        lines += [f"#undef {old}" for old in renames]
    return "\n".join(lines)


class SourceBuilder:
    """Collects the helper definitions a program uses and its kernel functions."""

    def __init__(self, index_type: str = "int"):
        self.index_type = index_type
        self.helpers: dict[str, str] = {}
        self.functions: list[str] = []
        self.fp64 = False

    def need(self, name: str) -> str:
        """Register the helper `name` (a macro or inline function) and return its name."""
        if name not in self.helpers:
            if name in _MACROS:
                self.helpers[name] = _MACROS[name]
            elif name in _FUNCTIONS:
                self.helpers[name] = _FUNCTIONS[name]
            elif name.startswith("lg_m2"):  # bool mask -> numeric vector (true is -1)
                vtype = name.removeprefix("lg_m2")
                self.helpers[name] = f"#define {name}(m) convert_{vtype}(-(m))"
            else:
                raise KeyError(name)
        return name

    def parts(self) -> SourceParts:
        """What was collected, frozen."""
        helpers = tuple(self.helpers.items())
        return SourceParts(self.fp64, self.index_type, helpers, tuple(self.functions))


def _placeholders(template: str) -> set[str]:
    return {
        name for _, name, _, _ in string.Formatter().parse(template) if name and not name.isdigit()
    }


def render_op(node: Node, operands: list[str], width: int, src: SourceBuilder) -> str:
    """The C expression for elementwise `node` over operand expressions (from the op table)."""
    template = OP_TABLE[node.op].cl
    assert template is not None, f"no OpenCL template for {node.op}"
    operand = node.src[-1].dtype  # the operands' dtype (WHERE's condition is first)
    values = {
        name: _placeholder(name, node, operand, width, src) for name in _placeholders(template)
    }
    return template.format(*operands, **values)


def _placeholder(name: str, node: Node, d: DType, width: int, src: SourceBuilder) -> str:
    kind = "bool" if d == bool_ else ("float" if d.is_floating_point else "int")
    if name in ("maxfn", "minfn"):
        big = name == "maxfn"
        fn = {"float": "LG_FMAX" if big else "LG_FMIN", "bool": "LG_OR" if big else "LG_AND"}
        return src.need(fn[kind]) if kind in fn else ("max" if big else "min")
    if name == "absfn":
        return {"float": "fabs", "bool": "", "int": src.need("LG_IABS")}[kind]
    if name == "notop":
        return "!" if kind == "bool" and width == 1 else "~"
    if name in ("idiv", "mod"):
        return src.need(f"lg_{name}_{d.cl_name}")
    if name == "fmod":
        return "fmod" if kind == "float" else src.need(f"lg_fmod_{d.cl_name}")
    if name == "pow":
        return "pow" if kind == "float" else src.need(f"lg_pow_{d.cl_name}")
    if name == "cast":
        return _cast(node.src[0].dtype, node.dtype, width, src)
    raise KeyError(f"unknown placeholder {{{name}}} in the {node.op} template")


def _cast(frm: DType, to: DType, width: int, src: SourceBuilder) -> str:
    if to == bool_:
        return src.need("LG_NZ")
    if width == 1:
        return f"({to.cl_name})"
    if frm == bool_:
        return src.need(f"lg_m2{to.cl_name}{width}")
    return f"convert_{to.cl_name}{width}"


def combine(op: Op, d: DType, a: str, b: str, src: SourceBuilder) -> str:
    """The expression that folds `b` into accumulator `a` for reduction `op`."""
    if op is Op.SUM:
        return f"({a} + {b})"
    if op is Op.PROD:
        return f"({a} * {b})"
    fn = src.need("LG_FMAX") if d.is_floating_point else "max"
    return f"{fn}({a}, {b})"


# ---- accesses and the iteration space ---------------------------------------------------------
@dataclass
class Access:
    """One indexed read of `base` (a kernel input, ARANGE or CONST) or write of an output."""

    base: Node | None
    offset: int
    terms: dict[object, int] = field(default_factory=dict)  # index key -> stride (non-zero)
    windows: dict[object, tuple[int, int]] = field(default_factory=dict)  # key -> [lo, hi)
    dead: bool = False  # every element is masked out (reads 0)
    covered: tuple = ()  # keys of the dims this access indexes


def loaded_view(node: Node, region: set[Node], inputs: Container[Node] = ()) -> tuple[Node, View]:
    """The base a leaf node reads and the view it reads it through (a view that an earlier
    kernel wrote out is an input buffer of its own)."""
    if node.op is Op.VIEW and node.src[0] not in region and node not in inputs:
        return node.src[0], node.arg  # type: ignore[return-value]
    return node, View.contiguous(node.shape)


def make_access(base: Node | None, view: View, keys: list[object | None]) -> Access:
    """An access through `view`, dim d indexed by `keys[d]` (None: a size-1 dim, index 0)."""
    dead = view.mask is not None and any(lo >= hi for lo, hi in view.mask)
    acc = Access(base, view.offset, dead=dead, covered=tuple(k for k in keys if k is not None))
    for d, key in enumerate(keys):
        if key is None:
            continue
        if view.strides[d]:
            acc.terms[key] = view.strides[d]
        if view.mask is not None and view.mask[d] != (0, view.shape[d]):
            acc.windows[key] = view.mask[d]
    return acc


def dims_keys(shape: tuple[int, ...], positions: list[int]) -> list[object | None]:
    """Keys for a node's dims: its non-1 dims take `positions` in order."""
    keys: list[object | None] = [None] * len(shape)
    real = [d for d, n in enumerate(shape) if n != 1]
    assert len(real) == len(positions), (shape, positions)
    for d, p in zip(real, positions, strict=True):
        keys[d] = p
    return keys


class Space:
    """The iteration space: non-1 dims (`sizes`), which are reduced, and merged groups."""

    def __init__(self, sizes: list[int], reduced: list[bool]):
        self.sizes = sizes
        self.reduced = reduced
        self.groups: list[list[int]] = [[p] for p in range(len(sizes))]

    def coalesce(self, accesses: list[Access]) -> None:
        """Merge adjacent dims of one kind wherever every access reads them as one dim."""
        groups: list[list[int]] = []
        for p in range(len(self.sizes)):
            if groups and self._mergeable(groups[-1][-1], p, accesses):
                groups[-1].append(p)
            else:
                groups.append([p])
        self.groups = groups

    def _mergeable(self, p: int, q: int, accesses: list[Access]) -> bool:
        if self.reduced[p] != self.reduced[q]:
            return False
        for a in accesses:
            if p not in a.covered:
                continue
            if p in a.windows or q in a.windows:
                return False
            if a.terms.get(p, 0) != a.terms.get(q, 0) * self.sizes[q]:
                return False
        return True

    def regroup(self, acc: Access) -> Access:
        """`acc` (keyed by dim positions) re-keyed by merged group index."""
        out = Access(acc.base, acc.offset, dead=acc.dead)
        covered = []
        for g, group in enumerate(self.groups):
            if group[0] not in acc.covered:
                continue
            covered.append(g)
            stride = acc.terms.get(group[-1], 0)
            if stride:
                out.terms[g] = stride
            if len(group) == 1 and group[0] in acc.windows:
                out.windows[g] = acc.windows[group[0]]
        out.covered = tuple(covered)
        return out

    def group_sizes(self) -> list[int]:
        return [math.prod(self.sizes[p] for p in g) for g in self.groups]

    def group_reduced(self) -> list[bool]:
        return [self.reduced[g[0]] for g in self.groups]


# ---- statements ---------------------------------------------------------------------------
def kernel_function(name: str, signature: str, lines: list[str], attributes: str = "") -> str:
    """A `__kernel` function whose body is `lines`, indented by brace depth."""
    body, depth = [], 1
    for line in lines:
        text = line.strip()
        if text.startswith("}"):
            depth -= 1
        body.append("  " * depth + text)
        if text.endswith("{"):
            depth += 1
    joined = "\n".join(body)
    return f"__kernel {attributes}void {name}({signature}) {{\n{joined}\n}}\n"


def decompose(
    var: str,
    keys: list[object],
    sizes: list[int],
    names: dict[object, str],
    lines: list[str],
    prefix: str,
) -> None:
    """Split the flat row-major index `var` into one index variable per key."""
    inner = 1
    for key, size in reversed(list(zip(keys, sizes, strict=True))):
        name = f"{prefix}{key}"
        size = max(size, 1)
        if inner == 1 and key == keys[0]:
            lines.append(f"idx_t {name} = {var};")
        elif inner == 1:
            lines.append(f"idx_t {name} = {var} % {size};")
        elif key == keys[0]:
            lines.append(f"idx_t {name} = {var} / {inner};")
        else:
            lines.append(f"idx_t {name} = ({var} / {inner}) % {size};")
        names[key] = name
        inner *= size


def index_expr(acc: Access, names: dict[object, str]) -> tuple[str, str | None]:
    """(flat index, validity condition or None) of `acc` under index variables `names`."""
    parts = [f"{names[k]} * {s}" if s != 1 else names[k] for k, s in acc.terms.items()]
    if acc.offset or not parts:
        parts.append(str(acc.offset))
    conds = []
    for k, (lo, hi) in acc.windows.items():
        if lo > 0:
            conds.append(f"{names[k]} >= {lo}")
        conds.append(f"{names[k]} < {hi}")
    return " + ".join(parts), (" && ".join(conds) if conds else None)


@dataclass
class Val:
    """A node's value in generated code: an expression (usually a variable) and its width."""

    expr: str
    vec: bool


class Emitter:
    """Emits one statement per IR node into `lines`, with nested scopes for loops.

    `names` maps each index key to its C variable; `vkey`/`width` say which key the vector
    lanes run along (width 1: scalar code); `ctx` knows the kernel's leaves and arguments."""

    def __init__(
        self,
        src: SourceBuilder,
        ctx: CodeContext,
        names: dict[object, str],
        width: int = 1,
        vkey: object = None,
    ):
        self.src = src
        self.ctx = ctx
        self.names = names
        self.width = width
        self.vkey = vkey
        self.lines: list[str] = []
        self.scopes: list[dict[Node, Val]] = [{}]
        self.count = 0

    # scopes
    def lookup(self, node: Node) -> Val | None:
        for scope in reversed(self.scopes):
            if node in scope:
                return scope[node]
        return None

    def define(self, node: Node, val: Val) -> None:
        if node.dtype is float16 and node.op in _ROUNDED_WHEN_DEFINED:
            # a float16 sum, product or matmul accumulates in float: round the result once
            val = Val(f"{self.src.need('lg_half')}({val.expr})", val.vec)
        self.scopes[-1][node] = val

    def open(self, header: str) -> None:
        self.lines.append(header + " {")
        self.scopes.append({})

    def close(self) -> None:
        self.lines.append("}")
        self.scopes.pop()

    def var(self, d: DType, vec: bool, expr: str) -> Val:
        """A new variable holding `expr`."""
        name = f"v{self.count}"
        self.count += 1
        self.lines.append(f"{val_type(d, self.width if vec else 1)} {name} = {expr};")
        return Val(name, vec)

    def vector(self, val: Val, d: DType) -> str:
        """`val` as a vector expression (scalars are broadcast; bools become masks)."""
        if val.vec or self.width == 1:
            return val.expr
        if d == bool_:
            return f"((int{self.width})(-(int)({val.expr})))"
        return f"(({val_type(d, self.width)})({val.expr}))"

    # emission
    def emit(self, targets: list[Node]) -> None:
        """Emit every node `targets` need that is not yet defined, sources first."""
        for node in self.ctx.order(targets, self.lookup):
            self.emit_node(node)

    def emit_node(self, n: Node) -> None:
        ctx = self.ctx
        if ctx.is_leaf(n):
            self.define(n, self.load(n, ctx.access[n]))
        elif n.op is Op.VIEW or n.op in ALIAS_OPS:  # a reduce/dot read back, or an alias
            val = self.lookup(n.src[0])
            assert val is not None, f"{n.src[0]} is not computed before {n}"
            self.define(n, val)
        elif n.op is Op.GATHER:
            self.define(n, self.gather(n))
        elif n.op in ELEMENTWISE:
            vec = ctx.vector.get(n, False)
            ops = [self.lookup(s) for s in n.src]
            exprs = [
                self.vector(v, s.dtype) if vec else v.expr  # type: ignore[union-attr]
                for v, s in zip(ops, n.src, strict=True)
            ]
            width = self.width if vec else 1
            expr = render_op(n, exprs, width, self.src)
            if n.dtype is float16:  # computed in float: every result rounded to half
                expr = f"{self.src.need('lg_half')}({expr})"
            self.define(n, self.var(n.dtype, vec, expr))
        else:
            raise AssertionError(f"cannot emit {n.op} here")

    def load(self, n: Node, acc: Access) -> Val:
        """The value of leaf `n` read through `acc`."""
        d = n.dtype
        vec = self.ctx.vector.get(n, False)
        zero = literal(0, d)
        if acc.dead:
            return self.var(d, False, zero)
        index, valid = index_expr(acc, self.names)
        base = acc.base
        assert base is not None
        if base.op in (Op.CONST, Op.PARAM):
            value = self.ctx.const_expr(base)
        elif base.op is Op.ARANGE:
            value = self.ctx.arange_expr(base, index)
            if d is float16:
                value = f"{self.src.need('lg_half')}({value})"
        else:
            arg = self.ctx.input_name(base)
            value = f"{arg}[{index}]"
            if vec:
                w = self.width
                value = self.vector_read(acc, d, f"{arg} + {index}")
                if d == bool_:
                    value = f"(-convert_int{w}({value}))"
        if vec and valid is not None:
            zero = f"(({val_type(d, self.width)})(0))"
        expr = value if valid is None else f"(({valid}) ? {value} : {zero})"
        return self.var(d, vec, expr)

    def aligned(self, acc: Access, d: DType) -> bool:
        """Whether every vector of `acc` starts on a multiple of its own size in bytes (the
        lanes' key always starts at a multiple of the width), so it can be dereferenced
        directly: PoCL compiles vloadN/vstoreN to calls, plain vector accesses inline."""
        w = self.width
        return (
            self.ctx.target.base_align >= w * storage_itemsize(d)
            and acc.offset % w == 0
            and all(s % w == 0 for k, s in acc.terms.items() if k != self.vkey)
        )

    def vector_read(self, acc: Access, d: DType, address: str) -> str:
        """A vector load of `width` lanes starting at `address`."""
        if self.aligned(acc, d):
            return f"(*(__global const {buf_type(d)}{self.width} *)({address}))"
        return f"vload{self.width}(0, {address})"

    def gather(self, n: Node) -> Val:
        """out = src (in logical row-major order) at the flat position the index gives;
        positions outside the source read 0 rather than memory outside the buffer, and set
        the error flag `lg_err` unless the kernel's structure keeps them inside."""
        source, index = n.src
        pos = self.lookup(index)
        assert pos is not None
        flat = f"g{self.count}"
        self.count += 1
        # compared as a long: cast to an int index first, indexing.OUT_OF_BOUNDS wraps to 0
        self.lines.append(f"long {flat} = (long)({pos.expr});")
        self.lines.append(f"bool {flat}_in = {flat} >= 0 && {flat} < {source.numel};")
        if not positions_inside(n, self.ctx.inputs):
            self.lines.append(f"if (!{flat}_in) *{ERROR_FLAG} = 1;")
        val = self.load_flat(source, f"({flat}_in ? (idx_t){flat} : 0)", flat)
        return self.var(n.dtype, False, f"{flat}_in ? {val.expr} : {literal(0, n.dtype)}")

    def load_flat(self, x: Node, index: str, prefix: str) -> Val:
        """Leaf `x` read at its logical row-major position `index` (a C expression)."""
        base, view = loaded_view(x, self.ctx.region, self.ctx.inputs)
        saved = self.names
        self.names = dict(saved)
        if view == View.contiguous(view.shape):  # the flat position is the buffer index
            acc = Access(base, 0, {prefix: 1}, covered=(prefix,))
            self.names[prefix] = index
        else:
            keys = [f"{prefix}_{d}" if size != 1 else None for d, size in enumerate(x.shape)]
            real = [(k, size) for k, size in zip(keys, x.shape, strict=True) if k is not None]
            decompose(index, [k for k, _ in real], [s for _, s in real], self.names, self.lines, "")
            acc = make_access(base, view, keys)
        try:
            return self.load(x, acc)
        finally:
            self.names = saved

    def reload(self, out: str, acc: Access, d: DType, vec: bool) -> Val:
        """Read back what this work-item stored to output `out` at `acc` (see `store`)."""
        index, _ = index_expr(acc, self.names)
        if not vec:
            return self.var(d, False, f"{out}[{index}]")
        return self.var(d, True, self.vector_read(acc, d, f"{out} + {index}"))

    def store(self, out: str, acc: Access, val: Val, d: DType, vec: bool) -> None:
        """Write `val` to output argument `out` at `acc`."""
        index, _ = index_expr(acc, self.names)
        if not vec:
            expr = f"(uchar)({val.expr})" if d == bool_ else val.expr
            if d is float16 and not expr.startswith("lg_half("):  # every stored value a half
                expr = f"{self.src.need('lg_half')}({expr})"
            self.lines.append(f"{out}[{index}] = {expr};")
            return
        w = self.width
        expr = self.vector(val, d)
        if d == bool_:
            expr = f"convert_uchar{w}(-({expr}))"
        if self.aligned(acc, d):
            self.lines.append(f"*(__global {buf_type(d)}{w} *)({out} + {index}) = {expr};")
        else:
            self.lines.append(f"vstore{w}({expr}, 0, {out} + {index});")


class CodeContext:
    """Per-kernel facts the emitter needs: leaves and their accesses, vector-ness, names."""

    def __init__(
        self, nodes: list[Node], inputs: list[Node], const_slots: dict[Node, int], target: Target
    ):
        self.region = set(nodes)
        self.nodes = nodes
        self.position = {n: i for i, n in enumerate(nodes)}
        self.inputs = {n: i for i, n in enumerate(inputs)}
        self.const_slots = const_slots
        self.target = target
        self.access: dict[Node, Access] = {}
        self.vector: dict[Node, bool] = {}

    def is_leaf(self, n: Node) -> bool:
        return (
            n.op in LOADED_LEAVES
            or n in self.inputs
            or (n.op is Op.VIEW and n.src[0] not in self.region)
        )

    def input_name(self, n: Node) -> str:
        return f"x{self.inputs[n]}"

    def const_expr(self, n: Node) -> str:
        if n in self.const_slots:
            return f"c{self.const_slots[n]}"
        return literal(n.arg, n.dtype)

    def arange_expr(self, n: Node, index: str) -> str:
        start, step = n.arg  # type: ignore[misc]
        d = n.dtype
        integral = all(float(v).is_integer() for v in (start, step))
        if not d.is_floating_point and integral:
            t = d.cl_name
            return f"(({t}){int(start)} + ({t}){int(step)} * ({t})({index}))"
        if self.target.has_fp64:
            return f"(({val_type(d)})({float(start)!r} + {float(step)!r} * (double)({index})))"
        return (
            f"(({val_type(d)})({literal(start, float32)} + {literal(step, float32)} * "
            f"(float)({index})))"
        )

    def operands(self, n: Node) -> tuple[Node, ...]:
        """The sources emission walks into (a gather's source is read by index instead)."""
        if self.is_leaf(n) or n.op is Op.DOT:
            return ()
        if n.op is Op.GATHER:  # an input when an earlier kernel computed it
            return (n.src[1],)
        return n.src

    def leaves(self, targets: list[Node]) -> list[Node]:
        """The leaves emission of `targets` reads (indexed reads excluded)."""
        return [n for n in self.order(targets, lambda n: None) if self.is_leaf(n)]

    def order(self, targets: list[Node], defined: Callable[[Node], Val | None]) -> list[Node]:
        """Nodes to emit for `targets` (skipping defined ones), in a valid order."""
        seen: set[Node] = set()
        stack = [t for t in targets if defined(t) is None]
        while stack:
            n = stack.pop()
            if n in seen:
                continue
            seen.add(n)
            stack.extend(s for s in self.operands(n) if s not in seen and defined(s) is None)
        return sorted(seen, key=lambda n: (self.position.get(n, -1), id(n)))


# ---- bounds of indexed reads and writes ------------------------------------------------------
ERROR_FLAG = "lg_err"  # the argument a kernel sets where a position falls outside its tensor
_RANGE_OPS = (Op.VIEW, Op.CAST, *ALIAS_OPS, Op.WHERE, Op.ADD, Op.SUB, Op.MUL)


def value_range(node: Node, inputs: Container[Node]) -> tuple[int, int] | None:
    """The least and greatest value integer `node` can take as far as the kernel's structure
    shows (aranges, integer constants and sums, differences, products and selects of them);
    None where it depends on data (an input, an argument) or on ops not followed here."""
    ranges: dict[Node, tuple[int, int] | None] = {}
    stack = [node]
    while stack:  # sources first, without recursion (a fused chain may be long)
        n = stack[-1]
        if n in ranges:
            stack.pop()
            continue
        follow = n not in inputs and not n.dtype.is_floating_point and n.op in _RANGE_OPS
        srcs = (n.src[1:] if n.op is Op.WHERE else n.src) if follow else ()
        missing = [s for s in srcs if s not in ranges]
        if missing:
            stack.extend(missing)
            continue
        stack.pop()
        if n in inputs or n.dtype.is_floating_point:
            ranges[n] = None
        else:
            ranges[n] = _range_of(n, [ranges[s] for s in srcs])
    return ranges[node]


def _range_of(n: Node, srcs: list[tuple[int, int] | None]) -> tuple[int, int] | None:
    """`value_range` of `n` from its followed sources' ranges."""
    if None in srcs:
        return None
    if n.op is Op.CONST:
        lo = hi = int(n.arg)  # type: ignore[call-overload]
    elif n.op is Op.ARANGE:
        start, step = n.arg  # type: ignore[misc]
        if not all(float(v).is_integer() for v in (start, step)):
            return None
        last = start + step * max(n.shape[0] - 1, 0)
        lo, hi = int(min(start, last)), int(max(start, last))
    elif n.op in (Op.VIEW, Op.CAST, *ALIAS_OPS):
        lo, hi = srcs[0]  # type: ignore[misc]
        if n.op is Op.VIEW and n.arg.mask is not None:  # type: ignore[union-attr]
            lo, hi = min(lo, 0), max(hi, 0)  # masked elements read 0
    elif n.op is Op.WHERE:
        (alo, ahi), (blo, bhi) = srcs  # type: ignore[misc]
        lo, hi = min(alo, blo), max(ahi, bhi)
    elif n.op in (Op.ADD, Op.SUB, Op.MUL):
        (alo, ahi), (blo, bhi) = srcs  # type: ignore[misc]
        if n.op is Op.ADD:
            lo, hi = alo + blo, ahi + bhi
        elif n.op is Op.SUB:
            lo, hi = alo - bhi, ahi - blo
        else:
            products = [alo * blo, alo * bhi, ahi * blo, ahi * bhi]
            lo, hi = min(products), max(products)
    else:
        return None
    half = 2 ** (8 * n.dtype.itemsize - 1)
    return (lo, hi) if -half <= lo and hi < half else None  # else it may wrap around


def positions_inside(n: Node, inputs: Container[Node]) -> bool:
    """Whether every flat position of GATHER or SCATTER `n` is provably inside the tensor it
    reads or writes (its first source), so the kernel need not check them."""
    bounds = value_range(n.src[1], inputs)
    return bounds is not None and 0 <= bounds[0] and bounds[1] < n.src[0].numel


def uses_fp64(nodes: list[Node]) -> bool:
    """Whether any node (or source) is float64."""
    return any(n.dtype == float64 or any(s.dtype == float64 for s in n.src) for n in nodes)


def horizontal(
    op: Op, d: DType, var: str, width: int, src: SourceBuilder, lines: list[str], name: str
) -> str:
    """Fold the lanes of vector accumulator `var` into one scalar named `name`."""
    cur = var
    while width > 1:
        width //= 2
        nxt = f"{name}_h{width}"
        lines.append(
            f"{val_type(d, width)} {nxt} = {combine(op, d, f'{cur}.lo', f'{cur}.hi', src)};"
            if width > 1
            else f"{val_type(d)} {nxt} = {combine(op, d, f'{cur}.s0', f'{cur}.s1', src)};"
        )
        cur = nxt
    return cur
