"""lazygrad: a PyTorch-shaped tensor library whose every op is lazy.

Ops record an IR graph; realizing it runs compiler passes (simplification, view
folding, fusion) and generated NumPy or OpenCL kernels.
"""

from __future__ import annotations

from .autograd_state import enable_grad, is_grad_enabled, no_grad
from .device import device
from .dtypes import DType as dtype
from .dtypes import (
    bfloat16,
    float16,
    float32,
    float64,
    int8,
    int16,
    int32,
    int64,
    set_default_dtype,
    uint8,
)
from .dtypes import bool_ as bool  # noqa: A001 - lg.bool like torch.bool
from .engine.jit import jit
from .engine.realize import realize, schedule
from .frontend import methods as _methods
from .frontend.creation import (
    Generator,
    arange,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    get_rng_state,
    linspace,
    manual_seed,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    set_rng_state,
    tensor,
    zeros,
    zeros_like,
)
from .frontend.linalg import matmul
from .frontend.math_ops import (
    abs,
    argmax,
    argmin,
    clamp,
    cos,
    exp,
    log,
    log2,
    log_softmax,
    logsumexp,
    max,
    maximum,
    mean,
    min,
    minimum,
    prod,
    reciprocal,
    relu,
    rsqrt,
    sigmoid,
    sign,
    sin,
    softmax,
    sqrt,
    std,
    sum,
    tanh,
    var,
    where,
)
from .frontend.movement import (
    cat,
    chunk,
    flatten,
    permute,
    reshape,
    split,
    squeeze,
    stack,
    transpose,
    unsqueeze,
)
from .size import Size
from .tensor import Tensor

_methods.bind()

__version__ = "0.1.0"
float = float32  # noqa: A001 - torch.float
double = float64
half = float16
long = int64
int = int32  # noqa: A001
short = int16


def pow(input, exponent):  # noqa: A001, ANN001, ANN201 - torch.pow
    """input ** exponent elementwise (a number base too: lg.pow(2, t))."""
    return input**exponent


def devices() -> list[device]:
    """Every device that can be used here."""
    from .device import valid_devices

    return [device(name) for name in valid_devices()]


from . import accelerator, cuda, distributed, nn, opencl, optim, utils, viz  # noqa: E402
from .explain import explain  # noqa: E402
from .export import export  # noqa: E402
from .frontend import autograd  # noqa: E402
from .frontend.pointwise import *  # noqa: E402, F403 - each module lists its names in __all__
from .frontend.reductions import *  # noqa: E402, F403
from .frontend.shapes import *  # noqa: E402, F403
from .serialization import load, save  # noqa: E402

__all__ = [name for name in dir() if not name.startswith("_")]
