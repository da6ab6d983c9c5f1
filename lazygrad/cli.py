"""The `lazygrad` command: see what the compiler does with a script.

    lazygrad viz SCRIPT.py [ARGS...] [-o OUT] [--backward] [--kernels] [--format svg|dot|png]
    lazygrad viz -e "EXPR"
    lazygrad kernels SCRIPT.py [ARGS...]
    lazygrad export SCRIPT.py -o OUT.py [--device cpu|opencl] [ARGS...]
    lazygrad devices

Every failure ends with one line on stderr and a non-zero exit status.
"""

from __future__ import annotations

import argparse
import os
import re
import runpy
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from .runtime import kernel_source
from .viz import (
    DEFAULT_MAX_NODES,
    FORMATS,
    Graph,
    RendererNotFoundError,
    find_renderer,
    plural,
    render_dot,
)

DEFAULT_STEM = "lazygrad-graph"


class CLIError(Exception):
    """A failure to report as one line (with the exit status to use)."""

    def __init__(self, message: str, status: int = 1):
        super().__init__(message)
        self.status = status


class _CaptureError(Exception):
    """Capturing a graph failed (a lazygrad bug, not the script's)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise CLIError(f"{message} (see `lazygrad {self._command()}--help`)", status=2)

    def _command(self) -> str:
        words = self.prog.split()[1:]
        return " ".join(words) + " " if words else ""


def _one_line(text: str) -> str:
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[0] + (" ..." if len(lines) > 1 else "") if lines else ""


# ---- running scripts ---------------------------------------------------------------------


def _script_location(err: BaseException, script: str) -> str:
    """`file:line` of the script's last frame in the traceback (or the syntax error)."""
    if isinstance(err, SyntaxError) and err.filename:
        return f"{err.filename}:{err.lineno}"
    return _location(traceback.extract_tb(err.__traceback__), script)


def _location(frames: traceback.StackSummary, script: str) -> str:
    """`file:line` of the script's last frame among `frames` (else the last frame)."""
    target = os.path.realpath(script)
    own = [f for f in frames if os.path.realpath(f.filename) == target]
    frame = (own or frames or [None])[-1]
    return "" if frame is None else f"{frame.filename}:{frame.lineno}"


def run_script(
    script: str, args: Sequence[str], listener: Callable[[Any, list[Any]], None]
) -> None:
    """Run `script` as __main__ with `args`, calling `listener` on each realized schedule."""
    from .engine.realize import schedule_listeners

    if not Path(script).is_file():
        raise CLIError(f"no such script: {script}")
    saved_argv, saved_path = sys.argv, list(sys.path)
    sys.argv = [script, *args]
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    schedule_listeners.append(listener)
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as stop:
        if stop.code not in (None, 0):
            status = stop.code if isinstance(stop.code, int) else 1
            raise CLIError(f"{script} exited with status {stop.code}", status) from None
    except _CaptureError as err:
        raise CLIError(f"could not capture a graph: {_one_line(str(err))}") from None
    except CLIError:  # a listener's own verdict, already one line
        raise
    except KeyboardInterrupt:
        raise CLIError("interrupted", 130) from None
    except Exception as err:
        where = _script_location(err, script)
        message = _one_line(err.msg if isinstance(err, SyntaxError) else str(err))
        raise CLIError(
            f"{script} raised {type(err).__name__}{': ' + message if message else ''} ({where})"
        ) from None
    finally:
        schedule_listeners.remove(listener)
        sys.argv, sys.path[:] = saved_argv, saved_path


def _guarded(listener: Callable[[Any, list[Any]], None]) -> Callable[[Any, list[Any]], None]:
    """`listener`, with its own failures told apart from the script's."""

    def call(schedule: Any, tensors: list[Any]) -> None:
        try:
            listener(schedule, tensors)
        except CLIError:
            raise
        except Exception as err:
            raise _CaptureError(f"{type(err).__name__}: {err}") from err

    return call


# ---- viz ---------------------------------------------------------------------------------


