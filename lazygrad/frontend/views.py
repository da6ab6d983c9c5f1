"""PyTorch's view semantics for lazy tensors.

In PyTorch a view shares storage with its base: an in-place write through a view changes the
base, and a write to the base shows in its views. Lazy tensors have no storage, so each result
of a view op (reshape, permute, expand, basic indexing, split, ...) is registered here with its
root tensor and the chain of ops that made it from the root:

- an in-place update of a view scatters the view's new value into the root, at the flat
  positions the chain selects (the chain replayed over an `arange` of the root's positions);
- an in-place update of a root (directly or through a view) re-derives every live view of it
  by replaying the view's chain over the root's new value.

Whether a registered result really is a view is decided at its first write: PyTorch's reshape
of a non-contiguous tensor copies, so a chain whose positions are not one strided window of
the root is a copy; a window that repeats positions (an expand) may not be written as a whole.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable

import numpy as np

from .. import recording
from ..autograd_state import is_grad_enabled
from ..engine.realize import updated
from ..ir.node import make
from ..ir.ops import Op
from ..ir.passes.fold_views import fold_views
from ..ir.view import View
from ..tensor import Tensor
from ..view_registry import Replay, ViewEntry, view_entries, views_of
from .creation import arange

_replaying = [0]


def snapshot(t: Tensor) -> Tensor:
    """A tensor standing for `t` as it is now (its node and autograd history), so that an
    in-place op on `t` records the old `t` as its input rather than `t` itself (which would
    make the op its own input and cut the history behind it)."""
    if t.grad_fn is None:
        return t
    old = Tensor._wrap(t._node, t._device, t._requires_grad)
    old.grad_fn = t.grad_fn
    return old


def register_view(
    out: Tensor, base: Tensor, replay: Replay, may_copy: bool = False, data_alias: bool = False
) -> None:
    """Record that `out` was made from `base` by `replay` (a view op; one that copies a
    non-contiguous input, as reshape does, says `may_copy`; `base.data` says `data_alias`)."""
    if _replaying[0] or out is base or not isinstance(out, Tensor):
        return
    parent = view_entries.get(id(base))
    if parent is not None and parent.may_copy and _layout(parent) == "copy":
        parent = None  # `base` is a copy in storage of its own: `out` views it, not its root
    root, chain = (parent.root, parent.chain) if parent else (base, ())
    may_copy = may_copy or (parent is not None and parent.may_copy)
    key, root_key = id(out), id(root)
    previous = view_entries.get(key)
    if previous is not None:  # registered again (a view op built from others): forget that
        siblings = views_of.get(id(previous.root), {})
        siblings.pop(key, None)
        if not siblings:
            views_of.pop(id(previous.root), None)

    def forget(_ref: weakref.ref, key: int = key, root_key: int = root_key) -> None:
        view_entries.pop(key, None)
        siblings = views_of.get(root_key)
        if siblings is not None:
            siblings.pop(key, None)
            if not siblings:
                del views_of[root_key]

    view_entries[key] = ViewEntry(
        weakref.ref(out, forget),
        root,
        chain + (replay,),
        may_copy=may_copy,
        data_alias=data_alias and parent is None,
    )
    views_of.setdefault(root_key, {})[key] = weakref.ref(out)


def view_op(fn: Callable | None = None, *, may_copy: bool = False) -> Callable:
    """Register the result(s) of movement function `fn` as views of its input (`may_copy`:
    `fn` copies a non-contiguous input instead, as reshape does)."""
    if fn is None:
        return functools.partial(view_op, may_copy=may_copy)

    @functools.wraps(fn)
    def wrapper(x: Tensor, *args: object, **kwargs: object) -> object:
        out = fn(x, *args, **kwargs)
        if isinstance(out, tuple):
            for i, piece in enumerate(out):
                register_view(piece, x, lambda b, i=i: fn(b, *args, **kwargs)[i], may_copy)
        else:
            register_view(out, x, lambda b: fn(b, *args, **kwargs), may_copy)
        return out

    return wrapper


def _replay(chain: tuple[Replay, ...], base: Tensor) -> Tensor:
    _replaying[0] += 1
    try:
        for step in chain:
            base = step(base)
    finally:
        _replaying[0] -= 1
    return base


def _flat_positions(t: Tensor) -> Tensor:
    """The flat position of each of `t`'s elements in its own storage, shaped like `t`."""
    flat = arange(t.numel(), device=t.device)
    return Tensor._wrap(make(Op.RESHAPE, (flat._node,), tuple(t.shape)), t.device)


def data_alias(t: Tensor) -> Tensor:
    """`t.data`: t's values without autograd history; writes through it change t."""
    out = t.detach()
    register_view(out, t, Tensor.detach, data_alias=True)
    return out


def window_in_root(t: Tensor) -> tuple[tuple[int, ...], int] | None:
    """(strides, offset) of a view `t` in its root's storage, when it is one strided window
    of it (PyTorch's layout of the view); None for a tensor that is not such a view."""
    entry = view_entries.get(id(t))
    if entry is None or entry.ref() is not t:
        return None
    window = _window(_positions(entry))
    return None if window is None else (tuple(window.strides), window.offset)


def _positions(entry: ViewEntry) -> Tensor:
    """The flat positions in the root that the view's elements are."""
    root = entry.root
    return _replay(entry.chain, _flat_positions(root))


