"""`lg.utils.data`: datasets, samplers and the DataLoader, shaped like `torch.utils.data`."""

from __future__ import annotations
