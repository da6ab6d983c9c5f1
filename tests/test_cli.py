"""The `lazygrad` command, run as a subprocess (`python -m lazygrad`) in a temporary folder."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import lazygrad as lg
import lazygrad.viz as viz
from lazygrad.ir.passes import fuse
from lazygrad.ir.passes.autodiff import BACKWARD_NODES
from lazygrad.runtime import kernel_source

ROOT = Path(__file__).resolve().parents[1]
SVG = "{http://www.w3.org/2000/svg}"
XLINK_TITLE = "{http://www.w3.org/1999/xlink}title"

# One training step; `step()` is shared with the tests, which rebuild the same graph in-process.
TRAIN = textwrap.dedent("""
    import lazygrad as lg


    def step():
        lg.manual_seed(0)
        x = lg.randn(8, 4)
        y = lg.randn(8, 1)
        w1 = lg.randn(4, 16, requires_grad=True)
        w2 = lg.randn(16, 1, requires_grad=True)
        loss = ((x @ w1).relu() @ w2 - y).pow(2).mean()
        loss.backward()
        with lg.no_grad():
            w1 -= w1.grad * 0.1
            w2 -= w2.grad * 0.1
        return loss, w1, w2


    if __name__ == "__main__":
        loss, w1, w2 = step()
        lg.realize(loss, w1, w2)
""")

TWO_SCHEDULES = textwrap.dedent("""
    import lazygrad as lg

    a = lg.tensor([[1.0, 2.0], [3.0, 4.0]])
    b = (a * 2).sum()
    print(b.item())
    c = (a @ a).exp()
    c.realize()
""")

DEEP = textwrap.dedent("""
    import lazygrad as lg

    x = lg.tensor([1.0, 2.0, 3.0])
    for i in range(120):
        x = (x * 1.5 + 1.0).sum(0, keepdim=True).expand(3) if i % 20 == 19 else x * 0.5 + 1.0
    x.realize()
""")

FAILING = textwrap.dedent("""
    import lazygrad as lg

    def broken():
        raise ValueError("boom\\nsecond line")

    x = lg.ones(3)
    broken()