def output_paths(out: str | None, count: int, fmt: str) -> list[Path]:
    """Where `count` drawings go: see `lazygrad viz --help`."""
    if out is None:
        if count == 1:
            return [Path(f"{DEFAULT_STEM}.{fmt}")]
        return [Path(f"{DEFAULT_STEM}-{i}.{fmt}") for i in range(1, count + 1)]
    if out.endswith(("/", os.sep)) or Path(out).is_dir():
        return [Path(out) / f"{DEFAULT_STEM}-{i}.{fmt}" for i in range(1, count + 1)]
    path = Path(out)
    if count == 1:
        return [path]
    return [path.with_name(f"{path.stem}-{i}{path.suffix}") for i in range(1, count + 1)]


def _format(args: argparse.Namespace) -> str:
    if args.format:
        return args.format
    suffix = Path(args.output).suffix.lstrip(".").lower() if args.output else ""
    return {"gv": "dot"}.get(suffix, suffix) if suffix in (*FORMATS, "gv") else "svg"


def _write(path: Path, data: bytes) -> None:
    try:
        if path.parent != Path("."):
            path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError as err:
        raise CLIError(f"cannot write {path}: {err.strerror or err}") from None


class _Drawings:
    """Graphs captured from schedules, as DOT text, ready to render."""

    def __init__(self, args: argparse.Namespace):
        self.kernels, self.backward = args.kernels, args.backward
        self.max_nodes = 2**62 if args.nodes else args.max_nodes
        self.dots: list[str] = []
        self.summaries: list[str] = []

    def add(self, graph: Graph) -> None:
        number = len(self.dots) + 1
        note = graph.collapse_note(self.kernels)
        if note:
            print(f"lazygrad: graph {number}: {note} (see --max-nodes)", file=sys.stderr)
        self.dots.append(graph.to_dot(self.kernels, self.backward))
        nodes, kernels = graph.node_count(self.kernels), len(graph.schedule.kernels)
        self.summaries.append(f"{plural(nodes, 'node')}, {plural(kernels, 'kernel')}")

    def listener(self, schedule: Any, tensors: list[Any]) -> None:
        # Rebuilt rather than `schedule`, which may come from the schedule cache: built for an
        # earlier graph of the same structure, its nodes are not this graph's.
        self.add(Graph(tensors, max_nodes=self.max_nodes))

    def write(self, out: str | None, fmt: str) -> None:
        if out is not None and len(self.dots) > 1 and fmt in ("svg", "dot") and not _is_dir(out):
            self._write_one(Path(out), fmt)
            return
        paths = output_paths(out, len(self.dots), fmt)
        for dot, path, summary in zip(self.dots, paths, self.summaries, strict=True):
            _write(path, self._rendered(dot, fmt))
            print(f"wrote {path} ({summary})")

    def _write_one(self, path: Path, fmt: str) -> None:
        """Several schedules into exactly `path`: one graph after another (DOT files may
        hold several), or one SVG with each schedule's drawing below the last."""
        if fmt == "dot":
            data = "\n".join(self.dots).encode()
        else:
            data = stack_svgs([self._rendered(dot, fmt) for dot in self.dots])
        _write(path, data)
        print(f"wrote {path} ({len(self.dots)} schedules: {'; '.join(self.summaries)})")

    @staticmethod
    def _rendered(dot: str, fmt: str) -> bytes:
        try:
            return render_dot(dot, fmt)
        except RuntimeError as err:
            raise CLIError(f"rendering failed: {_one_line(str(err))}") from None


def _is_dir(out: str) -> bool:
    return out.endswith(("/", os.sep)) or Path(out).is_dir()


_SVG_SIZE = re.compile(rb'<svg\b[^>]*?\bwidth="([\d.]+)pt"[^>]*?\bheight="([\d.]+)pt"', re.S)


def stack_svgs(drawings: list[bytes]) -> bytes:
    """One SVG holding each drawing below the last (each keeps its own <svg> element,
    titled "schedule N", so its tooltips and links still work)."""
    parts, width, top = [], 0.0, 0.0
    for number, svg in enumerate(drawings, 1):
        start = svg.index(b"<svg")
        size = _SVG_SIZE.search(svg, start)
        assert size is not None, "graphviz SVG without a size in points"
        w, h = float(size.group(1)), float(size.group(2))
        inner = svg[start:].replace(b"<svg", f'<svg x="0" y="{top}"'.encode(), 1)
        parts.append(f"<g><title>schedule {number}</title>".encode() + inner + b"</g>")
        width, top = max(width, w), top + h
    head = (
        '<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
        f'<svg width="{width}pt" height="{top}pt" viewBox="0 0 {width} {top}" '
        'xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">\n'
    )
    return head.encode() + b"\n".join(parts) + b"\n</svg>\n"


