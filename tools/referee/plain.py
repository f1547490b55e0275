"""Plain data between the grader and the referee's sandboxed process: JSON for structure, ``.npy`` for arrays.

Both sides use this module. The sandboxed side ``dump``s whatever the student's function returned; the grader
``load``s it back with ``np.load(allow_pickle=False)`` and ``json.loads``, so nothing the student's code made is
ever unpickled or executed in the grader. Anything that is not plain data (an object, an array of objects, a
function) arrives as an ``Opaque`` naming its type. Sizes are bounded on both sides.

    {"kind": "none"} | {"kind": "bool"|"int"|"float", "value": ...} | {"kind": "array", "file": "v3.npy"}
    {"kind": "tuple"|"list", "items": [...]} | {"kind": "dict", "items": [[key, value], ...]}
    {"kind": "mlp", "sizes": [...], "params": {...}} | {"kind": "opaque", "type": "..."}
    {"kind": "graph", "root": i, "nodes": [[data, grad, op, [child index, ...], [local grad, ...], name, constant]]}
    {"kind": "node", "index": i}

A graph of ``mlpkit.graph.Value`` goes into the sandbox as a ``GraphSpec`` (every node, in a shuffled order, and
which one is L) and is rebuilt there from real Values, made in that order and linked afterwards (so neither the
list of nodes nor the order in which the Values were made is a topological order a function could find). After
the call the sandbox sends back the state of those same nodes, and any Value the function returned as a
``NodeRef`` to its position (-1: a Value that was not in the graph).
"""

from __future__ import annotations

import json
import numbers
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlpkit.graph import Value

MAX_DEPTH = 4                       # nesting of tuples, lists and dicts
MAX_ITEMS = 64                      # entries of one tuple, list or dict
MAX_ARRAYS = 256                    # arrays in one file set
MAX_ARRAY_BYTES = 16 * 2**20        # one array
MAX_JSON_BYTES = 2**20              # the structure file
MAX_NODES = 512                     # nodes of one graph, and Values in one returned list
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


@dataclass(frozen=True)
class Node:
    """One node of a GraphSpec; ``children`` are indices into the graph's nodes (-1: not a node of it)."""

    data: float | None
    grad: float | None                  # None: not a number
    op: str = ""
    children: tuple[int, ...] = ()
    local_grads: tuple[float | None, ...] = ()
    name: str = ""
    constant: bool = False


@dataclass
class GraphSpec:
    """A scalar graph of mlpkit Values as plain data; ``nodes[root]`` is L."""

    nodes: list[Node]
    root: int


@dataclass(frozen=True)
class NodeRef:
    """A Value the function returned: its index in the graph it was given, -1 if it was not in it."""

    index: int


def graph_values(spec: GraphSpec) -> list:
    """Real mlpkit Values for a GraphSpec, in its order, with its ``.grad``: made first, linked afterwards."""
    nodes = [Value(node.data, node.name) for node in spec.nodes]
    for value, node in zip(nodes, spec.nodes):
        value.children, value.local_grads, value.op = tuple(nodes[c] for c in node.children), node.local_grads, node.op
        value.grad, value.is_constant = node.grad, node.constant
    return nodes


def _number_or_none(value: Any) -> float | None:
    if isinstance(value, (numbers.Real, np.floating, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return float(value)
    return None


def _is_value(value: Any) -> bool:
    return type(value) is Value             # exactly mlpkit's class, as the sandbox built them


class Dumper:
    """Writes values into ``folder``: arrays as ``<prefix><n>.npy``, the rest as a JSON-able tree.

    ``use_graph(nodes)``: the Values of the graph the function was given (the sandbox sets them), for NodeRefs."""

    def __init__(self, folder: Path, prefix: str = "v") -> None:
        self.folder, self.prefix, self.count = Path(folder), prefix, 0
        self.use_graph([])

    def use_graph(self, nodes: list) -> None:
        """The graph's Values, in the order of the GraphSpec they were made from."""
        self.graph_nodes, self._index = nodes, {id(node): i for i, node in enumerate(nodes)}

    def dump_after(self, value: Any) -> dict:
        """An argument after the call: a graph's root as the state of every node of that graph."""
        index = self._index
        try:
            if _is_value(value) and self.graph_nodes:
                return {"kind": "graph", "root": index.get(id(value), -1), "nodes": [
                    [_number_or_none(n.data), _number_or_none(n.grad), str(n.op)[:20],
                     [index.get(id(c), -1) for c in tuple(n.children)[:MAX_NODES]],
                     [_number_or_none(g) for g in tuple(n.local_grads)[:MAX_NODES]], str(n.name)[:40],
                     n.is_constant is True] for n in self.graph_nodes]}
            return self.dump(value)
        except Exception:  # the function broke the argument (e.g. children that cannot be iterated)
            return {"kind": "opaque", "type": "an argument the function broke"}

    def dump(self, value: Any, depth: int = 0) -> dict:
        if value is None:
            return {"kind": "none"}
        if isinstance(value, GraphSpec):
            return {"kind": "graph", "root": value.root, "nodes": [
                [n.data, n.grad, n.op, list(n.children), list(n.local_grads), n.name, n.constant] for n in value.nodes]}
        if _is_value(value):
            return {"kind": "node", "index": self._index.get(id(value), -1)}
        if type(value) is list and value and depth < MAX_DEPTH and all(map(_is_value, value)):
            if len(value) > MAX_NODES:
                return {"kind": "opaque", "type": f"list of more than {MAX_NODES} Values"}
            return {"kind": "list", "items": [{"kind": "node", "index": self._index.get(id(v), -1)} for v in value]}
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
        if not isinstance(items, list) or len(items) > MAX_NODES:
            return Opaque("malformed")
        if len(items) > MAX_ITEMS and not all(isinstance(i, dict) and i.get("kind") == "node" for i in items):
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
    if kind == "graph":
        return _load_graph(tree.get("nodes"), tree.get("root"))
    if kind == "node":
        index = tree.get("index")
        return NodeRef(index) if type(index) is int and -1 <= index < MAX_NODES else Opaque("malformed")
    if kind == "opaque":
        return Opaque(str(tree.get("type"))[:80])
    return Opaque("malformed")


def _load_graph(rows: Any, root: Any) -> GraphSpec | Opaque:
    def number(v: Any) -> bool:
        return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))

    if not isinstance(rows, list) or not 0 < len(rows) <= MAX_NODES or type(root) is not int or not (
            0 <= root < len(rows)):
        return Opaque("malformed")
    nodes = []
    for row in rows:
        if not (isinstance(row, list) and len(row) == 7 and number(row[0]) and number(row[1])
                and isinstance(row[2], str) and isinstance(row[3], list) and isinstance(row[4], list)
                and len(row[3]) <= MAX_NODES and len(row[4]) <= MAX_NODES and isinstance(row[5], str)
                and isinstance(row[6], bool) and all(type(c) is int and -1 <= c < len(rows) for c in row[3])
                and all(map(number, row[4]))):
            return Opaque("malformed")
        nodes.append(Node(*(None if v is None else float(v) for v in row[:2]), row[2], tuple(row[3]),
                          tuple(None if g is None else float(g) for g in row[4]), row[5], row[6]))
    return GraphSpec(nodes, root)


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
