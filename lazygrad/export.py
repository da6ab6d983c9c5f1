"""`lg.export(fn, *example_args, path=...)`: a function's compiled tensor program as a
standalone Python module that needs only NumPy.

Exporting runs `fn` once, lazily, on fresh copies of the example tensors (so the caller's
tensors are left as they were) while `lazygrad.recording` notes which arguments `fn`
updates in place. The tensors it returns and the arguments it updated are then scheduled
together, as one realize would, and the schedule is written out: the NumPy source of each
kernel (as `renderer.numpy` renders it), the runtime helpers that source calls, and one
public function that checks its arguments and calls the kernels in order, handing each
kernel's outputs to the kernels that read them (the buffer plan of `runtime.cpu.Program`,
with `del` where that program returns an array to its pool).

The public function takes the tensor arguments as arrays and the Python scalar arguments
as keywords (defaults: the example call's values) and returns, in this order, the tensors
`fn` returned, then the arguments it updated in place that it did not return.

A float argument becomes a real parameter of the program when the traced program does not
depend on its value (it reaches the kernels only as a scalar argument); any other scalar
(an int, a bool, or a float the program is specialized on) is fixed to its example value,
and passing another value raises ValueError.
"""

from __future__ import annotations

import base64
import inspect
import io
import keyword
import math
import tokenize
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import recording
from .engine.realize import _LeafValues
from .frontend.creation import tensor
from .ir.cache_key import structural_key
from .ir.node import Node
from .ir.ops import Op
from .ir.schedule import Schedule, build_schedule
from .runtime import cpu
from .tensor import Tensor

# Values a float argument takes while probing whether the program depends on it: odd
# enough that no constant of a program equals one by chance, and none a value that
# simplification specializes on (see `ir.node.SPECIAL_VALUES`).
_PROBES = (0.3183098861837907, 0.2718281828459045)
LINE_LENGTH = 92  # the program's lines (in its function) that are longer are wrapped


# ---- the helpers the generated kernels call, as plain functions -----------------------------
_HELPER_SOURCES = {
    "_take": '''
def _take(shape, dtype):
    """A new array for a kernel to write (lazygrad reuses one from a pool)."""
    return np.empty(shape, dtype)
''',
    "_release": '''
def _release(arrays):
    """Scratch arrays a kernel is done with (lazygrad returns them to its pool)."""
    arrays.clear()
''',
    "_own": '''
def _own(value, shape, dtype):
    """A new array holding `value` broadcast to `shape`."""
    out = np.empty(shape, dtype)
    np.copyto(out, np.broadcast_to(np.asarray(value, dtype=dtype), shape))
    return out
''',
    "_view": '''
def _view(flat, shape, strides, offset, mask):
    """Read a flat array through a strided view (positions outside `mask` read 0)."""
    if mask is not None:
        out = np.zeros(shape, flat.dtype)
        if all(hi > lo for lo, hi in mask):
            start = offset + sum(lo * s for (lo, _), s in zip(mask, strides, strict=True))
            inner = tuple(hi - lo for lo, hi in mask)
            window = tuple(slice(lo, hi) for lo, hi in mask)
            out[window] = _view(flat, inner, strides, start, None)
        return out
    if shape == ():
        return np.broadcast_to(flat[offset : offset + 1].reshape(()), ())
    if 0 in shape:
        return np.zeros(shape, flat.dtype)
    byte_strides = tuple(s * flat.itemsize for s in strides)
    return np.lib.stride_tricks.as_strided(flat[offset:], shape, byte_strides, writeable=False)
''',
    "_arange": '''
def _arange(start, step, count, dtype):
    """start + i * step for i < count, computed in the target dtype."""
    if np.dtype(dtype).kind == "f":
        return (np.arange(count, dtype=np.float64) * step + start).astype(dtype)
    return np.arange(start, start + count * step, step, dtype=dtype)[:count]
''',
    "_select": '''
def _select(cond, x, y, out):
    """where(cond, x, y) written into `out` (which may be x's or y's array)."""
    np.copyto(out, np.where(cond, x, y))
    return out
''',
    "_max_by_columns": '''
def _max_by_columns(x, out):
    """The max over the last axis of `x` into `out` (that axis kept as 1)."""
    np.copyto(out, np.max(x, axis=-1, keepdims=True))
    return out
''',
    "_gather": '''
def _gather(source, positions, out):
    """The elements of `source` at `positions`, into `out`."""
    try:
        return np.take(source, positions, out=out)
    except IndexError:
        raise IndexError("index out of bounds: an index held a value outside its dimension")
''',
    "_scatter": '''
def _scatter(flat, positions, values, add):
    """Write (with `add`, accumulate) `values` into `flat` at `positions`."""
    try:
        if add:
            np.add.at(flat, positions, values)
        else:
            flat[positions] = values
    except IndexError:
        raise IndexError("index out of bounds: an index held a value outside its dimension")
''',
    "inf": "\ninf = np.inf\n",
    "nan": "\nnan = np.nan\n",
}
# the runtime's own integer power needs nothing but NumPy: written out as it is
_HELPER_SOURCES["_int_power"] = "\n" + inspect.getsource(cpu.int_power).replace(
    "def int_power(", "def _int_power(", 1
)

