"""`lazygrad.optim`: SGD, Adam and AdamW, each `step()` one fused, realized schedule."""

from __future__ import annotations

from .adam import Adam, AdamW
from .optimizer import Optimizer
from .sgd import SGD

__all__ = ["SGD", "Adam", "AdamW", "Optimizer"]
