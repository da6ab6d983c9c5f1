"""Recurrent layers: `RNN`, `LSTM`, `GRU` (multi-layer, optionally bidirectional) and their
one-step cells, with PyTorch's parameter names, gate order and initialization.

The time loop runs in Python while recording: a sequence of length L records L steps of
lazy ops per layer and direction, which realize together (no eager compute per step)."""

from __future__ import annotations

import math
from typing import Any

from ..frontend.creation import empty, zeros
from ..frontend.movement import cat, stack
from ..tensor import Tensor
from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter

# gate rows per hidden unit in each cell's weights
_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _rnn_step(
    x: Tensor,
    h: Tensor,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None,
    b_hh: Tensor | None,
    relu: bool,
) -> Tensor:
    """h' = act(x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh)."""
    pre = F.linear(x, w_ih, b_ih) + F.linear(h, w_hh, b_hh)
    return pre.relu() if relu else pre.tanh()


def _lstm_step(
    x: Tensor,
    state: tuple[Tensor, Tensor],
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None,
    b_hh: Tensor | None,
) -> tuple[Tensor, Tensor]:
    """Gates i, f, g, o (in that order): c' = f·c + i·g, h' = o·tanh(c')."""
    h, c = state
    gates = F.linear(x, w_ih, b_ih) + F.linear(h, w_hh, b_hh)
    i, f, g, o = gates.chunk(4, -1)
    c_next = f.sigmoid() * c + i.sigmoid() * g.tanh()
    return o.sigmoid() * c_next.tanh(), c_next


def _gru_step(
    x: Tensor, h: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None, b_hh: Tensor | None
) -> Tensor:
    """Gates r, z, n: n = tanh(x_n + r·(h_n)), h' = (1 - z)·n + z·h."""
    x_r, x_z, x_n = F.linear(x, w_ih, b_ih).chunk(3, -1)
    h_r, h_z, h_n = F.linear(h, w_hh, b_hh).chunk(3, -1)
    r = (x_r + h_r).sigmoid()
    z = (x_z + h_z).sigmoid()
    n = (x_n + r * h_n).tanh()
    return (1.0 - z) * n + z * h


class RNNBase(Module):
    """Shared by RNN, LSTM and GRU: parameters weight_ih_l{k}, weight_hh_l{k}, bias_ih_l{k},
    bias_hh_l{k} (suffix `_reverse` for the backward direction), all U(-1/√hidden,
    1/√hidden)."""

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if not 0 <= dropout <= 1 or isinstance(dropout, bool):
            raise ValueError(
                "dropout should be a number in range [0, 1] representing the probability "
                "of an element being zeroed"
            )
        if not isinstance(hidden_size, int) or hidden_size <= 0:
            raise ValueError("hidden_size must be an integer greater than zero")
        if not isinstance(num_layers, int) or num_layers <= 0:
            raise ValueError("num_layers must be an integer greater than zero")
        if proj_size:
            raise NotImplementedError("proj_size is not supported")
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bias, batch_first
        self.dropout, self.bidirectional, self.proj_size = float(dropout), bidirectional, 0
        rows = _GATES[mode] * hidden_size
        factory = {"device": device, "dtype": dtype}
        for layer in range(num_layers):
            for suffix in self._suffixes():
                width = input_size if layer == 0 else hidden_size * len(self._suffixes())
                names = [f"weight_ih_l{layer}{suffix}", f"weight_hh_l{layer}{suffix}"]
                setattr(self, names[0], Parameter(empty((rows, width), **factory)))
                setattr(self, names[1], Parameter(empty((rows, hidden_size), **factory)))
                if bias:
                    setattr(self, f"bias_ih_l{layer}{suffix}", Parameter(empty(rows, **factory)))
                    setattr(self, f"bias_hh_l{layer}{suffix}", Parameter(empty(rows, **factory)))
        self.reset_parameters()

    def _suffixes(self) -> tuple[str, ...]:
        return ("", "_reverse") if self.bidirectional else ("",)

    def reset_parameters(self) -> None:
        """Every weight and bias from U(-1/√hidden_size, 1/√hidden_size)."""
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0.0
        for weight in self.parameters():
            init.uniform_(weight, -bound, bound)

    def _weights(self, layer: int, suffix: str) -> tuple[Tensor | None, ...]:
        names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        return tuple(self._parameters.get(f"{n}_l{layer}{suffix}") for n in names)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """(output, h_n) of a network whose state is one tensor (RNN, GRU; LSTM has its own)."""
        seq, h0, unbatched = self._prepare(input, hx)
        output, finals = self._run(seq, [h0[i] for i in range(h0.shape[0])])
        h_n = stack(finals)
        return self._finish(output, unbatched), h_n.squeeze(1) if unbatched else h_n

    def _step(self, x: Tensor, state: Any, weights: tuple[Tensor | None, ...]) -> Any:
        raise NotImplementedError

    def _output(self, state: Any) -> Tensor:
        return state

    def _run(self, input: Tensor, states: list[Any]) -> tuple[Tensor, list[Any]]:
        """input (L, N, H_in), one initial state per (layer, direction), in PyTorch's order;
        returns the output (L, N, D·H) and the final states in that order."""
        finals = []
        layer_input = input
        for layer in range(self.num_layers):
            outputs = []
            for d, suffix in enumerate(self._suffixes()):
                state = states[layer * len(self._suffixes()) + d]
                weights = self._weights(layer, suffix)
                steps = range(layer_input.shape[0])
                seq = []
                for t in reversed(steps) if d else steps:
                    state = self._step(layer_input[t], state, weights)
                    seq.append(self._output(state))
                finals.append(state)
                outputs.append(stack(seq[::-1] if d else seq))
            layer_input = cat(outputs, -1) if len(outputs) > 1 else outputs[0]
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, True)
        return layer_input, finals

    def _prepare(self, input: Tensor, hx: Tensor | None) -> tuple[Tensor, Tensor, bool]:
        """(input as (L, N, H_in), h0 as (layers·D, N, H), whether input was unbatched)."""
        if input.ndim not in (2, 3):
            raise ValueError(
                f"{type(self).__name__}: Expected input to be 2D or 3D, got {input.ndim}D "
                "tensor instead"
            )
        if input.shape[-1] != self.input_size:
            raise RuntimeError(
                f"input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                f"got {input.shape[-1]}"
            )
        unbatched = input.ndim == 2
        if unbatched:
            input = input.unsqueeze(1)
        elif self.batch_first:
            input = input.transpose(0, 1)
        shape = (self.num_layers * len(self._suffixes()), input.shape[1], self.hidden_size)
        if hx is None:
            hx = zeros(shape, dtype=input.dtype, device=input.device)
        else:
            hx = hx.unsqueeze(1) if unbatched else hx
            if tuple(hx.shape) != shape:
                raise RuntimeError(
                    f"Expected hidden size ({', '.join(map(str, shape))}), got {list(hx.shape)}"
                )
        return input, hx, unbatched

    def _finish(self, output: Tensor, unbatched: bool) -> Tensor:
        if unbatched:
            return output.squeeze(1)
        return output.transpose(0, 1) if self.batch_first else output

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if not self.bias:
            text += ", bias=False"
        if self.batch_first:
            text += ", batch_first=True"
        if self.dropout:
            text += f", dropout={self.dropout}"
        if self.bidirectional:
            text += ", bidirectional=True"
        return text


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(x_t·W_ihᵀ + b_ih + h_{t-1}·W_hhᵀ + b_hh) (or relu).
    forward(input, hx=None) -> (output, h_n)."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(
                f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'."
            )
        mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(
            mode,
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            0,
            device,
            dtype,
        )
        self.nonlinearity = nonlinearity

    def _step(self, x: Tensor, state: Tensor, weights: tuple[Tensor | None, ...]) -> Tensor:
        return _rnn_step(x, state, *weights, relu=self.nonlinearity == "relu")

    def extra_repr(self) -> str:
        text = super().extra_repr()
        return text + (", nonlinearity='relu'" if self.nonlinearity == "relu" else "")


