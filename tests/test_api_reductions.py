"""all/any, amax/amin, cumsum/cumprod, gather/scatter, masked_fill, index_select, sort/topk,
median, norm, var_mean, nonzero, masked_select, unique and take: values against NumPy on both
devices, gradients against float64 central differences and PyTorch's documented rules."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from conftest import check, finite_differences

import lazygrad as lg

NAN = float("nan")
FD = {"rtol": 1e-6, "atol": 1e-8}  # what float64 central differences with h = 1e-6 resolve
RNG = np.random.default_rng(16)


def grad_of(fn: Callable[[lg.Tensor], lg.Tensor], a: np.ndarray, device: str) -> lg.Tensor:
    """x.grad after fn(x).sum().backward()."""
    x = lg.tensor(a, device=device, requires_grad=True)
    fn(x).sum().backward()
    assert x.grad is not None
    return x.grad


def check_grad_fd(fn: Callable[[lg.Tensor], lg.Tensor], a: np.ndarray, device: str) -> None:
    """The gradient of sum(fn(x)) at float64 `a` equals central differences."""
    check(grad_of(fn, a, device), finite_differences(fn, a, device), **FD)


def sorted_order(row: list[float], descending: bool) -> list[int]:
    """A stable sort's permutation of one row, NaNs counted as the largest values."""

    def key(i: int) -> tuple:
        v = row[i]
        if math.isnan(v):
            return (0 if descending else 2, 0.0, i)
        return (1, -v if descending else v, i)

    return sorted(range(len(row)), key=key)


def sort_reference(a: np.ndarray, dim: int, descending: bool) -> np.ndarray:
    """The indices a stable sort along `dim` gives (NaNs largest)."""
    moved = np.moveaxis(a.astype(np.float64), dim, -1)
    flat = moved.reshape(-1, moved.shape[-1])
    order = np.array([sorted_order(list(r), descending) for r in flat], np.int64)
    return np.moveaxis(order.reshape(moved.shape), -1, dim)


# ---- all / any ---------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["bool", "int32", "float32"])
def test_all_any_match_numpy_over_dims(device: str, dtype: str) -> None:
    a = (RNG.integers(0, 3, (3, 4, 2)) * (RNG.random((3, 4, 2)) < 0.8)).astype(dtype)
    a[0] = 1
    x = lg.tensor(a, device=device)
    check(lg.all(x), np.all(a))
    check(lg.any(x), np.any(a))
    for dim in (0, 1, -1, (0, 2)):
        check(x.all(dim), np.all(a, axis=dim))
        check(x.any(dim, keepdim=True), np.any(a, axis=dim, keepdims=True))


def test_all_any_count_nan_as_true_and_empty_as_identity(device: str) -> None:
    x = lg.tensor([NAN, 0.0], device=device)
    check(x.any(), np.True_)
    check(x[:1].all(), np.True_)
    empty = lg.zeros(0, 3, device=device)
    check(empty.all(), np.True_)
    check(empty.any(0), np.zeros(3, bool))


# ---- amax / amin -------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["int64", "float32", "bool"])
def test_amax_amin_match_numpy(device: str, dtype: str) -> None:
    a = RNG.integers(-4, 4, (3, 4, 5)).astype(dtype)
    x = lg.tensor(a, device=device)
    check(lg.amax(x), np.max(a))
    check(x.amin(), np.min(a))
    for dim in (0, -1, (0, 2), [1, 2]):
        check(x.amax(dim), np.max(a, axis=tuple(np.atleast_1d(dim))))
        check(
            lg.amin(x, dim, keepdim=True), np.min(a, axis=tuple(np.atleast_1d(dim)), keepdims=True)
        )


def test_amax_amin_propagate_nan(device: str) -> None:
    x = lg.tensor([[1.0, NAN, 3.0], [1.0, 2.0, -1.0]], device=device)
    check(x.amax(1), np.array([NAN, 2.0], np.float32))
    check(x.amin(1), np.array([NAN, -1.0], np.float32))


