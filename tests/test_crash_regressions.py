"""Regression tests for crashes: an OpenCL gather from a value its own kernel computes,
constant-only tensors crossing devices, and `lg.save` of a container that holds itself."""

from __future__ import annotations

import io
import json
import threading
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import check, opencl_ready

import lazygrad as lg
import lazygrad.nn as nn

OPENCL = "opencl"
PERM = np.array([3, 1, 0, 2])


@pytest.fixture
def opencl() -> str:
    """The OpenCL device string, for tests that need one (they fail under CI without one)."""
    if not opencl_ready():
        pytest.skip("no OpenCL device here and CI is unset")
    return OPENCL


def _data(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


# ---- 1. a gather whose source the same kernel computes ----------------------------------------
def test_gather_from_computed_value_of_index_length(device: str) -> None:
    """`(x * 2)[idx]` with as many indices as x has elements: fusion puts `x * 2` and the
    gather in one kernel (same iteration space); OpenCL code generation raised KeyError."""
    xn = _data(4)
    x = lg.tensor(xn, device=device)
    check((x * 2)[lg.tensor(PERM)], (xn * 2)[PERM])
    check((x * 2)[lg.tensor(PERM, device=device)], (xn * 2)[PERM])


def test_opencl_gather_from_computed_value_variants(opencl: str) -> None:
    xn, mn, vn, wn = _data(4), _data(4, 5, seed=1), _data(5, seed=2), _data(5, 4, seed=3)
    x, m = lg.tensor(xn, device=opencl), lg.tensor(mn, device=opencl)
    v, w = lg.tensor(vn, device=opencl), lg.tensor(wn, device=opencl)
    idx = lg.tensor(PERM, device=opencl)
    y = x * 2  # kept alive: written out by the same kernel as the gather
    check(y[idx] + y, (xn * 2)[PERM] + xn * 2)
    check(y, xn * 2)
    check(((x * 2)[idx] * 3)[idx], ((xn * 2)[PERM] * 3)[PERM])  # a gather of a gather
    check((m.sum(1) * 2)[idx], (mn.sum(1) * 2)[PERM])  # source computed by a reduce
    check((v @ w)[idx] + (v @ w), (vn @ wn)[PERM] + vn @ wn)  # by a contraction
    for scale in (3.0, 5.0):  # a cached schedule with a new scalar argument
        check((x * scale)[idx], (xn * scale)[PERM])
    check((x > 0)[idx], (xn > 0)[PERM])
    check((lg.arange(4, device=opencl) * 3)[idx], (np.arange(4) * 3)[PERM])
    big, perm = _data(1000, seed=4), np.random.default_rng(5).permutation(1000)
    check(lg.tensor(big, device=opencl).exp()[lg.tensor(perm)], np.exp(big)[perm], rtol=1e-6)


def test_opencl_gather_from_computed_value_backward(opencl: str) -> None:
    xn, weights = _data(4), np.array([1.0, 2.0, 3.0, 4.0], np.float32)
    x = lg.tensor(xn, device=opencl, requires_grad=True)
    ((x * 2)[lg.tensor(PERM)] * lg.tensor(weights, device=opencl)).sum().backward()
    expected = np.zeros(4, np.float32)
    np.add.at(expected, PERM, 2 * weights)
    check(x.grad, expected)


# ---- 2. tensors made only of constants crossing devices -----------------------------------------
@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda: lg.ones(2).to("cuda"), np.ones(2, np.float32)),
        (lambda: (lg.ones(2) * 2).to("cuda"), np.full(2, 2, np.float32)),
        (lambda: (lg.ones(2) * 2.5).to("cuda"), np.full(2, 2.5, np.float32)),
        (lambda: lg.zeros(2, 3, device="cuda"), np.zeros((2, 3), np.float32)),
        (lambda: lg.arange(3).to("cuda"), np.arange(3)),
        (lambda: lg.arange(0, 1, 0.25).to(OPENCL), np.arange(0, 1, 0.25, dtype=np.float32)),
        (lambda: lg.full((2, 3), 5.0).T.to(OPENCL), np.full((3, 2), 5, np.float32)),
        (lambda: lg.full((2,), True).to(OPENCL), np.ones(2, bool)),
        (lambda: lg.tensor(3.0).to(OPENCL), np.float32(3)),
        (
            lambda: nn.functional.pad(lg.ones(2), (1, 1)).to(OPENCL),
            np.array([0, 1, 1, 0], np.float32),
        ),
    ],
    ids=["ones", "ones*2", "ones*2.5", "zeros", "arange", "float arange", "T", "bool", "0d", "pad"],
)
def test_constant_tensor_to_opencl(opencl: str, make: Any, expected: np.ndarray) -> None:
    """The transfer of a tensor made only of constants read an input it does not have
    (IndexError in `_transfer`)."""
    t = make()
    assert t.device.type == "opencl"
    check(t, expected)


def test_constant_tensor_from_opencl_to_cpu(opencl: str) -> None:
    """The other way too: constants have no device, so no transfer is made for them."""
    check(lg.ones(2, device=opencl).cpu(), np.ones(2, np.float32))
    check(lg.arange(3, device=opencl).to("cpu") * 2, np.arange(3) * 2)
    check(lg.zeros(2, 3, device=opencl).T.cpu(), np.zeros((3, 2), np.float32))


