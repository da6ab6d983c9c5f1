"""Differential fuzzer: random lazygrad programs checked value by value against NumPy.

A program (3 to 30 ops) is drawn by hypothesis as a list of steps over a pool of values:
elementwise ops with broadcasting and Python scalars, casts and mixed dtypes, movement ops
(views and copies), reductions, matmul, gathers and scatters with index tensors, in-place
updates (also through views such as `x[1:]` or `x.T`, which must reach the base as NumPy
views do), mid-program reads (`.numpy()`) and dropped temporaries. The same steps run in
lockstep on lazygrad and on a NumPy reference, and every live value is compared.

The reference keeps each value as a float64 midpoint and a radius (a running error bound): a
float32 result may differ from the float64 midpoint by its accumulated rounding error, which
is propagated op by op (so cancellation and comparisons of nearly equal values are judged
soundly). Where a discrete result (a comparison, an index, an integer derived from one) can
not be decided from the bound, the element is unknown and not compared; integer and bool
results are otherwise exact. On top of twice the bound, floats get `conftest.FLOAT_TOLERANCE`.

Also: "structure reuse" reruns each program with new input values and then with changed
Python scalars (the schedule cache keys graphs by structure, scalars are kernel arguments);
`test_fuzz_gradients` checks `backward()` of random smooth float64 programs against central
finite differences of the reference.

Budgets: by default a fixed-seed short run (`derandomize=True`); with
`LAZYGRAD_FUZZ_EXAMPLES=N` each test draws N examples with random seeds (`make fuzz`).
"""

from __future__ import annotations

import math
import operator
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from conftest import CATEGORY, FLOAT_TOLERANCE, np_dtype, promote, result_type
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

import lazygrad as lg

LONG_EXAMPLES = int(os.environ.get("LAZYGRAD_FUZZ_EXAMPLES", "0") or 0)
# LAZYGRAD_FUZZ_NO_SHRINK=1 reports failures unshrunk (shrinking a failing OpenCL program can
# take many minutes).
NO_SHRINK = bool(os.environ.get("LAZYGRAD_FUZZ_NO_SHRINK"))

FLOATS = ("float32", "float64")
# Unit roundoff per float dtype; TINY absorbs underflow (flushed subnormals).
UNIT = {"float32": 2.0**-24, "float64": 2.0**-53}
TINY = {"float32": 2.0**-120, "float64": 2.0**-1016}
STORE = {"bool": np.bool_, "int64": np.int64, "float32": np.float64, "float64": np.float64}
LIMIT = {"float": 1e4, "int": 2.0**40}  # static bound on magnitudes: no overflow, no inf
SMOOTH_LIMIT = 1e3
EXACT, BASIC, LIBM = 0.0, 2.0, 16.0  # rounding allowance (in units) per kind of op


def fuzz_settings(device: str, cpu: int, opencl: int) -> settings:
    """Fixed-seed short run by default; LAZYGRAD_FUZZ_EXAMPLES examples with random seeds."""
    common: dict[str, Any] = {
        "deadline": None,
        "database": None,
        "suppress_health_check": list(HealthCheck),
        "print_blob": True,
    }
    if NO_SHRINK:
        common["phases"] = (Phase.explicit, Phase.generate)
    if LONG_EXAMPLES:
        return settings(max_examples=LONG_EXAMPLES, derandomize=False, **common)
    return settings(max_examples=cpu if device == "cpu" else opencl, derandomize=True, **common)


# ---- the reference: midpoint + radius --------------------------------------------------------
class R:
    """A reference value: `mid` (float64 for float dtypes, else int64/bool) and `rad`, a bound on
    how far a correct lazygrad result may be from `mid` (inf: unknown, not compared)."""

    __slots__ = ("mid", "rad", "dtype")

    def __init__(self, mid: np.ndarray, rad: np.ndarray, dtype: str) -> None:
        self.mid, self.rad, self.dtype = mid, rad, dtype


def fresh(mid: Any, rad: Any, dtype: str, k: float = BASIC) -> R:
    """A newly computed value (own memory): rounding of `k` units added to the radius."""
    mid = np.array(mid, dtype=STORE[dtype], order="C")  # contiguous, as PyTorch's results are
    rad = np.array(np.broadcast_to(rad, mid.shape), dtype=np.float64, order="C")
    rad[np.isnan(rad)] = np.inf
    if dtype in FLOATS:
        rad += k * UNIT[dtype] * np.abs(mid) + TINY[dtype]
    else:
        rad = np.where(rad > 0, np.inf, 0.0)
    return R(mid, rad, dtype)


def view(r: R, fn: Callable[[np.ndarray], np.ndarray]) -> R:
    """A view: the same op on midpoint and radius, sharing memory as the op does in NumPy."""
    return R(np.asarray(fn(r.mid)), np.asarray(fn(r.rad)), r.dtype)


def cast(r: R, dtype: str) -> R:
    """PyTorch's cast (`.to`): the same tensor when the dtype already matches."""
    if dtype == r.dtype:
        return r
    assert dtype in FLOATS or CATEGORY[r.dtype] <= CATEGORY[dtype], (r.dtype, dtype)
    exact = r.dtype == "bool" or (r.dtype, dtype) == ("float32", "float64")
    return fresh(r.mid, r.rad, dtype, EXACT if exact else 1.0)


def scalar_ref(value: Any, dtype: str) -> R:
    """A Python scalar as an operand computed in `dtype` (rounded to it first, like PyTorch)."""
    mid = np.asarray(value).astype(np_dtype(dtype)).astype(STORE[dtype])
    return R(mid, np.zeros(()), dtype)


def assert_matches(t: lg.Tensor, r: R, what: str) -> None:
    """lazygrad tensor `t` against reference `r`: dtype, shape, values within the bound."""
    assert t.dtype.name == r.dtype, f"{what}: dtype {t.dtype.name}, expected {r.dtype}"
    assert tuple(t.shape) == r.mid.shape, f"{what}: shape {tuple(t.shape)} vs {r.mid.shape}"
    got = t.detach().numpy()
    assert got.shape == r.mid.shape, f"{what}: numpy() shape {got.shape}"
    known = np.isfinite(r.rad)
    if r.dtype in FLOATS:
        rtol, atol = FLOAT_TOLERANCE[r.dtype]
        err = np.abs(got.astype(np.float64) - r.mid)
        bad = known & ~(err <= 2 * r.rad + rtol * np.abs(r.mid) + atol)
    else:
        bad = known & (got != r.mid)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise AssertionError(
            f"{what} ({r.dtype}{list(r.mid.shape)}): {int(bad.sum())} wrong element(s), first at "
            f"{where}: got {got[where]!r}, expected {r.mid[where]!r} (bound {r.rad[where]:.3g})"
            f"\ngot:\n{got}\nexpected:\n{r.mid}"
        )


# ---- programs ---------------------------------------------------------------------------------
@dataclass
class Step:
    op: str
    ins: tuple[int, ...]
    p: dict[str, Any] = field(default_factory=dict)


@dataclass
class Meta:
    """What the generator knows of a value: shape, dtype, a bound on magnitudes, which value's
    memory it shares (its base), whether writes to it are allowed, whether it is an input."""

    shape: tuple[int, ...]
    dtype: str
    bound: float
    base: int
    writable: bool = True
    is_input: bool = False
    alive: bool = True
    dummy: Any = None  # an int8 array with the value's strides: which reshapes are views

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


@dataclass
class Program:
    steps: list[Step]
    metas: list[Meta]
    inputs: list[dict[str, Any]]  # specs: shape, dtype, kind ("data"/"index"), n, unique
    scalars: list[str]  # kinds of the Python scalar slots


@dataclass
class Env:
    device: str
    inputs: list[np.ndarray]
    scalars: list[Any]
    grad: bool = False


SCALAR_KINDS = {"int": 3, "float": 2.5, "pos": 2.0, "posint": 3, "bool": 1}


