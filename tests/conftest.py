"""Shared fixtures and helpers for the lazygrad test suite.

`device` runs a test once per backend ("cpu" and "opencl"). OpenCL tests are skipped only
when no OpenCL device exists *and* the CI variable is unset; under CI a missing device fails.

`check` compares a lazygrad tensor to a NumPy reference: shape, lazygrad dtype name and values
(exact for bool/integer dtypes, with a dtype-aware tolerance for floats, NaNs equal).

Also here: `result_type`, PyTorch's type promotion written independently of lazygrad (the
oracle for expected dtypes); hypothesis strategies for arrays and shapes (0-d and size-0
included); `parity`/`examples`, which draw fewer hypothesis examples on OpenCL, where every
example builds new programs; `device_params`/`use_device` for tests that are known failures
on one device only.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import lazygrad as lg

DEVICES = ("cpu", "opencl")

# Default (rtol, atol) per float dtype; a backend may differ from NumPy by a few ulps.
FLOAT_TOLERANCE = {"float32": (1e-5, 1e-6), "float64": (1e-10, 1e-12)}


def opencl_ready() -> bool:
    """Whether OpenCL tests can run here; fails (rather than skips) under CI."""
    if lg.opencl.is_available():
        return True
    if os.environ.get("CI"):
        pytest.fail("CI is set but no OpenCL device is available (install PoCL)")
    return False


@pytest.fixture(scope="session", params=DEVICES, ids=DEVICES)
def device(request: pytest.FixtureRequest) -> str:
    """The device string a test runs on: "cpu", then "opencl" where available.

    Session-scoped so hypothesis tests may use it (it holds no per-test state)."""
    if request.param == "opencl" and not opencl_ready():
        pytest.skip("no OpenCL device here and CI is unset")
    return request.param


def numpy_dtype_name(arr: np.ndarray) -> str:
    """The lazygrad dtype name NumPy's dtype corresponds to."""
    return "bool" if arr.dtype == np.bool_ else arr.dtype.name


def check(
    t: Any,
    expected: Any,
    dtype: str | None = None,
    *,
    rtol: float | None = None,
    atol: float | None = None,
) -> None:
    """Assert that lazygrad tensor `t` has `expected`'s shape and values, and dtype `dtype`
    (a lazygrad dtype name such as "float32"; by default the name of `expected`'s dtype).

    Integer and bool results must match exactly; float results within (rtol, atol), by
    default `FLOAT_TOLERANCE` of the result dtype; NaNs compare equal to NaNs."""
    assert isinstance(t, lg.Tensor), f"expected a lazygrad Tensor, got {type(t).__name__}"
    want = np.asarray(expected)
    name = dtype or numpy_dtype_name(want)
    assert t.dtype.name == name, f"dtype: got {t.dtype.name}, expected {name}"
    assert tuple(t.shape) == want.shape, f"shape: got {tuple(t.shape)}, expected {want.shape}"
    got = (t.detach() if t.requires_grad else t).numpy()
    assert got.shape == want.shape, f"numpy() shape {got.shape} != {want.shape}"
    assert numpy_dtype_name(got) == name, f"numpy() dtype {got.dtype} for a {name} tensor"
    if name in FLOAT_TOLERANCE:
        default_rtol, default_atol = FLOAT_TOLERANCE[name]
        np.testing.assert_allclose(
            got,
            want.astype(got.dtype) if want.dtype.kind in "biuf" else want,
            rtol=default_rtol if rtol is None else rtol,
            atol=default_atol if atol is None else atol,
            equal_nan=True,
        )
    else:
        np.testing.assert_array_equal(got, want.astype(got.dtype))


# ---- reference type promotion (PyTorch's rules, written independently of lazygrad) ----------
CATEGORY = {"bool": 0, "int32": 1, "int64": 1, "float32": 2, "float64": 2}
DEFAULT_FOR_CATEGORY = {0: "bool", 1: "int64", 2: "float32"}
ITEMSIZE = {"bool": 1, "int32": 4, "int64": 8, "float32": 4, "float64": 8}


def promote(a: str, b: str) -> str:
    """torch.promote_types for the five lazygrad dtypes."""
    if CATEGORY[a] != CATEGORY[b]:
        return a if CATEGORY[a] > CATEGORY[b] else b
    return a if ITEMSIZE[a] >= ITEMSIZE[b] else b


def result_type(*operands: Any) -> str:
    """torch.result_type of NumPy arrays (tensors; 0-d arrays count as 0-d tensors) and Python
    scalars. Dimensioned tensors decide, then 0-d tensors, then scalars; a lower tier only
    matters when it brings a higher category (a scalar then gives its category's default)."""
    scalar_defaults = [
        DEFAULT_FOR_CATEGORY[0 if isinstance(o, bool) else 1 if isinstance(o, int) else 2]
        for o in operands
        if not isinstance(o, np.ndarray)
    ]
    tiers = [
        [numpy_dtype_name(o) for o in operands if isinstance(o, np.ndarray) and o.ndim],
        [numpy_dtype_name(o) for o in operands if isinstance(o, np.ndarray) and not o.ndim],
        scalar_defaults,
    ]
    result = None
    for tier in tiers:
        if not tier:
            continue
        tier_type = tier[0]
        for name in tier[1:]:
            tier_type = promote(tier_type, name)
        if result is None or CATEGORY[tier_type] > CATEGORY[result]:
            result = tier_type
    assert result is not None
    return result