""")


def run_cli(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        k: v for k, v in os.environ.items() if k not in ("LAZYGRAD_DEBUG", "LAZYGRAD_DOT")
    }
    environment.update(PYTHONPATH=str(ROOT), **env)
    return subprocess.run(
        [sys.executable, "-m", "lazygrad", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def train_tensors() -> tuple[lg.Tensor, ...]:
    namespace: dict[str, object] = {"__name__": "not_main"}
    exec(TRAIN, namespace)
    return namespace["step"]()  # type: ignore[operator]


def groups(path: Path, kind: str) -> list[ET.Element]:
    root = ET.parse(path).getroot()
    return [g for g in root.iter(f"{SVG}g") if g.get("class") == kind]


def cluster_tooltip(cluster: ET.Element) -> str:
    link = next(cluster.iter(f"{SVG}a"))
    return link.get(XLINK_TITLE, "").replace("\xa0", " ")


@pytest.fixture(autouse=True)
def _renderer() -> None:
    try:
        viz.find_renderer()
    except viz.RendererNotFoundError:
        pytest.skip("no Graphviz renderer (dot or graphviz-pure)")


def test_viz_script_draws_kernels_as_clusters(tmp_path):
    (tmp_path / "train.py").write_text(TRAIN)
    proc = run_cli(tmp_path, "viz", "train.py", "--kernels")
    assert proc.returncode == 0, proc.stderr
    svg = tmp_path / "lazygrad-graph.svg"
    assert f"wrote {svg.name}" in proc.stdout
    tensors = train_tensors()
    kernels = lg.schedule(*tensors).kernels
    clusters = groups(svg, "cluster")
    assert len(clusters) == len(kernels)
    assert len(groups(svg, "node")) == viz.Graph(tensors).node_count(kernels=True)
    tips = [cluster_tooltip(c) for c in clusters]
    assert sorted(tips) == sorted(kernel_source(k) for k in kernels)  # hovering shows the code
    assert any(label.text and "w1" in label.text for label in svg_texts(svg))


def svg_texts(path: Path) -> list[ET.Element]:
    return list(ET.parse(path).getroot().iter(f"{SVG}text"))


def test_viz_script_recorded_graph_has_a_node_per_ir_node(tmp_path):
    (tmp_path / "train.py").write_text(TRAIN)
    proc = run_cli(tmp_path, "viz", "train.py", "-o", "step.svg")
    assert proc.returncode == 0, proc.stderr
    tensors = train_tensors()
    assert len(groups(tmp_path / "step.svg", "node")) == viz.Graph(tensors).node_count()
    assert groups(tmp_path / "step.svg", "cluster") == []


def test_viz_backward_marks_backward_nodes(tmp_path):
    (tmp_path / "train.py").write_text(TRAIN)
    assert run_cli(tmp_path, "viz", "train.py", "--backward").returncode == 0
    marked = (tmp_path / "lazygrad-graph.svg").read_text().count(f'fill="{viz._BACKWARD_FILL}"')
    graph = viz.Graph(train_tensors())
    assert marked == sum(1 for _, d in graph.to_networkx().nodes(data=True) if d["backward"])
    assert marked > 0
    assert any(n in BACKWARD_NODES for n in graph.nodes)
    assert run_cli(tmp_path, "viz", "train.py", "-o", "plain.svg").returncode == 0
    assert viz._BACKWARD_FILL not in (tmp_path / "plain.svg").read_text()


def test_viz_expression(tmp_path):
    expression = "(lg.ones(4, 4) @ lg.arange(16.0).reshape(4, 4)).relu().sum()"
    proc = run_cli(tmp_path, "viz", "-e", expression, "--kernels")
    assert proc.returncode == 0, proc.stderr
    tensor = eval(expression, {"lg": lg})
    svg = tmp_path / "lazygrad-graph.svg"
    assert len(groups(svg, "cluster")) == len(lg.schedule(tensor)) > 0
    assert len(groups(svg, "node")) == viz.Graph([tensor]).node_count(kernels=True)


def test_viz_edges_into_another_kernel_say_why(tmp_path):
    expression = "(lg.ones(4, 6) @ lg.ones(6, 3)).T + 1"
    proc = run_cli(tmp_path, "viz", "-e", expression, "--kernels")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.rstrip().endswith(", 2 kernels)")
    svg = tmp_path / "lazygrad-graph.svg"
    links = [link for edge in groups(svg, "edge") for link in edge.iter(f"{SVG}a")]
    titles = {link.get(XLINK_TITLE, "").replace("\xa0", " ") for link in links}
    rule = fuse.RULES["view across elements"]
    assert titles == {f"kernel boundary, view across elements: {rule.explanation}"}
    assert any(rule.label == text.text for text in svg_texts(svg))


def test_viz_numbers_one_file_per_schedule(tmp_path):
    (tmp_path / "two.py").write_text(TWO_SCHEDULES)
    proc = run_cli(tmp_path, "viz", "two.py")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == "20.0"  # the script's own output comes first
    assert sorted(p.name for p in tmp_path.glob("*.svg")) == [
        "lazygrad-graph-1.svg",
        "lazygrad-graph-2.svg",
    ]
    assert run_cli(tmp_path, "viz", "two.py", "-o", "out/").returncode == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "lazygrad-graph-1.svg",
        "lazygrad-graph-2.svg",
    ]


def test_viz_writes_exactly_the_file_asked_for(tmp_path):
    """-o FILE holds every schedule: one SVG with a drawing per schedule (each titled), or
    one DOT file with a graph per schedule."""
    (tmp_path / "two.py").write_text(TWO_SCHEDULES)
    proc = run_cli(tmp_path, "viz", "two.py", "-o", "one.svg")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.glob("*.svg")) == ["one.svg"]
    root = ET.parse(tmp_path / "one.svg").getroot()
    drawings = root.findall(f"{SVG}g")
    assert [g.find(f"{SVG}title").text for g in drawings] == ["schedule 1", "schedule 2"]
    assert all(g.find(f"{SVG}svg") is not None for g in drawings)
    assert run_cli(tmp_path, "viz", "two.py", "-o", "g.dot").returncode == 0
    assert not (tmp_path / "g-2.dot").exists()
    assert (tmp_path / "g.dot").read_text().count("digraph lazygrad {") == 2


def test_viz_collapses_large_graphs_and_says_so(tmp_path):
    (tmp_path / "deep.py").write_text(DEEP)
    proc = run_cli(tmp_path, "viz", "deep.py", "--kernels", "--max-nodes", "50")
    assert proc.returncode == 0, proc.stderr
    assert "each kernel drawn as one node" in proc.stderr
    svg = tmp_path / "lazygrad-graph.svg"
    assert groups(svg, "cluster") == []
    assert len(groups(svg, "node")) < 50


def test_kernels_prints_the_generated_source(tmp_path):
    (tmp_path / "train.py").write_text(TRAIN)
    proc = run_cli(tmp_path, "kernels", "train.py")
    assert proc.returncode == 0, proc.stderr
    blocks = proc.stdout.split("# ==== kernel ")[1:]
    kernels = lg.schedule(*train_tensors()).kernels
    assert len(blocks) == len(kernels)
    for block, kernel in zip(blocks, kernels, strict=True):
        header, _, source = block.partition("\n")
        assert f": {kernel.name} on {kernel.device} (ops: " in header
        assert source.strip() == kernel_source(kernel).strip()


def test_devices_lists_cpu_and_opencl(tmp_path):
    proc = run_cli(tmp_path, "devices")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "cpu"
    if lg.opencl.is_available():
        assert any(line.startswith("opencl:0 ") for line in lines)


@pytest.mark.parametrize(
    "case",
    [
        "missing script",
        "script raises",
        "no renderer",
        "unwritable output",
        "bad expression",
        "not a tensor",
    ],
)
def test_errors_are_one_line(tmp_path, case):
    (tmp_path / "train.py").write_text(TRAIN)
    (tmp_path / "bad.py").write_text(FAILING)
    (tmp_path / "file.txt").write_text("")
    args, env, expected = {
        "missing script": (["viz", "nope.py"], {}, "no such script: nope.py"),
        "script raises": (["kernels", "bad.py"], {}, "ValueError: boom"),
        "no renderer": (
            ["viz", "train.py"],
            {"LAZYGRAD_DOT": "no-such-renderer"},
            "no Graphviz renderer",
        ),
        "unwritable output": (
            ["viz", "train.py", "-o", "file.txt/g.svg"],
            {},
            "cannot write file.txt/g.svg",
        ),
        "bad expression": (["viz", "-e", "lg.ones(3"], {}, "bad expression"),
        "not a tensor": (["viz", "-e", "1 + 1"], {}, "not a Tensor"),
    }[case]
    proc = run_cli(tmp_path, *args, **env)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("lazygrad: ") and expected in lines[0]
    if case == "script raises":
        assert proc.returncode == 1 and lines[0].endswith("bad.py:5)")


def test_the_readme_picture_is_what_the_readme_command_draws(tmp_path):
    """docs/training-step.svg can never go stale: the README's command, run now, draws the
    same kernels and nodes (regenerate it with that command when this fails)."""
    root = Path(__file__).resolve().parent.parent
    proc = run_cli(
        root,
        "viz",
        "docs/training_step.py",
        "--kernels",
        "--backward",
        "-o",
        str(tmp_path / "fresh.svg"),
    )
    assert proc.returncode == 0, proc.stderr

    def drawn(path: Path) -> tuple[list[str], int]:
        svg = ET.parse(path).getroot()
        clusters = [g for g in svg.iter(f"{SVG}g") if g.get("class") == "cluster"]
        labels = sorted(" ".join(t.text or "" for t in g.iter(f"{SVG}text")) for g in clusters)
        return labels, len([g for g in svg.iter(f"{SVG}g") if g.get("class") == "node"])

    assert drawn(root / "docs" / "training-step.svg") == drawn(tmp_path / "fresh.svg"), (
        "regenerate: lazygrad viz docs/training_step.py --kernels --backward "
        "-o docs/training-step.svg"
    )


def test_viz_kernel_view_names_inputs_and_outputs_and_nodes_draws_everything(tmp_path):
    (tmp_path / "deep.py").write_text(DEEP)
    proc = run_cli(tmp_path, "viz", "deep.py", "--kernels", "--max-nodes", "50")
    assert proc.returncode == 0, proc.stderr
    texts = [
        t.text or "" for t in ET.parse(tmp_path / "lazygrad-graph.svg").getroot().iter(f"{SVG}text")
    ]
    assert any(t.startswith("in: ") for t in texts) and any(
        t.startswith("out: float32[") for t in texts
    )
    # a shorter chain (~65 nodes): laying out all 259 of DEEP's takes graphviz-pure minutes
    (tmp_path / "deep.py").write_text(DEEP.replace("range(120)", "range(30)"))
    proc = run_cli(tmp_path, "viz", "deep.py", "--kernels", "--max-nodes", "50")
    assert "each kernel drawn as one node" in proc.stderr
    proc = run_cli(tmp_path, "viz", "deep.py", "--kernels", "--max-nodes", "50", "--nodes")
    assert proc.returncode == 0, proc.stderr
    assert "each kernel drawn as one node" not in proc.stderr
    assert len(groups(tmp_path / "lazygrad-graph.svg", "node")) >= 50
