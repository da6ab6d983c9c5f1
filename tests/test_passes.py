"""Each compiler pass alone: graph in, graph out."""

from __future__ import annotations

import math

import numpy as np

import lazygrad as lg
from lazygrad.dtypes import bool_, float32, int32, int64
from lazygrad.ir.node import const, make, toposort
from lazygrad.ir.ops import MOVEMENT_OPS, Op
from lazygrad.ir.passes.autodiff import BACKWARD_NODES, gradients
from lazygrad.ir.passes.fold_views import PUSH_LIMIT, fold_views
from lazygrad.ir.passes.fuse import Partitioner
from lazygrad.ir.passes.simplify import simplify_node
from lazygrad.ir.rewrite import rewrite
from lazygrad.ir.schedule import build_schedule, dependency_order, lower


def _buffer(shape=(4,), dtype=np.float32):
    return lg.tensor(np.zeros(shape, dtype))._node


def _simplify(node):
    return rewrite([node], simplify_node)[node]


def _data(shape=(3, 4), seed=0, dtype=np.float32):
    """A NumPy array and the BUFFER node holding it."""
    a = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    return a, lg.tensor(a)._node


def _value(node):
    """What the graph under `node` computes (run through the whole pipeline on the cpu)."""
    return lg.Tensor._wrap(node, lg.device("cpu")).numpy()


def _ops(node):
    return [n.op for n in toposort([node])]


def _c(value, shape=(3, 4)):
    return const(value, float32, shape)


def _alternating(node, n):
    """sin, cos, sin, ... applied `n` times."""
    for i in range(n):
        node = make(Op.SIN if i % 2 == 0 else Op.COS, (node,))
    return node


def _np_alternating(a, n):
    for i in range(n):
        a = np.sin(a) if i % 2 == 0 else np.cos(a)
    return a


# ---- simplify ---------------------------------------------------------------------------------


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


def test_square_becomes_a_product():
    """x ** 2 is rewritten to x * x over the same node."""
    a, x = _data()
    out = _simplify(make(Op.POW, (x, _c(2.0))))
    assert out.op is Op.MUL and out.src == (x, x)
    np.testing.assert_allclose(_value(out), a**2, rtol=1e-6)


def test_reduce_over_size_one_axes_is_dropped():
    """A reduce over size-1 axes only is its input; size-1 axes leave a mixed reduce."""
    a, x = _data()
    kept = make(Op.RESHAPE, (x,), (3, 1, 4))
    assert _simplify(make(Op.SUM, (kept,), (1,))) is kept
    mixed = _simplify(make(Op.SUM, (kept,), (0, 1)))
    assert mixed.op is Op.SUM and mixed.arg == (0,) and mixed.src[0] is kept
    np.testing.assert_allclose(_value(mixed), a.sum(0).reshape(1, 1, 4), rtol=1e-6)


def test_reduce_of_a_constant_folds():
    """sum/prod of a broadcast constant (empty ones included) become constants."""
    cases = [
        (make(Op.SUM, (_c(2.5),), (0, 1)), np.full((1, 1), 30.0)),
        (make(Op.PROD, (_c(2.0),), (1,)), np.full((3, 1), 16.0)),
        (make(Op.SUM, (_c(2.0, (0, 4)),), (0,)), np.zeros((1, 4))),
    ]
    for node, want in cases:
        out = _simplify(node)
        assert not any(op in (Op.SUM, Op.PROD) for op in _ops(out))
        assert [n.arg for n in toposort([out]) if n.op is Op.CONST] == [want.flat[0]]
        np.testing.assert_array_equal(_value(out), want.astype(np.float32))


