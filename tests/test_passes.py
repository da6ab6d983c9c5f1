"""Each compiler pass alone: graph in, graph out."""

from __future__ import annotations

import math

import numpy as np

import lazygrad as lg
from lazygrad.dtype import float32, int32, int64
from lazygrad.ir.fold_views import fold_views
from lazygrad.ir.fuse import Partitioner
from lazygrad.ir.node import const, make, toposort
from lazygrad.ir.ops import MOVEMENT_OPS, Op
from lazygrad.ir.rewrite import rewrite
from lazygrad.ir.schedule import lower
from lazygrad.ir.simplify import simplify_node


def _buffer(shape=(4,), dtype=np.float32):
    return lg.tensor(np.zeros(shape, dtype))._node


def _simplify(node):
    return rewrite([node], simplify_node)[node]


def test_identities_disappear():
    x = _buffer()
    one, zero = const(1.0, float32, (4,)), const(0.0, float32, (4,))
    assert _simplify(make(Op.MUL, (x, one))) is x
    assert _simplify(make(Op.ADD, (zero, x))) is x
    assert _simplify(make(Op.NEG, (make(Op.NEG, (x,)),))) is x
    assert _simplify(make(Op.DETACH, (x,))) is x


def test_constants_fold_but_nan_times_zero_survives():
    two = const(2.0, float32, (3,))
    folded = _simplify(make(Op.EXP, (make(Op.MUL, (two, two)),)))
    assert folded.op is not Op.EXP
    assert math.isclose(
        lg.Tensor._wrap(folded, lg.device("cpu")).tolist()[0], math.exp(4), rel_tol=1e-6
    )
    x = _buffer((3,))
    kept = _simplify(make(Op.MUL, (x, const(0.0, float32, (3,)))))
    assert kept.op is Op.MUL  # x may hold nan or inf: x * 0 is not 0


def test_cast_of_cast_only_when_lossless():
    x = _buffer((2,), np.int32)
    widened = make(Op.CAST, (make(Op.CAST, (x,), int64),), float32)
    assert _simplify(widened).src[0] is x
    narrowed = make(Op.CAST, (make(Op.CAST, (_buffer((2,)),), int32),), float32)
    assert _simplify(narrowed).src[0].op is Op.CAST  # float -> int truncates: keep it


def test_movement_chain_folds_into_one_view():
    x = _buffer((4, 6))
    chain = make(
        Op.FLIP, (make(Op.PERMUTE, (make(Op.SHRINK, (x,), ((1, 3), (0, 6))),), (1, 0)),), (0,)
    )
    folded = fold_views([chain])[chain]
    assert folded.op is Op.VIEW and folded.src[0] is x
    assert not any(n.op in MOVEMENT_OPS and n.op is not Op.VIEW for n in toposort([folded]))


def test_pad_of_elementwise_becomes_masked_where():
    x = _buffer((3,))
    padded = make(Op.PAD, (make(Op.EXP, (x,)),), ((1, 1),))
    folded = fold_views([padded])[padded]
    assert folded.op is Op.WHERE  # exp(0) is 1, so padding must be masked after exp
    value = lg.Tensor._wrap(padded, lg.device("cpu")).tolist()
    assert value == [0.0, 1.0, 1.0, 1.0, 0.0]


def test_transpose_of_a_stored_value_views_it():
    x, w, g = _buffer((4, 6)), _buffer((6, 3)), _buffer((4, 5))
    h = make(Op.EXP, (x,))
    first = make(Op.DOT, (h, make(Op.RESHAPE, (w,), (6, 3))))  # h is written out for this
    moved = make(Op.PERMUTE, (h,), (1, 0))
    folded = fold_views([first, make(Op.DOT, (moved, g))])[moved]
    assert folded.op is Op.VIEW and folded.src[0].op is Op.EXP  # read h, not exp(x.T)
    alone = fold_views([moved])[moved]
    assert alone.op is Op.EXP  # nothing stores h: the move is pushed down to x


def test_unmergeable_view_is_materialized():
    x = _buffer((4, 6))
    odd = make(Op.RESHAPE, (make(Op.PERMUTE, (x,), (1, 0)),), (24,))
    folded = fold_views([odd])[odd]
    assert any(n.op is Op.CONTIGUOUS for n in toposort([folded]))


def test_partition_records_reasons():
    a = lg.tensor(np.ones((4, 4), np.float32))
    b = (a @ a).exp().sum(0)
    kernels = lg.schedule(b)
    reasons = [r for k in kernels for r in k.reasons]
    assert "output" in reasons and "contraction reduced" in reasons


def test_partitioner_alone_on_a_softmax_graph():
    x = lg.tensor(np.ones((8, 16), np.float32))
    node = x.softmax(1)._node
    root = lower([node], {})[node]
    regions = Partitioner([root]).partition()
    assert len(regions) == 1 and regions[0].signature[0] == "reduce"
