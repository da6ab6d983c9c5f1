"""`nn.functional`: layers and losses as functions, built from lazy Tensor ops only.

Nothing here computes: every function records IR and returns at once, so a whole
forward pass (and its backward) fuses into few kernels when realized.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np

from .. import recording
from ..autograd_state import no_grad
from ..frontend import math_ops
from ..frontend.creation import arange, full, rand, tensor
from ..frontend.math_ops import _renamed, where
from ..frontend.movement import pad as _pad_dims
from ..frontend.movement import stack
from ..ir.ops import Op
from ..tensor import Tensor

IntPair = int | tuple[int, int]

__all__ = [
    "avg_pool2d",
    "batch_norm",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "conv1d",
    "conv2d",
    "cross_entropy",
    "dropout",
    "dropout1d",
    "dropout2d",
    "elu",
    "embedding",
    "gelu",
    "group_norm",
    "huber_loss",
    "interpolate",
    "kl_div",
    "l1_loss",
    "layer_norm",
    "leaky_relu",
    "linear",
    "log_softmax",
    "logsigmoid",
    "max_pool2d",
    "mse_loss",
    "nll_loss",
    "one_hot",
    "pad",
    "relu",
    "scaled_dot_product_attention",
    "sigmoid",
    "silu",
    "smooth_l1_loss",
    "softmax",
    "softplus",
    "tanh",
]


# ---- activations ----------------------------------------------------------------------------
def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0)."""
    return input.relu()


def sigmoid(input: Tensor) -> Tensor:
    """1 / (1 + exp(-x))."""
    return input.sigmoid()


def tanh(input: Tensor) -> Tensor:
    """Hyperbolic tangent."""
    return input.tanh()


def _erf(x: Tensor) -> Tensor:
    """erf(x) from primitives: the Chebyshev-fitted erfc of Numerical Recipes (W. H. Press et
    al., section 6.2), erfc(z) = t·exp(-z² + P(t)) with t = 1/(1 + z/2), |error| < 1.2e-7.
    Its derivative differs from 2/√π·exp(-x²) by < 1e-5 (and is 0 at exactly x = 0)."""
    z = x.abs()
    t = 1.0 / (1.0 + 0.5 * z)
    coefficients = (
        0.17087277,
        -0.82215223,
        1.48851587,
        -1.13520398,
        0.27886807,
        -0.18628806,
        0.09678418,
        0.37409196,
        1.00002368,
    )
    poly = t * coefficients[0]
    for c in coefficients[1:-1]:
        poly = t * (poly + c)
    poly = t * (poly + coefficients[-1]) - 1.26551223
    erfc = t * (poly - z * z).exp()
    return where(x < 0, erfc - 1.0, 1.0 - erfc)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x·Φ(x) with Φ the standard normal CDF (via erf), or its tanh approximation."""
    if approximate == "tanh":
        inner = math.sqrt(2.0 / math.pi) * (input + 0.044715 * input * input * input)
        return _renamed(0.5 * input * (1.0 + inner.tanh()), "GeluBackward0")
    if approximate != "none":
        raise RuntimeError(f"approximate argument must be either none or tanh, got {approximate!r}")
    return _renamed(0.5 * input * (1.0 + _erf(input * (1.0 / math.sqrt(2.0)))), "GeluBackward0")


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x where x > 0, else negative_slope·x."""
    return _renamed(where(input > 0, input, input * negative_slope), "LeakyReluBackward0")


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x where x > 0, else alpha·(exp(x) - 1) (the exponent is clamped, so large x stays
    finite in the branch not taken, and in its gradient)."""
    negative = alpha * (math_ops.clamp(input, max=0.0).exp() - 1.0)
    return _renamed(where(input > 0, input, negative), "EluBackward0")


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x·sigmoid(x) (also called swish)."""
    return _renamed(input * input.sigmoid(), "SiluBackward0")


