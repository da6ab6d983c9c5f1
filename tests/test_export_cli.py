"""`lazygrad export SCRIPT -o OUT.py`: the schedules a script realizes, written as one
module that runs without lazygrad (the command runs as a subprocess, in a temporary folder).
Apart from test_cli.py, whose tests all need a Graphviz renderer."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import opencl_ready
from test_cli import FAILING, run_cli
from test_export import assert_ruff_clean, load, run_isolated

import lazygrad as lg

# Two schedules: a W1-like chain of x, then softmax(x @ w) read on the host, realized three
# times with new buffers of one structure (one function).
SCRIPT = textwrap.dedent("""
    import numpy as np
    import lazygrad as lg

    rng = np.random.default_rng(0)
    x = lg.tensor(rng.standard_normal((6, 10)).astype(np.float32))
    weights = rng.standard_normal((10, 4)).astype(np.float32)
    lg.relu(lg.exp(x * x + x) * 0.5 + lg.sqrt(lg.abs(x))).realize()
    for _ in range(3):
        print(lg.softmax(x @ lg.tensor(weights), dim=1).numpy().sum())
""")

# A model initialized by random draws (nn.Linear's), trained three steps; it saves the loss
# and parameters after the first step, which its first schedule computes.
TRAIN = textwrap.dedent("""
    import numpy as np
    import lazygrad as lg
    from lazygrad import nn

    lg.manual_seed(0)
    rng = np.random.default_rng(0)
    x = lg.tensor(rng.standard_normal((8, 4)).astype(np.float32))
    y = lg.tensor(rng.standard_normal((8, 1)).astype(np.float32))
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 1))
    opt = lg.optim.SGD(model.parameters(), lr=0.1)
    for step in range(3):
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        print(loss.item())
        if step == 0:
            first = [loss.detach().numpy(), *(p.detach().numpy() for p in model.parameters())]
    np.savez("first.npz", *first)
""")

# bfloat16 computed on the way: refused (NumPy has no bfloat16 of its own)
BFLOAT16 = textwrap.dedent("""
    import numpy as np
    import lazygrad as lg

    x = lg.tensor(np.ones(4, np.float32))
    print((x.bfloat16() * 3.3).float().numpy())
""")

COLLECTIVE = textwrap.dedent("""
    import lazygrad as lg
    import lazygrad.distributed as dist

    dist.init_process_group()
    x = lg.ones(4, 3) * 2
    dist.all_reduce(x)
    x.realize()
""")


def inputs() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 10)).astype(np.float32)
    return x, rng.standard_normal((10, 4)).astype(np.float32)


def expected(device: str) -> list[np.ndarray]:
    """What SCRIPT's two schedules compute, by lazygrad on `device`."""
    x, w = (lg.tensor(v, device=device) for v in inputs())
    chain = lg.relu(lg.exp(x * x + x) * 0.5 + lg.sqrt(lg.abs(x)))
    return [chain.numpy(), lg.softmax(x @ w, dim=1).numpy()]


@pytest.fixture(params=["cpu", "opencl"])
def target(request: pytest.FixtureRequest) -> str:
    if request.param == "opencl" and not opencl_ready():
        pytest.skip("no OpenCL device here and CI is unset")
    return request.param


def test_export_writes_one_function_per_schedule(tmp_path: Path, target: str) -> None:
    (tmp_path / "script.py").write_text(SCRIPT)
    proc = run_cli(tmp_path, "export", "script.py", "-o", "out.py", "--device", target)
    assert proc.returncode == 0, proc.stderr
    written = ["out.py"] + (["out.cl"] if target == "opencl" else [])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["script.py", *written])
    assert proc.stdout.splitlines()[-1].startswith(f"wrote {' and '.join(written)} (2 functions")
    doc = load(tmp_path / "out.py").__doc__
    assert "schedule_1(input_0): 1 kernel\n    input_0: float32[6, 10]" in doc
    assert "schedule_2(input_0, input_1): " in doc and "(realized 3 times)" in doc
    x, w = inputs()
    chain, probs = expected(target)
    (got,) = run_isolated(tmp_path / "out.py", "schedule_1", x)
    np.testing.assert_allclose(got, chain, rtol=1e-6, atol=1e-6)
    (got,) = run_isolated(tmp_path / "out.py", "schedule_2", x, w)
    np.testing.assert_allclose(got, probs, rtol=1e-6, atol=1e-6)
    assert_ruff_clean([tmp_path / "out.py"])