_CHECK_SOURCE = '''
def _check(name, value, shape, dtype):
    """`value` as a flat array, after checking its shape and dtype."""
    array = np.asarray(value)
    if array.shape != shape or array.dtype != np.dtype(dtype):
        raise ValueError(
            f"{name}: expected an array of shape {shape} and dtype {dtype}, "
            f"got shape {array.shape} and dtype {array.dtype}"
        )
    return np.ascontiguousarray(array).reshape(-1)
'''

_FIXED_SOURCE = '''
def _fixed(name, value, expected):
    """Check a scalar argument the program was specialized on."""
    if value != expected:
        raise ValueError(
            f"{name}: this program was exported for {name}={expected!r} (it was specialized "
            f"on that value), got {value!r}"
        )
'''


# ---- tracing ----------------------------------------------------------------------------------
@dataclass
class _Trace:
    """One run of `fn` under recording, scheduled: the schedule, which argument each input
    buffer belongs to, the outputs (label, requested node) in order, and the structural
    key and PARAM nodes (to compare traces with different scalar values)."""

    schedule: Schedule
    arg_of_buffer: dict[int, int]
    outputs: list[tuple[str, Node]]
    key: tuple
    params: list[Node]
    single: bool  # whether the program returns one array (not a tuple)
    keep: list[Any] = field(default_factory=list)  # keeps buffers (and their ids) alive


def _fresh(value: Any, device: str | None) -> Any:
    """A new tensor with the values of a tensor (or array) argument; other values as is."""
    if isinstance(value, np.ndarray):
        return tensor(value, device=device or "cpu")
    if not isinstance(value, Tensor):
        return value
    host = value.detach().numpy()
    return tensor(host, device=device or value.device, requires_grad=value.requires_grad)


def _flat_result(result: Any) -> list[Tensor]:
    """The tensors `fn` returned: one tensor, or a tuple or list of them."""
    items = list(result) if isinstance(result, tuple | list) else [result]
    for item in items:
        if not isinstance(item, Tensor):
            raise TypeError(
                "export: the function must return a tensor or a tuple or list of tensors, "
                f"got a {type(item).__name__}"
            )
    return items


