"""`lg.export`: a function's program written as a module that needs only NumPy, or NumPy
and pyopencl (with its OpenCL C beside it); each exported module runs where lazygrad cannot
be imported and matches lazygrad on the device it was exported for."""

from __future__ import annotations

import importlib.util
import inspect
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from conftest import opencl_ready

import lazygrad as lg
from lazygrad.export import UnsupportedError

RNG = np.random.default_rng(7)

# Runs an exported module where `import lazygrad` fails: arguments and results pass
# through .npz files (positional arrays as a0, a1...; keywords as k_NAME).
RUNNER = textwrap.dedent(
    """
    import importlib.util, sys
    sys.modules["lazygrad"] = None  # any import of lazygrad fails
    import numpy as np
    module_path, name, args_path, out_path = sys.argv[1:]
    spec = importlib.util.spec_from_file_location("exported", module_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    data = np.load(args_path)
    args = [data[f"a{i}"] for i in range(sum(k.startswith("a") for k in data.files))]
    kwargs = {k[2:]: data[k].item() for k in data.files if k.startswith("k_")}
    out = getattr(module, name)(*args, **kwargs)
    out = out if isinstance(out, tuple) else (out,)
    np.savez(out_path, *out)
    """
)


def run_isolated(module: Path, name: str, *args: np.ndarray, **kwargs: float) -> list:
    """Call `name` of the exported `module` in a fresh interpreter without lazygrad, from a
    directory outside the repository."""
    work = module.parent
    np.savez(
        work / "args.npz",
        **{f"a{i}": a for i, a in enumerate(args)},
        **{f"k_{k}": np.asarray(v) for k, v in kwargs.items()},
    )
    (work / "runner.py").write_text(RUNNER)
    proc = subprocess.run(
        [sys.executable, "runner.py", str(module), name, "args.npz", "out.npz"],
        cwd=work,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    with np.load(work / "out.npz") as out:
        return [out[f"arr_{i}"] for i in range(len(out.files))]


def load(module: Path):  # noqa: ANN201
    """Import an exported module in this process (it imports nothing of lazygrad)."""
    spec = importlib.util.spec_from_file_location(f"exported_{module.stem}", module)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


def arrays(*shapes: tuple[int, ...]) -> list[np.ndarray]:
    return [RNG.standard_normal(s).astype(np.float32) for s in shapes]


def w1(a, b, c):  # noqa: ANN001, ANN201
    return lg.relu(lg.exp(a * b + c) * 0.5 + lg.sqrt(lg.abs(a)))


def row_softmax(x):  # noqa: ANN001, ANN201
    return lg.softmax(x, dim=1)


def matmul_chain(a, b, c):  # noqa: ANN001, ANN201
    return (a @ b).tanh() @ c


@pytest.mark.parametrize(
    "fn, shapes",
    [
        (w1, [(3, 5), (3, 5), (3, 5)]),
        (row_softmax, [(6, 10)]),
        (matmul_chain, [(4, 8), (8, 16), (16, 3)]),
    ],
)
def test_matches_lazygrad_without_lazygrad(tmp_path: Path, fn, shapes, device: str) -> None:  # noqa: ANN001
    values = arrays(*shapes)
    expected = fn(*(lg.tensor(v, device=device) for v in values)).numpy()
    path = lg.export(fn, *(lg.tensor(v) for v in values), path=tmp_path / "m.py", device=device)
    (got,) = run_isolated(path, fn.__name__, *values)
    assert got.shape == expected.shape and got.dtype == expected.dtype
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
    # other values than the example's
    values = arrays(*shapes)
    expected = fn(*(lg.tensor(v, device=device) for v in values)).numpy()
    np.testing.assert_allclose(load(path).__dict__[fn.__name__](*values), expected, rtol=1e-6)


def mlp_step(x, y, w1, b1, w2, b2, lr):  # noqa: ANN001, ANN201
    """Forward, backward and a manual SGD update; returns the loss."""
    hidden = lg.relu(x @ w1 + b1)
    loss = lg.nn.functional.cross_entropy(hidden @ w2 + b2, y)
    loss.backward()
    with lg.no_grad():
        for p in (w1, b1, w2, b2):
            p -= lr * p.grad
    return loss


def mlp_data() -> list[np.ndarray]:
    x, w1, w2 = arrays((16, 784), (784, 32), (32, 10))
    y = RNG.integers(0, 10, 16)
    return [x, y, w1 * 0.05, np.zeros(32, np.float32), w2 * 0.1, np.zeros(10, np.float32)]


def lazygrad_step(data: list[np.ndarray], lr: float, device: str = "cpu") -> list[np.ndarray]:
    x, y, *params = data
    weights = [lg.tensor(p, requires_grad=True, device=device) for p in params]
    loss = mlp_step(lg.tensor(x, device=device), lg.tensor(y, device=device), *weights, lr)
    return [loss.detach().numpy(), *(w.detach().numpy() for w in weights)]


def export_step(
    tmp_path: Path, data: list[np.ndarray], lr: float = 0.05, device: str = "cpu"
) -> Path:
    x, y, *params = data
    weights = [lg.tensor(p, requires_grad=True) for p in params]
    example = (lg.tensor(x), lg.tensor(y), *weights, lr)
    return lg.export(mlp_step, *example, path=tmp_path / "s.py", device=device)


def test_training_step(tmp_path: Path, device: str) -> None:
    data = mlp_data()
    path = export_step(tmp_path, data, device=device)
    got = run_isolated(path, "mlp_step", *data)
    expected = lazygrad_step(data, 0.05, device)
    assert len(got) == 5  # the loss, then the four parameters updated in place
    for g, e in zip(got, expected, strict=True):
        assert g.shape == e.shape and g.dtype == e.dtype
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)
    # a second step from the updated parameters
    step = load(path).mlp_step
    again = step(data[0], data[1], *got[1:])
    expected = lazygrad_step([data[0], data[1], *expected[1:]], 0.05, device)
    for g, e in zip(again, expected, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)