def test_amax_amin_spread_the_gradient_evenly_over_ties(device: str) -> None:
    a = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, -5.0]])
    check(grad_of(lambda t: t.amax(1), a, device), [[0, 0.5, 0.5, 0], [1 / 3, 1 / 3, 1 / 3, 0]])
    check(grad_of(lambda t: t.amin(1), a, device), [[0, 0, 0, 1.0], [0, 0, 0, 1.0]])
    check(grad_of(lambda t: t.amax(), a, device), np.where(a == 3.0, 0.5, 0.0))


def test_amax_amin_gradient_matches_finite_differences(device: str) -> None:
    a = RNG.standard_normal((3, 4))
    check_grad_fd(
        lambda t: t.amax(0) * lg.tensor([1.0, 2.0, 3.0, 4.0], dtype=lg.float64, device=device),
        a,
        device,
    )
    check_grad_fd(lambda t: t.amin((0, 1)), a, device)


def test_amax_amin_errors_on_empty_reductions() -> None:
    with pytest.raises(RuntimeError, match=r"amax\(\): Expected reduction dim to be specified"):
        lg.zeros(0).amax()
    with pytest.raises(
        IndexError, match=r"amin\(\): Expected reduction dim 0 to have non-zero size"
    ):
        lg.zeros(0, 3).amin(0)
    check(lg.zeros(0, 3).amax(1), np.zeros(0, np.float32))


# ---- cumsum / cumprod --------------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 2, 5, 8, 13])
def test_cumsum_cumprod_match_numpy(device: str, n: int) -> None:
    a = RNG.standard_normal((3, n)).astype(np.float32)
    x = lg.tensor(a, device=device)
    check(x.cumsum(1), np.cumsum(a, 1), rtol=1e-5, atol=1e-5)
    check(lg.cumsum(x, 0), np.cumsum(a, 0))
    check(x.cumprod(-1), np.cumprod(a, -1), rtol=1e-5, atol=1e-6)
    check(lg.cumprod(x, 0), np.cumprod(a, 0))


def test_cumsum_of_integers_and_bools_accumulates_in_int64(device: str) -> None:
    a = RNG.integers(-9, 9, (4, 6)).astype(np.int32)
    x = lg.tensor(a, device=device)
    check(x.cumsum(1), np.cumsum(a, 1, dtype=np.int64))
    check(lg.cumprod(x, 0), np.cumprod(a, 0, dtype=np.int64))
    check((x > 0).cumsum(1), np.cumsum(a > 0, 1, dtype=np.int64))
    check(x.cumsum(1, dtype=lg.float64), np.cumsum(a, 1, dtype=np.float64))
    check(lg.cumsum(lg.tensor(3.0, device=device), 0), np.float32(3.0))


def test_cumsum_gradient_is_the_reversed_cumsum(device: str) -> None:
    a = RNG.standard_normal((2, 7))
    w = RNG.standard_normal((2, 7))
    weights = lg.tensor(w, device=device)
    g = grad_of(lambda t: t.cumsum(1) * weights, a, device)
    check(g, np.flip(np.cumsum(np.flip(w, 1), 1), 1))
    x = lg.tensor(a, device=device, requires_grad=True)
    assert x.cumsum(1).grad_fn.name() == "CumsumBackward0"


def test_cumprod_gradient_matches_finite_differences_even_with_zeros(device: str) -> None:
    a = np.array([[0.5, -2.0, 0.0, 1.5, 3.0], [1.2, 0.0, 0.0, -0.7, 2.0]])
    check_grad_fd(lambda t: t.cumprod(1), a, device)
    check_grad_fd(lambda t: t.cumprod(0), RNG.standard_normal((5, 3)), device)


# ---- gather / index_select / take --------------------------------------------------------------
def test_gather_matches_take_along_axis(device: str) -> None:
    a = RNG.standard_normal((4, 5)).astype(np.float32)
    idx = RNG.integers(0, 5, (3, 7))
    x = lg.tensor(a, device=device)
    check(lg.gather(x, 1, lg.tensor(idx, device=device)), np.take_along_axis(a[:3], idx, 1))
    idx0 = RNG.integers(0, 4, (6, 2))
    check(x.gather(0, lg.tensor(idx0, device=device)), np.take_along_axis(a[:, :2], idx0, 0))