class GRU(RNNBase):
    """Gated recurrent unit (gates r, z, n). forward(input, hx=None) -> (output, h_n)."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            "GRU",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            0,
            device,
            dtype,
        )

    def _step(self, x: Tensor, state: Tensor, weights: tuple[Tensor | None, ...]) -> Tensor:
        return _gru_step(x, state, *weights)


class LSTM(RNNBase):
    """Long short-term memory (gates i, f, g, o).
    forward(input, (h0, c0)=None) -> (output, (h_n, c_n))."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            "LSTM",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            proj_size,
            device,
            dtype,
        )

    def _step(
        self, x: Tensor, state: tuple[Tensor, Tensor], weights: tuple[Tensor | None, ...]
    ) -> tuple[Tensor, Tensor]:
        return _lstm_step(x, state, *weights)

    def _output(self, state: tuple[Tensor, Tensor]) -> Tensor:
        return state[0]

    def forward(
        self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        h_in, c_in = (None, None) if hx is None else hx
        seq, h0, unbatched = self._prepare(input, h_in)
        _, c0, _ = self._prepare(input, c_in)
        states = [(h0[i], c0[i]) for i in range(h0.shape[0])]
        output, finals = self._run(seq, states)
        h_n, c_n = stack([h for h, _ in finals]), stack([c for _, c in finals])
        if unbatched:
            h_n, c_n = h_n.squeeze(1), c_n.squeeze(1)
        return self._finish(output, unbatched), (h_n, c_n)


class RNNCellBase(Module):
    """Shared by the cells: weight_ih, weight_hh, bias_ih, bias_hh, U(-1/√hidden, 1/√hidden)."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool,
        gates: int,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        factory = {"device": device, "dtype": dtype}
        rows = gates * hidden_size
        self.weight_ih = Parameter(empty((rows, input_size), **factory))
        self.weight_hh = Parameter(empty((rows, hidden_size), **factory))
        if bias:
            self.bias_ih = Parameter(empty(rows, **factory))
            self.bias_hh = Parameter(empty(rows, **factory))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias from U(-1/√hidden_size, 1/√hidden_size)."""
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0.0
        for weight in self.parameters():
            init.uniform_(weight, -bound, bound)

    def _weights(self) -> tuple[Tensor | None, ...]:
        return self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh

    def _zeros(self, input: Tensor) -> Tensor:
        shape = (input.shape[0], self.hidden_size) if input.ndim == 2 else (self.hidden_size,)
        return zeros(shape, dtype=input.dtype, device=input.device)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class RNNCell(RNNCellBase):
    """One step of an Elman RNN: forward(input, hx=None) -> h'."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}")
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        h = self._zeros(input) if hx is None else hx
        return _rnn_step(input, h, *self._weights(), relu=self.nonlinearity == "relu")


class LSTMCell(RNNCellBase):
    """One LSTM step: forward(input, (h, c)=None) -> (h', c')."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(
        self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, Tensor]:
        state = (self._zeros(input), self._zeros(input)) if hx is None else hx
        return _lstm_step(input, state, *self._weights())


class GRUCell(RNNCellBase):
    """One GRU step: forward(input, hx=None) -> h'."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        h = self._zeros(input) if hx is None else hx
        return _gru_step(input, h, *self._weights())
