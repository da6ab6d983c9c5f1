"""`lg.jit(fn)`: record a function's tensor program once, then replay it without its Python.

The first call for each input signature runs `fn` as usual, lazily, while
`lazygrad.recording` notes which tensors that existed before the call it changed (updated
in place, `.grad` assigned) and which gradients it read. Its results are then realized as
one schedule, and the call becomes a plan: which tensor fills each input slot of that
schedule, and where each result goes (return value, updated tensor, `.grad`). Later calls
with the same signature skip `fn`: they bind the new input buffers, run the cached
schedule and write the results.

Like `torch.jit.trace` and `jax.jit`, the Python values a call reads (numbers, flags,
branches taken, which tensor a name refers to) are those of its first call. Tensors a
replayed call returns carry no autograd history. A call that could not be replayed exactly
runs `fn` as usual; `LAZYGRAD_DEBUG=1` says why. See `jit` for the cases.
"""

from __future__ import annotations

import functools
import gc
import sys
import types
import weakref
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import live, lru, recording
from ..autograd_state import is_grad_enabled
from ..ir.node import Node
from ..ir.ops import Op
from ..tensor import Tensor
from ..view_registry import entangled, view_entries
from .realize import (
    CachedSchedule,
    Realized,
    buffer_of,
    debug_level,
    pending_of,
    point_at,
    realize,
    realize_pending,
    realized_values,
)

# Where a tensor a plan reads or writes is found at each call: ("arg", index into the
# call's tensor arguments), ("tensor", weak reference to a tensor that outlives calls) or
# ("grad", Who): the .grad of that tensor as it is at the call.
Who = tuple[str, Any]


def _flatten(obj: Any, tensors: list[Tensor]) -> Hashable:
    """The structure of `obj` as a hashable key, collecting its tensors in order."""
    kind = type(obj)
    if kind is dict:
        return (dict, tuple((k, _flatten(v, tensors)) for k, v in obj.items()))
    if kind is tuple or kind is list:
        return (kind, tuple(_flatten(o, tensors) for o in obj))
    if isinstance(obj, Tensor):
        tensors.append(obj)
        node, dev = obj._node, obj._device
        return (node.shape, node.dtype, dev.type, dev.index, obj._requires_grad)
    if isinstance(obj, tuple | list):  # named tuples and other subclasses
        return (kind, tuple(_flatten(o, tensors) for o in obj))
    if isinstance(obj, dict):
        return (kind, tuple((k, _flatten(v, tensors)) for k, v in obj.items()))
    if isinstance(obj, float | complex | np.inexact):  # 0.0 == -0.0, and nan != nan
        return ("V", kind, repr(obj))
    try:
        hash(obj)
    except TypeError:
        return ("O", id(obj))  # unhashable: the same object
    return ("V", kind, obj)


def _map_leaves(obj: Any, fn: Callable[[Any], Any]) -> Any:
    """`obj` rebuilt with `fn` applied to what its tuples, lists and dicts hold."""
    if type(obj) in (tuple, list):
        return type(obj)(_map_leaves(o, fn) for o in obj)
    if isinstance(obj, tuple) and hasattr(obj, "_make"):  # a named tuple
        return type(obj)._make(_map_leaves(o, fn) for o in obj)
    if type(obj) is dict:
        return {k: _map_leaves(v, fn) for k, v in obj.items()}
    return fn(obj)


def _returned(obj: Any, tensors: list[Tensor]) -> Any:
    """`obj` (a call's return value) with its tensors replaced by their positions (one
    position per distinct tensor, so that `return y, y` returns one tensor twice)."""

    def slot(leaf: Any) -> Any:
        if isinstance(leaf, Tensor):
            for i, t in enumerate(tensors):
                if t is leaf:
                    return _Slot(i)
            tensors.append(leaf)
            return _Slot(len(tensors) - 1)
        if leaf is None or isinstance(leaf, bool | int | float | complex | str | bytes):
            return leaf
        raise _NotReplayable(f"it returns a {type(leaf).__name__}")

    return _map_leaves(obj, slot)


