"""Pictures of networks and matrices for the lectures: the MLP's neurons, its computational graph, the shapes of
a matrix product, a matrix with its numbers.

Curves over data (training history, decision boundary, activations) are in ``mlpkit.plots``; this module holds the
diagrams, so that neither grows long. Each function draws into ``ax`` (a new figure without one) and returns it;
none computes anything a lecture teaches: the numbers come from the caller.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import numpy as np

__all__ = ["draw_network", "draw_products", "show_matrix", "draw_mlp_graph", "MLP_GRAPH_NODES"]


def _axes(ax, figsize=(5, 4)):
    """``ax``, or the axes of a new figure of ``figsize`` (the same rule as mlpkit.plots)."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=figsize)[1]

# ---- neurons and weights -----------------------------------------------------------------------------------------


def draw_network(sizes: Sequence[int], ax=None):
    """An MLP of layer sizes ``[n_0, ..., n_L]`` as circles (neurons) and lines (weights), with the shape of each
    ``W[l]``, ``b[l]`` (red, above) and of what flows through each layer (black, below, B = batch size)."""
    sizes = list(sizes)
    if len(sizes) < 2 or not all(isinstance(n, (int, np.integer)) and n >= 1 for n in sizes):
        raise ValueError(f"sizes: expected at least two positive layer sizes [n_0, ..., n_L], got {sizes}")
    ax = _axes(ax, figsize=(8, 4.2))
    names = ["X"] + [f"a{l}" for l in range(1, len(sizes) - 1)] + ["y_hat"]
    top = max(sizes) / 2
    for l, n in enumerate(sizes):
        ys = np.arange(n) - (n - 1) / 2
        if l > 0:
            for y0 in np.arange(sizes[l - 1]) - (sizes[l - 1] - 1) / 2:
                for y1 in ys:
                    ax.plot([l - 1, l], [y0, y1], color="#bbbbbb", lw=0.8, zorder=1)
            ax.text(l - 0.5, top + 0.35, f"W{l} {(n, sizes[l - 1])}\nb{l} {(n, 1)}", ha="center", va="bottom",
                    fontsize=10, color="#b03030")
        ax.scatter(np.full(n, l), ys, s=350, color="#d9ecff" if l == 0 else "#fff4d6", edgecolors="#555555",
                   zorder=2)
        ax.text(l, -top - 0.3, f"{names[l]}\n({n}, B)", ha="center", va="top", fontsize=11)
    ax.set_xlim(-0.5, len(sizes) - 0.5)
    ax.set_ylim(-top - 1.5, top + 1.4)
    ax.set_axis_off()
    return ax


# ---- shapes of a matrix product ----------------------------------------------------------------------------------

def _product_shape(items: Sequence) -> None:
    """Raise ValueError unless ``items`` is box, "@", box, ..., "=", box with shapes that fit."""
    boxes, operators = items[0::2], items[1::2]
    if len(items) % 2 == 0 or not all(isinstance(op, str) for op in operators):
        raise ValueError(f"expected (label, (rows, cols)), then '@' or '=' and a box, in turn; got {items!r}")
    for label, shape in boxes:
        if len(shape) != 2 or not all(isinstance(n, (int, np.integer)) and n >= 1 for n in shape):
            raise ValueError(f"{label}: expected a shape (rows, cols) of positive sizes, got {shape!r}")
    (name, current) = boxes[0]
    for op, (label, shape) in zip(operators, boxes[1:]):
        if op == "@":
            if current[1] != shape[0]:
                raise ValueError(f"{name} {current} @ {label} {shape}: the inner sizes {current[1]} and {shape[0]} "
                                 "differ, so the product does not exist")
            name, current = f"{name} @ {label}", (current[0], shape[1])
        elif op == "=":
            if tuple(shape) != tuple(current):
                raise ValueError(f"{name} has shape {current}, but {label} is drawn as {tuple(shape)}")
        else:
            raise ValueError(f"operator {op!r}: expected '@' or '='")


def draw_products(rows: Sequence[tuple[str, Sequence]], ax=None):
    """Matrix products as boxes whose width is the number of columns and height the number of rows, one product
    per row: ``rows = [(heading, [("w", (2, 3)), "@", ("x", (3, 4)), "=", ("z", (2, 4))]), ...]``.

    Raises ValueError if a product's shapes do not fit (the picture never shows an impossible product)."""
    from matplotlib.patches import Rectangle

    for _, items in rows:
        _product_shape(list(items))
    ax = _axes(ax, figsize=(8, 9))
    top = cursor = 0.0
    width = 0.0
    for heading, items in rows:
        height = max(shape[0] for _, shape in items[0::2])
        ax.text(0, cursor, heading, fontsize=13, fontweight="bold", va="bottom")
        y = cursor - 1.0 - height / 2
        left = 0.0
        for item in items:
            if isinstance(item, str):
                ax.text(left + 0.6, y, item, fontsize=18, ha="center", va="center")
                left += 1.2
                continue
            label, (n_rows, n_cols) = item
            ax.add_patch(Rectangle((left, y - n_rows / 2), n_cols, n_rows, facecolor="#cfe2f3", edgecolor="k"))
            ax.text(left + n_cols / 2, y, label, ha="center", va="center", fontsize=12)
            ax.text(left + n_cols / 2, y - n_rows / 2 - 0.35, f"({n_rows} x {n_cols})", ha="center", va="top",
                    fontsize=10)
            left += n_cols
        width = max(width, left)
        cursor = y - height / 2 - 2.2
    ax.set_xlim(-0.5, width + 0.5)
    ax.set_ylim(cursor + 0.8, top + 1.0)
    ax.set_aspect("equal")
    ax.set_axis_off()
    return ax