def np_dtype(name: str) -> np.dtype:
    """The NumPy dtype of a lazygrad dtype name."""
    return np.dtype(np.bool_ if name == "bool" else name)


def lg_dtype(name: str) -> Any:
    """The lazygrad dtype object of a dtype name."""
    return {
        "bool": lg.bool,
        "int32": lg.int32,
        "int64": lg.int64,
        "float32": lg.float32,
        "float64": lg.float64,
    }[name]


# ---- hypothesis strategies -----------------------------------------------------------------
try:
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp
except ImportError:  # pragma: no cover - hypothesis is a test dependency
    st = hnp = None

DTYPE_NAMES = ("bool", "int32", "int64", "float32", "float64")


def elements(name: str, low: float = -8, high: float = 8) -> Any:
    """Values of a dtype small enough that products and sums stay exact in integers."""
    if name == "bool":
        return st.booleans()
    if name in ("int32", "int64"):
        return st.integers(int(low) * 3, int(high) * 3)
    return st.floats(low, high, width=32 if name == "float32" else 64, allow_nan=False)


def arrays(name: str, shape: Any, low: float = -8, high: float = 8) -> Any:
    """NumPy arrays of a lazygrad dtype name and a shape (or shape strategy)."""
    return hnp.arrays(np_dtype(name), shape, elements=elements(name, low, high))


def shapes(min_dims: int = 0, max_dims: int = 4, min_side: int = 0, max_side: int = 4) -> Any:
    """Shapes including 0-d and size-0 ones."""
    return hnp.array_shapes(
        min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    )


def device_params(**xfail_reasons: str) -> list[Any]:
    """The devices as explicit parameters, for a test that is a known failure on some of them:
    `device_params(cpu="why")` marks the cpu run `xfail(strict=True)`. Use with
    `@pytest.mark.parametrize("dev", device_params(...))` and call `use_device(dev)` first."""
    return [
        pytest.param(d, id=d, marks=pytest.mark.xfail(reason=xfail_reasons[d], strict=True))
        if d in xfail_reasons
        else pytest.param(d, id=d)
        for d in DEVICES
    ]


def use_device(dev: str) -> str:
    """Skip an explicitly parametrized opencl run where the `device` fixture would skip it."""
    if dev == "opencl" and not opencl_ready():
        pytest.skip("no OpenCL device here and CI is unset")
    return dev


# ---- example counts ----------------------------------------------------------------------------
# Every hypothesis example builds new kernels; on OpenCL each costs a program build, so OpenCL
# runs draw fewer examples than CPU runs (the strategies and properties are the same).
CPU_EXAMPLES = 30


def examples(device: str, count: int = CPU_EXAMPLES) -> Any:
    """hypothesis settings for `device`: `count` examples on cpu, a quarter on opencl."""
    from hypothesis import settings

    return settings(max_examples=count if device == "cpu" else max(4, count // 4), deadline=None)


def parity(count: int = CPU_EXAMPLES, /, **strategies: Any) -> Callable[[Callable], Callable]:
    """`@given(**strategies)` for a test taking the `device` fixture, drawing `examples()`
    for that device. The test's other arguments stay pytest fixtures / parameters."""
    from hypothesis import given

    def decorate(fn: Callable) -> Callable:
        signature = inspect.signature(fn)
        fixtures = [p for name, p in signature.parameters.items() if name not in strategies]

        @functools.wraps(fn)
        def test(**kwargs: Any) -> None:
            device_name = kwargs["device"]

            @examples(device_name, count)
            @given(**strategies)
            def run(**drawn: Any) -> None:
                fn(**kwargs, **drawn)

            run()

        test.__signature__ = signature.replace(parameters=fixtures)  # type: ignore[attr-defined]
        del test.__wrapped__  # pytest must see the reduced signature
        return test

    return decorate


def finite_differences(fn: Callable[[lg.Tensor], lg.Tensor], a: np.ndarray, device: str):
    """Central differences of sum(fn(x)) in float64."""

    def value(v: np.ndarray) -> float:
        return float(fn(lg.tensor(v, device=device)).sum().item())

    out = np.zeros_like(a)
    for idx in np.ndindex(a.shape):
        plus, minus = a.copy(), a.copy()
        plus[idx] += 1e-6
        minus[idx] -= 1e-6
        out[idx] = (value(plus) - value(minus)) / 2e-6
    return out