def draw_inputs(prog: Program, rng: np.random.Generator) -> list[np.ndarray]:
    out = []
    for spec in prog.inputs:
        shape, dtype = spec["shape"], spec["dtype"]
        if spec["kind"] == "index":
            n = spec["n"]
            if spec["unique"]:
                idx = rng.permutation(n)[: math.prod(shape)].reshape(shape)
                idx = np.where(rng.random(shape) < 0.3, idx - n, idx)
            else:
                idx = rng.integers(-n, n, shape)
            out.append(np.array(idx, dtype=np.int64))
        elif dtype in FLOATS:
            a = rng.uniform(-3, 3, shape)
            if rng.random() < 0.3:
                a = np.round(a * 2) / 2  # ties and exact zeros
            out.append(np.array(a, dtype=dtype))
        elif dtype == "int64":
            out.append(np.array(rng.integers(-5, 6, shape), dtype=np.int64))
        else:
            out.append(np.array(rng.random(shape) < 0.5))
    return out


def draw_scalars(prog: Program, rng: np.random.Generator) -> list[Any]:
    out: list[Any] = []
    for kind in prog.scalars:
        if kind == "int":
            out.append(int(rng.integers(-3, 4)))
        elif kind == "float":
            out.append(float(rng.choice([0.0, 1.0, -1.0, 0.5, rng.uniform(-2.5, 2.5)])))
        elif kind == "pos":
            out.append(float(rng.uniform(0.5, 2.0)))
        elif kind == "posint":
            out.append(int(rng.integers(1, 4)))
        else:
            out.append(bool(rng.random() < 0.5))
    return out


# ---- ops: each has a lazygrad side and a reference side ---------------------------------------
LG: dict[str, Callable[[Step, list, Env], Any]] = {}
REF: dict[str, Callable[[Step, list, Env], Any]] = {}


def lg_op(name: str) -> Callable[[Callable], Callable]:
    def register(fn: Callable) -> Callable:
        LG[name] = fn
        return fn

    return register


def ref_op(name: str) -> Callable[[Callable], Callable]:
    def register(fn: Callable) -> Callable:
        REF[name] = fn
        return fn

    return register


@lg_op("input")
def _lg_input(s: Step, v: list, env: Env) -> lg.Tensor:
    arr = env.inputs[s.p["k"]]
    grad = env.grad and arr.dtype.kind == "f"
    return lg.tensor(arr, device=env.device, requires_grad=grad)


@ref_op("input")
def _ref_input(s: Step, v: list, env: Env) -> R:
    arr = env.inputs[s.p["k"]]
    dtype = "bool" if arr.dtype == np.bool_ else arr.dtype.name
    return R(np.array(arr, dtype=STORE[dtype]), np.zeros(arr.shape), dtype)


def _operands(s: Step, v: list, env: Env) -> tuple[Any, Any]:
    """The two operands of a binary step: a value and a value or a Python scalar slot."""
    a = v[s.ins[0]]
    b = env.scalars[s.p["scalar"]] if s.p.get("scalar") is not None else v[s.ins[1]]
    return (b, a) if s.p.get("swap") else (a, b)


LG_BINARY: dict[str, Callable] = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "div": operator.truediv,
    "floordiv": operator.floordiv,
    "mod": operator.mod,
    "maximum": lg.maximum,
    "minimum": lg.minimum,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
    "eq": operator.eq,
    "ne": operator.ne,
}
COMPARISONS = {
    "lt": np.less,
    "le": np.less_equal,
    "gt": np.greater,
    "ge": np.greater_equal,
    "eq": np.equal,
    "ne": np.not_equal,
}


def ref_binary(name: str, a: R, b: R, ct: str) -> R:
    """`a <name> b` computed in dtype `ct` (operands already R's)."""
    a, b = cast(a, ct), cast(b, ct)
    am, bm, ar, br = a.mid, b.mid, a.rad, b.rad
    with np.errstate(all="ignore"):
        if name in COMPARISONS:
            mid = COMPARISONS[name](am, bm)
            rsum = ar + br
            gap = np.abs(am.astype(np.float64) - bm.astype(np.float64))
            return fresh(mid, np.where((rsum > 0) & (gap <= 2 * rsum), np.inf, 0.0), "bool")
        if name in ("add", "sub"):
            mid = am + bm if name == "add" else am - bm
            return fresh(mid, ar + br, ct)
        if name == "mul":
            mid = am * bm
            return fresh(mid, np.abs(am) * br + np.abs(bm) * ar + ar * br, ct)
        if name in ("maximum", "minimum"):
            mid = np.maximum(am, bm) if name == "maximum" else np.minimum(am, bm)
            return fresh(mid, np.maximum(ar, br), ct, EXACT)
        if name == "div":
            mid = am / bm
            den = np.abs(bm) * (np.abs(bm) - br)
            rad = np.where(br < np.abs(bm), (np.abs(am) * br + np.abs(bm) * ar) / den, np.inf)
            return fresh(mid, rad, ct)
        if name == "floordiv":
            return fresh(np.floor_divide(am, bm), ar + br, ct)
        if name == "mod":
            return fresh(np.remainder(am, bm), ar + br, ct)
    raise AssertionError(name)


@lg_op("binary")
def _lg_binary(s: Step, v: list, env: Env) -> lg.Tensor:
    a, b = _operands(s, v, env)
    return LG_BINARY[s.p["name"]](a, b)


@ref_op("binary")
def _ref_binary(s: Step, v: list, env: Env) -> R:
    a, b = _operands(s, v, env)
    ct = s.p["ct"]
    a = a if isinstance(a, R) else scalar_ref(a, ct)
    b = b if isinstance(b, R) else scalar_ref(b, ct)
    return ref_binary(s.p["name"], a, b, ct)


LG_UNARY: dict[str, Callable[[lg.Tensor], lg.Tensor]] = {
    "neg": lambda x: -x,
    "abs": lambda x: x.abs(),
    "relu": lambda x: x.relu(),
    "exp": lambda x: x.exp(),
    "tanh": lambda x: lg.tanh(x),
    "sigmoid": lambda x: x.sigmoid(),
    "sqrtabs": lambda x: x.abs().sqrt(),
    "sqrtsq": lambda x: (x * x + 0.25).sqrt(),
}


@lg_op("unary")
def _lg_unary(s: Step, v: list, env: Env) -> lg.Tensor:
    return LG_UNARY[s.p["name"]](v[s.ins[0]])


def _monotone(f: Callable[[np.ndarray], np.ndarray], m: np.ndarray, r: np.ndarray) -> Any:
    with np.errstate(all="ignore"):
        y = f(m)
        return y, np.maximum(np.abs(f(m + r) - y), np.abs(y - f(m - r)))


@ref_op("unary")
def _ref_unary(s: Step, v: list, env: Env) -> R:
    name, ct = s.p["name"], s.p["ct"]
    x = cast(v[s.ins[0]], ct)
    m, r = x.mid, x.rad
    if name == "neg":
        return fresh(-m, r, ct, EXACT)
    if name == "abs":
        return fresh(np.abs(m), r, ct, EXACT)
    if name == "relu":
        return fresh(np.maximum(m, 0), r, ct, EXACT)
    if name == "exp":
        return fresh(*_monotone(np.exp, m, r), ct, LIBM)
    if name == "tanh":
        return fresh(np.tanh(m), np.minimum(r, 2.0), ct, LIBM)
    if name == "sigmoid":
        return fresh(1 / (1 + np.exp(-m)), np.minimum(r / 4, 1.0), ct, LIBM)
    if name == "sqrtabs":
        a = np.abs(m)
        lo = np.maximum(a - r, 0)
        rad = np.maximum(np.sqrt(a + r) - np.sqrt(a), np.sqrt(a) - np.sqrt(lo))
        return fresh(np.sqrt(a), rad, ct, 4.0)
    if name == "sqrtsq":
        sq = ref_binary("mul", x, x, ct)
        sq = ref_binary("add", sq, scalar_ref(0.25, ct), ct)
        return fresh(*_monotone(np.sqrt, sq.mid, np.minimum(sq.rad, sq.mid)), ct, 4.0)
    raise AssertionError(name)


@lg_op("clamp")
def _lg_clamp(s: Step, v: list, env: Env) -> lg.Tensor:
    lo, hi = env.scalars[s.p["lo"]], env.scalars[s.p["hi"]]
    return v[s.ins[0]].clamp(lo, hi)


