"""PyTorch's parameter names: a program that calls `lg.f(input=..., dim=...)` with PyTorch's
keywords must work. The table holds the leading parameters of each function as PyTorch's
reference documents them (torch is not a dependency, so they are written out here)."""

from __future__ import annotations

import inspect

import pytest

import lazygrad as lg

UNARY = (
    "abs exp log log2 sin cos tanh sigmoid sqrt rsqrt reciprocal sign relu neg floor ceil "
    "round trunc log1p expm1 erf square"
).split()
LIKE = "zeros_like ones_like rand_like randn_like empty_like".split()

PYTORCH_PARAMETERS: dict[str, list[str]] = {
    **{name: ["input"] for name in UNARY},
    **{name: ["input"] for name in LIKE},
    "full_like": ["input", "fill_value"],
    "add": ["input", "other", "alpha"],
    "sub": ["input", "other", "alpha"],
    "mul": ["input", "other"],
    "div": ["input", "other", "rounding_mode"],
    "pow": ["input", "exponent"],
    "maximum": ["input", "other"],
    "minimum": ["input", "other"],
    "clamp": ["input", "min", "max"],
    "where": ["condition", "input", "other"],
    "sum": ["input", "dim", "keepdim", "dtype"],
    "mean": ["input", "dim", "keepdim", "dtype"],
    "prod": ["input", "dim", "keepdim", "dtype"],
    "max": ["input", "dim", "keepdim"],
    "min": ["input", "dim", "keepdim"],
    "argmax": ["input", "dim", "keepdim"],
    "argmin": ["input", "dim", "keepdim"],
    "logsumexp": ["input", "dim", "keepdim"],
    "softmax": ["input", "dim"],
    "log_softmax": ["input", "dim"],
    "std": ["input", "dim"],
    "var": ["input", "dim"],
    "matmul": ["input", "other"],
    "mm": ["input", "mat2"],
    "bmm": ["input", "mat2"],
    "cat": ["tensors", "dim"],
    "stack": ["tensors", "dim"],
    "reshape": ["input", "shape"],
    "permute": ["input", "dims"],
    "transpose": ["input", "dim0", "dim1"],
    "squeeze": ["input", "dim"],
    "unsqueeze": ["input", "dim"],
    "flatten": ["input", "start_dim", "end_dim"],
    "split": ["tensor", "split_size_or_sections", "dim"],
    "chunk": ["input", "chunks", "dim"],
    "full": ["size", "fill_value"],
    "linspace": ["start", "end", "steps"],
    "eye": ["n", "m"],
    "tensor": ["data", "dtype", "device", "requires_grad"],
    "from_numpy": ["ndarray"],
}


@pytest.mark.parametrize("name", sorted(PYTORCH_PARAMETERS))
def test_parameter_names_are_pytorchs(name: str) -> None:
    fn = getattr(lg, name, None)
    if fn is None:
        pytest.skip(f"lg.{name} is not offered yet (tools/api_coverage.py lists it)")
    got = [p for p in inspect.signature(fn).parameters if not p.startswith("_")]
    want = PYTORCH_PARAMETERS[name]
    assert got[: len(want)] == want, f"lg.{name}{inspect.signature(fn)}"


def test_keywords_work_as_in_pytorch() -> None:
    a, b = lg.ones(2, 3), lg.ones(3, 2)
    assert lg.matmul(input=a, other=b).shape == (2, 2)
    assert lg.sum(input=a, dim=1, keepdim=True).shape == (2, 1)
    assert lg.where(condition=a > 0, input=a, other=a * 0).shape == (2, 3)
    assert lg.clamp(input=a, min=0.5).shape == (2, 3)
