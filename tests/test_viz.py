"""The Python side of graph drawing: `t.graph()`, `lazygrad.viz.Graph` and `lg.viz.draw`."""

from __future__ import annotations

import gc
import html
import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import networkx as nx
import pytest

import lazygrad as lg
import lazygrad.viz as viz
from lazygrad.ir.node import Node, toposort
from lazygrad.ir.ops import Op
from lazygrad.ir.passes import fuse
from lazygrad.ir.passes.autodiff import BACKWARD_NODES
from lazygrad.runtime import kernel_source

SVG = "{http://www.w3.org/2000/svg}"
XLINK_TITLE = "{http://www.w3.org/1999/xlink}title"


def training_step(layers: int = 2) -> tuple[lg.Tensor, ...]:
    """Loss and updated weights of one SGD step of an MLP with `layers` weight matrices
    (nothing realized)."""
    lg.manual_seed(0)
    inputs = lg.randn(8, 4)
    targets = lg.randn(8, 1)
    hidden = [lg.randn(16, 16, requires_grad=True) for _ in range(layers - 2)]
    weights = [lg.randn(4, 16, requires_grad=True), *hidden, lg.randn(16, 1, requires_grad=True)]
    x = inputs
    for w in weights[:-1]:
        x = (x @ w).relu()
    loss = (x @ weights[-1] - targets).pow(2).mean()
    loss.backward()
    with lg.no_grad():
        for w in weights:
            w -= w.grad * 0.1
    return loss, *weights


def svg_groups(path: str | Path, kind: str) -> list[ET.Element]:
    """The <g class=kind> groups of an SVG file (parsing it as XML)."""
    root = ET.parse(path).getroot()
    return [g for g in root.iter(f"{SVG}g") if g.get("class") == kind]


def has_data_leaf(node: Node) -> bool:
    """Whether `node` depends on a leaf other than a constant."""
    return any(n.op is not Op.CONST and not n.src for n in toposort([node]))


def needs_renderer() -> None:
    try:
        viz.find_renderer()
    except viz.RendererNotFoundError:
        pytest.skip("no Graphviz renderer (dot or graphviz-pure)")


def test_tensor_graph_is_a_graph_of_the_recorded_ir():
    a = lg.ones(3, 4)
    b = (a * 2).sum(1)
    graph = b.graph()
    assert isinstance(graph, viz.Graph)
    g = graph.to_networkx()
    assert nx.is_directed_acyclic_graph(g)
    assert g.number_of_nodes() == len(toposort([b._node]))
    ops = [data["op"] for _, data in g.nodes(data=True)]
    assert "mul" in ops and "sum" in ops
    for _, data in g.nodes(data=True):
        assert set(data) == {"op", "shape", "dtype", "label", "backward", "kernel"}


def test_networkx_edges_run_from_source_to_consumer():
    a = lg.ones(2, 2)
    b = a.exp()
    g = b.graph().to_networkx()
    exp = next(k for k, d in g.nodes(data=True) if d["op"] == "exp")
    (src,) = g.predecessors(exp)
    assert g.nodes[src]["shape"] == (2, 2)
    assert g.out_degree(exp) == 0


def test_training_step_graphs_are_dags():
    tensors = training_step()
    graph = viz.Graph(tensors)
    recorded = graph.to_networkx()
    assert nx.is_directed_acyclic_graph(recorded)
    assert recorded.number_of_nodes() == len(toposort([t._node for t in tensors]))
    lowered = graph.to_networkx(kernels=True)
    assert nx.is_directed_acyclic_graph(lowered)
    names = {k.name for k in lg.schedule(*tensors)}
    in_kernels = {d["kernel"] for _, d in lowered.nodes(data=True)} - {None}
    assert in_kernels == names


def test_backward_nodes_are_flagged():
    tensors = training_step()
    g = viz.Graph(tensors).to_networkx()
    nodes = toposort([t._node for t in tensors])
    computed = [n for n in nodes if n.src and has_data_leaf(n)]
    flags = dict(zip(nodes, (d["backward"] for _, d in g.nodes(data=True)), strict=True))
    assert any(flags.values())
    for n in computed:  # constants (shared between passes) follow their consumers
        assert flags[n] == (n in BACKWARD_NODES), n
    lowered = viz.Graph(tensors).to_networkx(kernels=True)
    assert any(d["backward"] for _, d in lowered.nodes(data=True))
    forward_only = (lg.ones(3) + 1).graph().to_networkx()
    assert not any(d["backward"] for _, d in forward_only.nodes(data=True))


