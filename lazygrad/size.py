"""`lg.Size`: the shape tuple, printed like PyTorch's."""

from __future__ import annotations

import math
from collections.abc import Sequence


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


def sizes_of(args: tuple, fn: str = "reshape", arg: str = "shape") -> tuple[int, ...]:
    """Sizes given as `*sizes` or as one tuple/list/Size; each must be an integer (a Python
    int, a NumPy integer or a one-element integer tensor), else PyTorch's TypeError."""
    if len(args) == 1 and isinstance(args[0], Sequence):
        args = tuple(args[0])
    out = []
    for i, a in enumerate(args):
        if isinstance(a, bool) or not hasattr(a, "__index__"):
            raise TypeError(
                f"{fn}(): argument '{arg}' failed to unpack the object at pos "
                f'{i + 1} with error "type must be tuple of ints,but got '
                f'{type(a).__name__}"'
            )
        out.append(int(a.__index__()))
    return tuple(out)