def test_scalar_keyword_default_and_override(tmp_path: Path, device: str) -> None:
    data = mlp_data()
    path = export_step(tmp_path, data, lr=0.05, device=device)
    text = path.read_text()
    queue = ", context=None, queue=None" if device == "opencl" else ""
    assert f"def mlp_step(x, y, w1, b1, w2, b2, *, lr=0.05{queue}):" in text
    step = load(path).mlp_step
    for lr, kwargs in ((0.05, {}), (0.3, {"lr": 0.3}), (1.0, {"lr": 1.0})):
        got = step(*data, **kwargs)
        for g, e in zip(got, lazygrad_step(data, lr, device), strict=True):
            np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)


def test_memory_is_reused_only_once_no_array_refers_to_it(tmp_path: Path) -> None:
    # the module's `_take` reuses the blocks of dropped results (no page faults), never the
    # memory a view of a dropped result still reads
    a, b, c = arrays((64, 64), (64, 64), (64, 64))
    path = tmp_path / "chain.py"
    lg.export(w1, *(lg.tensor(v) for v in (a, b, c)), path=path)
    program = load(path).w1
    want = program(a, b, c)
    kept = program(a, b, c)[1:]  # a view of a result that is itself dropped
    before = kept.copy()
    first = program(a * 2, b, c)  # must not land in `kept`'s memory
    np.testing.assert_array_equal(kept, before)
    second_block = program(a * 3, b, c)  # a fresh block or the one dropped just before
    assert not np.shares_memory(first, second_block) and not np.shares_memory(kept, first)
    del first, second_block
    np.testing.assert_array_equal(program(a, b, c), want)


