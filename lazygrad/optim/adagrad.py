"""Adagrad with PyTorch's update rule, learning-rate decay and initial accumulator."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..frontend.creation import full_like, tensor
from ..tensor import Tensor
from .optimizer import Optimizer, check_non_negative


class Adagrad(Optimizer):
    """PyTorch's Adagrad: g += wd·p; clr = lr / (1 + (t-1)·lr_decay); s ← s + g²;
    p -= clr · g / (√s + eps). Like PyTorch, the state (`step`, `sum`) exists from the
    constructor on, `sum` starting at `initial_accumulator_value`."""

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
    ) -> None:
        check_non_negative(
            lr=lr,
            lr_decay=lr_decay,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            eps=eps,
        )
        defaults = {
            "lr": lr,
            "lr_decay": lr_decay,
            "eps": eps,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
            "maximize": maximize,
        }
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p] = {
                    "step": tensor(0.0, device="cpu"),
                    "sum": full_like(p, group["initial_accumulator_value"]),
                }

    def _update(
        self, param: Tensor, grad: Tensor, group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        if not state:  # a parameter added later with add_param_group
            state["step"] = tensor(0.0, device="cpu")
            state["sum"] = full_like(param, group["initial_accumulator_value"])
        step = float(state["step"].item()) + 1
        state["step"] = tensor(step, device="cpu")
        g = -grad if group["maximize"] else grad
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * param
        clr = group["lr"] / (1 + (step - 1) * group["lr_decay"])
        state["sum"] = state["sum"] + g * g
        param.sub_(g / (state["sum"].sqrt() + group["eps"]) * self._scalar(clr, param))
