"""A picture of a scalar computational graph (``mlpkit.graph.draw``), drawn with matplotlib alone:
``layout`` decides where each box and arrow goes, ``draw`` puts them on a matplotlib Axes."""

from __future__ import annotations

from mlpkit.graph import NotANumberError, Value, topological_order

__all__ = ["draw", "layout"]

#: Sweeps of the row ordering (left to right, then right to left); four settle every graph of the course.
ORDERING_SWEEPS = 4


def _columns(order: list[Value]) -> dict:
    """A node's column is the longest path from an input to it; inputs sit just left of their first consumer."""
    column: dict = {}
    for node in order:
        column[id(node)] = 1 + max((column[id(c)] for c in node.children), default=-1)
    consumers: dict = {id(n): [] for n in order}
    for node in order:
        for child in node.children:
            consumers[id(child)].append(node)
    for node in order:
        if not node.children and consumers[id(node)]:
            column[id(node)] = min(column[id(p)] for p in consumers[id(node)]) - 1
    return column


def _routes(order: list[Value], column: dict) -> tuple[dict, dict, dict]:
    """Each arrow as a chain of keys with a waypoint in every column it crosses (added to ``column``), and
    each key's neighbours one column to the left and to the right."""
    below: dict = {id(n): [] for n in order}
    above: dict = {id(n): [] for n in order}
    routes: dict = {}
    for node in order:
        for child in {id(c): c for c in node.children}.values():
            chain = [id(child)]
            for col in range(column[id(child)] + 1, column[id(node)]):
                waypoint = ("via", id(child), id(node), col)
                column[waypoint], below[waypoint], above[waypoint] = col, [], []
                chain.append(waypoint)
            chain.append(id(node))
            for left, right in zip(chain, chain[1:]):
                below[right].append(left)
                above[left].append(right)
            routes[(id(child), id(node))] = chain
    return routes, below, above


def _order_rows(columns: list[list], below: dict, above: dict) -> dict:
    """Rows inside a column follow the mean row of the neighbours, which keeps arrows short and uncrossed."""
    row = {key: float(i) for keys in columns for i, key in enumerate(keys)}

    def sweep(keys: list, neighbours: dict) -> None:
        def mean_row(key) -> float:
            near = neighbours[key]
            return sum(row[k] for k in near) / len(near) if near else row[key]
        keys.sort(key=mean_row)
        for i, key in enumerate(keys):
            row[key] = float(i)

    for _ in range(ORDERING_SWEEPS):
        for keys in columns[1:]:
            sweep(keys, below)
        for keys in reversed(columns[:-1]):
            sweep(keys, above)
    return row


def layout(order: list[Value]) -> tuple[dict, dict, int, int]:
    """Where to draw each node and each arrow of a graph given in topological order.

    An arrow that spans several columns bends through a waypoint in every column
    it crosses, so it goes around boxes instead of running behind them. Returns
    (node positions by id, arrow waypoints by (child id, parent id), number of
    columns, tallest column).
    """
    column = _columns(order)
    routes, below, above = _routes(order, column)
    n_columns = max(column.values()) + 1
    columns: list[list] = [[] for _ in range(n_columns)]
    for key in column:
        columns[column[key]].append(key)
    row = _order_rows(columns, below, above)
    height = max(len(keys) for keys in columns)
    position = {key: (float(column[key]), (len(keys) - 1) / 2 - row[key]) for keys in columns for key in keys}
    waypoints = {edge: [position[key] for key in chain[1:-1]] for edge, chain in routes.items()}
    return {id(n): position[id(n)] for n in order}, waypoints, n_columns, height


def _draw_arrow(ax, start_box, end_box, via: list) -> None:
    """One arrow from a child's box to its parent's, straight or bent through the waypoints ``via``."""
    line = dict(color="#777777", shrinkA=4, shrinkB=4)
    if not via:
        ax.annotate("", xy=(0.0, 0.5), xycoords=end_box, xytext=(1.0, 0.5), textcoords=start_box, zorder=1,
                    arrowprops=dict(arrowstyle="-|>", **line))
        return
    ax.annotate("", xy=via[0], xytext=(1.0, 0.5), textcoords=start_box, zorder=1,
                arrowprops=dict(arrowstyle="-", **{**line, "shrinkB": 0}))
    for (xa, ya), (xb, yb) in zip(via, via[1:]):
        ax.plot([xa, xb], [ya, yb], color="#777777", lw=1, zorder=1, scalex=False, scaley=False)
    ax.annotate("", xy=(0.0, 0.5), xycoords=end_box, xytext=via[-1], textcoords="data", zorder=1,
                arrowprops=dict(arrowstyle="-|>", **{**line, "shrinkA": 0}))


def _draw_box(ax, node: Value, xy: tuple[float, float], show_grad: bool):
    text = f"{node.label}\n{node.data + 0.0:.4g}"
    if show_grad and not node.is_constant:
        text += f"\ngrad {node.grad + 0.0:.4g}"
    face = "#eeeeee" if node.is_constant else ("#d9ecff" if not node.children else "#fff4d6")
    return ax.text(*xy, text, ha="center", va="center", fontsize=9, zorder=3,
                   bbox=dict(boxstyle="round,pad=0.35", fc=face, ec="#555555"))


def draw(root: Value, *, show_grad: bool = True, show_local: bool = False, ax=None, title: str | None = None):
    """Draw the graph that computes ``root``, inputs on the left, output on the right.

    Each box shows the node's label, its forward value and (``show_grad``) its
    gradient; with ``show_local`` each arrow is labelled with the local gradient
    d(parent)/d(child). Constants are grey. Only matplotlib is used (no graphviz
    binary). Returns the matplotlib Figure (drawn into ``ax`` if one is given).
    """
    from matplotlib.figure import Figure

    if not isinstance(root, Value):
        raise NotANumberError(f"root: draw needs the Value at the end of a graph, got {type(root).__name__}")
    order = topological_order(root)
    position, waypoints, n_columns, height = layout(order)
    if ax is None:
        fig = Figure(figsize=(0.6 + 1.9 * n_columns, 0.5 + 0.95 * height), layout="tight")
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    ax.set_axis_off()
    ax.set_xlim(-0.5, n_columns - 0.5)
    ax.set_ylim(-height / 2, height / 2)
    if title:
        ax.set_title(title)
    boxes = {id(node): _draw_box(ax, node, position[id(node)], show_grad) for node in order}
    for node in order:
        local_sum: dict[int, float] = {}
        for child, local in zip(node.children, node.local_grads):
            local_sum[id(child)] = local_sum.get(id(child), 0.0) + local     # a child used twice: both add up
        for child in {id(c): c for c in node.children}.values():
            via = waypoints[(id(child), id(node))]
            _draw_arrow(ax, boxes[id(child)], boxes[id(node)], via)
            if show_local:
                (x0, y0) = via[-1] if via else position[id(child)]
                x1, y1 = position[id(node)]
                ax.text(x0 + 0.62 * (x1 - x0), y0 + 0.62 * (y1 - y0) + 0.1, f"{local_sum[id(child)]:.3g}",
                        fontsize=8, color="#b03030", ha="center", zorder=2,
                        bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none", alpha=0.8))
    return fig
