"""OpenCL C generation: the pieces every kernel template shares.

OpenCL C is rendered here as a C dialect: types and literals, the helper functions the
templates name, index arithmetic as C (`index_expr`, `decompose`), and `Emitter`, which turns
IR nodes into statements, one typed variable per node, either scalar or as `W`-wide vectors
along one dim of the space. Which accesses, layouts and vectors a kernel uses is decided in
`codegen/`; how each op renders comes from the op table (`OpDef.cl`), whose placeholders this
module fills.
"""

from __future__ import annotations

import math
import string
from dataclasses import dataclass

from ..codegen.access import Access, loaded_view, make_access
from ..codegen.bounds import positions_inside
from ..codegen.graph import ALIAS_OPS, KernelGraph
from ..codegen.target import Target
from ..dtypes import DType, bool_, float16, float32, float64, wrap_scalar
from ..ir.node import Node
from ..ir.ops import ELEMENTWISE, OP_TABLE, REDUCE_OPS, Op
from ..ir.view import View

_ROUNDED_WHEN_DEFINED = frozenset((*REDUCE_OPS, Op.DOT))


# ---- types and literals -------------------------------------------------------------------
# float16 and bfloat16: OpenCL C has no arithmetic on them without extensions (PoCL's CPU
# device lacks cl_khr_fp16), so their values live in device memory as float32
# (`storage_itemsize`), are computed in float, and every result is rounded to the narrow type
# (`rounding`: round to nearest even, as NumPy and PyTorch convert), so values match
# NumPy's float16 and ml_dtypes' bfloat16 arithmetic. Sums, products and matmuls accumulate
# in float and round once, as PyTorch's do.


def storage_itemsize(d: DType) -> int:
    """Bytes per element of a device buffer of dtype `d` (float16 and bfloat16 are stored as
    float32)."""
    return 4 if d.is_narrow_float else d.itemsize


def rounding(d: DType) -> str:
    """The helper that rounds a float to narrow float dtype `d`."""
    return "lg_half" if d is float16 else "lg_bf16"


def buf_type(d: DType) -> str:
    """The element type of a buffer of dtype `d` (bool is stored as one byte, float16 and
    bfloat16 as a float)."""
    return "uchar" if d == bool_ else d.cl_name


def val_type(d: DType, width: int = 1) -> str:
    """The C type of a value: `bool` scalars, and int masks for bool vectors."""
    if width == 1:
        return "bool" if d == bool_ else d.cl_name
    return f"int{width}" if d == bool_ else f"{d.cl_name}{width}"


def literal(value: object, d: DType) -> str:
    """A C literal of dtype `d` (INFINITY/NAN macros, `f` suffix for float32 and the narrow
    floats, whose values are rounded to their precision first; integers wrapped into `d`'s
    range)."""
    if d == bool_:
        return "true" if value else "false"
    single = d.cl_name == "float"  # float32, and the narrow floats computed in float
    if d.is_floating_point:
        v = float(value)  # type: ignore[arg-type]
        if d.is_narrow_float:
            v = float(d.np.type(v))
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
# A float rounded to the nearest bfloat16 value (ties to even), kept as a float: bfloat16 is
# float32 with 16 mantissa bits fewer, so inf and NaN stay, the largest values round to inf.
_BFLOAT16_ROUNDING = """inline float lg_bf16(float x) {
  uint u = as_uint(x);
  if ((u & 0x7fffffffu) >= 0x7f800000u) return x;
  u += 0x7fffu + ((u >> 16) & 1u);
  return as_float(u & 0xffff0000u);
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
    "lg_bf16": _BFLOAT16_ROUNDING,
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
        # helpers are shared by programs of different index types: none may use idx_t
        assert not any("idx_t" in h for _, h in p.helpers), "a helper uses idx_t"
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
        if node.dtype.is_narrow_float and node.op in _ROUNDED_WHEN_DEFINED:
            # a narrow sum, product or matmul accumulates in float: round the result once
            val = Val(f"{self.src.need(rounding(node.dtype))}({val.expr})", val.vec)
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
        for node in self.ctx.graph.order(targets, self.lookup):
            self.emit_node(node)

    def emit_node(self, n: Node) -> None:
        ctx = self.ctx
        if ctx.graph.is_leaf(n):
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
            if n.dtype.is_narrow_float:  # computed in float: every result rounded
                expr = f"{self.src.need(rounding(n.dtype))}({expr})"
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
            if d.is_narrow_float:
                value = f"{self.src.need(rounding(d))}({value})"
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
        if not positions_inside(n, self.ctx.graph.inputs):
            self.lines.append(f"if (!{flat}_in) *{ERROR_FLAG} = 1;")
        val = self.load_flat(source, f"({flat}_in ? (idx_t){flat} : 0)", flat)
        return self.var(n.dtype, False, f"{flat}_in ? {val.expr} : {literal(0, n.dtype)}")

    def load_flat(self, x: Node, index: str, prefix: str) -> Val:
        """Leaf `x` read at its logical row-major position `index` (a C expression)."""
        base, view = loaded_view(x, self.ctx.graph.region, self.ctx.graph.inputs)
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
            helper = rounding(d)
            if d.is_narrow_float and not expr.startswith(f"{helper}("):  # every stored value
                expr = f"{self.src.need(helper)}({expr})"  # rounded
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
    """Per-kernel facts the emitter needs: the kernel's graph, the planned access of each leaf
    and which nodes are vectors (from `codegen/`), constant argument slots, the target."""

    def __init__(
        self,
        graph: KernelGraph,
        const_slots: dict[Node, int],
        target: Target,
        access: dict[Node, Access] | None = None,
        vector: dict[Node, bool] | None = None,
    ):
        self.graph = graph
        self.const_slots = const_slots
        self.target = target
        self.access = access or {}
        self.vector = vector or {}

    def input_name(self, n: Node) -> str:
        """The argument holding input `n`."""
        return f"x{self.graph.inputs[n]}"

    def const_expr(self, n: Node) -> str:
        """Constant `n` as a kernel argument or a literal."""
        if n in self.const_slots:
            return f"c{self.const_slots[n]}"
        return literal(n.arg, n.dtype)

    def arange_expr(self, n: Node, index: str) -> str:
        """ARANGE `n`'s value at C expression `index`."""
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


ERROR_FLAG = "lg_err"  # the argument a kernel sets where a position falls outside its tensor


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
