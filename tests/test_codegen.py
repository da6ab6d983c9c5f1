"""`lazygrad.codegen` on its own: index arithmetic (accesses, merged dims, bounds) and the
plans of reduce and matmul kernels, on kernels scheduled for the CPU (no OpenCL needed) and
made-up targets."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import lazygrad as lg
from lazygrad.codegen.access import Access, Space, make_access
from lazygrad.codegen.bounds import positions_inside, value_range
from lazygrad.codegen.dot_plan import DotStrategy, plan_dot
from lazygrad.codegen.reduce_plan import Lanes, Layout, plan_reduce
from lazygrad.codegen.target import Target
from lazygrad.dtypes import int64
from lazygrad.ir.node import make
from lazygrad.ir.ops import Op
from lazygrad.ir.schedule import Kernel
from lazygrad.ir.view import View

CPU = Target("cpu", compute_units=2, max_work_group_size=4096)
GPU = Target("gpu", is_gpu=True, compute_units=4, max_work_group_size=256, preferred_multiple=32)


def zeros(*shape: int, dtype: str = "float32") -> lg.Tensor:
    return lg.tensor(np.zeros(shape, dtype=dtype))


def kernel_of(t: lg.Tensor) -> Kernel:
    """The last kernel computing `t` (its inputs are host buffers)."""
    return lg.schedule(t).kernels[-1]


# ---- accesses and merged dims -----------------------------------------------------------------
def contiguous(*sizes: int) -> Access:
    return make_access(None, View.contiguous(sizes), list(range(len(sizes))))


def test_dims_merge_where_every_access_allows_it() -> None:
    space = Space([4, 5, 6], [False, False, False])
    row = View.contiguous((6,)).reshape((1, 1, 6))
    assert row is not None
    broadcast = make_access(None, row.expand((4, 5, 6)), [0, 1, 2])  # one row for every (i, j)
    assert (broadcast.terms, broadcast.covered) == ({2: 1}, (0, 1, 2))
    space.coalesce([contiguous(4, 5, 6), broadcast])
    assert space.groups == [[0, 1], [2]]  # (i, j) is one index for both; j, k is not
    assert space.group_sizes() == [20, 6]
    merged = space.regroup(contiguous(4, 5, 6))
    assert (merged.terms, merged.covered) == ({0: 6, 1: 1}, (0, 1))


def test_a_transposed_read_blocks_the_merge() -> None:
    space = Space([4, 5], [False, False])
    space.coalesce([contiguous(4, 5)])
    assert space.groups == [[0, 1]]
    transposed = Access(None, 0, {0: 1, 1: 4}, covered=(0, 1))  # a (5, 4) buffer read as .T
    space.coalesce([contiguous(4, 5), transposed])
    assert space.groups == [[0], [1]]


def test_kept_and_reduced_dims_never_merge_and_windows_block_merges() -> None:
    space = Space([4, 5], [False, True])
    space.coalesce([contiguous(4, 5)])
    assert space.groups == [[0], [1]]
    padded = make_access(None, View.contiguous((4, 3)).pad(((0, 0), (1, 1))), [0, 1])
    assert padded.windows == {1: (1, 4)} and padded.offset == -1 and not padded.dead
    space = Space([4, 5], [False, False])
    space.coalesce([contiguous(4, 5), padded])
    assert space.groups == [[0], [1]]


def test_the_row_space_of_a_reduction() -> None:
    space = Space([3, 4, 5], [False, True, False])
    assert (space.rows, space.row_length, space.row_sizes) == (15, 4, [3, 5])
    assert space.is_row((3, 1, 5)) and not space.is_row((3, 4, 5))
    assert space.positions((3, 1, 5)) == [0, 2]
    assert not Space([6], [False]).is_row((6,))  # nothing is reduced: no rows


# ---- bounds -------------------------------------------------------------------------------
def test_value_ranges_and_positions_inside() -> None:
    source = zeros(6)._node
    inside = make(Op.ARANGE, (), (1, 2), int64, (3,))  # 1, 3, 5
    beyond = make(Op.ADD, (inside, make(Op.ARANGE, (), (0, 1), int64, (3,))))  # 1, 4, 7
    assert value_range(inside, ()) == (1, 5) and value_range(beyond, ()) == (1, 7)
    assert positions_inside(make(Op.GATHER, (source, inside)), ())
    assert not positions_inside(make(Op.GATHER, (source, beyond)), ())
    data = lg.tensor(np.array([0, 5]))._node  # known only when the kernel runs
    assert value_range(data, {data}) is None
    assert not positions_inside(make(Op.GATHER, (source, data)), {data})


# ---- reduce plans -------------------------------------------------------------------------
def test_a_long_row_is_split_across_work_groups() -> None:
    k = kernel_of(zeros(3, 2**17).sum(1))
    gpu = plan_reduce(k, GPU)
    assert (gpu.layout, gpu.group_size, gpu.splits) == (Layout.GROUP_PER_ROW, 256, 6)
    assert (gpu.lanes, gpu.width, gpu.interleaved) == (Lanes.ALONG_ROW, 4, True)
    assert gpu.global_size == 3 * 6 * 256 and gpu.work_group == 256
    cpu = plan_reduce(k, CPU)  # 3 rows would leave compute units idle: 6 groups of one item
    assert (cpu.layout, cpu.group_size, cpu.splits) == (Layout.GROUP_PER_ROW, 1, 6)
    assert (cpu.lanes, cpu.width, cpu.interleaved) == (Lanes.ALONG_ROW, 16, False)
    assert cpu.chunk == -(-(2**17) // (6 * 16)) * 16


def test_many_short_rows_take_one_work_item_each() -> None:
    k = kernel_of(zeros(10000, 8).sum(1))
    for target, width in ((CPU, 8), (GPU, 4)):
        plan = plan_reduce(k, target)
        assert (plan.layout, plan.splits, plan.group_size) == (Layout.ROW_PER_ITEM, 1, 1)
        assert (plan.lanes, plan.width, plan.vector_key) == (Lanes.ALONG_ROW, width, 1)
        assert plan.work_items == 10000 and plan.global_size % plan.work_group == 0


def test_a_column_sum_puts_lanes_across_rows() -> None:
    plan = plan_reduce(kernel_of(zeros(8, 10000).sum(0)), CPU)
    assert (plan.rows, plan.row_length) == (10000, 8)
    assert (plan.lanes, plan.width) == (Lanes.ACROSS_ROWS, 16)
    assert plan.work_items == 10000 // 16
    assert plan.writes_vectors(0)
    many_units = Target("cpu", compute_units=16)  # 256 rows / 16 lanes: too few work-items
    narrower = plan_reduce(kernel_of(zeros(8, 256).sum(0)), many_units)
    assert (narrower.lanes, narrower.width, narrower.work_items) == (Lanes.ACROSS_ROWS, 8, 32)


def test_an_elementwise_kernel_is_one_merged_dim_unless_a_read_is_transposed() -> None:
    plain = plan_reduce(kernel_of(zeros(6, 64) + 1), CPU)
    assert plain.stages == [] and plain.space.groups == [[0, 1]]
    assert (plain.lanes, plain.width, plain.work_items) == (Lanes.ACROSS_ROWS, 16, 24)
    transposed = plan_reduce(kernel_of(zeros(64, 6).T + 1), CPU)
    assert transposed.space.groups == [[0], [1]]
    assert (transposed.lanes, transposed.width, transposed.vectors) == (Lanes.SCALAR, 1, {})


def test_softmax_runs_in_two_stages_and_stashes_its_exp() -> None:
    k = kernel_of(zeros(64, 1024).softmax(1))
    plan = plan_reduce(k, CPU)
    assert [[r.op for r in stage] for stage in plan.stages] == [[Op.RMAX], [Op.SUM]]
    assert plan.stash is not None
    assert plan.stash.value.op is Op.EXP and plan.stash.output == 0
    long_rows = plan_reduce(kernel_of(zeros(2, 2**20).softmax(1)), CPU)
    assert long_rows.splits > 1 and long_rows.stash is None  # split rows: nothing is stashed


# ---- matmul plans -------------------------------------------------------------------------
def test_matmul_is_packed_on_cpus_and_tiled_on_gpus() -> None:
    k = kernel_of(zeros(33, 40) @ zeros(40, 20))
    packed, tiled = plan_dot(k, CPU), plan_dot(k, GPU)
    assert packed.strategy is DotStrategy.PACKED and tiled.strategy is DotStrategy.TILED
    rows, cols = packed.panels
    assert (rows.key, rows.width, rows.count) == ("m", 8, 5)  # 33 rows: 5 panels, padded
    assert (cols.key, cols.width, cols.count) == ("n", 16, 2)  # 16 float32 lanes: 64 bytes
    assert (packed.m, packed.k, packed.n, packed.batches) == (33, 40, 20, 1)
    assert (tiled.tiling.tile, tiled.tiling.side, tiled.tiling.items) == (64, 16, 256)
    wide = plan_dot(kernel_of(zeros(8, 8, dtype="float64") @ zeros(8, 8, dtype="float64")), CPU)
    assert wide.panels[1].width == 8  # 8-byte lanes


def test_panels_are_copied_as_whole_vectors_where_the_layout_allows() -> None:
    transposed = plan_dot(kernel_of(zeros(64, 40).T @ zeros(64, 32)), CPU)
    assert [p.whole_vectors for p in transposed.panels] == [True, True]
    assert transposed.operand_accesses[0].terms == {"m": 1, "k": 40}
    plain = plan_dot(kernel_of(zeros(40, 64) @ zeros(64, 32)), CPU)
    assert [p.whole_vectors for p in plain.panels] == [False, True]  # A's rows are 64 apart
    batched = plan_dot(kernel_of(zeros(2, 8, 16) @ zeros(2, 16, 16)), CPU)
    assert [p.whole_vectors for p in batched.panels] == [False, False]


def test_codegen_holds_no_c() -> None:
    folder = Path(lg.__file__).parent / "codegen"
    for path in folder.glob("*.py"):
        text = path.read_text()
        for c in ("__global", "idx_t", "#pragma", "get_global_id", "barrier("):
            assert c not in text, f"{path.name} writes C ({c}): that belongs in renderer/"
