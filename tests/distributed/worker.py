"""Run by tests/test_distributed.py under `mpiexec -n N`: checks collectives,
DistributedDataParallel and DistributedSampler across real processes, and prints
"rank R ok" when every check of this process passed (an AssertionError fails the run)."""

from __future__ import annotations

import sys

import numpy as np
from mpi4py import MPI

import lazygrad as lg
import lazygrad.distributed as dist
import lazygrad.nn.functional as F
from lazygrad import nn
from lazygrad.nn.parallel import DistributedDataParallel
from lazygrad.utils.data import DistributedSampler


def same_everywhere(values: np.ndarray) -> np.ndarray:
    """Every process's copy of `values` (checked with MPI directly, not lazygrad)."""
    return np.array(MPI.COMM_WORLD.allgather(np.asarray(values)))


def check_collectives(device: str, rank: int, world: int) -> None:
    t = lg.full((4,), float(rank + 1), device=device) * 2
    dist.all_reduce(t)
    out = t + 1  # fuses after the collective, which is a kernel of its own
    kinds = [k.kind for k in lg.schedule(out).kernels]
    assert kinds.count("collective") == 1, kinds
    np.testing.assert_allclose(out.numpy(), world * (world + 1) + 1)
    for op, want in (("max", world), ("min", 1), ("avg", (world + 1) / 2)):
        x = lg.full((3,), float(rank + 1), device=device)
        dist.all_reduce(x, op=op)
        np.testing.assert_allclose(x.numpy(), want)
    b = lg.full((2,), float(rank), device=device)
    work = dist.broadcast(b, src=world - 1, async_op=True)
    work.wait()
    assert work.is_completed()
    np.testing.assert_allclose(b.numpy(), world - 1)
    pieces = [lg.zeros(2, device=device) for _ in range(world)]
    dist.all_gather(pieces, lg.full((2,), float(rank), device=device))
    np.testing.assert_allclose(
        [p.numpy() for p in pieces], np.repeat(np.arange(world), 2).reshape(world, 2)
    )
    out = lg.zeros(2, device=device)
    dist.reduce_scatter(
        out, [lg.full((2,), float(10 * r + rank), device=device) for r in range(world)]
    )
    np.testing.assert_allclose(out.numpy(), sum(10 * rank + r for r in range(world)))
    mine = lg.zeros(2, device=device)
    chunks = [lg.full((2,), float(100 * i), device=device) for i in range(world)]
    dist.scatter(mine, chunks if rank == 0 else None, src=0)
    np.testing.assert_allclose(mine.numpy(), 100 * rank)
    gathered = [lg.zeros(2, device=device) for _ in range(world)] if rank == 0 else None
    dist.gather(lg.full((2,), float(rank), device=device), gathered, dst=0)
    if rank == 0:
        np.testing.assert_allclose(
            [g.numpy() for g in gathered], np.repeat(np.arange(world), 2).reshape(world, 2)
        )


def local_gradients(model: nn.Module, x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """This process's gradients of a copy of `model` (no DDP)."""
    copy = nn.Linear(4, 3)
    copy.load_state_dict(model.state_dict())
    F.cross_entropy(copy(lg.tensor(x)), lg.tensor(y)).backward()
    return [p.grad.numpy() for p in copy.parameters()]


def check_ddp(rank: int, world: int) -> None:
    lg.manual_seed(rank)  # different initial weights everywhere: DDP takes rank 0's
    model = nn.Linear(4, 3)
    ddp = DistributedDataParallel(model, bucket_cap_mb=40 / 2**20)  # 40 bytes: 2 buckets
    for p in model.parameters():
        assert np.ptp(same_everywhere(p.detach().numpy()), axis=0).max() == 0
    opt = lg.optim.SGD(ddp.parameters(), lr=0.1)
    rng = np.random.default_rng(rank)
    for _ in range(3):
        x, y = rng.standard_normal((5, 4)).astype(np.float32), rng.integers(0, 3, 5)
        local = local_gradients(model, x, y)
        opt.zero_grad()
        F.cross_entropy(ddp(lg.tensor(x)), lg.tensor(y)).backward()
        grads = [p.grad for p in model.parameters()]
        kinds = [k.kind for k in lg.schedule(*grads).kernels]
        assert kinds.count("collective") == len(ddp.buckets()) == 2, kinds
        for g, mine in zip(grads, local, strict=True):
            np.testing.assert_allclose(
                g.numpy(), same_everywhere(mine).mean(0), rtol=1e-5, atol=1e-6
            )
        opt.step()
    for p in model.parameters():
        assert np.ptp(same_everywhere(p.detach().numpy()), axis=0).max() < 1e-6
    # no_sync: two local backward passes, then one that averages all three
    opt.zero_grad()
    xs = [rng.standard_normal((5, 4)).astype(np.float32) for _ in range(3)]
    y = rng.integers(0, 3, 5)
    total = [np.zeros(p.shape, np.float32) for p in model.parameters()]
    for i, x in enumerate(xs):
        for acc, g in zip(total, local_gradients(model, x, y), strict=True):
            acc += g
        if i < 2:
            with ddp.no_sync():
                F.cross_entropy(ddp(lg.tensor(x)), lg.tensor(y)).backward()
            assert not np.allclose(same_everywhere(model.weight.grad.numpy()).std(0), 0)
        else:
            F.cross_entropy(ddp(lg.tensor(x)), lg.tensor(y)).backward()
    for p, acc in zip(model.parameters(), total, strict=True):
        np.testing.assert_allclose(
            p.grad.numpy(), same_everywhere(acc).mean(0), rtol=1e-5, atol=1e-6
        )


def check_sampler(rank: int, world: int) -> None:
    for n, drop_last in ((10, False), (10, True), (7, False)):
        sampler = DistributedSampler(list(range(n)), shuffle=True, seed=3, drop_last=drop_last)
        sampler.set_epoch(2)
        mine = list(sampler)
        assert len(mine) == len(sampler)
        everyone = MPI.COMM_WORLD.allgather(mine)
        assert len({len(m) for m in everyone}) == 1  # an even split
        taken = sorted(i for m in everyone for i in m)
        if drop_last:
            assert len(set(taken)) == len(taken) == (n // world) * world
        else:
            assert set(taken) == set(range(n)) and len(taken) == -(-n // world) * world


def main() -> None:
    dist.init_process_group(backend="mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    assert world == int(sys.argv[1])
    for device in ("cpu", "opencl"):
        check_collectives(device, rank, world)
    check_ddp(rank, world)
    check_sampler(rank, world)
    dist.barrier()
    dist.destroy_process_group()
    print(f"rank {rank} ok", flush=True)


if __name__ == "__main__":
    main()