def _log1p_exp(x: Tensor) -> Tensor:
    """log(1 + exp(x)) without overflow, with the exact derivative sigmoid(x) at 0 too."""
    pos = math_ops.clamp(x, min=0.0)
    neg = math_ops.clamp(x, max=0.0)
    return where(x > 0, pos + (1.0 + (-pos).exp()).log(), (1.0 + neg.exp()).log())


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta·x)) / beta, and x itself where beta·x > threshold."""
    scaled = input * beta if beta != 1.0 else input
    soft = _log1p_exp(scaled)
    if beta != 1.0:
        soft = soft / beta
    return _renamed(where(scaled > threshold, input, soft), "SoftplusBackward0")


def logsigmoid(input: Tensor) -> Tensor:
    """log(sigmoid(x)) = -softplus(-x), computed stably."""
    return _renamed(-_log1p_exp(-input), "LogSigmoidBackward0")


def _softmax_dim(ndim: int) -> int:
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input: Tensor, dim: int | None = None, dtype: object = None) -> Tensor:
    """exp(x) / Σ exp(x) along `dim`, computed stably."""
    return math_ops.softmax(input, _softmax_dim(input.ndim) if dim is None else dim, dtype)


def log_softmax(input: Tensor, dim: int | None = None, dtype: object = None) -> Tensor:
    """x - logsumexp(x) along `dim`, computed stably."""
    return math_ops.log_softmax(input, _softmax_dim(input.ndim) if dim is None else dim, dtype)


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability `p` and scale the rest by 1/(1-p) (training only).

    The mask comes from `lg.rand`, so `lg.manual_seed` makes it reproducible. `inplace` is
    accepted for compatibility; the result is always a new (lazy) tensor."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    keep = rand(input.shape, dtype=input.dtype, device=input.device) >= p
    scale = 1.0 / (1.0 - p) if p < 1.0 else 0.0
    return _renamed(where(keep, input * scale, 0.0), "NativeDropoutBackward0")


def _feature_dropout(
    input: Tensor, p: float, training: bool, mask_shape: tuple[int, ...]
) -> Tensor:
    """Dropout of whole feature maps: one keep/drop draw per entry of `mask_shape` (the
    input's shape with 1s over the spatial dims), broadcast over the maps."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    keep = rand(mask_shape, dtype=input.dtype, device=input.device) >= p
    scale = 1.0 / (1.0 - p) if p < 1.0 else 0.0
    return where(keep, input * scale, 0.0)


def dropout1d(
    input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False
) -> Tensor:
    """Zero whole channels of (N, C, L) or (C, L) input with probability `p` (training only),
    scaling the rest by 1/(1-p)."""
    if input.ndim not in (2, 3):
        raise RuntimeError(
            "dropout1d: Expected 2D or 3D input, but received a "
            f"{input.ndim}D input. Note that dropout1d exists to provide channel-wise "
            "dropout on inputs with 1 spatial dimension, a channel dimension, and an "
            "optional batch dimension (i.e. 2D or 3D inputs)."
        )
    return _feature_dropout(input, p, training, (*input.shape[:-1], 1))


def dropout2d(
    input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False
) -> Tensor:
    """Zero whole channels of (N, C, H, W) input with probability `p` (training only),
    scaling the rest by 1/(1-p). A 3-D input is taken as (N, C, L), as PyTorch does (it
    warns), so each (n, c) row is one channel; other ranks: one draw per leading pair."""
    if input.ndim < 2:
        raise RuntimeError("dropout2d: expected an input with at least 2 dimensions")
    mask = (*input.shape[:2], *([1] * (input.ndim - 2)))
    return _feature_dropout(input, p, training, mask)


# ---- layers ---------------------------------------------------------------------------------
def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x @ weightᵀ + bias."""
    out = input.matmul(weight.t())
    if bias is None:
        return out
    return _renamed(out + bias, "AddmmBackward0" if input.ndim == 2 else "AddBackward0")


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """Rows of `weight` selected by the integer tensor `input`; no gradient flows into the
    row `padding_idx`."""
    if input.is_floating_point():
        raise RuntimeError(
            "Expected tensor for argument #1 'indices' to have one of the "
            "following scalar types: Long, Int; but got a floating point tensor"
        )
    out = weight[input]
    if padding_idx is not None:
        if padding_idx < 0:
            padding_idx += weight.shape[0]
        out = where((input == padding_idx).unsqueeze(-1), out.detach(), out)
    return _renamed(out, "EmbeddingBackward0")


def layer_norm(
    input: Tensor,
    normalized_shape: int | Sequence[int],
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalize over the trailing `normalized_shape` dims (biased variance), then scale and
    shift."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if tuple(input.shape[input.ndim - len(shape) :]) != shape or input.ndim < len(shape):
        raise RuntimeError(
            f"Given normalized_shape={list(shape)}, expected input with shape "
            f"[*, {', '.join(map(str, shape))}], but got input of size"
            f"{list(input.shape)}"
        )
    dims = tuple(range(input.ndim - len(shape), input.ndim))
    centered = input - input.mean(dims, keepdim=True)
    variance = (centered * centered).mean(dims, keepdim=True)
    out = centered * (variance + eps).rsqrt()
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return _renamed(out, "NativeLayerNormBackward0")


def _channel_shape(input: Tensor) -> tuple[int, ...]:
    """(1, C, 1, ...): a per-channel vector broadcast against (N, C, *) input."""
    return (1, input.shape[1]) + (1,) * (input.ndim - 2)


def _affine(out: Tensor, weight: Tensor | None, bias: Tensor | None) -> Tensor:
    shape = _channel_shape(out)
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float | Tensor = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalize each channel (dim 1) of (N, C, *) input: by the batch's mean and biased
    variance when `training` (and then update the running stats in place, lazily:
    running = (1 - momentum)·running + momentum·batch, with the unbiased variance), else by
    `running_mean` and `running_var`. `momentum` may be a 0-d tensor (the cumulative
    average of BatchNorm with momentum=None)."""
    if input.ndim < 2:
        raise ValueError(f"expected 2D or more input (got {input.ndim}D input)")
    dims = (0, *range(2, input.ndim))
    shape = _channel_shape(input)
    if not training:
        if running_mean is None or running_var is None:
            raise RuntimeError("running_mean and running_var must be defined in evaluation mode")
        scale = (running_var.reshape(shape) + eps).rsqrt()
        out = (input - running_mean.reshape(shape)) * scale
        return _renamed(_affine(out, weight, bias), "NativeBatchNormBackward0")
    count = input.numel() // input.shape[1] if input.shape[1] else 0
    if count == 1:
        raise ValueError(
            f"Expected more than 1 value per channel when training, got input size {input.shape}"
        )
    mean = input.mean(dims)
    centered = input - mean.reshape(shape)
    variance = (centered * centered).mean(dims)
    out = centered * (variance.reshape(shape) + eps).rsqrt()
    with no_grad():
        if running_mean is not None:
            running_mean.copy_(running_mean * (1 - momentum) + mean.detach() * momentum)
        if running_var is not None:
            unbiased = variance.detach() * (count / max(count - 1, 1))
            running_var.copy_(running_var * (1 - momentum) + unbiased * momentum)
    return _renamed(_affine(out, weight, bias), "NativeBatchNormBackward0")


def group_norm(
    input: Tensor,
    num_groups: int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalize (N, C, *) input over each group of C // num_groups channels (with their
    spatial dims; biased variance), then scale and shift per channel."""
    if input.ndim < 2:
        raise RuntimeError(
            f"Expected at least 2 dimensions for input tensor but received {input.ndim}"
        )
    n, c = input.shape[:2]
    if num_groups <= 0 or c % num_groups:
        raise RuntimeError(
            "Expected number of channels in input to be divisible by num_groups, but got "
            f"input of shape {list(input.shape)} and num_groups={num_groups}"
        )
    grouped = input.reshape(n, num_groups, -1)
    centered = grouped - grouped.mean(-1, keepdim=True)
    variance = (centered * centered).mean(-1, keepdim=True)
    out = (centered * (variance + eps).rsqrt()).reshape(input.shape)
    return _renamed(_affine(out, weight, bias), "NativeGroupNormBackward0")


def pad(input: Tensor, pad: Sequence[int], mode: str = "constant", value: float = 0.0) -> Tensor:
    """Pad (or crop, with negative sizes) the last len(pad)//2 dims: pad = (left, right,
    top, bottom, ...) starting from the last dim, as in PyTorch. Constant mode only."""
    if mode != "constant":
        raise NotImplementedError(f"pad mode {mode!r} is not supported (only 'constant')")
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise RuntimeError(
            "Padding length must be divisible by 2 and at most twice the number "
            f"of dimensions of the input, got {len(pad)}"
        )
    pairs = [(0, 0)] * input.ndim
    for i in range(len(pad) // 2):
        pairs[input.ndim - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    sizes = input.shape
    bounds = tuple((max(-lo, 0), n - max(-hi, 0)) for (lo, hi), n in zip(pairs, sizes, strict=True))
    crop = any(b != (0, n) for b, n in zip(bounds, sizes, strict=True))
    cropped = input[tuple(slice(a, b) for a, b in bounds)] if crop else input
    grow = tuple((max(lo, 0), max(hi, 0)) for lo, hi in pairs)
    out = _pad_dims(cropped, grow)
    if value == 0 or out is cropped:
        return out
    inside = _pad_dims(full(cropped.shape, True, device=input.device), grow)
    return where(inside, out, value)


def _pair(v: IntPair, name: str) -> tuple[int, int]:
    pair = (v, v) if isinstance(v, int) else tuple(v)
    if len(pair) != 2 or not all(isinstance(n, int) for n in pair):
        raise ValueError(f"{name} must be an int or a pair of ints, got {v!r}")
    return pair  # type: ignore[return-value]


def _patches(
    x: Tensor,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int],
    out_hw: tuple[int, int],
) -> Tensor:
    """The kh·kw shifted, strided views of x (N, C, H, W) stacked as (N, C, kh·kw, OH, OW):
    one strided slice per kernel offset, never a loop over pixels."""
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = kernel, stride, dilation, out_hw
    views = [
        x[:, :, i * dh : i * dh + sh * (oh - 1) + 1 : sh, j * dw : j * dw + sw * (ow - 1) + 1 : sw]
        for i in range(kh)
        for j in range(kw)
    ]
    return stack(views, dim=2)


def _out_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _check_window(
    hw: tuple[int, int],
    kernel: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
) -> None:
    padded = [n + 2 * p for n, p in zip(hw, padding, strict=True)]
    extent = [d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True)]
    if any(e > p for e, p in zip(extent, padded, strict=True)):
        raise RuntimeError(
            f"Calculated padded input size per channel: ({padded[0]} x "
            f"{padded[1]}). Kernel size: ({extent[0]} x {extent[1]}). Kernel "
            "size can't be greater than actual input size"
        )


def conv2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntPair = 1,
    padding: IntPair | str = 0,
    dilation: IntPair = 1,
    groups: int = 1,
) -> Tensor:
    """2-D cross-correlation as im2col: the stacked strided views of the padded input
    contracted with the weight in one matmul (per group)."""
    unbatched = input.ndim == 3
    x = input.unsqueeze(0) if unbatched else input
    if x.ndim != 4:
        raise RuntimeError(
            f"Expected 3D (unbatched) or 4D (batched) input to conv2d, but got "
            f"input of size: {list(input.shape)}"
        )
    n, c, h, w = x.shape
    out_ch, group_ch, kh, kw = weight.shape
    if c != group_ch * groups or out_ch % groups:
        raise RuntimeError(
            f"Given groups={groups}, weight of size {list(weight.shape)}, "
            f"expected input{list(x.shape)} to have {group_ch * groups} channels, "
            f"but got {c} channels instead"
        )
    stride_, dilation_ = _pair(stride, "stride"), _pair(dilation, "dilation")
    if isinstance(padding, str):
        padding_ = _string_padding(padding, (kh, kw), stride_, dilation_)
    else:
        padding_ = _pair(padding, "padding")
    _check_window((h, w), (kh, kw), padding_, dilation_)
    out_hw = (
        _out_size(h, kh, stride_[0], padding_[0], dilation_[0]),
        _out_size(w, kw, stride_[1], padding_[1], dilation_[1]),
    )
    x = pad(x, (padding_[1], padding_[1], padding_[0], padding_[0]))
    cols = _patches(x, (kh, kw), stride_, dilation_, out_hw)
    cols = cols.reshape(n, groups, group_ch * kh * kw, out_hw[0] * out_hw[1])
    kernel = weight.reshape(groups, out_ch // groups, group_ch * kh * kw)
    out = kernel.matmul(cols).reshape(n, out_ch, *out_hw)
    if bias is not None:
        out = out + bias.reshape(1, out_ch, 1, 1)
    return _renamed(out.squeeze(0) if unbatched else out, "ConvolutionBackward0")


def _single(v: int | Sequence[int], name: str) -> tuple[int]:
    one = (v,) if isinstance(v, int) else tuple(v)
    if len(one) != 1 or not isinstance(one[0], int):
        raise ValueError(f"{name} must be an int or a 1-tuple of ints, got {v!r}")
    return one  # type: ignore[return-value]


def conv1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | tuple[int] = 1,
    padding: int | tuple[int] | str = 0,
    dilation: int | tuple[int] = 1,
    groups: int = 1,
) -> Tensor:
    """1-D cross-correlation over (N, C, L) or (C, L) input: `conv2d` on a height-1 image."""
    if input.ndim not in (2, 3):
        raise RuntimeError(
            f"Expected 2D (unbatched) or 3D (batched) input to conv1d, but got "
            f"input of size: {list(input.shape)}"
        )
    if weight.ndim != 3:
        raise RuntimeError(
            f"Expected 3-dimensional weight for 3-dimensional input {list(input.shape)}, "
            f"but got {weight.ndim}-dimensional weight of size {list(weight.shape)} instead"
        )
    channels = input.shape[-2]
    if channels != weight.shape[1] * groups or weight.shape[0] % groups:
        raise RuntimeError(
            f"Given groups={groups}, weight of size {list(weight.shape)}, expected "
            f"input{list(input.shape)} to have {weight.shape[1] * groups} channels, "
            f"but got {channels} channels instead"
        )
    pad2: IntPair | str = (
        padding if isinstance(padding, str) else (0, _single(padding, "padding")[0])
    )
    out = conv2d(
        input.unsqueeze(-2),
        weight.unsqueeze(-2),
        bias,
        (1, _single(stride, "stride")[0]),
        pad2,
        (1, _single(dilation, "dilation")[0]),
        groups,
    )
    return _renamed(out.squeeze(-2), "ConvolutionBackward0")


def _string_padding(
    padding: str, kernel: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int]
) -> tuple[int, int]:
    if padding == "valid":
        return (0, 0)
    if padding != "same":
        raise ValueError(
            f"Invalid padding string {padding!r}, should be one of {{'valid', 'same'}}"
        )
    if stride != (1, 1):
        raise ValueError("padding='same' is not supported for strided convolutions")
    totals = [d * (k - 1) for k, d in zip(kernel, dilation, strict=True)]
    if any(t % 2 for t in totals):
        raise NotImplementedError(
            "padding='same' with an even kernel extent (asymmetric padding) is not supported"
        )
    return (totals[0] // 2, totals[1] // 2)


def _pool_windows(
    input: Tensor, kernel_size: IntPair, stride: IntPair | None, padding: IntPair, fill: float
) -> Tensor:
    x = input.unsqueeze(0) if input.ndim == 3 else input
    kernel = _pair(kernel_size, "kernel_size")
    stride_ = kernel if stride is None else _pair(stride, "stride")
    padding_ = _pair(padding, "padding")
    if any(2 * p > k for p, k in zip(padding_, kernel, strict=True)):
        raise RuntimeError(
            "pad should be at most half of effective kernel size, but got "
            f"pad={padding_[0]}, kernel_size={kernel[0]} and dilation=1"
        )
    _check_window(tuple(x.shape[2:]), kernel, padding_, (1, 1))  # type: ignore[arg-type]
    out_hw = (
        _out_size(x.shape[2], kernel[0], stride_[0], padding_[0], 1),
        _out_size(x.shape[3], kernel[1], stride_[1], padding_[1], 1),
    )
    x = pad(x, (padding_[1], padding_[1], padding_[0], padding_[0]), value=fill)
    windows = _patches(x, kernel, stride_, (1, 1), out_hw)
    return windows.squeeze(0) if input.ndim == 3 else windows


def max_pool2d(
    input: Tensor, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0
) -> Tensor:
    """Maximum over each kernel window (padding counts as -inf)."""
    return _pool_windows(input, kernel_size, stride, padding, -math.inf).max(-3).values


def avg_pool2d(
    input: Tensor, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0
) -> Tensor:
    """Mean over each kernel window (zero padding counted, as PyTorch's default)."""
    return _pool_windows(input, kernel_size, stride, padding, 0.0).mean(-3)


# ---- resampling -----------------------------------------------------------------------------
_SPATIAL = {"linear": 1, "bilinear": 2, "trilinear": 3}


def _output_sizes(
    input: Tensor, size: int | Sequence[int] | None, scale_factor: float | Sequence[float] | None
) -> tuple[list[int], list[float | None]]:
    """The output size of each spatial dim, and the scale PyTorch maps coordinates with
    (the given scale factor, or None to use input size / output size)."""
    spatial = input.ndim - 2
    if (size is None) == (scale_factor is None):
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        sizes = [size] * spatial if isinstance(size, int) else list(size)
        if len(sizes) != spatial:
            raise ValueError(
                "Input and output must have the same number of spatial dimensions, but got "
                f"input with spatial dimensions of {list(input.shape[2:])} and output size "
                f"of {sizes}. Please provide input tensor in (N, C, d1, d2, ...,dK) format "
                "and output size in (o1, o2, ...,oK) format."
            )
        return [int(n) for n in sizes], [None] * spatial
    scales = (
        [scale_factor] * spatial if not isinstance(scale_factor, Sequence) else list(scale_factor)
    )
    if len(scales) != spatial:
        raise ValueError(
            "Input and scale_factor must have the same number of spatial dimensions, but "
            f"got input with spatial dimensions of {list(input.shape[2:])} and scale_factor "
            f"of shape {scales}. Please provide input tensor in (N, C, d1, d2, ...,dK) "
            "format and scale_factor in (s1, s2, ...,sK) format."
        )
    sizes = [int(math.floor(n * float(f))) for n, f in zip(input.shape[2:], scales, strict=True)]
    return sizes, [float(f) for f in scales]


def _take(x: Tensor, dim: int, index: np.ndarray) -> Tensor:
    """x's slices at the (host-known, constant) positions `index` along `dim`."""
    idx = tensor(index.astype(np.int64), device=x.device)
    return x[(slice(None),) * dim + (idx,)]


def _nearest(x: Tensor, dim: int, out: int, scale: float | None, exact: bool) -> Tensor:
    n = x.shape[dim]
    step = n / out if scale is None else 1.0 / scale
    offset = 0.5 if exact else 0.0
    src = np.minimum(np.floor((np.arange(out) + offset) * step), n - 1)
    return _take(x, dim, src)


def _linear(x: Tensor, dim: int, out: int, scale: float | None, align_corners: bool) -> Tensor:
    """Linear interpolation along `dim`: PyTorch's source coordinates (align_corners maps the
    corner pixels' centres onto each other; else half-pixel centres, clamped at 0)."""
    n = x.shape[dim]
    dst = np.arange(out, dtype=np.float64)
    if align_corners:
        src = dst * ((n - 1) / (out - 1)) if out > 1 else np.zeros(out)
    else:
        step = n / out if scale is None else 1.0 / scale
        src = np.maximum((dst + 0.5) * step - 0.5, 0.0)
    low = np.minimum(np.floor(src), n - 1).astype(np.int64)
    high = np.minimum(low + 1, n - 1)
    frac = src - low
    weight = tensor(frac, dtype=x.dtype, device=x.device).reshape(
        (out,) + (1,) * (x.ndim - dim - 1)
    )
    return _take(x, dim, low) * (1.0 - weight) + _take(x, dim, high) * weight


def interpolate(
    input: Tensor,
    size: int | Sequence[int] | None = None,
    scale_factor: float | Sequence[float] | None = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    antialias: bool = False,
) -> Tensor:
    """Resample the spatial dims of (N, C, d1, ..., dK) input to `size` (or by
    `scale_factor`). Modes: 'nearest' and 'nearest-exact' (any K), 'linear' (K=1),
    'bilinear' (K=2), 'trilinear' (K=3); 'bicubic' and 'area' are not supported. Each dim is
    resampled separately with constant gather indices computed from the shapes alone."""
    if input.ndim < 3:
        raise ValueError(
            f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.ndim}D)"
        )
    if mode in ("nearest", "nearest-exact", "area") and align_corners is not None:
        raise ValueError(
            "align_corners option can only be set with the interpolating modes: "
            "linear | bilinear | bicubic | trilinear"
        )
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported")
    sizes, scales = _output_sizes(input, size, scale_factor)
    if recompute_scale_factor:
        scales = [None] * len(scales)
    out = input
    if mode in ("nearest", "nearest-exact"):
        for i, (n, f) in enumerate(zip(sizes, scales, strict=True)):
            out = _nearest(out, i + 2, n, f, mode == "nearest-exact")
        return out
    if mode not in _SPATIAL:
        raise NotImplementedError(f"interpolate: mode {mode!r} is not supported")
    if _SPATIAL[mode] != input.ndim - 2:
        raise NotImplementedError(
            f"Got {input.ndim}D input, but {mode} mode needs {_SPATIAL[mode] + 2}D input"
        )
    for i, (n, f) in enumerate(zip(sizes, scales, strict=True)):
        out = _linear(out, i + 2, n, f, bool(align_corners))
    return out


