"""What `lg.jit` notes while it runs a function for the first time: which tensors that
existed before the call it changed, which it created, and whether a value left the graph.

Tensor code reports here only while a recording is active (`active` is None otherwise), so
the hooks cost one module attribute read on the paths that mutate tensors.
"""

from __future__ import annotations

import weakref
from typing import Any


class Recording:
    """The effects of one traced call on tensors (see `lazygrad.engine.jit`)."""

    def __init__(self) -> None:
        # id -> (tensor, its node, grad_fn and requires_grad before its first change)
        self.changed: dict[int, tuple[Any, Any, Any, bool]] = {}
        self.grads_set: dict[int, Any] = {}  # id -> tensor whose .grad was assigned
        # id -> (tensor, its .grad) for a .grad read before the call assigned one
        self.grads_read: dict[int, tuple[Any, Any]] = {}
        self.created: dict[int, weakref.ref] = {}  # tensors made during the call
        self.broken: str | None = None  # why the call cannot be replayed

    def will_change(self, t: Any) -> None:
        """`t`'s node (value) is about to be replaced."""
        if id(t) not in self.changed and id(t) not in self.created:
            self.changed[id(t)] = (t, t._node, t.grad_fn, t._requires_grad)

    def grad_assigned(self, t: Any) -> None:
        if id(t) not in self.created:
            self.grads_set.setdefault(id(t), t)

    def grad_read(self, t: Any) -> None:
        """`t.grad` is read: before the call assigned it, that is its value from before."""
        if id(t) not in self.created and id(t) not in self.grads_set:
            self.grads_read.setdefault(id(t), (t, t._grad))

    def made(self, t: Any) -> None:
        self.created[id(t)] = weakref.ref(t)

    def stop_replay(self, why: str) -> None:
        if self.broken is None:
            self.broken = why


active: Recording | None = None