@pytest.mark.parametrize("miscount", [-1, 1])
def test_memory_reuse_does_not_depend_on_reference_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, miscount: int
) -> None:
    # an interpreter whose sys.getrefcount reports one reference fewer (3.14 borrows the
    # references of locals passed as arguments) or one more must neither reuse the memory a
    # live view reads nor stop reusing the memory of dropped results
    a, b, c = arrays((64, 64), (64, 64), (64, 64))
    path = lg.export(w1, *(lg.tensor(v) for v in (a, b, c)), path=tmp_path / "chain.py")
    program = load(path).w1
    counted = sys.getrefcount
    # (`o` and `counted`'s argument: one reference more than a direct call sees)
    monkeypatch.setattr(sys, "getrefcount", lambda o: counted(o) - 1 + miscount)
    kept = program(a, b, c)[1:]
    before = kept.copy()
    program(a * 2, b, c)
    np.testing.assert_array_equal(kept, before)
    dropped = program(a, b, c)
    address = dropped.ctypes.data
    del dropped
    assert program(a * 3, b, c).ctypes.data == address  # the dropped result's block, reused


def test_returned_parameters_keep_the_return_order(tmp_path: Path) -> None:
    def step(x, w, lr):  # noqa: ANN001, ANN202
        loss = (x @ w).square().mean()
        loss.backward()
        with lg.no_grad():
            w -= lr * w.grad
        return loss, w

    x, w = arrays((5, 4), (4, 3))
    path = lg.export(
        step, lg.tensor(x), lg.tensor(w, requires_grad=True), 0.1, path=tmp_path / "r.py"
    )
    loss, new_w = load(path).step(x, w)
    wt = lg.tensor(w, requires_grad=True)
    expected = step(lg.tensor(x), wt, 0.1)
    np.testing.assert_allclose(loss, expected[0].detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(new_w, wt.detach().numpy(), rtol=1e-6)


def test_example_tensors_are_left_as_they_were(tmp_path: Path) -> None:
    data = mlp_data()
    x, y, *params = data
    weights = [lg.tensor(p, requires_grad=True) for p in params]
    lg.export(mlp_step, lg.tensor(x), lg.tensor(y), *weights, 0.05, path=tmp_path / "s.py")
    for w, p in zip(weights, params, strict=True):
        assert w.grad is None
        np.testing.assert_array_equal(w.detach().numpy(), p)


def test_wrong_shape_or_dtype_names_the_parameter(tmp_path: Path, device: str) -> None:
    a, b, c = arrays((3, 5), (3, 5), (3, 5))
    example = (lg.tensor(a), lg.tensor(b), lg.tensor(c))
    path = lg.export(w1, *example, path=tmp_path / "w.py", device=device)
    fn = load(path).w1
    with pytest.raises(ValueError, match=r"b: expected .*\(3, 5\).*float32.*got shape \(5, 3\)"):
        fn(a, b.T.copy(), c)
    with pytest.raises(ValueError, match=r"c: expected .*float32.*dtype float64"):
        fn(a, b, c.astype(np.float64))


def test_fixed_scalars_are_checked(tmp_path: Path) -> None:
    def power(x, n):  # noqa: ANN001, ANN202
        return x**n

    x = arrays((4,))[0]
    path = lg.export(power, lg.tensor(x), 3, path=tmp_path / "p.py")
    fn = load(path).power
    np.testing.assert_allclose(fn(x), x**3, rtol=1e-6)
    with pytest.raises(ValueError, match="n=3"):
        fn(x, n=2)


def test_closure_tensors_become_constants(tmp_path: Path, device: str) -> None:
    scale = lg.tensor(np.arange(100, dtype=np.float32), device=device)
    small = lg.tensor(np.array([1.0, 2.0, 3.0], dtype=np.float32), device=device)

    def scaled(x):  # noqa: ANN001, ANN202
        return (x * scale).reshape(4, 25).sum(1)[:3] + small

    x = arrays((100,))[0]
    path = lg.export(scaled, lg.tensor(x), path=tmp_path / "c.py", device=device)
    (got,) = run_isolated(path, "scaled", x)
    np.testing.assert_allclose(got, scaled(lg.tensor(x, device=device)).numpy(), rtol=1e-5)


def test_only_used_helpers_are_written(tmp_path: Path) -> None:
    a, b, c = arrays((3, 5), (3, 5), (3, 5))
    text = lg.export(
        w1, lg.tensor(a), lg.tensor(b), lg.tensor(c), path=tmp_path / "w.py"
    ).read_text()
    assert "def _take(" in text
    assert "def _select(" not in text and "def _view(" not in text
    assert "import lazygrad" not in text and "from lazygrad" not in text
    assert "# elementwise_0_3x5: " in text  # the renderer's comment lines


def test_written_module_is_ruff_clean(tmp_path: Path, device: str) -> None:
    data = mlp_data()
    paths = [export_step(tmp_path, data, device=device)]
    scale = lg.tensor(np.arange(100, dtype=np.float32), device=device)  # a constant
    x = lg.tensor(arrays((100,))[0])
    paths.append(lg.export(lambda x: x * scale, x, path=tmp_path / "k.py", device=device))
    assert_ruff_clean(paths)


def assert_ruff_clean(paths: list[Path]) -> None:
    """Written modules pass ruff's pyflakes, pycodestyle (long lines aside), bugbear,
    pyupgrade and import-order rules."""
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent))
    if ruff is None:
        pytest.skip("ruff is not installed")
    proc = subprocess.run(
        [
            ruff,
            "check",
            "--isolated",
            "--select",
            "E,F,W,B,UP,I",
            "--ignore",
            "E501",
            *map(str, paths),
        ],
        cwd=paths[0].parent,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_returning_something_else_than_tensors_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="must return a tensor"):
        lg.export(lambda x: x.shape, lg.tensor(arrays((3,))[0]), path=tmp_path / "e.py")