def _rebuild(template: Any, tensors: list[Tensor]) -> Any:
    """`template` (see `_returned`) with each `_Slot` replaced by its tensor."""
    return _map_leaves(template, lambda o: tensors[o.index] if isinstance(o, _Slot) else o)


@dataclass(frozen=True)
class _Slot:
    """A returned tensor's place in a template: its position among the tensors returned."""

    index: int


class _NotReplayable(Exception):
    """Why a recorded call cannot be replayed; `again`: the next call may record anew."""

    def __init__(self, why: str, again: bool = False):
        super().__init__(why)
        self.again = again


class _Stale(Exception):
    """A plan does not hold for this call (the caller records it again)."""


_STALE = object()  # what `_ReplayPlan.replay` returns when its plan does not hold


@dataclass
class _ReplayPlan:
    """How to replay one recorded call."""

    entry: CachedSchedule | None  # None when the call computed nothing
    sources: list[Who]  # per input slot of the schedule
    values: dict[Node, Any]  # the PARAM arguments, as recorded
    # per tensor the call made that outlives it (returned, or set as a gradient): where
    # its value comes from, ("target", index of the schedule's target) or ("input", Who)
    made: list[tuple[str, Any]]
    template: Any  # the return value, tensors replaced by _Slot(index into `returned`)
    returned: list[tuple[str, Any]]  # ("made", index into `made`) or ("same", Who)
    devices: list[Any]  # per tensor in `made`
    changed: list[tuple[Who, tuple[str, Any]]]  # tensors updated in place, and their value
    # tensors whose .grad the call set: to None, ("made", index) or ("same", Who)
    grads: list[tuple[Who, tuple[str, Any] | None]]
    # the tensors from outside the arguments the plan reads or writes, and what each looked
    # like when recorded: shape etc., and which argument (if any) held its buffer
    specs: list[tuple[Who, tuple]]
    # tensors that held one buffer when recorded (which one the call read is unknown):
    # the plan holds while they still do
    together: list[list[Who]]
    grads_read: list[tuple[Who, tuple | None]]  # gradients read as they were: their spec
    bound: list[tuple[int, weakref.ref]]  # arguments that must be the same objects

    def replay(self, args: list[Tensor], buffers: list[int]) -> Any:
        """Run the plan with this call's (realized) tensor arguments, whose buffers are
        `buffers` (ids); `_STALE` when the plan does not hold for this call."""
        found = self._outside()
        if found is None:
            return _STALE
        lookup = functools.partial(_lookup, args=args, found=found)
        try:
            self._check_holds(args, buffers, found, lookup)
            outputs = self._run(self._inputs(lookup))
            return self._write(outputs, lookup)
        except _Stale:
            return _STALE

    def _outside(self) -> dict[int, Tensor] | None:
        """The outside tensors the plan reads or writes, realized (they may have been
        computed lazily since the last call), by id of their weak reference, in `specs`
        order; None when one of them is gone."""
        found: dict[int, Tensor] = {}
        for who, _ in self.specs:
            t = who[1]()
            if t is None:
                return None
            found[id(who[1])] = t
        realize(*found.values())
        return found

    def _check_holds(
        self,
        args: list[Tensor],
        buffers: list[int],
        found: dict[int, Tensor],
        lookup: Callable[[Who], Tensor],
    ) -> None:
        """Raises `_Stale` unless the outside tensors, the arguments bound to objects and
        the gradients the call read look as they did when it was recorded."""
        for (_, spec), t in zip(self.specs, found.values(), strict=True):
            if _spec(t, buffers) != spec:
                raise _Stale
        for i, ref in self.bound:
            if args[i] is not ref():
                raise _Stale
        for who, spec in self.grads_read:
            grad = lookup(who).grad
            if (None if grad is None else _grad_spec(grad)) != spec:
                raise _Stale

    def _inputs(self, lookup: Callable[[Who], Tensor]) -> list[Tensor]:
        """The tensors to bind to the schedule's input slots, with every tensor the replay
        reads realized (lazy gradients). Raises `_Stale` when tensors that held one buffer
        when recorded no longer do, or a tensor the plan updates has gained a view (the
        view would not follow a replay)."""
        tensors = [lookup(who) for who in self.sources]
        groups = [[lookup(w) for w in group] for group in self.together]
        kept = [lookup(at) for at in self.inputs_kept]
        realize(*tensors, *(t for group in groups for t in group), *kept)
        if any(len({id(buffer_of(t._node)) for t in group}) > 1 for group in groups):
            raise _Stale
        if any(entangled(lookup(who)) for who, _ in self.changed):
            raise _Stale
        return tensors

    def _run(self, tensors: list[Tensor]) -> list[Node]:
        """Run the recorded schedule on the buffers of `tensors` (one per input slot);
        returns a BUFFER node holding each target's value, in target order."""
        if self.entry is None:
            return []
        slots = zip(self.entry.inputs, tensors, strict=True)
        return self.entry.run({slot: buffer_of(t._node) for slot, t in slots}, self.values)

    def _write(self, outputs: list[Node], lookup: Callable[[Who], Tensor]) -> Any:
        """Point the updated tensors at their new values, set the gradients the call sets,
        and return the call's return value, given the schedule's `outputs`."""
        # tensors from before the call that it returns or sets as gradients, as they are
        # before the replay writes anything (a gradient it read is the one from before)
        before = {id(ref): lookup(ref[1]) for ref in self.same}
        for who, where in self.changed:
            point_at(lookup(who), *self._value(where, outputs, lookup))
        made = [
            Tensor._wrap(self._value(where, outputs, lookup)[0], device)
            for where, device in zip(self.made, self.devices, strict=True)
        ]

        def resolve(ref: tuple[str, Any]) -> Tensor:
            return made[ref[1]] if ref[0] == "made" else before[id(ref)]

        for who, ref in self.grads:
            lookup(who).grad = None if ref is None else resolve(ref)
        return _rebuild(self.template, [resolve(ref) for ref in self.returned])

    def _value(
        self, where: tuple[str, Any], outputs: list[Node], lookup: Callable[[Who], Tensor]
    ) -> tuple[Node, bool]:
        """The node holding a result (see `made`), and whether its buffer may be another
        tensor's too."""
        kind, at = where
        if kind == "target":
            return outputs[at], self.entry.shared[at]  # type: ignore[union-attr]
        return _stored(lookup(at)), True

    @functools.cached_property
    def same(self) -> list[tuple[str, Any]]:
        """The ("same", Who) references of returned tensors and gradients set."""
        refs = [*self.returned, *(ref for _, ref in self.grads if ref is not None)]
        return [ref for ref in refs if ref[0] == "same"]

    @functools.cached_property
    def inputs_kept(self) -> list[Who]:
        """The tensors whose values the call returns or writes unchanged (an input as is)."""
        return [at for kind, at in [*self.made, *(v for _, v in self.changed)] if kind == "input"]