# ---- a matrix and its numbers ------------------------------------------------------------------------------------

def show_matrix(M: np.ndarray, title: str = "", ax=None, row_labels: Sequence[str] | None = None,
                col_labels: Sequence[str] | None = None, fmt: str = "{:.2f}", numbers: bool = True):
    """A matrix as coloured squares (red positive, white zero, blue negative, on a scale symmetric about 0) with
    each entry written in it in ``fmt``. ``numbers=False`` draws the colours only, without numbers and ticks (for a
    grid of many small matrices). An all-zero matrix is white."""
    M = np.asarray(M, dtype=float)
    if M.ndim != 2:
        raise ValueError(f"M has shape {M.shape}, expected a 2-D matrix (reshape a tensor first, e.g. "
                         f"J.reshape(rows, cols))")
    for name, labels, n in (("row_labels", row_labels, M.shape[0]), ("col_labels", col_labels, M.shape[1])):
        if labels is not None and len(labels) != n:
            raise ValueError(f"{name}: {len(labels)} labels for {n} {name.split('_')[0]}s of a {M.shape} matrix")
    ax = _axes(ax)
    limit = max(np.abs(M).max(initial=0.0), 1e-12)
    ax.imshow(M, cmap="RdBu_r", vmin=-limit, vmax=limit)
    ax.set_title(title)
    if not numbers:
        ax.set_xticks([])
        ax.set_yticks([])
        return ax
    for (i, j), v in np.ndenumerate(M):
        ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=10,
                color="white" if abs(v) > 0.6 * limit else "black")
    ax.set_xticks(range(M.shape[1]), col_labels if col_labels is not None else range(M.shape[1]))
    ax.set_yticks(range(M.shape[0]), row_labels if row_labels is not None else range(M.shape[0]))
    return ax


# ---- the MLP as a computational graph ----------------------------------------------------------------------------

#: Where each array of the slides' 3-layer MLP sits: the chain X -> z1 -> ... -> L on one row, the parameters and
#: the labels y above it.
_POSITION = {"X": (0, 0), "z1": (2.2, 0), "a1": (3.8, 0), "z2": (5.8, 0), "a2": (7.4, 0), "z3": (9.4, 0),
             "y_hat": (11.2, 0), "L": (13.0, 0), "y": (13.0, 1.7), "W1": (1.65, 1.7), "b1": (2.75, 1.7),
             "W2": (5.25, 1.7), "b2": (6.35, 1.7), "W3": (8.85, 1.7), "b3": (9.95, 1.7)}
MLP_GRAPH_NODES = tuple(_POSITION)
_DATA = ("X", "y", "L")                          # boxes that receive no gradient
_BUFFER = {"X", "z1", "a1", "z2", "a2", "z3"}
_PARAMS = {"W1", "b1", "W2", "b2", "W3", "b3"}
_EDGES = [("X", "z1"), ("z1", "a1"), ("a1", "z2"), ("z2", "a2"), ("a2", "z3"), ("z3", "y_hat"), ("y_hat", "L"),
          ("W1", "z1"), ("b1", "z1"), ("W2", "z2"), ("b2", "z2"), ("W3", "z3"), ("b3", "z3"), ("y", "L")]
_OPERATION = {("z1", "a1"): "ReLU", ("z2", "a2"): "ReLU", ("z3", "y_hat"): "softmax", ("y_hat", "L"): "loss"}
_BOX_W, _BOX_H = 0.8, 0.55


def _tex(name: str) -> str:
    """The slides' symbol of a box: z^{[1]}, W^{[2]}, \\hat{y}."""
    if name == "y_hat":
        return r"\hat{y}"
    return f"{name[0]}^{{[{name[1]}]}}" if len(name) == 2 else name


def _check_names(what: str, names: Collection[str]) -> None:
    unknown = sorted((set(names) - set(MLP_GRAPH_NODES)) | (set(names) & set(_DATA)))
    if unknown:
        allowed = ", ".join(n for n in MLP_GRAPH_NODES if n not in _DATA)
        raise ValueError(f"{what}: {unknown} receive no gradient in the MLP graph; expected names among {allowed}")


