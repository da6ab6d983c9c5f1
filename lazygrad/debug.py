"""`LAZYGRAD_DEBUG`: how much lazygrad logs to stderr, read in one place for every layer."""

from __future__ import annotations

import os
import sys


def debug_level() -> int:
    """LAZYGRAD_DEBUG as an int (0 when unset)."""
    try:
        return int(os.environ.get("LAZYGRAD_DEBUG", "0") or 0)
    except ValueError:
        return 0


def log(message: str) -> None:
    """A line of the debug log (shown when LAZYGRAD_DEBUG is set)."""
    if debug_level():
        print(f"[lazygrad] {message}", file=sys.stderr)