# ---- attention ------------------------------------------------------------------------------
def _causal_mask(rows: int, cols: int, device: object) -> Tensor:
    """Bool (rows, cols) mask, True on and below the diagonal (what may be attended to)."""
    return arange(rows, device=device).unsqueeze(-1) >= arange(cols, device=device)


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Tensor | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> Tensor:
    """softmax(q·kᵀ·scale + mask)·v over (..., L, E) queries and (..., S, E) keys. A bool
    `attn_mask` is True where attention is allowed; a float one is added to the scores.
    `dropout_p` drops attention weights whenever it is > 0 (as PyTorch's function does).
    `enable_gqa` repeats the key/value heads (dim -3) to the number of query heads."""
    if is_causal and attn_mask is not None:
        raise RuntimeError(
            "_scaled_dot_product_attention: Explicit attn_mask should not be set when "
            "is_causal=True"
        )
    if enable_gqa and key.shape[-3] != query.shape[-3]:
        groups = query.shape[-3] // key.shape[-3]
        key, value = (
            t.unsqueeze(-3).expand(*t.shape[:-2], groups, *t.shape[-2:]).flatten(-4, -3)
            for t in (key, value)
        )
    length, source = query.shape[-2], key.shape[-2]
    factor = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = query.matmul(key.transpose(-2, -1)) * factor
    if is_causal:
        attn_mask = _causal_mask(length, source, query.device)
    if attn_mask is not None:
        if attn_mask.dtype.name == "bool":
            scores = where(attn_mask, scores, -math.inf)
        else:
            scores = scores + attn_mask
    weights = softmax(scores, -1)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, True)
    return weights.matmul(value)


