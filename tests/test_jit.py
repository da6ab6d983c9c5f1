"""lg.jit: a recorded call replays exactly (values, in-place updates, gradients) without
running the function's Python again, and a call it cannot replay exactly runs as usual."""

from __future__ import annotations

import gc

import numpy as np
import pytest

import lazygrad as lg


def _mlp(device: str, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    arrays = {
        "x": rng.standard_normal((8, 6), dtype=np.float32),
        "y": rng.integers(0, 3, 8),
        "w1": rng.standard_normal((6, 5), dtype=np.float32),
        "b1": rng.standard_normal(5, dtype=np.float32),
        "w2": rng.standard_normal((5, 3), dtype=np.float32),
    }
    t = {k: lg.tensor(v, device=device) for k, v in arrays.items()}
    for k in ("w1", "b1", "w2"):
        t[k].requires_grad_()
    return t


def _train_step(t: dict, calls: list) -> lg.Tensor:
    calls.append(1)
    params = [t["w1"], t["b1"], t["w2"]]
    h = (t["x"] @ params[0] + params[1]).relu()
    loss = lg.nn.functional.cross_entropy(h @ params[2], t["y"])
    for p in params:
        p.grad = None
    loss.backward()
    with lg.no_grad():
        for p in params:
            p -= 0.1 * p.grad
    return loss


def test_a_replayed_training_step_matches_eager_exactly(device: str) -> None:
    eager, jitted = _mlp(device), _mlp(device)
    calls: list = []
    step = lg.jit(lambda t: _train_step(t, calls))
    for _ in range(4):
        want = _train_step(eager, [])
        got = step(jitted)
        assert got.item() == want.item()
        for k in ("w1", "b1", "w2"):
            assert np.array_equal(jitted[k].detach().numpy(), eager[k].detach().numpy()), k
            assert np.array_equal(jitted[k].grad.numpy(), eager[k].grad.numpy()), k
            assert jitted[k].requires_grad and jitted[k].is_leaf
    assert len(calls) == 1  # the Python ran once; three calls replayed it


def test_replays_read_new_arguments_and_return_no_history() -> None:
    calls: list = []

    @lg.jit
    def f(a: lg.Tensor, b: lg.Tensor) -> tuple:
        calls.append(1)
        return (a * b).sum(), {"diff": a - b}

    a = lg.tensor([1.0, 2.0], requires_grad=True)
    for scale in (1.0, 2.0, 3.0):
        b = lg.tensor([scale, 10.0])
        total, parts = f(a, b)
        assert total.item() == 1.0 * scale + 20.0
        assert parts["diff"].tolist() == [1.0 - scale, -8.0]
        assert total.grad_fn is None and not total.requires_grad
    assert len(calls) == 1


def test_a_new_signature_records_again() -> None:
    calls: list = []
    f = lg.jit(lambda x, k: calls.append(1) or x * k)
    f(lg.ones(3), 2)
    f(lg.ones(3), 2)
    assert len(calls) == 1
    assert f(lg.ones(4), 2).tolist() == [2.0] * 4  # shape
    assert f(lg.ones(3, dtype=lg.float64), 2).dtype == lg.float64  # dtype
    assert f(lg.ones(3), 5).tolist() == [5.0] * 3  # a Python argument's value
    assert len(calls) == 4


def test_an_outside_tensor_is_read_at_each_call() -> None:
    w = lg.tensor([1.0, 2.0])
    calls: list = []
    f = lg.jit(lambda x: calls.append(1) or x * w)
    assert f(lg.ones(2)).tolist() == [1.0, 2.0]
    w.mul_(3).realize()  # changed outside the function, between calls
    assert f(lg.ones(2)).tolist() == [3.0, 6.0]
    w.add_(1)  # changed lazily: the replay realizes it first
    assert f(lg.ones(2)).tolist() == [4.0, 7.0]
    assert len(calls) == 1


def test_an_outside_tensor_that_died_makes_it_record_again() -> None:
    calls: list = []
    holder = {"w": lg.tensor([2.0])}
    f = lg.jit(lambda x: calls.append(1) or x * holder["w"])
    f(lg.ones(1))
    holder["w"] = lg.tensor([5.0])
    gc.collect()
    assert f(lg.ones(1)).tolist() == [5.0]
    assert len(calls) == 2


def test_in_place_updates_of_arguments_replay_onto_the_new_arguments() -> None:
    f = lg.jit(lambda x: x.add_(1))
    first, second = lg.zeros(2), lg.full((2,), 10.0)
    assert f(first) is first  # a tensor from before the call is returned as itself
    assert f(second) is second
    assert first.tolist() == [1.0, 1.0] and second.tolist() == [11.0, 11.0]


def test_python_numbers_are_those_of_the_first_call() -> None:
    """As with torch.jit.trace: a Python value the function reads is recorded."""
    scale = [2.0]
    f = lg.jit(lambda x: x * scale[0])
    assert f(lg.ones(1)).tolist() == [2.0]
    scale[0] = 3.0
    assert f(lg.ones(1)).tolist() == [2.0]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (lambda x, seen: x * float(x.sum().item()), [2.0, 2.0]),  # a value read on the host
        (lambda x, seen: x + lg.tensor([1.0, 2.0]), [2.0, 3.0]),  # data built from Python
        (lambda x, seen: seen.append(x * 2) or x, [1.0, 1.0]),  # keeps a tensor it made
        (lambda x, seen: x + lg.rand(2) * 0, [1.0, 1.0]),  # random numbers: new ones each call
    ],
    ids=["host read", "python data", "kept tensor", "random"],
)
def test_what_cannot_be_replayed_runs_as_usual(body, expected: list) -> None:
    calls: list = []
    seen: list = []
    f = lg.jit(lambda x: calls.append(1) or body(x, seen))
    for _ in range(3):
        out = f(lg.ones(2))
        assert out.tolist() == expected and out.grad_fn is None
    assert len(calls) == 3


