"""Grad mode (`no_grad`, `enable_grad`) and the `grad_fn` objects tensors carry."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

_state = threading.local()


def is_grad_enabled() -> bool:
    """Whether ops on tensors that require grad record `grad_fn`s."""
    return getattr(_state, "enabled", True)


def _set_grad_enabled(flag: bool) -> None:
    _state.enabled = flag


class _GradMode:
    """A context manager and decorator that sets grad mode and restores it on exit
    (a `mode` of None leaves grad mode as it is)."""

    mode: bool | None = True

    def __enter__(self) -> None:
        self._prev = is_grad_enabled()
        if self.mode is not None:
            _set_grad_enabled(self.mode)

    def __exit__(self, *exc: object) -> None:
        _set_grad_enabled(self._prev)

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            prev = is_grad_enabled()
            if mode is not None:
                _set_grad_enabled(mode)
            try:
                return fn(*args, **kwargs)
            finally:
                _set_grad_enabled(prev)

        return wrapper


class no_grad(_GradMode):  # noqa: N801 - named like torch.no_grad
    """Disable gradient recording inside the block or decorated function."""

    mode = False


class enable_grad(_GradMode):  # noqa: N801
    """Enable gradient recording inside the block or decorated function."""

    mode = True


class set_grad_enabled(_GradMode):  # noqa: N801
    """Turn gradient recording on or off now; used as a context manager or decorator, the
    previous mode comes back on exit (as a decorator, nothing changes until a call)."""

    def __init__(self, mode: bool) -> None:
        if not isinstance(mode, bool):
            raise TypeError(f"enabled must be a bool (got {type(mode).__name__})")
        self.mode = mode
        self._prev = is_grad_enabled()
        _set_grad_enabled(mode)

    def __enter__(self) -> None:
        pass  # the mode was set on construction; __exit__ restores the one before it

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        _set_grad_enabled(self._prev)
        return super().__call__(fn)


class inference_mode(_GradMode):  # noqa: N801
    """No gradient recording inside the block or decorated function (`mode=False`: grad
    mode is left as it is). lazygrad's inference tensors are ordinary tensors."""

    def __new__(cls, mode: Any = True) -> Any:
        if isinstance(mode, bool):
            return super().__new__(cls)
        return cls()(mode)  # bare `@inference_mode` on a function

    def __init__(self, mode: bool = True) -> None:
        self.mode = False if mode else None


class AccumulateGrad:
    """The graph node that stands for a leaf tensor in `next_functions`."""

    def __init__(self, variable: Any):
        self.variable = variable
        self.next_functions: tuple = ()

    def name(self) -> str:
        return "torch::autograd::AccumulateGrad"

    def __repr__(self) -> str:
        return f"<AccumulateGrad object at {id(self):#x}>"


# An edge of `GradFn` to an input that takes part in the operation but needs no gradient.
NO_GRAD = "no grad"


def edge(t: Any) -> Any:
    """What a `GradFn` keeps of an input tensor: the input's own grad_fn (as it is now), the
    input itself when it is a leaf that requires grad, `NO_GRAD`, or None for no input.

    Never an intermediate tensor itself: a tensor the user dropped must die, so that only
    what the user still holds is stored when a graph is realized."""
    if t is None:
        return None
    if not t._requires_grad:
        return NO_GRAD
    return t if t.grad_fn is None else t.grad_fn


class GradFn:
    """What produced a tensor: PyTorch's node name and the edges to its inputs' functions."""

    def __init__(self, name: str, inputs: tuple[Any, ...]):
        self._name = name
        self._edges = tuple([edge(t) for t in inputs])
        self.freed = False

    def set_inputs(self, name: str, inputs: tuple[Any, ...]) -> None:
        """Name the op and its inputs as the user sees them (a composite op built from
        primitives reports itself as one PyTorch node)."""
        self._name = name
        self._edges = tuple([edge(t) for t in inputs])

    def name(self) -> str:
        return self._name

    @property
    def next_functions(self) -> tuple[tuple[Any, int], ...]:
        out: list[tuple[Any, int]] = []
        for e in self._edges:
            if isinstance(e, GradFn):
                out.append((e, 0))
            elif e is None or e is NO_GRAD or not e.requires_grad:
                out.append((None, 0))
            else:
                out.append((e._accumulate_grad(), 0))
        return tuple(out)

    def __repr__(self) -> str:
        return f"<{self._name} object at {id(self):#x}>"
