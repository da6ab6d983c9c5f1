"""Adam and AdamW with PyTorch's update rules, bias correction and defaults."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from ..frontend.creation import tensor, zeros_like
from ..tensor import Tensor
from .optimizer import Optimizer, check_non_negative


class Adam(Optimizer):
    """PyTorch's Adam (Kingma & Ba): g += wd·p; m ← lerp(m, g, 1-β1); v ← β2·v + (1-β2)·g²;
    p -= lr/(1-β1ᵗ) · m / (√v/√(1-β2ᵗ) + eps). AMSGrad keeps the running max of v."""

    decoupled_weight_decay = False

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        check_non_negative(lr=lr, eps=eps)
        for i, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"Invalid beta parameter at index {i}: {beta}")
        check_non_negative(weight_decay=weight_decay)
        defaults = {
            "lr": lr,
            "betas": tuple(betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _update(
        self, param: Tensor, grad: Tensor, group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        if not state:
            state["step"] = tensor(0.0, device="cpu")
            state["exp_avg"] = zeros_like(param)
            state["exp_avg_sq"] = zeros_like(param)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = zeros_like(param)
        # The step count lives on the host (a CPU tensor, as in PyTorch), so the bias
        # corrections are exact Python floats; they enter the graph as 0-d buffers.
        step = float(state["step"].item()) + 1
        state["step"] = tensor(step, device="cpu")
        g = -grad if group["maximize"] else grad
        wd, base = group["weight_decay"], param
        if wd != 0 and self.decoupled_weight_decay:
            base = param * self._scalar(1 - lr * wd, param)
        elif wd != 0:
            g = g + wd * param
        exp_avg = state["exp_avg"] + (g - state["exp_avg"]) * (1 - beta1)
        exp_avg_sq = state["exp_avg_sq"] * beta2 + g * g * (1 - beta2)
        state["exp_avg"], state["exp_avg_sq"] = exp_avg, exp_avg_sq
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = state["max_exp_avg_sq"].maximum(exp_avg_sq)
            exp_avg_sq = state["max_exp_avg_sq"]
        step_size = lr / (1 - beta1**step)
        bias_correction2_sqrt = math.sqrt(1 - beta2**step)
        denom = exp_avg_sq.sqrt() / self._scalar(bias_correction2_sqrt, param) + eps
        # one in-place write per parameter: each would be a kernel boundary of its own
        param.copy_(base - exp_avg / denom * self._scalar(step_size, param))


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): p ← p·(1 - lr·wd) before the
    Adam step; weight_decay defaults to 1e-2."""

    decoupled_weight_decay = True

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)
