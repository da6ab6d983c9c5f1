"""Elementwise math, comparisons and predicates beyond the core ops of `math_ops`, and the
top-level forms of operators (`lg.add`, `lg.eq`, ...)."""

from __future__ import annotations

from typing import Any

__all__: list[str] = []  # the functions offered as lg.NAME
METHODS: dict[str, Any] = {}  # Tensor method name -> function (self first)
IN_PLACE: dict[str, Any] = {}  # in-place method name (ending in _) -> the out-of-place function