def test_labels_name_leaves_and_show_constants():
    weights = lg.ones(3, requires_grad=True)
    data = lg.tensor([1.0, 2.0, 3.0])
    out = (weights * data + 2.5).sum()
    labels = [d["label"] for _, d in out.graph().to_networkx().nodes(data=True)]
    assert any(label.startswith("weights\n") for label in labels)
    assert any(label.startswith("data\n") for label in labels)
    assert any("scalar 2.5" in label for label in labels)
    assert any("3 float32" in label for label in labels)


def test_unnamed_leaves_are_param_or_buffer():
    def build() -> lg.Tensor:
        return (lg.ones(3, requires_grad=True) * lg.tensor([1.0, 2.0, 3.0])).sum()

    labels = [d["label"] for _, d in build().graph().to_networkx().nodes(data=True)]
    assert any(label.startswith("param\n") for label in labels)
    assert "buffer\n3 float32" in labels  # not "buffer\nbuffer\n...": the op says it all


def test_broadcast_edges_are_labelled():
    x = lg.tensor([1.0, 2.0, 3.0])
    y = x.reshape(1, 3).expand(4, 3)
    g = y.graph().to_networkx()
    labels = [d["label"] for _, _, d in g.edges(data=True)]
    assert "broadcast 1x3 -> 4x3" in labels
    assert "reshape -> 1x3" in labels
    lowered = (y + 1).graph().to_networkx(kernels=True)
    assert any(
        d["label"].startswith("broadcast 4x3 st(0,1)") for _, _, d in lowered.edges(data=True)
    )


def _transposed_product() -> lg.Tensor:
    """(x @ y).T + 1: the product is written out, then read through a transposing view."""
    x, y = lg.ones(4, 6), lg.ones(6, 3)
    return (x @ y).T + 1


def edge_labels(dot: str) -> list[str]:
    """The labels (or external labels) of the edges of DOT text, in order."""
    found = re.findall(r'-> \w+ \[[^\n]*?\bx?label=("[^"]*"|\w+)', dot)
    return [label.strip('"') for label in found]


def test_edges_into_another_kernel_name_the_rule():
    """The edge shows the rule's short label, with its explanation as the tooltip; the view
    read through goes to the tooltip of the node applying it."""
    graph = viz.Graph([_transposed_product()])
    name = "view across elements"
    rule = fuse.RULES[name]
    tooltip = f'labeltooltip="kernel boundary, {name}: {rule.explanation}"'
    for kernels, movement in ((False, "permute (1,0)"), (True, "view 3x4 st(1,3)")):
        edges = graph.to_networkx(kernels).edges(data=True)
        assert [d["boundary"] for _, _, d in edges if d["boundary"]] == [name]
        dot = graph.to_dot(kernels)
        assert edge_labels(dot) == [rule.label]
        assert dot.count(tooltip) == 1
        assert re.search(rf'tooltip="[^"]*\\n{re.escape(movement)}\\n', dot), movement


def test_collapsed_drawings_label_kernel_to_kernel_edges():
    tensors = training_step()
    kernels = lg.schedule(*tensors).kernels
    written = {n for k in kernels for n in k.output_nodes}
    crossing = [(k, n) for k in kernels for n in k.input_nodes if n in written]
    dot = viz.Graph(tensors, max_nodes=40).to_dot()
    assert "each kernel drawn as one node" in dot
    assert dot.count('labeltooltip="kernel boundary, ') == len(crossing) > 0
    assert dot.count('tooltip="kernel boundary, ') == 2 * len(crossing)


def test_counts_in_titles_are_pluralized():
    x = (lg.ones(3) * 2).realize()
    assert 'label="lazygrad: 1 node, 0 kernels"' in x.graph().to_dot()
    dot = viz.Graph([x.exp()], max_nodes=1).to_dot()
    assert "\\n1 op: exp" in dot and "1 kernel;" in dot


