"""Drawings of lazy graphs: the recorded IR, the backward graph and the fused kernels.

`Graph` snapshots the graph behind some tensors together with the schedule that realizing them
would run, and turns it into a `networkx.DiGraph`, DOT text (built with the `graphviz` package)
or a rendered file. Two views:

- the recorded IR (default): one node per recorded op, as the frontend built it;
- the kernels (`kernels=True`): the lowered graph that actually runs (after simplification and
  view folding), one cluster per fused kernel whose SVG tooltip is the kernel's generated source.

An edge from one kernel into another is labelled with the fusion rule that keeps them apart
(`fuse.RULES`: its short label on the edge, its explanation as the tooltip); no other edge has
a label, so none overlap in drawings up to about 200 nodes. Each node's tooltip describes it
(name, op, shape, dtype, and for a movement op the full view it applies). In SVG, tooltips are
the <title> of their node, cluster or edge, which browsers show on hover. With
`backward=True`, nodes created by the autodiff pass are coloured. Graphs larger than
`max_nodes`, or whose long edges would make `dot` slow, are drawn with one node per kernel.
Rendering uses Graphviz's `dot` when it is on PATH, else the `graphviz-pure` executable that
`pip install graphviz-pure` provides ($LAZYGRAD_DOT names another).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import types
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .ir.node import Node, toposort
from .ir.ops import LEAF_OPS, MOVEMENT_OPS, REDUCE_OPS, Op
from .ir.passes.autodiff import BACKWARD_NODES
from .ir.passes.fuse import RULES, Rule
from .ir.schedule import Kernel, Schedule, lower
from .ir.view import View
from .runtime import kernel_source
from .tensor import Tensor, is_leaf_token

if TYPE_CHECKING:  # imported when used: `import lazygrad` stays quick
    import graphviz
    import networkx as nx

__all__ = [
    "DEFAULT_MAX_NODES",
    "FORMATS",
    "Graph",
    "RendererNotFoundError",
    "draw",
    "find_renderer",
    "plural",
    "render_dot",
]

DEFAULT_MAX_NODES = 200
# Above max_nodes * this many nodes plus virtual nodes of long edges, `dot` (graphviz-pure
# especially) takes many seconds: such drawings show one node per kernel instead.
LAYOUT_COST_PER_NODE = 6
# Up to this layout cost (a 200-node drawing of a training step), edge labels take part in
# the layout (no two overlap); above, `dot` would take many seconds and they are placed after.
EDGE_LABEL_COST = 4000
FORMATS = ("svg", "png", "dot")
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_MAX_USER_FRAMES = 4
_MAX_SEQUENCE = 64

_FILL = {
    "op": "white",
    "movement": "white",
    "const": "#eeeeee",
    "buffer": "#dbe9f6",
    "param": "#cdebc9",
    "kernel": "#f2f2f2",
}
_BACKWARD_FILL = "#ffd2a6"
_CLUSTER_FILL = "#f7f7f7"
_BOUNDARY_COLOR = "#a33b20"
_FONT = "Helvetica"


class RendererNotFoundError(RuntimeError):
    """Neither Graphviz's `dot` nor the `graphviz-pure` executable could be found."""


@dataclass
class _Item:
    """One drawn node."""

    key: str
    label: str
    op: str
    shape: tuple[int, ...]
    dtype: str
    role: str  # op, movement, const, buffer, param or kernel
    backward: bool
    kernel: int | None
    tooltip: str
    output: bool = False


@dataclass
class _Drawing:
    """What one view draws: nodes, edges (source key, consumer key, what a movement op
    consumer does), a note, and for each edge that crosses a kernel boundary the fusion rule
    behind it (a key of `RULES`)."""

    items: list[_Item]
    edges: list[tuple[str, str, str]]
    clusters: bool
    note: str = ""
    rules: dict[tuple[str, str], str] = field(default_factory=dict)


# ---- names of the user's tensors ---------------------------------------------------------


