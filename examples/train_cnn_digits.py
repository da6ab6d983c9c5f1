"""Train a small CNN with BatchNorm on scikit-learn's digits, written as PyTorch code.

Three 3x3 convolutions, each followed by BatchNorm2d and a ReLU (two of them by a 2x2 max
pool), then a linear classifier: the 8x8 images become 64 channels of 2x2 and then 10
logits. Batches come from a `DataLoader` over a `TensorDataset`; Adam with cosine
learning-rate decay; `model.train()` for the steps and `model.eval()` under `lg.no_grad()`
for the figures, so BatchNorm uses batch statistics while training and its running
statistics for evaluation. The train/test split is train_digits.py's (80/20, fixed seed).

Target: at least 98% test accuracy (the default 8 epochs reach it). Runs on
LAZYGRAD_DEVICE (cpu by default, `LAZYGRAD_DEVICE=opencl` for OpenCL):

    python examples/train_cnn_digits.py [--epochs 8] [--batch-size 32] [--lr 0.003]
        [--width 16] [--seed 0] [--check] [--quick]

Prints the loss and accuracy of every epoch and the final test accuracy; with `--check`
it exits with status 1 if the test accuracy is below 98%. `--quick` is a smoke run (2
epochs on 256 training images) for the tests.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from sklearn.datasets import load_digits

import lazygrad as lg
import lazygrad.nn as nn
import lazygrad.nn.functional as F
import lazygrad.optim as optim
from lazygrad.device import default_device
from lazygrad.utils.data import DataLoader, TensorDataset

SPLIT_SEED = 0  # the same fixed 80/20 split as train_digits.py
TARGET_ACCURACY = 0.98
QUICK_EPOCHS, QUICK_TRAIN_SIZE = 2, 256  # --quick, for the tests


def load_split(seed: int) -> tuple[lg.Tensor, ...]:
    """Digits as (N, 1, 8, 8) images split 80/20 with a fixed seed (train_digits.py's
    split), standardized with the training set's mean and standard deviation; CPU tensors
    (x_train, y_train, x_test, y_test)."""
    digits = load_digits()
    x, y = digits.images.astype(np.float32), digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    cut = int(0.8 * len(x))
    train, test = order[:cut], order[cut:]
    x = (x - x[train].mean()) / x[train].std()
    x = x[:, None, :, :]  # one input channel
    return tuple(lg.tensor(a) for a in (x[train], y[train], x[test], y[test]))


class DigitsCNN(nn.Module):
    """conv-BN-ReLU (8x8) → conv-BN-ReLU-maxpool (4x4) → conv-BN-ReLU-maxpool (2x2) →
    linear, with `width` channels in the first block (doubled, then doubled again)."""

    def __init__(self, width: int = 16, classes: int = 10) -> None:
        """Build the layers; `width` is the first block's channel count."""
        super().__init__()
        self.features = nn.Sequential(
            self.block(1, width),
            self.block(width, 2 * width),
            nn.MaxPool2d(2),
            self.block(2 * width, 4 * width),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Linear(4 * width * 2 * 2, classes)

    @staticmethod
    def block(cin: int, cout: int) -> nn.Sequential:
        """A 3x3 convolution (same padding, no bias: BatchNorm shifts), BatchNorm2d and a
        ReLU."""
        return nn.Sequential(
            nn.Conv2d(cin, cout, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(),
        )

    def forward(self, x: lg.Tensor) -> lg.Tensor:
        """Logits (N, classes) of images (N, 1, 8, 8)."""
        return self.classifier(self.features(x).flatten(1))


def evaluate(model: nn.Module, loader: DataLoader, device: lg.device) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) over a loader, in eval mode (BatchNorm's running
    statistics), without recording gradients."""
    model.eval()
    total_loss, correct, count = 0.0, 0, 0
    with lg.no_grad():
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            logits = model(x)
            total_loss += F.cross_entropy(logits, y, reduction="sum").item()
            correct += int((logits.argmax(1) == y).sum().item())
            count += y.shape[0]
    model.train()
    return total_loss / count, correct / count


def train(args: argparse.Namespace) -> float:
    """Train, print every epoch's figures and the final test accuracy; return it."""
    lg.manual_seed(args.seed)
    device = lg.device(args.device) if args.device else default_device()
    x_train, y_train, x_test, y_test = load_split(SPLIT_SEED)
    if args.train_size:  # a smoke run on the first images only
        x_train, y_train = x_train[: args.train_size], y_train[: args.train_size]
    train_loader = DataLoader(
        TensorDataset(x_train, y_train),
        batch_size=args.batch_size,
        shuffle=True,
        drop_last=True,  # full batches only: every step has the same graph
    )
    eval_batch = 512
    train_eval = DataLoader(TensorDataset(x_train, y_train), batch_size=eval_batch)
    test_eval = DataLoader(TensorDataset(x_test, y_test), batch_size=eval_batch)

    model = DigitsCNN(args.width).to(device)
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    print(
        f"lazygrad {lg.__version__} on {device}: {x_train.shape[0]} training and "
        f"{x_test.shape[0]} test images, batch {args.batch_size}, {args.epochs} epochs"
    )
    print(model)
    parameters = sum(p.numel() for p in model.parameters())
    print(f"{parameters} parameters")

    start = time.perf_counter()
    model.train()
    test_acc = 0.0
    for epoch in range(args.epochs):
        t0 = time.perf_counter()
        running, steps = 0.0, 0
        for x, y in train_loader:
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            running += loss.item()
            steps += 1
        scheduler.step()
        train_loss, train_acc = evaluate(model, train_eval, device)
        test_loss, test_acc = evaluate(model, test_eval, device)
        print(
            f"epoch {epoch + 1:3d}/{args.epochs}: loss {running / max(steps, 1):.4f} "
            f"(eval {train_loss:.4f}), train acc {train_acc:.4f}, "
            f"test loss {test_loss:.4f}, test acc {test_acc:.4f} "
            f"[{time.perf_counter() - t0:.1f} s]",
            flush=True,
        )
    elapsed = time.perf_counter() - start
    print(f"test accuracy: {test_acc:.2%}")
    print(f"time: {elapsed:.1f} s total, {elapsed / max(args.epochs, 1):.1f} s per epoch")
    return test_acc


def main() -> None:
    """Parse the arguments, train, and with --check fail below the target accuracy."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.003)
    parser.add_argument("--width", type=int, default=16, help="channels of the first block")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default=None, help="default: LAZYGRAD_DEVICE or cpu")
    parser.add_argument(
        "--check",
        action="store_true",
        help=f"exit with status 1 if the test accuracy is below {TARGET_ACCURACY:.0%}",
    )
    parser.add_argument(
        "--train-size", type=int, default=None, help="train on the first N training images"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"a smoke run: {QUICK_EPOCHS} epochs on the first {QUICK_TRAIN_SIZE} images",
    )
    args = parser.parse_args()
    if args.quick:
        args.epochs, args.train_size = QUICK_EPOCHS, QUICK_TRAIN_SIZE
    accuracy = train(args)
    if args.check and not accuracy >= TARGET_ACCURACY:
        print(f"FAILED: test accuracy {accuracy:.2%} is below {TARGET_ACCURACY:.0%}")
        sys.exit(1)


if __name__ == "__main__":
    main()
