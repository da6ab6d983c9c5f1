"""`lazygrad.distributed`: data-parallel training over MPI, shaped like `torch.distributed`.

Collectives are IR nodes: `all_reduce(t)` records a COLLECTIVE node and `t` stands for it
(in place, as in PyTorch). A schedule runs each collective as a kernel of its own through
mpi4py (`runtime.collective`), so it shows in `lg.schedule()`, `LAZYGRAD_DEBUG` output and
drawings, and the elementwise work before and after it (scaling a gradient, an SGD update)
fuses as usual. Launch with `mpiexec -n N python script.py`; without mpiexec a process is
a group of one. Needs the `distributed` extra: `pip install 'lazygrad[distributed]'`.
"""

from __future__ import annotations

import atexit
import itertools
from collections.abc import Sequence
from typing import Any

from .. import recording
from ..autograd_state import no_grad
from ..engine import realize as realize_module
from ..engine.realize import realize
from ..frontend.methods import in_place
from ..frontend.movement import stack
from ..ir.node import make
from ..ir.ops import Op
from ..runtime import collective
from ..tensor import Tensor

__all__ = [
    "ReduceOp",
    "Work",
    "all_gather",
    "all_reduce",
    "barrier",
    "broadcast",
    "destroy_process_group",
    "gather",
    "get_backend",
    "get_rank",
    "get_world_size",
    "init_process_group",
    "is_available",
    "is_initialized",
    "reduce_scatter",
    "scatter",
]

_INSTALL = (
    "lazygrad.distributed needs mpi4py and an MPI library: pip install 'lazygrad[distributed]' "
    "(installs mpi4py and mpich)"
)


class ReduceOp:
    """How `all_reduce` and `reduce_scatter` combine the processes' values."""

    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MAX = "max"
    MIN = "min"


class Work:
    """What a collective with `async_op=True` returns: `wait()` computes its result."""

    def __init__(self, tensors: Sequence[Tensor]) -> None:
        self._tensors = list(tensors)
        self._done = False

    def wait(self, timeout: object = None) -> bool:
        """Run the collective (and what it needs) now."""
        realize(*self._tensors)
        self._done = True
        return True

    def is_completed(self) -> bool:
        return self._done


def is_available() -> bool:
    """Whether mpi4py (and so an MPI library) is installed."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return True


def init_process_group(
    backend: str | None = None,
    init_method: str | None = None,
    timeout: object = None,
    world_size: int = -1,
    rank: int = -1,
    **options: Any,
) -> None:
    """Join the process group: every process `mpiexec` started (rank and world size come
    from MPI; world_size and rank, if given, must agree with it)."""
    if backend not in (None, "mpi"):
        raise RuntimeError(
            f"lazygrad runs collectives over MPI: backend {backend!r} is not available, "
            "use init_process_group(backend='mpi')"
        )
    if is_initialized():
        raise RuntimeError("trying to initialize the default process group twice!")
    try:
        from mpi4py import MPI
    except ImportError as err:
        raise RuntimeError(_INSTALL) from err
    comm = MPI.COMM_WORLD
    for asked, actual, name in (
        (world_size, comm.Get_size(), "world_size"),
        (rank, comm.Get_rank(), "rank"),
    ):
        if asked not in (-1, actual):
            raise ValueError(f"{name}={asked}, but MPI started this process with {actual}")
    collective.set_communicator(comm)
    atexit.register(_flush_at_exit)


def _flush_at_exit() -> None:
    """A process that ends with collectives it called but never ran runs them (the other
    processes wait for them)."""
    if is_initialized():
        _flush()


def is_initialized() -> bool:
    """Whether `init_process_group` ran (and `destroy_process_group` did not since)."""
    try:
        collective.communicator()
    except RuntimeError:
        return False
    return True


def destroy_process_group(group: object = None) -> None:
    """Run the collectives called so far and leave the process group (MPI itself
    finalizes at exit)."""
    if is_initialized():
        _flush()
    collective.set_communicator(None)


def get_backend(group: object = None) -> str:
    collective.communicator()
    return "mpi"


def get_rank(group: object = None) -> int:
    """This process's rank."""
    return int(collective.communicator().Get_rank())


def get_world_size(group: object = None) -> int:
    """How many processes there are."""
    return int(collective.communicator().Get_size())


def barrier(group: object = None, async_op: bool = False, device_ids: object = None) -> None:
    """Run the collectives called so far, then wait until every process reaches this
    point."""
    _flush()
    collective.communicator().Barrier()


def _flush() -> None:
    """Run every collective called and not run yet (each process runs them all, in order)."""
    realize(*realize_module.must_run)


_calls = itertools.count()  # every process numbers its collectives alike (same program)