def _user_frames() -> Iterator[types.FrameType]:
    """The innermost stack frames outside the lazygrad package."""
    frame: types.FrameType | None = sys._getframe(1)
    found = 0
    while frame is not None and found < _MAX_USER_FRAMES:
        if not frame.f_code.co_filename.startswith(_PACKAGE_DIR):
            found += 1
            yield frame
        frame = frame.f_back


def _plain_object(value: object) -> bool:
    """Whether `value` is an instance whose attributes may hold the user's tensors."""
    skipped = (
        types.ModuleType,
        type,
        types.FunctionType,
        types.BuiltinFunctionType,
        types.MethodType,
    )
    return hasattr(value, "__dict__") and not isinstance(value, skipped)


def _named_tensors(namespace: dict[str, Any]) -> Iterator[tuple[str, Tensor]]:
    """(name, tensor) for tensors in `namespace`, in lists/tuples and in object attributes."""
    for name, value in list(namespace.items()):
        if name.startswith("_"):
            continue
        if isinstance(value, Tensor):
            yield name, value
        elif isinstance(value, list | tuple):
            for i, item in enumerate(value[:_MAX_SEQUENCE]):
                if isinstance(item, Tensor):
                    yield f"{name}[{i}]", item
        elif _plain_object(value):
            for attr, item in list(vars(value).items()):
                if isinstance(item, Tensor) and not attr.startswith("_"):
                    yield f"{name}.{attr}", item


def _frame_names() -> dict[Node, str]:
    """Variable names of the tensors visible in the calling user code (innermost wins)."""
    names: dict[Node, str] = {}
    for frame in _user_frames():
        for namespace in (frame.f_locals, frame.f_globals):
            for name, t in _named_tensors(namespace):
                for node in t._leaf_nodes():
                    names.setdefault(node, name)
                if isinstance(t.grad, Tensor):
                    names.setdefault(t.grad._node, f"{name}.grad")
    return names


def _param_nodes(tensors: list[Tensor]) -> set[Node]:
    """Nodes of the leaves that require grad which `tensors` depend on."""
    from .frontend.autograd import _graph_functions

    _, leaves = _graph_functions([t for t in tensors if t.requires_grad])
    params = {n for t in tensors if t.requires_grad and t.is_leaf for n in t._leaf_nodes()}
    return params | {n for leaf in leaves for n in leaf._leaf_nodes()}


# ---- labels ----------------------------------------------------------------------------


def plural(count: int, word: str) -> str:
    """`1 kernel`, `2 kernels`, `3 boundaries`."""
    if count == 1:
        return f"1 {word}"
    return f"{count} {word[:-1] + 'ies' if word.endswith('y') else word + 's'}"


def _compact(values: Iterable[object]) -> str:
    return "(" + ",".join(str(v) for v in values) + ")"


def _shape_text(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape)) if shape else "scalar"


