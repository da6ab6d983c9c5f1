"""`backward()` and `lg.autograd.grad`: the user side of the autodiff pass.

Gradients are lazy tensors whose graph the autodiff pass derived from the
forward graph; reading `.grad` realizes it, and realizing several gradients (or
an optimizer update that reads them) together fuses them into one schedule.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence

from ..autograd_state import NO_GRAD, GradFn, enable_grad, is_grad_enabled, no_grad
from ..engine.realize import updated
from ..ir.node import Node, const, make
from ..ir.ops import Op
from ..ir.passes import grad_rules
from ..ir.passes.autodiff import gradients
from ..tensor import Tensor

__all__ = [
    "Function",
    "FunctionCtx",
    "backward",
    "grad",
    "no_grad",
    "enable_grad",
    "is_grad_enabled",
]

# grad_fn names whose PyTorch nodes keep no tensors alive, so a second backward through
# them works without retain_graph (as in PyTorch).
_SAVES_NOTHING = {
    "AddBackward0",
    "SubBackward0",
    "RsubBackward1",
    "NegBackward0",
    "SumBackward0",
    "SumBackward1",
    "MeanBackward0",
    "MeanBackward1",
    "ViewBackward0",
    "ExpandBackward0",
    "PermuteBackward0",
    "TransposeBackward0",
    "CloneBackward0",
    "SliceBackward0",
    "SelectBackward0",
    "CatBackward0",
    "StackBackward0",
    "FlipBackward0",
    "ToCopyBackward0",
    "AliasBackward0",
    "ConstantPadNdBackward0",
}
_FREED_MESSAGE = (
    "Trying to backward through the graph a second time (or directly access saved tensors "
    "after they have already been freed). Saved intermediate values of the graph are freed "
    "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
    "backward through the graph a second time or if you need to access saved tensors after "
    "calling backward."
)


def _graph_functions(roots: Sequence[Tensor]) -> tuple[list[GradFn], list[Tensor]]:
    """The grad_fns behind `roots` and the leaves requiring grad they reach (iteratively)."""
    functions: list[GradFn] = []
    leaves: dict[int, Tensor] = {}
    seen: set[int] = set()
    stack: list = [t.grad_fn if t.grad_fn is not None else t for t in roots]
    while stack:
        item = stack.pop()
        if item is None or item is NO_GRAD or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, GradFn):
            functions.append(item)
            stack.extend(item._edges)
        elif item.requires_grad:
            leaves[id(item)] = item
    return functions, list(leaves.values())


def _saves_tensors(fn: GradFn) -> bool:
    if fn.name() in _SAVES_NOTHING:
        return False
    if fn.name() in ("MulBackward0", "DivBackward0"):
        return all(e is not None for e in fn._edges)
    return True


def _check_not_freed(functions: list[GradFn]) -> None:
    if any(fn.freed and _saves_tensors(fn) for fn in functions):
        raise RuntimeError(_FREED_MESSAGE)


def _seed(output: Tensor, grad_output: Tensor | None) -> Node:
    if grad_output is None:
        if output.numel() != 1:
            raise RuntimeError("grad can be implicitly created only for scalar outputs")
        return const(1, output.dtype, output._node.shape)
    if not isinstance(grad_output, Tensor):
        raise TypeError(f"gradient must be a Tensor, got {type(grad_output).__name__}")
    if grad_output.shape != output.shape:
        raise RuntimeError(
            f"Mismatch in shape: grad_output[0] has a shape of "
            f"{grad_output.shape} and output[0] has a shape of {output.shape}."
        )
    return grad_output._cast_node(output.dtype)


def _derive(
    outputs: Sequence[Tensor],
    grad_outputs: Sequence[Tensor | None],
    inputs: Sequence[Tensor],
    retain_graph: bool | None,
    create_graph: bool,
) -> list[Tensor | None]:
    for out in outputs:
        if not out.requires_grad:
            raise RuntimeError(
                "element 0 of tensors does not require grad and does not have a grad_fn"
            )
    functions, _ = _graph_functions(outputs)
    _check_not_freed(functions)
    seeds = [_seed(o, g) for o, g in zip(outputs, grad_outputs, strict=True)]
    wrt: list[Node] = []
    owner: list[int] = []
    for i, t in enumerate(inputs):
        nodes = t._leaf_nodes() if t.is_leaf else [t._node]
        wrt += nodes
        owner += [i] * len(nodes)
    raw = gradients([o._node for o in outputs], seeds, wrt, _inner_hooks())
    per_input: list[Node | None] = [None] * len(inputs)
    for i, g in zip(owner, raw, strict=True):
        if g is not None:
            per_input[i] = g if per_input[i] is None else make(Op.ADD, (per_input[i], g))
    if not (create_graph if retain_graph is None else retain_graph):
        for fn in functions:
            fn.freed = True
    result: list[Tensor | None] = []
    for t, g in zip(inputs, per_input, strict=True):
        if g is None:
            result.append(None)
            continue
        if not create_graph:  # a constant to any later graph: `p * p.grad` does not
            g = make(Op.DETACH, (g,))  # differentiate through the gradient's own graph
        g_tensor = Tensor._wrap(g, t.device, requires_grad=create_graph)
        if create_graph:
            g_tensor.grad_fn = GradFn("MulBackward0", tuple(_graph_functions(outputs)[1]))
        result.append(_run_hooks(t, g_tensor) if t.is_leaf else g_tensor)
    return result


# ---- tensor hooks ------------------------------------------------------------------------
Hook = Callable[[Tensor], "Tensor | None"]


class _ByTensor:
    """Per-tensor records, by identity (a tensor's `==` is elementwise), kept as long as
    the tensor lives."""

    def __init__(self) -> None:
        self._entries: dict[int, tuple[weakref.ref[Tensor], list[Hook], bool]] = {}

    def entry(self, t: Tensor) -> tuple[list[Hook], bool]:
        found = self._entries.get(id(t))
        if found is None or found[0]() is not t:
            key = id(t)
            ref = weakref.ref(t, lambda _: self._entries.pop(key, None))
            found = self._entries[key] = (ref, [], False)
        return found[1], found[2]

    def retain(self, t: Tensor) -> None:
        hooks, _ = self.entry(t)
        self._entries[id(t)] = (self._entries[id(t)][0], hooks, True)

    def hooks_of(self, t: Tensor) -> list[Hook]:
        found = self._entries.get(id(t))
        return found[1] if found is not None and found[0]() is t else []

    def items(self) -> list[tuple[Tensor, bool]]:
        alive = ((ref(), retained) for ref, _, retained in list(self._entries.values()))
        return [(t, retained) for t, retained in alive if t is not None]


_hooked = _ByTensor()  # hooks per tensor, and which non-leaves keep `.grad`


class RemovableHandle:
    """What `register_hook` returns: `remove()` takes the hook away."""

    def __init__(self, hooks: list, hook: Callable) -> None:
        self._hooks, self._hook = hooks, hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


def register_hook(t: Tensor, hook: Callable[[Tensor], Tensor | None]) -> RemovableHandle:
    """Call `hook(grad)` whenever the gradient of `t` is computed; a tensor it returns
    replaces the gradient (for a leaf: before it is accumulated into `.grad`)."""
    if not t.requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    hooks, _ = _hooked.entry(t)
    hooks.append(hook)
    return RemovableHandle(hooks, hook)


def retain_grad(t: Tensor) -> None:
    """Keep this non-leaf tensor's gradient in `.grad` at the next backward (a no-op for
    leaves, which keep theirs anyway)."""
    if not t.requires_grad:
        raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
    if not t.is_leaf:
        _hooked.retain(t)


def _run_hooks(t: Tensor, grad: Tensor) -> Tensor:
    for hook in list(_hooked.hooks_of(t)):
        replaced = hook(grad)
        if replaced is not None:
            grad = replaced
    return grad


def _inner_hooks() -> dict[Node, Callable[[Node], Node]]:
    """The hooks of non-leaf tensors, and the recording of retained gradients, by node."""
    hooked: dict[Node, Callable[[Node], Node]] = {}
    for t, retained in _hooked.items():
        if t.is_leaf:
            continue

        def apply(g: Node, t: Tensor = t, retained: bool = retained) -> Node:
            grad = _run_hooks(t, Tensor._wrap(g, t.device))
            if retained:
                t._grad = Tensor._wrap(make(Op.DETACH, (grad._node,)), t.device)
            return grad._node

        hooked[t._node] = apply
    return hooked


def backward(
    tensor: Tensor,
    gradient: Tensor | None = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
) -> None:
    """Accumulate the gradient of `tensor` into `.grad` of every leaf it depends on."""
    if not tensor.requires_grad:
        raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
    _, leaves = _graph_functions([tensor])
    with enable_grad() if create_graph else no_grad():
        grads = _derive([tensor], [gradient], leaves, retain_graph, create_graph)
    for leaf, g in zip(leaves, grads, strict=True):
        if g is None:
            continue
        if leaf.grad is None:
            leaf.grad = g
        else:
            total = make(Op.ADD, (leaf.grad._node, g._node))
            leaf.grad = Tensor._wrap(total, leaf.device, requires_grad=create_graph)
            updated(leaf.grad)
    for callback in list(_after_backward):
        method = callback()
        if method is None:
            _after_backward.remove(callback)
        else:
            method(leaves)


# Bound methods called with the leaves after each `backward()` has accumulated their
# gradients (weakly: DistributedDataParallel averages its parameters' gradients here).
_after_backward: list[weakref.WeakMethod] = []


def after_backward(method: Callable[[list[Tensor]], None]) -> None:
    """Call the bound `method(leaves)` after every `backward()`, while its object lives."""
    _after_backward.append(weakref.WeakMethod(method))  # type: ignore[arg-type]


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Tensor | Sequence[Tensor | None] | None = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Tensor | None, ...]:
    """Gradients of `outputs` with respect to `inputs`, without touching `.grad`."""
    outs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    ins = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None:
        gouts: list[Tensor | None] = [None] * len(outs)
    elif isinstance(grad_outputs, Tensor):
        gouts = [grad_outputs]
    else:
        gouts = list(grad_outputs)
    for t in ins:
        if not t.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    result = _derive(outs, gouts, ins, retain_graph, create_graph)
    if not allow_unused and any(g is None for g in result):
        raise RuntimeError(
            "One of the differentiated Tensors appears to not have been used in "
            "the graph. Set allow_unused=True if this is the desired behavior."
        )
    return tuple(result)


# ---- custom functions ------------------------------------------------------------------------
class FunctionCtx:
    """The `ctx` a custom Function's forward and backward share."""

    def __init__(self, needs_input_grad: tuple[bool, ...]) -> None:
        self.needs_input_grad = needs_input_grad
        self._saved: tuple[Tensor | None, ...] = ()
        self._non_differentiable: set[int] = set()

    def save_for_backward(self, *tensors: Tensor | None) -> None:
        """Keep tensors for backward (read them back as `saved_tensors`)."""
        self._saved = tensors

    @property
    def saved_tensors(self) -> tuple[Tensor | None, ...]:
        return self._saved

    def mark_non_differentiable(self, *outputs: Tensor) -> None:
        """Outputs that get no gradient (indices, masks): they do not require grad."""
        self._non_differentiable.update(id(t) for t in outputs)


