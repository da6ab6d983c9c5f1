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
    """A context manager and decorator that sets grad mode and restores it on exit."""

    mode = True

    def __enter__(self) -> None:
        self._prev = is_grad_enabled()
        _set_grad_enabled(self.mode)

    def __exit__(self, *exc: object) -> None:
        _set_grad_enabled(self._prev)

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self.__class__():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):  # noqa: N801 - named like torch.no_grad
    """Disable gradient recording inside the block or decorated function."""

    mode = False


class enable_grad(_GradMode):  # noqa: N801
    """Enable gradient recording inside the block or decorated function."""

    mode = True


class AccumulateGrad:
    """The graph node that stands for a leaf tensor in `next_functions`."""

    def __init__(self, variable: Any):
        self.variable = variable
        self.next_functions: tuple = ()

    def name(self) -> str:
        return "torch::autograd::AccumulateGrad"

    def __repr__(self) -> str:
        return f"<AccumulateGrad object at {id(self):#x}>"


class GradFn:
    """What produced a tensor: PyTorch's node name and the functions of its inputs."""

    def __init__(self, name: str, inputs: tuple[Any, ...]):
        self._name = name
        self._inputs = inputs
        self.freed = False

    def name(self) -> str:
        return self._name

    @property
    def next_functions(self) -> tuple[tuple[Any, int], ...]:
        out = []
        for t in self._inputs:
            if t is None or not t.requires_grad:
                out.append((None, 0))
            elif t.grad_fn is not None:
                out.append((t.grad_fn, 0))
            else:
                out.append((t._accumulate_grad(), 0))
        return tuple(out)

    def __repr__(self) -> str:
        return f"<{self._name} object at {id(self):#x}>"
