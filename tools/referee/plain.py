"""Plain data between the grader and the referee's sandboxed process: JSON for structure, ``.npy`` for arrays.

Both sides use this module. The sandboxed side ``dump``s whatever the student's function returned; the grader
``load``s it back with ``np.load(allow_pickle=False)`` and ``json.loads``, so nothing the student's code made is
ever unpickled or executed in the grader. Anything that is not plain data (an object, an array of objects, a
function) arrives as an ``Opaque`` naming its type. Sizes are bounded on both sides.

    {"kind": "none"} | {"kind": "bool"|"int"|"float", "value": ...} | {"kind": "array", "file": "v3.npy"}
    {"kind": "tuple"|"list", "items": [...]} | {"kind": "dict", "items": [[key, value], ...]}
    {"kind": "mlp", "sizes": [...], "params": {...}} | {"kind": "opaque", "type": "..."}
"""

from __future__ import annotations

import json
import numbers
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

MAX_DEPTH = 4                       # nesting of tuples, lists and dicts
MAX_ITEMS = 64                      # entries of one tuple, list or dict
MAX_ARRAYS = 256                    # arrays in one file set
MAX_ARRAY_BYTES = 16 * 2**20        # one array
MAX_JSON_BYTES = 2**20              # the structure file
NUMERIC_KINDS = "biuf"              # bool, int, unsigned, float arrays travel; complex and objects do not


@dataclass(frozen=True)
class Opaque:
    """A value that is not plain data, known only by its type's name."""

    type: str


@dataclass
class ModelSpec:
    """An mlpkit.MLP sent to or returned from the sandbox: its sizes and parameters (ReLU, softmax output)."""

    sizes: list[int]
    params: dict[str, np.ndarray]


class Dumper:
    """Writes values into ``folder``: arrays as ``<prefix><n>.npy``, the rest as a JSON-able tree."""

    def __init__(self, folder: Path, prefix: str = "v") -> None:
        self.folder, self.prefix, self.count = Path(folder), prefix, 0

    def dump(self, value: Any, depth: int = 0) -> dict:
        if value is None:
            return {"kind": "none"}
        if isinstance(value, (bool, np.bool_)):
            return {"kind": "bool", "value": bool(value)}
        if isinstance(value, (numbers.Integral, np.integer)):
            return {"kind": "int", "value": int(value)}
        if isinstance(value, (float, np.floating)) and type(value) in (float, np.float64, np.float32, np.float16):
            return {"kind": "float", "value": float(value), "type": type(value).__name__}
        if isinstance(value, np.ndarray):
            return self._array(value)
        if hasattr(value, "params") and hasattr(value, "sizes") and isinstance(value.params, dict):
            return {"kind": "mlp", "sizes": [int(n) for n in value.sizes],
                    "params": self.dump(dict(value.params), depth + 1)}
        if depth < MAX_DEPTH and type(value) in (tuple, list) and len(value) <= MAX_ITEMS:
            return {"kind": type(value).__name__, "items": [self.dump(v, depth + 1) for v in value]}
        if depth < MAX_DEPTH and type(value) is dict and len(value) <= MAX_ITEMS and all(
                type(k) is str for k in value):
            return {"kind": "dict", "items": [[k, self.dump(v, depth + 1)] for k, v in value.items()]}
        return {"kind": "opaque", "type": type(value).__name__}

    def _array(self, value: np.ndarray) -> dict:
        array = value.view(np.ndarray) if type(value) is not np.ndarray else value
        if array.dtype.kind not in NUMERIC_KINDS or array.dtype.hasobject:
            return {"kind": "opaque", "type": f"{array.dtype} array"}
        if self.count >= MAX_ARRAYS or array.nbytes > MAX_ARRAY_BYTES:
            return {"kind": "opaque", "type": f"array too large ({array.nbytes} bytes)"}
        name = f"{self.prefix}{self.count}.npy"
        self.count += 1
        np.save(self.folder / name, np.ascontiguousarray(array), allow_pickle=False)
        return {"kind": "array", "file": name}


def load(tree: Any, folder: Path, depth: int = 0) -> Any:
    """The value a ``dump`` tree describes; arrays are read with allow_pickle=False. Bad trees give Opaque."""
    folder = Path(folder)
    if not isinstance(tree, dict) or depth > MAX_DEPTH + 1:
        return Opaque("malformed")
    kind = tree.get("kind")
    if kind == "none":
        return None
    if kind in ("bool", "int", "float"):
        value = tree.get("value")
        types = {"bool": bool, "int": int, "float": (int, float)}[kind]
        if not isinstance(value, types) or (kind != "bool" and isinstance(value, bool)):
            return Opaque("malformed")
        if kind == "float":
            return getattr(np, str(tree.get("type")), float)(value) if tree.get("type") in (
                "float32", "float16") else float(value)
        return value
    if kind == "array":
        return _load_array(folder, tree.get("file"))
    if kind in ("tuple", "list"):
        items = tree.get("items")
        if not isinstance(items, list) or len(items) > MAX_ITEMS:
            return Opaque("malformed")
        values = [load(item, folder, depth + 1) for item in items]
        return tuple(values) if kind == "tuple" else values
    if kind == "dict":
        items = tree.get("items")
        if not isinstance(items, list) or len(items) > MAX_ITEMS or not all(
                isinstance(i, list) and len(i) == 2 and isinstance(i[0], str) for i in items):
            return Opaque("malformed")
        return {key: load(value, folder, depth + 1) for key, value in items}
    if kind == "mlp":
        params = load(tree.get("params"), folder, depth + 1)
        sizes = tree.get("sizes")
        if not isinstance(params, dict) or not isinstance(sizes, list):
            return Opaque("malformed")
        return ModelSpec([int(n) for n in sizes if isinstance(n, int)], params)
    if kind == "opaque":
        return Opaque(str(tree.get("type"))[:80])
    return Opaque("malformed")


def _load_array(folder: Path, name: Any) -> np.ndarray | Opaque:
    if not isinstance(name, str) or "/" in name or "\\" in name or not name.endswith(".npy"):
        return Opaque("malformed")
    path = folder / name
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_ARRAY_BYTES + 4096:
            return Opaque("missing or oversized array")
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return Opaque("unreadable array")
    if type(array) is not np.ndarray or array.dtype.kind not in NUMERIC_KINDS:
        return Opaque("unreadable array")
    return array


def write_json(path: Path, tree: Any) -> None:
    """Write ``tree`` as JSON, atomically (a reader never sees half a file)."""
    path = Path(path)
    temporary = path.with_name(path.name + ".part")
    temporary.write_text(json.dumps(tree, allow_nan=True))
    os.replace(temporary, path)


def read_json(path: Path) -> Any:
    """JSON from ``path`` (at most MAX_JSON_BYTES), or None if it is missing, too large or broken."""
    path = Path(path)
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_JSON_BYTES:
            return None
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