def _lookup(who: Who, args: list[Tensor], found: dict[int, Tensor]) -> Tensor:
    """The tensor `who` names at this call (`found`: the outside tensors, by id of their
    weak reference); raises `_Stale` for the .grad of a tensor that has none now."""
    if who[0] == "arg":
        return args[who[1]]
    if who[0] == "tensor":
        return found[id(who[1])]
    grad = _lookup(who[1], args, found).grad
    if grad is None:
        raise _Stale
    return grad


def _stored(t: Tensor) -> Node:
    """The node holding `t`'s value: the BUFFER node stored for it once realized, else its
    own node."""
    return realized_values.get(t._node) or t._node


def _spec(t: Tensor, arg_buffers: list[int]) -> tuple:
    """What a replay needs an outside tensor to look like as it did when recorded."""
    buffer = id(buffer_of(t._node)) if t._node.op is Op.BUFFER or t._node in realized_values else 0
    shares = next((i for i, b in enumerate(arg_buffers) if b == buffer), -1)
    return (*_grad_spec(t), t.requires_grad, shares)


def _grad_spec(grad: Tensor) -> tuple:
    """What a replay needs a gradient it read to look like: shape, dtype and device."""
    return (tuple(grad.shape), grad.dtype, str(grad.device))


REACH_DEPTH = 6
REACH_LIMIT = 20000