def _trace(fn: Callable, args: list[Any], names: list[str], device: str | None) -> _Trace:
    """Run `fn` lazily on fresh copies of `args` and schedule what it returns and updates."""
    copies = [_fresh(a, device) for a in args]
    tensors = {i: t for i, t in enumerate(copies) if isinstance(t, Tensor)}
    starts = {id(t._node.arg): i for i, t in tensors.items()}  # fresh tensors: BUFFER nodes
    keep = [t._node.arg for t in tensors.values()]
    rec = recording.Recording()
    recording.active = rec
    try:
        result = fn(*copies)
    finally:
        recording.active = None
    if rec.broken is not None:
        raise ValueError(f"export: cannot export {_function_name(fn)}: {rec.broken}")
    returned = _flat_result(result)
    copy_ids = {id(t): i for i, t in tensors.items()}
    for t, *_ in rec.changed.values():
        if id(t) not in copy_ids and id(t) not in rec.created:
            raise ValueError(
                f"export: {_function_name(fn)} updates a tensor that is not one of its arguments; "
                "pass it as an argument to export the update"
            )
    outputs = [(f"returned value {i}", t) for i, t in enumerate(returned)]
    returned_ids = {id(t) for t in returned}
    for t, *_ in rec.changed.values():
        i = copy_ids.get(id(t))
        if i is not None and id(t) not in returned_ids:
            outputs.append((f"argument {names[i]}, updated in place", t))
    nodes = list(dict.fromkeys(t._node for _, t in outputs))
    devices = {t._node: str(t.device) for _, t in outputs}
    stored = _LeafValues()
    key, _, params = structural_key(nodes, [devices[n] for n in nodes], stored)
    sched = build_schedule(nodes, devices, stored)
    keep.append(sched)
    single = isinstance(result, Tensor) and len(outputs) == 1
    labelled = [(label, t._node) for label, t in outputs]
    return _Trace(sched, starts, labelled, key, params, single, keep)


def _scalar_names(
    fn: Callable, args: list[Any], names: list[str], device: str | None
) -> tuple[_Trace, dict[Node, str]]:
    """Trace `fn` and find which float arguments are parameters of the program: returns
    the trace and, per PARAM node that stands for such an argument, the argument's name.

    The floats are given two sets of probe values: when both traces build the same program
    and each PARAM either keeps its value or holds a probe value in both, the program was
    traced with the probes in place (no simplification relied on the example values).
    Otherwise every scalar is fixed to its example value (the program is traced with
    them)."""
    floats = [i for i, a in enumerate(args) if type(a) is float]
    if not floats:
        return _trace(fn, args, names, device), {}
    traces = []
    for probe in _PROBES:
        probed = list(args)
        for k, i in enumerate(floats):
            probed[i] = probe + 0.001 * k
        try:
            traces.append(_trace(fn, probed, names, device))
        except Exception:  # noqa: BLE001 - a probe value the function rejects: keep them fixed
            break
    if len(traces) == 2 and _same_program(traces):
        first, second = traces
        found: dict[Node, str] = {}
        for a, b in zip(first.params, second.params, strict=True):
            if a.arg == b.arg:
                continue  # a constant of the program
            k = next((k for k in range(len(floats)) if _holds(a, _PROBES[0] + 0.001 * k)), None)
            if k is None or not _holds(b, _PROBES[1] + 0.001 * k):
                break  # a value computed from an argument: the arguments stay fixed
            found[a] = names[floats[k]]
        else:
            return first, found
    return _trace(fn, args, names, device), {}


def _holds(param: Node, value: float) -> bool:
    """Whether a PARAM node holds `value` (as its dtype stores it)."""
    return param.op is Op.PARAM and param.arg == param.dtype.np.type(value).item()


def _same_program(traces: list[_Trace]) -> bool:
    first, second = traces
    return first.key == second.key and len(first.params) == len(second.params)


def _is_array(value: Any) -> bool:
    return isinstance(value, Tensor | np.ndarray)


# ---- writing the module -----------------------------------------------------------------------
def _renamed(source: str, names: dict[str, str]) -> str:
    """`source` with the identifiers in `names` renamed (comments and strings untouched)."""
    tokens = []
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.NAME and tok.string in names:
            tok = tok._replace(string=names[tok.string])
        tokens.append(tok)
    return tokenize.untokenize(tokens)


def _split_statements(source: str) -> str:
    """One statement per line: `a; b` becomes two lines with `a`'s indentation."""
    lines = []
    for line in source.splitlines():
        code, sep, comment = line.partition("  #")
        parts = code.split("; ")
        indent = code[: len(code) - len(code.lstrip())]
        lines.extend([parts[0], *(indent + p for p in parts[1:])])
        if sep:
            lines[-1] += sep + comment
    return "\n".join(lines) + "\n"