def test_gather_gradient_adds_back_at_repeated_indices(device: str) -> None:
    a = RNG.standard_normal((2, 4))
    idx = lg.tensor([[0, 0, 3], [2, 2, 2]], device=device)
    g = grad_of(lambda t: t.gather(1, idx), a, device)
    check(g, [[2.0, 0, 0, 1.0], [0, 0, 3.0, 0]])
    check_grad_fd(lambda t: t.gather(1, idx) ** 2, a, device)


def test_gather_errors_like_pytorch(device: str) -> None:
    x = lg.zeros(2, 3, device=device)
    with pytest.raises(RuntimeError, match="Expected dtype int64 for index"):
        x.gather(1, lg.tensor([[0]], dtype=lg.int32, device=device))
    with pytest.raises(RuntimeError, match="index 3 is out of bounds for dimension 1 with size 3"):
        x.gather(1, lg.tensor([[3]], device=device))
    with pytest.raises(RuntimeError, match="same number of dimensions"):
        x.gather(1, lg.tensor([0], device=device))
    with pytest.raises(RuntimeError, match="Size does not match at dimension 0"):
        x.gather(1, lg.zeros(3, 1, dtype=lg.int64, device=device))
    computed = lg.tensor([[1]], device=device) * 5  # a lazy index: checked where it is read
    with pytest.raises(IndexError):
        x.gather(1, computed).numpy()


def test_index_select_matches_numpy_and_routes_gradient(device: str) -> None:
    a = RNG.standard_normal((3, 4))
    idx = np.array([3, 0, 3])
    x = lg.tensor(a, device=device)
    for dtype in (lg.int64, lg.int32):
        check(lg.index_select(x, 1, lg.tensor(idx, dtype=dtype, device=device)), a[:, idx])
    check(x.index_select(0, lg.tensor([2], device=device)), a[[2]])
    g = grad_of(lambda t: t.index_select(1, lg.tensor(idx, device=device)), a, device)
    check(g, np.tile([1.0, 0, 0, 2.0], (3, 1)))
    with pytest.raises(IndexError, match="index out of range in self"):
        x.index_select(1, lg.tensor([4], device=device))
    with pytest.raises(IndexError, match="Index is supposed to be a vector"):
        x.index_select(1, lg.tensor([[0]], device=device))


def test_take_reads_the_flat_tensor_with_negative_indices(device: str) -> None:
    a = RNG.standard_normal((2, 3))
    idx = np.array([[0, -1], [5, -6]])
    x = lg.tensor(a, device=device)
    check(lg.take(x, lg.tensor(idx, device=device)), np.take(a, idx))
    g = grad_of(lambda t: t.take(lg.tensor(idx, device=device)), a, device)
    check(g, [[2.0, 0, 0], [0, 0, 2.0]])
    with pytest.raises(IndexError, match="out of range: tried to access index 6 on a tensor of 6"):
        x.take(lg.tensor([6], device=device))


# ---- scatter / scatter_add / masked_fill -------------------------------------------------------
def scatter_reference(a: np.ndarray, dim: int, idx: np.ndarray, src, add: bool) -> np.ndarray:
    out = a.copy()
    for pos in np.ndindex(idx.shape):
        target = list(pos)
        target[dim] = idx[pos]
        value = src[pos] if isinstance(src, np.ndarray) else src
        if add:
            out[tuple(target)] += value
        else:
            out[tuple(target)] = value
    return out


