"""`lg.save` / `lg.load`: state dicts as NumPy `.npz` files, never pickle.

The file holds one array per tensor (its dtype kept, so a round trip is bit-exact) and
one entry, `__lazygrad__`, with the object's structure as JSON: dicts (with their key
types), lists, tuples, numbers, strings, references to the arrays, and references to a
dict or list met before (shared, or containing itself, as pickle keeps them). Loading uses
`np.load(..., allow_pickle=False)` and checks every piece, so a truncated, tampered or
foreign file raises a RuntimeError naming the file and never runs code.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections import OrderedDict
from typing import Any, BinaryIO

import numpy as np

from .dtypes import ALL_DTYPES, bfloat16
from .engine.realize import realize
from .frontend.creation import tensor
from .tensor import Tensor

__all__ = ["save", "load"]

_META = "__lazygrad__"
_FORMAT = "lazygrad.save/1"
# native byte order only; bfloat16 (NumPy's "V2", raw bytes) is stored as its bits, uint16
_DTYPES = {d.np.str: d for d in ALL_DTYPES if d is not bfloat16}

FileLike = str | os.PathLike | BinaryIO


def _tensors_in(obj: Any) -> list[Tensor]:
    """Every tensor in a nested structure (iteratively; each container visited once, so a
    container that holds itself is fine)."""
    found, stack, seen = [], [obj], set()
    while stack:
        item = stack.pop()
        if isinstance(item, Tensor):
            found.append(item)
        elif isinstance(item, dict | list | tuple) and id(item) not in seen:
            seen.add(id(item))
            stack.extend(item.values() if isinstance(item, dict) else item)
    return found


class _Encoder:
    """Turns a nested object into JSON-able data plus a table of named arrays.

    Dicts and lists are numbered in the order encoding first meets them; meeting one again
    (shared, or containing itself) writes `{"ref": number}`, as pickle's memo does, so
    loading rebuilds the same sharing and cycles. A tuple cannot be built before its items,
    so a tuple that contains itself is refused."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self._names: dict[int, str] = {}
        self._containers: dict[int, int] = {}  # id of a dict or list -> its number
        self._open_tuples: set[int] = set()

    def encode(self, obj: Any) -> Any:
        if isinstance(obj, Tensor):
            return self._tensor(obj)
        if isinstance(obj, dict | list):
            if id(obj) in self._containers:
                return {"ref": self._containers[id(obj)]}
            self._containers[id(obj)] = len(self._containers)
        if isinstance(obj, tuple):
            if id(obj) in self._open_tuples:
                raise ValueError(
                    "lg.save: the object contains itself through a tuple, which cannot be "
                    "stored (a list or dict that contains itself can)"
                )
            self._open_tuples.add(id(obj))
            try:
                return {"tuple": [self.encode(v) for v in obj]}
            finally:
                self._open_tuples.discard(id(obj))
        if isinstance(obj, dict):
            for key in obj:
                if not isinstance(key, str | int | float | bool) and key is not None:
                    raise TypeError(
                        f"lg.save: dict keys must be str, int, float, bool or None, "
                        f"got {type(key).__name__}"
                    )
            kind = "odict" if isinstance(obj, OrderedDict) else "dict"
            return {kind: [[k, self.encode(v)] for k, v in obj.items()]}
        if isinstance(obj, list):
            return {"list": [self.encode(v) for v in obj]}
        if obj is None or isinstance(obj, str | bool | int | float):
            return {"value": obj}
        if isinstance(obj, np.generic) and obj.dtype.str in _DTYPES:
            return {"value": obj.item()}
        raise TypeError(
            f"lg.save can store tensors, dicts, lists, tuples, numbers, strings and "
            f"None, not {type(obj).__name__}"
        )

    def _tensor(self, t: Tensor) -> dict[str, Any]:
        name = self._names.get(id(t))
        if name is None:
            name = self._names[id(t)] = f"tensor{len(self._names)}"
            values = t.detach()._host()
            bits = values.view(np.uint16) if t.dtype is bfloat16 else values
            self.arrays[name] = np.array(bits, order="C")  # keeps 0-d shapes
        entry = {"tensor": name, "device": str(t.device), "requires_grad": t.requires_grad}
        return entry | ({"dtype": "bfloat16"} if t.dtype is bfloat16 else {})


def save(obj: Any, f: FileLike) -> None:
    """Write `obj` (a state dict: str → Tensor, or nested dicts/lists of tensors and numbers,
    like an optimizer's state dict) to `f`, a path or a binary file object."""
    tensors = list({id(t): t for t in _tensors_in(obj)}.values())
    realize(*tensors)  # every pending tensor in one schedule
    encoder = _Encoder()
    structure = encoder.encode(obj)
    meta = json.dumps({"format": _FORMAT, "object": structure}).encode()
    arrays = {_META: np.frombuffer(meta, dtype=np.uint8), **encoder.arrays}
    if isinstance(f, str | os.PathLike):
        with open(f, "wb") as handle:  # a path is used as given (np.savez would add .npz)
            np.savez(handle, **arrays)
    else:
        np.savez(f, **arrays)


