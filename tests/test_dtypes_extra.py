"""The narrow dtypes (uint8, int8, int16, float16) and the default floating dtype.

Values are checked against NumPy on both devices: integer arithmetic wraps around and stays
in its dtype (uint8 stays uint8), float16 results are rounded to half precision after every
op (the OpenCL backend keeps float16 as float32 in device memory and rounds each result),
sums, products and matmuls of float16 accumulate in float32 as PyTorch's do, and integer
sums promote to int64. Promotion follows `torch.promote_types` / `torch.result_type`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from conftest import check

import lazygrad as lg
from lazygrad import dtypes as dt

# float16 results beyond 65504 are inf, in NumPy's references as in lazygrad
pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")

NEW = ("uint8", "int8", "int16", "float16")
INTS = ("uint8", "int8", "int16")
ALL = ("bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64")


def lgd(name: str) -> dt.DType:
    """The lazygrad dtype named `name`."""
    return lg.bool if name == "bool" else getattr(lg, name)


def close16(t: lg.Tensor, want: np.ndarray, rtol: float = 0.0, atol: float = 0.0) -> None:
    """Assert a float16 tensor equals `want` (rounded to float16), within rtol/atol."""
    assert t.dtype is lg.float16, t.dtype
    got = t.numpy()
    assert got.dtype == np.float16
    np.testing.assert_allclose(
        got.astype(np.float64),
        np.asarray(want).astype(np.float16).astype(np.float64),
        rtol=rtol,
        atol=atol,
        equal_nan=True,
    )


@pytest.fixture
def default_float64() -> Iterator[None]:
    """float64 as the default dtype for one test; float32 again afterwards, whatever happens."""
    lg.set_default_dtype(lg.float64)
    try:
        yield
    finally:
        lg.set_default_dtype(lg.float32)


# ---- names, aliases, attributes --------------------------------------------------------------
def test_names_and_aliases() -> None:
    assert lg.half is lg.float16 and lg.short is lg.int16
    for name in NEW:
        d = lgd(name)
        assert d.name == name and repr(d) == f"lazygrad.{name}"
        assert dt.to_dtype(name) is d and dt.to_dtype(np.dtype(name)) is d
    assert dt.to_dtype("half") is lg.float16 and dt.to_dtype("char") is lg.int8
    assert lg.float16.is_floating_point and not lg.uint8.is_floating_point
    assert not lg.uint8.is_signed and lg.int8.is_signed and not lg.bool.is_signed
    assert [lgd(n).itemsize for n in NEW] == [1, 1, 2, 2]


def test_from_numpy_keeps_narrow_dtypes() -> None:
    for name in NEW:
        arr = np.arange(6, dtype=name).reshape(2, 3)
        t = lg.from_numpy(arr)
        assert t.dtype is lgd(name)
        np.testing.assert_array_equal(t.numpy(), arr)
        assert lg.tensor(arr).dtype is lgd(name)


# ---- promotion --------------------------------------------------------------------------------
# torch.promote_types, row by row (PyTorch's table for these dtypes)
_ORDER = ("uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64", "bool")
_TABLE = {
    "uint8": "uint8 int16 int16 int32 int64 float16 float32 float64 uint8",
    "int8": "int16 int8 int16 int32 int64 float16 float32 float64 int8",
    "int16": "int16 int16 int16 int32 int64 float16 float32 float64 int16",
    "int32": "int32 int32 int32 int32 int64 float16 float32 float64 int32",
    "int64": "int64 int64 int64 int64 int64 float16 float32 float64 int64",
    "float16": "float16 float16 float16 float16 float16 float16 float32 float64 float16",
    "float32": "float32 float32 float32 float32 float32 float32 float32 float64 float32",
    "float64": "float64 float64 float64 float64 float64 float64 float64 float64 float64",
    "bool": "uint8 int8 int16 int32 int64 float16 float32 float64 bool",
}
PROMOTIONS = [
    (a, b, want) for a in _ORDER for b, want in zip(_ORDER, _TABLE[a].split(), strict=True)
]


@pytest.mark.parametrize(("a", "b", "want"), PROMOTIONS)
def test_promote_types_table(a: str, b: str, want: str) -> None:
    assert dt.promote_types(lgd(a), lgd(b)) is lgd(want)
    x, y = lg.zeros(2, dtype=lgd(a)), lg.zeros(2, dtype=lgd(b))
    if "bool" not in (a, b):
        assert (x + y).dtype is lgd(want)
    assert lg.where(x > 0, x, y).dtype is lgd(want)


def test_promoted_values(device: str) -> None:
    u = np.array([0, 1, 200, 255], dtype=np.uint8)
    i = np.array([-128, -1, 100, 127], dtype=np.int8)
    s = np.array([-300, 7, 32767, -32768], dtype=np.int16)
    h = np.array([0.5, -1.25, 1000.0, 3.0], dtype=np.float16)
    tu, ti, ts, th = (lg.tensor(v, device=device) for v in (u, i, s, h))
    check(tu + ti, u.astype(np.int16) + i.astype(np.int16))  # uint8 with int8: int16
    check(tu * ts, u.astype(np.int16) * s)
    check(ti - ts, i.astype(np.int16) - s)
    check(th + tu, h + u.astype(np.float16))  # integers with float16: float16
    check(th * ti, h * i.astype(np.float16))  # -128 * 1000 is beyond float16: inf
    check(th + lg.tensor([1, 2, 3, 4], device=device), h + np.float16([1, 2, 3, 4]))
    f = np.float32([0.25, 2, 3, 4])
    check(th + lg.tensor(f, device=device), h.astype(np.float32) + f)


def test_result_type_with_scalars_and_zero_dim() -> None:
    u8, i8, f16 = lg.zeros(3, dtype=lg.uint8), lg.zeros(3, dtype=lg.int8), lg.zeros(3).half()
    assert (u8 + 1).dtype is lg.uint8 and (u8 * 1000).dtype is lg.uint8
    assert (u8 + 1.5).dtype is lg.float32 and (i8 / 2).dtype is lg.float32
    assert (f16 + 2.5).dtype is lg.float16 and (f16 * 3).dtype is lg.float16
    assert (lg.zeros(3, dtype=lg.bool) + 1).dtype is lg.int64
    # dimensioned tensors win over 0-d ones of the same category, not over a higher one
    assert (u8 + lg.tensor(5, dtype=lg.int8)).dtype is lg.uint8
    assert (u8 + lg.tensor(5)).dtype is lg.uint8
    assert (i8 + lg.tensor(1.5, dtype=lg.float16)).dtype is lg.float16
    assert (i8 + lg.tensor(1.5, dtype=lg.float64)).dtype is lg.float64
    assert (f16 + lg.tensor(1.5, dtype=lg.float64)).dtype is lg.float16
    assert (u8 > lg.tensor(1.5)).dtype is lg.bool


def test_scalars_wrap_into_narrow_integers(device: str) -> None:
    u = lg.tensor([0, 1, 200], dtype=lg.uint8, device=device)
    check(u + 256, np.array([0, 1, 200], dtype=np.uint8))  # 256 is 0 as a uint8
    check(u + (-1), np.array([255, 0, 199], dtype=np.uint8))
    check(u - 1, np.array([255, 0, 199], dtype=np.uint8))
    # PyTorch's documented uint8 corner: -1 as a uint8 scalar operand is 255
    check(u < -1, np.array([True, True, True]))
    i = lg.tensor([1, -1, 100], dtype=lg.int8, device=device)
    check(i + 300, np.array([45, 43, -112], dtype=np.int8))
    check(lg.tensor([1, 2], dtype=lg.int32, device=device) + 2**32, np.int32([1, 2]))
    with pytest.raises(RuntimeError, match="Overflow when unpacking long"):
        lg.tensor([1], dtype=lg.int8) + 2**64


# ---- elementwise values -----------------------------------------------------------------------
def _int_data(name: str) -> tuple[np.ndarray, np.ndarray]:
    info = np.iinfo(name)
    rng = np.random.default_rng(0)
    a = rng.integers(info.min, info.max, 40, endpoint=True).astype(name)
    b = rng.integers(info.min, info.max, 40, endpoint=True).astype(name)
    a[:4] = [info.max, info.min, info.max, 0]
    b[:4] = [1, info.max if name == "uint8" else -1, info.max, 1]
    b[b == 0] = 3  # integer division by zero raises
    if name != "uint8":  # INT_MIN // -1 overflows (NumPy warns, PyTorch traps)
        b[(a == info.min) & (b == -1)] = 2
    return a, b


@pytest.mark.parametrize("name", INTS)
def test_integer_arithmetic_wraps(device: str, name: str) -> None:
    a, b = _int_data(name)
    ta, tb = lg.tensor(a, device=device), lg.tensor(b, device=device)
    with np.errstate(all="ignore"):
        check(ta + tb, a + b)
        check(ta - tb, a - b)
        check(ta * tb, a * b)
        check(-ta, -a)
        check(ta.abs(), np.abs(a))
        check(lg.maximum(ta, tb), np.maximum(a, b))
        check(lg.minimum(ta, tb), np.minimum(a, b))
        check(ta // tb, np.floor_divide(a, b))
        check(ta % tb, np.remainder(a, b))
        check(ta & tb, a & b)
        check(ta | tb, a | b)
        check(ta ^ tb, a ^ b)
        check(~ta, ~a)
        check(ta * 3 + 7, a * np.array(3, name) + np.array(7, name))
    check(ta < tb, a < b)
    check(ta == tb, a == b)
    check(ta >= 5, a >= 5)
    check(lg.where(ta > tb, ta, tb), np.where(a > b, a, b))


@pytest.mark.parametrize("name", INTS)
def test_integer_pow_and_float_ops(device: str, name: str) -> None:
    a = np.array([0, 1, 2, 3, 5, 7, 100, 11], dtype=name)
    e = np.array([0, 3, 7, 2, 3, 4, 1, 2], dtype=name)
    ta, te = lg.tensor(a, device=device), lg.tensor(e, device=device)
    with np.errstate(all="ignore"):
        check(ta**te, np.power(a, e))
        check(ta**2, np.power(a, np.array(2, name)))
    check(ta / 2, a.astype(np.float32) / 2)  # true division: the default float dtype
    check(ta.sqrt(), np.sqrt(a.astype(np.float32)))


def test_overflow_edges(device: str) -> None:
    check(lg.tensor([127], dtype=lg.int8, device=device) + 1, np.int8([-128]))
    check(lg.tensor([250], dtype=lg.uint8, device=device) + 10, np.uint8([4]))
    check(lg.tensor([32767], dtype=lg.int16, device=device) + 1, np.int16([-32768]))
    check(lg.tensor([-128], dtype=lg.int8, device=device).abs(), np.int8([-128]))
    u = lg.tensor([0, 16], dtype=lg.uint8, device=device)
    check(u * u, np.uint8([0, 0]))  # 256 wraps to 0: uint8 arithmetic stays uint8


def test_float16_arithmetic_rounds_like_numpy(device: str) -> None:
    rng = np.random.default_rng(1)
    a = (rng.standard_normal(200) * rng.choice([1e-6, 1e-3, 1, 30, 3000], 200)).astype(np.float16)
    b = (rng.standard_normal(200) * rng.choice([1e-5, 1, 10, 700], 200)).astype(np.float16)
    b[b == 0] = np.float16(0.5)
    ta, tb = lg.tensor(a, device=device), lg.tensor(b, device=device)
    # + - * / and casts are exact: a float32 result rounded to nearest even half
    check(ta + tb, a + b)
    check(ta - tb, a - b)
    check(ta * tb, a * b)
    check(ta / tb, a / b)
    # a Python scalar multiplies at float32 (PyTorch's `original_scalar_value`), adds as half
    check(ta * 0.1, (a.astype(np.float32) * np.float32(0.1)).astype(np.float16))
    check(ta + 0.1, a + np.float16(0.1))
    check((ta + tb) * ta - tb, (a + b) * a - b)
    check(-ta, -a)
    check(lg.maximum(ta, tb), np.maximum(a, b))
    check(ta < tb, a < b)
    check(lg.where(ta > 0, ta, tb), np.where(a > 0, a, b))
    # float32 libm results rounded: a last-bit difference is allowed
    close16(ta.exp(), np.exp(a.astype(np.float32)), rtol=1e-3)
    close16(ta.abs().sqrt(), np.sqrt(np.abs(a).astype(np.float32)), rtol=1e-3)
    close16(ta.tanh(), np.tanh(a.astype(np.float32)), rtol=1e-3, atol=1e-7)
    # composed of float16 ops (exp, +, 1/): where exp(-x) passes 65504 it gives 0 where
    # PyTorch's one float32 kernel gives ~1e-6, so moderate inputs only
    m = np.clip(a, -8, 8)
    close16(lg.tensor(m, device=device).sigmoid(), 1 / (1 + np.exp(-m.astype(np.float32))), 2e-3)


def test_float16_rounding_edges(device: str) -> None:
    big = lg.tensor([60000.0, 65504.0, -40000.0, 32768.0], device=device).half()
    check(big * 2, np.float16([60000.0, 65504.0, -40000.0, 32768.0]) * np.float16(2))
    check(big + 8, np.float16([60000.0, 65504.0, -40000.0, 32768.0]) + np.float16(8))
    tiny = np.float16([6e-8, 1e-7, 3e-5, 6.1e-5, -2e-6])  # half subnormals and the smallest normal
    t = lg.tensor(tiny, device=device)
    check(t * 0.5, tiny * np.float16(0.5))
    check(t * 3, tiny * np.float16(3))
    check(t / 3, tiny / np.float16(3))
    # ties round to even: 2049 is halfway between the halves 2048 and 2050
    x = np.float32([2049.0, 2051.0, 1.00048828125, 65519.0, 65520.0, np.inf, np.nan])
    check(lg.tensor(x, device=device).half(), x.astype(np.float16))
    check(lg.tensor(x, device=device) + 0, x + 0)


# ---- casts -----------------------------------------------------------------------------------
@pytest.mark.parametrize("src", ALL)
def test_casts_between_all_dtypes(device: str, src: str) -> None:
    values = np.array([0, 1, 2, 7, 100, 3, 0, 1], dtype=np.float64)
    if src in ("float16", "float32", "float64"):
        values = values + 0.75  # fractions truncate toward zero in integer casts
    if src == "bool":
        values = values % 2
    a = values.astype(src if src != "bool" else np.bool_)
    t = lg.tensor(a, device=device)
    for dst in ALL:
        out = t.to(lgd(dst))
        assert out.dtype is lgd(dst)
        np.testing.assert_array_equal(out.numpy(), a.astype(dst if dst != "bool" else np.bool_))


def test_integer_casts_wrap(device: str) -> None:
    a = np.array([300, -1, 1000, -129, 128, 65535, -32769], dtype=np.int64)
    t = lg.tensor(a, device=device)
    check(t.byte(), a.astype(np.uint8))
    check(t.char(), a.astype(np.int8))
    check(t.short(), a.astype(np.int16))
    check(t.short().byte(), a.astype(np.int16).astype(np.uint8))
    check(lg.tensor([200, 255], dtype=lg.uint8, device=device).char(), np.int8([-56, -1]))


def test_conversion_methods(device: str) -> None:
    x = lg.tensor([1.7, -2.5, 300.25], device=device)
    check(x.half(), np.float16([1.7, -2.5, 300.25]))
    assert x.half().float().dtype is lg.float32
    check(x.half().float(), np.float16([1.7, -2.5, 300.25]).astype(np.float32))
    check(x.short(), np.int16([1, -2, 300]))
    check(x.char(), np.int8([1, -2, 44]))
    assert x.type(lg.uint8).dtype is lg.uint8 and x.byte().type() == "lazygrad.ByteTensor"
    assert x.half().type() == "lazygrad.HalfTensor"
    assert x.half().is_floating_point() and not x.byte().is_floating_point()


# ---- reductions -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", INTS)
def test_integer_reductions(device: str, name: str) -> None:
    a, _ = _int_data(name)
    a = a.reshape(4, 10)
    t = lg.tensor(a, device=device)
    check(t.sum(), a.astype(np.int64).sum())  # integer sums promote to int64
    check(t.sum(dim=1), a.astype(np.int64).sum(axis=1))
    check(t.prod(dim=0), np.prod(a.astype(np.int64), axis=0))
    check(t.max(), a.max())
    check(t.min(dim=1).values, a.min(axis=1))
    check(t.amax(dim=0), a.max(axis=0))
    check(t.argmax(dim=1), a.argmax(axis=1))
    negative = -np.abs(a.astype(np.int64)).clip(1, 100).astype(name) if name != "uint8" else a
    check(lg.tensor(negative, device=device).max(dim=1).values, negative.max(axis=1))


def test_float16_reductions_accumulate_in_float32(device: str) -> None:
    rng = np.random.default_rng(2)
    a = rng.uniform(0, 1, (3, 5000)).astype(np.float16)
    t = lg.tensor(a, device=device)
    wide = a.astype(np.float32)
    # float16 steps alone would stall near 2048 (its spacing there is 2)
    close16(t.sum(dim=1), wide.sum(axis=1), rtol=1e-3)
    close16(t.sum(), wide.sum(), rtol=1e-3)
    close16(t.mean(dim=1), wide.mean(axis=1), rtol=2e-3)
    check(t.max(dim=1).values, a.max(axis=1))
    check(t.min(), a.min())
    assert t.sum().dtype is lg.float16 and t.mean().dtype is lg.float16
    close16(t.softmax(dim=1), np.exp(wide) / np.exp(wide).sum(axis=1, keepdims=True), atol=1e-6)


def test_matmul(device: str) -> None:
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((5, 70)), rng.standard_normal((70, 33))
    ta, tb = lg.tensor(a, device=device).half(), lg.tensor(b, device=device).half()
    want = a.astype(np.float16).astype(np.float32) @ b.astype(np.float16).astype(np.float32)
    close16(ta @ tb, want, rtol=2e-3, atol=2e-3)
    for name in INTS:
        x = rng.integers(-50, 50, (5, 70)).astype(name)
        y = rng.integers(-50, 50, (70, 64)).astype(name)
        with np.errstate(all="ignore"):
            check(lg.tensor(x, device=device) @ lg.tensor(y, device=device), x @ y)


# ---- creation and the default dtype -----------------------------------------------------------
def test_creation_with_narrow_dtypes(device: str) -> None:
    for name in NEW:
        d = lgd(name)
        check(lg.zeros(2, 3, dtype=d, device=device), np.zeros((2, 3), name))
        check(lg.full((3,), 7, dtype=d, device=device), np.full(3, 7, name))
        check(lg.arange(5, dtype=d, device=device), np.arange(5, dtype=name))
        check(lg.ones_like(lg.zeros(2, dtype=d, device=device)), np.ones(2, name))
    check(
        lg.arange(0, 1, 0.125, dtype=lg.float16, device=device), np.arange(0, 1, 0.125), "float16"
    )
    check(
        lg.arange(0, 1, 0.1, dtype=lg.float16, device=device),
        np.arange(10, dtype=np.float64) * 0.1,
        "float16",
    )
    r = lg.randint(0, 256, (100,), dtype=lg.uint8, device=device).numpy()
    assert r.dtype == np.uint8 and r.min() >= 0
    assert lg.rand(4, dtype=lg.float16, device=device).dtype is lg.float16


def test_creation_overflow_errors() -> None:
    with pytest.raises(RuntimeError, match="without overflow"):
        lg.tensor([256], dtype=lg.uint8)
    with pytest.raises(RuntimeError, match="without overflow"):
        lg.tensor([-129], dtype=lg.int8)
    with pytest.raises(RuntimeError, match="without overflow"):
        lg.full((2,), 300, dtype=lg.uint8)
    with pytest.raises(RuntimeError, match="to - 1 is out of bounds for unsigned char"):
        lg.randint(0, 300, (3,), dtype=lg.uint8)
    with pytest.raises(RuntimeError, match="from is out of bounds for signed char"):
        lg.randint(-200, 3, (3,), dtype=lg.int8)


def test_repr_of_narrow_dtypes() -> None:
    assert repr(lg.tensor([1, 2, 250], dtype=lg.uint8)) == (
        "tensor([  1,   2, 250], dtype=lazygrad.uint8)"
    )
    assert repr(lg.tensor([-1, 5], dtype=lg.int8)) == "tensor([-1,  5], dtype=lazygrad.int8)"
    assert repr(lg.tensor([1.5, -2.0]).half()) == (
        "tensor([ 1.5000, -2.0000], dtype=lazygrad.float16)"
    )


def test_default_dtype_starts_as_float32() -> None:
    assert lg.get_default_dtype() is lg.float32
    assert lg.zeros(1).dtype is lg.float32 and lg.tensor([0.5]).dtype is lg.float32


def test_set_default_dtype_float64(default_float64: None, device: str) -> None:
    assert lg.get_default_dtype() is lg.float64
    made: dict[str, Any] = {
        "zeros": lg.zeros(2, device=device),
        "ones": lg.ones(2, device=device),
        "empty": lg.empty(2, device=device),
        "full": lg.full((2,), 0.5, device=device),
        "rand": lg.rand(2, device=device),
        "randn": lg.randn(2, device=device),
        "arange": lg.arange(0, 1, 0.25, device=device),
        "linspace": lg.linspace(0, 1, 5, device=device),
        "eye": lg.eye(2, device=device),
        "tensor": lg.tensor([0.1, 0.2], device=device),
        "int / int": lg.tensor([1, 2], device=device) / 3,
        "int * float": lg.tensor([1, 2], device=device) * 0.1,
        "mean of ints": lg.tensor([1, 2], device=device).float().mean(),
    }
    for what, t in made.items():
        assert t.dtype is lg.float64 or what == "mean of ints", what
    check(made["tensor"], np.array([0.1, 0.2]))  # the doubles themselves, not float32's
    check(made["int / int"], np.array([1, 2]) / 3)
    check(made["linspace"], np.linspace(0, 1, 5))
    assert lg.arange(3).dtype is lg.int64 and lg.tensor([1]).dtype is lg.int64
    assert lg.zeros(2, dtype=lg.float32).dtype is lg.float32
    assert (lg.zeros(2, dtype=lg.float32) + 0.5).dtype is lg.float32
    assert (lg.zeros(2, dtype=lg.uint8) + 0.5).dtype is lg.float64
    layer = lg.nn.Linear(3, 2)
    assert layer.weight.dtype is lg.float64 and layer.bias.dtype is lg.float64
    assert lg.nn.Conv2d(1, 2, 3).weight.dtype is lg.float64
    # the default dtype is the one repr leaves unnamed
    assert repr(lg.tensor([1.5])) == "tensor([1.5000])"
    assert repr(lg.tensor([1.5], dtype=lg.float32)) == "tensor([1.5000], dtype=lazygrad.float32)"


def test_set_default_dtype_round_trip() -> None:
    try:
        lg.set_default_dtype(lg.float64)
        assert lg.ones(1).dtype is lg.float64
        lg.set_default_dtype(lg.float32)
        assert lg.ones(1).dtype is lg.float32 and lg.get_default_dtype() is lg.float32
        with pytest.raises(TypeError, match="only floating-point types"):
            lg.set_default_dtype(lg.int32)
        with pytest.raises(TypeError, match="only floating-point types"):
            lg.set_default_dtype(lg.uint8)
        assert lg.get_default_dtype() is lg.float32
    finally:
        lg.set_default_dtype(lg.float32)


# ---- autograd, indexing, saving ------------------------------------------------------------
def test_float16_gradient(device: str) -> None:
    x = lg.tensor([1.5, -2.0, 0.25], device=device).half().requires_grad_()
    (x * x * 3).sum().backward()
    assert x.grad is not None
    check(x.grad, np.float16([9.0, -12.0, 1.5]))
    with pytest.raises(RuntimeError, match="floating point"):
        lg.zeros(2, dtype=lg.uint8, requires_grad=True)


def test_indexing_narrow_dtypes(device: str) -> None:
    idx = lg.tensor([2, 0, 2, 1], device=device)
    for name in NEW:
        a = np.array([5, 7, 100, 3], dtype=name)
        t = lg.tensor(a, device=device)
        check(t[idx], a[[2, 0, 2, 1]])
        check(t[1:3], a[1:3])
        src = np.array([1, 2, 3, 4], dtype=name)
        out = lg.zeros(4, dtype=lgd(name), device=device).scatter_add(
            0, idx, lg.tensor(src, device=device)
        )
        want = np.zeros(4, dtype=name)
        np.add.at(want, [2, 0, 2, 1], src)
        check(out, want)


def test_save_and_load(tmp_path: Any) -> None:
    state = {name: lg.tensor(np.arange(4, dtype=name)) for name in NEW}
    lg.save(state, tmp_path / "narrow.pt")
    back = lg.load(tmp_path / "narrow.pt")
    for name in NEW:
        assert back[name].dtype is lgd(name)
        np.testing.assert_array_equal(back[name].numpy(), np.arange(4, dtype=name))


def test_the_tensor_constructor_follows_the_default_dtype() -> None:
    lg.set_default_dtype(lg.float64)
    try:
        assert lg.Tensor([1.0]).dtype == lg.float64
    finally:
        lg.set_default_dtype(lg.float32)
    assert lg.Tensor([1.0]).dtype == lg.float32
