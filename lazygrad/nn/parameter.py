"""`nn.Parameter`: a leaf tensor that requires grad and that modules register by assignment."""

from __future__ import annotations

from ..frontend.creation import empty
from ..tensor import Tensor


class Parameter(Tensor):
    """A `Tensor` that a `Module` lists in `parameters()` when assigned as an attribute.

    `Parameter(data)` is a new leaf with the values of `data` (lazily: nothing is computed)
    and `requires_grad=True` unless asked otherwise. It is still a `Tensor`, so every op
    accepts it; results of ops on it are plain tensors.
    """

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = True) -> Parameter:
        if data is None:
            data = empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter data must be a Tensor, got {type(data).__name__}")
        # Detached, so that the parameter is a leaf of its own (two parameters made from one
        # tensor must not share a graph node, or autograd would merge their gradients).
        source = data.detach()
        param = Tensor.__new__(cls)
        param._init(source._node, source.device)
        if requires_grad:
            param.requires_grad_(True)
        return param

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True) -> None:
        """Everything happens in `__new__`; this only accepts the same arguments."""

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
