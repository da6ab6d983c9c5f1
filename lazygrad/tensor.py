"""The `Tensor` API: every op records IR and returns at once; nothing runs until realize.

Broadcasting is explicit (reshape to add 1s, then expand), type promotion and
all user-facing checks happen here, when the op is recorded, with PyTorch's
exception classes and wording. Composite ops are built from the primitives.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import dtypes as dt
from . import live, recording
from .autograd_state import AccumulateGrad, GradFn, is_grad_enabled
from .device import device, to_device
from .formatting import format_tensor
from .ir.node import Node, make
from .ir.ops import Op
from .size import Size

Scalar = int | float | bool


class Tensor:
    """A lazy n-dimensional array on a device, shaped like `torch.Tensor`."""

    __slots__ = (
        "_node",
        "_device",
        "_requires_grad",
        "_grad",
        "grad_fn",
        "_accumulator",
        "_aliases",
        "__weakref__",
    )
    __array_priority__ = 1000  # so `ndarray + Tensor` defers to Tensor.__radd__

    def _init(self, node: Node, dev: device, requires_grad: bool = False) -> None:
        self._node = node
        self._device = dev
        self._requires_grad = requires_grad
        self._grad: Tensor | None = None
        self.grad_fn: GradFn | None = None
        self._accumulator: AccumulateGrad | None = None
        # Earlier nodes of a leaf that requires grad (before realization replaced them), so
        # graphs recorded before then still find the leaf.
        self._aliases: list[weakref.ref[Node]] = []
        live.track(self)
        if recording.active is not None:
            recording.active.made(self)

    @classmethod
    def _wrap(cls, node: Node, dev: device, requires_grad: bool = False) -> Tensor:
        t = cls.__new__(cls)
        t._init(node, dev, requires_grad)
        return t

    # ---- attributes -------------------------------------------------------------------
    @property
    def shape(self) -> Size:
        return Size(self._node.shape)

    def size(self, dim: int | None = None) -> Size | int:
        """The shape, or the size of one dimension."""
        if dim is None:
            return self.shape
        return self._node.shape[self._dim(dim)]

    @property
    def dtype(self) -> dt.DType:
        return self._node.dtype

    @property
    def device(self) -> device:
        return self._device

    @property
    def ndim(self) -> int:
        return len(self._node.shape)

    def dim(self) -> int:
        """Number of dimensions."""
        return self.ndim

    def numel(self) -> int:
        """Number of elements."""
        return math.prod(self._node.shape)

    def is_floating_point(self) -> bool:
        """Whether the dtype is a floating one (float16, float32 or float64)."""
        return self.dtype.is_floating_point

    @property
    def grad(self) -> Tensor | None:
        """The gradient `backward()` accumulated into this leaf (None until then)."""
        if recording.active is not None:
            recording.active.grad_read(self)
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if recording.active is not None:
            recording.active.grad_assigned(self)
        self._grad = value

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        if not self.is_leaf:
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables. If "
                "you want to use a computed variable in a subgraph that doesn't "
                "require differentiation use var_no_grad = var.detach()."
            )
        if flag and not self.dtype.is_floating_point:
            raise RuntimeError(
                "only Tensors of floating point and complex dtype can require gradients"
            )
        self._set_leaf_requires_grad(bool(flag))

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set `requires_grad` on a leaf in place and return it."""
        if requires_grad and not self.dtype.is_floating_point:
            raise RuntimeError("only Tensors of floating point dtype can require gradients")
        if not self.is_leaf:
            raise RuntimeError("you can only change requires_grad flags of leaf variables.")
        self._set_leaf_requires_grad(bool(requires_grad))
        return self

    def _set_leaf_requires_grad(self, flag: bool) -> None:
        if recording.active is not None:
            recording.active.will_change(self)
        if flag and not self._requires_grad and self._node.op is not Op.BUFFER:
            # A leaf that requires grad needs its own node identity: interning would
            # otherwise merge two `zeros(3, requires_grad=True)` into one leaf.
            self._node = make(Op.CONTIGUOUS, (self._node,), _LeafToken())
        self._requires_grad = flag

    def _leaf_nodes(self) -> list[Node]:
        """Every node that stands for this leaf in recorded graphs."""
        alive = [n for n in (ref() for ref in self._aliases) if n is not None]
        return [self._node, *alive]

    def _replace_node(self, node: Node) -> None:
        """Point at a realized buffer, keeping the old identity findable for autograd."""
        if self._requires_grad:
            self._aliases = [r for r in self._aliases if r() is not None]
            self._aliases.append(weakref.ref(self._node))
        self._node = node

    def _accumulate_grad(self) -> AccumulateGrad:
        if self._accumulator is None:
            self._accumulator = AccumulateGrad(self)
        return self._accumulator

    # ---- leaving the graph ------------------------------------------------------------
    # `Tensor(data)`, `realize`, `schedule`, `graph`, `_host` (which every reader of values
    # calls: numpy, item, print...) and `backward` run the engine and the ops above this
    # class: `frontend.methods` binds them.
    def numpy(self) -> np.ndarray:
        """The values as a NumPy array (copied to the host for OpenCL tensors)."""
        if self.requires_grad:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use "
                "tensor.detach().numpy() instead."
            )
        self._check_numpy_has_dtype()
        return self._host()

    def _check_numpy_has_dtype(self) -> None:
        """NumPy has no bfloat16 of its own: PyTorch refuses the conversion; so do we."""
        if self.dtype is dt.bfloat16:
            raise TypeError("Got unsupported ScalarType BFloat16")

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        self._check_numpy_has_dtype()
        arr = self._host()
        return arr if dtype is None else arr.astype(dtype)

    def item(self) -> Scalar:
        """The value of a one-element tensor as a Python number."""
        if self.numel() != 1:
            raise RuntimeError(
                f"a Tensor with {self.numel()} elements cannot be converted to Scalar"
            )
        return self._host().reshape(()).item()

    def tolist(self) -> Any:
        """The values as (nested) Python lists."""
        return self._host().tolist()

    def __float__(self) -> float:
        return float(self._scalar())

    def __int__(self) -> int:
        return int(self._scalar())

    def _scalar(self) -> Scalar:
        if self.numel() != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        return self.item()

    def __index__(self) -> int:
        if self.dtype.category != 1 or self.numel() != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __bool__(self) -> bool:
        if self.numel() != 1:
            amount = "no values" if self.numel() == 0 else "more than one value"
            raise RuntimeError(f"Boolean value of Tensor with {amount} is ambiguous")
        return bool(self.item())

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._node.shape[0]

    def __iter__(self):  # noqa: ANN204
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._node.shape[0]))

    def __repr__(self) -> str:
        suffixes = []
        if self._device.type != "cpu":
            suffixes.append(f"device='{self._device}'")
        if self.grad_fn is not None:
            suffixes.append(f"grad_fn=<{self.grad_fn.name()}>")
        elif self.requires_grad:
            suffixes.append("requires_grad=True")
        return format_tensor(self._host(), self.dtype.name, suffixes)

    __str__ = __repr__

    def __format__(self, format_spec: str) -> str:
        """A 0-d tensor formats as its number (`f"{loss:.4f}"`), as in PyTorch."""
        if self.ndim == 0:
            return self.item().__format__(format_spec)
        return object.__format__(self, format_spec)

    def __hash__(self) -> int:
        return id(self)

    # ---- helpers used by every op -------------------------------------------------------
    def _dim(self, d: int, ndim: int | None = None) -> int:
        n = self.ndim if ndim is None else ndim
        lo, hi = (-1, 0) if n == 0 else (-n, n - 1)
        if not isinstance(d, int | np.integer) or not lo <= d <= hi:
            raise IndexError(
                f"Dimension out of range (expected to be in range of [{lo}, {hi}], but got {d})"
            )
        return int(d) % max(n, 1)

    def _dims(self, dims: int | Sequence[int] | None) -> tuple[int, ...]:
        if dims is None:
            return tuple(range(self.ndim))
        if isinstance(dims, int | np.integer):
            dims = (int(dims),)
        out = tuple(self._dim(d) for d in dims)
        if len(set(out)) != len(out):
            raise RuntimeError(f"dim {out} appears multiple times in the list of dims")
        return out

    def _result(self, node: Node, name: str, inputs: tuple[Tensor | None, ...]) -> Tensor:
        requires = False
        for t in inputs:
            if t is not None and t._requires_grad:
                requires = is_grad_enabled()
                break
        out = Tensor._wrap(node, self._device, requires)
        if requires:
            out.grad_fn = GradFn(name, inputs)
        return out

    def _check_device(self, other: Tensor) -> None:
        if other._device is not self._device and other._device != self._device:
            a, b = sorted((str(self._device), str(other._device)), key=lambda s: s == "cpu")
            raise RuntimeError(
                "Expected all tensors to be on the same device, but found at "
                f"least two devices, {a} and {b}!"
            )

    def _cast_node(self, to: dt.DType) -> Node:
        return self._node if self.dtype == to else make(Op.CAST, (self._node,), to)

    def _in_place(self, result: Tensor) -> Tensor:
        """Make `self` stand for `result` (in-place ops are functional updates of the graph)."""
        if recording.active is not None:
            recording.active.will_change(self)
        if self._requires_grad and self.is_leaf and is_grad_enabled():
            raise RuntimeError(
                "a leaf Variable that requires grad is being used in an in-place operation."
            )
        node = result._node
        if result.dtype != self.dtype:
            if self.dtype.category < result.dtype.category:
                raise RuntimeError(
                    f"result type {_torch_name(result.dtype)} can't be cast to "
                    f"the desired output type {_torch_name(self.dtype)}"
                )
            node = make(Op.CAST, (node,), self.dtype)
        if node.shape != self._node.shape:
            raise RuntimeError(
                f"output with shape {list(self.shape)} doesn't match the "
                f"broadcast shape {list(node.shape)}"
            )
        if self._requires_grad and self.is_leaf:  # under no_grad: keep the leaf's identity
            node = make(Op.CONTIGUOUS, (node,), _LeafToken())
        self._node = node
        if result.grad_fn is not None:
            self.grad_fn = result.grad_fn
            self._requires_grad = True
        return self

    # ---- conversions ---------------------------------------------------------------------
    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        """`to(device)`, `to(dtype)` or `to(device, dtype)`; returns self when nothing changes."""
        target_dev, target_dtype = self._device, self.dtype
        for a in list(args) + list(kwargs.values()):
            if a is None or isinstance(a, bool):
                continue
            if isinstance(a, dt.DType | type) or (isinstance(a, str) and a in dt._ALIASES):
                target_dtype = dt.to_dtype(a)
            elif isinstance(a, Tensor):
                target_dev, target_dtype = a._device, a.dtype
            else:
                target_dev = to_device(a)
        out = self
        if target_dtype != self.dtype:
            out = out._cast(target_dtype)
        if target_dev != self._device:
            copy = make(Op.COPY, (out._node,), (str(out._device), str(target_dev)))
            out = out._result(copy, "ToCopyBackward0", (out,))
            out._device = target_dev
        return out

    def cpu(self) -> Tensor:
        """This tensor on the CPU."""
        return self.to("cpu")

    def cuda(self, device: int | str | None = None) -> Tensor:
        """This tensor on the GPU ('cuda' is lazygrad's alias of its OpenCL GPU device)."""
        if device is None:
            return self.to("cuda")
        return self.to(device if isinstance(device, str) else f"cuda:{device}")

    def detach_(self) -> Tensor:
        """Cut this tensor off from the autograd graph, in place (it becomes a leaf that
        does not require grad)."""
        self.grad_fn = None
        self._requires_grad = False
        return self

    def _set_data(self, value: Tensor) -> None:
        """`t.data = value`: t holds value's data (not its history) from now on."""
        if not isinstance(value, Tensor):
            raise TypeError(f"data must be a Tensor, not {type(value).__name__}")
        if recording.active is not None:
            recording.active.will_change(self)
        node = value._node
        if self._requires_grad and self.is_leaf:  # a leaf keeps a node of its own
            node = make(Op.CONTIGUOUS, (node,), _LeafToken())
        self._node = node
        self._device = value._device

    def _cast(self, to: dt.DType) -> Tensor:
        if to == self.dtype:
            return self
        out = self._result(make(Op.CAST, (self._node,), to), "ToCopyBackward0", (self,))
        if not to.is_floating_point and out._requires_grad:
            out._requires_grad, out.grad_fn = False, None
        return out

    def type(self, dtype: Any = None) -> Any:
        """With a dtype: this tensor cast to it; without: the type name."""
        if dtype is None:
            return f"lazygrad.{_torch_name(self.dtype)}Tensor"
        return self._cast(dt.to_dtype(dtype))

    def float(self) -> Tensor:
        return self._cast(dt.float32)

    def half(self) -> Tensor:
        """This tensor as float16 (`torch.Tensor.half`)."""
        return self._cast(dt.float16)

    def bfloat16(self) -> Tensor:
        """This tensor as bfloat16 (`torch.Tensor.bfloat16`)."""
        return self._cast(dt.bfloat16)

    def byte(self) -> Tensor:
        """This tensor as uint8 (values wrap around, as in PyTorch)."""
        return self._cast(dt.uint8)

    def char(self) -> Tensor:
        """This tensor as int8 (values wrap around, as in PyTorch)."""
        return self._cast(dt.int8)

    def short(self) -> Tensor:
        """This tensor as int16 (values wrap around, as in PyTorch)."""
        return self._cast(dt.int16)

    def double(self) -> Tensor:
        return self._cast(dt.float64)

    def int(self) -> Tensor:
        return self._cast(dt.int32)

    def long(self) -> Tensor:
        return self._cast(dt.int64)

    def bool(self) -> Tensor:
        return self._cast(dt.bool_)

    def detach(self) -> Tensor:
        """The same values, cut off from the autograd graph."""
        return Tensor._wrap(make(Op.DETACH, (self._node,)), self._device)

    def clone(self) -> Tensor:
        """A copy that is a separate node of the graph."""
        return self._result(make(Op.CONTIGUOUS, (self._node,)), "CloneBackward0", (self,))


class _LeafToken:
    """A unique marker giving a leaf its own node (hashable by identity)."""

    __slots__ = ("__weakref__",)

    def __repr__(self) -> str:
        return "leaf"


def is_leaf_token(node: Node) -> bool:
    """Whether `node` is the CONTIGUOUS that gives a leaf requiring grad its own identity."""
    return node.op is Op.CONTIGUOUS and isinstance(node.arg, _LeafToken)


def _torch_name(d: dt.DType) -> str:
    """PyTorch's scalar-type name of `d` ('Float', 'Byte', 'Half', ...)."""
    return d.torch_name