def test_random_numbers_are_new_at_each_call() -> None:
    f = lg.jit(lambda x: x + lg.rand(1000))
    assert not np.array_equal(f(lg.zeros(1000)).numpy(), f(lg.zeros(1000)).numpy())


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_an_optimizer_step_runs_as_usual(momentum: float) -> None:
    """An optimizer keeps state it makes at each step (momentum) and reads its learning
    rate anew each step (a scheduler may change it): replaying would freeze both, so a
    call that steps one runs as usual, and matches eager SGD."""
    ref = lg.tensor([1.0, -2.0], requires_grad=True)
    jitted = lg.tensor([1.0, -2.0], requires_grad=True)
    opt_ref = lg.optim.SGD([ref], lr=0.1, momentum=momentum)
    opt = lg.optim.SGD([jitted], lr=0.1, momentum=momentum)
    calls: list = []

    @lg.jit
    def step() -> None:
        calls.append(1)
        opt.zero_grad()
        (jitted**2).sum().backward()
        opt.step()

    for lr in (0.1, 0.1, 0.05):
        for o in (opt_ref, opt):
            o.param_groups[0]["lr"] = lr
        opt_ref.zero_grad()
        (ref**2).sum().backward()
        opt_ref.step()
        step()
        assert np.array_equal(jitted.detach().numpy(), ref.detach().numpy())
    assert len(calls) == 3


# Each returns a function and its arguments for one reason a call is not replayed.
def _reads_on_the_host() -> tuple:
    return (lambda x: x * x.sum().item()), [lg.ones(2)]