def test_reading_a_value_on_the_host_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="read on the host"):
        lg.export(lambda x: x * x.sum().item(), lg.tensor(arrays((3,))[0]), path=tmp_path / "h.py")


def noisy(x, s):  # noqa: ANN001, ANN201
    """Normal noise scaled by `s` (a real parameter), dropout, then random integers."""
    kept = lg.nn.functional.dropout(x + s * lg.randn(*x.shape, device=x.device), 0.5)
    return kept * lg.randint(1, 4, x.shape, device=x.device)


def test_random_draws_match_lazygrad_without_lazygrad(tmp_path: Path, device: str) -> None:
    x = arrays((5, 3))[0]
    lg.manual_seed(5)
    path = lg.export(noisy, lg.tensor(x), 0.1, path=tmp_path / "n.py", device=device)
    text = path.read_text()
    params = inspect.signature(load(path).noisy).parameters
    assert all(params[f"{k}_{i}"].default is None for i in range(3) for k in ("seed", "counter"))
    # (seed, counter) of each draw, in the order drawn
    assert "_draws_noisy = _Stream(3, (5, 0), (5, 1), (5, 2))" in text
    assert "seed_2, counter_2: the key of random draw 2 (traced 5, 2), integers in [1, 4)" in text
    assert ("drawn on the host and uploaded" in text) == (device == "opencl")
    # exporting left the random state as it was: the next call draws the defaults' keys
    expected = noisy(lg.tensor(x, device=device), 0.1).numpy()
    (got,) = run_isolated(path, "noisy", x)
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)
    # another key: other draws, lazygrad's for that key
    lg.manual_seed(6)
    other = noisy(lg.tensor(x, device=device), 0.3).numpy()
    (got,) = run_isolated(path, "noisy", x, s=0.3, seed_0=6, seed_1=6, seed_2=6)
    np.testing.assert_array_equal(got, other)
    assert not np.array_equal(other, expected)
    assert_ruff_clean([path])


def wasteful(x):  # noqa: ANN001, ANN201
    """A draw it drops (lazygrad's counter moves on by it all the same), then one it uses."""
    lg.rand(3, device=x.device)
    return x + lg.rand(*x.shape, device=x.device)