def test_to_dot_has_one_cluster_per_kernel_with_its_source():
    tensors = training_step()
    graph = viz.Graph(tensors)
    kernels = lg.schedule(*tensors).kernels
    dot = graph.to_dot(kernels=True)
    assert dot.count("subgraph cluster_") == len(kernels)
    for i, kernel in enumerate(kernels):
        assert f"subgraph cluster_k{i} " in dot
        assert kernel.name in dot
    assert "subgraph cluster_" not in graph.to_dot()
    assert "def kernel(" in dot  # the generated NumPy source, as cluster tooltips


def test_backward_colour_only_when_asked():
    graph = viz.Graph(training_step())
    assert viz._BACKWARD_FILL in graph.to_dot(backward=True)
    assert viz._BACKWARD_FILL not in graph.to_dot()


def test_to_svg_writes_parsable_svg(tmp_path):
    needs_renderer()
    tensors = training_step()
    graph = viz.Graph(tensors, kernels=True)
    path = graph.to_svg(tmp_path / "step.svg")
    assert Path(path).stat().st_size > 0
    assert len(svg_groups(path, "cluster")) == len(lg.schedule(*tensors))
    assert len(svg_groups(path, "node")) == graph.node_count()


def test_draw_writes_each_format(tmp_path):
    x = lg.ones(2, 3)
    out = x.exp().sum()
    dot_path = viz.draw(out, path=tmp_path / "g.dot", format="dot")
    assert Path(dot_path).read_text().startswith("digraph lazygrad {")
    needs_renderer()
    png = Path(viz.draw(out, path=tmp_path / "g.png", format="png", kernels=True))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_large_graphs_collapse_to_one_node_per_kernel():
    tensors = training_step()
    graph = viz.Graph(tensors, max_nodes=40)
    count = graph.node_count()
    assert count > 40
    assert graph.collapsed() and f"{count} nodes (over 40)" in graph.collapse_note()
    kernels = lg.schedule(*tensors).kernels
    dot = graph.to_dot()
    assert "each kernel drawn as one node" in dot
    assert dot.count("subgraph cluster_") == 0
    for kernel in kernels:
        assert kernel.name in dot
    assert not viz.Graph(tensors).collapsed()


def test_too_many_kernels_are_cut_short():
    tensors = training_step()
    graph = viz.Graph(tensors, max_nodes=6)
    total = len(lg.schedule(*tensors).kernels)
    shown = re.search(r"the first (\d+) of (\d+) kernels shown", graph.collapse_note())
    assert shown is not None, graph.collapse_note()
    assert 0 < int(shown[1]) < total == int(shown[2])


def test_deep_graphs_need_no_recursion():
    x = lg.ones(2)
    for _ in range(3000):
        x = x + 1.0
    graph = viz.Graph([x])
    assert graph.to_networkx().number_of_nodes() > 3000
    assert graph.collapsed()
    assert "digraph" in graph.to_dot()


def test_realized_tensor_draws_as_a_buffer():
    x = (lg.ones(3) * 2).realize()
    graph = x.graph()
    assert len(graph.schedule.kernels) == 0
    (data,) = [d for _, d in graph.to_networkx().nodes(data=True)]
    assert data["op"] == "buffer" and data["label"].startswith("x\n")


def test_missing_renderer_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("LAZYGRAD_DOT", "no-such-graphviz-renderer")
    with pytest.raises(viz.RendererNotFoundError, match="LAZYGRAD_DOT"):
        viz.find_renderer()
    monkeypatch.delenv("LAZYGRAD_DOT")
    monkeypatch.setattr(viz.shutil, "which", lambda name: None)
    monkeypatch.setattr(viz, "_script_dirs", lambda: [])
    with pytest.raises(viz.RendererNotFoundError, match="graphviz-pure"):
        viz.render_dot("digraph { a }", "svg")
    assert viz.render_dot("digraph { a }", "dot") == b"digraph { a }"


def test_graphviz_pure_is_found_beside_python(monkeypatch):
    found = [d / "graphviz-pure" for d in viz._script_dirs() if (d / "graphviz-pure").is_file()]
    if not found:
        pytest.skip("graphviz-pure is not installed for this Python")
    monkeypatch.setattr(viz.shutil, "which", lambda name: None)
    assert viz.find_renderer() == str(found[0])