def _name_of(f: FileLike) -> str:
    if isinstance(f, str | os.PathLike):
        return os.fspath(f)
    return getattr(f, "name", None) or f"<{type(f).__name__}>"


class _Decoder:
    """Rebuilds the object from the JSON structure, checking everything it reads."""

    def __init__(self, archive: Any, map_location: Any) -> None:
        self.archive = archive
        self.map_location = map_location
        self._cache: dict[str, Tensor] = {}
        self._containers: list[Any] = []  # dicts and lists, numbered as the encoder did

    def decode(self, node: Any) -> Any:
        if isinstance(node, dict) and "tensor" in node:
            return self._tensor(node)
        if not isinstance(node, dict) or len(node) != 1:
            raise ValueError(f"malformed structure entry {str(node)[:80]!r}")
        ((kind, body),) = node.items()
        if kind == "value":
            if body is not None and not isinstance(body, str | bool | int | float):
                raise ValueError(f"unexpected value {body!r}")
            return body
        if kind == "ref":
            if type(body) is not int or not 0 <= body < len(self._containers):
                raise ValueError(f"reference to an unknown container {body!r}")
            return self._containers[body]
        if kind == "tuple" and isinstance(body, list):
            return tuple(self.decode(v) for v in body)
        if kind == "list" and isinstance(body, list):
            items: list[Any] = []
            self._containers.append(items)  # before its items, which may refer to it
            items.extend(self.decode(v) for v in body)
            return items
        if kind in ("dict", "odict") and isinstance(body, list):
            out: dict[Any, Any] = OrderedDict() if kind == "odict" else {}
            self._containers.append(out)
            for pair in body:
                if not isinstance(pair, list) or len(pair) != 2 or isinstance(pair[0], list | dict):
                    raise ValueError(f"malformed dict entry {str(pair)[:80]!r}")
                out[pair[0]] = self.decode(pair[1])
            return out
        raise ValueError(f"unknown structure entry {kind!r}")

    def _check_declared_size(self, name: str) -> None:
        """Refuse an array whose header declares more data than its entry holds (a
        tampered shape would otherwise allocate it before finding the data missing)."""
        entry = self.archive.zip.getinfo(f"{name}.npy")
        with self.archive.zip.open(entry) as raw:
            fmt = np.lib.format
            major, _ = fmt.read_magic(raw)
            read = fmt.read_array_header_1_0 if major == 1 else fmt.read_array_header_2_0
            shape, _, dtype = read(raw)
            declared = int(np.prod(shape, dtype=object)) * np.dtype(dtype).itemsize
            if declared > entry.file_size:
                raise ValueError(
                    f"array {name!r} declares shape {shape} ({declared} bytes) but its entry "
                    f"holds {entry.file_size} bytes"
                )

    def _tensor(self, node: dict[str, Any]) -> Tensor:
        name, device = node.get("tensor"), node.get("device", "cpu")
        if not isinstance(name, str) or name == _META or name not in self.archive.files:
            raise ValueError(f"reference to a missing array {name!r}")
        if not isinstance(device, str):
            raise ValueError(f"bad device entry {device!r}")
        if name not in self._cache:
            self._check_declared_size(name)
            arr = self.archive[name]
            if node.get("dtype") == "bfloat16" and arr.dtype == np.uint16:
                arr = arr.view(bfloat16.np)
                d = bfloat16
            elif arr.dtype.str in _DTYPES:
                d = _DTYPES[arr.dtype.str]
            else:
                raise ValueError(f"array {name!r} has unsupported dtype {arr.dtype}")
            where = self.map_location if self.map_location is not None else device
            t = tensor(arr, dtype=d, device=where)
            if node.get("requires_grad") is True and t.is_floating_point():
                t.requires_grad_(True)
            self._cache[name] = t
        return self._cache[name]


def load(f: FileLike, map_location: Any = None) -> Any:
    """Read an object written by `save`. Tensors go back to the device they were saved
    from, or to `map_location` (a device or device string) when given."""
    name = _name_of(f)
    try:
        if hasattr(f, "read"):
            data = f.read()  # type: ignore[union-attr]
        else:
            with open(f, "rb") as handle:  # type: ignore[arg-type]
                data = handle.read()
    except OSError as exc:
        raise RuntimeError(f"lg.load: cannot read {name}: {exc}") from exc
    if not data.startswith(b"PK\x03\x04"):
        raise RuntimeError(f"lg.load: {name} is not a lazygrad checkpoint (not an .npz archive)")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            if _META not in archive.files:
                raise ValueError("no __lazygrad__ entry: not written by lg.save")
            meta = json.loads(archive[_META].tobytes().decode())
            if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
                raise ValueError(f"unknown format {str(meta)[:80]!r}")
            return _Decoder(archive, map_location).decode(meta.get("object"))
    except (
        ValueError,
        KeyError,
        TypeError,
        OSError,
        EOFError,
        RecursionError,
        zipfile.BadZipFile,
        UnicodeDecodeError,
    ) as exc:
        raise RuntimeError(
            f"lg.load: {name} is not a valid lazygrad checkpoint "
            f"(truncated, corrupted or foreign file): {exc}"
        ) from exc