# ---- losses ---------------------------------------------------------------------------------
def _reduce(loss: Tensor, reduction: str, weight: Tensor | None = None) -> Tensor:
    """The elementwise `loss` (times `weight`, if given) reduced as `reduction` says."""
    if weight is not None:
        loss = loss * weight
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    raise ValueError(f"{reduction} is not a valid value for reduction")


def _legacy_reduction(size_average: bool | None, reduce: bool | None, reduction: str) -> str:
    """PyTorch's mapping of the deprecated `size_average`/`reduce` flags to `reduction`."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


def mse_loss(
    input: Tensor,
    target: Tensor,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Mean (or sum, or elementwise) squared error."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    diff = input - target
    return _renamed(_reduce(diff * diff, reduction), "MseLossBackward0")


def l1_loss(
    input: Tensor,
    target: Tensor,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Mean (or sum, or elementwise) absolute error."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _reduce((input - target).abs(), reduction)


def smooth_l1_loss(
    input: Tensor,
    target: Tensor,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    beta: float = 1.0,
) -> Tensor:
    """0.5·d²/beta where |d| < beta, else |d| - 0.5·beta (d = input - target); beta = 0 is
    the L1 loss."""
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    reduction = _legacy_reduction(size_average, reduce, reduction)
    diff = input - target
    size = diff.abs()
    if beta == 0.0:
        return _reduce(size, reduction)
    loss = where(size < beta, (0.5 / beta) * diff * diff, size - 0.5 * beta)
    return _renamed(_reduce(loss, reduction), "SmoothL1LossBackward0")


def huber_loss(
    input: Tensor,
    target: Tensor,
    reduction: str = "mean",
    delta: float = 1.0,
    weight: Tensor | None = None,
) -> Tensor:
    """0.5·d² where |d| < delta, else delta·(|d| - 0.5·delta) (d = input - target)."""
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    diff = input - target
    size = diff.abs()
    loss = where(size < delta, 0.5 * diff * diff, delta * (size - 0.5 * delta))
    return _renamed(_reduce(loss, reduction, weight), "HuberLossBackward0")


def binary_cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """-w·(y·log(x) + (1 - y)·log(1 - x)) for probabilities x, each log clamped at -100
    as PyTorch does (so x = 0 or 1 gives a finite loss)."""
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"Using a target size ({target.shape}) that is different to the input size "
            f"({input.shape}) is deprecated. Please ensure they have the same size."
        )
    reduction = _legacy_reduction(size_average, reduce, reduction)
    log_p = math_ops.clamp(input.log(), min=-100.0)
    log_q = math_ops.clamp((1.0 - input).log(), min=-100.0)
    loss = -(target * log_p + (1.0 - target) * log_q)
    return _renamed(_reduce(loss, reduction, weight), "BinaryCrossEntropyBackward0")


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
) -> Tensor:
    """Binary cross entropy of sigmoid(x), computed stably from the logits x:
    (1 - y)·x + (1 + (pos_weight - 1)·y)·log(1 + exp(-x)), times `weight`."""
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"Target size ({target.shape}) must be the same as input size ({input.shape})"
        )
    reduction = _legacy_reduction(size_average, reduce, reduction)
    softplus_neg = _log1p_exp(-input)
    if pos_weight is not None:
        softplus_neg = (1.0 + (pos_weight - 1.0) * target) * softplus_neg
    loss = (1.0 - target) * input + softplus_neg
    return _renamed(_reduce(loss, reduction, weight), "BinaryCrossEntropyWithLogitsBackward0")


def kl_div(
    input: Tensor,
    target: Tensor,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    log_target: bool = False,
) -> Tensor:
    """Pointwise KL divergence target·(log(target) - input) for log-probabilities `input`
    (0 where target is 0); with `log_target`, exp(target)·(target - input). 'batchmean'
    divides the sum by the batch size (the true KL divergence); 'mean' averages over every
    element (as PyTorch does, with its warning)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if log_target:
        loss = target.exp() * (target - input)
    else:
        safe = where(target == 0, 1.0, target)
        loss = where(target == 0, 0.0, target * safe.log()) - target * input
    if reduction == "batchmean":
        return loss.sum() / (input.shape[0] if input.ndim else 1)
    if reduction == "mean":
        warnings.warn(
            "reduction: 'mean' divides the total loss by both the batch size and the "
            "support size.'batchmean' divides only by the batch size, and aligns with the "
            "KL div math definition.'mean' will be changed to behave the same as "
            "'batchmean' in the next major release.",
            stacklevel=2,
        )
    return _reduce(loss, reduction)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot encoding along a new last dim (num_classes=-1 reads the max, eagerly)."""
    if tensor.is_floating_point():
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    if num_classes == -1:
        num_classes = int(tensor.max().item()) + 1
    classes = arange(num_classes, device=tensor.device)
    return (tensor.unsqueeze(-1) == classes).long()


def _class_mask(input: Tensor, target: Tensor) -> Tensor:
    """Bool (N, C, d...) mask that is True at each element's target class."""
    if input.ndim < 1 or target.ndim != max(input.ndim - 1, 0):
        raise ValueError(
            f"Expected target of {max(input.ndim - 1, 0)} dims for input of size "
            f"{list(input.shape)}, got target of size {list(target.shape)}"
        )
    if target.is_floating_point():
        raise RuntimeError("expected scalar type Long but found Float")
    if input.ndim == 1:  # unbatched: input (C,), target ()
        return target.unsqueeze(0) == arange(input.shape[0], device=input.device)
    c = input.shape[1]
    classes = arange(c, device=input.device).reshape((1, c) + (1,) * (input.ndim - 2))
    return target.unsqueeze(1) == classes