def ref_clamp(x: R, lo: Any, hi: Any) -> R:
    lo, hi = scalar_ref(lo, x.dtype).mid, scalar_ref(hi, x.dtype).mid
    return fresh(np.minimum(np.maximum(x.mid, lo), hi), x.rad, x.dtype, EXACT)


@ref_op("clamp")
def _ref_clamp(s: Step, v: list, env: Env) -> R:
    return ref_clamp(v[s.ins[0]], env.scalars[s.p["lo"]], env.scalars[s.p["hi"]])


@lg_op("where")
def _lg_where(s: Step, v: list, env: Env) -> lg.Tensor:
    c, a = v[s.ins[0]], v[s.ins[1]]
    b = env.scalars[s.p["scalar"]] if s.p["scalar"] is not None else v[s.ins[2]]
    return lg.where(c, a, b) if s.p["fn"] else a.where(c, b)


@ref_op("where")
def _ref_where(s: Step, v: list, env: Env) -> R:
    c, a = v[s.ins[0]], v[s.ins[1]]
    ct = s.p["ct"]
    b = scalar_ref(env.scalars[s.p["scalar"]], ct) if s.p["scalar"] is not None else v[s.ins[2]]
    a, b = cast(a, ct), cast(b, ct)
    mid = np.where(c.mid, a.mid, b.mid)
    rad = np.where(c.rad > 0, np.inf, np.where(c.mid, a.rad, b.rad))
    return fresh(mid, rad, ct, EXACT)


LG_CASTS = {
    "float32": lambda x: x.float(),
    "float64": lambda x: x.double(),
    "int64": lambda x: x.long(),
}


@lg_op("cast")
def _lg_cast(s: Step, v: list, env: Env) -> lg.Tensor:
    x = v[s.ins[0]]
    if s.p["to"]:
        return x.to({"float32": lg.float32, "float64": lg.float64}[s.p["dtype"]])
    return LG_CASTS[s.p["dtype"]](x)


@ref_op("cast")
def _ref_cast(s: Step, v: list, env: Env) -> R:
    return cast(v[s.ins[0]], s.p["dtype"])


# movement ---------------------------------------------------------------------------------------
@lg_op("reshape")
def _lg_reshape(s: Step, v: list, env: Env) -> lg.Tensor:
    x = v[s.ins[0]]
    return x.view(*s.p["shape"]) if s.p["view"] else x.reshape(s.p["shape"])


@ref_op("reshape")
def _ref_reshape(s: Step, v: list, env: Env) -> R:
    return view(v[s.ins[0]], lambda a: a.reshape(s.p["shape"]))


@lg_op("permute")
def _lg_permute(s: Step, v: list, env: Env) -> lg.Tensor:
    x, kind, dims = v[s.ins[0]], s.p["kind"], s.p["dims"]
    if kind == "permute":
        return x.permute(*dims) if dims and s.p["unpacked"] else x.permute(dims)
    if kind == "transpose":
        return x.transpose(*dims)
    return x.T if kind == "T" else x.mT


@ref_op("permute")
def _ref_permute(s: Step, v: list, env: Env) -> R:
    kind, dims = s.p["kind"], s.p["dims"]
    if kind == "permute":
        return view(v[s.ins[0]], lambda a: np.transpose(a, dims))
    if kind == "transpose":
        return view(v[s.ins[0]], lambda a: np.swapaxes(a, *dims))
    return view(v[s.ins[0]], lambda a: a.T if kind == "T" else np.swapaxes(a, -1, -2))


def np_key(key: tuple) -> tuple:
    """The same basic key for NumPy, always giving an array view (never a NumPy scalar)."""
    return key if Ellipsis in key else (*key, Ellipsis)


@lg_op("slice")
def _lg_slice(s: Step, v: list, env: Env) -> lg.Tensor:
    key = s.p["key"]
    return v[s.ins[0]][key[0] if len(key) == 1 and s.p["bare"] else key]


@ref_op("slice")
def _ref_slice(s: Step, v: list, env: Env) -> R:
    return view(v[s.ins[0]], lambda a: a[np_key(s.p["key"])])


@lg_op("flip")
def _lg_flip(s: Step, v: list, env: Env) -> lg.Tensor:
    return v[s.ins[0]].flip(s.p["dims"])


@ref_op("flip")
def _ref_flip(s: Step, v: list, env: Env) -> R:
    x = v[s.ins[0]]  # a copy in PyTorch (a view in NumPy)
    return R(np.flip(x.mid, s.p["dims"]).copy(), np.flip(x.rad, s.p["dims"]).copy(), x.dtype)


@lg_op("expand")
def _lg_expand(s: Step, v: list, env: Env) -> lg.Tensor:
    return v[s.ins[0]].expand(*s.p["sizes"])


@ref_op("expand")
def _ref_expand(s: Step, v: list, env: Env) -> R:
    return view(v[s.ins[0]], lambda a: np.broadcast_to(a, s.p["shape"]))


@lg_op("unsqueeze")
def _lg_unsqueeze(s: Step, v: list, env: Env) -> lg.Tensor:
    x, d = v[s.ins[0]], s.p["dim"]
    if s.p["squeeze"]:
        return x.squeeze() if d is None else x.squeeze(d)
    return x.unsqueeze(d)


@ref_op("unsqueeze")
def _ref_unsqueeze(s: Step, v: list, env: Env) -> R:
    d = s.p["dim"]
    if not s.p["squeeze"]:
        return view(v[s.ins[0]], lambda a: np.expand_dims(a, d))
    if d is None:
        return view(v[s.ins[0]], np.squeeze)
    return view(v[s.ins[0]], lambda a: np.squeeze(a, d) if a.shape[d] == 1 else a[...])


@lg_op("cat")
def _lg_cat(s: Step, v: list, env: Env) -> lg.Tensor:
    fn = lg.cat if s.p["cat"] else lg.stack
    return fn([v[i] for i in s.ins], dim=s.p["dim"])


@ref_op("cat")
def _ref_cat(s: Step, v: list, env: Env) -> R:
    parts = [cast(v[i], s.p["ct"]) for i in s.ins]
    fn = np.concatenate if s.p["cat"] else np.stack
    mid = fn([p.mid for p in parts], axis=s.p["dim"])
    return fresh(mid, fn([p.rad for p in parts], axis=s.p["dim"]), s.p["ct"], EXACT)


# reductions ------------------------------------------------------------------------------------
@lg_op("reduce")
def _lg_reduce(s: Step, v: list, env: Env) -> lg.Tensor:
    x, name, dim, keep = v[s.ins[0]], s.p["name"], s.p["dim"], s.p["keepdim"]
    if dim is None:
        return getattr(x, name)()
    if name in ("max", "min"):
        out = getattr(x, name)(dim, keepdim=keep)
        return out.values if s.p["attr"] else out[0]
    return getattr(x, name)(dim, keepdim=keep)


def _prod_along(m: np.ndarray, r: np.ndarray, axis: int, dtype: str) -> tuple[Any, Any]:
    """Interval product along one axis (keepdims), element by element."""
    m, r = np.moveaxis(m, axis, 0), np.moveaxis(r, axis, 0)
    pm = np.ones(m.shape[1:], m.dtype)
    pr = np.zeros(m.shape[1:])
    for i in range(m.shape[0]):
        with np.errstate(all="ignore"):
            pr = np.abs(pm) * r[i] + np.abs(m[i]) * pr + pr * r[i]
            pm = pm * m[i]
            if dtype in FLOATS:
                pr = pr + BASIC * UNIT[dtype] * np.abs(pm)
    return np.expand_dims(pm, axis), np.expand_dims(pr, axis)


