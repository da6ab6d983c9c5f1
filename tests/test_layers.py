"""The package's floors: every import (function-level ones included) points down or sideways,
never up, and no modules import each other in a loop. See docs/architecture.md."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

PACKAGE = Path(__file__).resolve().parent.parent / "lazygrad"

# lowest first; a module is on the floor of its longest matching prefix ("lazygrad" itself,
# the package's face, matches only exactly)
FLOORS: list[tuple[str, tuple[str, ...]]] = [
    (
        "ground",
        (
            "lazygrad.dtypes",
            "lazygrad.size",
            "lazygrad.debug",
            "lazygrad.live",
            "lazygrad.recording",
            "lazygrad.autograd_state",
            "lazygrad.formatting",
            "lazygrad.lru",
            "lazygrad.buffer",
        ),
    ),
    ("ir", ("lazygrad.ir",)),
    ("codegen", ("lazygrad.codegen",)),
    ("renderer", ("lazygrad.renderer",)),
    ("runtime", ("lazygrad.runtime",)),
    ("devices", ("lazygrad.device", "lazygrad.opencl")),
    ("tensor", ("lazygrad.tensor", "lazygrad.view_registry")),
    ("engine", ("lazygrad.engine",)),
    ("ops", ("lazygrad.frontend", "lazygrad.viz")),
    ("binding", ("lazygrad.frontend.methods",)),
    (
        "libraries",
        (
            "lazygrad.nn",
            "lazygrad.optim",
            "lazygrad.serialization",
            "lazygrad.utils",
            "lazygrad.distributed",
            "lazygrad.cuda",
            "lazygrad.accelerator",
        ),
    ),
    (
        "face",
        ("lazygrad", "lazygrad.__main__", "lazygrad.cli", "lazygrad.export", "lazygrad.explain"),
    ),
]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Every lazygrad module `name` imports, at any level of the file."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                as_module = f"{target}.{alias.name}"
                found.add(as_module if as_module in modules else target)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {m for m in found if m in modules and m != name}


def _matches(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def floor_of(name: str) -> int:
    """The floor number of a module (0 is the ground)."""
    best = None
    for number, (_, prefixes) in enumerate(FLOORS):
        for prefix in prefixes:
            exact_only = prefix == "lazygrad"
            if name == prefix or (not exact_only and name.startswith(prefix + ".")):
                if best is None or len(prefix) > best[0]:
                    best = (len(prefix), number)
    assert best is not None, f"{name} is on no floor: add it to FLOORS in {__file__}"
    return best[1]


def _graph() -> nx.DiGraph:
    modules = _modules()
    graph = nx.DiGraph()
    for name, path in modules.items():
        graph.add_node(name)
        for target in _imports(name, path, modules):
            graph.add_edge(name, target)
    return graph


def test_every_module_is_on_a_floor() -> None:
    for name in _modules():
        floor_of(name)


def test_imports_only_point_down() -> None:
    upward = [
        f"{a} (floor {floor_of(a)}) imports {b} (floor {floor_of(b)})"
        for a, b in _graph().edges
        if floor_of(b) > floor_of(a)
    ]
    assert not upward, "\n".join(upward)


def test_no_import_cycles() -> None:
    cycles = list(nx.simple_cycles(_graph()))
    assert not cycles, cycles


def test_the_checker_sees_function_level_imports(tmp_path: Path) -> None:
    """The test above would catch an upward import hidden in a function."""
    source = "def f():\n    from ..engine.realize import realize\n"
    path = PACKAGE / "ir" / "node.py"
    tree_imports = _imports("lazygrad.ir.node", path, _modules())
    fake = tmp_path / "node.py"
    fake.write_text(source)
    hidden = _imports("lazygrad.ir.node", fake, {**_modules(), "lazygrad.ir.node": fake})
    assert "lazygrad.engine.realize" in hidden
    assert "lazygrad.engine.realize" not in tree_imports


def test_every_runtime_offers_the_backend_protocol() -> None:
    """The engine reaches runtimes only through `backend_for` and the `Backend` functions."""
    from lazygrad.runtime import Backend, backend_for

    wanted = [name for name in vars(Backend) if not name.startswith("_")]
    assert sorted(wanted) == ["prepare", "render", "run", "to_host"]
    for device in ("cpu", "opencl:0"):
        runtime = backend_for(device)
        assert all(callable(getattr(runtime, name, None)) for name in wanted), device
