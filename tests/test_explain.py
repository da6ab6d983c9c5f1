"""`lg.explain`: each fusion rule that keeps two kernels apart, in words; and the small things
of the text output (kernel names, counts, the LAZYGRAD_DEBUG log)."""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from conftest import opencl_ready

import lazygrad as lg
from lazygrad.explain import Explanation
from lazygrad.ir.node import make
from lazygrad.ir.ops import Op
from lazygrad.ir.passes import fuse
from lazygrad.ir.passes.fuse import RULES
from lazygrad.tensor import Tensor

# Each builder makes its tensors inside a function: a value the test still held would be
# realized too (an "output"), which is not the boundary under test.


def _matrix(*shape: int, seed: int = 0) -> lg.Tensor:
    data = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return lg.tensor(data)


def _output() -> tuple[lg.Tensor, ...]:
    y = _matrix(8, 16).exp()
    return y, y.sum()


def _contiguous() -> tuple[lg.Tensor, ...]:
    return ((_matrix(8, 16) + 1).clone().sum(),)


def _random() -> tuple[lg.Tensor, ...]:
    lg.manual_seed(0)
    return (lg.rand(3, 4) + 1,)


def _scatter() -> tuple[lg.Tensor, ...]:
    x = lg.zeros(4, 4)
    x[lg.tensor([1, 2])] = 5.0
    return (x * 2,)


def _gather_source() -> tuple[lg.Tensor, ...]:
    index = lg.tensor([[0, 2], [1, 1], [3, 0]])
    return (lg.gather(_matrix(3, 4).exp(), 1, index),)


def _contraction_operand() -> tuple[lg.Tensor, ...]:
    return (_matrix(3, 4).exp() @ _matrix(4, 3, seed=1),)


def _contraction_reduced() -> tuple[lg.Tensor, ...]:
    return ((_matrix(3, 4) @ _matrix(4, 3, seed=1)).sum(),)


def _second_contraction() -> tuple[lg.Tensor, ...]:
    first = _matrix(3, 4) @ _matrix(4, 3, seed=1)
    return (first + _matrix(3, 5, seed=2) @ _matrix(5, 3, seed=3),)


def _view_across_elements() -> tuple[lg.Tensor, ...]:
    return ((_matrix(4, 6) @ _matrix(6, 3, seed=1)).T + 1,)


def _other_reduce_space() -> tuple[lg.Tensor, ...]:
    x = _matrix(8, 16)
    return (x.sum(0).sum() + x.sum(1).sum(),)


def _kernel_length() -> tuple[lg.Tensor, ...]:
    t = _matrix(8, 16).exp()
    for _ in range(fuse.REDUCE_STAGES + 2):
        t = t + t.mean(0)
    return (t,)


def _kernel_size() -> tuple[lg.Tensor, ...]:
    t = _matrix(4, 4)
    for i in range(fuse.KERNEL_OPS + 10):
        t = t * 1.001 if i % 2 else t + 0.001
    return (t,)


def _kernel_arguments() -> tuple[lg.Tensor, ...]:
    total = lg.zeros(8)
    for i in range(fuse.KERNEL_ARGUMENTS + 10):
        total = total + lg.tensor(np.full(8, i, np.float32))
    return (total,)


def _shared_reduce() -> tuple[lg.Tensor, ...]:
    """Two chains of 9 reductions over one space read `s`: together they are too long
    for one kernel, so each is a kernel of its own and `s` is computed once."""
    x = _matrix(8, 16)
    s = x.sum(1, keepdim=True)
    a, b = x + s, x * s
    for _ in range(8):
        a = a + a.mean(1, keepdim=True)
        b = b * b.mean(1, keepdim=True)
    return a, b


def _shared_expensive_value() -> tuple[lg.Tensor, ...]:
    a = _matrix(8, 16)
    for i in range(fuse.RECOMPUTE_LIMIT + 1):
        a = a.sin() if i % 2 == 0 else a.cos()
    return a.sum(0), a.sum(1)


# rule -> (builder, the rules of the boundaries its schedule has, in kernel order)
CASES: dict[str, tuple[Callable[[], tuple[lg.Tensor, ...]], list[str]]] = {
    "output": (_output, ["output"]),
    "contiguous": (_contiguous, ["contiguous"]),
    "random": (_random, ["random"]),
    "scatter": (_scatter, ["scatter", "scatter"]),
    "gather source": (_gather_source, ["gather source"]),
    "contraction operand": (_contraction_operand, ["contraction operand"]),
    "contraction reduced": (_contraction_reduced, ["contraction reduced"]),
    "second contraction": (_second_contraction, ["second contraction"]),
    "view across elements": (_view_across_elements, ["view across elements"]),
    "other reduce space": (_other_reduce_space, ["other reduce space"] * 3),
    "kernel length": (_kernel_length, ["kernel length"]),
    "kernel size": (_kernel_size, ["kernel size"]),
    "kernel arguments": (_kernel_arguments, ["kernel arguments"]),
    "shared reduce": (_shared_reduce, ["shared reduce"]),
    "shared expensive value": (_shared_expensive_value, ["shared expensive value"]),
}


def _checked(explanation: Explanation, rules: list[str]) -> str:
    """The text, after checking that it names `rules` (and each in words)."""
    assert [b.rule for b in explanation.boundaries] == rules
    text = str(explanation)
    for boundary in explanation.boundaries:
        assert str(boundary) in text
        assert f": {boundary.rule}" in str(boundary)
        assert RULES[boundary.rule].explanation in str(boundary)
        assert "it would fuse" in str(boundary) or "cannot fuse" in str(boundary)
    return text


