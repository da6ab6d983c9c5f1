"""Train a character-level LSTM language model on a short built-in text, as PyTorch code.

`nn.Embedding` → `nn.LSTM` → `nn.Linear` predicts each next character of random windows
of TEXT (below, written for this example); cross-entropy loss, gradients clipped with
`nn.utils.clip_grad_norm_`, Adam. Every `--log-every` steps it prints the mean training
loss of those steps; at the end it prints the loss over the whole text (eval mode, no
gradients) and a short greedy sample.

Target: the final loss over the whole text falls below TARGET_LOSS = 1.0 nats/char. For
comparison the script prints the text's unigram entropy (about 2.78 nats/char: the loss of
the best model that ignores context); the default 200 steps reach the target. Runs on
LAZYGRAD_DEVICE (cpu by default, `LAZYGRAD_DEVICE=opencl` for OpenCL):

    python examples/train_char_lstm.py [--steps 200] [--seq-len 16] [--batch-size 32]
        [--hidden 128] [--lr 0.01] [--seed 0] [--check]

With `--check` it exits with status 1 if the final loss is not below TARGET_LOSS.

The LSTM's time loop is unrolled into the recorded graph, so one training step's graph
grows with `--seq-len`; lazygrad's fusion pass takes much longer than linearly in its size
(the first two steps: about 3 s at 16 characters, 35 s at 32 on a 2-core CPU), hence the
short default windows.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections import Counter

import numpy as np

import lazygrad as lg
import lazygrad.nn as nn
import lazygrad.nn.functional as F
import lazygrad.optim as optim
from lazygrad.device import default_device

TARGET_LOSS = 1.0  # nats per character, over the whole text, after training

TEXT = """\
the lamp on the hill is lit at dusk and put out at dawn. the keeper climbs the stairs with \
a can of oil, trims the wick, and winds the clock that turns the lens. the boats that pass \
at night see the light sweep the water once every ten seconds, and they know the rocks are \
near.
the keeper keeps a log. in the log she writes the wind, the rain, the height of the waves, \
and the names of the boats that pass. on a calm night the log is short. on a wild night \
the log is long, and the lamp burns until the oil is gone and the can is empty.
in the spring the gulls come back to the hill. they sit on the rail and watch the keeper \
trim the wick. in the summer the nights are short and the lamp is lit late. in the autumn \
the nights are long and the wind comes in from the sea. in the winter the stairs are cold \
and the keeper climbs them with a lantern in one hand and the can of oil in the other.
one night the clock stops and the lens does not turn. the keeper winds the clock by hand \
until dawn, and the light sweeps the water once every ten seconds, and the boats that pass \
know the rocks are near. in the morning she writes it in the log: the clock stopped, the \
lamp was lit, the boats passed, the night was long.
"""


def unigram_entropy(text: str) -> float:
    """Entropy of the text's character frequencies, in nats per character: the loss of the
    best predictor that ignores context."""
    counts = np.array(list(Counter(text).values()), dtype=np.float64)
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum())


class CharLSTM(nn.Module):
    """Embedding → single-layer LSTM → linear logits over the vocabulary."""

    def __init__(self, vocab: int, embed: int = 32, hidden: int = 128) -> None:
        """Build the layers for a vocabulary of `vocab` characters."""
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(
        self, x: lg.Tensor, state: tuple[lg.Tensor, lg.Tensor] | None = None
    ) -> tuple[lg.Tensor, tuple[lg.Tensor, lg.Tensor]]:
        """Logits (N, L, vocab) for character ids (N, L), and the LSTM's final state."""
        out, state = self.lstm(self.embed(x), state)
        return self.head(out), state