def test_where_and_max_of_one_value_fold():
    """where(True, x, y), where(c, x, x), max(x, x) and min(x, x) all become x."""
    _, x = _data()
    cond = make(Op.CMPLT, (x, _c(0.0)))
    true = const(True, bool_, (3, 4))
    assert _simplify(make(Op.WHERE, (true, x, make(Op.EXP, (x,))))) is x
    assert _simplify(make(Op.WHERE, (cond, x, x))) is x
    assert _simplify(make(Op.MAX, (x, x))) is x
    assert _simplify(make(Op.MIN, (x, x))) is x
    picked = _simplify(make(Op.WHERE, (const(False, bool_, (3, 4)), x, make(Op.EXP, (x,)))))
    assert picked.op is Op.EXP and picked.src == (x,)


def test_movement_pairs_collapse():
    """reshape∘reshape is one reshape; permute∘permute composes or cancels."""
    a, x = _data((2, 3, 4))
    twice = _simplify(make(Op.RESHAPE, (make(Op.RESHAPE, (x,), (24,)),), (4, 6)))
    assert twice.op is Op.RESHAPE and twice.src[0] is x and twice.arg == (4, 6)
    back = make(Op.PERMUTE, (make(Op.PERMUTE, (x,), (1, 2, 0)),), (2, 0, 1))
    assert _simplify(back) is x
    composed = _simplify(make(Op.PERMUTE, (make(Op.PERMUTE, (x,), (1, 2, 0)),), (1, 0, 2)))
    assert composed.op is Op.PERMUTE and composed.src[0] is x and composed.arg == (2, 1, 0)
    assert _simplify(make(Op.EXPAND, (x,), (2, 3, 4))) is x
    np.testing.assert_array_equal(_value(twice), a.reshape(4, 6))
    np.testing.assert_array_equal(_value(composed), a.transpose(2, 1, 0))


def test_one_sided_identities_stay_one_sided():
    """x - 0 and x / 1 are x; 0 - x and 1 / x are kept."""
    a, x = _data()
    assert _simplify(make(Op.SUB, (x, _c(0.0)))) is x
    assert _simplify(make(Op.DIV, (x, _c(1.0)))) is x
    negated = _simplify(make(Op.SUB, (_c(0.0), x)))
    inverted = _simplify(make(Op.DIV, (_c(1.0), x)))
    assert negated.op is Op.SUB and inverted.op is Op.DIV
    np.testing.assert_allclose(_value(negated), -a)
    np.testing.assert_allclose(_value(inverted), 1 / a, rtol=1e-6)


def test_nothing_to_simplify_keeps_the_graph():
    """A graph no rule applies to comes back as the very same nodes; one change elsewhere
    rebuilds only the nodes above it."""
    a, x = _data()
    ya, y = _data(seed=1)
    node = make(Op.ADD, (make(Op.EXP, (x,)), make(Op.MUL, (x, y))))
    new = rewrite([node], simplify_node)
    assert all(new[n] is n for n in toposort([node]))
    changed = make(Op.ADD, (make(Op.EXP, (x,)), make(Op.CAST, (y,), float32)))
    out = _simplify(changed)
    assert out is not changed and out.op is Op.ADD
    assert out.src == (node.src[0], y)  # the exp node is kept, the no-op cast is gone
    np.testing.assert_allclose(_value(node), np.exp(a) + a * ya, rtol=1e-6)
    np.testing.assert_allclose(_value(out), np.exp(a) + ya, rtol=1e-6)


# ---- fold_views -------------------------------------------------------------------------------
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


def test_movement_is_pushed_through_elementwise_to_the_leaves():
    """permute(exp(x) + y.T) is exp(view of x) + y: one VIEW, no other movement."""
    xa, x = _data((3, 4))
    ya, y = _data((4, 3), seed=1)
    graph = make(
        Op.PERMUTE, (make(Op.ADD, (make(Op.EXP, (x,)), make(Op.PERMUTE, (y,), (1, 0)))),), (1, 0)
    )
    folded = fold_views([graph])[graph]
    assert folded.op is Op.ADD and folded.src[1] is y  # the two transposes of y cancel
    assert folded.src[0].op is Op.EXP and folded.src[0].src[0].op is Op.VIEW
    assert _ops(folded).count(Op.VIEW) == 1 and folded.src[0].src[0].src[0] is x
    np.testing.assert_allclose(_value(folded), (np.exp(xa) + ya.T).T, rtol=1e-6)


