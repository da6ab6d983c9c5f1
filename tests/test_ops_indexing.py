"""Indexing, assignment and in-place ops: parity with NumPy (which shares PyTorch's indexing
rules for these keys), the laziness rule for in-place updates, and writes through views."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from conftest import (
    DTYPE_NAMES,
    arrays,
    check,
    examples,
    np_dtype,
    parity,
    shapes,
)
from hypothesis import assume, given
from hypothesis import strategies as st

import lazygrad as lg


@st.composite
def index_item(draw: Any, size: int, advanced: bool, length: int = 2) -> Any:
    """One item of a key for a dim of `size`: an int, a slice or (advanced) an int list of
    `length` (one length per key, so that the lists broadcast together)."""
    kinds = ["slice"] + (["int"] if size else []) + (["list"] if advanced and size else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "int":
        return draw(st.integers(-size, size - 1))
    if kind == "list":
        return draw(st.lists(st.integers(-size, size - 1), min_size=length, max_size=length))
    bound = st.one_of(st.none(), st.integers(-size - 2, size + 2))
    return slice(draw(bound), draw(bound), draw(st.one_of(st.none(), st.integers(1, 3))))


@st.composite
def key_case(draw: Any, advanced: bool = True) -> tuple[np.ndarray, Any]:
    """An array and a key for it: ints, slices, None, an Ellipsis and int lists."""
    shape = draw(shapes(max_dims=4, max_side=4))
    a = draw(arrays(draw(st.sampled_from(DTYPE_NAMES)), shape))
    used = draw(st.integers(0, a.ndim))
    ellipsis = draw(st.sampled_from(["none", "leading", "trailing"])) if used < a.ndim else "none"
    indexed = shape[a.ndim - used :] if ellipsis == "leading" else shape[:used]
    length = draw(st.integers(0, 3))
    items: list[Any] = [draw(index_item(n, advanced, length)) for n in indexed]
    if ellipsis != "none":
        items.insert(0 if ellipsis == "leading" else len(items), Ellipsis)
    for _ in range(draw(st.integers(0, 2))):
        items.insert(draw(st.integers(0, len(items))), None)
    if len(items) == 1 and draw(st.booleans()):
        return a, items[0]
    return a, tuple(items)


def torch_index(a: np.ndarray, key: Any) -> np.ndarray:
    """`a[key]` with PyTorch's rule: ints select first (as basic indexing), then the index
    lists apply to the remaining dims, NumPy-style (adjacent lists keep their place)."""
    items = key if isinstance(key, tuple) else (key,)
    basic = tuple(slice(None) if isinstance(k, list) else k for k in items)
    b = a[basic]
    if not any(isinstance(k, list) for k in items):
        return np.asarray(b)
    used = sum(1 for k in items if k is not None and k is not Ellipsis)
    second: list[Any] = []
    for k in items:
        if k is Ellipsis:
            second.extend([slice(None)] * (a.ndim - used))
        elif isinstance(k, list):
            second.append(np.array(k, dtype=np.intp))
        elif not isinstance(k, int):  # None and slices each leave one dim
            second.append(slice(None))
    return np.asarray(b[tuple(second)])


@parity(40, case=key_case())
def test_getitem(case: tuple[np.ndarray, Any], device: str) -> None:
    a, key = case
    check(lg.tensor(a, device=device)[key], torch_index(a, key))


@parity(40, case=key_case(advanced=False))
def test_getitem_chained(case: tuple[np.ndarray, Any], device: str) -> None:
    a, key = case
    t = lg.tensor(a, device=device)[key]
    expected = np.asarray(a[key])
    if expected.ndim and expected.shape[0]:
        check(t[0], expected[0])
        check(t[-1][...], expected[-1])


@pytest.mark.parametrize(
    "key",
    [
        (np.array([True, False, True]),),
        (slice(None), np.array([True, False, True, True])),
        (
            np.array(
                [[True, False, True, False], [False, False, False, False], [True, True, True, True]]
            ),
        ),
        (np.array([False, False, False]),),
        (1, np.array([False, True, True, False])),
    ],
)
def test_bool_mask(key: tuple, device: str) -> None:
    a = np.arange(12).reshape(3, 4)
    t = lg.tensor(a, device=device)
    lg_key = tuple(lg.tensor(k, device=device) if isinstance(k, np.ndarray) else k for k in key)
    check(t[lg_key if len(lg_key) > 1 else lg_key[0]], a[key])
    check(t[t > 5], a[a > 5])


def test_index_tensors_and_arrays(device: str) -> None:
    a = np.arange(24).reshape(2, 3, 4)
    t = lg.tensor(a, device=device)
    idx = lg.tensor([[0, 1], [1, 0]], device=device)
    check(t[idx], a[np.array([[0, 1], [1, 0]])])
    check(t[:, lg.tensor([2, 0], dtype=lg.int32, device=device)], a[:, [2, 0]])
    check(t[np.array([1])], a[np.array([1])])
    check(t[lg.tensor(1, device=device)], a[1])
    check(t[lg.tensor(1), lg.tensor([0, 2])], a[1, [0, 2]])
    check(t[np.int64(1), np.array([0, 2])], a[1, [0, 2]])
    check(t[[0, 1], :, [1, 2]], a[[0, 1], :, [1, 2]])  # separated: index dims come first
    check(t[:, [0, 1], [1, 2]], a[:, [0, 1], [1, 2]])  # adjacent: they stay in place
    check(t[[[0]], ..., [1, 2]], a[[[0]], ..., [1, 2]])
    check(t[0, [[0, 1]], [[1], [2]]], a[0, [[0, 1]], [[1], [2]]])
    check(t[[]], a[np.array([], np.intp)])
    check(t[:, []], a[:, np.array([], np.intp)])
    check((t * 2)[[1, 0]].sum(0), (a * 2)[[1, 0]].sum(0))


def test_bool_scalar_keys(device: str) -> None:
    a = np.arange(24).reshape(2, 3, 4)
    t = lg.tensor(a, device=device)
    check(t[True], a[None])
    check(t[False], a[None][:0])
    check(t[0, True], a[0][None])
    check(t[lg.tensor(True)], a[None])
    check(t[lg.tensor(False)], a[None][:0])


def test_getitem_of_0d_and_empty(device: str) -> None:
    check(lg.tensor(5, device=device)[()], np.array(5))
    check(lg.tensor(5, device=device)[None], np.array([5]))
    check(lg.tensor(5, device=device)[...], np.array(5))
    z = np.zeros((0, 3), np.float32)
    check(lg.tensor(z, device=device)[:, 1], z[:, 1])
    check(lg.tensor(z, device=device)[[]], z[np.array([], np.intp)])


def test_iteration_and_len(device: str) -> None:
    a = np.arange(6).reshape(3, 2)
    t = lg.tensor(a, device=device)
    assert len(t) == 3
    for got, want in zip(t, a, strict=True):
        check(got, want)


# ---- __setitem__ --------------------------------------------------------------------------------
def _item_dims(ndim: int, items: tuple) -> list[int | None]:
    """The dim of the indexed tensor each key item applies to (None for None/Ellipsis)."""
    used = sum(1 for k in items if k is not None and k is not Ellipsis)
    dims: list[int | None] = []
    dim = 0
    for k in items:
        if k is None:
            dims.append(None)
        elif k is Ellipsis:
            dims.append(None)
            dim += ndim - used
        else:
            dims.append(dim)
            dim += 1
    return dims


@st.composite
def setitem_case(draw: Any) -> tuple[np.ndarray, Any, Any]:
    """An array, a key selecting each position at most once, and a value that broadcasts to
    a[key] (a scalar, an array of that shape, or one with fewer / size-1 dims)."""
    a, key = draw(key_case())
    items = key if isinstance(key, tuple) else (key,)
    lists = [
        (k, d) for k, d in zip(items, _item_dims(a.ndim, items), strict=True) if isinstance(k, list)
    ]
    assume(len(lists) <= 1)
    for k, d in lists:
        assume(len({v % a.shape[d] for v in k}) == len(k))  # no repeated positions
    target = torch_index(a, key)
    kind = draw(st.sampled_from(["scalar", "full", "broadcast"]))
    if kind == "scalar":
        value: Any = draw(
            st.one_of(st.integers(-5, 5), st.floats(-5, 5, allow_nan=False), st.booleans())
        )
    else:
        dropped = 0 if kind == "full" else draw(st.integers(0, target.ndim))
        shape = tuple(
            1 if kind == "broadcast" and draw(st.booleans()) else n for n in target.shape[dropped:]
        )
        value = draw(arrays(draw(st.sampled_from(DTYPE_NAMES)), shape))
    return a, key, value


@parity(40, case=setitem_case())
def test_setitem(case: tuple[np.ndarray, Any, Any], device: str) -> None:
    a, key, value = case
    expected = a.copy()
    positions = torch_index(np.arange(a.size).reshape(a.shape), key)
    expected.reshape(-1)[positions.reshape(-1)] = np.broadcast_to(
        np.asarray(value, dtype=a.dtype)
        if not isinstance(value, np.ndarray)
        else value.astype(a.dtype),
        positions.shape,
    ).reshape(-1)
    t = lg.tensor(a, device=device)
    before = t.clone()
    t[key] = lg.tensor(value, device=device) if isinstance(value, np.ndarray) else value
    check(t, expected)
    check(before, a)  # recorded before the write: unchanged


def test_setitem_examples(device: str) -> None:
    a = np.arange(12).reshape(3, 4)
    cases = [
        ((1,), 0),
        ((1, 2), 100),
        ((slice(None), 1), np.array([7, 8, 9])),
        ((slice(None, None, 2), slice(None, None, 3)), -1),
        ((Ellipsis, -1), 2.7),
        (([0, 2],), np.array([1, 2, 3, 4])),
        ((None, 1), 3),
        ((slice(1, 3),), np.ones((1, 1, 4), np.int64)),
    ]
    for key, value in cases:
        expected = a.copy()
        expected[key] = value
        t = lg.tensor(a, device=device)
        t[key] = lg.tensor(value, device=device) if isinstance(value, np.ndarray) else value
        check(t, expected)
    t = lg.tensor(a, device=device)
    t[t > 5] = 0
    check(t, np.where(a > 5, 0, a))
    f = lg.tensor(np.arange(4.0, dtype=np.float32), device=device)
    f[lg.tensor([True, False, True, False], device=device)] = lg.tensor([10.0, 20.0], device=device)
    check(f, np.array([10.0, 1.0, 20.0, 3.0], np.float32))
    s = lg.tensor(5.0, device=device)
    s[()] = 3
    check(s, np.array(3.0, np.float32))
    s[...] = lg.tensor(4, device=device)
    check(s, np.array(4.0, np.float32))


def test_setitem_casts_to_the_target_dtype(device: str) -> None:
    t = lg.tensor(np.zeros((2, 3), np.int64), device=device)
    t[0] = 2.7
    t[1] = lg.tensor([1.5, -1.5, 3.9], device=device)
    check(t, np.array([[2, 2, 2], [1, -1, 3]]))
    b = lg.tensor([True, False], device=device)
    b[1] = 5
    check(b, np.array([True, True]))


# ---- in-place ops and laziness ----------------------------------------------------------------
IN_PLACE = {
    "add_": (lambda t, o: t.add_(o), np.add),
    "sub_": (lambda t, o: t.sub_(o), np.subtract),
    "mul_": (lambda t, o: t.mul_(o), np.multiply),
    "div_": (lambda t, o: t.div_(o), np.true_divide),
    "iadd": (lambda t, o: t.__iadd__(o), np.add),
    "isub": (lambda t, o: t.__isub__(o), np.subtract),
    "imul": (lambda t, o: t.__imul__(o), np.multiply),
    "itruediv": (lambda t, o: t.__itruediv__(o), np.true_divide),
}


@pytest.mark.parametrize("name", list(IN_PLACE))
def test_in_place_float(name: str, device: str) -> None:
    fn, ref = IN_PLACE[name]

    @examples(device, 20)
    @given(
        shape=shapes(min_dims=1, max_dims=3),
        dtype=st.sampled_from(("float32", "float64")),
        data=st.data(),
    )
    def run(shape: tuple[int, ...], dtype: str, data: Any) -> None:
        a = data.draw(arrays(dtype, shape))
        other_shape = shape[data.draw(st.integers(0, len(shape))) :]
        other_dtypes = DTYPE_NAMES[1:] if name in ("sub_", "isub") else DTYPE_NAMES
        o = data.draw(arrays(data.draw(st.sampled_from(other_dtypes)), other_shape, 1, 8))
        t = lg.tensor(a, device=device)
        with np.errstate(all="ignore"):
            expected = ref(a, o.astype(np.float64)).astype(a.dtype)
        result = fn(t, lg.tensor(o, device=device))
        assert result is t
        check(t, expected, rtol=1e-5, atol=1e-5)
        scalar = data.draw(st.one_of(st.integers(1, 4), st.floats(0.5, 4)))
        with np.errstate(all="ignore"):
            expected = ref(expected, scalar).astype(a.dtype)
        fn(t, scalar)
        check(t, expected, rtol=1e-5, atol=1e-5)

    run()


def test_in_place_integer_and_bool(device: str) -> None:
    t = lg.tensor([5, 6, 7], device=device)
    t += 1
    t *= 2
    t //= 3
    t %= 3
    t **= 2
    t -= 1
    expected = np.array([5, 6, 7])
    expected = (((expected + 1) * 2) // 3 % 3) ** 2 - 1
    check(t, expected)
    t.add_(lg.tensor([True, False, True], device=device))
    check(t, expected + np.array([1, 0, 1]))
    t.add_(2, alpha=3)
    check(t, expected + np.array([1, 0, 1]) + 6)
    m = lg.tensor([True, False], device=device)
    m &= lg.tensor([True, True], device=device)
    m |= lg.tensor([False, True], device=device)
    m ^= lg.tensor([True, False], device=device)
    check(m, np.array([False, True]))


def test_fill_zero_copy(device: str) -> None:
    t = lg.tensor(np.arange(6.0, dtype=np.float32).reshape(2, 3), device=device)
    assert t.zero_() is t
    check(t, np.zeros((2, 3), np.float32))
    t.fill_(2.5)
    check(t, np.full((2, 3), 2.5, np.float32))
    t.fill_(lg.tensor(7, device=device))
    check(t, np.full((2, 3), 7.0, np.float32))
    assert t.copy_(lg.tensor([1, 2, 3], device=device)) is t
    check(t, np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]], np.float32))
    ints = lg.tensor([1, 2, 3], device=device)
    ints.fill_(2.7)
    check(ints, np.array([2, 2, 2]))
    ints.copy_(lg.tensor([1.9, -1.9, 0.5], device=device))
    check(ints, np.array([1, -1, 0]))


def test_in_place_clamp_and_pow(device: str) -> None:
    t = lg.tensor(np.arange(4.0, dtype=np.float32), device=device)
    t.clamp_(1, 2)
    check(t, np.array([1.0, 1.0, 2.0, 2.0], np.float32))
    t.pow_(2)
    check(t, np.array([1.0, 1.0, 4.0, 4.0], np.float32))


def test_laziness_rule_for_in_place(device: str) -> None:
    a = lg.tensor(np.arange(4.0, dtype=np.float32), device=device)
    b = a * 2
    a.add_(1)
    check(b, np.arange(4.0, dtype=np.float32) * 2)
    check(a, np.arange(4.0, dtype=np.float32) + 1)
    c = a.sum()
    a[0] = 5
    check(c, np.array(10.0, np.float32))
    check(a, np.array([5.0, 2.0, 3.0, 4.0], np.float32))


@pytest.mark.parametrize("realize_first", [False, True])
def test_laziness_independent_of_realize_order(realize_first: bool, device: str) -> None:
    a = lg.tensor(np.ones(3, np.float32), device=device)
    b = a + 1
    c = b * a
    if realize_first:
        lg.realize(b, c)
    a.mul_(10)
    b.sub_(1)
    d = a + b
    check(c, np.full(3, 2.0, np.float32))
    check(b, np.ones(3, np.float32))
    check(d, np.full(3, 11.0, np.float32))
    check(a, np.full(3, 10.0, np.float32))


def test_in_place_result_type_rules(device: str) -> None:
    ints = lg.tensor([1, 2], device=device)
    with pytest.raises(
        RuntimeError, match="result type Float can't be cast to the desired output type Long"
    ):
        ints.add_(1.5)
    check(ints, np.array([1, 2]))
    with pytest.raises(
        RuntimeError, match="output with shape \\[2\\] doesn't match the broadcast shape \\[2, 2\\]"
    ):
        ints.add_(lg.ones(2, 2, dtype=lg.int64, device=device))
    check(ints, np.array([1, 2]))


# ---- views: writes reach the base, base updates reach views -----------------------------------
def test_chained_setitem_writes_through(device: str) -> None:
    a = lg.zeros(3, 4, device=device)
    a[1][2] = 50
    expected = np.zeros((3, 4), np.float32)
    expected[1, 2] = 50
    check(a, expected)
    row = a[0]
    row.fill_(1)
    expected[0] = 1
    check(a, expected)
    a.add_(1)
    check(row, np.full(4, 2.0, np.float32))


def _set(key: Any, value: Any) -> Any:
    return lambda x: x.__setitem__(key, value)


@pytest.mark.parametrize(
    "make_view, write, numpy_write, numpy_view",
    [
        (lambda t: t.t(), _set(0, 1), _set((slice(None), 0), 1), lambda x: x.T),
        (lambda t: t.reshape(12), _set(5, 1), _set((1, 1), 1), lambda x: x.reshape(12)),
        (
            lambda t: t.view(2, 6),
            _set(1, 7),
            lambda x: x.reshape(-1).__setitem__(slice(6, None), 7),
            lambda x: x.reshape(2, 6),
        ),
        (
            lambda t: t[:, 1:3].reshape(3, 1, 2),
            _set((2, 0, 1), 1),
            _set((2, 2), 1),
            lambda x: x[:, 1:3].reshape(3, 1, 2),
        ),
        (
            lambda t: t[1::2, ::3],
            lambda v: v.add_(7),
            _set((slice(1, None, 2), slice(None, None, 3)), np.array([[11.0, 14.0]])),
            lambda x: x[1::2, ::3],
        ),
        (
            lambda t: t.unsqueeze(0).squeeze(0).flatten(),
            _set(3, 9),
            _set((0, 3), 9),
            lambda x: x.reshape(-1),
        ),
        (lambda t: t.chunk(2, 1)[1], _set(0, 4), _set((0, slice(2, None)), 4), lambda x: x[:, 2:]),
        (lambda t: t.split(2)[1], lambda v: v.fill_(5), _set(slice(2, None), 5), lambda x: x[2:]),
        (
            lambda t: t[None],
            lambda v: v.__iadd__(1),
            _set(Ellipsis, np.arange(1, 13.0).reshape(3, 4)),
            lambda x: x[None],
        ),
        (lambda t: t.T[0], _set(1, 9), _set((1, 0), 9), lambda x: x.T[0]),
        (
            lambda t: t[...],
            lambda v: v.mul_(3).sub_(1),
            _set(Ellipsis, np.arange(12.0).reshape(3, 4) * 3 - 1),
            lambda x: x,
        ),
        (
            lambda t: t.expand(2, 3, 4),
            _set((0, 0, 0), 1),
            _set((0, 0), 1),
            lambda x: np.broadcast_to(x, (2, 3, 4)),
        ),
    ],
)
def test_write_through_views(
    make_view: Any, write: Any, numpy_write: Any, numpy_view: Any, device: str
) -> None:
    base = np.arange(12, dtype=np.float32).reshape(3, 4)
    t = lg.tensor(base, device=device)
    view = make_view(t)
    write(view)
    expected = base.copy()
    numpy_write(expected)
    check(t, expected)
    check(view, np.asarray(numpy_view(expected)))


@pytest.mark.parametrize(
    "make_copy",
    [
        lambda t: t.t().reshape(12),  # reshape of a transposed tensor copies in PyTorch
        lambda t: t[[0, 1]],  # advanced indexing copies
        lambda t: t.flip(0),
        lambda t: t * 1,
        lambda t: t.clone(),
        lambda t: lg.cat([t, t]),
    ],
)
def test_copies_do_not_write_through(make_copy: Any, device: str) -> None:
    base = np.arange(12, dtype=np.float32).reshape(3, 4)
    t = lg.tensor(base, device=device)
    copy = make_copy(t)
    copy.add_(100)
    check(t, base)


def test_base_updates_show_in_views(device: str) -> None:
    t = lg.tensor(np.zeros((3, 5), np.float32), device=device)
    strided = t[:, ::2]
    row = t[1]
    col = t.T[2]
    t.fill_(2)
    t[1, 2] = 7
    check(strided, np.array([[2, 2, 2], [2, 7, 2], [2, 2, 2]], np.float32))
    check(row, np.array([2, 2, 7, 2, 2], np.float32))
    check(col, np.array([2, 7, 2], np.float32))
    before = row * 1
    t.zero_()
    check(before, np.array([2, 2, 7, 2, 2], np.float32))
    check(row, np.zeros(5, np.float32))


def test_views_of_non_float_dtypes(device: str) -> None:
    t = lg.tensor(np.arange(6).reshape(2, 3), device=device)
    t[1][0] = -1
    t.T[2].fill_(9)
    check(t, np.array([[0, 1, 9], [-1, 4, 9]]))
    m = lg.tensor(np.zeros((2, 2), bool), device=device)
    m[0][1] = True
    check(m, np.array([[False, True], [False, False]]))


def test_np_dtype_helper() -> None:
    assert np_dtype("bool") == np.bool_
    assert np_dtype("int32") == np.int32


def test_in_place_ops_keep_autograd_history(device: str) -> None:
    # values from PyTorch 2.13 for the same code
    x = lg.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True, device=device)
    y = x * 2
    y.mul_(3)
    y += x
    assert y.grad_fn is not None and y.grad_fn.name() == "AddBackward0"
    y.sum().backward()
    check(x.grad, np.full(4, 7.0, np.float32))

    x = lg.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True, device=device)
    y = x * 2
    y[0] = 0
    (y * y).sum().backward()
    check(x.grad, np.array([0.0, 16.0, 24.0, 32.0], np.float32))

    x = lg.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True, device=device)
    y = x * 2
    y[1:3].mul_(3)  # through a view
    y.sum().backward()
    check(x.grad, np.array([2.0, 6.0, 6.0, 2.0], np.float32))

    a = lg.zeros(4, device=device)
    b = lg.tensor([1.0, 2.0], requires_grad=True, device=device)
    a[1:3] = b * 3
    assert a.requires_grad
    (a * a).sum().backward()
    check(b.grad, np.array([18.0, 36.0], np.float32))


def test_in_place_under_no_grad_keeps_leaf(device: str) -> None:
    w = lg.tensor([1.0, 2.0], requires_grad=True, device=device)
    with lg.no_grad():
        w.sub_(0.5)
        w[0] = 10.0
        w.T.mul_(2)
    assert w.is_leaf and w.requires_grad and w.grad_fn is None
    (w * w).sum().backward()
    check(w.grad, np.array([40.0, 6.0], np.float32))


def test_movement_after_advanced_indexing(device: str) -> None:
    base = np.arange(8).reshape(4, 2)
    a = lg.tensor(base, device=device) * 1  # lazy, so the gather reads a computed value
    check(a[[0, 2]].T, base[[0, 2]].T)
    check(
        a[lg.tensor([[0, 2], [1, 3]])].permute(2, 0, 1), base[[[0, 2], [1, 3]]].transpose(2, 0, 1)
    )