class _Identity:
    """Gives a custom Function's output a node of its own (hashable by identity): its
    backward must not be taken for an equal graph computed elsewhere."""

    __slots__ = ("__weakref__",)

    def __repr__(self) -> str:
        return "function"


class Function:
    """A differentiable op with a hand-written backward, as `torch.autograd.Function`:
    subclass with static `forward(ctx, *args)` and `backward(ctx, *grad_outputs)` and call
    `apply`. The forward records lazy ops as usual (without autograd); the backward is
    called while the backward graph is derived, so what it computes is lazy IR too and
    fuses with the ops around it. The forward must compute its outputs from its inputs
    with lazygrad ops (a path through `.numpy()` hides the inputs from autograd)."""

    @staticmethod
    def forward(ctx: FunctionCtx, *args: object, **kwargs: object) -> object:
        raise NotImplementedError(
            "You must implement the forward function for custom autograd.Function."
        )

    @staticmethod
    def backward(ctx: FunctionCtx, *grad_outputs: Tensor) -> object:
        raise NotImplementedError(
            "You must implement either the backward or vjp method for your custom "
            "autograd.Function to use it with backward mode AD."
        )

    @classmethod
    def apply(cls, *args: object) -> object:
        """Run forward on `args`; outputs that need it get this function's backward."""
        needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        ctx = FunctionCtx(needs)
        with no_grad():
            result = cls.forward(ctx, *args)
        many = isinstance(result, tuple)
        outputs = result if many else (result,)
        if not (any(needs) and is_grad_enabled()):
            return result
        inputs = [a for a in args if isinstance(a, Tensor)]
        wrapped = tuple(
            _differentiable(cls, ctx, args, inputs, outputs, i)
            if isinstance(out, Tensor) and id(out) not in ctx._non_differentiable
            else out
            for i, out in enumerate(outputs)
        )
        return wrapped if many else wrapped[0]


