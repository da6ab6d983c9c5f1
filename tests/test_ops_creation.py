"""Creation functions, tensor attributes and leaving the graph (numpy, item, tolist, ...),
against NumPy and the values, dtypes and reprs PyTorch 2.13 gives."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from conftest import check, lg_dtype, np_dtype, parity
from hypothesis import strategies as st

import lazygrad as lg

SIZES = st.lists(st.integers(0, 4), max_size=4).map(tuple)
DTYPES = st.sampled_from(["bool", "int32", "int64", "float32", "float64"])


@parity(shape=SIZES, dtype=DTYPES)
def test_zeros_ones_empty_full(shape: tuple[int, ...], dtype: str, device: str) -> None:
    d = lg_dtype(dtype)
    if shape:
        check(lg.zeros(*shape, dtype=d, device=device), np.zeros(shape, np_dtype(dtype)))
    check(lg.zeros(shape, dtype=d, device=device), np.zeros(shape, np_dtype(dtype)))
    check(lg.ones(size=shape, dtype=d, device=device), np.ones(shape, np_dtype(dtype)))
    check(lg.full(shape, 3, dtype=d, device=device), np.full(shape, 3, np_dtype(dtype)))
    assert lg.empty(shape, dtype=d, device=device).shape == shape
    assert lg.empty(shape, device=device).dtype == lg.float32


def test_default_dtypes(device: str) -> None:
    check(lg.zeros(2, 3, device=device), np.zeros((2, 3), np.float32))
    check(lg.ones([2], device=device), np.ones(2, np.float32))
    check(lg.full((2,), 3, device=device), np.full(2, 3, np.int64))
    check(lg.full((2,), 3.5, device=device), np.full(2, 3.5, np.float32))
    check(lg.full((2,), True, device=device), np.full(2, True))
    check(lg.full([], 7, device=device), np.array(7))
    check(lg.full((2,), float("nan"), device=device), np.full(2, np.nan, np.float32))
    check(lg.zeros((), device=device), np.zeros((), np.float32))
    check(lg.ones(lg.Size([2, 1]), device=device), np.ones((2, 1), np.float32))
    check(lg.zeros(2, dtype=float, device=device), np.zeros(2, np.float64))  # like torch
    check(lg.zeros(2, dtype=int, device=device), np.zeros(2, np.int64))
    check(lg.zeros(2, dtype=bool, device=device), np.zeros(2, bool))


@pytest.mark.parametrize(
    "args, kwargs",
    [
        ((5,), {}),
        ((0, 1, 0.25), {}),
        ((5, 0, -1), {}),
        ((5.0, 0, -1.5), {}),
        ((1, 4), {"dtype": lg.float64}),
        ((-3.5, 3, 1.25), {}),
        ((0, 5, 2), {"dtype": lg.float32}),
        ((0.5, 5, 1), {"dtype": lg.int64}),
        ((0, 3, 1.5), {"dtype": lg.int64}),
        ((-1.5, 3, 1), {"dtype": lg.int64}),
        ((0, 5, 2.5), {"dtype": lg.int32}),
        ((0,), {}),
        ((3, 3), {}),
        ((10, -10, -3), {}),
        ((0, 1, 0.1), {}),
    ],
)
def test_arange(args: tuple, kwargs: dict, device: str) -> None:
    expected = {  # PyTorch 2.13's results for these arguments
        (5,): np.arange(5),
        (0, 1, 0.25): np.array([0, 0.25, 0.5, 0.75], np.float32),
        (5, 0, -1): np.array([5, 4, 3, 2, 1]),
        (5.0, 0, -1.5): np.array([5.0, 3.5, 2.0, 0.5], np.float32),
        (1, 4): np.array([1.0, 2.0, 3.0]),
        (-3.5, 3, 1.25): (np.arange(6) * 1.25 - 3.5).astype(np.float32),
        (0, 5, 2): np.array([0.0, 2.0, 4.0], np.float32),
        (0.5, 5, 1): np.arange(5),
        (0, 3, 1.5): np.arange(3),
        (-1.5, 3, 1): np.array([-1, 0, 1, 2]),
        (0, 5, 2.5): np.array([0, 2], np.int32),
        (0,): np.zeros(0, np.int64),
        (3, 3): np.zeros(0, np.int64),
        (10, -10, -3): np.arange(10, -10, -3),
        (0, 1, 0.1): (np.arange(10) * 0.1).astype(np.float32),
    }[args]
    check(lg.arange(*args, **kwargs, device=device), expected)


@parity(start=st.integers(-20, 20), end=st.integers(-20, 20), step=st.integers(-5, 5).filter(bool))
def test_arange_integers(start: int, end: int, step: int, device: str) -> None:
    if (step > 0 and end < start) or (step < 0 and end > start):
        with pytest.raises(RuntimeError, match="upper bound and lower bound inconsistent"):
            lg.arange(start, end, step, device=device)
        return
    check(lg.arange(start, end, step, device=device), np.arange(start, end, step))


@pytest.mark.parametrize(
    "args, kwargs, expected",
    [
        ((0, 1, 5), {}, np.linspace(0, 1, 5, dtype=np.float32)),
        ((0, 1, 1), {}, np.array([0.0], np.float32)),
        ((0, 1, 0), {}, np.zeros(0, np.float32)),
        (
            (-1, 1, 7),
            {},
            np.array([-1.0, -0.6666666, -0.3333333, 0.0, 0.3333333, 0.6666666, 1.0], np.float32),
        ),
        ((3, -3, 4), {}, np.array([3.0, 1.0, -1.0, -3.0], np.float32)),
        ((0, 1, 8), {"dtype": lg.float64}, np.linspace(0, 1, 8)),
        ((0, 5, 4), {"dtype": lg.int64}, np.array([0, 1, 3, 5])),
        ((0, -5, 4), {"dtype": lg.int64}, np.array([0, -1, -3, -5])),
        ((0.5, 10.5, 5), {"dtype": lg.int64}, np.array([0, 2, 5, 7, 10])),
        ((0, 5, 3), {"dtype": lg.int32}, np.array([0, 2, 5], np.int32)),
    ],
)
def test_linspace(args: tuple, kwargs: dict, expected: np.ndarray, device: str) -> None:
    check(lg.linspace(*args, **kwargs, device=device), expected, atol=1e-6)


@pytest.mark.parametrize(
    "n, m, dtype",
    [(3, None, None), (2, 3, lg.int32), (0, None, None), (3, 1, lg.bool), (1, 4, lg.float64)],
)
def test_eye(n: int, m: int | None, dtype: Any, device: str) -> None:
    name = "float32" if dtype is None else str(dtype).split(".")[1]
    check(lg.eye(n, m, dtype=dtype, device=device), np.eye(n, m, dtype=np_dtype(name)))


@parity(shape=SIZES, dtype=DTYPES, fill=st.integers(-3, 3))
def test_like_functions(shape: tuple[int, ...], dtype: str, fill: int, device: str) -> None:
    x = lg.zeros(shape, dtype=lg_dtype(dtype), device=device)
    check(lg.zeros_like(x), np.zeros(shape, np_dtype(dtype)))
    check(lg.ones_like(x), np.ones(shape, np_dtype(dtype)))
    check(lg.full_like(x, fill), np.full(shape, fill, np_dtype(dtype)))
    check(lg.empty_like(x).zero_(), np.zeros(shape, np_dtype(dtype)))
    check(lg.zeros_like(x, dtype=lg.float64), np.zeros(shape, np.float64))
    assert lg.zeros_like(x).device == x.device


def test_like_functions_keep_dtype(device: str) -> None:
    x = lg.tensor(np.array([[1, 2]], np.int32), device=device)
    check(lg.full_like(x, 7.5), np.array([[7, 7]], np.int32))
    check(lg.ones_like(x, dtype=lg.bool), np.array([[True, True]]))
    f = lg.ones(2, 3, dtype=lg.float64, device=device)
    assert lg.rand_like(f).dtype == lg.float64 and lg.rand_like(f).shape == (2, 3)
    assert lg.randn_like(f).shape == (2, 3)
    assert lg.zeros_like(lg.ones(2, requires_grad=True)).requires_grad is False
    assert lg.zeros_like(lg.ones(2), requires_grad=True).requires_grad is True


@pytest.mark.parametrize("fn", ["rand", "randn"])
def test_rand_randn_shapes_dtypes_and_seeding(fn: str, device: str) -> None:
    make = getattr(lg, fn)
    lg.manual_seed(123)
    a = make(3, 4, device=device)
    b = make(size=(3, 4), dtype=lg.float64, device=device)
    lg.manual_seed(123)
    a2 = make(3, 4, device=device)
    b2 = make((3, 4), dtype=lg.float64, device=device)
    assert a.shape == (3, 4) and a.dtype == lg.float32 and b.dtype == lg.float64
    np.testing.assert_array_equal(a.numpy(), a2.numpy())
    np.testing.assert_array_equal(b.numpy(), b2.numpy())
    assert not np.array_equal(a.numpy(), make(3, 4, device=device).numpy())
    assert make((), device=device).shape == ()
    assert make(0, device=device).shape == (0,)


def test_rand_distribution(device: str) -> None:
    lg.manual_seed(0)
    u = lg.rand(20000, device=device).numpy()
    n = lg.randn(20000, device=device).numpy()
    assert u.min() >= 0.0 and u.max() < 1.0 and abs(u.mean() - 0.5) < 0.02
    assert abs(n.mean()) < 0.05 and abs(n.std() - 1.0) < 0.05


def test_randint(device: str) -> None:
    lg.manual_seed(7)
    a = lg.randint(-3, 5, (200,), device=device)
    assert a.dtype == lg.int64 and a.shape == (200,)
    values = a.numpy()
    assert values.min() >= -3 and values.max() < 5 and len(set(values.tolist())) == 8
    assert lg.randint(5, (3, 2), device=device).shape == (3, 2)
    assert lg.randint(2, size=(4,), device=device).numpy().max() < 2
    assert lg.randint(1, 5, size=(2,), dtype=lg.float32, device=device).dtype == lg.float32
    assert lg.randint(low=1, high=5, size=(2,), device=device).shape == (2,)
    lg.manual_seed(7)
    np.testing.assert_array_equal(lg.randint(-3, 5, (200,), device=device).numpy(), values)
    flags = lg.randint(0, 2, (50,), dtype=lg.bool, device=device)
    assert flags.dtype == lg.bool and set(flags.numpy().tolist()) == {False, True}


def test_random_is_lazy_and_stable(device: str) -> None:
    lg.manual_seed(3)
    r = lg.rand(4, device=device)
    first = (r * 1).numpy()
    np.testing.assert_array_equal(first, r.numpy())  # realizing twice gives the same values
    np.testing.assert_array_equal((r + 0).numpy(), first)


@pytest.mark.parametrize(
    "data, dtype, expected",
    [
        ([1, 2, 3], "int64", np.array([1, 2, 3])),
        ([1.0, 2.5], "float32", np.array([1.0, 2.5], np.float32)),
        ([1, 2.5], "float32", np.array([1.0, 2.5], np.float32)),
        ([True, False], "bool", np.array([True, False])),
        ([True, 2], "int64", np.array([1, 2])),
        ([[1, 2], [3, 4]], "int64", np.array([[1, 2], [3, 4]])),
        ([[1, 2], (3, 4)], "int64", np.array([[1, 2], [3, 4]])),
        (3, "int64", np.array(3)),
        (2.5, "float32", np.array(2.5, np.float32)),
        (True, "bool", np.array(True)),
        ([], "float32", np.zeros(0, np.float32)),
        ([[], []], "float32", np.zeros((2, 0), np.float32)),
        (np.array([1, 2], np.int32), "int32", np.array([1, 2], np.int32)),
        (np.array([1.5]), "float64", np.array([1.5])),
        (np.float64(3.0), "float64", np.array(3.0)),
        (np.arange(4).reshape(2, 2).T, "int64", np.arange(4).reshape(2, 2).T),
        (range(3), "int64", np.arange(3)),
    ],
)
def test_tensor_dtype_inference(data: Any, dtype: str, expected: np.ndarray, device: str) -> None:
    check(lg.tensor(data, device=device), expected, dtype)


def test_tensor_constructor_variants(device: str) -> None:
    check(lg.tensor([1, 2], dtype=lg.float64, device=device), np.array([1.0, 2.0]))
    check(lg.tensor(2.5, dtype=lg.int64, device=device), np.array(2))
    check(lg.tensor(lg.tensor([1, 2]), device=device), np.array([1, 2]))
    check(lg.Tensor([1, 2]), np.array([1.0, 2.0], np.float32))
    check(lg.Tensor(np.arange(3)), np.arange(3, dtype=np.float32))
    assert lg.tensor([1.0, 2.0], requires_grad=True).requires_grad
    source = np.array([1.0, 2.0])
    t = lg.tensor(source, device=device)
    source[0] = 100.0  # lg.tensor copies its data
    check(t, np.array([1.0, 2.0]))


@pytest.mark.parametrize(
    "arr, dtype",
    [
        (np.arange(3), "int64"),
        (np.arange(3.0), "float64"),
        (np.arange(3, dtype=np.float32), "float32"),
        (np.array([True]), "bool"),
        (np.array(3.0), "float64"),
        (np.arange(3, dtype=np.int32), "int32"),
    ],
)
def test_from_numpy(arr: np.ndarray, dtype: str) -> None:
    t = lg.from_numpy(arr)
    check(t, arr, dtype)
    assert t.device == lg.device("cpu")


# ---- attributes ------------------------------------------------------------------------------
def test_attributes(device: str) -> None:
    t = lg.zeros(2, 3, device=device)
    assert t.shape == (2, 3) and isinstance(t.shape, lg.Size) and isinstance(t.shape, tuple)
    assert repr(t.shape) == "lazygrad.Size([2, 3])" and str(t.shape) == "lazygrad.Size([2, 3])"
    assert t.size() == (2, 3) and isinstance(t.size(), lg.Size)
    assert t.size(1) == 3 and t.size(-1) == 3 and t.size(0) == 2
    assert t.ndim == 2 and t.dim() == 2 and t.numel() == 6
    assert t.dtype == lg.float32 and repr(t.dtype) == "lazygrad.float32"
    assert str(t.device) == device.split(":")[0] + ("" if device == "cpu" else ":0")
    assert t.T.shape == (3, 2)
    assert t.shape[0] == 2 and t.shape[-1] == 3
    scalar = lg.tensor(1.5, device=device)
    assert scalar.shape == () and repr(scalar.shape) == "lazygrad.Size([])"
    assert scalar.ndim == 0 and scalar.numel() == 1 and scalar.size() == ()
    assert lg.Size([2, 3]).numel() == 6 and lg.Size([2, 3]) == t.shape
    assert lg.zeros(0, 3).numel() == 0


@pytest.mark.parametrize(
    "dtype, text",
    [
        (lg.float32, "lazygrad.float32"),
        (lg.float64, "lazygrad.float64"),
        (lg.int32, "lazygrad.int32"),
        (lg.int64, "lazygrad.int64"),
        (lg.bool, "lazygrad.bool"),
    ],
)
def test_dtype_names(dtype: Any, text: str) -> None:
    assert repr(dtype) == text and str(dtype) == text
    assert lg.float is lg.float32 and lg.double is lg.float64 and lg.long is lg.int64
    assert lg.int is lg.int32


def test_conversions(device: str) -> None:
    t = lg.tensor([1.7, -1.7], device=device)
    check(t.int(), np.array([1, -1], np.int32))
    check(t.long(), np.array([1, -1]))
    check(t.bool(), np.array([True, True]))
    check(t.double(), np.array([1.7, -1.7], np.float32).astype(np.float64))
    check(t.to(lg.float64), np.array([1.7, -1.7], np.float32).astype(np.float64))
    check(t.to(dtype=lg.int32), np.array([1, -1], np.int32))
    check(t.type(lg.int64), np.array([1, -1]))
    check(lg.tensor([0, 3], device=device).float(), np.array([0.0, 3.0], np.float32))
    assert t.to(lg.float32) is t and t.to(device) is t
    assert t.is_floating_point() and not t.long().is_floating_point()


# ---- leaving the graph -----------------------------------------------------------------------
def test_leaving_the_graph(device: str) -> None:
    t = lg.tensor([1.5], device=device)
    assert t.item() == 1.5 and isinstance(t.item(), float)
    assert float(t) == 1.5 and int(t) == 1 and bool(t) is True
    assert t.tolist() == [1.5]
    i = lg.tensor(3, device=device)
    assert i.item() == 3 and isinstance(i.item(), int) and i.tolist() == 3
    assert int(i) == 3 and float(i) == 3.0 and bool(lg.tensor(0, device=device)) is False
    assert lg.tensor([True], device=device).item() is True
    nested = lg.tensor([[1, 2], [3, 4]], device=device)
    assert nested.tolist() == [[1, 2], [3, 4]]
    assert isinstance(nested.tolist()[0][0], int)
    arr = nested.numpy()
    assert isinstance(arr, np.ndarray) and arr.dtype == np.int64
    np.testing.assert_array_equal(np.asarray(nested), arr)
    assert np.asarray(nested, dtype=np.float64).dtype == np.float64
    np.testing.assert_array_equal(np.array(nested * 2), arr * 2)
    assert lg.tensor([], device=device).tolist() == []
    assert [int(x) for x in lg.tensor([4, 5], device=device)] == [4, 5]
    assert range(10)[lg.tensor(2)] == 2  # __index__


def test_numpy_returns_a_copy(device: str) -> None:
    t = lg.tensor([1.0, 2.0], device=device)
    arr = t.numpy()
    arr[0] = 100.0
    check(t, np.array([1.0, 2.0], np.float32))


def test_repr_realizes(device: str) -> None:
    t = lg.tensor([1.0, 2.0, 3.0, 4.0]) * 1
    assert repr(t) == "tensor([1., 2., 3., 4.])"
    assert str(lg.tensor([[2, 8], [6, 16]])) == "tensor([[ 2,  8],\n        [ 6, 16]])"


# ---- Tensor(sizes), Size slices and type names, as in PyTorch ------------------------------
def test_tensor_class_with_sizes() -> None:
    assert lg.Tensor(3).shape == (3,)
    assert lg.Tensor(2, 3).shape == (2, 3)


def test_size_slice_is_a_size() -> None:
    assert repr(lg.zeros(2, 3, 4).shape[1:]) == "lazygrad.Size([3, 4])"


def test_type_names() -> None:
    assert lg.zeros(1).type() == "lazygrad.FloatTensor"
    assert lg.zeros(1, dtype=lg.int64).type() == "lazygrad.LongTensor"
