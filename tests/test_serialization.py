"""lg.save / lg.load: bit-exact round trips of state dicts, and clean failures on truncated,
tampered or foreign files (never running code from them)."""

from __future__ import annotations

import io
import json
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lazygrad as lg
import lazygrad.nn as nn
import lazygrad.optim as optim
from lazygrad.serialization import load, save


def bits(t: lg.Tensor) -> bytes:
    return t.detach().numpy().tobytes()


def test_round_trip_is_bit_exact_for_every_dtype(tmp_path: Path) -> None:
    special = np.array([np.nan, -0.0, np.inf, -np.inf, 1e-45, 3.4e38], dtype=np.float32)
    state = OrderedDict(
        [
            ("f32", lg.tensor(np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32))),
            ("special", lg.tensor(special)),
            ("f64", lg.tensor(np.array([np.pi, -1e-300]), dtype=lg.float64)),
            ("i64", lg.tensor([2**62, -5])),
            ("i32", lg.tensor([1, 2], dtype=lg.int32)),
            ("bool", lg.tensor([True, False])),
            ("scalar", lg.tensor(2.5)),
            ("empty", lg.zeros(0, 3)),
            ("lazy", lg.arange(6).reshape(2, 3) * 2),
        ]
    )
    path = tmp_path / "state.pt"
    save(state, path)
    loaded = load(path)
    assert isinstance(loaded, OrderedDict) and list(loaded) == list(state)
    for key, value in state.items():
        assert loaded[key].dtype == value.dtype and loaded[key].shape == value.shape, key
        assert bits(loaded[key]) == bits(value), key
    assert path.exists() and not (tmp_path / "state.pt.npz").exists()


def test_model_state_dict_round_trip(tmp_path: Path) -> None:
    lg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.LayerNorm(8), nn.Linear(8, 2))
    save(model.state_dict(), tmp_path / "model.pt")
    fresh = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.LayerNorm(8), nn.Linear(8, 2))
    fresh.load_state_dict(load(tmp_path / "model.pt"))
    for (k, a), (_, b) in zip(model.state_dict().items(), fresh.state_dict().items(), strict=True):
        assert bits(a) == bits(b), k
    x = lg.randn(3, 4)
    assert bits(model(x)) == bits(fresh(x))


def test_optimizer_state_round_trip(tmp_path: Path) -> None:
    model = nn.Linear(3, 2)
    lg.realize(*model.parameters())
    opt = optim.Adam(model.parameters(), lr=0.01, betas=(0.8, 0.9))
    model(lg.ones(4, 3)).sum().backward()
    opt.step()
    save(opt.state_dict(), tmp_path / "opt.pt")
    loaded = load(tmp_path / "opt.pt")
    group = loaded["param_groups"][0]
    assert group["betas"] == (0.8, 0.9) and group["params"] == [0, 1]
    assert group["amsgrad"] is False and group["lr"] == 0.01
    assert sorted(loaded["state"]) == [0, 1]  # integer keys survive
    for i, values in opt.state_dict()["state"].items():
        for name, value in values.items():
            assert bits(loaded["state"][i][name]) == bits(value), (i, name)
    again = optim.Adam(model.parameters())
    again.load_state_dict(loaded)
    assert again.param_groups[0]["betas"] == (0.8, 0.9)


def test_nested_values_file_objects_and_parameters() -> None:
    param = nn.Parameter(lg.tensor([1.0, 2.0]))
    obj = {
        "w": param,
        "meta": {"epoch": 3, "name": "run", "scores": [0.5, None, True]},
        "pair": (1, 2.5),
        7: "int key",
    }
    buffer = io.BytesIO()
    save(obj, buffer)
    buffer.seek(0)
    loaded = load(buffer)
    assert loaded["meta"] == obj["meta"] and loaded["pair"] == (1, 2.5)
    assert loaded[7] == "int key"
    assert loaded["w"].requires_grad and bits(loaded["w"]) == bits(param)
    shared = lg.ones(2)
    buffer = io.BytesIO()
    save({"a": shared, "b": shared}, buffer)
    buffer.seek(0)
    both = load(buffer)
    assert both["a"] is both["b"]


def test_map_location(tmp_path: Path) -> None:
    save({"x": lg.ones(2)}, tmp_path / "x.pt")
    assert load(tmp_path / "x.pt", map_location="cpu")["x"].device == lg.device("cpu")


def test_save_rejects_unsupported_objects(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="lg.save can store"):
        save({"f": object()}, tmp_path / "bad.pt")
    with pytest.raises(TypeError, match="dict keys"):
        save({(1, 2): lg.ones(1)}, tmp_path / "bad.pt")


def _checkpoint(tmp_path: Path) -> Path:
    path = tmp_path / "good.pt"
    save({"weight": lg.ones(4, 4), "step": 3}, path)
    return path


def _rewrite(path: Path, target: Path, **replace: bytes) -> None:
    """Copy the zip at `path` to `target`, replacing the named members' bytes."""
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(target, "w") as dst:
        for item in src.infolist():
            dst.writestr(item.filename, replace.get(item.filename, src.read(item.filename)))