def _differentiable(
    cls: type[Function],
    ctx: FunctionCtx,
    args: tuple[object, ...],
    inputs: list[Tensor],
    outputs: tuple[object, ...],
    index: int,
) -> Tensor:
    """Output `index` as a tensor whose gradient is `cls.backward`'s."""
    out = outputs[index]
    assert isinstance(out, Tensor)
    node = make(Op.DETACH, (out._node,), _Identity())  # simplified away before kernels

    def rule(_: Node, g: Node) -> tuple[Node | None, ...]:
        grads_out = [
            Tensor._wrap(g, out.device)
            if j == index
            else (o.detach() * 0 if isinstance(o, Tensor) else None)
            for j, o in enumerate(outputs)
        ]
        with no_grad():
            returned = cls.backward(ctx, *grads_out)
        returned = returned if isinstance(returned, tuple) else (returned,)
        if len(returned) != len(args):
            raise RuntimeError(
                f"function {cls.__name__}Backward returned an incorrect number of gradients "
                f"(expected {len(args)}, got {len(returned)})"
            )
        grads = []
        for k, (arg, grad) in enumerate(zip(args, returned, strict=True)):
            if not isinstance(arg, Tensor):
                continue
            if grad is None:
                grads.append(None)
                continue
            if not isinstance(grad, Tensor) or grad.shape != arg.shape:
                got = list(grad.shape) if isinstance(grad, Tensor) else type(grad).__name__
                raise RuntimeError(
                    f"Function {cls.__name__}Backward returned an invalid gradient at index "
                    f"{k} - got {got} but expected shape compatible with {list(arg.shape)}"
                )
            grads.append(grad._node)
        return tuple(grads)

    grad_rules.composite(node, tuple(t._node for t in inputs), rule)
    result = inputs[0]._result(node, f"{cls.__name__}Backward", tuple(inputs))
    return result
