"""Collectives over the processes of a distributed run, run through mpi4py on host arrays.

`lazygrad.distributed.init_process_group` sets the communicator; a COLLECTIVE node's arg
is (kind, parameter, call number): ("all_reduce", "sum"|"max"|"min", n),
("broadcast", source rank, n), ("all_gather", world size, n), ("reduce_scatter", "sum"|...,
n). Every process runs the same collectives in the same order (the same program builds
the same schedules), as MPI requires.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ir.node import Node

_communicator: list[Any] = []  # the MPI communicator of the process group, once made


def set_communicator(comm: Any | None) -> None:
    """Use `comm` (an mpi4py communicator) for collectives; None forgets it."""
    _communicator.clear()
    if comm is not None:
        _communicator.append(comm)


def communicator() -> Any:
    """The communicator collectives run over (RuntimeError before init_process_group)."""
    if not _communicator:
        raise RuntimeError(
            "Default process group has not been initialized, please make sure to call "
            "init_process_group."
        )
    return _communicator[0]


def describe(node: Node) -> str:
    """A collective in words, for kernel listings and drawings."""
    kind, parameter, _ = node.arg  # type: ignore[misc]
    return f"{kind}({parameter}) of {node.src[0].dtype.name}{list(node.src[0].shape)} over MPI"


def run(node: Node, array: np.ndarray) -> np.ndarray:
    """The result of collective `node` with this process's operand `array` (a new array)."""
    from mpi4py import MPI  # present whenever a communicator is

    comm = communicator()
    kind, parameter, _ = node.arg  # type: ignore[misc]
    array = np.ascontiguousarray(array)
    out = np.empty(node.shape, dtype=node.dtype.np)
    ops = {"sum": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN, "product": MPI.PROD}
    if kind == "all_reduce":
        comm.Allreduce(array, out, op=ops[parameter])
    elif kind == "broadcast":
        out[...] = array
        comm.Bcast(out, root=parameter)
    elif kind == "all_gather":
        comm.Allgather(array, out)
    elif kind == "reduce_scatter":
        comm.Reduce_scatter_block(array, out, op=ops[parameter])
    else:
        raise AssertionError(f"unknown collective {kind}")
    return out