def test_identity_movements_vanish():
    """Movements that add up to nothing fold to the node itself, with no VIEW."""
    _, x = _data()
    for graph in (
        make(Op.PERMUTE, (make(Op.PERMUTE, (x,), (1, 0)),), (1, 0)),
        make(Op.RESHAPE, (make(Op.RESHAPE, (x,), (12,)),), (3, 4)),
        make(Op.FLIP, (make(Op.FLIP, (x,), (0,)),), (0,)),
    ):
        assert fold_views([graph])[graph] is x


def test_broadcast_constant_is_a_stride_zero_view():
    """A broadcast scalar is one VIEW with zero strides on the 0-d CONST."""
    graph = _c(2.0)
    folded = fold_views([graph])[graph]
    assert folded.op is Op.VIEW and folded.src[0].op is Op.CONST and folded.src[0].shape == ()
    assert folded.arg.strides == (0, 0) and folded.shape == (3, 4)
    np.testing.assert_array_equal(_value(folded), np.full((3, 4), 2.0, np.float32))


def test_movement_of_a_reduce_views_the_reduce():
    """A movement of a reduce stays on it (the reduce is computed first)."""
    a, x = _data()
    total = make(Op.SUM, (make(Op.EXP, (x,)),), (1,))
    graph = make(Op.EXPAND, (total,), (3, 4))
    folded = fold_views([graph])[graph]
    assert folded.op is Op.VIEW and folded.src[0].op is Op.SUM and folded.arg.strides == (1, 0)
    want = np.broadcast_to(np.exp(a).sum(1, keepdims=True), (3, 4))
    np.testing.assert_allclose(_value(folded), want, rtol=1e-6)


def test_pushing_stops_past_push_limit():
    """A transpose is pushed through PUSH_LIMIT elementwise nodes, not through one more."""
    a, x = _data()
    short = make(Op.PERMUTE, (_alternating(x, PUSH_LIMIT),), (1, 0))
    long = make(Op.PERMUTE, (_alternating(x, PUSH_LIMIT + 1),), (1, 0))
    pushed, viewed = fold_views([short])[short], fold_views([long])[long]
    assert pushed.op is Op.COS and [n.src[0] for n in toposort([pushed]) if n.op is Op.VIEW] == [x]
    assert viewed.op is Op.VIEW and viewed.src[0].op is Op.SIN  # the 65-node chain, stored
    np.testing.assert_allclose(_value(pushed), _np_alternating(a, PUSH_LIMIT).T, atol=1e-6)
    np.testing.assert_allclose(_value(viewed), _np_alternating(a, PUSH_LIMIT + 1).T, atol=1e-6)


def test_fold_maps_every_node_and_leaves_no_movement():
    """The returned map covers every input node; no mapped node has a movement op."""
    a, x = _data((4, 6))
    graph = make(Op.SHRINK, (make(Op.FLIP, (make(Op.MUL, (x, x)),), (1,)),), ((0, 2), (1, 3)))
    new = fold_views([graph])
    assert set(new) == set(toposort([graph]))
    assert not any(
        n.op in MOVEMENT_OPS and n.op is not Op.VIEW for m in new.values() for n in toposort([m])
    )
    folded = new[graph]
    assert folded.op is Op.MUL and folded.src[0] is folded.src[1]  # one shared VIEW of x
    np.testing.assert_allclose(_value(folded), (a * a)[:, ::-1][0:2, 1:3], rtol=1e-6)


# ---- fuse (the partition) ---------------------------------------------------------------------
def _partition(*nodes):
    """The partitioner and its regions over the lowered form of `nodes`."""
    lowered = lower(list(nodes), {})
    part = Partitioner([lowered[n] for n in nodes])
    return part, part.partition()


def _reasons(part, regions):
    return [[part.materialized[r] for r in region.roots] for region in regions]


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