def _edge_ends(u: str, v: str) -> tuple[tuple[float, float], tuple[float, float], tuple[float, float]]:
    """Start and end of the arrow u -> v at the boxes' borders, and the sideways offset between the forward and
    the backward arrow."""
    (x0, y0), (x1, y1) = _POSITION[u], _POSITION[v]
    if y0 == y1:                                          # along the chain: leave and enter through the sides
        return (x0 + _BOX_W / 2 + 0.03, y0), (x1 - _BOX_W / 2 - 0.03, y1), (0, 0.09)
    return (x0, y0 - _BOX_H / 2 - 0.03), (x1 + (x0 - x1) * 0.25, y1 + _BOX_H / 2 + 0.03), (-0.09, 0)


def _gradient_label(ax, name: str, shape: tuple | None, newest: bool) -> None:
    """The red dL/d(name) next to its box (above a parameter, below the chain), with its shape under it."""
    x, y0 = _POSITION[name]
    above = name in _PARAMS
    y = y0 + (0.52 if above else -0.72)
    box = dict(boxstyle="round,pad=0.15", fc="#ffe08a", ec="tab:red") if newest else None
    ax.text(x, y, rf"$\partial L/\partial {_tex(name)}$", ha="center", va="center", fontsize=13, color="tab:red",
            fontweight="bold" if newest else "normal", bbox=box)
    if shape is not None:
        ax.text(x, y + (0.33 if above else -0.33), str(tuple(shape)), ha="center", va="center", fontsize=10,
                color="tab:red")


def draw_mlp_graph(ax=None, gradients: Collection[str] | None = None,
                   shapes: Mapping[str, tuple[int, ...]] | None = None, newest: str | None = None,
                   title: str | None = "The 3-layer MLP as a computational graph"):
    """The slides' 3-layer MLP as a computational graph: a box per array (yellow: kept in the forward pass's
    buffer, blue: the parameters), black arrows for the forward pass, red dashed ones for the backward pass.

    ``gradients`` names the boxes whose gradient dL/d(box) is known (e.g. ``["z3", "W3"]``): only their red labels
    and the red arrows into them are drawn (the arrow through y_hat with z3's, since the backward loop starts at
    dL/dz3). ``None`` draws every gradient, the whole backward pass. ``shapes`` maps a box to the shape written
    under its gradient; ``newest`` is highlighted. Raises ValueError for names not in the graph or for X, y and L,
    which receive no gradient."""
    from matplotlib.patches import FancyBboxPatch

    gradients = [n for n in MLP_GRAPH_NODES if n not in _DATA] if gradients is None else list(gradients)
    shapes = dict(shapes or {})
    _check_names("gradients", gradients)
    _check_names("shapes", shapes)
    if newest is not None and newest not in gradients:
        raise ValueError(f"newest: {newest!r} is not among the gradients drawn, {gradients}")
    reached = set(gradients) | ({"y_hat"} if "z3" in gradients else set())
    ax = _axes(ax, figsize=(14, 4.6))
    for name, (x, y0) in _POSITION.items():
        colour = "#fff2b3" if name in _BUFFER else ("#d9e8ff" if name in _PARAMS else "#eeeeee")
        ax.add_patch(FancyBboxPatch((x - _BOX_W / 2, y0 - _BOX_H / 2), _BOX_W, _BOX_H, boxstyle="round,pad=0.03",
                                    fc=colour, ec="k"))
        ax.text(x, y0, f"${_tex(name)}$", ha="center", va="center", fontsize=16)
        if name in gradients:
            _gradient_label(ax, name, shapes.get(name), name == newest)
    for u, v in _EDGES:
        start, end, side = _edge_ends(u, v)
        ax.annotate("", xy=(end[0] + side[0], end[1] + side[1]), xytext=(start[0] + side[0], start[1] + side[1]),
                    arrowprops=dict(arrowstyle="-|>", color="k", lw=1.4, mutation_scale=14))
        if (u, v) in _OPERATION:
            ax.text((start[0] + end[0]) / 2, start[1] + 0.28, _OPERATION[u, v], ha="center", fontsize=10,
                    color="0.35")
        if u in reached:                                  # backward: same edge, other direction, other colour
            ax.annotate("", xy=(start[0] - side[0], start[1] - side[1]), xytext=(end[0] - side[0], end[1] - side[1]),
                        arrowprops=dict(arrowstyle="-|>", color="tab:red", lw=1.4, ls="--", mutation_scale=14))
    ax.plot([], [], color="k", lw=1.4, label="forward pass: values")
    ax.plot([], [], color="tab:red", lw=1.4, ls="--", label="backward pass: gradients")
    ax.scatter([], [], marker="s", s=150, fc="#fff2b3", ec="k", label="kept in the buffer")
    ax.scatter([], [], marker="s", s=150, fc="#d9e8ff", ec="k", label="parameters (what we train)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, 0.02), ncol=4, frameon=False, fontsize=11)
    ax.set_xlim(-0.7, 13.7)
    ax.set_ylim(-1.45 if shapes else -1.2, 2.75 if shapes else 2.4)
    ax.set_aspect("equal")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=14)
    return ax