@ref_op("reduce")
def _ref_reduce(s: Step, v: list, env: Env) -> R:
    x, name, dim, keep = v[s.ins[0]], s.p["name"], s.p["dim"], s.p["keepdim"]
    out = s.p["dtype"]
    if name in ("sum", "prod"):
        x = cast(x, out)
    m, r = x.mid, x.rad
    axes = tuple(range(m.ndim)) if dim is None else dim if isinstance(dim, tuple) else (dim,)
    axes = tuple(a % max(m.ndim, 1) for a in axes) if m.ndim else ()
    keep = keep if dim is not None else False
    n = math.prod(m.shape[a] for a in axes)
    with np.errstate(all="ignore"):
        if name in ("sum", "mean"):
            mid = np.sum(m, axis=axes, keepdims=keep)
            rad = np.sum(r, axis=axes, keepdims=keep)
            if out in FLOATS:
                rad = rad + n * UNIT[out] * np.sum(np.abs(m), axis=axes, keepdims=keep)
            if name == "mean":
                mid, rad = mid / n, rad / n
            return fresh(mid, rad, out)
        if name in ("max", "min"):
            fn = np.max if name == "max" else np.min
            return fresh(fn(m, axis=axes, keepdims=keep), np.max(r, axes, keepdims=keep), out, 0)
        if name == "prod":
            mid, rad = m.reshape(-1) if dim is None else m, r.reshape(-1) if dim is None else r
            ax = 0 if dim is None else axes[0]
            mid, rad = _prod_along(mid, rad, ax, out)
            if dim is None:
                mid, rad = mid.reshape(()), rad.reshape(())
            elif not keep:
                mid, rad = np.squeeze(mid, ax), np.squeeze(rad, ax)
            return fresh(mid, rad, out, EXACT)
        # argmax / argmin: ties take the first index; unknown where the winner is not clear
        sign = 1 if name == "argmax" else -1
        key = m.astype(np.float64) * sign
        if dim is None:
            key, r, ax = key.reshape(-1), r.reshape(-1), 0
        else:
            ax = axes[0]
        idx = np.argmax(key, axis=ax, keepdims=True)
        best = np.take_along_axis(key, idx, ax)
        rbest = np.take_along_axis(r, idx, ax)
        close = (key >= best - 2 * (r + rbest)) & ((r + rbest) > 0)
        np.put_along_axis(close, idx, False, ax)
        unknown = close.any(axis=ax, keepdims=True)
        if dim is None:
            idx, unknown = idx.reshape(()), unknown.reshape(())
        elif not keep:
            idx, unknown = np.squeeze(idx, ax), np.squeeze(unknown, ax)
        return fresh(idx, np.where(unknown, np.inf, 0.0), "int64")


@lg_op("matmul")
def _lg_matmul(s: Step, v: list, env: Env) -> lg.Tensor:
    a, b = v[s.ins[0]], v[s.ins[1]]
    return a @ b if s.p["op"] else lg.matmul(a, b)


@ref_op("matmul")
def _ref_matmul(s: Step, v: list, env: Env) -> R:
    a, b = v[s.ins[0]], v[s.ins[1]]
    k = a.mid.shape[-1]
    with np.errstate(all="ignore"):
        mid = a.mid @ b.mid
        aa, ab = np.abs(a.mid), np.abs(b.mid)
        rad = aa @ b.rad + a.rad @ ab + a.rad @ b.rad + k * UNIT[a.dtype] * (aa @ ab)
    return fresh(mid, rad, a.dtype)


# indexing --------------------------------------------------------------------------------------
def _adv_key(d: int, idx: Any) -> Any:
    return idx if d == 0 else (*(slice(None),) * d, idx)


@lg_op("modn")
def _lg_modn(s: Step, v: list, env: Env) -> lg.Tensor:
    return v[s.ins[0]] % s.p["n"] - s.p["shift"]


@ref_op("modn")
def _ref_modn(s: Step, v: list, env: Env) -> R:
    x = v[s.ins[0]]
    return fresh(np.remainder(x.mid, s.p["n"]) - s.p["shift"], x.rad, "int64")


@lg_op("gather")
def _lg_gather(s: Step, v: list, env: Env) -> lg.Tensor:
    return v[s.ins[0]][_adv_key(s.p["dim"], v[s.ins[1]])]


@ref_op("gather")
def _ref_gather(s: Step, v: list, env: Env) -> R:
    x, idx, d = v[s.ins[0]], v[s.ins[1]], s.p["dim"]
    if not idx.mid.ndim:  # a 0-d index tensor selects like an int: a view
        return view(x, lambda a: a[(*(slice(None),) * d, int(idx.mid), Ellipsis)])
    key = (*(slice(None),) * d, idx.mid)
    unknown = (idx.rad > 0).reshape((1,) * d + idx.mid.shape + (1,) * (x.mid.ndim - d - 1))
    return fresh(x.mid[key], np.where(unknown, np.inf, x.rad[key]), x.dtype, EXACT)


def _value(s: Step, v: list, env: Env) -> Any:
    """The right-hand side of an in-place step: a Python scalar slot or a value."""
    if s.p.get("scalar") is not None:
        return env.scalars[s.p["scalar"]]
    return v[s.ins[-1]]


@lg_op("inplace")
def _lg_inplace(s: Step, v: list, env: Env) -> None:
    x, y, name = v[s.ins[0]], _value(s, v, env), s.p["name"]
    if name == "clamp_":
        x.clamp_(env.scalars[s.p["lo"]], env.scalars[s.p["hi"]])
    elif s.p["operator"]:
        {"add_": operator.iadd, "sub_": operator.isub, "mul_": operator.imul}[name](x, y)
    else:
        getattr(x, name)(y)


@ref_op("inplace")
def _ref_inplace(s: Step, v: list, env: Env) -> None:
    x, y, name = v[s.ins[0]], _value(s, v, env), s.p["name"]
    if name == "clamp_":
        new = ref_clamp(x, env.scalars[s.p["lo"]], env.scalars[s.p["hi"]])
    else:
        ct = s.p["ct"]
        y = y if isinstance(y, R) else scalar_ref(y, ct)
        new = cast(ref_binary(name[:-1], x, y, ct), x.dtype)
    x.mid[...] = new.mid
    x.rad[...] = new.rad


@lg_op("setitem")
def _lg_setitem(s: Step, v: list, env: Env) -> None:
    key = s.p["key"]
    if s.p["adv"]:
        key = _adv_key(s.p["dim"], v[s.ins[1]])
    elif len(key) == 1 and s.p["bare"]:
        key = key[0]
    v[s.ins[0]][key] = _value(s, v, env)


@ref_op("setitem")
def _ref_setitem(s: Step, v: list, env: Env) -> None:
    x, y = v[s.ins[0]], _value(s, v, env)
    y = cast(y, x.dtype) if isinstance(y, R) else scalar_ref(y, x.dtype)
    if s.p["adv"]:
        key: Any = (*(slice(None),) * s.p["dim"], v[s.ins[1]].mid)
    else:
        key = np_key(s.p["key"])
    shape = x.mid[key].shape
    mid, rad = y.mid, y.rad
    while mid.ndim > len(shape) and mid.shape[0] == 1:  # PyTorch drops leading 1s of a value
        mid, rad = mid[0], rad[0]
    x.mid[key] = mid
    x.rad[key] = rad


@lg_op("check")
def _lg_check(s: Step, v: list, env: Env) -> None:
    pass  # compared in `execute`, where both sides are at hand


REF["check"] = _lg_check
LG["drop"] = REF["drop"] = _lg_check


def execute(prog: Program, env: Env, lazy: bool = True) -> tuple[list, list]:
    """Run the program on the reference (and, with `lazy`, on lazygrad in lockstep); compare
    at each check step and every live value at the end."""
    lgv: list[Any] = []
    ref: list[Any] = []
    for n, s in enumerate(prog.steps):
        out = REF[s.op](s, ref, env)
        if out is not None:
            ref.append(out)
        if lazy:
            lout = LG[s.op](s, lgv, env)
            if out is not None:
                assert lout is not None
                lgv.append(lout)
            if s.op == "check":
                assert_matches(lgv[s.ins[0]], ref[s.ins[0]], f"value {s.ins[0]} at step {n}")
            if s.op == "drop":
                lgv[s.ins[0]] = None
        if s.op == "drop":
            ref[s.ins[0]] = None
    if lazy:
        for i, (t, r) in enumerate(zip(lgv, ref, strict=True)):
            if t is not None:
                assert_matches(t, r, f"value {i} ({prog.metas[i].dtype}) at the end")
    return lgv, ref


# ---- the generator -----------------------------------------------------------------------------
def broadcast(*shapes: tuple[int, ...]) -> tuple[int, ...] | None:
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        return None


def category(dtype: str) -> int:
    return CATEGORY[dtype]