def test_elementwise_chain_is_one_region():
    """A chain of elementwise ops over one buffer is one elementwise region."""
    a, x = _data()
    scaled = make(Op.EXP, (make(Op.MUL, (x, _c(2.0))),))
    node = make(Op.SQRT, (make(Op.ADD, (scaled, _c(1.0))),))
    part, regions = _partition(node)
    assert _reasons(part, regions) == [["output"]] and regions[0].signature[0] == "elementwise"
    assert [n.op for n in regions[0].nodes if n.op is not Op.VIEW] == [
        Op.MUL,
        Op.EXP,
        Op.ADD,
        Op.SQRT,
    ]
    np.testing.assert_allclose(_value(node), np.sqrt(np.exp(a * 2) + 1), rtol=1e-6)


def test_explicit_contiguous_is_materialized():
    """A CONTIGUOUS is written out (its reason is "contiguous") even inside one kernel."""
    a, x = _data()
    node = make(Op.MUL, (make(Op.CONTIGUOUS, (make(Op.EXP, (x,)),)), _c(2.0)))
    part, _ = _partition(node)
    assert sorted(part.materialized.values()) == ["contiguous", "output"]
    stored = next(n for n, why in part.materialized.items() if why == "contiguous")
    assert stored.op is Op.CONTIGUOUS
    np.testing.assert_allclose(_value(node), np.exp(a) * 2, rtol=1e-6)


def test_a_reduce_over_another_space_gets_its_own_region():
    """sum(x + x.sum(0), 1): the inner sum is computed by an earlier region."""
    a = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    x = lg.tensor(a)
    out = (x.sum(0, keepdim=True) + x).sum(1)
    part, regions = _partition(out._node)
    assert _reasons(part, regions) == [["other reduce space"], ["output"]]
    assert [n.op for n in regions[0].nodes] == [Op.SUM]
    np.testing.assert_allclose(out.numpy(), (a.sum(0, keepdims=True) + a).sum(1), rtol=1e-5)


def test_a_contraction_reads_materialized_operands_and_fuses_an_epilogue():
    """exp(x) @ y writes exp(x) out first; (x @ y).relu() is one contraction region."""
    xa = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    ya = np.random.default_rng(1).standard_normal((6, 3)).astype(np.float32)
    x, y = lg.tensor(xa), lg.tensor(ya)
    operand = x.exp() @ y
    part, regions = _partition(operand._node)
    assert _reasons(part, regions) == [["contraction operand"], ["output"]]
    assert [n.op for n in regions[0].nodes] == [Op.EXP] and regions[1].signature[0] == "single"
    epilogue = (x @ y).relu()
    part, regions = _partition(epilogue._node)
    assert len(regions) == 1 and {Op.DOT, Op.MAX} <= {n.op for n in regions[0].nodes}
    np.testing.assert_allclose(operand.numpy(), np.exp(xa) @ ya, rtol=1e-5)
    np.testing.assert_allclose(epilogue.numpy(), np.maximum(xa @ ya, 0), rtol=1e-5, atol=1e-6)


def test_a_reordering_view_of_a_computed_value_materializes_it():
    """(x @ y).T + 1 reads the product across elements: the product is written out first."""
    xa = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    ya = np.random.default_rng(1).standard_normal((6, 3)).astype(np.float32)
    out = (lg.tensor(xa) @ lg.tensor(ya)).T + 1
    part, regions = _partition(out._node)
    assert _reasons(part, regions) == [["view across elements"], ["output"]]
    assert [n.op for n in regions[0].nodes] == [Op.DOT]
    np.testing.assert_allclose(out.numpy(), (xa @ ya).T + 1, rtol=1e-5)


