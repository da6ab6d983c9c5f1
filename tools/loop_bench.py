"""W8 of `tools/bench.py`: a plain PyTorch-style training loop, run for 2,000 steps.

The 784-512-10 ReLU MLP of W5, trained by manual SGD the way PyTorch's tutorials write it
(`model.zero_grad()`, `loss.backward()`, `p -= lr * p.grad` under `no_grad`, `loss.item()`
every 10 steps) over four batches of 256, without `lg.jit`. It reports steps per second
over steps 100-200 and 1900-2000 (a loop step must cost the same late as early) and the
peak memory of 100 more steps, next to hand-written NumPy and, when installed, torch eager.
"""

from __future__ import annotations

import gc
import importlib.util
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import lazygrad as lg

LR = 0.01
READ_EVERY = 10


@dataclass
class LoopResult:
    """Steps per second early and late in the loop, and peak traced memory."""

    early: float
    late: float
    peak_mb: float


def _batches(count: int = 4, batch: int = 256) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(8)
    return [
        (rng.standard_normal((batch, 784), dtype=np.float32), rng.integers(0, 10, batch))
        for _ in range(count)
    ]


def _weights() -> list[np.ndarray]:
    rng = np.random.default_rng(9)
    return [
        (rng.standard_normal((784, 512)) * 0.03).astype(np.float32),
        np.zeros(512, np.float32),
        (rng.standard_normal((512, 10)) * 0.03).astype(np.float32),
        np.zeros(10, np.float32),
    ]


def _measure(step: Callable[[int], None], steps: int) -> LoopResult:
    """Run `step(0..steps-1)`, timing the windows [100, 200) and [steps-100, steps)."""
    marks: dict[int, float] = {}
    for i in range(steps):
        if i in (100, 200, steps - 100):
            marks[i] = time.perf_counter()
        step(i)
    marks[steps] = time.perf_counter()
    gc.collect()
    tracemalloc.start()
    for i in range(steps, steps + 100):
        step(i)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return LoopResult(
        100 / (marks[200] - marks[100]), 100 / (marks[steps] - marks[steps - 100]), peak
    )


def numpy_step(
    x: np.ndarray, y: np.ndarray, params: list[np.ndarray], lr: float, read: bool = False
) -> float | None:
    """One hand-written NumPy SGD step of the ReLU MLP (softmax cross-entropy), updating
    `params` (w1, b1, w2, b2) in place; returns the loss when `read`."""
    w1, b1, w2, b2 = params
    h = np.maximum(x @ w1 + b1, 0)
    logits = h @ w2 + b2
    logits = logits - logits.max(1, keepdims=True)
    p = np.exp(logits)
    p /= p.sum(1, keepdims=True)
    rows = np.arange(len(y))
    loss = float(-np.log(p[rows, y]).mean()) if read else None
    p[rows, y] -= 1
    g = p / len(y)
    gw2, gb2 = h.T @ g, g.sum(0)
    gh = (g @ w2.T) * (h > 0)
    gw1, gb1 = x.T @ gh, gh.sum(0)
    for w, gw in zip(params, (gw1, gb1, gw2, gb2), strict=True):
        w -= lr * gw
    return loss


def numpy_loop(steps: int) -> LoopResult:
    """The loop written by hand in NumPy."""
    data = _batches()
    params = _weights()

    def step(i: int) -> None:
        x, y = data[i % len(data)]
        numpy_step(x, y, params, LR, read=i % READ_EVERY == READ_EVERY - 1)

    return _measure(step, steps)


def _module_loop(lib: object, device: str, steps: int) -> LoopResult:
    """The same loop in lazygrad or torch: both are passed as `lib` (the same code runs)."""
    nn, functional = lib.nn, lib.nn.functional  # type: ignore[attr-defined]
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10))
    with lib.no_grad():  # type: ignore[attr-defined]
        for p, w in zip(model.parameters(), _weights(), strict=True):
            p.copy_(lib.tensor(w.T.copy() if w.ndim == 2 else w))  # type: ignore[attr-defined]
    model = model.to(device)
    data = [
        (lib.tensor(x, device=device), lib.tensor(y, device=device))  # type: ignore[attr-defined]
        for x, y in _batches()
    ]

    def step(i: int) -> None:
        x, y = data[i % len(data)]
        loss = functional.cross_entropy(model(x), y)
        model.zero_grad()
        loss.backward()
        with lib.no_grad():  # type: ignore[attr-defined]
            for p in model.parameters():
                p -= LR * p.grad
        if i % READ_EVERY == READ_EVERY - 1:
            loss.item()

    return _measure(step, steps)


def lazygrad_loop(device: str, steps: int) -> LoopResult:
    """The loop in plain lazygrad (no `lg.jit`)."""
    return _module_loop(lg, device, steps)


def torch_loop(steps: int) -> LoopResult | None:
    """The loop in torch eager on the CPU, when torch is installed."""
    if importlib.util.find_spec("torch") is None:
        return None
    import torch

    return _module_loop(torch, "cpu", steps)


def table(steps: int, devices: list[str]) -> str:
    """Run W8 for every implementation and format its Markdown table."""
    rows: list[tuple[str, LoopResult | None]] = [("eager NumPy", numpy_loop(steps))]
    rows += [(f"lazygrad {d}", lazygrad_loop(d, steps)) for d in devices]
    rows.append(("torch eager", torch_loop(steps)))
    base = rows[0][1]
    assert base is not None
    lines = [
        f"| W8 MLP 784-512-10 manual SGD loop, {steps} steps | steps/s 100-200 | "
        f"steps/s {steps - 100}-{steps} | late/early | late vs NumPy | peak MiB |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in rows:
        if r is None:
            lines.append(f"| {name} | not installed | | | | |")
            continue
        lines.append(
            f"| {name} | {r.early:.0f} | {r.late:.0f} | {r.late / r.early:.2f} | "
            f"{r.late / base.late:.2f}x | {r.peak_mb:.0f} |"
        )
    return "\n".join(lines)
