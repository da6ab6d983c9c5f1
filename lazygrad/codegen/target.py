"""What code generation knows about the device it generates for."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    """What code generation needs to know about the device it generates for."""

    name: str
    has_fp64: bool = True
    is_gpu: bool = False
    compute_units: int = 1
    max_work_group_size: int = 256
    preferred_multiple: int = 1
    base_align: int = 128  # bytes every buffer starts on (CL_DEVICE_MEM_BASE_ADDR_ALIGN / 8)

    @property
    def vector_widths(self) -> tuple[int, ...]:
        """Vector widths to try, widest first (1 = scalar code)."""
        return (4, 2) if self.is_gpu else (16, 8, 4)
