"""What every runtime does on the host, one function each: reading an array through a view,
random draws (Philox keyed by seed and counter: the same values on every device), and the
operand of a copy or collective as a host array."""

from __future__ import annotations

import math

import numpy as np

from ..buffer import Buffer, host_array
from ..ir.ops import Op
from ..ir.schedule import Kernel
from ..ir.view import View


def view(
    flat: np.ndarray,
    shape: tuple[int, ...],
    strides: tuple[int, ...],
    offset: int,
    mask: tuple[tuple[int, int], ...] | None,
) -> np.ndarray:
    """Read a flat array through a View (masked positions read 0)."""
    item = flat.itemsize
    if mask is None:
        if not shape or math.prod(shape) == 0:
            return np.broadcast_to(
                flat[offset : offset + 1].reshape(()) if shape == () else np.zeros((), flat.dtype),
                shape,
            )
        return np.lib.stride_tricks.as_strided(
            flat[offset:], shape, tuple(s * item for s in strides), writeable=False
        )
    out = np.zeros(shape, flat.dtype)
    if all(hi > lo for lo, hi in mask):
        inner = View(
            tuple(hi - lo for lo, hi in mask),
            strides,
            offset + sum(lo * s for (lo, _), s in zip(mask, strides, strict=True)),
        )
        out[tuple(slice(lo, hi) for lo, hi in mask)] = view(
            flat, inner.shape, inner.strides, inner.offset, None
        )
    return out


def rand(
    kind: str,
    seed: int,
    counter: int,
    extra: tuple,
    shape: tuple[int, ...],
    dtype: str | np.dtype,
) -> np.ndarray:
    """Random numbers from Philox keyed by (seed, counter): the same on every run and device."""
    # (seed, counter) is the 128-bit key: every draw gets its own stream (a shared key with
    # different counters would give overlapping, shifted streams).
    key = np.array([seed % 2**64, counter % 2**64], dtype=np.uint64)
    gen = np.random.Generator(np.random.Philox(key=key))
    if kind == "uniform":  # multiples of 2**-digits in [0, 1), as PyTorch's: never 1
        digits = {"float64": 53, "float32": 24, "float16": 11, "bfloat16": 8}[np.dtype(dtype).name]
        return (gen.integers(0, 2**digits, shape) * 2.0**-digits).astype(dtype)
    if kind == "normal":
        return gen.standard_normal(shape, dtype=np.float64).astype(dtype)
    low, high = extra
    return gen.integers(low, high, shape).astype(dtype)


def operand_on_host(kernel: Kernel, source_buffer: Buffer) -> np.ndarray:
    """The one operand of a transfer or collective kernel on the host, read through the
    kernel's view of it (if any)."""
    source = kernel.output_nodes[0].src[0]
    host = host_array(source_buffer)
    if source.op is Op.VIEW and source not in kernel.input_nodes:
        v = source.arg
        host = view(host, v.shape, v.strides, v.offset, v.mask)  # type: ignore[union-attr]
    return host.reshape(source.shape)