def _check_renderer() -> None:
    try:
        find_renderer()
    except RendererNotFoundError as err:
        raise CLIError(str(err)) from None


def _evaluate(expression: str) -> list[Any]:
    """The tensors an expression gives (`lg`, `lazygrad` and `np` in scope)."""
    import numpy as np

    import lazygrad
    from lazygrad import Tensor

    namespace = {"lg": lazygrad, "lazygrad": lazygrad, "np": np}
    try:
        code = compile(expression, "<expression>", "eval")
    except SyntaxError as err:
        raise CLIError(f"bad expression: {err.msg} (column {err.offset})", 2) from None
    try:
        value = eval(code, namespace)  # noqa: S307 - evaluating the user's expression is the job
    except Exception as err:
        raise CLIError(
            f"expression raised {type(err).__name__}: {_one_line(str(err))}", 2
        ) from None
    values = list(value) if isinstance(value, list | tuple) else [value]
    if not values or not all(isinstance(v, Tensor) for v in values):
        kinds = ", ".join(sorted({type(v).__name__ for v in values})) or "nothing"
        raise CLIError(f"bad expression: it gave {kinds}, not a Tensor (or tuple of them)", 2)
    return values


def cmd_viz(args: argparse.Namespace) -> int:
    """`lazygrad viz`: draw the graphs a script realizes, or one expression."""
    if (args.script is None) == (args.expression is None):
        raise CLIError("give a SCRIPT or -e EXPR (one of them)", 2)
    fmt = _format(args)
    if fmt != "dot":
        _check_renderer()  # before running what may be a long script
    drawings = _Drawings(args)
    if args.expression is not None:
        tensors = _evaluate(args.expression)
        drawings.add(Graph(tensors, max_nodes=drawings.max_nodes, names={}))
    else:
        run_script(args.script, args.args, _guarded(drawings.listener))
        if not drawings.dots:
            raise CLIError(f"{args.script} realized no tensors: nothing to draw")
    drawings.write(args.output, fmt)
    return 0


# ---- kernels, devices --------------------------------------------------------------------


def kernel_header(number: int, kernel: Any) -> str:
    """The line printed above each kernel's source."""
    ops = ", ".join(kernel.ops) or "-"
    return f"# ==== kernel {number}: {kernel.name} on {kernel.device} (ops: {ops}) ===="


def cmd_kernels(args: argparse.Namespace) -> int:
    """`lazygrad kernels`: print the generated source of every kernel the script runs."""
    count = 0

    def listener(schedule: Any, tensors: list[Any]) -> None:
        nonlocal count
        for kernel in schedule.kernels:
            count += 1
            print(kernel_header(count, kernel))
            print(kernel_source(kernel).rstrip("\n"), end="\n\n", flush=True)

    run_script(args.script, args.args, _guarded(listener))
    if count == 0:
        print(f"lazygrad: {args.script} ran no kernels", file=sys.stderr)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """`lazygrad export`: write the schedules a script realizes as one standalone module."""
    from .export import ScriptExport, UnsupportedError, opencl_source_path

    try:
        collected = ScriptExport(args.device, args.script)
        if collected.device != "cpu":
            opencl_source_path(args.output)
    except (RuntimeError, ValueError) as err:  # a bad device, or -o naming a .cl file
        raise CLIError(str(err), 2) from None
    refused: list[str] = []

    def listener(schedule: Any, tensors: list[Any]) -> None:
        try:
            collected.add(tensors)
        except UnsupportedError as err:
            where = _location(traceback.extract_stack(), args.script)
            refused.append(f"cannot export {args.script}: {err} (realized at {where})")
            raise CLIError(refused[0]) from None

    run_script(args.script, args.args, _guarded(listener))
    if refused:  # the script caught the error itself
        raise CLIError(refused[0])
    if not collected.functions:
        raise CLIError(f"{args.script} realized no tensors: nothing to export")
    files = collected.files(args.output)
    for path, text in files.items():
        _write(path, text.encode())
    count = plural(len(collected.functions), "function")
    realizes = plural(sum(collected.runs), "realize")
    print(f"wrote {' and '.join(map(str, files))} ({count}, from {realizes})")
    return 0


