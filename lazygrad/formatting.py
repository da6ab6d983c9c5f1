"""Render tensor values exactly the way PyTorch's ``repr`` does.

Only PyTorch's default print options are supported: 4 digits of precision, summarisation above
1000 elements with 3 edge items per dimension, and a line width of 80 characters.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from . import dtypes

PRECISION = 4
THRESHOLD = 1000
EDGEITEMS = 3
LINEWIDTH = 80

_PREFIX = "tensor("
# Dtypes PyTorch leaves unnamed in the repr of a non-empty tensor: the default floating
# dtype (float32 unless `set_default_dtype` changed it), int64 and bool.
_IMPLIED_DTYPES = frozenset({"int64", "bool"})


class _ValueFormatter:
    """Formats single elements with one common width, chosen from a sample of the values."""

    def __init__(self, sample: np.ndarray) -> None:
        self.floating = bool(np.issubdtype(sample.dtype, np.floating))
        self.int_mode = True
        self.sci_mode = False
        self.width = 1
        if self.floating:
            self._inspect_floats(sample.ravel())
        else:
            self.width = max([1] + [len(str(v)) for v in sample.ravel().tolist()])

    def _inspect_floats(self, flat: np.ndarray) -> None:
        """Pick integer / fixed / scientific notation from the finite non-zero values."""
        useful = flat[np.isfinite(flat) & (flat != 0)]
        if useful.size == 0:
            return
        self.int_mode = bool(np.all(useful == np.ceil(useful)))
        magnitudes = np.abs(useful).astype(np.float64)
        smallest, largest = float(magnitudes.min()), float(magnitudes.max())
        self.sci_mode = largest / smallest > 1000.0 or largest > 1.0e8 or smallest < 1.0e-4
        values = useful.tolist()
        if self.sci_mode:
            widths = [len(f"{v:.{PRECISION}e}") for v in values]
        elif self.int_mode:
            widths = [len(f"{v:.0f}") + 1 for v in values]
        else:
            widths = [len(f"{v:.{PRECISION}f}") for v in values]
        self.width = max(widths)

    def format(self, value: float | int | bool) -> str:
        """Return ``value`` as text, right-aligned to the common width."""
        if not self.floating:
            text = str(value)
        elif self.sci_mode:
            text = f"{value:.{PRECISION}e}"
        elif self.int_mode:
            text = f"{value:.0f}"
            if math.isfinite(value):
                text += "."
        else:
            text = f"{value:.{PRECISION}f}"
        return text.rjust(self.width)


def _shown_indices(length: int, summarize: bool) -> list[int | None]:
    """Indices printed along one axis; ``None`` marks the ``...`` gap of a summary."""
    if summarize and length > 2 * EDGEITEMS:
        head = list(range(EDGEITEMS))
        tail = list(range(length - EDGEITEMS, length))
        return [*head, None, *tail]
    return list(range(length))


def _summary_sample(arr: np.ndarray) -> np.ndarray:
    """The elements a summarised print shows; the formatter is sized from these only."""
    picks = [[i for i in _shown_indices(n, True) if i is not None] for n in arr.shape]
    return arr[np.ix_(*picks)]


def _render_row(row: np.ndarray, indent: int, summarize: bool, fmt: _ValueFormatter) -> str:
    """Render a 1-D array, wrapping items so each line stays within the line width."""
    values = row.tolist()
    items = [
        " ..." if i is None else fmt.format(values[i]) for i in _shown_indices(len(row), summarize)
    ]
    per_line = max(1, (LINEWIDTH - indent) // (fmt.width + 2))
    lines = [", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _render(arr: np.ndarray, indent: int, summarize: bool, fmt: _ValueFormatter) -> str:
    """Render an array of any rank; sub-arrays are separated by ``ndim - 1`` newlines."""
    if arr.ndim == 0:
        return fmt.format(arr.item())
    if arr.ndim == 1:
        return _render_row(arr, indent, summarize, fmt)
    parts = [
        "..." if i is None else _render(arr[i], indent + 1, summarize, fmt)
        for i in _shown_indices(len(arr), summarize)
    ]
    separator = "," + "\n" * (arr.ndim - 1) + " " * (indent + 1)
    return "[" + separator.join(parts) + "]"


def _body(arr: np.ndarray) -> str:
    """The bracketed values of a non-empty array, summarised when it is large."""
    summarize = arr.size > THRESHOLD
    fmt = _ValueFormatter(_summary_sample(arr) if summarize else arr)
    return _render(arr, len(_PREFIX), summarize, fmt)


def _torch_length(suffix: str) -> int:
    """Length of ``suffix`` as PyTorch spells it (``torch.float64`` for ``lazygrad.float64``).

    Line breaks are decided on PyTorch's spelling, so that our repr is always PyTorch's repr
    with ``torch.`` replaced by ``lazygrad.``.
    """
    return len(suffix.replace("lazygrad.", "torch."))


def _append_suffixes(text: str, suffixes: Sequence[str]) -> str:
    """Append ``, key=value`` items, moving one to a new line when it would pass the width."""
    parts = [text]
    # PyTorch overestimates the last line's length by two characters; keep that quirk.
    line_len = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        size = _torch_length(suffix)
        if line_len + size + 2 > LINEWIDTH:
            parts.append(",\n" + " " * len(_PREFIX) + suffix)
            line_len = len(_PREFIX) + size
        else:
            parts.append(", " + suffix)
            line_len += size + 2
    parts.append(")")
    return "".join(parts)


def format_tensor(arr: np.ndarray, dtype_name: str, suffixes: list[str]) -> str:
    """Return the text PyTorch's ``repr`` prints for a tensor holding ``arr``.

    ``dtype_name`` is a lazygrad dtype name (float32, uint8, bool, ...); it is
    shown as ``dtype=lazygrad.<name>`` wherever PyTorch would show ``dtype=torch.<name>``.
    ``suffixes`` are extra ``key=value`` items in PyTorch's order: ``device=...`` items are
    placed before the size and dtype items, all others (``requires_grad=True``,
    ``grad_fn=<...>``) after them. Line breaks between the items are decided as PyTorch
    decides them for its own spelling (``torch.float64``), so the result is always PyTorch's
    repr with ``torch.`` replaced by ``lazygrad.``, even where that makes a line 83 characters.
    """
    arr = np.asarray(arr, dtype=np.dtype(dtype_name))
    if dtype_name == "bfloat16":  # exact in float32, which NumPy formats as a float
        arr = arr.astype(np.float32)
    default = dtypes.default_float.name
    dtype_item = f"dtype=lazygrad.{dtype_name}"
    leading = [s for s in suffixes if s.startswith("device=")]
    trailing = [s for s in suffixes if not s.startswith("device=")]
    middle: list[str] = []
    if arr.size == 0:
        body = "[]"
        if arr.ndim != 1:
            middle.append(f"size={tuple(arr.shape)}")
        if dtype_name != default:
            middle.append(dtype_item)
    else:
        body = _body(arr)
        if dtype_name not in _IMPLIED_DTYPES and dtype_name != default:
            middle.append(dtype_item)
    return _append_suffixes(_PREFIX + body, [*leading, *middle, *trailing])
