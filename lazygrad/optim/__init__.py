"""`lazygrad.optim`: SGD, Adam, AdamW, RMSprop and Adagrad, each `step()` one fused,
realized schedule; `lr_scheduler` changes their learning rates between steps."""

from __future__ import annotations

from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Optimizer", "lr_scheduler"]