def cmd_devices(args: argparse.Namespace) -> int:
    """`lazygrad devices`: every usable device, one per line."""
    from .runtime import opencl_device

    print("cpu")
    for name in opencl_device.device_names():
        print(name)
    return 0


# ---- the parser --------------------------------------------------------------------------


def _add_script(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument(
        "script",
        nargs=None if required else "?",
        metavar="SCRIPT.py",
        help="the Python script to run (as __main__); arguments this command "
        "does not know (or all after `--`) are passed on to it",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `lazygrad` command."""
    parser = _Parser(prog="lazygrad", description="See what the lazygrad compiler does.")
    parser.add_argument("--version", action="version", version=_version())
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    viz = commands.add_parser(
        "viz",
        help="draw the graphs a script realizes (or -e EXPR)",
        description="Draw the IR graph of every schedule SCRIPT realizes "
        "(one file each), or of one expression.",
    )
    viz.add_argument(
        "-e",
        "--expression",
        metavar="EXPR",
        help="draw this expression instead (lg, lazygrad and np in scope)",
    )
    viz.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        help="output file (several schedules go into it, one below the other, for svg and "
        "dot), or a directory (existing, or ending with /) for numbered files (default: "
        f"{DEFAULT_STEM}.svg, numbered when several)",
    )
    viz.add_argument("--backward", action="store_true", help="colour backward-pass nodes")
    viz.add_argument(
        "--kernels",
        action="store_true",
        help="draw the lowered graph, one cluster per fused kernel",
    )
    viz.add_argument(
        "--format", choices=FORMATS, help="output format (default: svg, or the suffix of -o)"
    )
    viz.add_argument(
        "--max-nodes",
        type=int,
        default=DEFAULT_MAX_NODES,
        metavar="N",
        help="above N nodes draw one node per kernel (default: %(default)s)",
    )
    viz.add_argument(
        "--nodes",
        action="store_true",
        help="always draw every node (no kernel-level view, whatever the size)",
    )
    _add_script(viz, required=False)
    viz.set_defaults(run=cmd_viz)
    kernels = commands.add_parser(
        "kernels",
        help="print the generated source of each kernel",
        description="Run SCRIPT and print the source of every kernel it runs.",
    )
    _add_script(kernels)
    kernels.set_defaults(run=cmd_kernels)
    export = commands.add_parser(
        "export",
        help="write the schedules a script realizes as a standalone module",
        description="Run SCRIPT and write every schedule it realizes as one Python module "
        "that needs only NumPy (or NumPy and pyopencl, with the OpenCL C beside it): one "
        "function per schedule, taking its input buffers as arrays and the key of each random "
        "draw N as the keywords seed_N and counter_N (its docstring lists them). Random draws "
        "are lazygrad's own (its generator is written into the module); collectives are not "
        "exported.",
    )
    export.add_argument(
        "-o", "--output", metavar="OUT.py", required=True, help="the module to write"
    )
    export.add_argument(
        "--device",
        default="cpu",
        help="cpu (NumPy code, the default) or opencl[:N] (OpenCL C, its file beside OUT.py "
        "with the suffix .cl)",
    )
    _add_script(export)
    export.set_defaults(run=cmd_export)
    devices = commands.add_parser("devices", help="list usable devices")
    devices.set_defaults(run=cmd_devices)
    return parser


def _version() -> str:
    from . import __version__

    return f"lazygrad {__version__}"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `lazygrad` console script; returns the exit status."""
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if args.command is None:
            raise CLIError(
                "choose a command: viz, kernels, export or devices (see `lazygrad --help`)", 2
            )
        if extra and getattr(args, "script", None) is None:
            raise CLIError(f"unrecognized arguments: {' '.join(extra)}", 2)
        args.args = extra[1:] if extra[:1] == ["--"] else extra
        return args.run(args)
    except CLIError as err:
        print(f"lazygrad: {_one_line(str(err))}", file=sys.stderr)
        return err.status
    except BrokenPipeError:
        return 1
    except Exception as err:  # a lazygrad bug: still one line, the traceback on request
        if os.environ.get("LAZYGRAD_DEBUG"):
            traceback.print_exc()
        print(
            f"lazygrad: internal error: {type(err).__name__}: {_one_line(str(err))} "
            "(LAZYGRAD_DEBUG=1 shows the traceback)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
