"""`lg.nn.parallel.DistributedDataParallel`: data-parallel training over
`lazygrad.distributed`, as PyTorch's DDP does it.

At construction every process takes rank 0's parameters (and buffers). After each
`backward()` that reached the module's parameters, their gradients are averaged over the
processes in buckets of at most `bucket_cap_mb`: one all_reduce per bucket (the gradients
flattened into one tensor), not one per parameter. Everything stays lazy: the averaging
is part of the graph that the optimizer step reads, so the division fuses with the update.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .. import distributed
from ..autograd_state import no_grad
from ..frontend import autograd
from ..frontend.movement import cat
from ..tensor import Tensor
from .module import Module

__all__ = ["DistributedDataParallel"]


class DistributedDataParallel(Module):
    """Wraps `module`: same forward, gradients averaged over the processes."""

    def __init__(
        self,
        module: Module,
        device_ids: list[Any] | None = None,
        output_device: Any = None,
        dim: int = 0,
        broadcast_buffers: bool = True,
        process_group: object = None,
        bucket_cap_mb: float | None = None,
        find_unused_parameters: bool = False,
        **options: Any,
    ) -> None:
        super().__init__()
        if not distributed.is_initialized():
            raise RuntimeError(
                "Default process group has not been initialized, please make sure to call "
                "init_process_group."
            )
        self.module = module
        self.bucket_bytes = int((25 if bucket_cap_mb is None else bucket_cap_mb) * 2**20)
        self.require_backward_grad_sync = True
        with no_grad():
            for p in module.parameters():
                distributed.broadcast(p, 0)
            if broadcast_buffers:
                for b in module.buffers():
                    distributed.broadcast(b, 0)
        autograd.after_backward(self._average_gradients)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.module(*args, **kwargs)

    @contextmanager
    def no_sync(self) -> Iterator[None]:
        """Backward passes inside accumulate gradients locally; the first one after it
        averages what accumulated."""
        before = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = before

    def buckets(self) -> list[list[Tensor]]:
        """The parameters with gradients, last registered first (the order backward
        finishes them, as PyTorch buckets), in groups of one dtype and device up to the
        bucket size."""
        out: list[list[Tensor]] = []
        size = 0
        for p in reversed([p for p in self.module.parameters() if p.grad is not None]):
            last = out[-1] if out else None
            fits = last is not None and size + p.numel() * p.dtype.itemsize <= self.bucket_bytes
            if fits and last[0].dtype == p.dtype and last[0].device == p.device:  # type: ignore[index]
                last.append(p)  # type: ignore[union-attr]
                size += p.numel() * p.dtype.itemsize
            else:
                out.append([p])
                size = p.numel() * p.dtype.itemsize
        return out

    def _average_gradients(self, leaves: list[Tensor]) -> None:
        mine = {id(p) for p in self.module.parameters()}
        if not self.require_backward_grad_sync or not any(id(t) in mine for t in leaves):
            return
        with no_grad():
            for bucket in self.buckets():
                flat = cat([p.grad.reshape(-1) for p in bucket])  # type: ignore[union-attr]
                distributed.all_reduce(flat, distributed.ReduceOp.AVG)
                start = 0
                for p in bucket:
                    p.grad = flat[start : start + p.numel()].reshape(p.shape)
                    start += p.numel()
