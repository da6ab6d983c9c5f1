"""dtypes and the one type-promotion table (PyTorch rules, Python scalars are "weak").

float16 and bfloat16 are *narrow* floats: each op computes in float32 and rounds its result
to the narrow type, and sums, products and matmuls accumulate in float32 and round once, as
PyTorch does. NumPy has no bfloat16: `ml_dtypes` supplies the NumPy dtype (and its ufunc
loops). OpenCL C has no arithmetic on either without extensions: the OpenCL backend keeps
their values as float32 in device memory and rounds every result (`cl_name` is the type it
computes in). The default floating dtype (`default_float`) is
float32 unless `set_default_dtype` changed it."""

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
        """The NumPy dtype (bfloat16's comes from `ml_dtypes`, imported on first use: it
        takes most of a second)."""
        found = _NUMPY.get(self.name)
        return found if found is not None else _bfloat16_numpy()

    @property
    def is_floating_point(self) -> bool:
        """Whether this is a floating dtype (float16, bfloat16, float32 or float64)."""
        return self.category == 2

    @property
    def is_narrow_float(self) -> bool:
        """Whether this is float16 or bfloat16: computed in float32, each result rounded."""
        return self.category == 2 and self.itemsize == 2

    @property
    def is_signed(self) -> bool:
        """Whether values below zero exist (false for bool and uint8), as `torch.dtype`."""
        return self.name not in ("bool", "uint8")

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


_NAMES = ("bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64")
_NUMPY = {name: np.dtype(name) for name in _NAMES}
_TORCH_NAMES = {
    "bool": "Bool",
    "uint8": "Byte",
    "int8": "Char",
    "int16": "Short",
    "int32": "Int",
    "int64": "Long",
    "float16": "Half",
    "bfloat16": "BFloat16",
    "float32": "Float",
    "float64": "Double",
}
_C_NAMES = {
    "bool": "bool",
    "uint8": "unsigned char",
    "int8": "signed char",
    "int16": "short int",
    "int32": "int",
    "int64": "long int",
    "float16": "c10::Half",
    "bfloat16": "c10::BFloat16",
    "float32": "float",
    "float64": "double",
}


bool_ = DType("bool", 0, 1, "bool")
uint8 = DType("uint8", 1, 1, "uchar")
int8 = DType("int8", 1, 1, "char")
int16 = DType("int16", 1, 2, "short")
int32 = DType("int32", 1, 4, "int")
int64 = DType("int64", 1, 8, "long")
float16 = DType("float16", 2, 2, "float")  # computed in float, rounded to half (see above)
bfloat16 = DType("bfloat16", 2, 2, "float")  # computed in float, rounded to bfloat16
float32 = DType("float32", 2, 4, "float")
float64 = DType("float64", 2, 8, "double")

ALL_DTYPES = (bool_, uint8, int8, int16, int32, int64, float16, bfloat16, float32, float64)
_BY_NUMPY = {d.np: d for d in ALL_DTYPES if d is not bfloat16}


def _bfloat16_numpy() -> np.dtype:
    """bfloat16's NumPy dtype, registered on first use."""
    import ml_dtypes

    found = _NUMPY["bfloat16"] = np.dtype(ml_dtypes.bfloat16)
    _BY_NUMPY[found] = bfloat16
    return found


_ALIASES = {
    "half": float16,
    "float16": float16,
    "bfloat16": bfloat16,
    "float": float32,
    "float32": float32,
    "double": float64,
    "float64": float64,
    "uint8": uint8,
    "char": int8,
    "int8": int8,
    "short": int16,
    "int16": int16,
    "int": int32,
    "int32": int32,
    "long": int64,
    "int64": int64,
    "bool": bool_,
}
# The dtype of floating tensors made without one: float32 unless `set_default_dtype` changed
# it. Read it as `dtypes.default_float` (module attribute) so that a change is seen.
default_float = float32


def set_default_dtype(d: object) -> None:
    """`torch.set_default_dtype`: a floating dtype (float32, float64; float16 too, as recent
    PyTorch allows) becomes the dtype of floating tensors made without one (Python floats,
    `zeros`, `rand`, layers' parameters, int / int)."""
    global default_float
    target = to_dtype(d)
    if not target.is_floating_point:
        raise TypeError("only floating-point types are supported as the default type")
    default_float = target


def from_numpy_dtype(dt: np.dtype) -> DType:
    """The lazygrad dtype for a NumPy dtype; unsupported ones raise TypeError."""
    dt = np.dtype(dt)
    if dt in _BY_NUMPY:
        return _BY_NUMPY[dt]
    if dt.name == "bfloat16":  # an ml_dtypes array: its module is loaded
        return bfloat16
    if dt.kind == "f":  # long double
        return float64
    if dt.kind in "iu":  # uint16, uint32, uint64: the signed type that holds them (or int64)
        return int32 if dt.itemsize < 4 else int64
    raise TypeError(
        f"can't convert np.ndarray of type numpy.{dt}. The only supported types are: "
        "float64, float32, float16, int64, int32, int16, int8, uint8, and bool."
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
    """`torch.promote_types`: the smallest dtype of the higher category (bool < integer <
    floating) that holds both; uint8 with int8 gives int16, float16 with bfloat16 float32
    (neither holds the other)."""
    if a is b:
        return a
    if a.category != b.category:
        return a if a.category > b.category else b
    if uint8 in (a, b):  # the only unsigned integer: a signed one must hold 0..255 too
        other = b if a is uint8 else a
        return int16 if other is int8 else other
    if a.is_narrow_float and b.is_narrow_float:  # float16 and bfloat16: neither holds the other
        return float32
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


def _default_for_category(category: int) -> DType:
    """The dtype of a Python scalar of `category` when it decides a result's dtype."""
    return bool_ if category == 0 else (int64 if category == 1 else default_float)


def wrap_scalar(value: object, d: DType) -> object:
    """A Python scalar as a Python value that dtype `d` holds, converted as PyTorch casts a
    scalar operand to an integer tensor's dtype: integers wrap around (two's complement,
    `uint8_tensor + 256` adds 0). Floats and bools are returned as they are (NumPy rounds
    them to `d`'s precision)."""
    if d.category != 1 or isinstance(value, bool | np.bool_):
        return value
    if isinstance(value, float | np.floating):
        if not np.isfinite(value):
            return value
        value = int(value)  # truncation toward zero, as C's conversion
    v = int(value)  # type: ignore[call-overload]
    if not -(2**63) <= v < 2**63:  # PyTorch reads every integer scalar as an int64 first
        raise RuntimeError("Overflow when unpacking long")
    bits = 8 * d.itemsize
    v &= (1 << bits) - 1
    if d is not uint8 and v >= 1 << (bits - 1):
        v -= 1 << bits
    return v


def numpy_scalar(value: object, d: DType) -> np.generic:
    """`value` as a NumPy scalar of dtype `d` (integers wrapped as `wrap_scalar` does)."""
    try:
        return d.np.type(value)  # type: ignore[no-any-return]
    except OverflowError:  # an integer beyond a narrow dtype
        return d.np.type(wrap_scalar(value, d))  # type: ignore[no-any-return]


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
            result = _default_for_category(cat)
        elif cat > result.category:
            result = _default_for_category(cat)
    assert result is not None
    return result