def test_scatter_and_scatter_add_match_a_loop(device: str) -> None:
    a = RNG.standard_normal((3, 5)).astype(np.float32)
    src = RNG.standard_normal((3, 6)).astype(np.float32)
    unique_idx = np.stack([RNG.permutation(5)[:2] for _ in range(2)])  # (2, 2), no repeats
    x, s = lg.tensor(a, device=device), lg.tensor(src, device=device)
    i = lg.tensor(unique_idx, device=device)
    check(lg.scatter(x, 1, i, s), scatter_reference(a, 1, unique_idx, src, False))
    check(x.scatter(1, i, 2.5), scatter_reference(a, 1, unique_idx, 2.5, False))
    check(x.scatter(1, i, value=-1.0), scatter_reference(a, 1, unique_idx, -1.0, False))
    repeated = RNG.integers(0, 3, (4, 5))  # along dim 0 with repeats
    r = lg.tensor(repeated, device=device)
    src0 = RNG.standard_normal((4, 5)).astype(np.float32)
    expected = scatter_reference(a, 0, repeated, src0, True)
    check(lg.scatter_add(x, 0, r, lg.tensor(src0, device=device)), expected)
    check(x.scatter(0, r, lg.tensor(src0, device=device), reduce="add"), expected)


def test_scatter_of_integers_and_in_place_forms(device: str) -> None:
    a = np.zeros((2, 4), np.int64)
    idx = np.array([[3, 1], [0, 0]])
    src = np.array([[7, 8], [9, 9]])
    x = lg.tensor(a, device=device)
    x.scatter_add_(1, lg.tensor(idx, device=device), lg.tensor(src, device=device))
    check(x, scatter_reference(a, 1, idx, src, True))
    base = lg.zeros(3, 4, device=device)
    row = base[1]  # a view: the write reaches base
    row.scatter_(0, lg.tensor([2], device=device), lg.tensor([5.0], device=device))
    expected = np.zeros((3, 4), np.float32)
    expected[1, 2] = 5
    check(base, expected)


def test_scatter_gradients_follow_pytorch(device: str) -> None:
    a = RNG.standard_normal((3, 4))
    src = RNG.standard_normal((2, 4))
    idx = lg.tensor([[0, 2, 1, 0], [1, 0, 2, 2]], device=device)
    w = lg.tensor(RNG.standard_normal((3, 4)), device=device)
    x = lg.tensor(a, device=device, requires_grad=True)
    s = lg.tensor(src, device=device, requires_grad=True)
    (x.scatter(0, idx, s) * w).sum().backward()
    written = np.zeros((3, 4), bool)
    written[idx.numpy(), np.arange(4)] = True
    check(x.grad, np.where(written, 0.0, w.numpy()))  # the overwritten elements get nothing
    check(s.grad, np.take_along_axis(w.numpy(), idx.numpy(), 0))  # src: grad.gather(dim, index)
    x2 = lg.tensor(a, device=device, requires_grad=True)
    s2 = lg.tensor(src, device=device, requires_grad=True)
    out = x2.scatter_add(0, idx, s2)
    assert out.grad_fn.name() == "ScatterAddBackward0"
    (out * w).sum().backward()
    check(x2.grad, w.numpy())
    check(s2.grad, np.take_along_axis(w.numpy(), idx.numpy(), 0))


def test_scatter_errors_like_pytorch(device: str) -> None:
    x = lg.zeros(2, 3, device=device)
    i = lg.tensor([[0, 1]], device=device)
    with pytest.raises(
        RuntimeError, match=r"scatter\(\): Expected self.dtype to be equal to src.dtype"
    ):
        x.scatter(1, i, lg.zeros(1, 2, dtype=lg.float64, device=device))
    with pytest.raises(RuntimeError, match=r"scatter_add\(\): Expected dtype int64 for index"):
        x.scatter_add(1, i.int(), lg.zeros(1, 2, device=device))
    with pytest.raises(RuntimeError, match="index 2 is out of bounds for dimension 0 with size 2"):
        x.scatter(0, lg.tensor([[2]], device=device), 1.0)
    with pytest.raises(RuntimeError, match="to be no larger size than src"):
        x.scatter(1, i, lg.zeros(1, 1, device=device))