def _recorded(t: Tensor, kind: str, parameter: object) -> Tensor:
    """A lazy collective over `t`'s values (no autograd history)."""
    collective.communicator()
    # written out first, whatever it is (a constant too): MPI sends it from memory
    operand = make(Op.CONTIGUOUS, (t.detach()._node,))
    node = make(Op.COLLECTIVE, (operand,), (kind, parameter, next(_calls)))
    result = Tensor._wrap(node, t.device)
    if recording.active is None:  # a jit recording keeps what the step changes anyway
        realize_module.must_run.append(result)  # runs at the next realize, read or not
    return result


def _set(t: Tensor, value: Tensor) -> None:
    """`t` holds `value` from now on (in place: its views see it; outside autograd, as
    PyTorch's collectives write a tensor's storage)."""
    with no_grad():
        in_place(t, value)


def _done(tensors: Sequence[Tensor], async_op: bool) -> Work | None:
    return Work(tensors) if async_op else None


def all_reduce(
    tensor: Tensor, op: str = ReduceOp.SUM, group: object = None, async_op: bool = False
) -> Work | None:
    """Every process's `tensor` becomes the sum (average, max, min, product) over all."""
    combine = ReduceOp.SUM if op == ReduceOp.AVG else op
    reduced = _recorded(tensor, "all_reduce", combine)
    if op == ReduceOp.AVG:
        reduced = reduced / get_world_size()
    _set(tensor, reduced.to(tensor.dtype))
    return _done([tensor], async_op)


def broadcast(
    tensor: Tensor, src: int, group: object = None, async_op: bool = False
) -> Work | None:
    """Every process's `tensor` becomes process `src`'s."""
    _set(tensor, _recorded(tensor, "broadcast", src))
    return _done([tensor], async_op)


def _gathered(tensor: Tensor) -> Tensor:
    return _recorded(tensor, "all_gather", get_world_size())


def all_gather(
    tensor_list: list[Tensor], tensor: Tensor, group: object = None, async_op: bool = False
) -> Work | None:
    """`tensor_list[i]` becomes process i's `tensor`, on every process."""
    _check_list("tensor_list", tensor_list, tensor)
    everyone = _gathered(tensor)
    for i, t in enumerate(tensor_list):
        _set(t, everyone[i])
    return _done(tensor_list, async_op)


def reduce_scatter(
    output: Tensor,
    input_list: list[Tensor],
    op: str = ReduceOp.SUM,
    group: object = None,
    async_op: bool = False,
) -> Work | None:
    """`output` on process i becomes the reduction over processes of their `input_list[i]`."""
    _check_list("input_list", input_list, output)
    combine = ReduceOp.SUM if op == ReduceOp.AVG else op
    reduced = _recorded(stack(input_list), "reduce_scatter", combine)
    if op == ReduceOp.AVG:
        reduced = reduced / get_world_size()
    _set(output, reduced.to(output.dtype))
    return _done([output], async_op)


def gather(
    tensor: Tensor,
    gather_list: list[Tensor] | None = None,
    dst: int = 0,
    group: object = None,
    async_op: bool = False,
) -> Work | None:
    """On process `dst`, `gather_list[i]` becomes process i's `tensor`."""
    everyone = _gathered(tensor)
    if get_rank() != dst:  # nothing here reads it: run it now, as every process must
        realize(everyone)
        return _done([], async_op)
    if gather_list is None:
        raise ValueError("Argument ``gather_list`` must be specified on destination rank.")
    _check_list("gather_list", gather_list, tensor)
    for i, t in enumerate(gather_list):
        _set(t, everyone[i])
    return _done(gather_list, async_op)


def scatter(
    tensor: Tensor,
    scatter_list: list[Tensor] | None = None,
    src: int = 0,
    group: object = None,
    async_op: bool = False,
) -> Work | None:
    """`tensor` on process i becomes `scatter_list[i]` of process `src`."""
    world = get_world_size()
    if get_rank() == src:
        if scatter_list is None:
            raise ValueError("Argument ``scatter_list`` must be specified on source rank.")
        _check_list("scatter_list", scatter_list, tensor)
        pieces = stack(scatter_list)
    else:  # a placeholder of the right shape: the broadcast overwrites it
        pieces = stack([tensor.detach()] * world)
    everyone = _recorded(pieces, "broadcast", src)
    _set(tensor, everyone[get_rank()])
    return _done([tensor], async_op)


def _check_list(name: str, tensors: Sequence[Tensor], like: Tensor) -> None:
    world = get_world_size()
    if len(tensors) != world:
        raise ValueError(f"{name} has {len(tensors)} tensors; the group has {world} processes")
    for t in tensors:
        if t.shape != like.shape or t.dtype != like.dtype:
            raise ValueError(
                f"every tensor in {name} must have the shape and dtype of the tensor "
                f"({list(like.shape)}, {like.dtype}), got {list(t.shape)}, {t.dtype}"
            )
