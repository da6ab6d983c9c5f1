"""dtypes and the one type-promotion table (PyTorch rules, Python scalars are "weak")."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True, eq=False)  # singletons: identity eq and hash are fast
class DType:
    """A lazygrad dtype: its name, category and the NumPy/OpenCL types it maps to."""

    name: str
    category: int  # 0 bool, 1 integer, 2 floating
    itemsize: int
    cl_name: str

    @property
    def np(self) -> np.dtype:
        """The NumPy dtype."""
        return _NUMPY[self.name]

    @property
    def is_floating_point(self) -> bool:
        """Whether this is float32 or float64."""
        return self.category == 2

    @property
    def torch_name(self) -> str:
        """PyTorch's scalar-type name, used in error messages ('Float', 'Long', ...)."""
        return _TORCH_NAMES[self.name]

    @property
    def c_name(self) -> str:
        """The C type name PyTorch's matmul errors use ('float', 'long int', ...)."""
        return _C_NAMES[self.name]

    def __repr__(self) -> str:
        return f"lazygrad.{self.name}"


_NUMPY = {name: np.dtype(name) for name in ("bool", "int32", "int64", "float32", "float64")}
_TORCH_NAMES = {
    "bool": "Bool",
    "int32": "Int",
    "int64": "Long",
    "float32": "Float",
    "float64": "Double",
}
_C_NAMES = {
    "bool": "bool",
    "int32": "int",
    "int64": "long int",
    "float32": "float",
    "float64": "double",
}


bool_ = DType("bool", 0, 1, "bool")
int32 = DType("int32", 1, 4, "int")
int64 = DType("int64", 1, 8, "long")
float32 = DType("float32", 2, 4, "float")
float64 = DType("float64", 2, 8, "double")

ALL_DTYPES = (bool_, int32, int64, float32, float64)
_BY_NUMPY = {d.np: d for d in ALL_DTYPES}
_ALIASES = {
    "float": float32,
    "float32": float32,
    "double": float64,
    "float64": float64,
    "int": int32,
    "int32": int32,
    "long": int64,
    "int64": int64,
    "bool": bool_,
}
default_float = float32


def from_numpy_dtype(dt: np.dtype) -> DType:
    """The lazygrad dtype for a NumPy dtype; unsupported ones raise TypeError."""
    dt = np.dtype(dt)
    if dt in _BY_NUMPY:
        return _BY_NUMPY[dt]
    if dt.kind == "f":
        return float32 if dt.itemsize <= 4 else float64
    if dt.kind in "iu":
        return int32 if dt.itemsize < 4 else int64
    raise TypeError(
        f"can't convert np.ndarray of type numpy.{dt}. The only supported types are: "
        "float64, float32, int64, int32, and bool."
    )


def to_dtype(dtype: object) -> DType:
    """Normalize a user dtype argument (DType, NumPy dtype, Python type or name)."""
    if isinstance(dtype, DType):
        return dtype
    if dtype is float:  # as in PyTorch, Python's float is a double
        return float64
    if dtype is int:
        return int64
    if dtype is bool:
        return bool_
    if isinstance(dtype, str) and dtype in _ALIASES:
        return _ALIASES[dtype]
    try:
        return from_numpy_dtype(np.dtype(dtype))
    except TypeError as err:
        raise TypeError(
            f"{dtype!r} is not a lazygrad dtype; use one of "
            f"{', '.join(repr(d) for d in ALL_DTYPES)}"
        ) from err


def promote_types(a: DType, b: DType) -> DType:
    """The smallest dtype both a and b convert to without losing category (bool < int < float)."""
    if a == b:
        return a
    if a.category != b.category:
        return a if a.category > b.category else b
    return a if a.itemsize >= b.itemsize else b


def scalar_category(value: object) -> int:
    """Category of a Python scalar: 0 bool, 1 int, 2 float."""
    if isinstance(value, bool | np.bool_):
        return 0
    if isinstance(value, int | np.integer):
        return 1
    if isinstance(value, float | np.floating):
        return 2
    raise TypeError(f"unsupported scalar type {type(value).__name__}")


_DEFAULT_FOR_CATEGORY = {0: bool_, 1: int64, 2: float32}


def result_type(dims: list[DType], zero_dims: list[DType], scalars: list[object]) -> DType:
    """PyTorch's promotion: dimensioned tensors win over 0-d tensors, which win over
    Python scalars, unless a lower tier brings a higher category (then its default dtype)."""
    result: DType | None = None
    for tier in (dims, zero_dims):
        if not tier:
            continue
        tier_type = tier[0]
        for d in tier[1:]:
            tier_type = promote_types(tier_type, d)
        if result is None:
            result = tier_type
        elif tier_type.category > result.category:
            # A 0-d tensor of a higher category keeps its own dtype (int tensor + 0-d double).
            result = tier_type
    for s in scalars:
        cat = scalar_category(s)
        if result is None:
            result = _DEFAULT_FOR_CATEGORY[cat]
        elif cat > result.category:
            result = _DEFAULT_FOR_CATEGORY[cat]
    assert result is not None
    return result