def test_masked_fill_matches_numpy_with_broadcasting(device: str) -> None:
    a = RNG.standard_normal((3, 4)).astype(np.float32)
    m = RNG.random(4) < 0.5
    x, mask = lg.tensor(a, device=device), lg.tensor(m, device=device)
    check(lg.masked_fill(x, mask, -1.5), np.where(m, np.float32(-1.5), a))
    check(x.masked_fill(mask, lg.tensor(2.0, device=device)), np.where(m, np.float32(2), a))
    ints = lg.tensor([1, 2, 3], device=device)
    check(ints.masked_fill(lg.tensor([True, False, True], device=device), 7.9), np.array([7, 2, 7]))
    tall = lg.tensor(RNG.random((2, 1)) < 2, device=device)  # out of place: both broadcast
    check(
        lg.masked_fill(lg.tensor([1.0, 2.0], device=device), tall, 0.0),
        np.zeros((2, 2), np.float32),
    )


def test_masked_fill_gradient_and_in_place(device: str) -> None:
    a = RNG.standard_normal((2, 3))
    m = np.array([[True, False, False], [False, True, True]])
    mask = lg.tensor(m, device=device)
    x = lg.tensor(a, device=device, requires_grad=True)
    v = lg.tensor(0.5, dtype=lg.float64, device=device, requires_grad=True)
    out = x.masked_fill(mask, v)
    assert out.grad_fn.name() == "MaskedFillBackward0"
    out.sum().backward()
    check(x.grad, np.where(m, 0.0, 1.0))
    check(v.grad, np.float64(m.sum()))
    y = lg.tensor(a, device=device)
    assert y.masked_fill_(mask, 0.0) is y
    check(y, np.where(m, 0.0, a))


def test_masked_fill_errors_like_pytorch() -> None:
    x = lg.zeros(3)
    with pytest.raises(
        RuntimeError, match="only supports boolean masks, but got mask with dtype Long"
    ):
        x.masked_fill(lg.tensor([1, 0, 1]), 1.0)
    with pytest.raises(RuntimeError, match="only supports a 0-dimensional value tensor"):
        x.masked_fill(lg.tensor([True, False, True]), lg.zeros(1))


# ---- sort / argsort / topk / median ------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 2, 3, 8, 11])
@pytest.mark.parametrize("descending", [False, True])
def test_sort_is_stable_and_matches_a_reference(device: str, n: int, descending: bool) -> None:
    a = RNG.integers(-3, 3, (4, n)).astype(np.float32)  # many ties
    a[0, 0] = NAN
    a[1, -1] = -0.0
    x = lg.tensor(a, device=device)
    order = sort_reference(a, 1, descending)
    values, indices = lg.sort(x, descending=descending)
    check(indices, order)
    check(values, np.take_along_axis(a, order, 1))
    check(x.argsort(dim=1, descending=descending), order)


@pytest.mark.parametrize("dtype", ["int32", "int64", "bool", "float64"])
def test_sort_along_other_dims_and_dtypes(device: str, dtype: str) -> None:
    a = RNG.integers(-5, 5, (5, 3, 6)).astype(dtype)
    x = lg.tensor(a, device=device)
    for dim in (0, 2):
        s = x.sort(dim, stable=True)
        check(s.indices, np.argsort(a, dim, kind="stable"))
        check(s.values, np.sort(a, dim, kind="stable"))
    check(lg.argsort(x, 0, descending=True), sort_reference(a, 0, True))


def test_sort_of_0d_and_empty_tensors(device: str) -> None:
    v, i = lg.tensor(2.5, device=device).sort()
    check(v, np.float32(2.5))
    check(i, np.int64(0))
    s = lg.zeros(2, 0, device=device).sort()
    check(s.values, np.zeros((2, 0), np.float32))
    check(s.indices, np.zeros((2, 0), np.int64))


def test_sort_returns_a_named_tuple_and_scatters_the_gradient_back(device: str) -> None:
    a = RNG.standard_normal((2, 5))
    x = lg.tensor(a, device=device, requires_grad=True)
    s = x.sort(1, descending=True)
    assert type(s).__name__ == "sort" and repr(s).startswith("lazygrad.return_types.sort(")
    assert s.values.grad_fn.name() == "SortBackward0"
    w = np.arange(10.0).reshape(2, 5)
    (s.values * lg.tensor(w, device=device)).sum().backward()
    expected = np.zeros_like(a)
    np.put_along_axis(expected, s.indices.numpy(), w, 1)
    check(x.grad, expected)
    check_grad_fd(lambda t: t.sort(0).values * lg.tensor(w.T, device=device), a.T.copy(), device)