def _check_targets(target: Tensor, classes: int, ignore_index: int) -> None:
    """PyTorch's IndexError for a class index outside [0, classes) that is not
    `ignore_index`, checked where the targets' values are on the host already (a realized
    CPU tensor, as a batch from a data loader is); a lazy or device tensor is not read for
    it, and neither is one while `lg.jit` records (a replay could not check)."""
    node = target._node
    host = getattr(node.arg, "host", None) if node.op is Op.BUFFER else None
    if host is None or recording.active is not None:
        return
    bad = (host != ignore_index) & ((host < 0) | (host >= classes))
    if bad.any():
        raise IndexError(f"Target {host[bad][0]} is out of bounds.")


def _class_weights(input: Tensor, weight: Tensor | None) -> Tensor | None:
    if weight is None:
        return None
    c = input.shape[1] if input.ndim > 1 else input.shape[0]
    if weight.shape != (c,):
        raise RuntimeError(
            f"weight tensor should be defined either for all {c} classes or no "
            "classes but got weight tensor of shape: "
            f"{list(weight.shape)}"
        )
    return weight.reshape((1, c) + (1,) * (input.ndim - 2)) if input.ndim > 1 else weight


def _nll_parts(
    log_probs: Tensor, target: Tensor, weight: Tensor | None, ignore_index: int
) -> tuple[Tensor, Tensor, Tensor]:
    """(per-element loss, per-element weight, class weights broadcast or None): the target
    class picked by a one-hot mask (a fused elementwise select + reduce, no gather)."""
    class_dim = 1 if log_probs.ndim > 1 else 0
    hit = _class_mask(log_probs, target)
    _check_targets(target, log_probs.shape[class_dim], ignore_index)
    picked = where(hit, log_probs, 0.0).sum(class_dim)
    valid = target != ignore_index
    w = _class_weights(log_probs, weight)
    if w is None:
        elem_weight = valid.to(log_probs.dtype)
    else:
        elem_weight = where(valid, where(hit, w, 0.0).sum(class_dim), 0.0)
    return -picked * elem_weight, elem_weight, w  # type: ignore[return-value]