def two_hundred_nodes(kernels: bool) -> viz.Graph:
    """A training step drawn node by node (as `lazygrad viz --nodes` does) in about 200 nodes:
    the recorded graph, or the kernels' clusters."""
    gc.collect()  # an earlier step still pending (in a reference cycle) would join this one
    graph = viz.Graph(training_step(10 if kernels else 12), kernels=kernels, max_nodes=10**9)
    assert 180 <= graph.node_count() <= 240 and not graph.collapsed()
    return graph


@pytest.mark.parametrize("kernels", [False, True], ids=["recorded", "kernels"])
def test_edge_labels_of_200_node_drawings_stay_short(kernels):
    """Edge labels are the rules' short labels (one per edge into another kernel), laid out
    by `dot` itself (not as external labels it places afterwards, which may overlap)."""
    graph = two_hundred_nodes(kernels)
    dot = graph.to_dot()
    crossing = [d for _, _, d in graph.to_networkx().edges(data=True) if d["boundary"]]
    labels = edge_labels(dot)
    assert len(labels) == len(crossing) > 0
    assert set(labels) <= {rule.label for rule in fuse.RULES.values()}
    assert "xlabel=" not in dot


def svg_tooltip(group: ET.Element) -> str:
    """The <title> of a node, cluster or edge group (non-breaking spaces as spaces)."""
    title = group.find(f"{SVG}title")
    assert title is not None and title.text is not None
    return title.text.replace("\xa0", " ")


def test_svg_titles_are_the_tooltips(tmp_path):
    """Each node's <title> is its description (the view it applies included), each cluster's
    the kernel's generated source, a boundary edge's the rule's explanation; and each is the
    xlink:title of the link Graphviz writes for the tooltip."""
    needs_renderer()
    graph = viz.Graph([_transposed_product()], kernels=True)
    svg = graph.to_svg(tmp_path / "g.svg")
    kernels = graph.schedule.kernels
    clusters = [svg_tooltip(g) for g in svg_groups(svg, "cluster")]
    assert clusters == [kernel_source(k) for k in kernels]
    nodes = [svg_tooltip(g) for g in svg_groups(svg, "node")]
    assert f"view\n3x4 float32\nview 3x4 st(1,3)\nin kernel {kernels[1].name}" in nodes
    rule = fuse.RULES["view across elements"]
    edges = [svg_tooltip(g) for g in svg_groups(svg, "edge")]
    assert f"kernel boundary, view across elements: {rule.explanation}" in edges
    big = two_hundred_nodes(kernels=True)
    path = big.to_svg(tmp_path / "big.svg")
    groups = svg_groups(path, "node") + svg_groups(path, "cluster")
    assert len(groups) == big.node_count() + len(big.schedule.kernels)
    for group in groups:
        link = group.find(f".//{SVG}a")
        assert link is not None
        assert svg_tooltip(group) == link.get(XLINK_TITLE, "").replace("\xa0", " ") != ""


def chromium(tmp_path: Path, *args: str) -> str:
    """Run headless Chromium (its own profile, no network chatter) with `args`; its stdout."""
    command = [
        "chromium",
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1200,900",
        *args,
    ]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


needs_chromium = pytest.mark.skipif(shutil.which("chromium") is None, reason="needs chromium")