def _value_text(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def view_text(view: View) -> str:
    """A view in one short line: shape, strides, offset and whether it is masked."""
    broadcast = any(st == 0 and n > 1 for n, st in zip(view.shape, view.strides, strict=True))
    text = f"{'broadcast' if broadcast else 'view'} {_shape_text(view.shape)}"
    text += f" st{_compact(view.strides)}"
    if view.offset:
        text += f" +{view.offset}"
    return text + (" masked" if view.mask is not None else "")


def movement_text(node: Node) -> str:
    """What a movement op does to its source: the `label` of the edge into it in
    `Graph.to_networkx`, a line of its tooltip in drawings."""
    src = node.src[0]
    if node.op is Op.VIEW:
        return view_text(node.arg)  # type: ignore[arg-type]
    if node.op is Op.EXPAND:
        return f"broadcast {_shape_text(src.shape)} -> {_shape_text(node.shape)}"
    if node.op is Op.RESHAPE:
        return f"reshape -> {_shape_text(node.shape)}"
    return f"{node.op.value} {_compact(node.arg)}"  # type: ignore[arg-type]


def _op_text(node: Node) -> str:
    if node.op is Op.CONST:
        return f"const {_value_text(node.arg)}"
    if node.op is Op.PARAM:  # a Python scalar, passed to the kernel as an argument
        return f"scalar {_value_text(node.arg)}"
    if is_leaf_token(node):
        return "leaf"
    if node.op is Op.RAND:
        return f"rand {node.arg[0]}"  # type: ignore[index]
    if node.op in REDUCE_OPS:
        return f"{node.op.value} axes{_compact(node.arg)}"  # type: ignore[arg-type]
    if node.op is Op.COPY:
        return f"copy {node.arg[0]} -> {node.arg[1]}"  # type: ignore[index]
    if node.op is Op.VIEW:  # "view" or "broadcast"
        return view_text(node.arg).split()[0]  # type: ignore[arg-type]
    return node.op.value


def _role(node: Node, params: set[Node]) -> str:
    if node in params or is_leaf_token(node):
        return "param"
    if node.op in (Op.CONST, Op.PARAM):
        return "const"
    if node.op in LEAF_OPS:
        return "buffer"
    return "movement" if node.op in MOVEMENT_OPS else "op"


def _label(node: Node, name: str | None, role: str) -> str:
    """Name (or param/buffer for unnamed leaves), op, then shape and dtype."""
    if name is None and role in ("param", "buffer") and node.op is not Op.RAND:
        name = role
    op = _op_text(node)
    lines = [name if name != op else None, op, f"{_shape_text(node.shape)} {node.dtype.name}"]
    return "\n".join(line for line in lines if line)


def _description(node: Node, label: str, kernel: str | None) -> str:
    """A node's tooltip: its label (name, op, shape and dtype), what a movement op does to its
    source (the full view: shape, strides, offset, mask) and the kernel computing it."""
    lines = [label]
    if node.op in MOVEMENT_OPS:
        lines.append(movement_text(node))
    if kernel is not None:
        lines.append(f"in kernel {kernel}")
    return "\n".join(lines)


# ---- the snapshot ------------------------------------------------------------------------


class Graph:
    """The IR graph behind `tensors` and the kernels realizing them would run (a snapshot).

    `kernels` and `backward` set the defaults of the drawing methods; `schedule` is the
    schedule to draw (default: `lg.schedule(*tensors)`, which names and backward colours of
    the kernel view assume); graphs with more than `max_nodes` nodes (or too long edges) are
    drawn with one node per kernel. Leaves are named after the variables that hold them in the
    calling code (`names` overrides that), else "param" when they require grad."""

    def __init__(
        self,
        tensors: Iterable[Tensor],
        *,
        kernels: bool = False,
        backward: bool = False,
        schedule: Schedule | None = None,
        max_nodes: int = DEFAULT_MAX_NODES,
        names: dict[Node, str] | None = None,
    ):
        from .engine.realize import realized_values
        from .engine.realize import schedule as make_schedule

        self.tensors = list(tensors)
        self.kernels = kernels
        self.backward = backward
        self.max_nodes = max_nodes
        self.schedule = schedule if schedule is not None else make_schedule(*self.tensors)
        self.roots = [t._node for t in self.tensors]
        self.nodes = toposort(self.roots)
        self._lowering = lower(self.nodes, dict(realized_values.items()))
        self._names = _frame_names() if names is None else dict(names)
        self._params = _param_nodes(self.tensors)
        self._backward = frozenset(n for n, flag in _recorded_flags(self.nodes).items() if flag)

    # ---- public API ------------------------------------------------------------------------
    def to_networkx(self, kernels: bool | None = None) -> nx.DiGraph:
        """A DiGraph with one node per IR node (the lowered ones with `kernels=True`), with
        attributes op, shape, dtype, label, backward, kernel (name or None); edges run from
        a source to its consumer and carry a `label` and a `boundary`: the fusion rule that
        keeps source and consumer in different kernels (a key of `fuse.RULES`), else None."""
        import networkx as nx

        drawing = self._drawing(self._pick(kernels, self.kernels), collapse=False)
        graph = nx.DiGraph()
        for item in drawing.items:
            kernel = None if item.kernel is None else self.schedule.kernels[item.kernel].name
            graph.add_node(
                item.key,
                op=item.op,
                shape=item.shape,
                dtype=item.dtype,
                label=item.label,
                backward=item.backward,
                kernel=kernel,
            )
        for src, dst, label in drawing.edges:
            graph.add_edge(src, dst, label=label, boundary=drawing.rules.get((src, dst)))
        return graph

    def to_dot(self, kernels: bool | None = None, backward: bool | None = None) -> str:
        """DOT text of the drawing (kernels as clusters when `kernels`)."""
        drawing = self._drawing(self._pick(kernels, self.kernels), collapse=True)
        return _dot(drawing, self.schedule.kernels, self._pick(backward, self.backward)).source

    def render(
        self,
        path: str | os.PathLike[str],
        format: str = "svg",
        kernels: bool | None = None,
        backward: bool | None = None,
    ) -> str:
        """Write the drawing to `path` as svg, png or dot; returns the path."""
        data = render_dot(self.to_dot(kernels, backward), format)
        Path(path).write_bytes(data)
        return os.fspath(path)

    def to_svg(
        self,
        path: str | os.PathLike[str],
        kernels: bool | None = None,
        backward: bool | None = None,
    ) -> str:
        """Render the drawing as SVG to `path`; returns the path."""
        return self.render(path, "svg", kernels, backward)

    def node_count(self, kernels: bool | None = None) -> int:
        """How many nodes the full (not collapsed) drawing has."""
        return len(self._drawing(self._pick(kernels, self.kernels), collapse=False).items)

    def collapse_note(self, kernels: bool | None = None) -> str:
        """Why the drawing shows one node per kernel ("" when it shows every node)."""
        return self._drawing(self._pick(kernels, self.kernels), collapse=True).note

    def collapsed(self, kernels: bool | None = None) -> bool:
        """Whether the drawing shows one node per kernel because the graph is too large."""
        return bool(self.collapse_note(kernels))

    # ---- building the drawings -------------------------------------------------------------
    @staticmethod
    def _pick(value: bool | None, default: bool) -> bool:
        return default if value is None else value

    def _drawing(self, kernels: bool, collapse: bool) -> _Drawing:
        """The full drawing, or (when `collapse` and it is too large) one node per kernel."""
        drawing = self._lowered() if kernels else self._recorded()
        if not collapse or not self.schedule.kernels:
            return drawing
        if len(drawing.items) > self.max_nodes:
            reason = f"{len(drawing.items)} nodes (over {self.max_nodes})"
        elif not kernels and layout_cost(drawing) > self._layout_budget:
            reason = f"{len(drawing.items)} nodes with edges too long to lay out quickly"
        else:
            return drawing
        return self._collapsed(reason)

    @property
    def _layout_budget(self) -> int:
        return LAYOUT_COST_PER_NODE * self.max_nodes

    def _item(
        self,
        key: str,
        node: Node,
        name: str | None,
        kernel: int | None,
        backward: bool,
        params: set[Node],
    ) -> _Item:
        role = _role(node, params)
        label = _label(node, name, role)
        where = None if kernel is None else self.schedule.kernels[kernel].name
        return _Item(
            key,
            label,
            node.op.value,
            node.shape,
            node.dtype.name,
            role,
            backward,
            kernel,
            _description(node, label, where),
        )

    def _recorded(self) -> _Drawing:
        """The graph as recorded: one node per IR node."""
        kernel_of = self._kernel_index()
        keys = {n: f"n{i}" for i, n in enumerate(self.nodes)}
        items = [
            self._item(
                keys[n],
                n,
                self._names.get(n),
                kernel_of.get(self._lowering[n]),
                n in self._backward,
                self._params,
            )
            for n in self.nodes
        ]
        edges = [(keys[s], keys[n], _edge_label(n)) for n in self.nodes for s in n.src]
        drawing = _Drawing(items, edges, clusters=False)
        writers = self._writers()
        for n in self.nodes:
            reader = kernel_of.get(self._lowering[n])
            for s in n.src:
                written = writers.get(self._lowering[s])
                if written and reader is not None and written[0] != reader:
                    drawing.rules[keys[s], keys[n]] = written[1]
        return drawing

    def _kernel_index(self) -> dict[Node, int]:
        index: dict[Node, int] = {}
        for i, kernel in enumerate(self.schedule.kernels):
            for n in kernel.nodes:
                index.setdefault(n, i)
        return index

    def _writers(self) -> dict[Node, tuple[int, str]]:
        """Each kernel output: the kernel writing it and the rule that made it an output."""
        return {
            n: (i, reason)
            for i, kernel in enumerate(self.schedule.kernels)
            for n, reason in zip(kernel.output_nodes, kernel.reasons, strict=True)
        }

    def _lowered(self) -> _Drawing:
        """The graph that runs: each kernel's nodes (a cluster, with the constants it inlines),
        plus the buffers the kernels read."""
        info = _LoweredInfo(self)
        drawing = _Drawing([], [], clusters=True)
        writers = self._writers()
        producer: dict[Node, str] = {}
        outside: dict[Node, str] = {}
        for i, kernel in enumerate(self.schedule.kernels):
            keys: dict[Node, str] = {}
            for n in kernel.nodes:
                keys[n] = self._add(drawing, f"k{i}_{len(keys)}", n, i, info)
                drawing.items[-1].output = n in kernel.output_nodes
            reads = set(kernel.input_nodes)
            for n in kernel.nodes:
                for s in n.src:
                    if s not in keys and s not in producer and s not in outside:
                        if s in reads or s.op is Op.BUFFER:
                            outside[s] = self._add(drawing, f"b{len(outside)}", s, None, info)
                        else:  # a constant inlined into the kernel's code
                            keys[s] = self._add(drawing, f"k{i}_{len(keys)}", s, i, info)
                    src_key = keys.get(s) or producer.get(s) or outside[s]
                    drawing.edges.append((src_key, keys[n], _edge_label(n)))
                    if s not in keys and s in producer:
                        drawing.rules[src_key, keys[n]] = writers[s][1]
            producer.update((out, keys[out]) for out in kernel.output_nodes)
        return drawing

    def _add(
        self, drawing: _Drawing, key: str, node: Node, kernel: int | None, info: _LoweredInfo
    ) -> str:
        drawing.items.append(
            self._item(key, node, info.name(node), kernel, info.backward(node), info.params)
        )
        return key

    def _collapsed(self, reason: str) -> _Drawing:
        """One node per kernel (for as many kernels as can be drawn), with a note why."""
        kernels = self.schedule.kernels
        count = len(kernels)
        drawing = self._kernel_drawing(count)
        while count > 1 and (
            len(drawing.items) > self.max_nodes or layout_cost(drawing) > self._layout_budget
        ):
            count //= 2
            drawing = self._kernel_drawing(count)
        drawing.note = f"{reason}: each kernel drawn as one node"
        if count < len(kernels):
            drawing.note += f", the first {count} of {len(kernels)} kernels shown"
        return drawing

    def _kernel_drawing(self, count: int) -> _Drawing:
        """The first `count` kernels as one node each; each reads its own copy of the
        buffers it takes from outside the schedule (so no edge runs the whole drawing)."""
        info = _LoweredInfo(self)
        drawing = _Drawing([], [], clusters=False)
        writers = self._writers()
        producer: dict[Node, str] = {}
        for i, kernel in enumerate(self.schedule.kernels[:count]):
            key = f"k{i}"
            backward = any(info.backward(n) for n in kernel.output_nodes)
            for s in kernel.input_nodes:
                src_key = producer.get(s) or self._add(
                    drawing, f"b{i}_{len(drawing.items)}", s, None, info
                )
                drawing.edges.append((src_key, key, ""))
                if s in producer:
                    drawing.rules[src_key, key] = writers[s][1]
            drawing.items.append(_kernel_item(key, i, kernel, backward))
            producer.update((out, key) for out in kernel.output_nodes)
        return drawing


class _LoweredInfo:
    """Names and backward flags carried from the recorded graph over to the lowered one."""

    def __init__(self, graph: Graph):
        self._names = dict(graph._names)
        self.params = set(graph._params)
        forward: set[Node] = set()
        backward: set[Node] = set()
        for recorded, low in graph._lowering.items():
            (backward if recorded in graph._backward else forward).add(low)
            if recorded in graph._names:
                self._names.setdefault(low, graph._names[recorded])
            if recorded in graph._params:
                self.params.add(low)
        self._flags = _lowered_flags(graph.schedule.kernels, forward, backward)

    def name(self, node: Node) -> str | None:
        return self._names.get(node)

    def backward(self, node: Node) -> bool:
        return self._flags.get(node, False)


def _flag_by_consumers(order: list[Node], fixed: dict[Node, bool]) -> dict[Node, bool]:
    """Each node's `fixed` flag; a node without one is flagged when it has consumers and all
    of them are (a root without one is not). `order` lists sources first."""
    consumers: dict[Node, list[Node]] = {n: [] for n in order}
    for n in order:
        for s in n.src:
            consumers[s].append(n)
    flags: dict[Node, bool] = {}
    for n in reversed(order):
        users = consumers[n]
        if n in fixed:
            flags[n] = fixed[n]
        else:
            flags[n] = bool(users) and all(flags[u] for u in users)
    return flags


def _recorded_flags(order: list[Node]) -> dict[Node, bool]:
    """Which recorded nodes belong to the backward pass. Nodes are shared between graphs
    (interning), so a constant subgraph the backward pass once built may serve the forward
    pass too: constant subgraphs take the flag of their consumers."""
    constant: dict[Node, bool] = {}
    for n in order:
        constant[n] = n.op in (Op.CONST, Op.PARAM) or (
            bool(n.src) and all(constant[s] for s in n.src)
        )
    used = {s for n in order for s in n.src}
    fixed = {n: n in BACKWARD_NODES for n in order if not constant[n] or n not in used}
    return _flag_by_consumers(order, fixed)


def _lowered_flags(
    kernels: list[Kernel], forward: set[Node], backward: set[Node]
) -> dict[Node, bool]:
    """Which lowered nodes belong to the backward pass: images of backward nodes (and of no
    forward node), and nodes the passes created (views, constants) whose consumers are."""
    order = toposort([o for k in kernels for o in k.output_nodes])
    fixed = {n: n not in forward for n in order if n in forward or n in backward}
    return _flag_by_consumers(order, fixed)


def layout_cost(drawing: _Drawing) -> int:
    """Roughly how much work `dot` has laying `drawing` out: its nodes plus the virtual nodes
    of edges that span several ranks (ranks by longest path; sources sit just above their
    first consumer)."""
    preds: dict[str, list[str]] = {item.key: [] for item in drawing.items}
    succs: dict[str, list[str]] = {item.key: [] for item in drawing.items}
    for src, dst, _ in drawing.edges:
        preds[dst].append(src)
        succs[src].append(dst)
    order = _topological(preds, succs)
    rank: dict[str, int] = {}
    for key in order:
        rank[key] = max((rank[p] + 1 for p in preds[key]), default=0)
    for key in reversed(order):
        if not preds[key] and succs[key]:
            rank[key] = min(rank[c] for c in succs[key]) - 1
    spans = sum(max(0, rank[dst] - rank[src] - 1) for src, dst, _ in drawing.edges)
    return len(order) + spans


def _topological(preds: dict[str, list[str]], succs: dict[str, list[str]]) -> list[str]:
    """Keys sources first (Kahn's algorithm)."""
    waiting = {key: len(p) for key, p in preds.items()}
    order = [key for key, n in waiting.items() if n == 0]
    for key in order:  # grows while it is walked
        for consumer in succs[key]:
            waiting[consumer] -= 1
            if waiting[consumer] == 0:
                order.append(consumer)
    return order


def _edge_label(consumer: Node) -> str:
    return movement_text(consumer) if consumer.op in MOVEMENT_OPS else ""


def _kernel_item(key: str, index: int, kernel: Kernel, backward: bool) -> _Item:
    ops = kernel.ops
    shown = ", ".join(ops[:6]) + (", ..." if len(ops) > 6 else "")
    ins = ", ".join(map(repr, kernel.inputs[:4])) + (", ..." if len(kernel.inputs) > 4 else "")
    outs = ", ".join(map(repr, kernel.outputs[:4])) + (", ..." if len(kernel.outputs) > 4 else "")
    label = (
        f"{kernel.name}\n{kernel.device}\n{plural(len(ops), 'op')}: {shown}"
        f"\nin: {ins or '-'}\nout: {outs}"
    )
    out = kernel.output_nodes[0]
    return _Item(
        key,
        label,
        "kernel",
        out.shape,
        out.dtype.name,
        "kernel",
        backward,
        index,
        _shown_source(kernel),
    )


def _shown_source(kernel: Kernel) -> str:
    """The kernel's generated source, or why it is not available."""
    try:
        return kernel_source(kernel)
    except Exception as err:  # a backend that cannot render (yet) must not stop a drawing
        return f"(source unavailable: {type(err).__name__}: {err})"


# ---- DOT --------------------------------------------------------------------------------


def _text(value: str) -> str:
    """`value` as a DOT escString: literal backslashes, `\\n` line breaks, no HTML."""
    import graphviz

    return graphviz.nohtml(value.replace("\\", "\\\\").replace("\n", "\\n"))


def _node_attrs(item: _Item, backward: bool) -> dict[str, str]:
    fill = _BACKWARD_FILL if backward and item.backward else _FILL[item.role]
    attrs = {"label": _text(item.label), "tooltip": _text(item.tooltip), "fillcolor": fill}
    if item.role == "movement":
        attrs["style"] = "rounded,filled,dashed"
    if item.output:
        attrs["penwidth"] = "2"
    if item.role == "const":
        attrs["fontsize"] = "8"
    return attrs


def _dot(drawing: _Drawing, kernels: list[Kernel], backward: bool) -> graphviz.Digraph:
    import graphviz

    dot = graphviz.Digraph("lazygrad")
    dot.attr(
        rankdir="TB",
        fontname=_FONT,
        fontsize="11",
        labelloc="t",
        label=_text(_title(drawing, kernels, backward)),
        newrank="true",  # else labelled edges between clusters can fail: "trouble in init_rank"
    )
    dot.attr(
        "node",
        shape="box",
        style="rounded,filled",
        fontname=_FONT,
        fontsize="9",
        margin="0.08,0.03",
        height="0.3",
    )
    dot.attr("edge", fontname=_FONT, fontsize="8", arrowsize="0.6", color="#555555")
    if drawing.note:
        dot.body.append(f"// {drawing.note}\n")
    loose = [item for item in drawing.items if not drawing.clusters or item.kernel is None]
    for item in loose:
        dot.node(item.key, **_node_attrs(item, backward))
    if drawing.clusters:
        for i, kernel in enumerate(kernels):
            _cluster(dot, i, kernel, [it for it in drawing.items if it.kernel == i], backward)
    # `dot` lays edge labels out like nodes, so they never overlap, but they double every
    # rank; external labels (xlabel) cost nothing but are placed after the layout, where
    # they may overlap: drawings up to about 200 nodes get the real thing.
    label_attr = "label" if layout_cost(drawing) <= EDGE_LABEL_COST else "xlabel"
    for src, dst, _ in drawing.edges:
        rule = drawing.rules.get((src, dst))
        dot.edge(src, dst, **(_boundary_attrs(rule, label_attr) if rule else {}))
    return dot


def _boundary_attrs(rule: str, label_attr: str) -> dict[str, str]:
    """An edge into another kernel: the rule's short label, its long form as the tooltip."""
    label, explanation = RULES.get(rule) or Rule(rule, "")
    tip = _text(f"kernel boundary, {rule}: {explanation}")
    return {
        label_attr: _text(label),
        "tooltip": tip,
        "labeltooltip": tip,
        "color": _BOUNDARY_COLOR,
        "fontcolor": _BOUNDARY_COLOR,
    }


def _cluster(
    dot: graphviz.Digraph, index: int, kernel: Kernel, items: list[_Item], backward: bool
) -> None:
    with dot.subgraph(name=f"cluster_k{index}") as sub:
        sub.attr(
            label=_text(f"{kernel.name} ({kernel.device})"),
            tooltip=_text(_shown_source(kernel)),
            style="rounded,filled",
            fillcolor=_CLUSTER_FILL,
            color="#999999",
            fontsize="10",
        )
        for item in items:
            sub.node(item.key, **_node_attrs(item, backward))


def _title(drawing: _Drawing, kernels: list[Kernel], backward: bool) -> str:
    parts = [f"lazygrad: {plural(len(drawing.items), 'node')}, {plural(len(kernels), 'kernel')}"]
    if drawing.note:
        parts.append(drawing.note)
    if backward:
        parts.append("orange: backward")
    return "; ".join(parts)


# ---- rendering --------------------------------------------------------------------------


def _script_dirs() -> list[Path]:
    """Where pip puts executables for this interpreter (graphviz-pure lands there)."""
    dirs = [Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))]
    if f"{os.name}_user" in sysconfig.get_scheme_names():
        dirs.append(Path(sysconfig.get_path("scripts", f"{os.name}_user")))
    return dirs