@pytest.mark.parametrize("rule", list(CASES))
def test_explain_names_the_rule(rule: str) -> None:
    build, rules = CASES[rule]
    _checked(lg.explain(*build()), rules)


def test_device_copy() -> None:
    if not opencl_ready():
        pytest.skip("no OpenCL device here and CI is unset")

    def build() -> lg.Tensor:
        return (_matrix(4, 4) + 1).to("opencl") * 2

    text = _checked(lg.explain(build()), ["copy", "copy"])
    assert "is read by kernel 1: copy:" in text and "is read by kernel 2: copy:" in text


def test_collective() -> None:
    """`dist.all_reduce` realizes its result at the next realize (an "output"); the rule
    "collective" is for a collective read before it is run, as in a jit recording."""

    def build() -> lg.Tensor:
        x = _matrix(2, 3) * 0.5
        operand = make(Op.CONTIGUOUS, (x._node,))  # what `lazygrad.distributed` records
        node = make(Op.COLLECTIVE, (operand,), ("all_reduce", "sum", -1))
        return Tensor._wrap(node, x.device) + 1

    _checked(lg.explain(build()), ["contiguous", "collective"])


def test_every_rule_the_fuser_records_is_in_the_table() -> None:
    """The reasons `fuse.py` can record: SPECIAL_ROOTS, MEMORY_OPERANDS and the string
    literals passed to `mark` and `force_input`."""
    recorded = {"output", *fuse.SPECIAL_ROOTS.values()}
    recorded |= {reason for _, reason in fuse.MEMORY_OPERANDS.values()}
    for call in ast.walk(ast.parse(inspect.getsource(fuse))):
        if isinstance(call, ast.Call) and getattr(call.func, "attr", "") in ("mark", "force_input"):
            reason = call.args[1]
            if isinstance(reason, ast.Constant):
                recorded.add(reason.value)
    assert recorded == set(RULES)
    assert set(CASES) | {"copy", "collective"} == set(RULES)  # each rule has its test
    labels = [rule.label for rule in RULES.values()]
    assert len(set(labels)) == len(labels) and all(len(label) <= 24 for label in labels)


def test_the_text_says_which_kernels_and_why() -> None:
    text = str(lg.explain(*_shared_expensive_value()))
    assert text.splitlines()[0] == "3 kernels, 1 boundary"
    assert (
        "kernel 0 (sin giving float32[8, 16]) is read by kernels 1 and 2: shared expensive "
        "value (17 nodes > 16): " in text
    )
    assert text.endswith("it would fuse if only one kernel read it or it were cheaper")
    reduced = str(lg.explain(*_shared_reduce()))
    assert "kernel 0 (sum over dim 1 of float32[8, 16]) is read by kernel 1" in reduced
    viewed = str(lg.explain(*_view_across_elements()))
    assert "(matmul of float32[4, 6] and float32[6, 3])" in viewed
    assert "view across elements (read through a view as [3, 4])" in viewed


def test_explain_without_boundaries() -> None:
    x = lg.ones(3).realize()
    explanation = lg.explain(x)
    assert (
        str(explanation) == repr(explanation) == "nothing to run: the tensors are realized already"
    )
    single = str(lg.explain(x + 1))
    assert single.startswith("1 kernel, 0 boundaries\n") and "1 op)" in single
    assert single.endswith("everything fuses into one kernel")
    apart = str(lg.explain(x + 1, lg.ones(4).realize().sum()))
    assert apart.startswith("2 kernels, 0 boundaries")
    assert apart.endswith("no kernel reads another's output: they compute separate values")


def test_explain_runs_nothing() -> None:
    y = lg.ones(3) * 2
    lg.explain(y)
    assert y._node.op is not Op.BUFFER


# ---- the small things ---------------------------------------------------------------------


def test_kernel_names_end_with_the_first_output_shape() -> None:
    (kernel,) = lg.schedule(_matrix(3, 1) @ _matrix(1, 3, seed=1))
    assert kernel.name == "dot_0_3x3"
    kernels = lg.schedule(_matrix(8, 16).sum(1))
    assert kernels[0].name == "reduce_0_8"
    assert lg.schedule(_matrix(4).sum())[0].name == "reduce_0_scalar"


def test_debug_log_counts_and_deduplicates(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LAZYGRAD_DEBUG", "1")

    def build() -> tuple[lg.Tensor, ...]:
        y = _matrix(4, 4).exp()
        return y + 1, y * 2, y - 3

    lg.realize(*build())
    err = capsys.readouterr().err
    assert "schedule of 1 kernel (cache hits" in err
    assert "boundary: output (x3);" in err and "output, output" not in err
    lg.realize(_matrix(4) + 1)
    assert ": 1 op (add);" in capsys.readouterr().err


def _opencl_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if " on opencl" in line]


def test_debug_log_says_when_a_time_includes_compiling(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    if not opencl_ready():
        pytest.skip("no OpenCL device here and CI is unset")
    monkeypatch.setenv("LAZYGRAD_DEBUG", "1")
    monkeypatch.setenv("LAZYGRAD_CACHE_DIR", str(tmp_path))  # no binaries from earlier runs

    def build() -> lg.Tensor:  # a structure no other test builds: its program is new
        x = lg.tensor(np.linspace(0.1, 1, 7 * 13, dtype=np.float32).reshape(7, 13))
        return (x.to("opencl").sin() * 3.5).exp().neg().abs().sqrt()

    lg.realize(build())
    first = _opencl_lines(capsys)
    assert first[-1].endswith(" ms (includes compiling)"), first
    lg.realize(build())
    again = _opencl_lines(capsys)
    assert again[-1].endswith(" ms") and again[-1].split(": ")[0] == first[-1].split(": ")[0]