def _reachable(fn: Any) -> set[int]:
    """The ids of the tensors `fn`'s Python can reach without its arguments: through its
    closure and the globals it names, the functions it calls, and what they hold
    (containers, objects' attributes), a few levels deep. An argument among them may be
    read as the closure, not the argument, in a later call."""
    found: set[int] = set()
    seen: set[int] = set()
    stack: list[tuple[Any, int]] = [(fn, 0)]
    while stack and len(seen) < REACH_LIMIT:
        obj, depth = stack.pop()
        if id(obj) in seen or depth > REACH_DEPTH:
            continue
        seen.add(id(obj))
        if isinstance(obj, Tensor):
            found.add(id(obj))
            continue
        stack.extend((child, depth + 1) for child in _children(obj))
    return found


def _children(obj: Any) -> list:
    """What `_reachable` looks through next from `obj`."""
    if isinstance(obj, types.FunctionType):
        cells = [c.cell_contents for c in obj.__closure__ or () if c.cell_contents is not None]
        names = obj.__code__.co_names
        return cells + [obj.__globals__[n] for n in names if n in obj.__globals__]
    if isinstance(obj, types.MethodType):
        return [obj.__func__, obj.__self__]
    if isinstance(obj, functools.partial):
        return [obj.func, *obj.args, *obj.keywords.values()]
    if isinstance(obj, dict):
        return list(obj.values())
    if isinstance(obj, list | tuple | set | frozenset):
        return list(obj)
    if isinstance(obj, types.ModuleType | type | str | bytes | int | float | np.ndarray):
        return []
    attrs = getattr(obj, "__dict__", None)
    return list(attrs.values()) if isinstance(attrs, dict) else []


@dataclass
class _Effects:
    """What a recorded call left behind that outlives it (each checked replayable)."""

    template: Any  # the return value, tensors replaced by _Slot(index into `returned`)
    returned: list[Tensor]  # the distinct tensors it returns
    changed: list[Tensor]  # the tensors from before the call it updated in place
    grads: list[tuple[Tensor, Tensor | None]]  # tensors whose .grad it set, and to what
    made: list[Tensor]  # the tensors it made among those returned or set as gradients