def test_constant_tensor_to_opencl_with_changing_scalar(opencl: str) -> None:
    """A Python scalar is a kernel argument: a cached schedule must upload the new value."""
    for s in (2.0, 3.0, 4.5):
        check((lg.ones(2) + s).to(opencl), np.full(2, 1 + s, np.float32))


def test_linear_moved_to_cuda(opencl: str) -> None:
    lin = nn.Linear(2, 1)
    w, b = lin.weight.detach().numpy(), lin.bias.detach().numpy()
    xn = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], np.float32)
    moved = lin.to("cuda")
    y = moved(lg.ones(3, 2).to("cuda"))
    assert y.device.type == "opencl"
    check(y, np.ones((3, 2), np.float32) @ w.T + b)
    check(moved(lg.tensor(xn).to("cuda")), xn @ w.T + b)


def test_constant_tensor_moved_to_opencl_then_written_and_indexed(opencl: str) -> None:
    a = lg.ones(2, 2).to("cuda")
    a.copy_(lg.full((2, 2), 7.0))
    check(a, np.full((2, 2), 7, np.float32))
    check(lg.ones(2, 2).to("cuda")[lg.tensor([1, 0])], np.ones((2, 2), np.float32))


_MISMATCH = "Expected all tensors to be on the same device, but found at least two devices"


@pytest.mark.parametrize(
    "op",
    [
        lambda a, c: a + c,
        lambda a, c: c * a,
        lambda a, c: a @ c,
        lambda a, c: lg.cat([a, c]),
        lambda a, c: lg.where(c > 0, a, c),
        lambda a, c: nn.Linear(2, 1).to("cuda")(c),
    ],
    ids=["add", "mul", "matmul", "cat", "where", "linear"],
)
def test_device_mismatch_of_constant_tensors(opencl: str, op: Any) -> None:
    """Mixing a constant-only tensor moved to OpenCL with a CPU tensor raises PyTorch's
    RuntimeError at the op, before anything runs; the operands can still be read (that
    crashed in `_transfer`)."""
    a, c = lg.ones(2, 2).to("cuda"), lg.ones(2, 2)
    with pytest.raises(RuntimeError, match=_MISMATCH):
        op(a, c)
    assert "opencl" in str(a.device)
    check(a, np.ones((2, 2), np.float32))  # looking at the operands after the error works
    check(c, np.ones((2, 2), np.float32))


# ---- 3. lg.save of a container that contains itself ----------------------------------------------
def _round_trip(obj: Any, seconds: float = 30) -> Any:
    """Save and load `obj` through memory; fails (rather than hangs) if saving never ends."""
    buf = io.BytesIO()
    done: list[BaseException | None] = []

    def work() -> None:
        try:
            lg.save(obj, buf)
            done.append(None)
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            done.append(exc)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(seconds)
    assert done, "lg.save did not return"
    if done[0] is not None:
        raise done[0]
    buf.seek(0)
    return lg.load(buf)


def test_save_dict_containing_itself(tmp_path: Path) -> None:
    d: dict[str, Any] = {}
    d["self"] = d
    d["t"] = lg.ones(2)
    loaded = _round_trip(d)
    assert loaded["self"] is loaded
    check(loaded["t"], np.ones(2, np.float32))
    lg.save(d, tmp_path / "cycle.pt")
    again = lg.load(tmp_path / "cycle.pt")
    assert again["self"] is again


def test_save_list_containing_itself() -> None:
    items: list[Any] = [lg.arange(3) * 2]
    items.append(items)
    loaded = _round_trip(items)
    assert loaded[1] is loaded
    check(loaded[0], np.arange(3) * 2)


def test_save_keeps_shared_containers_and_cycles_through_tuples() -> None:
    shared = [1, lg.zeros(1)]
    inner: list[Any] = []
    pair = (inner, shared)
    inner.append(pair)
    loaded = _round_trip({"a": shared, "b": shared, "inner": inner})
    assert loaded["a"] is loaded["b"]
    pair = loaded["inner"][0]
    assert pair[0] is loaded["inner"]
    assert pair[1] is loaded["a"]


def test_save_tuple_containing_itself_raises_clearly() -> None:
    t: tuple[list[Any]] = ([],)
    t[0].append(t)
    with pytest.raises(ValueError, match="contains itself"):
        _round_trip(t)


def test_load_rejects_reference_to_unknown_container(tmp_path: Path) -> None:
    path = tmp_path / "bad.pt"
    lg.save({"x": [1]}, path)
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    meta = {"format": "lazygrad.save/1", "object": {"list": [{"ref": 5}]}}
    text = json.dumps(meta).encode()
    array = io.BytesIO()
    np.save(array, np.frombuffer(text, dtype=np.uint8))
    entries["__lazygrad__.npy"] = array.getvalue()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    with pytest.raises(RuntimeError, match="not a valid lazygrad checkpoint"):
        lg.load(path)


def test_reductions_with_no_rows_on_opencl(opencl: str) -> None:
    """max/min/argmax over dim 0 of a (2, 0) tensor divided by its zero rows when choosing
    the kernel layout (found by the fuzzer); the result is an empty tensor, as on cpu."""
    x = lg.tensor(np.zeros((2, 0), np.float32), device=opencl)
    for result in (x.max(0).values, x.min(0).values, x.argmax(0), x.sum(0)):
        assert result.numpy().shape == (0,)
