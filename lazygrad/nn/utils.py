"""`nn.utils`: gradient clipping and flattening parameters to one vector (all lazy: the
norms and scaled gradients are recorded, computed when something is realized)."""

from __future__ import annotations

import math
from collections.abc import Iterable

from ..autograd_state import no_grad
from ..frontend import math_ops
from ..frontend.creation import tensor
from ..frontend.movement import cat, stack
from ..tensor import Tensor

__all__ = [
    "clip_grad_norm_",
    "clip_grad_value_",
    "get_total_norm",
    "parameters_to_vector",
    "vector_to_parameters",
]

TensorOrTensors = Tensor | Iterable[Tensor]


def _tensors(parameters: TensorOrTensors) -> list[Tensor]:
    return [parameters] if isinstance(parameters, Tensor) else list(parameters)


def _norm(t: Tensor, norm_type: float) -> Tensor:
    """The `norm_type`-norm of all elements of t (0-d)."""
    size = t.abs()
    if math.isinf(norm_type):
        return size.max() if norm_type > 0 else size.min()
    if norm_type == 2.0:
        return (size * size).sum().sqrt()
    if norm_type == 1.0:
        return size.sum()
    if norm_type == 0.0:
        return (size != 0).sum().to(t.dtype)
    return (size**norm_type).sum() ** (1.0 / norm_type)


def get_total_norm(
    tensors: TensorOrTensors,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> Tensor:
    """The norm of the norms of `tensors` (the norm of them all concatenated)."""
    items = _tensors(tensors)
    norm_type = float(norm_type)
    if not items:
        return tensor(0.0)
    device = items[0].device
    norms = stack([_norm(t.detach(), norm_type).to(device) for t in items])
    total = _norm(norms, norm_type)
    if error_if_nonfinite and not math.isfinite(total.item()):  # reading it is the request
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is "
            "non-finite, so it cannot be clipped. To disable this error and scale the "
            "gradients by the non-finite norm anyway, set `error_if_nonfinite=False`"
        )
    return total


def clip_grad_norm_(
    parameters: TensorOrTensors,
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> Tensor:
    """Scale the gradients in place so that their total `norm_type`-norm is at most
    `max_norm` (by max_norm / (total + 1e-6), capped at 1); returns the total norm before
    clipping. Lazy: only `error_if_nonfinite=True` reads the norm's value."""
    grads = [p.grad for p in _tensors(parameters) if p.grad is not None]
    total = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    if not grads:
        return total
    factor = math_ops.clamp(float(max_norm) / (total + 1e-6), max=1.0)
    with no_grad():
        for g in grads:
            g.mul_(factor.to(g.device).to(g.dtype))
    return total


def clip_grad_value_(
    parameters: TensorOrTensors, clip_value: float, foreach: bool | None = None
) -> None:
    """Clamp every gradient in place to [-clip_value, clip_value]."""
    clip_value = float(clip_value)
    with no_grad():
        for p in _tensors(parameters):
            if p.grad is not None:
                p.grad.clamp_(-clip_value, clip_value)


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """Every parameter flattened and concatenated into one vector."""
    items = _tensors(parameters)
    device = items[0].device if items else None
    for p in items:
        if p.device != device:
            raise TypeError(
                "Found two parameters on different devices, this is currently not supported."
            )
    return cat([p.reshape(-1) for p in items])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of the vector `vec` into the parameters, in place."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {type(vec).__name__}")
    offset = 0
    with no_grad():
        for p in _tensors(parameters):
            count = p.numel()
            p.copy_(vec[offset : offset + count].reshape(p.shape))
            offset += count
