"""`lg.accelerator`: the current accelerator, as `torch.accelerator` reports it."""

from __future__ import annotations