def meta_result_type(*operands: Any) -> str:
    """conftest.result_type of Metas (0-d ones count as 0-d tensors) and Python scalars."""
    args = [
        np.zeros((1,) * o.ndim, np_dtype(o.dtype)) if isinstance(o, Meta) else o for o in operands
    ]
    return result_type(*args)


SCALAR_EXAMPLE = {"int": 1, "float": 1.5, "pos": 1.5, "posint": 1, "bool": True}


class Gen:
    """Draws a program step by step, tracking each value's Meta (no values are computed)."""

    def __init__(self, data: Any, smooth: bool) -> None:
        self.data = data
        self.smooth = smooth
        self.limit = SMOOTH_LIMIT if smooth else LIMIT["float"]
        self.prog = Program([], [], [], [])

    @property
    def metas(self) -> list[Meta]:
        return self.prog.metas

    def draw(self, strategy: Any) -> Any:
        return self.data.draw(strategy)

    def choice(self, options: Any) -> Any:
        return self.draw(st.sampled_from(list(options)))

    def flag(self) -> bool:
        return self.draw(st.booleans())

    def within(self, dtype: str, bound: float) -> bool:
        return bound <= (LIMIT["int"] if dtype in ("int64", "bool") else self.limit)

    def add(self, op: str, ins: tuple[int, ...], p: dict, meta: Meta | None) -> int:
        self.prog.steps.append(Step(op, ins, p))
        if meta is None:
            return -1
        self.metas.append(meta)
        return len(self.metas) - 1

    def fresh_meta(self, shape: tuple[int, ...], dtype: str, bound: float) -> Meta:
        shape = tuple(shape)
        return Meta(shape, dtype, bound, len(self.metas), dummy=np.zeros(shape, np.int8))

    def view_meta(self, src: int, fn: Callable[[np.ndarray], Any], writable: bool = True) -> Meta:
        """The meta of a view of `src` made by `fn` (applied to src's dummy array)."""
        m = self.metas[src]
        dummy = np.asarray(fn(m.dummy))
        if not np.shares_memory(dummy, m.dummy) and dummy.size:  # a copy (reshape)
            return self.fresh_meta(dummy.shape, m.dtype, m.bound)
        return Meta(dummy.shape, m.dtype, m.bound, m.base, m.writable and writable, dummy=dummy)

    def scalar(self, kind: str) -> int:
        self.prog.scalars.append(kind)
        return len(self.prog.scalars) - 1

    def input(self, shape: tuple[int, ...], dtype: str, kind: str = "data", **spec: Any) -> int:
        k = len(self.prog.inputs)
        self.prog.inputs.append({"shape": tuple(shape), "dtype": dtype, "kind": kind, **spec})
        bound = spec.get("n", 0) if kind == "index" else 3.0 if dtype in FLOATS else 5.0
        meta = self.fresh_meta(shape, dtype, bound)
        meta.is_input = True
        return self.add("input", (), {"k": k, "vid": len(self.metas)}, meta)

    def pick(self, pred: Callable[[Meta], bool], any_dtype: bool = False) -> int | None:
        """A live value satisfying `pred` (smooth programs: float64 ones unless `any_dtype`)."""
        found = [
            i
            for i, m in enumerate(self.metas)
            if m.alive and pred(m) and (any_dtype or not self.smooth or m.dtype == "float64")
        ]
        return self.choice(found) if found else None

    def new_dtype(self) -> str:
        if self.smooth:
            return "float64"
        return self.choice(["float32"] * 4 + ["float64", "int64", "bool"])

    def new_shape(self) -> tuple[int, ...]:
        ndim = self.draw(st.integers(0, 3))
        shape = [self.draw(st.integers(1, 4)) for _ in range(ndim)]
        if shape and not self.smooth and self.draw(st.integers(0, 9)) == 0:
            shape[self.draw(st.integers(0, ndim - 1))] = 0
        return tuple(shape)

    def partner_shape(self, shape: tuple[int, ...], exact: bool = False) -> tuple[int, ...]:
        """A shape broadcasting with `shape` (to exactly `shape` when `exact`)."""
        out = []
        for n in shape:
            if n == 1 and not exact:
                out.append(self.choice([1, 1, 2, 3]))
            else:
                out.append(self.choice([n, n, 1]))
        out = out[self.draw(st.integers(0, len(out))) if self.flag() else 0 :]
        if not exact and len(shape) == len(out) < 4 and self.draw(st.integers(0, 5)) == 0:
            out.insert(0, self.draw(st.integers(1, 3)))
        return tuple(out)

    def operand(self, shape: tuple[int, ...], ok: Callable[[Meta], bool], exact: bool) -> int:
        """A value broadcasting with `shape` (to `shape` when `exact`): from the pool or new."""

        def fits(m: Meta) -> bool:
            b = broadcast(shape, m.shape)
            if b is None or (exact and b != tuple(shape)) or math.prod(b) > 256 or len(b) > 4:
                return False
            return ok(m)

        found = self.pick(fits) if self.draw(st.integers(0, 2)) else None
        if found is not None:
            return found
        dtypes = [d for d in ("float32", "float64", "int64", "bool") if ok(Meta((), d, 0, -1))]
        dtype = self.new_dtype()
        dtype = dtype if dtype in dtypes else self.choice(dtypes)
        return self.input(self.partner_shape(shape, exact), dtype)

    def any_value(self, pred: Callable[[Meta], bool] = lambda m: True) -> int:
        found = self.pick(pred)
        if found is None:
            found = self.input(self.new_shape(), self.new_dtype())
        return found

    # -- op builders: each appends steps (returns nothing useful) -------------------------------
    def g_input(self) -> None:
        self.input(self.new_shape(), self.new_dtype())

    def g_unary(self) -> None:
        names = ["exp", "tanh", "sigmoid", "sqrtsq", "neg"]
        if not self.smooth:
            names += ["abs", "relu", "sqrtabs"]
        name = self.choice(names)
        numeric = name in ("neg", "abs", "relu", "sqrtabs")
        a = self.any_value(lambda m: m.dtype != "bool" or not numeric)
        m = self.metas[a]
        if m.dtype == "bool" and numeric:
            return
        ct = m.dtype if m.dtype in FLOATS or name in ("neg", "abs", "relu") else "float32"
        if name == "sqrtsq" and m.bound > 1e4:
            return
        if name == "exp" and m.bound > 5:
            if ct not in FLOATS or m.dtype not in FLOATS:
                return
            a = self.add("unary", (a,), {"name": "tanh", "ct": ct}, self.fresh_meta(m.shape, ct, 1))
            m = self.metas[a]
        bound = {"exp": math.exp(min(m.bound, 700)), "tanh": 1.0, "sigmoid": 1.0}.get(name, m.bound)
        if name == "sqrtsq":
            bound = math.sqrt(m.bound**2 + 0.25)
        if name == "sqrtabs":
            bound = math.sqrt(m.bound)
        self.add("unary", (a,), {"name": name, "ct": ct}, self.fresh_meta(m.shape, ct, bound))

    def denominator(self, b: int) -> int:
        """A value built from `b` whose magnitude is at least 0.5 (1 for integers)."""
        m = self.metas[b]
        if m.dtype == "int64":
            a = self.add(
                "unary",
                (b,),
                {"name": "abs", "ct": "int64"},
                self.fresh_meta(m.shape, "int64", m.bound),
            )
            kind = "posint"
        else:
            name = "sqrtsq" if self.smooth else "abs"
            a = self.add(
                "unary",
                (b,),
                {"name": name, "ct": m.dtype},
                self.fresh_meta(m.shape, m.dtype, m.bound + 1),
            )
            kind = "pos"
        slot = self.scalar(kind)
        p = {"name": "add", "scalar": slot, "ct": m.dtype, "swap": self.flag()}
        return self.add("binary", (a,), p, self.fresh_meta(m.shape, m.dtype, m.bound + 3))

    def g_binary(self) -> None:
        names = ["add", "sub", "mul", "div"]
        if not self.smooth:
            names += ["maximum", "minimum", "lt", "le", "gt", "ge", "eq", "ne", "floordiv", "mod"]
        name = self.choice(names)
        no_bool = name in ("sub", "floordiv", "mod")
        ints = name in ("floordiv", "mod")

        def ok(m: Meta) -> bool:
            return not (no_bool and m.dtype == "bool") and (not ints or m.dtype == "int64")

        a = self.any_value(ok)
        ma = self.metas[a]
        if not ok(ma):
            return
        scalar_ok = name not in ("maximum", "minimum", "div", "floordiv", "mod")
        p: dict[str, Any] = {"name": name, "scalar": None, "swap": False}
        if scalar_ok and self.draw(st.integers(0, 2)) == 0:
            kind = "int" if ma.dtype == "int64" and self.flag() else self.choice(["int", "float"])
            p["scalar"] = self.scalar(kind)
            p["swap"] = name != "div" and self.flag()
            ct = meta_result_type(ma, SCALAR_EXAMPLE[kind])
            bb, shape, ins = SCALAR_KINDS[kind], ma.shape, (a,)
        else:
            b = self.operand(
                ma.shape, lambda m: ok(m) and (name != "div" or m.dtype != "bool"), exact=False
            )
            if name in ("div", "floordiv", "mod"):
                b = self.denominator(b)
            mb = self.metas[b]
            shape = broadcast(ma.shape, mb.shape)
            assert shape is not None
            ct, bb, ins = meta_result_type(ma, mb), mb.bound, (a, b)
            p["swap"] = False
        if name == "div" and ct not in FLOATS:
            ct = "float32"
        ba = ma.bound
        bound = {
            "add": ba + bb,
            "sub": ba + bb,
            "mul": ba * bb,
            "div": ba / 0.5,
            "floordiv": ba,
            "mod": bb,
        }.get(name, max(ba, bb))
        out = "bool" if name in COMPARISONS else ct
        if name in COMPARISONS:
            bound = 1
        if not self.within(out, bound):
            return
        p["ct"] = ct
        self.add("binary", ins, p, self.fresh_meta(shape, out, bound))

    def g_where(self) -> None:
        if self.smooth:
            c = self.pick(lambda m: m.dtype == "bool" and m.is_input, any_dtype=True)
        else:
            c = self.pick(lambda m: m.dtype == "bool")
        if c is None:
            c = self.input(self.new_shape(), "bool")
        mc = self.metas[c]
        a = self.operand(mc.shape, lambda m: m.dtype != "bool" or not self.smooth, exact=False)
        ma = self.metas[a]
        shape = broadcast(mc.shape, ma.shape)
        assert shape is not None
        p: dict[str, Any] = {"fn": self.flag(), "scalar": None}
        if self.draw(st.integers(0, 3)) == 0:
            kind = self.choice(["int", "float"])
            p["scalar"] = self.scalar(kind)
            ct, bb, ins = meta_result_type(ma, SCALAR_EXAMPLE[kind]), SCALAR_KINDS[kind], (c, a)
        else:
            b = self.operand(shape, lambda m: ma.dtype == m.dtype or not self.smooth, exact=False)
            mb = self.metas[b]
            shape = broadcast(shape, mb.shape)
            assert shape is not None
            ct, bb, ins = meta_result_type(ma, mb), mb.bound, (c, a, b)
        p["ct"] = ct
        self.add("where", ins, p, self.fresh_meta(shape, ct, max(ma.bound, bb)))

    def g_clamp(self) -> None:
        a = self.any_value(lambda m: m.dtype != "bool")
        m = self.metas[a]
        if m.dtype == "bool":
            return
        kind = "float" if m.dtype in FLOATS else "int"
        p = {"lo": self.scalar(kind), "hi": self.scalar(kind)}
        self.add("clamp", (a,), p, self.fresh_meta(m.shape, m.dtype, m.bound))

    def g_cast(self, src: int | None = None) -> None:
        a = self.any_value() if src is None else src
        m = self.metas[a]
        options = ["float32", "float64"] + (["int64"] if m.dtype in ("int64", "bool") else [])
        dtype = self.choice(options)
        p = {"dtype": dtype, "to": dtype in FLOATS and self.flag()}
        meta = (
            self.view_meta(a, lambda d: d)
            if dtype == m.dtype
            else self.fresh_meta(m.shape, dtype, m.bound)
        )
        self.add("cast", (a,), p, meta)

    def g_reshape(self, src: int | None = None) -> None:
        a = self.any_value() if src is None else src
        m = self.metas[a]
        n = m.numel
        if n == 0:
            shape = self.choice([(0,), (2, 0), (0, 3), (1, 0, 2)])
        else:
            factors = [f for f in range(2, n + 1) for _ in range(_multiplicity(n, f))]
            ndim = self.draw(st.integers(1 if factors else 0, 3))
            dims = [1] * ndim
            for f in factors:
                dims[self.draw(st.integers(0, ndim - 1))] *= f
            shape = tuple(dims)
        sizes = list(shape)
        if sizes and n and self.flag():
            sizes[self.draw(st.integers(0, len(sizes) - 1))] = -1
        meta = self.view_meta(a, lambda d: d.reshape(shape))
        # .view only where it is a view in PyTorch (else it raises); .reshape copies there
        as_view = meta.base == m.base and self.flag()
        self.add("reshape", (a,), {"shape": tuple(sizes), "view": as_view}, meta)

    def g_permute(self, src: int | None = None) -> None:
        a = self.any_value(lambda m: m.ndim >= 1) if src is None else src
        m = self.metas[a]
        kinds = (
            ["permute", "transpose"]
            + (["T"] if m.ndim <= 2 else [])
            + (["mT"] if m.ndim >= 2 else [])
        )
        kind = self.choice(kinds)
        dims: tuple[int, ...] = ()
        if kind == "permute":
            dims = tuple(self.draw(st.permutations(range(m.ndim))))
            fn: Callable = lambda d: np.transpose(d, dims)  # noqa: E731
        elif kind == "transpose" and m.ndim:
            dims = tuple(self.draw(st.integers(-m.ndim, m.ndim - 1)) for _ in range(2))
            fn = lambda d: np.swapaxes(d, *dims)  # noqa: E731
        elif kind == "transpose":
            return
        else:
            fn = lambda d: d.T if kind == "T" else np.swapaxes(d, -1, -2)  # noqa: E731
        p = {"kind": kind, "dims": dims, "unpacked": self.flag()}
        self.add("permute", (a,), p, self.view_meta(a, fn))

    def basic_key(self, shape: tuple[int, ...]) -> tuple:
        """A basic key (ints, slices with steps and negative bounds, None, Ellipsis)."""
        used = self.draw(st.integers(0, len(shape)))
        key: list[Any] = []
        for n in shape[:used]:
            kind = self.choice(["slice", "slice", "full", "int"] if n else ["slice", "full"])
            if kind == "int":
                key.append(self.draw(st.integers(-n, n - 1)))
            elif kind == "full":
                key.append(slice(None))
            else:
                bound = st.one_of(st.none(), st.integers(-n - 1, n + 1))
                key.append(slice(self.draw(bound), self.draw(bound), self.choice([None, 1, 2, 3])))
        if used < len(shape) and self.flag():
            key.append(Ellipsis)
        if not self.smooth and self.draw(st.integers(0, 4)) == 0:
            key.insert(self.draw(st.integers(0, len(key))), None)
        return tuple(key)

    def g_slice(self, src: int | None = None) -> None:
        a = self.any_value(lambda m: m.ndim >= 1) if src is None else src
        m = self.metas[a]
        key = self.basic_key(m.shape)
        meta = self.view_meta(a, lambda d: d[np_key(key)])
        self.add("slice", (a,), {"key": key, "bare": self.flag()}, meta)

    def g_flip(self) -> None:
        a = self.any_value(lambda m: m.ndim >= 1)
        m = self.metas[a]
        if not m.ndim:
            return
        dims = tuple(self.draw(st.lists(st.integers(0, m.ndim - 1), min_size=1, unique=True)))
        dims = tuple(d - m.ndim if self.flag() else d for d in dims)
        self.add("flip", (a,), {"dims": dims}, self.fresh_meta(m.shape, m.dtype, m.bound))

    def g_expand(self) -> None:
        a = self.any_value()
        m = self.metas[a]
        shape, sizes = [], []
        for n in m.shape:
            new = self.choice([1, 2, 3]) if n == 1 else n
            shape.append(new)
            sizes.append(-1 if new == n and self.flag() else new)
        if len(shape) < 4 and self.flag():
            lead = self.draw(st.integers(1, 3))
            shape.insert(0, lead)
            sizes.insert(0, lead)
        if math.prod(shape) > 256:
            return
        meta = self.view_meta(a, lambda d: np.broadcast_to(d, shape), writable=False)
        self.add("expand", (a,), {"sizes": tuple(sizes), "shape": tuple(shape)}, meta)

    def g_unsqueeze(self, src: int | None = None) -> None:
        a = self.any_value() if src is None else src
        m = self.metas[a]
        if self.flag() and m.ndim < 4:
            d = self.draw(st.integers(-m.ndim - 1, m.ndim))
            meta = self.view_meta(a, lambda x: np.expand_dims(x, d))
            self.add("unsqueeze", (a,), {"squeeze": False, "dim": d}, meta)
            return
        d = self.draw(st.integers(-m.ndim, m.ndim - 1)) if m.ndim and self.flag() else None
        if d is None:
            meta = self.view_meta(a, np.squeeze)
        else:
            meta = self.view_meta(a, lambda x: np.squeeze(x, d) if x.shape[d] == 1 else x[...])
        self.add("unsqueeze", (a,), {"squeeze": True, "dim": d}, meta)

    def g_cat(self) -> None:
        is_cat = self.flag()
        a = self.any_value(lambda m: m.ndim >= 1 or not is_cat)
        m = self.metas[a]
        if is_cat and not m.ndim:
            return
        count = self.draw(st.integers(1, 3))
        d = self.draw(st.integers(0, m.ndim - 1 if is_cat else m.ndim))
        ins = [a]
        for _ in range(count):
            if is_cat:
                want = list(m.shape)
                want[d] = self.draw(st.integers(0 if not self.smooth else 1, 3))
                shape = tuple(want)
                other = self.pick(
                    lambda o, d=d: (
                        o.ndim == m.ndim
                        and all(
                            x == y
                            for i, (x, y) in enumerate(zip(o.shape, m.shape, strict=True))
                            if i != d
                        )
                    )
                )
            else:
                shape = m.shape
                other = self.pick(lambda o: o.shape == m.shape)
            if other is None or self.flag():
                other = self.input(shape, m.dtype if self.smooth else self.new_dtype())
            ins.append(other)
        metas = [self.metas[i] for i in ins]
        ct = metas[0].dtype
        for o in metas[1:]:
            ct = promote(ct, o.dtype)
        shape = list(m.shape)
        if is_cat:
            shape[d] = sum(o.shape[d] for o in metas)
        else:
            shape.insert(d, len(ins))
        if math.prod(shape) > 256:
            return
        dim = d - (m.ndim if is_cat else m.ndim + 1) if self.flag() else d
        bound = max(o.bound for o in metas)
        self.add(
            "cat",
            tuple(ins),
            {"cat": is_cat, "dim": dim, "ct": ct},
            self.fresh_meta(tuple(shape), ct, bound),
        )

    def g_reduce(self) -> None:
        names = ["sum", "mean", "prod"] + (
            [] if self.smooth else ["max", "min", "argmax", "argmin"]
        )
        name = self.choice(names)
        a = self.any_value(lambda m: m.dtype in FLOATS or name not in ("mean",))
        m = self.metas[a]
        if (name == "mean" and m.dtype not in FLOATS) or (
            name in ("argmax", "argmin") and m.dtype == "bool"
        ):
            return
        dim: Any = None
        if m.ndim and self.draw(st.integers(0, 3)):
            if name in ("sum", "mean") and self.flag():
                dims = self.draw(st.lists(st.integers(0, m.ndim - 1), min_size=1, unique=True))
                dim = tuple(d - m.ndim if self.flag() else d for d in dims)
            else:
                dim = self.draw(st.integers(-m.ndim, m.ndim - 1))
        axes = range(m.ndim) if dim is None else dim if isinstance(dim, tuple) else (dim,)
        n = math.prod(m.shape[x] for x in axes)
        if n == 0 and name not in ("sum", "prod"):
            return
        keep = self.flag() and dim is not None
        shape = (
            tuple(
                1 if i in [x % m.ndim for x in axes] else s
                for i, s in enumerate(m.shape)
                if keep or i not in [x % m.ndim for x in axes]
            )
            if dim is not None
            else ()
        )
        dtype = m.dtype if m.dtype in FLOATS else "int64"
        if name in ("max", "min"):
            dtype = m.dtype
        prod = math.inf if n * math.log10(max(m.bound, 1.0)) > 300 else max(m.bound, 1.0) ** n
        bound = {"sum": n * m.bound, "mean": m.bound, "prod": prod, "argmax": n, "argmin": n}.get(
            name, m.bound
        )
        if name in ("argmax", "argmin"):
            dtype = "int64"
        if not self.within(dtype, bound):
            return
        p = {"name": name, "dim": dim, "keepdim": keep, "dtype": dtype, "attr": self.flag()}
        self.add("reduce", (a,), p, self.fresh_meta(shape, dtype, bound))

    def g_matmul(self) -> None:
        a = self.any_value(lambda m: m.dtype in FLOATS and 1 <= m.ndim <= 3)
        m = self.metas[a]
        if m.dtype not in FLOATS or not 1 <= m.ndim <= 3:
            return
        k = m.shape[-1]
        j = self.draw(st.integers(1, 4))
        batch = [1, 2] if m.ndim == 2 else [1, m.shape[0]]
        options = [(k,), (k, j)] + ([(self.choice(batch), k, j)] if m.ndim >= 2 else [])
        bshape = self.choice(options)
        b = self.pick(lambda o: o.shape == bshape and o.dtype == m.dtype)
        if b is None or self.flag():
            b = self.input(bshape, m.dtype)
        mb = self.metas[b]
        out = np.matmul(np.zeros(m.shape), np.zeros(bshape)).shape
        bound = max(k, 1) * m.bound * mb.bound
        if not self.within(m.dtype, bound):
            return
        self.add("matmul", (a, b), {"op": self.flag()}, self.fresh_meta(out, m.dtype, bound))

    def index(self, n: int, unique: bool) -> int:
        """An int64 index tensor for a dim of size n: host data, or computed lazily."""
        if not unique and not self.smooth and self.flag():
            # (not 0-d: a 0-d index is an int, whose value the reference must know exactly)
            src = self.pick(
                lambda o: o.dtype == "int64" and 1 <= o.ndim <= 2 and 1 <= o.numel <= 8,
                any_dtype=True,
            )
            if src is not None:
                shape = self.metas[src].shape
                p = {"n": n, "shift": self.choice([0, n])}
                return self.add("modn", (src,), p, self.fresh_meta(shape, "int64", n))
        if unique:
            shape: tuple[int, ...] = (self.draw(st.integers(1, n)),)
        else:
            shape = tuple(self.draw(st.lists(st.integers(1, 4), min_size=0, max_size=2)))
        return self.input(shape, "int64", "index", n=n, unique=unique)

    def g_gather(self) -> None:
        a = self.any_value(lambda m: m.ndim >= 1 and m.numel > 0)
        m = self.metas[a]
        if not m.ndim or not m.numel:
            return
        d = self.draw(st.integers(0, min(1, m.ndim - 1)))
        idx = self.index(m.shape[d], unique=False)
        shape = m.shape[:d] + self.metas[idx].shape + m.shape[d + 1 :]
        if math.prod(shape) > 256:
            return
        if self.metas[idx].ndim:
            meta = self.fresh_meta(shape, m.dtype, m.bound)
        else:  # a 0-d index tensor is an int (as in PyTorch): a view, not a copy
            meta = self.view_meta(a, lambda x: x[(*(slice(None),) * d, 0, Ellipsis)])
        self.add("gather", (a, idx), {"dim": d}, meta)

    def written(self, target: int, bound: float) -> None:
        """After an in-place write into `target`: its base (and all views) may hold `bound`."""
        base = self.metas[target].base
        for m in self.metas:
            if m.base == base:
                m.bound = max(m.bound, bound)

    def rhs(
        self, target: int, shape: tuple[int, ...], p: dict, ins: list[int], no_bool: bool = False
    ) -> float:
        """The value written into `target` (at `shape`): a scalar slot or a value of another
        base, whose dtype category does not exceed the target's. Returns its bound."""
        m = self.metas[target]
        if self.draw(st.integers(0, 2)) == 0:
            kind = {"bool": "bool", "int64": "int"}.get(m.dtype) or self.choice(["int", "float"])
            p["scalar"] = self.scalar(kind)
            return SCALAR_KINDS[kind]
        p["scalar"] = None

        def ok(o: Meta) -> bool:
            fits = category(o.dtype) <= category(m.dtype) and o.base != m.base
            return fits and not (no_bool and o.dtype == "bool")

        b = self.operand(shape, ok, exact=True)
        ins.append(b)
        return self.metas[b].bound

    def writable(self) -> int | None:
        """A value to write into: half the time a new view (slice, .T, reshape...) of one."""
        x = self.pick(lambda m: m.writable)
        if x is None or self.flag():
            return x
        kind = self.choice(["slice", "slice", "permute", "reshape", "unsqueeze", "cast"])
        count = len(self.metas)
        getattr(self, f"g_{kind}")(src=x)
        return count if len(self.metas) > count and self.metas[count].writable else x

    def g_inplace(self) -> None:
        x = self.writable()
        if x is None:
            return
        m = self.metas[x]
        name = self.choice(["add_", "sub_", "mul_"] + (["clamp_"] if m.dtype in FLOATS else []))
        if m.dtype == "bool":
            return
        p: dict[str, Any] = {"name": name, "operator": self.flag()}
        ins = [x]
        if name == "clamp_":
            p["lo"], p["hi"] = self.scalar("float"), self.scalar("float")
            bound = m.bound
        else:
            bb = self.rhs(x, m.shape, p, ins, no_bool=name == "sub_")
            operand = (
                SCALAR_EXAMPLE[self.prog.scalars[p["scalar"]]]
                if p["scalar"] is not None
                else self.metas[ins[1]]
            )
            p["ct"] = meta_result_type(m, operand)
            bound = m.bound * bb if name == "mul_" else m.bound + bb
        if not self.within(m.dtype, bound):
            return
        self.add("inplace", tuple(ins), p, None)
        self.written(x, bound)

    def g_setitem(self) -> None:
        x = self.writable()
        if x is None:
            return
        m = self.metas[x]
        p: dict[str, Any] = {"adv": False, "key": (), "bare": self.flag()}
        ins = [x]
        if m.ndim and m.numel and self.flag():  # scatter through a unique index tensor
            d = self.draw(st.integers(0, min(1, m.ndim - 1)))
            if not m.shape[d]:
                return
            idx = self.index(m.shape[d], unique=True)
            ins.append(idx)
            p.update(adv=True, dim=d)
            shape = m.shape[:d] + self.metas[idx].shape + m.shape[d + 1 :]
        else:
            p["key"] = self.basic_key(m.shape)
            shape = np.empty(m.shape)[np_key(p["key"])].shape
        bound = self.rhs(x, shape, p, ins)
        self.add("setitem", tuple(ins), p, None)
        self.written(x, bound)

    def g_check(self) -> None:
        found = self.pick(lambda m: True)
        if found is not None:
            self.add("check", (found,), {}, None)

    def g_drop(self) -> None:
        found = self.pick(lambda m: not m.is_input)
        if found is not None:
            self.add("drop", (found,), {}, None)
            self.metas[found].alive = False


