"""`lg.cuda`: PyTorch's CUDA queries, answered for lazygrad's devices."""

from __future__ import annotations