def test_regions_of_one_space_merge_only_when_they_share_work():
    """sum and max of one exp share a region; two unrelated values keep two regions."""
    a, x = _data()
    e = make(Op.EXP, (x,))
    total, peak = make(Op.SUM, (e,), (1,)), make(Op.RMAX, (e,), (1,))
    part, regions = _partition(total, peak)
    assert _reasons(part, regions) == [["output", "output"]]
    assert [n.op for n in regions[0].nodes].count(Op.EXP) == 1
    other = make(Op.SIN, (make(Op.MUL, (x, _c(3.0))),))
    part, regions = _partition(e, other)
    assert _reasons(part, regions) == [["output"], ["output"]]
    np.testing.assert_allclose(_value(total), np.exp(a).sum(1, keepdims=True), rtol=1e-5)
    np.testing.assert_allclose(_value(peak), np.exp(a).max(1, keepdims=True), rtol=1e-6)
    np.testing.assert_allclose(_value(other), np.sin(a * 3), rtol=1e-5, atol=1e-6)


# ---- autodiff ---------------------------------------------------------------------------------
def test_product_rule():
    """d(x*y)/dx = y and d(x*y)/dy = x, each graph reading only the other factor."""
    xa, x = _data()
    ya, y = _data(seed=1)
    gx, gy = gradients([make(Op.MUL, (x, y))], [_c(1.0)], [x, y])
    assert y in toposort([gx]) and x not in toposort([gx])
    assert x in toposort([gy]) and y not in toposort([gy])
    np.testing.assert_allclose(_value(gx), ya)
    np.testing.assert_allclose(_value(gy), xa)


def test_a_leaf_that_does_not_reach_the_outputs_gets_none():
    """A leaf off every path to the outputs (or an integer leaf) has no gradient."""
    _, x = _data()
    _, unused = _data(seed=1)
    counts = lg.tensor(np.arange(12, dtype=np.int32).reshape(3, 4))._node
    out = make(Op.MUL, (x, make(Op.CAST, (counts,), float32)))
    grads = gradients([out], [_c(1.0)], [unused, counts, x])
    assert grads[0] is None and grads[1] is None and grads[2] is not None
    np.testing.assert_array_equal(_value(grads[2]), np.arange(12, dtype=np.float32).reshape(3, 4))


def test_contributions_of_a_reused_node_are_summed():
    """x * x reads x twice: its gradient is the ADD of both contributions, 2x."""
    a, x = _data()
    (g,) = gradients([make(Op.MUL, (x, x))], [_c(1.0)], [x])
    assert g.op is Op.ADD and [c.op for c in g.src] == [Op.MUL, Op.MUL]
    np.testing.assert_allclose(_value(g), 2 * a, rtol=1e-6)


def test_a_broadcast_gradient_is_summed_back_to_the_leaf_shape():
    """The gradient of a (1, 4) leaf expanded to (3, 4) sums over the broadcast axis."""
    _, x = _data()
    _, b = _data((1, 4), seed=1)
    out = make(Op.ADD, (x, make(Op.EXPAND, (b,), (3, 4))))
    seed_a, seed = _data(seed=2)
    (g,) = gradients([out], [seed], [b])
    assert g.shape == (1, 4) and Op.SUM in _ops(g)
    np.testing.assert_allclose(_value(g), seed_a.sum(0, keepdims=True), rtol=1e-6)


def test_only_paths_from_a_leaf_are_differentiated():
    """d(x*y + exp(y))/dx never builds the exp branch's gradient."""
    _, x = _data()
    ya, y = _data(seed=1)
    out = make(Op.ADD, (make(Op.MUL, (x, y)), make(Op.EXP, (y,))))
    (g,) = gradients([out], [_c(1.0)], [x])
    assert Op.EXP not in _ops(g)
    np.testing.assert_allclose(_value(g), ya)


def test_several_outputs_are_weighted_by_their_seeds():
    """d(exp(x)·1 + sin(x)·s)/dx = exp(x) + cos(x)·s, and the new nodes are backward nodes."""
    a, x = _data()
    s, seed = _data(seed=3)
    (g,) = gradients([make(Op.EXP, (x,)), make(Op.SIN, (x,))], [_c(1.0), seed], [x])
    assert g.op is Op.ADD and Op.COS in _ops(g)
    assert g in BACKWARD_NODES and x not in BACKWARD_NODES
    np.testing.assert_allclose(_value(g), np.exp(a) + np.cos(a) * s, rtol=1e-5, atol=1e-6)