def _kernel_source(kernel: Any, index: int) -> tuple[str, str, set[str]]:
    """A kernel's NumPy source as module text: its function named after the kernel and its
    module-level names prefixed with the kernel's, so kernels do not collide. Returns the
    function name, the text and the names the text reads."""
    source = cpu.render(kernel)
    tree_names = _module_names(source)
    fname = kernel.name if kernel.name.isidentifier() else f"kernel_{index}"
    renames = {n: f"_k{index}_{n.lstrip('_')}" for n in tree_names}
    renames["kernel"] = fname
    text = _split_statements(_renamed(source, renames).rstrip("\n"))
    if tree_names:  # two blank lines between its kept arrays and its function
        text = text.replace(f"\ndef {fname}(", f"\n\n\ndef {fname}(")
    used = {
        tok.string
        for tok in tokenize.generate_tokens(io.StringIO(text).readline)
        if tok.type == tokenize.NAME
    }
    return fname, text, used


def _module_names(source: str) -> set[str]:
    """The names a kernel's source assigns at module level (its kept arrays, `_erf`)."""
    names = set()
    for line in source.splitlines():
        target, sep, _ = line.partition(" = ")
        if sep and target.isidentifier() and not line.startswith(" "):
            names.add(target)
    return names


def _literal(value: Any, dtype: Any) -> str:
    """A NumPy scalar literal of `dtype`."""
    if isinstance(value, float) and not math.isfinite(value):
        text = "np.nan" if math.isnan(value) else ("np.inf" if value > 0 else "-np.inf")
    else:
        text = repr(value)
    return f"{_numpy_type(dtype)}({text})"


def _numpy_type(dtype: Any) -> str:
    """The NumPy scalar type of a dtype, as the module spells it (np.bool_ for NumPy 1 too)."""
    return "np.bool_" if dtype.name == "bool" else f"np.{dtype.name}"


def _constant(array: np.ndarray) -> str:
    """An expression building a copy of `array` (flat)."""
    if array.size <= 64:
        return f"np.array({array.tolist()!r}, dtype={array.dtype.name!r})"
    data = base64.b64encode(np.ascontiguousarray(array).tobytes()).decode()
    return f"np.frombuffer(base64.b64decode({data!r}), dtype={array.dtype.name!r}).copy()"


@dataclass
class _Writer:
    """Builds the program function's body from a trace."""

    trace: _Trace
    names: list[str]
    kwargs: dict[Node, str]  # PARAM node -> the keyword argument it stands for
    lines: list[str] = field(default_factory=list)
    constants: list[str] = field(default_factory=list)  # module-level lines
    value_of: dict[Node, str] = field(default_factory=dict)  # node -> flat array name
    array_of: dict[Node, str] = field(default_factory=dict)  # node -> shaped array name
    typed: dict[Node, str] = field(default_factory=dict)  # PARAM node -> its expression

    def input_name(self, node: Node) -> str:
        """The flat array of an input buffer: an argument, else a constant of the module."""
        if node in self.value_of:
            return self.value_of[node]
        buf = node.arg
        i = self.trace.arg_of_buffer.get(id(buf))
        if i is not None:
            name = f"{self.names[i]}_flat"
        else:
            name = f"_CONST{len(self.constants)}"
            self.constants.append(f"{name} = {_constant(cpu.to_host(buf))}")
        self.value_of[node] = name
        return name

    def param(self, node: Node) -> str:
        if node.op is Op.RAND:
            raise NotImplementedError("export: random draws are not exported yet")
        if node not in self.typed:
            name = self.kwargs.get(node)
            typed = f"{_numpy_type(node.dtype)}({name})"
            self.typed[node] = typed if name else _literal(node.arg, node.dtype)
        return self.typed[node]

    def call(self, k: int, kernel: Any, fname: str, dead: tuple[Node, ...]) -> None:
        """The line calling kernel `k`, the flat names of its outputs, the `del`s after it."""
        args = [self.input_or_output(n) for n in kernel.input_nodes]
        args += [self.param(p) for p in kernel.param_nodes]
        outs = [f"o{k}_{j}" for j in range(len(kernel.output_nodes))]
        self.lines += _call_lines(outs, fname, args)
        for node, name in zip(kernel.output_nodes, outs, strict=True):
            self.array_of[node] = name
        for node in dead:
            if node in self.array_of:
                self.lines.append(f"del {self.array_of.pop(node)}  # last read")
                self.value_of.pop(node, None)

    def input_or_output(self, node: Node) -> str:
        if node.op is Op.BUFFER:
            return self.input_name(node)
        if node not in self.value_of:  # an earlier kernel's output, read flat
            self.value_of[node] = f"{self.array_of[node]}.reshape(-1)"
        return self.value_of[node]

    def result(self, requested: Node) -> str:
        """The expression returning one output."""
        lowered = self.trace.schedule.targets[requested]
        shape = requested.shape
        if lowered.op is Op.BUFFER:  # an input (or constant) as is: a copy of it
            return f"{self.input_name(lowered)}.reshape({shape}).copy()"
        name = self.array_of[lowered]
        return name if lowered.shape == shape else f"{name}.reshape({shape})"


