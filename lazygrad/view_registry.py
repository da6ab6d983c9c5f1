"""Which tensors are views of which (the records `frontend.views` keeps), readable below
the ops: `lg.jit` asks whether a tensor is a view or has views without importing the ops."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Container
from dataclasses import dataclass

from .tensor import Tensor

Replay = Callable[[Tensor], Tensor]


@dataclass
class ViewEntry:
    ref: weakref.ref
    root: Tensor
    chain: tuple[Replay, ...]
    layout: str | None = None  # "view", "overlapping" or "copy", decided at the first write
    may_copy: bool = False  # the chain has a reshape, which copies a non-contiguous input
    data_alias: bool = False  # `root.data`: writes replace root's values, outside autograd


view_entries: dict[int, ViewEntry] = {}  # id(view) -> entry
views_of: dict[int, dict[int, weakref.ref]] = {}  # id(root) -> {id(view): ref}


def entangled(t: Tensor, besides: Container[int] = ()) -> bool:
    """Whether `t` is a view or has views (other than those whose ids are in `besides`):
    an in-place write to it reaches other tensors."""
    if id(t) in view_entries:
        return True
    views = views_of.get(id(t))
    return views is not None and any(key not in besides for key in views)