# ---- schedule (the pipeline driver: substitution, kernels in dependency order, liveness) ------
def _schedule(*nodes, realized=None):
    return build_schedule(list(nodes), {n: "cpu" for n in nodes}, realized or {})


def test_lower_substitutes_realized_values():
    """A node with a stored value is read from that buffer, its history dropped."""
    a, x = _data()
    stored_a, stored = _data(seed=4)
    e = make(Op.EXP, (x,))
    node = make(Op.MUL, (e, _c(2.0)))
    lowered = lower([node], {e: stored})[node]
    assert stored in toposort([lowered]) and Op.EXP not in _ops(lowered)
    kernels = _schedule(node, realized={e: stored})
    assert len(kernels) == 1 and kernels[0].ops == ["mul"]
    assert kernels[0].input_nodes == [stored]
    np.testing.assert_allclose(_value(lowered), stored_a * 2, rtol=1e-6)
    np.testing.assert_allclose(_value(node), np.exp(a) * 2, rtol=1e-6)


def _three_kernels():
    xa = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    ya = np.random.default_rng(1).standard_normal((6, 3)).astype(np.float32)
    out = (lg.tensor(xa).exp() @ lg.tensor(ya)).T.sum(0)
    return out, (np.exp(xa) @ ya).T.sum(0)


def test_kernels_run_after_the_kernels_they_read():
    """exp, then the contraction reading it, then the sum reading the contraction."""
    out, want = _three_kernels()
    kernels = _schedule(out._node)
    assert [k.kind for k in kernels] == ["elementwise", "dot", "reduce"]
    made: set = set()
    for k in kernels:
        computed = {n for other in kernels for n in other.output_nodes}
        assert all(n in made for n in k.input_nodes if n in computed)
        made.update(k.output_nodes)
    assert kernels.targets[out._node] in kernels[-1].output_nodes
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-5)


def test_dependency_order_does_not_depend_on_the_input_order():
    """Regions given consumers first come back producers first."""
    out, _ = _three_kernels()
    root = lower([out._node], {})[out._node]
    part = Partitioner([root])
    regions = part.partition()
    ordered = dependency_order(list(reversed(regions)), part.position)
    assert [r.roots for r in ordered] == [r.roots for r in regions]
    assert [r.roots[0].op for r in ordered] == [Op.EXP, Op.DOT, Op.VIEW]


def test_each_intermediate_is_released_after_its_last_kernel():
    """exp is dropped after the contraction, the product after the sum; outputs are kept."""
    out, want = _three_kernels()
    kernels = _schedule(out._node)
    exp, dot = kernels[0].output_nodes[0], kernels[1].output_nodes[0]
    assert kernels.releases == [(), (exp,), (dot,)]
    assert kernels[1].donated == (exp,)  # it dies there: the contraction may reuse it
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-5)


def test_kernel_arguments_are_buffers_and_scalars_not_constants():
    """x * 2.5 + 1: one input (x) and the two scalars as arguments, the constant inline."""
    a = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    x = lg.tensor(a)
    out = x * 2.5 + 1
    (kernel,) = _schedule(out._node)
    assert kernel.input_nodes == [x._node]
    assert sorted(n.arg for n in kernel.param_nodes) == [1, 2.5]
    assert kernel.ops == ["mul", "add"]
    np.testing.assert_allclose(out.numpy(), a * 2.5 + 1, rtol=1e-6)


def test_a_realized_target_needs_no_kernel():
    """A target that is a buffer lowers to itself and adds no kernel."""
    a, x = _data()
    kernels = _schedule(x)
    assert len(kernels) == 0 and kernels.targets[x] is x
    np.testing.assert_array_equal(_value(x), a)