def _multiplicity(n: int, f: int) -> int:
    """How often prime f divides n (0 for composite f)."""
    if any(f % q == 0 for q in range(2, int(math.isqrt(f)) + 1)):
        return 0
    count = 0
    while n % f == 0:
        n //= f
        count += 1
    return count


BUILDERS = {
    "input": 1,
    "unary": 4,
    "binary": 8,
    "where": 2,
    "clamp": 1,
    "cast": 2,
    "reshape": 2,
    "permute": 2,
    "slice": 3,
    "flip": 1,
    "expand": 1,
    "unsqueeze": 2,
    "cat": 2,
    "reduce": 4,
    "matmul": 2,
    "gather": 2,
    "inplace": 3,
    "setitem": 3,
    "check": 1,
    "drop": 1,
}
SMOOTH_SKIP = ("clamp", "inplace", "setitem", "check", "drop", "cast")
OP_CHOICES = [name for name, weight in BUILDERS.items() for _ in range(weight)]
SMOOTH_CHOICES = [name for name in OP_CHOICES if name not in SMOOTH_SKIP]


def generate(data: Any, smooth: bool = False, ops: tuple[int, int] = (3, 30)) -> Program:
    g = Gen(data, smooth)
    for _ in range(data.draw(st.integers(1, 2))):
        g.g_input()
    for _ in range(data.draw(st.integers(*ops), label="ops")):
        name = data.draw(st.sampled_from(SMOOTH_CHOICES if smooth else OP_CHOICES))
        getattr(g, f"g_{name}")()
    return g.prog


