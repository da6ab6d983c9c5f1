"""Products and shape functions beyond the core of `linalg` and `movement` (`bmm`, `einsum`,
`tril`, `roll`, `hstack`, ...)."""

from __future__ import annotations

from typing import Any

__all__: list[str] = []  # the functions offered as lg.NAME
METHODS: dict[str, Any] = {}  # Tensor method name -> function (self first)
IN_PLACE: dict[str, Any] = {}  # in-place method name (ending in _) -> the out-of-place function