def _npy(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    out = io.BytesIO()
    np.save(out, array, allow_pickle=allow_pickle)
    return out.getvalue()


def test_truncated_file_fails_cleanly(tmp_path: Path) -> None:
    good = _checkpoint(tmp_path)
    data = good.read_bytes()
    for cut in (10, len(data) // 2, len(data) - 5):
        bad = tmp_path / f"cut{cut}.pt"
        bad.write_bytes(data[:cut])
        with pytest.raises(RuntimeError, match=f"cut{cut}.pt"):
            load(bad)


def test_foreign_and_random_files_fail_cleanly(tmp_path: Path) -> None:
    noise = tmp_path / "noise.pt"
    noise.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(RuntimeError, match="noise.pt"):
        load(noise)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, a=np.ones(3))
    with pytest.raises(RuntimeError, match="not written by lg.save"):
        load(foreign)
    with pytest.raises(RuntimeError, match="cannot read"):
        load(tmp_path / "missing.pt")


class _Trap:
    """Unpickling this would create a file: proves loading never unpickles."""

    marker = ""

    def __reduce__(self) -> tuple:
        return (open, (self.marker, "w"))


def test_tampered_file_with_pickled_object_array_never_runs_code(tmp_path: Path) -> None:
    good = _checkpoint(tmp_path)
    marker = tmp_path / "pwned"
    _Trap.marker = str(marker)
    evil = np.empty(1, dtype=object)
    evil[0] = _Trap()
    bad = tmp_path / "evil.pt"
    _rewrite(good, bad, **{"tensor0.npy": _npy(evil, allow_pickle=True)})
    with pytest.raises(RuntimeError, match="evil.pt"):
        load(bad)
    assert not marker.exists()


def test_tampered_structure_fails_cleanly(tmp_path: Path) -> None:
    good = _checkpoint(tmp_path)
    cases = {
        "json": b"{not json",
        "format": json.dumps({"format": "other", "object": {}}).encode(),
        "missing": json.dumps(
            {"format": "lazygrad.save/1", "object": {"tensor": "tensor9"}}
        ).encode(),
        "kind": json.dumps({"format": "lazygrad.save/1", "object": {"code": "x"}}).encode(),
    }
    for name, meta in cases.items():
        bad = tmp_path / f"{name}.pt"
        _rewrite(good, bad, **{"__lazygrad__.npy": _npy(np.frombuffer(meta, np.uint8))})
        with pytest.raises(RuntimeError, match=f"{name}.pt"):
            load(bad)
    complex_array = tmp_path / "complex.pt"
    _rewrite(good, complex_array, **{"tensor0.npy": _npy(np.ones(2, np.complex64))})
    with pytest.raises(RuntimeError, match="unsupported dtype"):
        load(complex_array)


def test_corrupted_bytes_fail_cleanly(tmp_path: Path) -> None:
    good = _checkpoint(tmp_path)
    data = bytearray(good.read_bytes())
    start = data.find(b"\x00\x00\x80\x3f")  # inside the float32 ones of tensor0
    data[start + 3] ^= 0xFF
    bad = tmp_path / "flipped.pt"
    bad.write_bytes(bytes(data))
    with pytest.raises(RuntimeError, match="flipped.pt"):
        load(bad)


def _saved(obj: object) -> bytes:
    buf = io.BytesIO()
    save(obj, buf)
    return buf.getvalue()


def test_a_huge_declared_shape_is_refused_before_allocating() -> None:
    data = _saved({"w": lg.ones(3)})
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as tampered:
        for name in source.namelist():
            entry = source.read(name)
            if name != "__lazygrad__.npy":
                entry = entry.replace(b"(3,)", b"(1000000000000,)")
            tampered.writestr(name, entry)
    with pytest.raises(RuntimeError, match="declares shape"):
        load(io.BytesIO(out.getvalue()))


@settings(max_examples=150, deadline=None, derandomize=True)
@given(st.data())
def test_damaged_files_load_as_saved_or_fail_cleanly(data: st.DataObject) -> None:
    """Truncations and flipped bytes anywhere: a file either loads with the saved values
    or raises lg.load's RuntimeError, never another exception and never wrong values."""
    weights = {"w": lg.arange(6.0).reshape(2, 3), "step": 3, "names": ["a", ("b", 2.5)]}
    good = _saved(weights)
    damaged = bytearray(good)
    if data.draw(st.booleans(), label="truncate"):
        damaged = damaged[: data.draw(st.integers(0, len(good) - 1), label="length")]
    for _ in range(data.draw(st.integers(1, 4), label="flips")):
        if damaged:
            at = data.draw(st.integers(0, len(damaged) - 1), label="at")
            damaged[at] ^= data.draw(st.integers(1, 255), label="bits")
    try:
        got = load(io.BytesIO(bytes(damaged)))
    except RuntimeError as err:
        assert "lg.load" in str(err)
        return
    assert got["step"] == 3 and got["names"] == ["a", ("b", 2.5)]
    np.testing.assert_array_equal(got["w"].numpy(), np.arange(6.0).reshape(2, 3))
