"""Products and shape functions of `frontend/shapes.py` (bmm, einsum, tril, diagonal, roll,
unfold, ...): values against NumPy on both devices, gradients against float64 central
differences, PyTorch's errors, and the view semantics of diagonal/narrow/select/unfold."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from conftest import check

import lazygrad as lg

RNG = np.random.default_rng(16)
FD = {"rtol": 1e-6, "atol": 1e-7}


def rand(*shape: int, dtype: str = "float32") -> np.ndarray:
    if dtype.startswith("int"):
        return RNG.integers(-5, 6, shape).astype(dtype)
    return RNG.standard_normal(shape).astype(dtype)


def t(a: np.ndarray, device: str) -> lg.Tensor:
    return lg.tensor(a, device=device)


def check_grads(fn: Callable[..., lg.Tensor], arrays: list[np.ndarray], device: str) -> None:
    """Gradients of sum(fn(*xs) * w), w fixed random weights, against float64 central
    differences in every input."""
    xs = [lg.tensor(a, dtype=lg.float64, device=device, requires_grad=True) for a in arrays]
    out = fn(*xs)
    w = lg.tensor(RNG.standard_normal(tuple(out.shape)), device=device)
    (out * w).sum().backward()

    def value(values: list[np.ndarray]) -> float:
        return float((fn(*(lg.tensor(v, device=device) for v in values)) * w).sum().item())

    for k, a in enumerate(arrays):
        expected = np.zeros(a.shape)
        for idx in np.ndindex(a.shape):
            plus = [v.astype(np.float64) for v in arrays]
            minus = [v.astype(np.float64) for v in arrays]
            plus[k][idx] += 1e-6
            minus[k][idx] -= 1e-6
            expected[idx] = (value(plus) - value(minus)) / 2e-6
        assert xs[k].grad is not None, f"no gradient for input {k}"
        check(xs[k].grad, expected, **FD)


# ---- products ------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
def test_bmm_mm_dot_outer_values(device: str, dtype: str) -> None:
    a, b = rand(2, 3, 4, dtype=dtype), rand(2, 4, 5, dtype=dtype)
    check(lg.bmm(t(a, device), t(b, device)), a @ b)
    check(t(a, device).bmm(t(b, device)), a @ b)
    check(lg.mm(t(a[0], device), t(b[0], device)), a[0] @ b[0])
    u, v = rand(4, dtype=dtype), rand(4, dtype=dtype)
    check(lg.dot(t(u, device), t(v, device)), np.dot(u, v))
    check(t(u, device).dot(t(v, device)), np.dot(u, v))
    check(lg.outer(t(u, device), t(v[:3], device)), np.outer(u, v[:3]))
    check(t(u, device).outer(t(v, device)), np.outer(u, v))


def test_outer_promotes_and_empty_products(device: str) -> None:
    u, v = np.array([1, 2], np.int64), np.array([0.5, 1.5, 2.5], np.float32)
    check(lg.outer(t(u, device), t(v, device)), np.outer(u, v).astype(np.float32))
    a, b = np.zeros((2, 3, 0), np.float32), np.zeros((2, 0, 4), np.float32)
    check(lg.bmm(t(a, device), t(b, device)), np.zeros((2, 3, 4), np.float32))


@pytest.mark.parametrize(("beta", "alpha"), [(1, 1), (0.5, -2.0), (0, 3)])
def test_addmm_and_baddbmm(device: str, beta: float, alpha: float) -> None:
    inp, m1, m2 = rand(3), rand(2, 4), rand(4, 3)
    check(
        lg.addmm(t(inp, device), t(m1, device), t(m2, device), beta=beta, alpha=alpha),
        beta * inp + alpha * (m1 @ m2),
    )
    check(
        t(inp, device).addmm(t(m1, device), t(m2, device), beta=beta, alpha=alpha),
        beta * inp + alpha * (m1 @ m2),
    )
    inp, b1, b2 = rand(2, 1, 3), rand(2, 2, 4), rand(2, 4, 3)
    check(
        lg.baddbmm(t(inp, device), t(b1, device), t(b2, device), beta=beta, alpha=alpha),
        beta * inp + alpha * (b1 @ b2),
    )


def test_addmm_with_beta_zero_ignores_nan_input(device: str) -> None:
    m1, m2 = rand(2, 2), rand(2, 2)
    inp = np.full((2, 2), np.nan, np.float32)
    check(lg.addmm(t(inp, device), t(m1, device), t(m2, device), beta=0), m1 @ m2)


@pytest.mark.parametrize(("sa", "sb"), [((2, 3), (4, 5)), ((2,), (3, 2)), ((2, 1, 3), (2, 2))])
def test_kron(device: str, sa: tuple[int, ...], sb: tuple[int, ...]) -> None:
    a, b = rand(*sa), rand(*sb)
    check(lg.kron(t(a, device), t(b, device)), np.kron(a, b))
    check(t(a, device).kron(t(b, device)), np.kron(a, b))


@pytest.mark.parametrize(
    ("sa", "sb", "dims"),
    [
        ((2, 3, 4), (3, 4, 5), 2),
        ((2, 3), (3, 4), 1),
        ((2, 3), (4, 5), 0),
        ((3, 4, 2), (2, 3, 5), ([0, 2], [1, 0])),
        ((3, 4), (4, 3), ([1], [0])),
    ],
)
def test_tensordot(device: str, sa: tuple, sb: tuple, dims: object) -> None:
    a, b = rand(*sa), rand(*sb)
    check(
        lg.tensordot(t(a, device), t(b, device), dims),
        np.tensordot(a, b, dims),
        rtol=1e-5,
        atol=1e-5,
    )


def test_cross(device: str) -> None:
    a, b = rand(4, 3), rand(4, 3)
    check(lg.cross(t(a, device), t(b, device)), np.cross(a, b), atol=1e-5)
    check(t(a, device).cross(t(b, device), dim=1), np.cross(a, b), atol=1e-5)
    a, b = rand(3, 2), rand(1, 2)  # broadcast, the default dim being the first of size 3
    b3 = np.broadcast_to(b, (3, 2))
    check(
        lg.cross(t(a, device), t(np.repeat(b, 3, 0), device), dim=0),
        np.cross(a, b3, axis=0),
        atol=1e-5,
    )
    a, b = rand(2, 3), rand(1, 3)
    check(lg.cross(t(a, device), t(b, device), dim=-1), np.cross(a, b), atol=1e-5)


@pytest.mark.parametrize("p", [0.0, 1.0, 2.0, 3.0, float("inf")])
def test_cdist(device: str, p: float) -> None:
    x1, x2 = rand(2, 4, 3), rand(2, 5, 3)
    x2[0, 1] = x1[0, 2]  # a zero distance
    d = x1[:, :, None, :] - x2[:, None, :, :]
    if p == 0:
        expected = (d != 0).sum(-1).astype(np.float32)
    elif p == float("inf"):
        expected = np.abs(d).max(-1)
    else:
        expected = (np.abs(d) ** p).sum(-1) ** (1 / p)
    check(lg.cdist(t(x1, device), t(x2, device), p=p), expected, rtol=1e-5, atol=1e-5)


# ---- einsum --------------------------------------------------------------------------------
EINSUM_CASES = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ij,jk", [(2, 3), (3, 4)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("i,i->", [(5,), (5,)]),
    ("i,j->ij", [(3,), (4,)]),
    ("ij->ji", [(2, 3)]),
    ("ji", [(2, 3)]),
    ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]),
    ("iij->j", [(3, 3, 2)]),
    ("ij->", [(2, 3)]),
    ("ij,ij->ij", [(2, 3), (2, 3)]),
    ("ij,ij", [(2, 3), (2, 3)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("ab,cd->", [(2, 3), (4, 2)]),
    ("...ij,...jk->...ik", [(2, 2, 3), (2, 3, 4)]),
    ("...ij,jk", [(5, 2, 3), (3, 4)]),
    ("i...->...", [(3, 2, 4)]),
    ("bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]),
    ("b i d, b j d -> b i j", [(2, 3, 4), (2, 5, 4)]),
    ("ijk,jil->kl", [(2, 3, 4), (3, 2, 5)]),
    ("Ab,bA->A", [(3, 2), (2, 3)]),
]


@pytest.mark.parametrize(("equation", "shapes"), EINSUM_CASES)
def test_einsum_matches_numpy(device: str, equation: str, shapes: list[tuple[int, ...]]) -> None:
    arrays = [rand(*s) for s in shapes]
    expected = np.einsum(equation.replace(" ", ""), *arrays)
    got = lg.einsum(equation, *(t(a, device) for a in arrays))
    check(got, np.asarray(expected, np.float32), rtol=1e-5, atol=1e-5)


def test_einsum_list_sublist_broadcast_and_ints(device: str) -> None:
    a, b = rand(2, 3), rand(3, 4)
    check(lg.einsum("ij,jk->ik", [t(a, device), t(b, device)]), a @ b, rtol=1e-5, atol=1e-5)
    check(
        lg.einsum(t(a, device), [0, 1], t(b, device), [1, 2], [0, 2]), a @ b, rtol=1e-5, atol=1e-5
    )
    check(lg.einsum(t(a, device), [Ellipsis, 1], [Ellipsis]), a.sum(1), rtol=1e-5, atol=1e-5)
    x, y = rand(1, 3, 4), rand(2, 4, 5)  # size-1 ellipsis dims broadcast
    check(lg.einsum("...ij,...jk->...ik", t(x, device), t(y, device)), x @ y, rtol=1e-5, atol=1e-5)
    i, j = rand(2, 3, dtype="int64"), rand(3, 4, dtype="int64")
    check(lg.einsum("ij,jk->ik", t(i, device), t(j, device)), i @ j)


@pytest.mark.parametrize(
    ("equation", "shapes", "message"),
    [
        ("ij,jk->ik", [(2, 3)], "fewer operands were provided"),
        ("ij->ij", [(2, 3), (3, 3)], "more operands were provided"),
        ("...ijk->i", [(2, 3)], r"subscripts in the equation \(3\) is more than"),
        ("i->i", [(2, 3)], r"does not match the number of dimensions \(2\) for operand 0"),
        ("ij->k", [(2, 3)], "output subscript k does not appear"),
        ("ij->ii", [(2, 3)], "output subscript i appears more than once"),
        ("ii->i", [(2, 3)], "subscript i is repeated for operand 0 but the sizes don't match"),
        ("i1->i", [(2, 3)], "invalid subscript given at index 1"),
        ("i.j->i", [(2, 3)], "not part of any ellipsis"),
        ("ij,jk->ik", [(2, 3), (4, 5)], "operands do not broadcast"),
    ],
)
def test_einsum_errors(equation: str, shapes: list, message: str) -> None:
    with pytest.raises(RuntimeError, match=message):
        lg.einsum(equation, *(lg.zeros(*s) for s in shapes))


# ---- triangles and diagonals ---------------------------------------------------------------
@pytest.mark.parametrize("k", [-2, -1, 0, 1, 3])
@pytest.mark.parametrize("dtype", ["float32", "int32", "bool"])
def test_tril_triu(device: str, k: int, dtype: str) -> None:
    a = rand(2, 3, 4, dtype="float32" if dtype == "bool" else dtype)
    a = (a > 0) if dtype == "bool" else a
    check(lg.tril(t(a, device), k), np.tril(a, k))
    check(t(a, device).triu(k), np.triu(a, k))
    x = t(a, device)
    x.tril_(k)
    check(x, np.tril(a, k))


def test_tril_keeps_nan_above_zero_below(device: str) -> None:
    a = np.array([[np.nan, np.inf], [1.0, np.nan]], np.float32)
    check(lg.tril(t(a, device)), np.array([[np.nan, 0], [1, np.nan]], np.float32))


@pytest.mark.parametrize(
    ("shape", "offset", "dim1", "dim2"),
    [
        ((3, 4), 0, 0, 1),
        ((3, 4), 1, 0, 1),
        ((3, 4), -2, 0, 1),
        ((3, 4), 5, 0, 1),
        ((2, 3, 4), 0, 1, 2),
        ((2, 3, 4), -1, 2, 0),
        ((4, 2, 3), 1, -1, 0),
        ((0, 3), 0, 0, 1),
    ],
)
def test_diagonal(device: str, shape: tuple, offset: int, dim1: int, dim2: int) -> None:
    a = rand(*shape)
    expected = np.diagonal(a, offset, dim1, dim2)
    check(lg.diagonal(t(a, device), offset, dim1, dim2), expected)
    check(t(a, device).diagonal(offset=offset, dim1=dim1, dim2=dim2), expected)


@pytest.mark.parametrize("k", [-2, 0, 1])
def test_diag_diag_embed_trace(device: str, k: int) -> None:
    v, m = rand(3), rand(3, 4)
    check(lg.diag(t(v, device), k), np.diag(v, k))
    check(t(m, device).diag(k), np.diag(m, k))
    b = rand(2, 3)
    expected = np.stack([np.diag(row, k) for row in b])
    check(lg.diag_embed(t(b, device), k), expected)
    check(t(b, device).diag_embed(k, 0, 2), expected.transpose(1, 0, 2))
    check(lg.trace(t(m, device)), np.trace(m), rtol=1e-5)
    i = rand(3, 3, dtype="int32")
    check(t(i, device).trace(), np.int64(np.trace(i)))


def test_diag_of_empty_vector_is_zero_matrix(device: str) -> None:
    check(lg.diag(t(np.zeros(0, np.float32), device), 2), np.zeros((2, 2), np.float32))


# ---- slices, repeats and rolls ---------------------------------------------------------------
def test_narrow_select_unbind(device: str) -> None:
    a = rand(3, 4, 5)
    x = t(a, device)
    check(lg.narrow(x, 1, 1, 2), a[:, 1:3])
    check(x.narrow(-1, -3, 3), a[..., 2:5])
    check(x.narrow(0, lg.tensor(1), 0), a[1:1])
    check(lg.select(x, 1, -1), a[:, -1])
    check(x.select(2, 0), a[:, :, 0])
    parts = x.unbind(1)
    assert len(parts) == 4
    for i, p in enumerate(parts):
        check(p, a[:, i])
    assert len(lg.unbind(x)) == 3


@pytest.mark.parametrize(
    ("shape", "dim", "size", "step"),
    [
        ((7,), 0, 3, 1),
        ((7,), 0, 3, 2),
        ((7,), 0, 2, 5),
        ((3, 8), 1, 4, 4),
        ((5, 2, 3), 0, 2, 1),
        ((4, 3), -1, 3, 1),
        ((4, 3), 1, 0, 2),
        ((), 0, 1, 1),
    ],
)
def test_unfold(device: str, shape: tuple, dim: int, size: int, step: int) -> None:
    a = rand(*shape)
    if a.ndim:
        windows = np.lib.stride_tricks.sliding_window_view(a, size, axis=dim)
        expected = np.take(windows, np.arange(0, windows.shape[dim], step), axis=dim)
    else:
        expected = a.reshape(1)
    check(t(a, device).unfold(dim, size, step), expected)


@pytest.mark.parametrize(
    ("shape", "shifts", "dims"),
    [
        ((5,), 2, None),
        ((3, 4), 1, None),
        ((3, 4), -1, 1),
        ((3, 4), (1, 7), (0, 1)),
        ((2, 3), 3, 0),
        ((0, 3), 1, 0),
        ((2, 3), (1, 1), (1, 1)),
    ],
)
def test_roll(device: str, shape: tuple, shifts: object, dims: object) -> None:
    a = rand(*shape)
    check(lg.roll(t(a, device), shifts, dims), np.roll(a, shifts, dims))
    check(t(a, device).roll(shifts, dims), np.roll(a, shifts, dims))


@pytest.mark.parametrize(
    ("shape", "reps"), [((2, 3), (2, 2)), ((2, 3), (3, 1, 2)), ((3,), (0, 2)), ((), (2, 3))]
)
@pytest.mark.parametrize("dtype", ["float32", "int64", "bool"])
def test_repeat_and_tile(device: str, shape: tuple, reps: tuple, dtype: str) -> None:
    a = rand(*shape, dtype="float32" if dtype == "bool" else dtype)
    a = (a > 0) if dtype == "bool" else a
    check(t(a, device).repeat(*reps), np.tile(a, reps))
    check(t(a, device).repeat(reps), np.tile(a, reps))
    check(lg.tile(t(a, device), reps[1:]), np.tile(a, reps[1:]))
    check(t(a, device).tile(*reps), np.tile(a, reps))


def test_repeat_interleave(device: str) -> None:
    a = rand(2, 3)
    x = t(a, device)
    check(lg.repeat_interleave(x, 2), np.repeat(a, 2))
    check(x.repeat_interleave(3, dim=1), np.repeat(a, 3, axis=1))
    check(x.repeat_interleave(lg.tensor([2, 0, 1]), dim=-1), np.repeat(a, [2, 0, 1], axis=1))
    check(x.repeat_interleave(lg.tensor(2), dim=0, output_size=4), np.repeat(a, 2, axis=0))
    check(lg.repeat_interleave(lg.tensor([1, 0, 3])), np.array([0, 2, 2, 2]))


@pytest.mark.parametrize("n", [0, 1, 2, 4])
def test_diff(device: str, n: int) -> None:
    a, before, after = rand(2, 4), rand(2, 1), rand(2, 2)
    check(lg.diff(t(a, device), n), np.diff(a, n), atol=1e-5)
    check(
        t(a, device).diff(n, 1, t(before, device), t(after, device)),
        np.diff(a, n, 1, before, after),
        atol=1e-5,
    )
    check(lg.diff(t(a, device), n, dim=0), np.diff(a, n, axis=0), atol=1e-5)
    b = a > 0
    check(lg.diff(t(b, device), n), np.diff(b, n))


# ---- stacking and grids ----------------------------------------------------------------------
def test_hstack_vstack(device: str) -> None:
    u, v, s = rand(3), rand(2), np.array(1.5, np.float32)
    check(lg.hstack([t(u, device), t(v, device), t(s, device)]), np.hstack([u, v, s]))
    m, n = rand(2, 3), rand(2, 1)
    check(lg.hstack((t(m, device), t(n, device))), np.hstack([m, n]))
    check(lg.vstack([t(u, device), t(u, device)]), np.vstack([u, u]))
    check(lg.vstack([t(m, device), t(u, device)]), np.vstack([m, u]))
    check(lg.vstack([t(s, device), t(s, device)]), np.vstack([s, s]))


@pytest.mark.parametrize("indexing", ["ij", "xy"])
def test_meshgrid(device: str, indexing: str) -> None:
    a, b, c = rand(2), rand(3), rand(4)
    got = lg.meshgrid(t(a, device), t(b, device), t(c, device), indexing=indexing)
    for g, e in zip(got, np.meshgrid(a, b, c, indexing=indexing), strict=True):
        check(g, e)
    got = lg.meshgrid([t(a, device), t(b, device)], indexing=indexing)
    for g, e in zip(got, np.meshgrid(a, b, indexing=indexing), strict=True):
        check(g, e)
    check(lg.meshgrid(t(a, device))[0], a)


def test_conjugate_transposes(device: str) -> None:
    a, b = rand(2, 3), rand(4, 2, 3)
    check(t(a, device).H, a.T)
    check(t(b, device).mH, b.transpose(0, 2, 1))
    check(t(np.array(2.0, np.float32), device).H, np.array(2.0, np.float32))


# ---- views -----------------------------------------------------------------------------------
def test_writes_through_views_reach_the_base(device: str) -> None:
    a = rand(3, 4)
    x = t(a.copy(), device)
    x.diagonal(1).fill_(0)
    x.narrow(0, 2, 1).mul_(2)
    x.select(1, 0).add_(1)
    expected = a.copy()
    expected[[0, 1, 2], [1, 2, 3]] = 0
    expected[2] *= 2
    expected[:, 0] += 1
    check(x, expected)
    row = x.unbind(0)[1]
    x.add_(1)
    check(row, expected[1] + 1)


# ---- gradients -------------------------------------------------------------------------------
def _product(grids: tuple[lg.Tensor, ...]) -> lg.Tensor:
    return grids[0] * grids[1]


GRAD_CASES: list[tuple[str, Callable[..., lg.Tensor], list[tuple[int, ...]]]] = [
    ("bmm", lg.bmm, [(2, 2, 3), (2, 3, 2)]),
    ("addmm", lambda i, a, b: lg.addmm(i, a, b, beta=0.5, alpha=2), [(3,), (2, 2), (2, 3)]),
    ("baddbmm", lambda i, a, b: lg.baddbmm(i, a, b, alpha=-1), [(1, 2), (2, 2, 3), (2, 3, 2)]),
    ("dot", lg.dot, [(4,), (4,)]),
    ("outer", lg.outer, [(3,), (2,)]),
    ("kron", lg.kron, [(2, 2), (2, 1)]),
    ("tensordot", lambda a, b: lg.tensordot(a, b, ([0, 2], [1, 0])), [(2, 2, 3), (3, 2, 2)]),
    ("einsum_matmul", lambda a, b: lg.einsum("bij,bjk->bik", a, b), [(2, 2, 3), (2, 3, 2)]),
    ("einsum_trace", lambda a: lg.einsum("ii", a), [(3, 3)]),
    ("einsum_three", lambda a, b, c: lg.einsum("ij,j,jk->ik", a, b, c), [(2, 3), (3,), (3, 2)]),
    ("cross", lambda a, b: lg.cross(a, b, dim=0), [(3, 2), (3, 2)]),
    ("cdist2", lg.cdist, [(3, 2), (2, 2)]),
    ("cdist3", lambda a, b: lg.cdist(a, b, p=3), [(3, 2), (2, 2)]),
    ("cdist1", lambda a, b: lg.cdist(a, b, p=1), [(3, 2), (2, 2)]),
    ("trace", lg.trace, [(3, 4)]),
    ("tril", lambda a: lg.tril(a, -1), [(3, 3)]),
    ("triu", lambda a: lg.triu(a, 1), [(2, 3)]),
    ("diag", lambda a: lg.diag(a, 1), [(3,)]),
    ("diagonal", lambda a: a.diagonal(0, 0, 2), [(3, 2, 3)]),
    ("diag_embed", lambda a: lg.diag_embed(a, -1), [(2, 2)]),
    ("diff", lambda a: lg.diff(a, 2), [(2, 4)]),
    ("roll", lambda a: lg.roll(a, (1, -1), (0, 1)), [(2, 3)]),
    ("repeat", lambda a: a.repeat(2, 1, 2), [(2, 2)]),
    ("repeat_interleave", lambda a: a.repeat_interleave(lg.tensor([1, 3]), dim=0), [(2, 2)]),
    ("narrow_select", lambda a: a.narrow(1, 1, 2).select(0, 1), [(2, 3)]),
    ("unbind", lambda a: a.unbind(1)[0] * a.unbind(1)[2], [(2, 3)]),
    ("unfold", lambda a: a.unfold(1, 3, 1), [(2, 4)]),
    ("hstack", lambda a, b: lg.hstack([a, b]), [(2, 2), (2, 1)]),
    ("vstack", lambda a, b: lg.vstack([a, b]), [(2, 2), (2,)]),
    ("meshgrid", lambda a, b: _product(lg.meshgrid(a, b, indexing="xy")), [(2,), (3,)]),
]


@pytest.mark.parametrize(
    ("fn", "shapes"), [c[1:] for c in GRAD_CASES], ids=[c[0] for c in GRAD_CASES]
)
def test_gradients_match_finite_differences(device: str, fn: Callable, shapes: list) -> None:
    check_grads(fn, [rand(*s, dtype="float64") for s in shapes], device)


def test_cdist_gradient_is_zero_at_zero_distance(device: str) -> None:
    x = lg.tensor([[1.0, 2.0]], dtype=lg.float64, device=device, requires_grad=True)
    lg.cdist(
        x, lg.tensor([[1.0, 2.0], [1.0, 3.0]], dtype=lg.float64, device=device)
    ).sum().backward()
    check(x.grad, np.array([[0.0, -1.0]]))


# ---- errors ----------------------------------------------------------------------------------
ERROR_CASES = [
    (lambda: lg.bmm(lg.zeros(2, 3), lg.zeros(2, 3, 4)), RuntimeError, "batch1 must be a 3D tensor"),
    (
        lambda: lg.bmm(lg.zeros(2, 2, 3), lg.zeros(3, 3, 4)),
        RuntimeError,
        r"batch2 tensor to be: \[2, 3\] but got: \[3, 3\]",
    ),
    (
        lambda: lg.dot(lg.zeros(2, 2), lg.zeros(2)),
        RuntimeError,
        "1D tensors expected, but got 2D and 1D",
    ),
    (
        lambda: lg.outer(lg.zeros(2), lg.zeros(2, 1)),
        RuntimeError,
        "Expected 1-D argument vec2, but got 2-D",
    ),
    (lambda: lg.addmm(lg.zeros(4), lg.zeros(2, 3), lg.zeros(3, 3)), RuntimeError, "expanded size"),
    (
        lambda: lg.tensordot(lg.zeros(2, 3), lg.zeros(4, 5), 1),
        RuntimeError,
        "contracted dimensions need to match",
    ),
    (
        lambda: lg.tensordot(lg.zeros(2), lg.zeros(2), -1),
        RuntimeError,
        "tensordot expects dims >= 0",
    ),
    (lambda: lg.cross(lg.zeros(2, 2), lg.zeros(2, 2)), RuntimeError, "no dimension of size 3"),
    (
        lambda: lg.cross(lg.zeros(3, 2), lg.zeros(3, 2), dim=1),
        RuntimeError,
        "dimension 1 must have length 3",
    ),
    (
        lambda: lg.cdist(lg.zeros(3), lg.zeros(2, 3)),
        RuntimeError,
        "at least 2D tensors, X1 got: 1D",
    ),
    (lambda: lg.cdist(lg.zeros(2, 3), lg.zeros(2, 4)), RuntimeError, "same number of columns"),
    (lambda: lg.cdist(lg.zeros(2, 3), lg.zeros(2, 3), p=-1), RuntimeError, "non-negative p"),
    (
        lambda: lg.cdist(lg.zeros(2, 3), lg.zeros(2, 3), compute_mode="x"),
        ValueError,
        "not a valid value",
    ),
    (
        lambda: lg.tril(lg.zeros(3)),
        RuntimeError,
        "tril: input tensor must have at least 2 dimensions",
    ),
    (
        lambda: lg.diagonal(lg.zeros(3, 3), 0, 1, -1),
        RuntimeError,
        "diagonal dimensions cannot be identical",
    ),
    (lambda: lg.diagonal(lg.zeros(3), 0), IndexError, "Dimension out of range"),
    (lambda: lg.diag(lg.zeros(2, 2, 2)), RuntimeError, "Supports 1D or 2D tensors. Got 3D"),
    (lambda: lg.trace(lg.zeros(3)), RuntimeError, "expected a matrix, but got tensor with dim 1"),
    (lambda: lg.narrow(lg.zeros(4), 0, 3, 2), RuntimeError, r"start \(3\) \+ length \(2\) exceeds"),
    (lambda: lg.narrow(lg.zeros(4), 0, 5, 0), IndexError, "start out of range"),
    (lambda: lg.narrow(lg.zeros(4), 0, 0, -1), RuntimeError, "length must be non-negative"),
    (lambda: lg.narrow(lg.tensor(1.0), 0, 0, 1), RuntimeError, "cannot be applied to a 0-dim"),
    (
        lambda: lg.zeros(3, 4).select(0, 3),
        IndexError,
        r"index 3 out of range for tensor of size \[3, 4\]",
    ),
    (lambda: lg.unbind(lg.tensor(1.0)), IndexError, "tensor has no dimensions"),
    (
        lambda: lg.zeros(3).unfold(0, 4, 1),
        RuntimeError,
        "maximum size for tensor at dimension 0 is 3",
    ),
    (lambda: lg.zeros(3).unfold(0, 2, 0), RuntimeError, "step is 0 but must be > 0"),
    (lambda: lg.roll(lg.zeros(3), (1, 2)), RuntimeError, "shifts and dimensions must align"),
    (
        lambda: lg.zeros(2, 3).repeat(2),
        RuntimeError,
        "can not be smaller than number of dimensions",
    ),
    (lambda: lg.zeros(3).repeat_interleave(lg.tensor([1, 2])), RuntimeError, "same size as input"),
    (lambda: lg.zeros(3).repeat_interleave(-1), RuntimeError, "repeats can not be negative"),
    (lambda: lg.diff(lg.tensor(1.0)), RuntimeError, "at least one-dimensional"),
    (lambda: lg.diff(lg.zeros(3), -1), RuntimeError, "order must be non-negative"),
    (lambda: lg.hstack([]), RuntimeError, "hstack expects a non-empty TensorList"),
    (lambda: lg.meshgrid(lg.zeros(2), indexing="ji"), RuntimeError, "indexing must be one of"),
    (lambda: lg.meshgrid(lg.zeros(2, 2)), RuntimeError, "Expected 0D or 1D tensor"),
    (lambda: lg.zeros(3).H, RuntimeError, "tensor.H is only supported on matrices"),
    (lambda: lg.zeros(3).mH, RuntimeError, "tensor.mH is only supported on matrices"),
    (lambda: lg.einsum("i", lg.zeros(2), [0]), RuntimeError, None),
    (lambda: lg.einsum(lg.zeros(2), [52]), ValueError, r"valid range \[0, 52\)"),
]


@pytest.mark.parametrize(("call", "error", "message"), ERROR_CASES)
def test_errors_match_pytorch(call: Callable, error: type, message: str | None) -> None:
    with pytest.raises(error, match=message):
        call()


def test_every_name_is_offered() -> None:
    names = (
        "bmm mm addmm baddbmm dot outer kron einsum tensordot cross cdist trace tril triu diag "
        "diag_embed diagonal diff roll tile hstack vstack meshgrid repeat_interleave narrow unbind"
    )
    assert all(hasattr(lg, n) for n in names.split())
    methods = (
        "bmm addmm diag repeat unbind unfold select H mH tril triu tril_ triu_ roll narrow "
        "diagonal trace outer dot"
    )
    assert all(hasattr(lg.Tensor, n) for n in methods.split())