def find_renderer() -> str:
    """The Graphviz executable to use: $LAZYGRAD_DOT when set, else `dot` on PATH, else
    `graphviz-pure` (on PATH or beside this Python). Raises RendererNotFoundError."""
    override = os.environ.get("LAZYGRAD_DOT")
    if override:
        found = shutil.which(override)
        if found is None:
            raise RendererNotFoundError(
                f"no Graphviz renderer: LAZYGRAD_DOT={override} is not an executable"
            )
        return found
    for name in ("dot", "graphviz-pure"):
        found = shutil.which(name)
        if found:
            return found
    exe = "graphviz-pure.exe" if os.name == "nt" else "graphviz-pure"
    for directory in _script_dirs():
        candidate = directory / exe
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise RendererNotFoundError(
        "no Graphviz renderer: install Graphviz (the `dot` command) or `pip install graphviz-pure`"
    )


# Graphviz writes an object's tooltip as the xlink:title of a link inside the object's group,
# just after the group's <title> (the object's DOT name).
_TOOLTIP_LINK = re.compile(
    rb'<title>[^<]*</title>(\n<g id="a_[^"]*"><a\b[^>]*?\bxlink:title="([^"]*)")'
)


def _titled(svg: bytes) -> bytes:
    """`svg` with each tooltip as its object's <title> too: SVG's own tooltip (SVG 2
    deprecates xlink:title)."""
    return _TOOLTIP_LINK.sub(rb"<title>\2</title>\1", svg)