@pytest.mark.parametrize(
    "fn, scalars, counters", [(noisy, (0.1,), (0, 1, 2)), (wasteful, (), (1,))]
)
def test_each_call_with_default_keys_draws_what_lazygrad_draws_next(
    tmp_path: Path, device: str, fn: Callable, scalars: tuple, counters: tuple
) -> None:
    """`counters`: the counters of the draws of lazygrad's first call after manual_seed."""
    x = arrays((5, 3))[0]
    lg.manual_seed(5)
    path = lg.export(fn, lg.tensor(x), *scalars, path=tmp_path / "n.py", device=device)
    # lazygrad's calls, its counter going on from where exporting left it
    expected = [fn(lg.tensor(x, device=device), *scalars).numpy() for _ in range(3)]
    program = getattr(load(path), fn.__name__)
    got = [program(x) for _ in expected]
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_array_equal(g, e)
    assert not np.array_equal(got[0], got[1])
    # keys given pin the draws, and leave the stream where it was
    pinned = program(x, **{f"counter_{i}": c for i, c in enumerate(counters)})
    np.testing.assert_array_equal(pinned, expected[0])
    np.testing.assert_array_equal(program(x), fn(lg.tensor(x, device=device), *scalars).numpy())


def test_draw_keywords_keep_clear_of_the_arguments(tmp_path: Path) -> None:
    x = lg.tensor(arrays((3,))[0])
    with pytest.raises(ValueError, match="argument seed_0: .* rename the argument"):
        lg.export(lambda x, seed_0: x + lg.rand(3) * seed_0, x, 1.0, path=tmp_path / "s.py")
    assert not any(tmp_path.iterdir())


BFLOAT16 = "bfloat16 is not exported: NumPy has no bfloat16 of its own"


@pytest.mark.parametrize(
    "where", ["intermediate", "output", "tensor argument", "array argument", "constant"]
)
def test_bfloat16_is_refused_up_front(tmp_path: Path, device: str, where: str) -> None:
    x = arrays((4,))[0]
    kept = lg.tensor(x).bfloat16().realize()  # returned as is: no kernel computes it
    fn, example = {
        "intermediate": (lambda x: (x.bfloat16() * 3.3).float(), lg.tensor(x)),
        "output": (lambda x: x.bfloat16() * 2, lg.tensor(x)),
        "tensor argument": (lambda x: x.float() * 2, lg.tensor(x).bfloat16()),
        "array argument": (lambda x: x.float() * 2, x.astype(lg.bfloat16.np)),
        "constant": (lambda x: (x * 2, kept), lg.tensor(x)),
    }[where]
    with pytest.raises(UnsupportedError, match=BFLOAT16):
        lg.export(fn, example, path=tmp_path / "b.py", device=device)
    assert not any(tmp_path.iterdir())


def test_other_arguments_are_an_error(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="argument s is a str"):
        lg.export(lambda x, s: x, lg.tensor(arrays((3,))[0]), "a", path=tmp_path / "a.py")


def test_a_lambda_is_exported_as_program(tmp_path: Path) -> None:
    x = arrays((3,))[0]
    path = lg.export(lambda x, s: x * s, lg.tensor(x), 1.0, path=tmp_path / "l.py")
    fn = load(path).program
    np.testing.assert_allclose(fn(x), x)
    np.testing.assert_allclose(fn(x, s=2.5), x * np.float32(2.5))


# ---- OpenCL: what only the OpenCL program does ----------------------------------------------
@pytest.fixture
def opencl() -> str:
    """The OpenCL device ("opencl"), where one exists (see `conftest.opencl_ready`)."""
    if not opencl_ready():
        pytest.skip("no OpenCL device here and CI is unset")
    return "opencl"


