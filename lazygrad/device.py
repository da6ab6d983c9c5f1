"""Devices: parsing device strings, the 'gpu'/'cuda' aliases and LAZYGRAD_DEVICE."""

from __future__ import annotations

import os


class device:  # noqa: N801 - named like torch.device
    """A device: `cpu` (generated NumPy code) or `opencl:N` (generated OpenCL kernels)."""

    __slots__ = ("type", "index")

    def __init__(self, spec: str | device, index: int | None = None):
        if isinstance(spec, device):
            self.type, self.index = spec.type, spec.index
            return
        if not isinstance(spec, str):
            raise TypeError(f"device() expects a string like 'cpu' or 'opencl:0', got {spec!r}")
        kind, _, num = spec.strip().lower().partition(":")
        if num:
            if not num.isdigit() or index is not None:
                raise RuntimeError(_bad_device_message(spec))
            index = int(num)
        if kind == "cpu":
            if index not in (None, 0):
                raise RuntimeError(_bad_device_message(spec))
            self.type, self.index = "cpu", None
        elif kind in ("opencl", "gpu", "cuda"):
            from .runtime import opencl_device

            if not opencl_device.is_available():
                raise opencl_device.OpenCLUnavailableError()
            if index is None:
                index = opencl_device.gpu_index() if kind != "opencl" else 0
            if not 0 <= index < opencl_device.device_count():
                raise RuntimeError(
                    f"OpenCL device index {index} is out of range: "
                    f"{opencl_device.device_count()} device(s) available "
                    f"({', '.join(valid_devices())})"
                )
            self.type, self.index = "opencl", index
        else:
            raise RuntimeError(_bad_device_message(spec))

    def __repr__(self) -> str:
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            try:
                other = device(other)
            except RuntimeError:
                return False
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))


def valid_devices() -> list[str]:
    """Names of every device that can be used here."""
    from .runtime import opencl_device

    return ["cpu"] + [f"opencl:{i}" for i in range(opencl_device.device_count())]


def _bad_device_message(spec: str) -> str:
    return (
        f"Invalid device string: '{spec}'. Expected one of: cpu, opencl, opencl:N, gpu, "
        f"cuda (usable here: {', '.join(valid_devices())})"
    )


_chosen: list[device | None] = [None]  # set by `set_default_device`


def default_device() -> device:
    """The device `set_default_device` chose, else the one LAZYGRAD_DEVICE names, else the CPU."""
    return _chosen[0] or to_device(os.environ.get("LAZYGRAD_DEVICE") or "cpu")


def set_default_device(spec: str | device | None) -> None:
    """Make `spec` the device of tensors made without a `device=` (None: back to the default)."""
    _chosen[0] = None if spec is None else to_device(spec)


_cache: dict[str, device] = {}


def to_device(spec: str | device | None) -> device:
    """Normalize a `device=` argument (None means the default device)."""
    if spec is None:
        return default_device()
    if isinstance(spec, device):
        return spec
    if spec not in _cache:
        _cache[spec] = device(spec)
    return _cache[spec]