def _checks_values() -> tuple:
    return (lambda a, b: a // b), [lg.tensor([4, 4]), lg.tensor([2, 1])]


def _returns_an_array() -> tuple:
    return (lambda x: (x * 2, np.zeros(1))), [lg.ones(2)]


def _returns_a_view() -> tuple:
    return (lambda x: x[0]), [lg.ones(2, 2)]


def _updates_with_history() -> tuple:
    w = lg.zeros(2)
    return (lambda x: w.mul_(x) is None), [lg.ones(2, requires_grad=True)]


def _updates_a_base_of_views() -> tuple:
    base = lg.zeros(2, 3)
    row = base[1]  # a view that outlives the call

    def add(v: lg.Tensor) -> lg.Tensor:
        base.add_(v)
        return row.sum()

    return add, [lg.ones(2, 3)]


def _sets_a_gradient_with_history() -> tuple:
    p = lg.zeros(2, requires_grad=True).realize()
    return (lambda x: setattr(p, "grad", x * 2)), [lg.ones(2, requires_grad=True)]


def _updates_a_gradient_it_read() -> tuple:
    q = lg.zeros(2, requires_grad=True).realize()
    q.grad = lg.ones(2).realize()
    return (lambda: q.grad.mul_(0.5) is None), []


def _returns_a_gradient_reached_otherwise() -> tuple:
    r = lg.zeros(2, requires_grad=True).realize()
    g = lg.ones(2).realize()
    r.grad = g
    return (lambda: [r.grad, g][0]), []


def _reads_python_data() -> tuple:
    return (lambda x: x + lg.tensor([1.0, 2.0])), [lg.ones(2)]


def _draws_random_numbers() -> tuple:
    return (lambda x: x + lg.rand(2)), [lg.ones(2)]


def _keeps_a_tensor() -> tuple:
    kept: list = []
    return (lambda x: kept.append(x * 2) or x), [lg.ones(2)]


def _keeps_a_gradient_it_set() -> tuple:
    s = lg.tensor([1.0, 2.0], requires_grad=True)
    kept: list = []
    return (lambda x: (s * x).sum().backward() or kept.append(s.grad)), [lg.ones(2)]


def _reads_a_lazy_outside_tensor() -> tuple:
    lazy = lg.ones(2) * 3
    return (lambda x: x + lazy), [lg.ones(2)]


def _gets_an_argument_with_history() -> tuple:
    return (lambda x: x * 2), [lg.ones(2, requires_grad=True) * 3]


def _gets_a_view() -> tuple:
    return (lambda x: x * 2), [lg.ones(2, 2)[0]]


_FALLBACKS = [
    (_reads_on_the_host, "runs as usual: a value was read on the host"),
    (_checks_values, "runs as usual: an op checked the values of a tensor"),
    (_returns_an_array, "runs as usual: it returns a ndarray"),
    (_returns_a_view, "runs as usual: it returns a view"),
    (_updates_with_history, "runs as usual: it updates a tensor that has autograd history"),
    (_updates_a_base_of_views, "runs as usual: it updates a tensor that is a view or has"),
    (_sets_a_gradient_with_history, "runs as usual: it sets a gradient that has autograd"),
    (_updates_a_gradient_it_read, "runs as usual: it uses a gradient it read as a tensor"),
    (_returns_a_gradient_reached_otherwise, "runs as usual: it uses a gradient it can also"),
    (_reads_python_data, "runs as usual: it reads a tensor made inside the call from Python"),
    (_draws_random_numbers, "runs as usual: it draws random numbers"),
    (_keeps_a_tensor, "runs as usual: it keeps a tensor it made"),
    (_keeps_a_gradient_it_set, "runs as usual: it keeps a tensor it made"),
    (_reads_a_lazy_outside_tensor, "records again at the next call: it read lazy tensors"),
    (_gets_an_argument_with_history, "for this call: an argument has autograd history"),
    (_gets_a_view, "runs as usual for this call: an argument is a view or has views"),
]


@pytest.mark.parametrize(
    ("case", "said"), _FALLBACKS, ids=[case.__name__.strip("_") for case, _ in _FALLBACKS]
)
def test_the_debug_log_says_why_a_call_runs_as_usual(
    case, said: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    fn, args = case()
    monkeypatch.setenv("LAZYGRAD_DEBUG", "1")
    lg.jit(fn)(*args)
    said_lines = [line for line in capsys.readouterr().err.splitlines() if " jit: " in line]
    assert len(said_lines) == 1 and said_lines[0].startswith(f"[lazygrad] jit: {fn.__name__} ")
    assert said in said_lines[0]


def test_the_debug_log_is_silent_about_calls_that_replay(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("LAZYGRAD_DEBUG", "1")
    f = lg.jit(lambda x: x * 2)
    for _ in range(3):
        f(lg.ones(2))
    assert " jit: " not in capsys.readouterr().err


def test_a_second_recording_that_fails_again_runs_as_usual_for_good(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """A call that realized lazy outside tensors gets one more recording; when that one
    meets lazy tensors again, the signature runs as usual (and says so once)."""
    holder = {"w": lg.ones(2) * 3}
    calls: list = []

    @lg.jit
    def add(x: lg.Tensor) -> lg.Tensor:
        calls.append(1)
        return x + holder["w"]

    monkeypatch.setenv("LAZYGRAD_DEBUG", "1")
    for k in (3.0, 4.0, 5.0):
        holder["w"] = lg.ones(2) * k  # lazy at each call
        assert add(lg.ones(2)).tolist() == [k + 1] * 2
    said = [line for line in capsys.readouterr().err.splitlines() if " jit: " in line]
    why = "it read lazy tensors from outside its arguments"
    assert said == [
        f"[lazygrad] jit: add records again at the next call: {why}",
        f"[lazygrad] jit: add runs as usual: {why}",
    ]
    assert len(calls) == 3


def test_a_jit_inside_another_is_part_of_its_recording() -> None:
    calls: list = []
    inner = lg.jit(lambda x: calls.append("inner") or x + 1)
    outer = lg.jit(lambda x: calls.append("outer") or inner(x) * 2)
    for _ in range(3):
        assert outer(lg.ones(2)).tolist() == [4.0, 4.0]
    assert calls == ["outer", "inner"]


def test_the_training_step_fuses_each_update_into_its_gradient_kernel() -> None:
    """Gradients and updated weights are both results of a recorded step: the kernel that
    computes a weight's gradient also writes the updated weight."""
    t = _mlp("cpu")
    step = lg.jit(lambda t: _train_step(t, []))
    step(t)
    plan = next(p for p in step.plans.values() if hasattr(p, "replay"))
    kernels = plan.entry.schedule.kernels
    fused = [k for k in kernels if k.ops[-2:] == ["sub", "contiguous"]]
    assert len(fused) == 3
    assert all(k.kind in ("dot", "reduce") and len(k.output_nodes) == 2 for k in fused)


def test_a_module_training_step_replays_like_eager(device: str) -> None:
    def make() -> lg.nn.Module:
        lg.manual_seed(3)
        return lg.nn.Sequential(lg.nn.Linear(4, 8), lg.nn.ReLU(), lg.nn.Linear(8, 2)).to(device)

    eager, model = make(), make()
    calls: list = []

    def train(net: lg.nn.Module, x: lg.Tensor, y: lg.Tensor) -> lg.Tensor:
        calls.append(1)
        net.zero_grad()
        loss = lg.nn.functional.mse_loss(net(x), y)
        loss.backward()
        with lg.no_grad():
            for p in net.parameters():
                p -= 0.05 * p.grad
        return loss

    step = lg.jit(lambda x, y: train(model, x, y))
    rng = np.random.default_rng(7)
    for _ in range(4):
        x = lg.tensor(rng.standard_normal((6, 4), dtype=np.float32), device=device)
        y = lg.tensor(rng.standard_normal((6, 2), dtype=np.float32), device=device)
        assert step(x, y).item() == train(eager, x, y).item()
    for p, q in zip(model.parameters(), eager.parameters(), strict=True):
        assert np.array_equal(p.detach().numpy(), q.detach().numpy())
    # eager's Python ran four times, the jitted one's twice: at the first call the new
    # model's weights were still lazy (their random init), so the second call recorded
    assert len(calls) == 4 + 2


def test_tensors_tied_by_views_keep_eager_semantics() -> None:
    """Updating a tensor that has views, or a view, reaches other tensors outside the
    graph: such calls run as usual, and views made after recording stop replays."""
    base = lg.zeros(2, 3)
    row = base[1]  # a view that outlives the calls
    f = lg.jit(lambda v: base.add_(v) is None)
    for k in range(1, 4):
        f(lg.full((2, 3), float(k)))
        assert row.tolist() == [k * (k + 1) / 2] * 3
    g = lg.jit(lambda v: row.mul_(v) is None)  # writing through the view updates its base
    g(lg.full((3,), 2.0))
    g(lg.full((3,), 2.0))
    assert base.tolist() == [[6.0] * 3, [24.0] * 3]
    w = lg.zeros(2, 3)
    upd = lg.jit(lambda x: w.add_(x) is None)
    upd(lg.ones(3))
    upd(lg.ones(3))
    v = w[1]  # made after recording
    upd(lg.ones(3))
    assert v.tolist() == [3.0] * 3
    h = lg.jit(lambda x: x.add_(1) is None)
    for _ in range(2):
        h(lg.zeros(4))
    r = lg.zeros(2, 4)
    h(r[0])  # an argument that is a view
    assert r.tolist() == [[1.0] * 4, [0.0] * 4]


def test_returned_views_and_repeated_tensors_keep_their_ties() -> None:
    x = lg.zeros(2, 2)
    first = lg.jit(lambda t: t[0])
    for _ in range(2):
        y = first(x)
        y.add_(10)  # a view of x: x changes
    assert x.tolist() == [[20.0, 20.0], [0.0, 0.0]]
    twice = lg.jit(lambda t: (t * 2, None))
    pair = lg.jit(lambda t: (lambda y: (y, y))(t * 2))
    for _ in range(2):
        a, b = pair(lg.ones(2))
        assert a is b
    assert twice(lg.ones(1))[1] is None


def test_a_function_returning_none_runs_once_per_call() -> None:
    @lg.jit
    def step(x: lg.Tensor) -> None:
        x.add_(3)

    for v in (0.0, 10.0):
        a = lg.tensor([v])
        step(a)
        assert a.tolist() == [v + 3]


def test_gradients_accumulated_across_calls_match_eager() -> None:
    w_eager = lg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    w = lg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    f = lg.jit(lambda x: (w * x).sum().backward())
    for i in range(4):
        (w_eager * lg.ones(3) * (i + 1)).sum().backward()
        f(lg.ones(3) * (i + 1))
        assert w.grad.tolist() == w_eager.grad.tolist()
    w.grad = None
    w_eager.grad = None
    for _ in range(2):
        (w_eager * lg.ones(3)).sum().backward()
        f(lg.ones(3))
        assert w.grad.tolist() == w_eager.grad.tolist()


def test_reading_an_arguments_gradient_reads_that_arguments() -> None:
    def sgd(p: lg.Tensor) -> None:
        with lg.no_grad():
            p -= 0.5 * p.grad

    g = lg.jit(sgd)
    w1 = lg.tensor([1.0, 1.0], requires_grad=True)
    w1.grad = lg.tensor([1.0, 1.0])
    w2 = lg.tensor([1.0, 1.0], requires_grad=True)
    w2.grad = lg.tensor([4.0, 4.0])
    g(w1)
    g(w1)
    g(w2)
    assert w1.tolist() == [0.0, 0.0] and w2.tolist() == [-1.0, -1.0]


def test_arguments_with_autograd_history_run_as_usual() -> None:
    f = lg.jit(lambda y: y.sum().backward())
    w1 = lg.tensor([1.0, 2.0], requires_grad=True)
    w2 = lg.tensor([1.0, 2.0], requires_grad=True)
    f(w1 * 3)
    f(w1 * 3)
    f(w2 * 5)
    assert w1.grad.tolist() == [6.0, 6.0] and w2.grad.tolist() == [5.0, 5.0]


def test_an_argument_that_is_a_tensor_the_call_updates_otherwise() -> None:
    w = lg.tensor([1.0, 2.0])

    def f(x: lg.Tensor) -> lg.Tensor:
        w.add_(1)
        return x * 2

    g = lg.jit(f)
    other = lg.tensor([5.0, 5.0])
    assert g(other).tolist() == [10.0, 10.0]
    assert g(other).tolist() == [10.0, 10.0]
    assert g(w).tolist() == [8.0, 10.0]  # x is w, read after the update
    assert g(other).tolist() == [10.0, 10.0] and w.tolist() == [5.0, 6.0]


def test_signed_zeros_and_value_checks() -> None:
    g = lg.jit(lambda x, s: x / s)
    x = lg.tensor([1.0])
    g(x, 0.0)
    assert g(x, 0.0).tolist() == [float("inf")]
    assert g(x, -0.0).tolist() == [float("-inf")]
    div = lg.jit(lambda a, b: a // b)
    a = lg.tensor([4, 4])
    assert div(a, lg.tensor([2, 1])).tolist() == [2, 4]
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        div(a, lg.tensor([0, 1]))


def test_arguments_in_named_tuples_and_dicts_are_found() -> None:
    from collections import OrderedDict, namedtuple

    Pair = namedtuple("Pair", "a b")
    calls: list = []
    f = lg.jit(lambda p, d: calls.append(1) or p.a * p.b + d["c"])
    for k in (1.0, 2.0, 4.0):
        out = f(Pair(lg.full((2,), k), lg.full((2,), 3.0)), OrderedDict(c=lg.ones(2)))
        assert out.tolist() == [3 * k + 1] * 2
    # at the first call a and c were one buffer (equal constants are one node), later not:
    # arguments that share a buffer are a signature of their own
    assert len(calls) == 2


def test_tensors_sharing_a_buffer_when_recorded_are_told_apart_later() -> None:
    a = lg.tensor([1.0, 2.0])
    b = a.detach()  # one buffer, two tensors: which one a call reads is not in its graph
    f = lg.jit(lambda x: x * b)
    assert f(a).tolist() == [1.0, 4.0]
    a.mul_(10).realize()  # now they differ: the call reads b, its argument is a
    assert f(a).tolist() == [10.0, 40.0]
    g = lg.jit(lambda x: x + a)
    assert g(lg.ones(2)).tolist() == [11.0, 21.0]
    assert g(lg.ones(2)).tolist() == [11.0, 21.0]


def test_a_value_computed_before_the_call_is_not_frozen_into_replays() -> None:
    """A realized tensor with autograd history keeps its node; a call that builds the same
    expression finds it realized. Replays must compute it from the new weights."""

    def run(use_jit: bool) -> list:
        rng = np.random.default_rng(0)
        w = lg.tensor(rng.standard_normal((3, 1)).astype(np.float32), requires_grad=True)
        x = lg.tensor(rng.standard_normal((8, 3)).astype(np.float32))
        y = lg.tensor(rng.standard_normal((8, 1)).astype(np.float32))
        pred = x @ w
        pred.realize()  # printed once before training, say

        def step(x: lg.Tensor, y: lg.Tensor) -> lg.Tensor:
            w.grad = None
            loss = ((x @ w - y) ** 2).mean()
            loss.backward()
            with lg.no_grad():
                w.sub_(0.1 * w.grad)
            return loss

        s = lg.jit(step) if use_jit else step
        return [s(x, y).item() for _ in range(5)]

    assert run(True) == run(False)


def test_an_argument_the_function_also_reaches_as_a_closure() -> None:
    w = lg.tensor([1.0, 2.0])
    f = lg.jit(lambda x: x + w * 10)
    f(w)
    assert f(lg.tensor([100.0, 200.0])).tolist() == [110.0, 220.0]
    g = lg.jit(lambda x: w)
    g(w)
    assert g(lg.tensor([7.0, 7.0])).tolist() == [1.0, 2.0]


def test_gradients_used_as_tensors_keep_their_identity() -> None:
    p = lg.zeros(3, requires_grad=True).realize()
    a, b = lg.ones(3).realize(), (lg.ones(3) * 2).realize()
    f = lg.jit(lambda: p.grad)
    p.grad = a
    f()
    p.grad = b
    assert f().tolist() == [2.0] * 3
    q = lg.zeros(3, requires_grad=True).realize()
    a, b = lg.ones(3).realize(), (lg.ones(3) * 2).realize()

    @lg.jit
    def halve() -> None:
        q.grad.mul_(0.5)

    q.grad = a
    halve()
    q.grad = b
    halve()
    assert a.tolist() == [0.5] * 3 and b.tolist() == [1.0] * 3
    s = lg.tensor([0.0, 0.0], requires_grad=True)
    g1, g2 = lg.tensor([1.0, 2.0]), lg.tensor([10.0, 20.0])

    @lg.jit
    def scale(x: lg.Tensor) -> lg.Tensor:
        _ = s.grad is not None
        return g1 * x

    s.grad = g1
    scale(lg.ones(2))
    s.grad = g2
    assert scale(lg.ones(2)).tolist() == [1.0, 2.0]


def test_a_gradient_set_to_a_tensor_is_that_tensor() -> None:
    p = lg.zeros(3, requires_grad=True).realize()
    f = lg.jit(lambda x: setattr(p, "grad", x))
    for i in range(3):
        x = (lg.ones(3) * i).realize()
        f(x)
        assert p.grad is x
    w = lg.tensor([1.0, 2.0], requires_grad=True)
    g = lg.jit(lambda x: (w * x).sum().backward() or w.grad)
    for _ in range(3):
        w.grad = None
        out = g(lg.ones(2))
        assert out is w.grad


def test_a_lazy_gradient_at_a_replay_is_computed_first() -> None:
    w = lg.tensor([1.0, 2.0], requires_grad=True)

    @lg.jit
    def update() -> None:
        with lg.no_grad():
            w.sub_(0.1 * w.grad)

    expected = np.array([1.0, 2.0], np.float32)
    for i in range(3):
        w.grad = None
        (w * lg.tensor([1.0, 3.0])).sum().backward()
        if i == 0:
            w.grad.realize()
        update()
        expected -= np.float32(0.1) * np.array([1.0, 3.0], np.float32)
        np.testing.assert_allclose(w.detach().numpy(), expected, rtol=1e-6)


def test_numpy_signed_zeros_are_two_signatures() -> None:
    g = lg.jit(lambda x, s: x * s)
    x = lg.tensor([1.0])
    g(x, np.float32(0.0))
    assert str(g(x, np.float32(-0.0)).tolist()) == "[-0.0]"


def test_more_ties_the_fuzzer_found() -> None:
    """Reduced from a differential fuzzer (jitted vs plain calls on twin states)."""
    p = lg.zeros(2, requires_grad=True).realize()
    q = lg.ones(2, requires_grad=True).realize()
    a, b = lg.tensor([1.0, 1.0]), lg.tensor([2.0, 2.0])

    @lg.jit
    def take() -> None:
        p.grad = q.grad

    q.grad = a
    take()
    q.grad = b
    take()
    assert p.grad is b  # q's gradient at each call

    def add_then_read(x: lg.Tensor, y: lg.Tensor) -> lg.Tensor:
        x.add_(1)
        return y * 2

    f = lg.jit(add_then_read)
    z1, z2 = lg.zeros(2), lg.zeros(2)  # equal constants: two tensors, one buffer
    assert f(z1, z2).tolist() == [0.0, 0.0]
    assert f(z1, z1).tolist() == [4.0, 4.0]  # one tensor twice is another signature

    w = lg.zeros(2)
    zero = lg.jit(lambda: w.zero_())
    for _ in range(3):  # a write that leaves the node as it was is still a write
        zero()
        assert w.tolist() == [0.0, 0.0]
        w.add_(1)

    a = lg.tensor([1.0, 2.0])
    s = a * 2  # lazy, from outside
    v = lg.tensor([0.0, 0.0])
    copy = lg.jit(lambda: v.copy_(s) is None)
    for _ in range(3):
        copy()
        assert v.tolist() == [2.0, 4.0]
        a.add_(1)  # s keeps the value it has


def test_a_gradient_is_a_constant_to_later_graphs() -> None:
    p = lg.tensor([1.0, 3.0], requires_grad=True)
    (p * p).sum().backward()  # p.grad = 2p, lazy
    (p * p.grad).sum().backward()  # p.grad is a constant here: adds [2, 6]
    assert p.grad.tolist() == [4.0, 12.0]  # as in PyTorch


def test_a_gradient_read_then_replaced_is_returned_as_it_was() -> None:
    p = lg.zeros(2, requires_grad=True).realize()

    def swap(x: lg.Tensor) -> lg.Tensor:
        old = p.grad
        p.grad = x.detach()
        return old

    f = lg.jit(swap)
    for i in range(4):
        g = lg.full((2,), float(i))
        p.grad = g
        assert f(lg.ones(2)) is g
        assert p.grad.tolist() == [1.0, 1.0]


def test_a_lazy_accumulated_gradient_read_at_a_replay() -> None:
    p = lg.tensor([1.0, 2.0], requires_grad=True)
    y = lg.zeros(2)
    f = lg.jit(lambda: y.copy_(p.grad) is None)
    for i in range(3):
        (p * (i + 1)).sum().backward()  # accumulates: p.grad is a lazy sum after the first
        f()
        assert y.tolist() == [sum(range(1, i + 2))] * 2
