"""RMSprop with PyTorch's update rule (optional momentum, centering and weight decay)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..frontend.creation import tensor, zeros_like
from ..tensor import Tensor
from .optimizer import Optimizer, check_non_negative


class RMSprop(Optimizer):
    """PyTorch's RMSprop: g += wd·p; v ← α·v + (1-α)·g²; centered: ḡ ← lerp(ḡ, g, 1-α) and
    v' = v - ḡ²; avg = √v' + eps; with momentum b ← μ·b + g/avg and p -= lr·b, else
    p -= lr·g/avg. (eps is added after the square root, as in PyTorch.)"""

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        check_non_negative(
            lr=lr, eps=eps, momentum=momentum, weight_decay=weight_decay, alpha=alpha
        )
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "alpha": alpha,
            "eps": eps,
            "centered": centered,
            "weight_decay": weight_decay,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _update(
        self, param: Tensor, grad: Tensor, group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        alpha, momentum = group["alpha"], group["momentum"]
        if not state:
            state["step"] = tensor(0.0, device="cpu")
            state["square_avg"] = zeros_like(param)
            if momentum > 0:
                state["momentum_buffer"] = zeros_like(param)
            if group["centered"]:
                state["grad_avg"] = zeros_like(param)
        state["step"] = tensor(float(state["step"].item()) + 1, device="cpu")
        g = -grad if group["maximize"] else grad
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * param
        square_avg = state["square_avg"] * alpha + g * g * (1 - alpha)
        state["square_avg"] = square_avg
        if group["centered"]:
            grad_avg = state["grad_avg"] + (g - state["grad_avg"]) * (1 - alpha)
            state["grad_avg"] = grad_avg
            square_avg = square_avg - grad_avg * grad_avg
        avg = square_avg.sqrt() + group["eps"]
        lr = self._scalar(group["lr"], param)
        if momentum > 0:
            buf = state["momentum_buffer"] * momentum + g / avg
            state["momentum_buffer"] = buf
            param.sub_(buf * lr)
        else:
            param.sub_(g / avg * lr)
