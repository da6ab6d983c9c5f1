"""Reductions, scans, sorting and indexed reads and writes (`all`, `cumsum`, `sort`, `topk`,
`gather`, `scatter`, ...), built from lazy primitives so they run as kernels on every device."""

from __future__ import annotations

from typing import Any

__all__: list[str] = []  # the functions offered as lg.NAME
METHODS: dict[str, Any] = {}  # Tensor method name -> function (self first)
IN_PLACE: dict[str, Any] = {}  # in-place method name (ending in _) -> the out-of-place function
