"""lazygrad.distributed: collectives as IR nodes, DistributedDataParallel and
DistributedSampler. One process (a group of one) here; real groups of 2 and 3 processes
run tests/distributed/worker.py under mpiexec."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import check

import lazygrad as lg
import lazygrad.distributed as dist
from lazygrad.nn.parallel import DistributedDataParallel
from lazygrad.utils.data import DistributedSampler

ROOT = Path(__file__).resolve().parent.parent
MPIEXEC = shutil.which("mpiexec", path=str(Path(sys.executable).parent)) or shutil.which("mpiexec")


@pytest.fixture
def group() -> Iterator[None]:
    dist.init_process_group(backend="mpi")
    yield
    dist.destroy_process_group()


def test_a_group_of_one_without_mpiexec(group: None, device: str) -> None:
    assert dist.is_initialized() and dist.get_rank() == 0 and dist.get_world_size() == 1
    t = lg.arange(4.0, device=device) * 3
    dist.all_reduce(t, op=dist.ReduceOp.AVG)
    out = t + 1
    kinds = [k.kind for k in lg.schedule(out).kernels]
    assert kinds.count("collective") == 1 and kinds[-1] == "elementwise", kinds
    check(out, np.arange(4, dtype=np.float32) * 3 + 1)
    pieces = [lg.zeros(2, device=device)]
    dist.all_gather(pieces, lg.ones(2, device=device))
    check(pieces[0], np.ones(2, np.float32))
    dist.barrier()


def test_a_collective_shows_in_the_schedule_and_its_neighbours_fuse(group: None) -> None:
    """The gradient scaling before and the SGD-like update after stay fused kernels."""
    g = lg.arange(6.0).reshape(2, 3)
    w = lg.ones(2, 3)
    scaled = g * 0.5
    dist.all_reduce(scaled)
    updated = w - 0.1 * scaled
    kernels = lg.schedule(updated).kernels
    assert [k.kind for k in kernels] == ["elementwise", "collective", "elementwise"]
    assert kernels[0].ops == ["mul", "contiguous"] and kernels[2].ops == ["mul", "sub"]
    source = lg.runtime.kernel_source(kernels[1])
    assert "all_reduce(sum)" in source and "MPI" in source
    check(updated, (1 - 0.1 * 0.5 * np.arange(6.0).reshape(2, 3)).astype(np.float32))


def test_ddp_in_a_group_of_one_trains_like_the_module(group: None) -> None:
    lg.manual_seed(0)
    model = lg.nn.Linear(3, 2)
    ddp = DistributedDataParallel(model)
    x = lg.randn(4, 3)
    ddp(x).sum().backward()
    want = np.repeat(x.numpy().sum(0, keepdims=True), 2, axis=0)
    check(model.weight.grad, want, rtol=1e-5)
    assert list(ddp.state_dict()) == ["module.weight", "module.bias"]
    with ddp.no_sync():
        ddp(x).sum().backward()
    check(model.weight.grad, 2 * want, rtol=1e-5)


def test_errors_before_init_and_for_other_backends() -> None:
    assert not dist.is_initialized()
    with pytest.raises(RuntimeError, match="has not been initialized"):
        dist.all_reduce(lg.ones(2))
    with pytest.raises(RuntimeError, match="backend 'nccl' is not available"):
        dist.init_process_group(backend="nccl")
    with pytest.raises(RuntimeError, match="Requires distributed package"):
        DistributedSampler(list(range(4)))


def test_distributed_sampler_splits_evenly_with_padding() -> None:
    data = list(range(10))
    parts = [
        list(DistributedSampler(data, num_replicas=3, rank=r, shuffle=False)) for r in range(3)
    ]
    assert parts == [[0, 3, 6, 9], [1, 4, 7, 0], [2, 5, 8, 1]]
    dropped = [DistributedSampler(data, 3, r, shuffle=False, drop_last=True) for r in range(3)]
    assert [list(s) for s in dropped] == [[0, 3, 6], [1, 4, 7], [2, 5, 8]]
    s = DistributedSampler(data, 2, 0, seed=5)
    s.set_epoch(1)
    first = list(s)
    s.set_epoch(2)
    assert sorted(first) != first or list(s) != first  # a new order per epoch
    s.set_epoch(1)
    assert list(s) == first
    with pytest.raises(ValueError, match="Invalid rank 3"):
        DistributedSampler(data, 3, 3)


@pytest.mark.parametrize("processes", [2, 3])
def test_real_process_groups(processes: int) -> None:
    """Collectives (cpu and opencl), DDP with two buckets, no_sync and DistributedSampler
    across processes; 3 processes check uneven splits."""
    assert MPIEXEC is not None, "mpiexec comes with the distributed extra (mpich)"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [
            MPIEXEC,
            "-n",
            str(processes),
            sys.executable,
            "tests/distributed/worker.py",
            str(processes),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert sorted(re.findall(r"rank (\d+) ok", done.stdout)) == [str(r) for r in range(processes)]


def test_without_the_extra_import_works_and_init_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # as if mpi4py were not installed
    assert not dist.is_available()
    with pytest.raises(RuntimeError, match=r"pip install 'lazygrad\[distributed\]'"):
        dist.init_process_group(backend="mpi")


def test_ddp_under_jit_replays_with_its_collective(group: None) -> None:
    """A jitted DDP training step (manual SGD update) records its bucket's all_reduce and
    replays it."""
    lg.manual_seed(1)
    model = lg.nn.Linear(3, 2)
    ddp = DistributedDataParallel(model)

    @lg.jit
    def step(x: lg.Tensor) -> lg.Tensor:
        model.zero_grad()
        loss = ddp(x).pow(2).sum()
        loss.backward()
        with lg.no_grad():
            for p in model.parameters():
                p -= 0.1 * p.grad
        return loss

    x = lg.randn(4, 3).realize()
    w = model.weight.detach().numpy().copy()
    b = model.bias.detach().numpy().copy()
    for _ in range(4):
        g = 2 * (x.numpy() @ w.T + b)
        w, b = w - 0.1 * g.T @ x.numpy(), b - 0.1 * g.sum(0)
        step(x)
    check(model.weight.detach(), w.astype(np.float32), rtol=1e-4, atol=1e-5)
    assert [type(p).__name__ for p in step.plans.values()] == ["_ReplayPlan"]  # replayed


def test_collectives_are_drawn_like_kernels(group: None) -> None:
    t = lg.arange(4.0) * 2
    dist.all_reduce(t)
    svg_source = (t + 1).graph().to_dot(kernels=True)
    assert "collective" in svg_source
