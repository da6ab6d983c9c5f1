"""`lg.Size`: the shape tuple, printed like PyTorch's."""

from __future__ import annotations

import math


class Size(tuple):
    """A tuple of ints that prints as `lazygrad.Size([2, 3])`."""

    def __repr__(self) -> str:
        return f"lazygrad.Size({list(self)})"

    __str__ = __repr__

    def __getitem__(self, key: int | slice) -> int | Size:  # type: ignore[override]
        item = tuple.__getitem__(self, key)
        return Size(item) if isinstance(key, slice) else item

    def numel(self) -> int:
        return math.prod(self)