def describe(prog: Program) -> str:
    lines = [f"inputs: {prog.inputs}", f"scalars: {prog.scalars}"]
    for n, s in enumerate(prog.steps):
        lines.append(f"  {n}: {s.op} {s.ins} {s.p}")
    return "\n".join(lines)


# ---- the tests ---------------------------------------------------------------------------------
def test_fuzz_programs(device: str) -> None:
    """Random programs against the reference, then rerun with new inputs and new scalars."""

    @fuzz_settings(device, cpu=250, opencl=25)
    @given(st.data())
    def run(data: Any) -> None:
        prog = generate(data)
        seeds = data.draw(st.lists(st.integers(0, 2**32 - 1), min_size=3, max_size=3))
        rngs = [np.random.default_rng(s) for s in seeds]
        inputs = [draw_inputs(prog, rngs[0]), draw_inputs(prog, rngs[1])]
        scalars = [draw_scalars(prog, rngs[0]), draw_scalars(prog, rngs[2])]
        note(describe(prog))
        for run_inputs, run_scalars in [(0, 0), (1, 0), (1, 1)]:
            note(f"run with inputs {run_inputs}, scalars {scalars[run_scalars]}")
            execute(prog, Env(device, inputs[run_inputs], scalars[run_scalars]))

    run()