def batches(
    data: np.ndarray, seq_len: int, batch_size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """`batch_size` random windows of the encoded text: inputs (N, L) and the next
    characters (N, L)."""
    starts = rng.integers(0, len(data) - seq_len - 1, size=batch_size)
    windows = np.stack([data[s : s + seq_len + 1] for s in starts])
    return windows[:, :-1], windows[:, 1:]


def text_loss(model: CharLSTM, data: np.ndarray, seq_len: int, device: lg.device) -> float:
    """Mean cross-entropy (nats/char) of predicting every character of the text from the
    ones before it, in eval mode: the text cut into consecutive windows of `seq_len`, each
    started from a fresh state."""
    model.eval()
    n = (len(data) - 1) // seq_len
    x = lg.tensor(data[: n * seq_len].reshape(n, seq_len), device=device)
    y = lg.tensor(data[1 : n * seq_len + 1].reshape(n, seq_len), device=device)
    with lg.no_grad():
        logits, _ = model(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1)).item()
    model.train()
    return loss


def sample(model: CharLSTM, chars: list[str], prompt: str, length: int, device: lg.device) -> str:
    """Greedy continuation of `prompt`: `length` characters, each the most likely next one.
    The model reads one character per call (the prompt too), carrying the LSTM's state."""
    index = {c: i for i, c in enumerate(chars)}
    model.eval()
    out = []
    with lg.no_grad():
        state = None
        for c in prompt[:-1]:
            _, state = model(lg.tensor([[index[c]]], device=device), state)
        nxt = index[prompt[-1]]
        for _ in range(length):
            logits, state = model(lg.tensor([[nxt]], device=device), state)
            nxt = int(logits[0, -1].argmax().item())
            out.append(chars[nxt])
    model.train()
    return prompt + "".join(out)


def train(args: argparse.Namespace) -> float:
    """Train, print the losses and a sample; return the final loss over the whole text."""
    lg.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    device = lg.device(args.device) if args.device else default_device()
    chars = sorted(set(TEXT))
    data = np.array([chars.index(c) for c in TEXT], dtype=np.int64)
    entropy = unigram_entropy(TEXT)

    model = CharLSTM(len(chars), hidden=args.hidden).to(device)
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.steps)
    print(
        f"lazygrad {lg.__version__} on {device}: {len(TEXT)} characters, vocabulary "
        f"{len(chars)}, {args.steps} steps of batch {args.batch_size} x {args.seq_len}"
    )
    print(model)
    print(
        f"unigram entropy {entropy:.4f} nats/char (uniform: {math.log(len(chars)):.4f}); "
        f"target: loss below {TARGET_LOSS:.2f}"
    )

    start = time.perf_counter()
    window: list[float] = []
    for step in range(1, args.steps + 1):
        x, y = batches(data, args.seq_len, args.batch_size, rng)
        x, y = lg.tensor(x, device=device), lg.tensor(y, device=device)
        optimizer.zero_grad()
        logits, _ = model(x)
        loss = F.cross_entropy(logits.reshape(-1, len(chars)), y.reshape(-1))
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
        optimizer.step()
        scheduler.step()
        window.append(loss.item())
        if step % args.log_every == 0 or step == args.steps:
            print(
                f"step {step:5d}/{args.steps}: loss {sum(window) / len(window):.4f} "
                f"[{time.perf_counter() - start:.1f} s]",
                flush=True,
            )
            window.clear()
    elapsed = time.perf_counter() - start
    final = text_loss(model, data, args.seq_len, device)
    print(
        f"final loss over the text: {final:.4f} nats/char (unigram entropy {entropy:.4f}, "
        f"target below {TARGET_LOSS:.2f})"
    )
    print(f"time: {elapsed:.1f} s total, {args.steps / elapsed:.1f} steps/s")
    print("sample:", repr(sample(model, chars, "the keeper ", args.sample_length, device)))
    return final


def main() -> None:
    """Parse the arguments, train, and with --check fail unless the loss beats the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--seq-len", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--log-every", type=int, default=50)
    parser.add_argument("--sample-length", type=int, default=120)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default=None, help="default: LAZYGRAD_DEVICE or cpu")
    parser.add_argument(
        "--check",
        action="store_true",
        help=f"exit with status 1 unless the final loss is below {TARGET_LOSS}",
    )
    args = parser.parse_args()
    final = train(args)
    if args.check and not final < TARGET_LOSS:
        print(f"FAILED: final loss {final:.4f} is not below {TARGET_LOSS:.2f}")
        sys.exit(1)


if __name__ == "__main__":
    main()