def _call_lines(outs: list[str], fname: str, args: list[str]) -> list[str]:
    """`outs = fname(args)`, with one argument a line where one line would be long."""
    target = f"({outs[0]},)" if len(outs) == 1 else ", ".join(outs)
    line = f"{target} = {fname}({', '.join(args)})"
    if len(line) <= LINE_LENGTH:
        return [line]
    return [f"{target} = {fname}(", *(f"    {a}," for a in args), ")"]


def _signature(name: str, names: list[str], args: list[Any]) -> str:
    """The public function's `def` line: arrays first, then scalars as keywords."""
    arrays = [n for n, a in zip(names, args, strict=True) if _is_array(a)]
    scalars = [f"{n}={a!r}" for n, a in zip(names, args, strict=True) if not _is_array(a)]
    return f"def {name}({', '.join([*arrays, '*', *scalars] if scalars else arrays)}):"


def _docstring(
    fn_name: str, names: list[str], args: list[Any], trace: _Trace, params: set[str]
) -> list[str]:
    """The public function's docstring: its arguments and results."""
    count = len(trace.schedule.kernels)
    kernels = f"{count} kernel{'' if count == 1 else 's'}"
    lines = [f'"""{fn_name}, as lazygrad compiled it: {kernels}.', ""]
    lines.append("Arguments:")
    for n, a in zip(names, args, strict=True):
        if _is_array(a):
            dtype, shape = _spec_of(a)
            lines.append(f"    {n}: a NumPy array, {dtype}{list(shape)}")
        elif n in params:
            lines.append(f"    {n}: a number (default {a!r})")
        else:
            lines.append(f"    {n}: fixed to {a!r} (the program was specialized on it)")
    lines += ["", "Returns, in this order:"]
    for i, (label, node) in enumerate(trace.outputs):
        lines.append(f"    {i}: {node.dtype.name}{list(node.shape)}, {label}")
    lines.append('"""')
    return lines


def _spec_of(value: Any) -> tuple[str, tuple[int, ...]]:
    """The NumPy dtype name and shape of a tensor or array argument."""
    if isinstance(value, Tensor):
        return value._node.dtype.name, tuple(value.shape)
    return value.dtype.name, value.shape