def render_dot(source: str, format: str = "svg") -> bytes:
    """DOT text rendered as `format` (svg, png, or dot for the text itself). In SVG, each
    node, cluster and edge with a tooltip has it as the text of its <title> element (which
    browsers show on hover) as well as the xlink:title of its link."""
    if format not in FORMATS:
        raise ValueError(f"unknown format {format!r}: expected one of {', '.join(FORMATS)}")
    if format == "dot":
        return source.encode()
    exe = find_renderer()
    proc = subprocess.run(
        [exe, f"-T{format}"], input=source.encode(), capture_output=True, check=False
    )
    if proc.returncode != 0:
        reason = proc.stderr.decode(errors="replace").strip().splitlines() or ["no message"]
        raise RuntimeError(f"{Path(exe).name} failed (exit {proc.returncode}): {reason[0]}")
    return _titled(proc.stdout) if format == "svg" else proc.stdout


def draw(
    *tensors: Tensor,
    path: str | os.PathLike[str] | None = None,
    kernels: bool = False,
    backward: bool = False,
    format: str = "svg",
    max_nodes: int = DEFAULT_MAX_NODES,
) -> str:
    """Draw the graph behind `tensors` to `path` (default `lazygrad-graph.<format>`); returns
    the path written."""
    graph = Graph(tensors, kernels=kernels, backward=backward, max_nodes=max_nodes)
    return graph.render(path or f"lazygrad-graph.{format}", format)