class _Recorder:
    """Turns one recorded call into a `_ReplayPlan` (or says why it cannot be replayed)."""

    def __init__(
        self, fn: Callable, rec: recording.Recording, args: list[Tensor], buffers: list[int]
    ):
        self.fn = fn
        self.rec = rec
        self.args = args
        self.buffers = buffers
        self.arg_index = {id(t): i for i, t in reversed(list(enumerate(args)))}
        self.starts = [t._node for t in args]  # keeps these nodes (and their ids) alive
        # node at the start of the call -> who held it then, arguments first: ("held", t),
        # or ("grad of", t) for a gradient the call read as t.grad
        self.holders: dict[int, list[tuple[str, Tensor]]] = {}
        self.outside: dict[int, tuple[Who, Tensor]] = {}  # tensors the plan reads or writes
        self.together: list[list[Who]] = []

    @functools.cached_property
    def grad_owners(self) -> dict[int, Tensor]:
        """id of each gradient the call read (as t.grad) -> t."""
        return {id(g): t for t, g in self.rec.grads_read.values() if g is not None}

    @functools.cached_property
    def elsewhere(self) -> set[int]:
        """The ids of the tensors the function can reach, after the call, without its
        arguments (see `_reachable`)."""
        return _reachable(self.fn)

    def who(self, t: Tensor) -> Who:
        """Where a replay finds `t`: its argument slot, else a weak reference to it (noted
        in `outside`, whose tensors the plan checks at each replay)."""
        if id(t) in self.arg_index:
            return ("arg", self.arg_index[id(t)])
        if id(t) not in self.outside:
            self.outside[id(t)] = (("tensor", weakref.ref(t)), t)
        return self.outside[id(t)][0]

    def plan(self, result: Any) -> tuple[_ReplayPlan, Any]:
        """Realize what the call returned and changed, as one schedule; returns the plan
        and the call's return value (tensors it made, detached). Raises `_NotReplayable`
        when a replay could not reproduce the call."""
        effects = self.effects(result)
        firsts, done = self.compute([*effects.made, *effects.changed])
        plan = self.build(effects, self.value_sources(firsts, done), done)
        return plan, self.detached(effects)

    def effects(self, result: Any) -> _Effects:
        """What the call (returning `result`) left behind; raises `_NotReplayable` when a
        gradient it read is also one of its arguments or of the tensors it updates (a
        replay reads each gradient as the .grad of its owner)."""
        returned, template = self.returned(result)
        changed = self.updated()
        grads = self.gradients_set()
        if any(id(t) in self.grad_owners for t in [*self.args, *changed]):
            raise _NotReplayable("it uses a gradient it read as a tensor of its own")
        outliving = [*returned, *(g for _, g in grads if g is not None)]
        made = {id(t): t for t in outliving if id(t) in self.rec.created}
        return _Effects(template, returned, changed, grads, list(made.values()))

    def returned(self, result: Any) -> tuple[list[Tensor], Any]:
        """The distinct tensors in `result` and its template (see `_returned`); raises
        `_NotReplayable` when it holds something other than tensors and plain values, or
        a view the call made (writes to it must reach its base)."""
        returned: list[Tensor] = []
        template = _returned(result, returned)
        if any(id(t) in self.rec.created and id(t) in view_entries for t in returned):
            raise _NotReplayable("it returns a view (writes to it must reach its base)")
        return returned, template

    def updated(self) -> list[Tensor]:
        """The tensors from before the call that it updated in place (even where interning
        left a node as it was); raises `_NotReplayable` when one has autograd history, or
        is a view or has views that outlive the call."""
        changed = []
        for t, _, grad_fn, requires_grad in self.rec.changed.values():
            if grad_fn is not None or t.grad_fn is not None or t.requires_grad != requires_grad:
                raise _NotReplayable("it updates a tensor that has autograd history")
            if entangled(t, besides=self.rec.created):  # views the call made die with it
                raise _NotReplayable("it updates a tensor that is a view or has views")
            changed.append(t)
        return changed

    def gradients_set(self) -> list[tuple[Tensor, Tensor | None]]:
        """Each tensor whose .grad the call set, with that gradient; raises
        `_NotReplayable` when a gradient has autograd history."""
        grads = [(t, t.grad) for t in self.rec.grads_set.values()]
        if any(g is not None and (g.grad_fn is not None or g.requires_grad) for _, g in grads):
            raise _NotReplayable("it sets a gradient that has autograd history")
        return grads

    def compute(self, targets: list[Tensor]) -> tuple[list[Node], Realized | None]:
        """Realize `targets` as one schedule that reads leaf values only; returns the nodes
        they stood for in the call, and what ran (None when nothing needed computing).
        Raises `_NotReplayable` for a graph a replay could not rerun (see `check_graph`)."""
        firsts = [t._node for t in targets]
        pending = pending_of(tuple(targets))
        done = realize_pending(pending, recording=True) if pending else None
        self.find_holders()
        self.check_graph(firsts, done)
        return firsts, done

    def find_holders(self) -> None:
        """Every tensor from before the call (from the registry of live tensors), by the
        node it held then, and every gradient the call read as `t.grad`, as "the .grad of
        t" (and as itself too when something else refers to it)."""
        rec = self.rec
        before = {id(t): node for t, node, _, _ in rec.changed.values()}
        read_grads = self.grad_owners
        seen: set[int] = set()
        for t in [*self.args, *live.tensors()]:
            if id(t) in seen or id(t) in rec.created:
                continue
            seen.add(id(t))
            held = self.holders.setdefault(id(before.get(id(t), t._node)), [])
            if id(t) in read_grads:
                held.append(("grad of", read_grads[id(t)]))
                if id(t) not in self.elsewhere:
                    continue
            held.append(("held", t))

    def check_graph(self, firsts: list[Node], done: Realized | None) -> None:
        """No random draws (each call needs new ones), and no tensor from before the call
        standing for a node the graph computes (its later value would be ignored). Such
        tensors (a new model's weights, still lazy) are realized, so the next call can
        record. (The graph's inputs are leaf values: `realize_pending` reads no others
        while recording.)"""
        inputs = {id(n) for n in done.inputs} if done else set()
        seen: set[int] = set()
        stack = list(firsts)
        lazy = []
        while stack:
            node = stack.pop()
            if id(node) in seen or id(node) in inputs or node.op is Op.BUFFER:
                continue
            seen.add(id(node))
            if id(node) in self.holders:
                lazy.extend(t if kind == "held" else t.grad for kind, t in self.holders[id(node)])
                continue
            if node.op is Op.RAND:
                raise _NotReplayable("it draws random numbers")
            stack.extend(node.src)
        if lazy:
            realize(*(t for t in lazy if t is not None))
            raise _NotReplayable("it read lazy tensors from outside its arguments", again=True)

    def value_sources(self, firsts: list[Node], done: Realized | None) -> list[tuple[str, Any]]:
        """Per node in `firsts`, where a replay finds its value: ("target", index among
        the schedule's targets), or ("input", Who) for a value the call read and left as
        it was."""
        index = {id(n): i for i, n in enumerate(done.nodes)} if done else {}
        return [
            ("target", index[id(n)]) if id(n) in index else ("input", self.source(n))
            for n in firsts
        ]

    def input_sources(self, done: Realized | None) -> list[Who]:
        """Per input slot of the schedule that ran, the tensor (argument, outside tensor or
        gradient) whose buffer a replay binds to it."""
        return [self.source(n) for n in done.inputs] if done else []

    def source(self, node: Node) -> Who:
        """Where a replay finds the value the call read as `node`: the tensor that held it
        (of several, any while they still hold one buffer). Raises `_NotReplayable` when
        no tensor from before the call held it."""
        holders = self.holders.get(id(node))
        if not holders:
            raise _NotReplayable("it reads a tensor made inside the call from Python data")
        whos = [self.holder_who(h) for h in holders]
        if len(whos) > 1:
            self.together.append(whos)
        return whos[0]

    def holder_who(self, holder: tuple[str, Tensor]) -> Who:
        """Where a replay finds a holder (see `holders`)."""
        kind, t = holder
        return self.who(t) if kind == "held" else ("grad", self.who(t))

    def build(
        self, effects: _Effects, values: list[tuple[str, Any]], done: Realized | None
    ) -> _ReplayPlan:
        """The plan that replays `effects`, whose tensors' values (the made ones, then the
        changed ones) come from `values`, with the schedule `done` ran."""
        made = {id(t): i for i, t in enumerate(effects.made)}
        changed = zip(effects.changed, values[len(made) :], strict=True)
        plan = _ReplayPlan(
            entry=done.entry if done else None,
            sources=self.input_sources(done),
            values=done.values if done else {},
            made=values[: len(made)],
            template=effects.template,
            returned=[self.reference(t, made) for t in effects.returned],
            devices=[t.device for t in effects.made],
            changed=[(self.who(t), value) for t, value in changed],
            grads=[(self.who(t), self.gradient(g, made)) for t, g in effects.grads],
            specs=[],
            together=self.together,
            grads_read=self.gradients_read(),
            bound=self.bound(effects),
        )
        # last: the outside tensors are those every `who` above found
        plan.specs = [(who, _spec(t, self.buffers)) for who, t in self.outside.values()]
        return plan

    def reference(self, t: Tensor, made: dict[int, int]) -> tuple[str, Any]:
        """How a replay finds `t`, a tensor the call returns or sets as a gradient:
        ("made", index by id in `made`) or ("same", Who) for one from before the call (a
        gradient it read: that tensor's .grad at each call). Raises `_NotReplayable` for a
        gradient it read that the function can also reach otherwise."""
        if id(t) in made:
            return ("made", made[id(t)])
        owners = self.grad_owners
        if id(t) in owners:
            if id(t) in self.elsewhere:  # reached another way too: which one is unknown
                raise _NotReplayable("it uses a gradient it can also reach otherwise")
            return ("same", ("grad", self.who(owners[id(t)])))
        return ("same", self.who(t))

    def gradient(self, g: Tensor | None, made: dict[int, int]) -> tuple[str, Any] | None:
        """How a replay sets a gradient the call set: None, or as `reference` finds it."""
        return None if g is None else self.reference(g, made)

    def gradients_read(self) -> list[tuple[Who, tuple | None]]:
        """Each gradient the call read, by its owner, and what it looked like (None: no
        gradient): a replay holds while they look the same."""
        read = self.rec.grads_read.values()
        return [(self.who(t), None if g is None else _grad_spec(g)) for t, g in read]

    def bound(self, effects: _Effects) -> list[tuple[int, weakref.ref]]:
        """The argument slots a replay needs filled with the very objects of this call:
        a tensor the call changes, or whose gradient it reads or sets, or that the function
        can reach without its arguments (a closure may read it)."""
        tied = [*effects.changed, *(t for t, _ in effects.grads)]
        tied += [t for t, _ in self.rec.grads_read.values()]
        tied += [t for t in self.args if id(t) in self.elsewhere]
        slots = {self.arg_index[id(t)]: weakref.ref(t) for t in tied if id(t) in self.arg_index}
        return list(slots.items())

    def detached(self, effects: _Effects) -> Any:
        """The call's return value as a replay gives it: each tensor it made wrapped anew
        without autograd history; a gradient it set to one of those is set to the wrapper."""
        wrapped = {id(t): Tensor._wrap(_stored(t), t.device) for t in effects.made}
        for t, g in effects.grads:
            if g is not None and id(g) in wrapped:
                t._grad = wrapped[id(g)]
        return _rebuild(effects.template, [wrapped.get(id(t), t) for t in effects.returned])

    def escaped(self) -> None:
        """Raises `_NotReplayable` when a tensor the call made is still alive once its return
        value is dropped: kept somewhere (optimizer state, a cache), a replay would not
        update it. (A gradient it set to a tensor it made is alive here only if kept
        somewhere else too: `detached` set a wrapper in its place.)"""
        gc.collect()
        if any(ref() is not None for ref in self.rec.created.values()):
            raise _NotReplayable("it keeps a tensor it made (e.g. optimizer state)")