def test_opencl_source_sits_beside_the_module_and_moves_with_it(
    tmp_path: Path, opencl: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b, c = arrays((3, 5), (3, 5), (3, 5))
    example = (lg.tensor(a), lg.tensor(b), lg.tensor(c))
    path = lg.export(w1, *example, path=tmp_path / "step.py", device=opencl)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step.cl", "step.py"]
    source = (tmp_path / "step.cl").read_text()
    assert "__kernel void " in source and "import lazygrad" not in path.read_text()
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    for name in ("step.py", "step.cl"):
        (tmp_path / name).rename(moved / name)
    monkeypatch.chdir(tmp_path)  # the module finds its C beside itself, not in the cwd
    expected = w1(*(lg.tensor(v, device=opencl) for v in (a, b, c))).numpy()
    np.testing.assert_array_equal(load(moved / "step.py").w1(a, b, c), expected)


def test_opencl_runs_on_the_queue_it_is_given(tmp_path: Path, opencl: str) -> None:
    import pyopencl as cl

    x = arrays((6, 10))[0]
    path = lg.export(row_softmax, lg.tensor(x), path=tmp_path / "s.py", device=opencl)
    context = cl.Context([cl.get_platforms()[0].get_devices()[0]])
    expected = row_softmax(lg.tensor(x, device=opencl)).numpy()
    module = load(path)
    np.testing.assert_array_equal(module.row_softmax(x, queue=cl.CommandQueue(context)), expected)
    np.testing.assert_array_equal(module.row_softmax(x, context=context), expected)


def test_opencl_index_out_of_bounds_raises_index_error(tmp_path: Path, opencl: str) -> None:
    def pick(x, i):  # noqa: ANN001, ANN202
        return x[i] * 2

    x, i = arrays((5, 3))[0], np.array([0, 4, 2])
    path = lg.export(pick, lg.tensor(x), lg.tensor(i), path=tmp_path / "p.py", device=opencl)
    assert "_check_flag(queue, flag)" in path.read_text()  # the index is computed on device
    fn = load(path).pick
    np.testing.assert_array_equal(fn(x, i), x[i] * 2)
    with pytest.raises(IndexError, match="index out of bounds"):
        fn(x, np.array([0, 7, 2]))


def test_opencl_float16_is_held_as_float32_on_the_device(tmp_path: Path, opencl: str) -> None:
    def half(a, b):  # noqa: ANN001, ANN202
        return (a * b + 1).exp().sum(1)

    a, b = (v.astype(np.float16) for v in arrays((4, 6), (4, 6)))
    path = lg.export(half, lg.tensor(a), lg.tensor(b), path=tmp_path / "h.py", device=opencl)
    (got,) = run_isolated(path, "half", a, b)
    expected = half(lg.tensor(a, device=opencl), lg.tensor(b, device=opencl)).numpy()
    assert got.dtype == np.float16
    np.testing.assert_array_equal(got, expected)


def test_opencl_copies_run_through_the_host(tmp_path: Path, opencl: str) -> None:
    """A copy onto the device (read through a transpose), an elementwise kernel writing over
    the copy it reads, and a copy back to cpu."""
    scale = lg.tensor(np.arange(6, dtype=np.float32).reshape(2, 3))

    def scaled(x):  # noqa: ANN001, ANN202
        return (x * scale.T.to(opencl) + 1).to("cpu")

    x = arrays((3, 2))[0]
    path = lg.export(scaled, lg.tensor(x), path=tmp_path / "c.py", device=opencl)
    text = path.read_text()
    assert text.count("through the host") == 2 and "written over in place" in text
    (got,) = run_isolated(path, "scaled", x)
    np.testing.assert_array_equal(got, scaled(lg.tensor(x, device=opencl)).numpy())
    assert_ruff_clean([path])


def test_a_numpy_program_refuses_kernels_on_another_device(tmp_path: Path, opencl: str) -> None:
    x = lg.tensor(arrays((3,))[0])
    with pytest.raises(UnsupportedError, match="a NumPy program runs every kernel on cpu"):
        lg.export(lambda x: (x.to(opencl) * 2).to("cpu"), x, path=tmp_path / "m.py")
    assert not any(tmp_path.iterdir())


def test_opencl_argument_names_keep_clear_of_its_keywords(tmp_path: Path, opencl: str) -> None:
    x = lg.tensor(arrays((3,))[0])
    with pytest.raises(ValueError, match="argument queue"):
        lg.export(lambda queue: queue * 2, x, path=tmp_path / "q.py", device=opencl)
    with pytest.raises(ValueError, match=r"q\.cl ends in \.cl"):
        lg.export(lambda x: x * 2, x, path=tmp_path / "q.cl", device=opencl)
