"""The main job (`make demo`): train an MLP on scikit-learn's digits with lazygrad.

Every training step (forward, backward and the optimizer update) is recorded lazily and
realized by `optimizer.step()` as ONE fused schedule. Runs on LAZYGRAD_DEVICE (cpu by
default, `LAZYGRAD_DEVICE=opencl` for OpenCL). Prints the test accuracy, steps/s and
kernels per step, and writes the SVG of one training step's graph next to this file.

    python examples/train_digits.py [--epochs 15] [--batch-size 32] [--lr 0.05] [--seed 0]

Data-parallel over MPI (the `distributed` extra): each process trains on its share of every
batch (`DistributedSampler`), `DistributedDataParallel` averages the gradients, and rank 0
reports:

    mpiexec -n 2 python examples/train_digits.py --distributed
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from tqdm import tqdm

import lazygrad as lg
import lazygrad.distributed as dist
import lazygrad.nn as nn
import lazygrad.nn.functional as F
import lazygrad.optim as optim
from lazygrad.device import default_device
from lazygrad.engine.realize import schedule_listeners
from lazygrad.nn.parallel import DistributedDataParallel
from lazygrad.utils.data import DistributedSampler

HERE = Path(__file__).resolve().parent
SVG_PATH = HERE / "train_digits_step.svg"
SPLIT_SEED = 0  # the train/test split is fixed; --seed changes the initialization and order


def load_split(seed: int, device: lg.device) -> tuple[lg.Tensor, ...]:
    """Digits (1797 8x8 images) split 80/20 with a fixed seed, standardized with the
    training set's statistics, as tensors on `device`."""
    digits = load_digits()
    x, y = digits.data.astype(np.float32), digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    cut = int(0.8 * len(x))
    train, test = order[:cut], order[cut:]
    mean, std = x[train].mean(0), x[train].std(0)
    std[std == 0] = 1.0  # pixels that are blank in every training image
    x = (x - mean) / std
    return tuple(lg.tensor(a, device=device) for a in (x[train], y[train], x[test], y[test]))


def make_model() -> nn.Module:
    """A 64-128-64-10 MLP with ReLUs."""
    return nn.Sequential(
        nn.Linear(64, 128),
        nn.ReLU(),
        nn.Linear(128, 64),
        nn.ReLU(),
        nn.Linear(64, 10),
    )


def evaluate(model: nn.Module, x: lg.Tensor, y: lg.Tensor) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of the model in eval mode."""
    model.eval()
    with lg.no_grad():
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        accuracy = (logits.argmax(1) == y).float().mean()
        result = loss.item(), accuracy.item()
    model.train()
    return result


def draw_step(tensors: list[lg.Tensor]) -> None:
    """Write the SVG of one training step (kernels as clusters), if lazygrad.viz exists."""
    try:
        from lazygrad import viz
    except ImportError as exc:
        print(f"(no SVG: lazygrad.viz is not importable yet: {exc})")
        return
    try:
        viz.draw(*tensors, path=SVG_PATH, kernels=True, backward=True)
        print(f"graph of one training step: {SVG_PATH}")
    except Exception as exc:  # a missing renderer must not stop the demo
        print(f"(no SVG: {type(exc).__name__}: {exc})")


def train(args: argparse.Namespace) -> float:
    """Train, report the figures (rank 0 of a distributed run), return the final test
    accuracy."""
    rank, world = 0, 1
    if args.distributed:
        dist.init_process_group(backend="mpi")
        rank, world = dist.get_rank(), dist.get_world_size()
    lg.manual_seed(args.seed + rank)  # DistributedDataParallel takes rank 0's weights
    device = lg.device(args.device) if args.device else default_device()
    x_train, y_train, x_test, y_test = load_split(SPLIT_SEED, device)
    model = make_model().to(device)
    lg.realize(*model.parameters())  # the initial weights, once
    net = DistributedDataParallel(model) if args.distributed else model
    optimizer = optim.SGD(net.parameters(), lr=args.lr, momentum=0.9, nesterov=True)
    n = x_train.shape[0]
    batch = args.batch_size // world  # each process's share of a batch
    sampler = DistributedSampler(range(n), world, rank, shuffle=True, seed=args.seed)
    steps_per_epoch = len(sampler) // batch  # full batches only: every step has one graph
    say = print if rank == 0 else (lambda *a, **k: None)

    kernels: list[int] = []
    drawing = {"wanted": False, "seconds": 0.0}

    def on_schedule(sched: object, tensors: list[lg.Tensor]) -> None:
        kernels.append(len(sched))  # type: ignore[arg-type]
        if drawing["wanted"]:  # before the schedule runs, the step's graph is still lazy
            t0 = time.perf_counter()
            draw_step(tensors)
            drawing["wanted"], drawing["seconds"] = False, time.perf_counter() - t0

    schedule_listeners.append(on_schedule)
    shares = f" ({world} processes x {batch})" if args.distributed else ""
    say(
        f"lazygrad {lg.__version__} on {device}: {n} training and {x_test.shape[0]} test "
        f"images, batch {batch * world}{shares}, {args.epochs} epochs"
    )
    say(model)
    step_kernels: list[int] = []
    step_seconds = 0.0
    start = time.perf_counter()
    bar = tqdm(
        range(args.epochs), desc="training", unit="epoch", file=sys.stdout, disable=rank != 0
    )
    for epoch in bar:
        # cosine learning-rate decay, one value per epoch
        optimizer.param_groups[0]["lr"] = (
            args.lr * 0.5 * (1 + math.cos(math.pi * epoch / args.epochs))
        )
        sampler.set_epoch(epoch)
        perm = list(sampler)
        for s in range(steps_per_epoch):
            t0 = time.perf_counter()
            idx = lg.tensor(perm[s * batch : (s + 1) * batch], device=device)
            optimizer.zero_grad()
            loss = F.cross_entropy(net(x_train[idx]), y_train[idx])
            loss.backward()
            kernels.clear()
            # a steady step (momentum buffers exist), drawn once
            drawing["wanted"] = epoch == 0 and s == 1 and rank == 0
            optimizer.step()
            step_seconds += time.perf_counter() - t0 - drawing["seconds"]
            drawing["seconds"] = 0.0
            step_kernels.append(kernels[-1])
        train_loss, train_acc = evaluate(model, x_train, y_train)
        _, test_acc = evaluate(model, x_test, y_test)
        bar.set_postfix(
            loss=f"{train_loss:.4f}", acc=f"{train_acc:.4f}", test_acc=f"{test_acc:.4f}"
        )
    bar.close()
    schedule_listeners.remove(on_schedule)
    elapsed = time.perf_counter() - start
    steps = args.epochs * steps_per_epoch
    say(f"test accuracy: {test_acc:.2%}")
    say(f"time: {elapsed:.1f} s total, {steps} steps, {steps / step_seconds:.1f} steps/s")
    say(
        f"kernels per training step (forward + backward + SGD update): "
        f"{statistics.median(step_kernels):.0f}"
    )
    if test_acc < 0.97:
        say("warning: test accuracy below 97%")
    if args.distributed:
        dist.destroy_process_group()
    return test_acc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default=None, help="default: LAZYGRAD_DEVICE or cpu")
    parser.add_argument(
        "--distributed", action="store_true", help="data-parallel over MPI (run with mpiexec)"
    )
    args = parser.parse_args()
    train(args)


if __name__ == "__main__":
    main()