def _arg_names(fn: Callable, count: int) -> list[str]:
    """The names of `fn`'s first `count` parameters (arg0... where it has no signature)."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        params = []
    names = []
    for i in range(count):
        p = params[i] if i < len(params) else None
        positional = p is not None and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        names.append(p.name if positional else f"arg{i}")
    return names


def _function_name(fn: Callable) -> str:
    """The public function's name: `fn`'s, else "program" (for a lambda)."""
    name = getattr(fn, "__name__", "").lstrip("_")
    return name if name.isidentifier() and not keyword.iskeyword(name) else "program"


def export(
    fn: Callable[..., Any],
    *example_args: Any,
    path: str | Path = "step.py",
    device: str | None = None,
) -> Path:
    """Write the program `fn(*example_args)` compiles to as a standalone module at `path`,
    which imports only NumPy, and return the path.

    The module's one public function, named after `fn`, takes the tensor arguments as NumPy
    arrays (their shapes and dtypes checked: ValueError otherwise) and the scalar arguments
    as keywords defaulting to the example values, and returns NumPy arrays: the tensors
    `fn` returned, then the arguments it updated in place that it did not return (a
    training step's updated parameters), in argument order. Its docstring lists both.

    `device`: where to trace (None: the example tensors' device). Only NumPy code is
    written; "opencl" raises NotImplementedError."""
    if device is not None and str(device).split(":")[0] != "cpu":
        raise NotImplementedError(
            f"export: device={device!r}: only the NumPy program (device='cpu') can be exported "
            "so far; OpenCL export is not implemented"
        )
    args = list(example_args)
    for a in args:
        if isinstance(a, Tensor) and str(a.device) != "cpu" and device is None:
            device = "cpu"  # the program is written for NumPy: trace it there
    names = _arg_names(fn, len(args))
    for n, a in zip(names, args, strict=True):
        if not _is_array(a) and type(a) not in (bool, int, float):
            raise TypeError(
                f"export: argument {n} is a {type(a).__name__}: only tensors, NumPy arrays and "
                "Python numbers can be arguments of an exported function"
            )
    trace, kwargs = _scalar_names(fn, args, names, device)
    source = _module(fn, _function_name(fn), names, args, trace, kwargs)
    out = Path(path)
    out.write_text(source)
    return out


def _module(
    fn: Callable,
    name: str,
    names: list[str],
    args: list[Any],
    trace: _Trace,
    kwargs: dict[Node, str],
) -> str:
    """The module's text."""
    sched = trace.schedule
    for kernel in sched.kernels:
        if kernel.device.split(":")[0] != "cpu" or kernel.kind in ("copy", "collective"):
            raise NotImplementedError(f"export: a {kernel.kind} kernel on {kernel.device}")
    writer = _Writer(trace, names, kwargs)
    kernels, used = [], set()
    for k, (kernel, dead) in enumerate(zip(sched.kernels, sched.releases, strict=True)):
        fname, text, reads = _kernel_source(kernel, k)
        kernels.append(text)
        used |= reads
        writer.call(k, kernel, fname, dead)
    results = [writer.result(node) for _, node in trace.outputs]
    helpers = [src for helper, src in _HELPER_SOURCES.items() if helper in used]
    params = set(kwargs.values())
    body = _docstring(getattr(fn, "__name__", name), names, args, trace, params)
    for n, a in zip(names, args, strict=True):
        if _is_array(a):
            dtype, shape = _spec_of(a)
            body.append(f'{n}_flat = _check("{n}", {n}, {shape}, "{dtype}")')
        elif n not in params:
            body.append(f'_fixed("{n}", {n}, {a!r})')
    body += writer.lines
    if trace.single:
        body.append(f"return {results[0]}")
    else:
        body.append(f"return ({', '.join(results)}{',' if len(results) == 1 else ''})")
    imports = (
        ["import base64", "", "import numpy as np"] if writer.constants else ["import numpy as np"]
    )
    head = [
        f'"""{name}: a program exported by lazygrad. Needs only NumPy.',
        "",
        f"Call {name}(...) with NumPy arrays; see its docstring for the arguments and results.",
        '"""',
        "",
        *imports,
        "",
        *([] if writer.constants else [""]),  # statements one blank line below, defs two
    ]
    blocks = []
    if writer.constants:
        blocks.append("\n".join(["# ---- constants the function read", *writer.constants]))
    helpers.append(_CHECK_SOURCE)
    if any(not _is_array(a) and n not in params for n, a in zip(names, args, strict=True)):
        helpers.append(_FIXED_SOURCE)
    blocks.append(_section("runtime helpers the kernels call", helpers))
    blocks.append(_section("kernels, in the order the program runs them", kernels))
    program = [_signature(name, names, args), *(f"    {x}" if x else "" for x in body)]
    blocks.append(_section("the program", ["\n".join(program)]))
    return "\n".join(head) + "\n" + "\n\n\n".join(blocks) + "\n"


def _section(title: str, texts: list[str]) -> str:
    """A section of the module: a title comment over its definitions."""
    return f"# ---- {title}\n" + "\n\n\n".join(t.strip("\n") for t in texts)
