"""The `Optimizer` base: parameter groups, per-parameter state, and a `step()` that builds
every update lazily and realizes all of them (with the backward that produced the
gradients) as one schedule."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..autograd_state import enable_grad, no_grad
from ..engine.realize import realize
from ..frontend.creation import tensor, zeros_like
from ..tensor import Tensor


class _Required:
    """Marks a hyper-parameter that has no default (`lr` of SGD in old PyTorch)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _Required()


def check_non_negative(**values: float) -> None:
    """PyTorch's ValueError for the first negative hyper-parameter, in the order given."""
    for name, value in values.items():
        if value < 0.0:
            what = {"lr": "learning rate", "eps": "epsilon value"}.get(name, f"{name} value")
            raise ValueError(f"Invalid {what}: {value}")


class Optimizer:
    """Base class: subclasses define `defaults` and `_update(param, grad, group, state)`.

    `param_groups` is a list of dicts holding `params` and the hyper-parameters; `state`
    maps each parameter to its dict of state tensors (lazy until a step realizes them).
    """

    def __init__(
        self, params: Iterable[Tensor] | Iterable[dict[str, Any]], defaults: dict[str, Any]
    ) -> None:
        self.defaults = defaults
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        self._scalars: dict[tuple, Tensor] = {}  # 0-d buffers of the step being built
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of "
                f"Tensors or dicts, but got {type(params).__name__}"
            )
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own hyper-parameters (defaults fill the rest)."""
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, "
                "but the ordering of tensors in sets will change between runs. "
                "Please use a list instead."
            )
        params = list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(
                    "optimizer can only optimize Tensors, but one of the params is "
                    f"{type(p).__name__}"
                )
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        group = {**self.defaults, **param_group, "params": params}
        for name, value in group.items():
            if value is required:
                raise ValueError(
                    "parameter group didn't specify a value of required "
                    f"optimization parameter {name}"
                )
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params) or len({id(p) for p in params}) != len(params):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every parameter's gradient (or replace it by lazy zeros)."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad = zeros_like(p.grad)

    def _update(
        self, param: Tensor, grad: Tensor, group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        raise NotImplementedError

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient, as ONE realized schedule.

        Each update is recorded lazily under no_grad (in-place on the parameters, functional
        on the state), then parameters and state are realized together, so the backward
        that produced the gradients fuses with the updates. Returns the closure's loss."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        self._scalars = {}
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        self._update(p, p.grad, group, self.state.setdefault(p, {}))
        self._scalars = {}
        realize(*self._tensors())
        return loss

    def _tensors(self) -> list[Tensor]:
        """Every parameter and state tensor, in group order (each object once)."""
        out: dict[int, Tensor] = {}
        for group in self.param_groups:
            for p in group["params"]:
                out[id(p)] = p
                for value in self.state.get(p, {}).values():
                    if isinstance(value, Tensor):
                        out[id(value)] = value
        return list(out.values())

    def _scalar(self, value: float, like: Tensor) -> Tensor:
        """A 0-d tensor holding `value` (rounded to `like`'s dtype, on its device).

        Values that may change between steps (learning rates, bias corrections) enter the
        graph as tiny buffers, not as constants, so every step records the same graph (and
        hits the schedule cache)."""
        key = (value, like.dtype, str(like.device))
        if key not in self._scalars:
            self._scalars[key] = tensor(value, dtype=like.dtype, device=like.device)
        return self._scalars[key]

    # ---- state -------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """{"state": {index: {name: value}}, "param_groups": [{hyper-parameters, "params":
        [index, ...]}]}, parameters numbered in group order as in PyTorch."""
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {index[id(p)]: dict(s) for p, s in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyper-parameters and state saved by `state_dict` (tensors are moved to
        each parameter's device and floating ones cast to its dtype, except `step`)."""
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(
            len(s["params"]) != len(g["params"])
            for s, g in zip(saved_groups, self.param_groups, strict=True)
        ):
            raise ValueError(
                "loaded state dict contains a parameter group that doesn't match "
                "the size of optimizer's group"
            )
        by_index = {
            int(i): p
            for s, g in zip(saved_groups, self.param_groups, strict=True)
            for i, p in zip(s["params"], g["params"], strict=True)
        }
        self.state = {}
        for i, values in state_dict["state"].items():
            param = by_index.get(int(i))
            if param is not None:
                self.state[param] = {k: _restore(param, k, v) for k, v in values.items()}
        for saved, group in zip(saved_groups, self.param_groups, strict=True):
            group.update({k: v for k, v in saved.items() if k != "params"})

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {group[k]}" for k in sorted(group) if k != "params"]
        return "\n".join(lines + [")"])


def _restore(param: Tensor, name: str, value: Any) -> Any:
    if not isinstance(value, Tensor):
        return value
    if name == "step":
        return value.to("cpu")
    if value.is_floating_point():
        return value.to(param.device, param.dtype)
    return value.to(param.device)