def test_sort_of_a_longer_dim(device: str) -> None:
    a = RNG.standard_normal((2, 100)).astype(np.float32)
    v, i = lg.tensor(a, device=device).sort(1)
    check(i, np.argsort(a, 1, kind="stable"))
    check(v, np.sort(a, 1))


@pytest.mark.parametrize("largest", [True, False])
def test_topk_picks_the_k_extreme_elements_in_order(device: str, largest: bool) -> None:
    a = RNG.integers(-4, 4, (3, 9)).astype(np.float32)
    x = lg.tensor(a, device=device)
    order = sort_reference(a, 1, largest)
    for k in (0, 1, 4, 9):
        values, indices = lg.topk(x, k, largest=largest)
        check(indices, order[:, :k])
        check(values, np.take_along_axis(a, order[:, :k], 1))
    t = x.topk(2, dim=0, largest=largest)
    check(t.indices, sort_reference(a, 0, largest)[:2])
    assert type(t).__name__ == "topk"


def test_topk_gradient_and_errors(device: str) -> None:
    a = RNG.standard_normal((3, 6))
    w = lg.tensor(RNG.standard_normal((3, 2)), device=device)
    check_grad_fd(lambda t: t.topk(2).values * w, a, device)
    x = lg.tensor(a, device=device, requires_grad=True)
    assert x.topk(2).values.grad_fn.name() == "TopkBackward0"
    with pytest.raises(RuntimeError, match="selected index k out of range"):
        x.topk(7)


def test_median_is_the_lower_median_with_its_index(device: str) -> None:
    a = RNG.integers(-5, 5, (4, 6)).astype(np.float32)
    a[2, 3] = NAN
    a[2, 5] = NAN
    x = lg.tensor(a, device=device)
    order = sort_reference(a, 1, False)
    expected_index = order[:, 2]  # (6 - 1) // 2
    expected_index[2] = 3  # the first NaN
    values, indices = lg.median(x, 1)
    check(indices, expected_index)
    check(values, a[np.arange(4), expected_index])
    m = x.median(0, keepdim=True)
    col = sort_reference(a, 0, False)[1]
    col[[3, 5]] = 2  # a column holding a NaN has a NaN median (its index)
    check(m.indices, col[None])
    assert type(m).__name__ == "median"
    check(lg.median(x[:2]), np.float32(np.sort(a[:2].ravel())[5]))
    check(x.median(), np.float32(NAN))


def test_median_gradient_goes_to_the_chosen_element(device: str) -> None:
    a = RNG.standard_normal((3, 5))
    check_grad_fd(lambda t: t.median(1).values, a, device)
    g = grad_of(lambda t: t.median(), a, device)
    expected = np.zeros_like(a)
    expected[np.unravel_index(np.argsort(a, axis=None)[7], a.shape)] = 1
    check(g, expected)


# ---- norm / var_mean ---------------------------------------------------------------------------
@pytest.mark.parametrize("p", ["fro", 2, 1, 3, 0.5, math.inf, -math.inf, 0])
def test_norm_matches_numpy(device: str, p) -> None:
    a = RNG.standard_normal((3, 4)).astype(np.float32)
    a[0, 1] = 0.0
    x = lg.tensor(a, device=device)
    q = 2 if p == "fro" else p
    check(lg.norm(x, p), np.linalg.norm(a.ravel(), q).astype(np.float32), rtol=1e-5)
    check(x.norm(p, dim=1), np.linalg.norm(a, q, axis=1).astype(np.float32), rtol=1e-5)
    check(
        x.norm(p, (0, 1), keepdim=True),
        np.linalg.norm(a.ravel(), q).reshape(1, 1).astype(np.float32),
        rtol=1e-5,
    )


@pytest.mark.parametrize("p", [2, 1, 3, math.inf])
def test_norm_gradient_matches_finite_differences(device: str, p) -> None:
    a = RNG.standard_normal((2, 4)) + 0.1
    check_grad_fd(lambda t: t.norm(p, dim=1), a, device)