def test_fuzz_gradients(device: str) -> None:
    """backward() of a random smooth float64 program against central finite differences."""

    @fuzz_settings(device, cpu=100, opencl=12)
    @given(st.data())
    def run(data: Any) -> None:
        prog = generate(data, smooth=True, ops=(2, 12))
        rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
        inputs, scalars = draw_inputs(prog, rng), draw_scalars(prog, rng)
        note(describe(prog))
        outs = [i for i, m in enumerate(prog.metas) if m.alive and not m.is_input]
        outs = outs[-3:]
        if not outs:
            return
        weights = [rng.uniform(-1, 1, prog.metas[i].shape) for i in outs]

        def loss_ref(values: list[np.ndarray]) -> float:
            _, ref = execute(prog, Env(device, values, scalars), lazy=False)
            return float(sum(np.sum(ref[i].mid * w) for i, w in zip(outs, weights, strict=True)))

        env = Env(device, inputs, scalars, grad=True)
        lgv, _ = execute(prog, env)
        loss = sum(
            (lgv[i] * lg.tensor(w, device=device)).sum() for i, w in zip(outs, weights, strict=True)
        )
        assert isinstance(loss, lg.Tensor)
        loss.backward()
        scale = max(1.0, abs(loss_ref(inputs)))
        for s in prog.steps:
            if s.op != "input" or inputs[s.p["k"]].dtype.kind != "f":
                continue
            k = s.p["k"]
            leaf = lgv[s.p["vid"]]
            got = np.zeros(inputs[k].shape) if leaf.grad is None else leaf.grad.numpy()
            want = np.zeros(inputs[k].shape)
            for pos in np.ndindex(*inputs[k].shape):
                h = 1e-6 * max(1.0, abs(float(inputs[k][pos])))
                plus = [a.copy() for a in inputs]
                minus = [a.copy() for a in inputs]
                plus[k][pos] += h
                minus[k][pos] -= h
                want[pos] = (loss_ref(plus) - loss_ref(minus)) / (2 * h)
            np.testing.assert_allclose(
                got, want, rtol=1e-5, atol=1e-7 * scale, err_msg=f"gradient of input {k}"
            )

    run()