def _window(positions: Tensor) -> View | None:
    """The flat positions of a view's elements in its root as one strided window over the
    root (a View), when the view ops fold into one; else None."""
    folded = fold_views([positions._node])[positions._node]
    if folded.op is Op.ARANGE:
        return View.contiguous(positions.shape)
    if folded.op is Op.VIEW and folded.src[0].op is Op.ARANGE and folded.arg.mask is None:
        return folded.arg  # type: ignore[return-value]
    return None


def _layout(entry: ViewEntry) -> str:
    """ "view", "overlapping" (some elements share a position) or "copy" (the positions are
    not one strided window of the root, so PyTorch would have copied)."""
    if entry.layout is None:
        positions = _positions(entry)
        view = _window(positions)
        if positions.numel() == 0:
            entry.layout = "view"
        elif view is not None:
            overlapping = any(
                s == 0 and n > 1 for s, n in zip(view.strides, view.shape, strict=True)
            )
            entry.layout = "overlapping" if overlapping else "view"
        else:  # the view ops did not fold into one view: look at the positions themselves
            entry.layout = _strided_layout(positions.detach().numpy())
    return entry.layout


def _strided_layout(positions: np.ndarray) -> str:
    """Whether integer `positions` are offset + sum(index * stride) for some strides."""
    offset = int(positions.reshape(-1)[0])
    strides = [
        int(positions[tuple(1 if k == d else 0 for k in range(positions.ndim))]) - offset
        if n > 1
        else 0
        for d, n in enumerate(positions.shape)
    ]
    grid = np.indices(positions.shape).reshape(positions.ndim, -1)
    expected = offset + np.tensordot(np.array(strides, dtype=np.int64), grid, axes=1)
    if not np.array_equal(expected, positions.reshape(-1)):
        return "copy"
    overlapping = any(s == 0 and n > 1 for s, n in zip(strides, positions.shape, strict=True))
    return "overlapping" if overlapping else "view"


def contiguous(t: Tensor) -> Tensor:
    """`t` itself when its elements lie in row-major order in the storage it shares (a
    tensor that is no view, or a view of a contiguous window), else a copy in new storage
    (PyTorch's `contiguous()`: writes to the copy do not reach the base)."""
    entry = _live_view(t)
    if entry is None or _row_major(entry):
        return t
    return t.clone()


def _row_major(entry: ViewEntry) -> bool:
    view = _window(_positions(entry))
    expected = View.contiguous(view.shape).strides if view is not None else ()
    return view is not None and all(
        n == 1 or s == e for n, s, e in zip(view.shape, view.strides, expected, strict=True)
    )


def _live_view(t: Tensor) -> ViewEntry | None:
    entry = view_entries.get(id(t))
    return entry if entry is not None and _layout(entry) != "copy" else None


def write_target(t: Tensor) -> tuple[Tensor, Tensor]:
    """For an indexed write into `t`: the tensor that holds t's elements (t itself, or the
    root it is a view of) and, shaped like `t`, the flat positions of t's elements in it."""
    entry = _live_view(t)
    if entry is not None and not entry.data_alias:  # an alias is written, then its root
        return entry.root, _positions(entry)
    return t, _flat_positions(t)


def before_in_place(t: Tensor, indexed: bool = False) -> None:
    """PyTorch's errors for an in-place write to `t` that depend on what `t` is a view of
    (an indexed write may target an expanded view: only the written elements matter)."""
    entry = _live_view(t)
    if entry is None:
        if indexed and t._requires_grad and t.is_leaf and is_grad_enabled():
            raise RuntimeError(
                "a view of a leaf Variable that requires grad is being used in an "
                "in-place operation."
            )
        return
    if entry.data_alias:  # `x.data` is written outside autograd, as in PyTorch
        return
    if entry.layout == "overlapping" and not indexed:
        raise RuntimeError(
            "unsupported operation: more than one element of the written-to "
            "tensor refers to a single memory location. Please clone() the "
            "tensor before performing the operation."
        )
    root = entry.root
    if root._requires_grad and root.is_leaf and is_grad_enabled():
        raise RuntimeError(
            "a view of a leaf Variable that requires grad is being used in an in-place operation."
        )


def after_in_place(t: Tensor) -> None:
    """Propagate an in-place update of `t` to the root it views and to the root's views."""
    entry = _live_view(t)
    root = t
    if entry is not None and entry.data_alias:
        root = entry.root
        root._set_data(t)
    elif entry is not None:
        root = entry.root
        positions = _positions(entry).detach()
        node = make(Op.SCATTER, (root._node, positions._node, t._cast_node(root.dtype)), "set")
        root._in_place(root._result(node, "CopySlices", (snapshot(root), t)))
    for key, ref in list(views_of.get(id(root), {}).items()):
        view = ref()
        sibling = view_entries.get(key)
        if view is None or sibling is None or sibling.root is not root:
            continue
        if _layout(sibling) == "copy":
            continue
        fresh = _replay(sibling.chain, root)
        if recording.active is not None:
            recording.active.will_change(view)
        view._node, view.grad_fn, view._requires_grad = (
            fresh._node,
            fresh.grad_fn,
            fresh._requires_grad,
        )
    updated(root)
