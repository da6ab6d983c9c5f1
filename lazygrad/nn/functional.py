"""`nn.functional`: layers and losses as functions, built from lazy Tensor ops only.

Nothing here computes: every function records IR and returns at once, so a whole
forward pass (and its backward) fuses into few kernels when realized.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from .. import recording
from ..frontend import math_ops
from ..frontend.creation import arange, full, rand
from ..frontend.math_ops import _renamed, where
from ..frontend.movement import pad as _pad_dims
from ..frontend.movement import stack
from ..ir.ops import Op
from ..tensor import Tensor

IntPair = int | tuple[int, int]

__all__ = [
    "avg_pool2d",
    "conv2d",
    "cross_entropy",
    "dropout",
    "embedding",
    "gelu",
    "layer_norm",
    "linear",
    "log_softmax",
    "max_pool2d",
    "mse_loss",
    "nll_loss",
    "one_hot",
    "pad",
    "relu",
    "sigmoid",
    "softmax",
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


# ---- losses ---------------------------------------------------------------------------------
def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    raise ValueError(f"{reduction} is not a valid value for reduction")


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Mean (or sum, or elementwise) squared error."""
    diff = input - target
    return _renamed(_reduce(diff * diff, reduction), "MseLossBackward0")


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