def test_norm_gradient_at_zero_is_zero_and_ties_share_it(device: str) -> None:
    check(grad_of(lambda t: t.norm(), np.zeros(3), device), np.zeros(3))
    a = np.array([-2.0, 1.0, 2.0])
    check(grad_of(lambda t: t.norm(math.inf), a, device), [-0.5, 0.0, 0.5])
    with pytest.raises(RuntimeError, match="Expected a floating point or complex tensor"):
        lg.tensor([1, 2]).norm()
    check(lg.tensor([3, 4]).norm(dtype=lg.float64), np.float64(5.0))


def test_var_mean_matches_numpy(device: str) -> None:
    a = RNG.standard_normal((3, 5)).astype(np.float32)
    x = lg.tensor(a, device=device)
    v, m = lg.var_mean(x)
    check(v, np.var(a, ddof=1), rtol=1e-5)
    check(m, np.mean(a), rtol=1e-5, atol=1e-6)
    v, m = lg.var_mean(x, 1, correction=0, keepdim=True)
    check(v, np.var(a, 1, keepdims=True), rtol=1e-5)
    check(m, np.mean(a, 1, keepdims=True), rtol=1e-5)
    v, _ = lg.var_mean(x, False)
    check(v, np.var(a), rtol=1e-5)


# ---- nonzero / masked_select / unique ----------------------------------------------------------
def test_nonzero_matches_numpy(device: str) -> None:
    a = np.array([[0, 1.5, 0], [NAN, 0, -2]], np.float32)
    x = lg.tensor(a, device=device)
    check(x.nonzero(), np.argwhere(a))
    rows, cols = lg.nonzero(x, as_tuple=True)
    check(rows, np.nonzero(a)[0])
    check(cols, np.nonzero(a)[1])
    check(lg.tensor(5, device=device).nonzero(), np.zeros((1, 0), np.int64))
    (only,) = lg.tensor(0, device=device).nonzero(as_tuple=True)
    check(only, np.zeros(0, np.int64))


def test_masked_select_matches_numpy_and_routes_gradient(device: str) -> None:
    a = RNG.standard_normal((2, 3))
    m = np.array([True, False, True])
    mask = lg.tensor(m, device=device)
    check(
        lg.masked_select(lg.tensor(a, device=device), mask),
        np.broadcast_to(a, (2, 3))[np.broadcast_to(m, (2, 3))],
    )
    g = grad_of(lambda t: t.masked_select(mask) * 2, a, device)
    check(g, np.broadcast_to(np.where(m, 2.0, 0.0), (2, 3)))
    with pytest.raises(RuntimeError, match="expected BoolTensor for mask"):
        lg.masked_select(lg.zeros(3), lg.tensor([1, 0, 1]))


@pytest.mark.parametrize("dtype", ["int64", "float32"])
def test_unique_matches_numpy(device: str, dtype: str) -> None:
    a = RNG.integers(-3, 4, (3, 5)).astype(dtype)
    x = lg.tensor(a, device=device)
    values, inverse, counts = np.unique(a, return_inverse=True, return_counts=True)
    check(lg.unique(x), values)
    got, inv, cnt = x.unique(return_inverse=True, return_counts=True)
    check(got, values)
    check(inv, inverse.reshape(a.shape))
    check(cnt, counts)
    got, cnt = lg.unique(x[0], sorted=True, return_counts=True)
    check(cnt, np.unique(a[0], return_counts=True)[1])
    check(lg.unique(lg.zeros(0, device=device)), np.zeros(0, np.float32))


def test_lazy_ops_are_bound_as_methods_and_names() -> None:
    for name in ("all", "any", "amax", "amin", "cumsum", "cumprod", "sort", "argsort", "topk"):
        assert hasattr(lg, name) and hasattr(lg.Tensor, name)
    for name in ("masked_fill_", "scatter_", "scatter_add_", "gather", "take", "unique"):
        assert hasattr(lg.Tensor, name)
    assert hasattr(lg, "var_mean")
