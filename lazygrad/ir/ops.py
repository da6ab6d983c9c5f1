"""The op table: every primitive op declared once.

Each `OpDef` says what kind of op it is (which fixes its arity and shape rule),
its dtype rule, and how the NumPy and OpenCL code generators render it. The
gradient rules live beside it in `grad_rules.py`, keyed by the same `Op`.
Every pass and backend reads this table instead of listing ops itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Op(Enum):
    # Members are singletons, so identity is equality: hashing by identity (a C slot) instead
    # of Enum's hash of the name (a Python call) speeds every op-keyed lookup of every pass.
    __hash__ = object.__hash__

    # leaves
    BUFFER = "buffer"
    CONST = "const"
    ARANGE = "arange"
    RAND = "rand"
    PARAM = "param"  # a Python scalar, passed to the kernel as an argument
    # unary
    NEG = "neg"
    EXP = "exp"
    LOG = "log"
    SIN = "sin"
    COS = "cos"
    SQRT = "sqrt"
    RECIP = "recip"
    TANH = "tanh"
    ABS = "abs"
    FLOOR = "floor"
    RINT = "rint"  # round half to even
    ASIN = "asin"
    ACOS = "acos"
    ATAN = "atan"
    SINH = "sinh"
    COSH = "cosh"
    ERF = "erf"
    EXPM1 = "expm1"
    LOG1P = "log1p"
    NOT = "not"
    CAST = "cast"
    # binary
    ADD = "add"
    SUB = "sub"
    MUL = "mul"
    DIV = "div"
    IDIV = "idiv"
    MOD = "mod"
    MAX = "max"
    MIN = "min"
    POW = "pow"
    ATAN2 = "atan2"
    FMOD = "fmod"  # remainder of the division truncated toward zero (C's fmod)
    CMPLT = "cmplt"
    CMPLE = "cmple"
    CMPEQ = "cmpeq"
    CMPNE = "cmpne"
    AND = "and"
    OR = "or"
    XOR = "xor"
    # ternary
    WHERE = "where"
    # reductions over axes (rank kept)
    SUM = "sum"
    RMAX = "rmax"
    PROD = "prod"
    # contraction: (..., M, K) x (..., K, N) -> (..., M, N)
    DOT = "dot"
    # movement
    RESHAPE = "reshape"
    PERMUTE = "permute"
    EXPAND = "expand"
    PAD = "pad"
    SHRINK = "shrink"
    FLIP = "flip"
    VIEW = "view"
    # indexing
    GATHER = "gather"
    SCATTER = "scatter"
    # structure
    CONTIGUOUS = "contiguous"
    DETACH = "detach"
    COPY = "copy"
    # a collective over the processes of a distributed run (arg: what it does, and the
    # call's number, which keeps two equal calls apart)
    COLLECTIVE = "collective"

    def __repr__(self) -> str:
        return f"Op.{self.name}"

    # Members are singletons: identity hashing is exact and much faster than Enum's.
    __hash__ = object.__hash__


class Kind(Enum):
    LEAF = "leaf"
    UNARY = "unary"
    BINARY = "binary"
    TERNARY = "ternary"
    REDUCE = "reduce"
    DOT = "dot"
    MOVEMENT = "movement"
    INDEX = "index"
    STRUCTURE = "structure"


@dataclass(frozen=True, slots=True)
class OpDef:
    """One row of the op table.

    `np` is the NumPy callable's name (a ufunc taking `out=` for elementwise ops,
    a reduction for reduce ops); `cl` is an OpenCL C expression template over the
    operands `{0}`, `{1}`, `{2}` (for reductions: the accumulate step `acc`/`x`
    and `identity`). `result` is the dtype rule: "same" (the operands' dtype),
    "bool" or "arg" (the dtype named by the node's arg).
    """

    op: Op
    kind: Kind
    np: str | None = None
    cl: str | None = None
    result: str = "same"
    identity: str | None = None
    float_only: bool = False


def _elementwise_rows() -> list[OpDef]:
    u, b = Kind.UNARY, Kind.BINARY
    return [
        OpDef(Op.NEG, u, "np.negative", "(-{0})"),
        OpDef(Op.EXP, u, "np.exp", "exp({0})", float_only=True),
        OpDef(Op.LOG, u, "np.log", "log({0})", float_only=True),
        OpDef(Op.SIN, u, "np.sin", "sin({0})", float_only=True),
        OpDef(Op.COS, u, "np.cos", "cos({0})", float_only=True),
        OpDef(Op.SQRT, u, "np.sqrt", "sqrt({0})", float_only=True),
        OpDef(Op.RECIP, u, "np.reciprocal", "(1/{0})", float_only=True),
        OpDef(Op.TANH, u, "np.tanh", "tanh({0})", float_only=True),
        OpDef(Op.ABS, u, "np.abs", "{absfn}({0})"),
        OpDef(Op.FLOOR, u, "np.floor", "floor({0})", float_only=True),
        OpDef(Op.RINT, u, "np.rint", "rint({0})", float_only=True),
        OpDef(Op.ASIN, u, "np.arcsin", "asin({0})", float_only=True),
        OpDef(Op.ACOS, u, "np.arccos", "acos({0})", float_only=True),
        OpDef(Op.ATAN, u, "np.arctan", "atan({0})", float_only=True),
        OpDef(Op.SINH, u, "np.sinh", "sinh({0})", float_only=True),
        OpDef(Op.COSH, u, "np.cosh", "cosh({0})", float_only=True),
        OpDef(Op.ERF, u, "_erf", "erf({0})", float_only=True),  # NumPy has no erf ufunc
        OpDef(Op.EXPM1, u, "np.expm1", "expm1({0})", float_only=True),
        OpDef(Op.LOG1P, u, "np.log1p", "log1p({0})", float_only=True),
        OpDef(Op.NOT, u, "np.invert", "{notop}{0}"),
        OpDef(Op.CAST, u, None, "{cast}({0})", result="arg"),
        OpDef(Op.ADD, b, "np.add", "({0}+{1})"),
        OpDef(Op.SUB, b, "np.subtract", "({0}-{1})"),
        OpDef(Op.MUL, b, "np.multiply", "({0}*{1})"),
        OpDef(Op.DIV, b, "np.divide", "({0}/{1})", float_only=True),
        OpDef(Op.IDIV, b, "np.floor_divide", "{idiv}({0},{1})"),
        OpDef(Op.MOD, b, "np.remainder", "{mod}({0},{1})"),
        OpDef(Op.MAX, b, "np.maximum", "{maxfn}({0},{1})"),
        OpDef(Op.MIN, b, "np.minimum", "{minfn}({0},{1})"),
        OpDef(Op.POW, b, "np.power", "{pow}({0},{1})"),
        OpDef(Op.ATAN2, b, "np.arctan2", "atan2({0},{1})", float_only=True),
        OpDef(Op.FMOD, b, "np.fmod", "{fmod}({0},{1})"),
        OpDef(Op.CMPLT, b, "np.less", "({0}<{1})", result="bool"),
        OpDef(Op.CMPLE, b, "np.less_equal", "({0}<={1})", result="bool"),
        OpDef(Op.CMPEQ, b, "np.equal", "({0}=={1})", result="bool"),
        OpDef(Op.CMPNE, b, "np.not_equal", "({0}!={1})", result="bool"),
        OpDef(Op.AND, b, "np.bitwise_and", "({0}&{1})"),
        OpDef(Op.OR, b, "np.bitwise_or", "({0}|{1})"),
        OpDef(Op.XOR, b, "np.bitwise_xor", "({0}^{1})"),
        OpDef(Op.WHERE, Kind.TERNARY, "np.where", "({0}?{1}:{2})"),
    ]


def _other_rows() -> list[OpDef]:
    return [
        OpDef(Op.BUFFER, Kind.LEAF),
        OpDef(Op.CONST, Kind.LEAF),
        OpDef(Op.ARANGE, Kind.LEAF),
        OpDef(Op.RAND, Kind.LEAF),
        OpDef(Op.PARAM, Kind.LEAF),
        OpDef(Op.SUM, Kind.REDUCE, "np.add.reduce", "acc + x", identity="0"),
        OpDef(Op.RMAX, Kind.REDUCE, "np.maximum.reduce", "{maxfn}(acc, x)", identity="-INFINITY"),
        OpDef(Op.PROD, Kind.REDUCE, "np.multiply.reduce", "acc * x", identity="1"),
        OpDef(Op.DOT, Kind.DOT, "np.matmul"),
        *(OpDef(op, Kind.MOVEMENT) for op in MOVEMENT_OPS),
        OpDef(Op.GATHER, Kind.INDEX),
        OpDef(Op.SCATTER, Kind.INDEX),
        OpDef(Op.CONTIGUOUS, Kind.STRUCTURE),
        OpDef(Op.DETACH, Kind.STRUCTURE),
        OpDef(Op.COPY, Kind.STRUCTURE),
        OpDef(Op.COLLECTIVE, Kind.STRUCTURE),
    ]


MOVEMENT_OPS = (Op.RESHAPE, Op.PERMUTE, Op.EXPAND, Op.PAD, Op.SHRINK, Op.FLIP, Op.VIEW)
OP_TABLE: dict[Op, OpDef] = {row.op: row for row in _elementwise_rows() + _other_rows()}
assert set(OP_TABLE) == set(Op), f"ops missing from the table: {set(Op) - set(OP_TABLE)}"

ELEMENTWISE = frozenset(
    o for o, d in OP_TABLE.items() if d.kind in (Kind.UNARY, Kind.BINARY, Kind.TERNARY)
)
REDUCE_OPS = frozenset(o for o, d in OP_TABLE.items() if d.kind is Kind.REDUCE)
LEAF_OPS = frozenset(o for o, d in OP_TABLE.items() if d.kind is Kind.LEAF)
# leaves that hold no data: a constant, a Python scalar passed as an argument, a range
CONSTANT_LEAVES = frozenset((Op.CONST, Op.PARAM, Op.ARANGE))
# leaves a kernel reads without computing anything (random draws are computed)
LOADED_LEAVES = CONSTANT_LEAVES | {Op.BUFFER}