def nll_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    """Negative log likelihood of the target classes given log-probabilities (N, C, d...);
    `mean` divides by the total weight of the non-ignored targets."""
    loss, elem_weight, _ = _nll_parts(input, target, weight, ignore_index)
    if reduction == "mean":
        return _renamed(loss.sum() / elem_weight.sum(), "NllLossBackward0")
    return _renamed(_reduce(loss, reduction), "NllLossBackward0")


def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """log_softmax over the class dim (1, or 0 unbatched) followed by `nll_loss`; `target`
    holds class indices, or class probabilities when it is floating point."""
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    class_dim = 1 if input.ndim > 1 else 0
    log_probs = log_softmax(input, class_dim)
    c = input.shape[class_dim]
    w = _class_weights(input, weight)
    if target.is_floating_point():
        if target.shape != input.shape:
            raise RuntimeError(
                f"Expected target size {list(input.shape)}, got {list(target.shape)}"
            )
        probs = target * (1.0 - label_smoothing) + label_smoothing / c
        terms = log_probs * probs if w is None else log_probs * probs * w
        loss = -terms.sum(class_dim)
        if reduction == "mean":
            return loss.sum() / (input.numel() // c if c else 1)
        return _reduce(loss, reduction)
    loss, elem_weight, w = _nll_parts(log_probs, target, weight, ignore_index)
    if label_smoothing > 0.0:
        smooth = -(log_probs if w is None else log_probs * w).sum(class_dim)
        smooth = where(target != ignore_index, smooth, 0.0)
        loss = loss * (1.0 - label_smoothing) + smooth * (label_smoothing / c)
    if reduction == "mean":
        loss = loss.sum() / elem_weight.sum()
    else:
        loss = _reduce(loss, reduction)
    return _renamed(loss, "NllLossBackward0" if label_smoothing == 0.0 else "AddBackward0")
