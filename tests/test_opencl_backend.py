"""The OpenCL code generator, through the public API on device='opencl'.

Every result is compared with NumPy and with the same expression on the CPU backend. The
tests run wherever an OpenCL device exists (PoCL counts); without one they skip, unless the
CI variable is set, in which case they fail."""

from __future__ import annotations

import os

import numpy as np
import pytest

import lazygrad as lg
from lazygrad.renderer.opencl import SourceParts, Target
from lazygrad.renderer.opencl_kernels import Launch, OpenCLProgram
from lazygrad.runtime import kernel_source
from lazygrad.runtime import opencl as cl_runtime
from lazygrad.runtime import opencl_device as cl_device

if not lg.opencl.is_available():
    if os.environ.get("CI"):
        pytest.fail("CI is set but no OpenCL device is available (install PoCL)", pytrace=False)
    pytest.skip("no OpenCL device here and CI is unset", allow_module_level=True)

CL = "opencl"
RNG = np.random.default_rng(1234)


def both(fn, *arrays: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`fn` evaluated on the CPU backend and on OpenCL, as host arrays."""
    cpu = fn(*[lg.tensor(a) for a in arrays]).numpy()
    ocl = fn(*[lg.tensor(a, device=CL) for a in arrays]).numpy()
    return cpu, ocl


def same(
    fn,
    *arrays: np.ndarray,
    expected: np.ndarray | None = None,
    rtol: float = 1e-5,
    atol: float = 1e-6,
) -> None:
    """Assert that OpenCL matches the CPU backend (and `expected`, when given)."""
    cpu, ocl = both(fn, *arrays)
    assert ocl.dtype == cpu.dtype and ocl.shape == cpu.shape
    for want in (cpu,) if expected is None else (cpu, np.asarray(expected)):
        if ocl.dtype.kind == "f":
            np.testing.assert_allclose(ocl, want, rtol=rtol, atol=atol, equal_nan=True)
        else:
            np.testing.assert_array_equal(ocl, want)


def rand(*shape: int, dtype: str = "float32") -> np.ndarray:
    return RNG.standard_normal(shape).astype(dtype)


@pytest.fixture
def fake_target(monkeypatch: pytest.MonkeyPatch):
    """Render for a made-up device (a GPU, or one without fp64) on the real device 0."""

    def use(**fields: object) -> None:
        real = cl_runtime.target(0)
        values = {**real.__dict__, **fields}
        monkeypatch.setitem(cl_runtime._targets, 0, Target(**values))
        monkeypatch.setattr(cl_runtime, "_programs", {})

    return use


# ---- elementwise --------------------------------------------------------------------------
def test_float_arithmetic_rounds_as_numpy_does() -> None:
    # Drivers may fuse `a * b + c` into one rounding and give float32 `/` and sqrt a few ulp of
    # slack (NVIDIA's do both); the kernels forbid the first and ask for exact `/` and sqrt.
    rng = np.random.default_rng(3)
    x, y, z = (rng.uniform(1, 2, 4096).astype(np.float32) for _ in range(3))
    a, b, c = (lg.tensor(v, device=CL) for v in (x, y, z))
    assert np.array_equal((a * b + c).numpy(), x * y + z)  # two roundings (PoCL fuses them)
    assert np.array_equal(((a / b).sqrt()).numpy(), np.sqrt(x / y))
    product = kernel_source(
        lg.schedule(a.reshape(64, 64) @ b.reshape(64, 64))[-1]
    )  # BLAS fuses too
    assert "#pragma OPENCL FP_CONTRACT ON" in product
    dev = cl_device.get_device(0)
    generated = {p.source for p in cl_runtime._programs.values()}
    built = {  # the kernels lazygrad generated (not its probe, other tests' or tools' kernels)
        options for source, options, _ in dev._kernels if source in generated
    }
    assert built
    exact = "-cl-fp32-correctly-rounded-divide-sqrt"
    assert all((exact in options) == dev.rounds_divide_sqrt_exactly for options in built)


def test_elementwise_reads_views_in_place() -> None:
    x, y = rand(6, 5), rand(5, 6)
    same(lambda a, b: a.T + b, x, y, expected=x.T + y)
    same(lambda a, b: a[::2] * 3, x, y, expected=x[::2] * 3)
    same(lambda a, b: a.flip(0) - a, x, y, expected=x[::-1] - x)
    same(lambda a, b: lg.cat([a, b.T], 0), x, y, expected=np.concatenate([x, y.T]))
    same(lambda a, b: a[1:4, 2:] + b[0, :3], x, y, expected=x[1:4, 2:] + y[0, :3])
    same(
        lambda a, b: a.reshape(1, 6, 5) + b.T[:, None, :],
        x,
        y,
        expected=x.reshape(1, 6, 5) + y.T[:, None, :],
    )


def test_vector_and_scalar_paths_agree() -> None:
    # Widths that divide by 16 take the vector path; odd widths and gathers stay scalar.
    for cols in (64, 48, 8, 7, 1):
        x, y = rand(9, cols), rand(9, cols)
        same(lambda a, b: ((a * b + 1).exp() * 0.5 + a.abs().sqrt()).relu(), x, y)
        same(lambda a, b: lg.where(a < b, a, b * 2) + (a > 0).float(), x, y)
        same(lambda a, b: ((a * 4).int() // 3 + (b > a).int()) % 5, x, y)


FLOAT_OPS = {
    "exp": lambda a: a.exp(),
    "log": lambda a: a.abs().log(),
    "log2": lambda a: a.abs().log2(),
    "sqrt": lambda a: a.abs().sqrt(),
    "rsqrt": lambda a: a.abs().rsqrt(),
    "sin": lambda a: a.sin(),
    "cos": lambda a: a.cos(),
    "tanh": lambda a: a.tanh(),
    "sigmoid": lambda a: a.sigmoid(),
    "relu": lambda a: a.relu(),
    "reciprocal": lambda a: a.reciprocal(),
    "floor": lambda a: a.floor(),
    "div": lambda a: a / (a + 0.5),
    "pow": lambda a: a.abs() ** a,
}
ANY_OPS = {
    "add": lambda a: a + a.flip(0),
    "sub": lambda a: a - 3,
    "mul": lambda a: a * a,
    "neg": lambda a: -a,
    "abs": lambda a: a.abs(),
    "sign": lambda a: a.sign(),
    "max": lambda a: lg.maximum(a, a.flip(1)),
    "min": lambda a: lg.minimum(a, a.flip(0)),
    "floordiv": lambda a: a // (a.flip(0).abs() + 1),
    "mod": lambda a: a % (a.flip(1).abs() + 1),
    "lt": lambda a: a < a.flip(0),
    "le": lambda a: a <= 1,
    "eq": lambda a: a == a.flip(1),
    "ne": lambda a: a != 0,
    "where": lambda a: lg.where(a > 0, a, a * 2),
    "clamp": lambda a: a.clamp(-2, 2),
    "to_bool": lambda a: a.bool(),
}
INT_OPS = {
    "and": lambda a: a & 6,
    "or": lambda a: a | a.flip(0),
    "not": lambda a: ~a,
    "pow": lambda a: a**3,
}
DATA = {
    "float32": np.array([[np.nan, -np.inf, -2.5, -1, -0.0], [0.5, 1, 2.5, np.inf, 7]], np.float32),
    "float64": np.array([[np.nan, -3.5, -1.25, 0, 0.75], [1, 2.5, 1e300, -7, 9]]),
    "int32": np.array([[-7, -3, -1, 0, 2], [3, 5, 8, -(2**31) + 5, 2**31 - 3]], np.int32),
    "int64": np.array([[-7, -3, -1, 0, 2], [3, 5, 8, -(2**40), 2**40]], np.int64),
}


@pytest.mark.parametrize("dtype", list(DATA))
def test_every_elementwise_op_and_dtype(dtype: str) -> None:
    # Ops with one result dtype are stacked into one tensor: one fused kernel (one build) per
    # group; a mismatch is then narrowed down to the op.
    ops = {**ANY_OPS, **(FLOAT_OPS if dtype.startswith("float") else INT_OPS)}
    data = DATA[dtype] if dtype.startswith("float") else np.clip(DATA[dtype], -100, 100)
    groups: dict[str, list] = {}
    for name, fn in ops.items():
        groups.setdefault(fn(lg.tensor(data)).dtype.name, []).append((name, fn))
    for members in groups.values():
        try:
            same(lambda a, members=members: lg.stack([fn(a) for _, fn in members]), data)
        except AssertionError:
            for name, fn in members:
                try:
                    same(fn, data)
                except AssertionError as err:
                    raise AssertionError(f"{dtype} {name}: {err}") from None
            raise
    same(lambda a: a * 3 - 1, DATA[dtype])  # the extreme values, unclipped


def test_numpy_semantics() -> None:
    a = np.array([7, -7, 7, -7, 0], np.int64)
    b = np.array([2, 2, -2, -2, 3], np.int64)
    same(lambda x, y: x // y, a, b, expected=a // b)
    same(lambda x, y: x % y, a, b, expected=a % b)
    f = np.array([7.5, -7.5, 7.5, -7.5, np.nan], np.float32)
    g = np.array([2, 2, -2, -2, 1], np.float32)
    same(lambda x, y: x // y, f, g, expected=f // g)
    same(lambda x, y: x % y, f, g, expected=np.remainder(f, g))
    same(lambda x, y: lg.maximum(x, y), f, g, expected=np.maximum(f, g))  # NaN propagates
    same(
        lambda x: x.int(),
        np.array([2.9, -2.9, 0.5], np.float32),
        expected=np.array([2, -2, 0], np.int32),
    )
    same(lambda x: ~x, np.array([True, False]), expected=np.array([False, True]))


def test_bool_tensors() -> None:
    p, q = RNG.random((7, 32)) > 0.5, RNG.random((7, 32)) > 0.3
    for fn in (
        lambda a, b: a & b,
        lambda a, b: a | ~b,
        lambda a, b: a ^ b,
        lambda a, b: lg.where(a, b, ~b),
        lambda a, b: (a == b).int() + a.float(),
        lambda a, b: a.sum(1),
        lambda a, b: a.any() if hasattr(a, "any") else a.max(),
    ):
        same(fn, p, q)


# ---- reductions ---------------------------------------------------------------------------
def test_reductions_over_each_axis() -> None:
    x = rand(5, 6, 7)
    for dim in (0, 1, 2, (0, 2), None):
        for keepdim in (False, True):
            kw = {} if dim is None else {"dim": dim, "keepdim": keepdim}
            same(lambda a, kw=kw: a.sum(**kw), x, expected=x.sum(axis=dim, keepdims=keepdim))
        if isinstance(dim, int):
            same(lambda a, d=dim: a.max(d).values, x, expected=x.max(axis=dim))
            same(
                lambda a, d=dim: a.prod(d, keepdim=True),
                x,
                expected=x.prod(axis=dim, keepdims=True),
                rtol=1e-4,
            )
            same(lambda a, d=dim: a.argmin(d), x, expected=x.argmin(axis=dim))
    wide = rand(33, 64)  # vector lanes along the reduced axis and along the kept axis
    same(lambda a: a.sum(1), wide, expected=wide.sum(1), rtol=1e-4)
    same(lambda a: a.sum(0), wide, expected=wide.sum(0), rtol=1e-4)
    same(lambda a: a.max(0).values, wide, expected=wide.max(0))


def test_full_reduction_of_many_elements_is_accurate() -> None:
    for n in (2**20, 2**20 + 3):
        x = RNG.random(n, dtype=np.float32)
        exact = x.astype(np.float64).sum()
        got = lg.tensor(x, device=CL).sum().item()
        assert abs(got - exact) <= 1e-6 * exact
        same(lambda a: a.max(), x, expected=x.max())
    ints = RNG.integers(-1000, 1000, 2**20 + 1)
    same(lambda a: a.sum(), ints, expected=ints.sum())


def test_fused_reductions_match_cpu_kernel_counts() -> None:
    x = rand(16, 50)
    g = rand(50)
    cases = {
        "softmax": lambda a: a.softmax(1),
        "log_softmax": lambda a: a.log_softmax(0),
        "var": lambda a: a.var(1),
        "std_all": lambda a: a.std(),
        "logsumexp": lambda a: a.logsumexp(1),
        "layernorm": lambda a: (
            (a - a.mean(1, keepdim=True))
            / (a.var(1, keepdim=True, unbiased=False) + 1e-5).sqrt()
            * lg.tensor(g, device=a.device)
        ),
    }
    for name, fn in cases.items():
        same(fn, x)
        cpu = len(lg.schedule(fn(lg.tensor(x))))
        ocl = len(lg.schedule(fn(lg.tensor(x, device=CL))))
        assert cpu == ocl, f"{name}: {ocl} OpenCL kernels, {cpu} on cpu"
    e = np.exp(x - x.max(1, keepdims=True))
    same(cases["softmax"], x, expected=e / e.sum(1, keepdims=True))


def test_softmax_computes_each_exp_once(fake_target) -> None:  # noqa: ANN001
    def softmax(a: lg.Tensor) -> lg.Tensor:
        e = (a - a.max(1, keepdim=True).values).exp()
        return e / e.sum(1, keepdim=True)

    x = rand(64, 1024)
    e = np.exp(x - x.max(1, keepdims=True))
    for gpu in (False, True):  # one work-item per row, then a work-group per row
        fake_target(is_gpu=gpu, compute_units=4, max_work_group_size=256, preferred_multiple=32)
        source = kernel_source(lg.schedule(softmax(lg.tensor(x, device=CL)))[0])
        # the sum's loop stores exp in the output; the epilogue reads it back and divides it
        assert source.count("exp(") == 1, source
        assert source.count("(o0 + ") == 3, source  # stored, read back, stored again
        same(softmax, x, expected=e / e.sum(1, keepdims=True), rtol=1e-5)


def test_an_elementwise_kernel_writes_over_an_input_dying_there() -> None:
    lg.manual_seed(123)
    y = lg.rand(4096, device=CL) * 2.0 + 1.0
    kernels = lg.schedule(y).kernels
    assert [k.kind for k in kernels] == ["rand", "elementwise"]
    assert kernels[1].donated == tuple(kernels[0].output_nodes)
    header = kernel_source(kernels[1]).split("{")[0]
    assert "*o0" in header and "*x0" in header and "restrict" not in header  # one buffer
    dev = cl_device.get_device(0)
    dev.release_idle()
    start = dev.pool_stats()["allocations"]
    y.realize()
    assert dev.pool_stats()["allocations"] - start == 1  # the random numbers' buffer only
    lg.manual_seed(123)
    expected = lg.rand(4096).numpy() * 2 + 1
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-6)
    z = lg.rand(4096, device=CL)  # read by two kernels: it dies at the second only
    doubled, total = z * 2.0, z.sum()
    del z  # (a tensor the user still holds would be stored)
    both = lg.schedule(doubled, total).kernels
    assert [k.ops for k in both] == [["rand"], ["mul"], ["sum"]]
    assert not both[1].donated and both[2].donated


def test_a_value_the_epilogue_does_not_compute_again_is_not_kept() -> None:
    x = rand(8, 256)
    source = kernel_source(lg.schedule(lg.tensor(x, device=CL).log_softmax(1))[0])
    assert source.count("(o0 + ") == 1  # only the result: exp(x - max) is not needed again
    same(lambda a: a.log_softmax(1), x, rtol=1e-5, atol=1e-6)
    column = RNG.standard_normal((64, 1)).astype(np.float32)  # exp varies by row only
    e = np.exp(np.broadcast_to(column, (64, 64)))

    def softmax_of_rows(a: lg.Tensor) -> lg.Tensor:
        b = a.expand(64, 64).exp()
        return b / b.sum(1, keepdim=True)

    same(softmax_of_rows, column, expected=e / e.sum(1, keepdims=True), rtol=1e-5)


def test_long_row_reductions_split_across_work_groups() -> None:
    x = rand(3, 2**17)
    same(lambda a: a.softmax(1), x, rtol=1e-4)
    same(lambda a: a.var(1), x, expected=x.var(1, ddof=1), rtol=1e-4)
    same(lambda a: a - a.mean(), x, rtol=1e-4, atol=1e-5)


# ---- contractions -------------------------------------------------------------------------
MATMULS = {
    "2d": ((32, 48), (48, 24), lambda a, b: a @ b),
    "odd": ((17, 33), (33, 9), lambda a, b: a @ b),
    "transposed": ((33, 17), (9, 33), lambda a, b: a.T @ b.T),
    "batched": ((3, 17, 33), (3, 33, 9), lambda a, b: a @ b),
    "broadcast": ((2, 1, 5, 6), (3, 6, 4), lambda a, b: a @ b),
    "vector": ((33,), (33, 9), lambda a, b: a @ b),
    "bias_relu": ((17, 33), (33, 20), lambda a, b: (a @ b + b[0]).relu()),
    "self": ((20, 20), (20, 20), lambda a, b: a @ a),
}


@pytest.mark.parametrize("case", list(MATMULS))
def test_matmul(case: str) -> None:
    sa, sb, fn = MATMULS[case]
    x, y = rand(*sa), rand(*sb)
    if case == "transposed":
        expected = x.T @ y.T
    elif case == "bias_relu":
        expected = np.maximum(x @ y + y[0], 0)
    elif case == "self":
        expected = x @ x
    else:
        expected = x @ y
    same(fn, x, y, expected=expected, rtol=1e-4, atol=1e-4)


def test_matmul_packs_whole_vectors_where_the_layout_allows(fake_target) -> None:  # noqa: ANN001
    fake_target(is_gpu=False)  # CPU devices pack the operands; GPUs tile them in local memory
    x, y = rand(40, 64), rand(40, 32)  # x.T reads 8 rows at once, y 16 columns at once
    source = kernel_source(lg.schedule(lg.tensor(x, device=CL).T @ lg.tensor(y, device=CL))[0])
    assert "float8 *)(t0" in source and "float16 *)(t1" in source
    same(lambda a, b: a.T @ b, x, y, expected=x.T @ y, rtol=1e-4, atol=1e-4)
    z = rand(33, 40)  # 33 rows, and y.T is not contiguous along its columns: element-wise
    source = kernel_source(lg.schedule(lg.tensor(z, device=CL) @ lg.tensor(y, device=CL).T.T)[0])
    assert "float8 *)(t0" not in source
    same(lambda a, b: a @ b, z, y, expected=z @ y, rtol=1e-4, atol=1e-4)


def test_matmul_epilogue_is_one_kernel_and_other_dtypes() -> None:
    x, y = rand(17, 33), rand(33, 20)
    a, b = lg.tensor(x, device=CL), lg.tensor(y, device=CL)
    assert len(lg.schedule((a @ b + b[0]).relu())) == len(
        lg.schedule((lg.tensor(x) @ lg.tensor(y) + lg.tensor(y)[0]).relu())
    )
    i, j = RNG.integers(-5, 5, (7, 9)), RNG.integers(-5, 5, (9, 4))
    same(lambda p, q: p @ q, i, j, expected=i @ j)
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    same(lambda p, q: p @ q, x64, y64, expected=x64 @ y64, rtol=1e-10)


def test_gpu_templates(fake_target) -> None:  # noqa: ANN001
    fake_target(is_gpu=True, compute_units=4, max_work_group_size=256, preferred_multiple=32)
    x, y = rand(17, 33), rand(33, 70)
    same(lambda a, b: (a @ b).relu(), x, y, expected=np.maximum(x @ y, 0), rtol=1e-4, atol=1e-4)
    z = rand(5, 300)
    same(lambda a: a.softmax(1), z, rtol=1e-4)
    same(lambda a: a.sum(), rand(2**16 + 5), rtol=1e-4, atol=1e-4)
    source = kernel_source(lg.schedule(lg.tensor(z, device=CL).sum(1))[0])
    assert "barrier(CLK_LOCAL_MEM_FENCE)" in source


# ---- indexing, creation, transfers ----------------------------------------------------------
def test_gather_and_setitem() -> None:
    x = rand(6, 5)
    same(lambda a: a[[0, 2]], x, expected=x[[0, 2]])
    same(lambda a: a[:, [4, 0, 4]] * 2, x, expected=x[:, [4, 0, 4]] * 2)
    same(lambda a: a[a > 0.5], x, expected=x[x > 0.5])

    def assign(a):  # noqa: ANN001, ANN202
        a = a.clone() if hasattr(a, "clone") else a * 1
        a[1:3] = 5
        a[[0, 5], 2] = -1.0
        return a

    want = x.copy()
    want[1:3] = 5
    want[[0, 5], 2] = -1
    same(assign, x, expected=want)
    for dtype in ("float32", "float64"):  # duplicate indices accumulate (atomics / serial)
        w = lg.tensor(x.astype(dtype), device=CL, requires_grad=True)
        (w[[0, 0, 3]] * 2).sum().backward()
        np.testing.assert_array_equal(w.grad.numpy()[[0, 3, 1], 0], [4, 2, 0])


def test_arange_and_random_on_device() -> None:
    np.testing.assert_array_equal(lg.arange(5, device=CL).numpy(), np.arange(5))
    np.testing.assert_allclose(
        lg.arange(0, 1, 0.1, device=CL).numpy(), lg.arange(0, 1, 0.1).numpy()
    )
    np.testing.assert_allclose(
        lg.linspace(-1, 1, 9, device=CL).numpy(), np.linspace(-1, 1, 9, dtype=np.float32), atol=1e-7
    )
    np.testing.assert_array_equal(lg.eye(3, device=CL).numpy(), np.eye(3, dtype=np.float32))
    for make in (lg.rand, lg.randn):
        lg.manual_seed(7)
        a = make(4, 5, device=CL).numpy()
        lg.manual_seed(7)
        np.testing.assert_array_equal(a, make(4, 5).numpy())


def test_copies_between_cpu_and_opencl() -> None:
    x = rand(4, 6)
    a = lg.tensor(x).to(CL)
    assert str(a.device) == "opencl:0"
    np.testing.assert_array_equal(a.numpy(), x)
    np.testing.assert_array_equal(lg.tensor(x).T.to(CL).numpy(), x.T)
    b = (a * 2).cpu()
    assert str(b.device) == "cpu"
    np.testing.assert_array_equal(b.numpy(), x * 2)
    np.testing.assert_array_equal((a.T + 1).cpu().numpy(), x.T + 1)


def test_copy_of_a_view_to_cpu() -> None:
    x = rand(4, 6)
    np.testing.assert_array_equal(lg.tensor(x, device=CL).T.cpu().numpy(), x.T)


def test_empty_and_scalar_tensors() -> None:
    same(lambda a: a.sum(1), np.zeros((3, 0), np.float32), expected=np.zeros(3))
    same(lambda a: a * 2, np.zeros((0, 4), np.float32), expected=np.zeros((0, 4)))
    same(lambda a: a * 2 + 1, np.array(3.0, np.float32), expected=np.array(7.0))


# ---- programs, caching and errors -------------------------------------------------------------
def test_float64_runs_where_supported_and_fails_clearly_elsewhere(fake_target) -> None:  # noqa: ANN001
    x = rand(8, 16, dtype="float64")
    if cl_runtime.target(0).has_fp64:
        same(lambda a: (a * 1e-300).exp().sum(1), x, rtol=1e-12)
    fake_target(has_fp64=False, name="No Doubles Device")
    with pytest.raises(RuntimeError, match="float64.*opencl:0.*No Doubles Device"):
        (lg.tensor(x, device=CL) + 1).numpy()


def test_programs_are_cached_by_structure_not_constants() -> None:
    # Unusual constants: a constant some other test realized as a tensor would be read from
    # its buffer instead (a different structure).
    x = lg.tensor(rand(40, 40), device=CL)
    (x * 0.1234 + 2.5).realize()
    before = len(cl_runtime._programs)
    source = kernel_source(lg.schedule(x * 0.4321 + 3.5)[0])
    (x * 0.4321 + 3.5).realize()
    assert len(cl_runtime._programs) == before  # a new learning rate: no new program
    assert "0.4321" not in source and "c0" in source
    assert source == kernel_source(lg.schedule(lg.tensor(rand(40, 40), device=CL) * 0.75 + 4.5)[0])


def test_build_failure_reports_source_and_log(monkeypatch: pytest.MonkeyPatch) -> None:
    bad = "__kernel void broken(__global float *o0) { o0[0] = undefined_name; }"

    def build(kernel, slots, tgt):  # noqa: ANN001, ANN202
        return OpenCLProgram(SourceParts(False, "int", (), (bad,)), (Launch("broken", (1,), (1,)),))

    monkeypatch.setattr(cl_runtime, "_programs", {})
    monkeypatch.setattr(cl_runtime, "build_program", build)
    with pytest.raises(cl_device.KernelBuildError) as info:
        lg.tensor(rand(3), device=CL).exp().numpy()
    message = str(info.value)
    assert "undefined_name" in message and "--- build log ---" in message


def test_gathered_values_read_by_a_later_kernel() -> None:
    """A gather computed by one kernel is an input of the next (not re-walked)."""
    labels = np.array([3, 1, 0, 2, 0])
    picks = np.array([0, 2, 4])
    for device in ("cpu", CL):
        y, idx = lg.tensor(labels, device=device), lg.tensor(picks, device=device)
        chosen = y[idx]
        counts = (chosen != 0).float().sum() + (chosen * 2).float().sum()
        assert counts.item() == float((labels[picks] != 0).sum() + 2 * labels[picks].sum())


def test_a_view_written_out_is_read_as_a_buffer() -> None:
    """`g.sum(0)` realized for the user is a view of a reduce; a later kernel reads it."""
    gn = rand(8, 6)
    for device in ("cpu", CL):
        g = lg.tensor(gn, device=device)
        total = g.sum(0)
        scaled = total * 0.5
        lg.realize(total, scaled)
        later = (lg.tensor(gn[0], device=device) - 0.1 * (total + 0.9 * scaled)).numpy()
        expected = gn[0] - 0.1 * (gn.sum(0) + 0.9 * 0.5 * gn.sum(0))
        np.testing.assert_allclose(later, expected, rtol=1e-5, atol=1e-5)