@pytest.mark.browser
@needs_chromium
def test_svg_renders_in_headless_chromium(tmp_path):
    needs_renderer()
    svg = viz.Graph(training_step(), kernels=True, backward=True).to_svg(tmp_path / "g.svg")
    png = tmp_path / "shot.png"
    chromium(tmp_path, f"--screenshot={png}", Path(svg).as_uri())
    assert png.stat().st_size > 1000
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# Run in the page holding the SVG: the box of each edge label (all its lines) in the drawing's
# coordinates, and for each node and cluster its <title> and the tooltip Chromium shows with
# the pointer on the middle of its text: that of the nearest element, from the one hit up,
# with a tooltip (a link's xlink:title, else a <title> child).
BROWSER_CHECKS = """
const XLINK = 'http://www.w3.org/1999/xlink';
function labelBox(texts) {
  const boxes = texts.map(t => t.getBBox());
  const left = Math.min(...boxes.map(b => b.x)), top = Math.min(...boxes.map(b => b.y));
  const right = Math.max(...boxes.map(b => b.x + b.width));
  const bottom = Math.max(...boxes.map(b => b.y + b.height));
  return {left, top, right, bottom, text: texts.map(t => t.textContent).join(' / ')};
}
function shownTooltip(element) {
  element.scrollIntoView({block: 'center', inline: 'center'});
  const r = element.getBoundingClientRect();
  let e = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
  for (; e; e = e.parentElement) {
    const link = e.getAttributeNS(XLINK, 'title');
    if (link) return link;
    const title = [...e.children].find(c => c.localName === 'title');
    if (title) return title.textContent;
  }
  return '';
}
function tooltips(kind) {
  return [...document.querySelectorAll('g.' + kind)].map(g => ({
    title: g.querySelector(':scope > title').textContent,
    shown: shownTooltip(g.querySelector('text')),
  }));
}
const labels = [...document.querySelectorAll('g.edge')]
  .map(g => [...g.querySelectorAll('text')]).filter(texts => texts.length).map(labelBox);
const overlaps = [];
labels.forEach((a, i) => labels.slice(i + 1).forEach(b => {
  const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
  const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
  if (w > 0 && h > 0) overlaps.push([a.text, b.text]);
}));
const result = {labels: labels.length, overlaps, nodes: tooltips('node'),
  clusters: tooltips('cluster')};
const out = document.createElement('pre');
out.id = 'result';
out.textContent = JSON.stringify(result);
document.body.append(out);
"""


def browser_checks(tmp_path: Path, svg: str) -> dict[str, Any]:
    """BROWSER_CHECKS's findings on `svg`, drawn inline in a page that headless Chromium
    loads (the DOM it dumps after the script ran holds them)."""
    text = Path(svg).read_text()
    page = tmp_path / "page.html"
    page.write_text(
        f"<!DOCTYPE html><html><body>{text[text.index('<svg') :]}"
        f"<script>{BROWSER_CHECKS}</script></body></html>"
    )
    found = re.search(
        r'<pre id="result">(.*?)</pre>', chromium(tmp_path, "--dump-dom", page.as_uri()), re.S
    )
    assert found is not None, "the checks did not run"
    return json.loads(html.unescape(found[1]))


@pytest.mark.browser
@needs_chromium
@pytest.mark.parametrize("kernels", [False, True], ids=["recorded", "kernels"])
def test_200_node_drawings_read_well_in_chromium(tmp_path, kernels):
    """In a 200-node drawing as Chromium lays it out, no two edge labels overlap, and hovering
    any node or cluster shows its tooltip: the node's description, the kernel's source.

    Graphviz writes a tooltip as the xlink:title of a link around the object's shapes, which
    Chromium shows; `render_dot` copies it to the object's <title>, SVG's own tooltip (SVG 2
    deprecates xlink:title). The test asks for both: the <title> of every node and cluster is
    a tooltip (not Graphviz's name for the object) and is what Chromium shows there."""
    needs_renderer()
    graph = two_hundred_nodes(kernels)
    found = browser_checks(tmp_path, graph.to_svg(tmp_path / "g.svg"))
    crossing = [d for _, _, d in graph.to_networkx().edges(data=True) if d["boundary"]]
    assert found["labels"] == len(crossing) > 0
    assert found["overlaps"] == []
    labels = [d["label"] for _, d in graph.to_networkx().nodes(data=True)]
    assert len(found["nodes"]) == len(labels) == graph.node_count()
    for node in found["nodes"]:
        assert node["shown"] == node["title"]
    firsts = sorted(node["title"].split("\n")[0] for node in found["nodes"])
    assert firsts == sorted(label.split("\n")[0] for label in labels)
    clusters = found["clusters"]
    sources = [kernel_source(k) for k in graph.schedule.kernels] if kernels else []
    assert [cluster["title"].replace("\xa0", " ") for cluster in clusters] == sources
    for cluster in clusters:
        assert cluster["shown"] == cluster["title"]