_RUN_AS_USUAL = object()  # a signature whose calls cannot be replayed
# Plans kept per jitted function, least recently used out: a function called with ever new
# shapes records again past this, instead of holding every plan it ever made.
PLANS_KEPT = 64


class jit:  # noqa: N801 - used like a function: lg.jit(fn) or @lg.jit
    """Record `fn`'s tensor program at its first call (per input signature: the structure
    of its arguments, their shapes, dtypes, devices and requires_grad, which of them share
    a buffer, the other arguments' values, and grad mode), then replay it on later calls
    without running `fn`'s Python. Tensors a replayed call returns carry no autograd
    history.

    Calls are replayed exactly or not at all. `fn` runs as usual, every time for its
    signature, when a call reads a value on the host (`item()`, `numpy()`, printing, an
    op that checks values), draws random numbers, keeps a tensor it made (optimizer
    state), reads a tensor it built from Python data, returns a view, or updates a view,
    a tensor that has views, or a tensor or gradient that has autograd history; and for a
    single call, when an argument is a view, has views or has autograd history. A call
    that reads lazy tensors from outside its arguments (a new model's weights) realizes
    them, and the next call records again; so does a call for which a recorded plan no
    longer holds (an outside tensor it reads is gone, or now shares a buffer with an
    argument, a gradient it read is now None or no longer None...)."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self.plans: dict[Hashable, Any] = {}
        self.retried: set[Hashable] = set()  # signatures given a second recording
        functools.update_wrapper(self, fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Replay the plan recorded for this call's signature, else record one, or run `fn`
        as usual (see `jit`)."""
        if recording.active is not None:  # called while another jit records: part of it
            return self.fn(*args, **kwargs)
        tensors: list[Tensor] = []
        key = (_flatten(args, tensors), _flatten(kwargs, tensors), is_grad_enabled())
        why = _tied_argument(tensors)
        if why is not None:  # the tensors behind it are part of the call
            self._report("runs as usual for this call", why)
            return self.fn(*args, **kwargs)
        realize(*tensors)  # arguments are inputs of the recorded graph, never part of it
        buffers = [id(buffer_of(t._node)) for t in tensors]
        first: dict[int, int] = {}
        shared = tuple(first.setdefault(b, i) for i, b in enumerate(buffers))
        same = tuple(first.setdefault(id(t), i) for i, t in enumerate(tensors))
        key = (key, shared, same)
        plan = lru.get(self.plans, key)
        if plan is _RUN_AS_USUAL:
            return self.fn(*args, **kwargs)
        if plan is not None:
            out = plan.replay(tensors, buffers)
            if out is not _STALE:
                return out
        return self._record(key, args, kwargs, tensors, buffers)

    def _record(
        self, key: Hashable, args: tuple, kwargs: dict, tensors: list[Tensor], buffers: list
    ) -> Any:
        """Run `fn` while recording it, and keep the plan that replays it (or note that
        its signature runs as usual); returns the call's return value."""
        rec = recording.Recording()
        recorder = _Recorder(self.fn, rec, tensors, buffers)
        recording.active = rec
        try:
            result = self.fn(*args, **kwargs)
        finally:
            recording.active = None
        try:
            if rec.broken is not None:
                raise _NotReplayable(rec.broken)
            plan, out = recorder.plan(result)
        except _NotReplayable as why:
            return self._run_as_usual(key, why, result)
        del result  # so that only what the call kept elsewhere is still alive
        try:
            recorder.escaped()
        except _NotReplayable as why:
            return self._run_as_usual(key, why, out)
        self._keep(key, plan)
        return out

    def _keep(self, key: Hashable, plan: Any) -> None:
        """Keep `plan` (or `_RUN_AS_USUAL`) for a signature, dropping the least recently
        used beyond `PLANS_KEPT`."""
        for dropped in lru.put(self.plans, key, plan, PLANS_KEPT):
            self.retried.discard(dropped)

    def _run_as_usual(self, key: Hashable, why: _NotReplayable, out: Any) -> Any:
        """Note that a signature's recording could not be replayed: its next call records
        again if `why` allows and it has not had that second chance, else its calls run
        as usual. Returns `out`."""
        again = why.again and key not in self.retried
        if again:
            self.retried.add(key)
        else:
            self._keep(key, _RUN_AS_USUAL)
        self._report("records again at the next call" if again else "runs as usual", why)
        return out

    def _report(self, when: str, why: object) -> None:
        """With `LAZYGRAD_DEBUG` set, say on stderr why a call is not replayed."""
        if debug_level():
            name = getattr(self.fn, "__name__", "function")
            print(f"[lazygrad] jit: {name} {when}: {why}", file=sys.stderr)


def _tied_argument(tensors: list[Tensor]) -> str | None:
    """Why a call with these tensor arguments runs as usual (a recording would reach into
    the graph or views behind an argument), or None when none is tied so."""
    for t in tensors:
        if t.grad_fn is not None:
            return "an argument has autograd history"
        if entangled(t):
            return "an argument is a view or has views"
    return None