def test_export_reproduces_a_training_script(tmp_path: Path, target: str) -> None:
    """Its first schedule draws the initial weights: called with the default keys, the
    module computes the script's loss and parameters after one step (bit for bit on cpu,
    where the script ran; to rounding on OpenCL); called again, or with other keys, other
    ones."""
    (tmp_path / "train.py").write_text(TRAIN)
    proc = run_cli(tmp_path, "export", "train.py", "-o", "out.py", "--device", target)
    assert proc.returncode == 0, proc.stderr
    doc = load(tmp_path / "out.py").__doc__
    assert "schedule_1(input_0, input_1, input_2, *, seed_0, counter_0, seed_1, " in doc
    draws = [("16, 4", 0), ("16", 1), ("1, 16", 2), ("1", 3)]
    for shape, i in draws:
        key = f"seed_{i}, counter_{i}: the key of random draw {i} (traced 0, {i})"
        assert f"    {key}, uniform float32[{shape}]\n" in doc
    with np.load(tmp_path / "first.npz") as saved:
        first = [saved[f"arr_{i}"] for i in range(len(saved.files))]
    rng = np.random.default_rng(0)
    x, y = (rng.standard_normal(s).astype(np.float32) for s in ((8, 4), (8, 1)))
    lr = np.float32(0.1)
    got = run_isolated(tmp_path / "out.py", "schedule_1", x, y, lr)
    tol = 0 if target == "cpu" else 1e-5
    for value in first:  # one of the values the schedule realized (in whichever order)
        assert any(g.shape == value.shape and np.allclose(g, value, tol, tol) for g in got)
    other = run_isolated(tmp_path / "out.py", "schedule_1", x, y, lr, seed_0=1, seed_3=1)
    assert not any(np.array_equal(g, first[0]) for g in other if g.shape == ())
    schedule = load(tmp_path / "out.py").schedule_1
    again = [schedule(x, y, lr) for _ in range(2)]  # the second draws new initial weights
    for a, b, g in zip(*again, got, strict=True):
        np.testing.assert_array_equal(a, g)
        assert not np.array_equal(a, b)
    assert_ruff_clean([tmp_path / "out.py"])


def test_export_nests_the_output_where_asked(tmp_path: Path) -> None:
    (tmp_path / "script.py").write_text(SCRIPT)
    proc = run_cli(tmp_path, "export", "script.py", "-o", "gen/step_module.py")
    assert proc.returncode == 0, proc.stderr
    assert [p.name for p in (tmp_path / "gen").iterdir()] == ["step_module.py"]


@pytest.mark.parametrize(
    "case",
    [
        "collective",
        "script raises",
        "nothing realized",
        "no output",
        "output is .cl",
        "bfloat16",
        "bfloat16 on opencl",
    ],
)
def test_export_failures_are_one_clear_line(tmp_path: Path, case: str) -> None:
    scripts = {
        "reduce.py": COLLECTIVE,
        "bad.py": FAILING,
        "empty.py": "print('hi')\n",
        "half.py": BFLOAT16,
    }
    for name, text in scripts.items():
        (tmp_path / name).write_text(text)
    args, message = {
        "collective": (
            ["reduce.py", "-o", "out.py"],
            "cannot export reduce.py: schedule 1: kernel collective_1_4x3 on cpu: collectives "
            "are not exported (realized at reduce.py:8)",
        ),
        "script raises": (["bad.py", "-o", "out.py"], "bad.py raised ValueError: boom"),
        "nothing realized": (["empty.py", "-o", "out.py"], "realized no tensors"),
        "no output": (["empty.py"], "required: -o/--output"),
        "output is .cl": (["empty.py", "-o", "x.cl", "--device", "opencl"], "x.cl ends in .cl"),
        "bfloat16": (
            ["half.py", "-o", "out.py"],
            "cannot export half.py: schedule 1: kernel elementwise_0_4 on cpu: bfloat16 is not "
            "exported: NumPy has no bfloat16 of its own (realized at half.py:6)",
        ),
        "bfloat16 on opencl": (
            ["half.py", "-o", "out.py", "--device", "opencl"],
            "bfloat16 is not exported: NumPy has no bfloat16 of its own (realized at half.py:6)",
        ),
    }[case]
    if case in ("output is .cl", "bfloat16 on opencl") and not opencl_ready():
        pytest.skip("no OpenCL device here and CI is unset")
    if case == "collective":
        pytest.importorskip("mpi4py")  # (lazygrad.distributed runs over MPI)
    proc = run_cli(tmp_path, "export", *args)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("lazygrad: ") and message in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(scripts)  # nothing written


def test_help_lists_export(tmp_path: Path) -> None:
    proc = run_cli(tmp_path, "--help")
    assert proc.returncode == 0 and "export" in proc.stdout
    proc = run_cli(tmp_path, "export", "--help")
    assert proc.returncode == 0 and "--device" in proc.stdout and "-o OUT.py" in proc.stdout
