"""The scalar graph: the slides' example, repeated backward, summed paths, every
operation against finite differences, and the drawing."""

import math
import os

import matplotlib.figure
import numpy as np
import pytest
from hypothesis import given
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.text import Annotation

from mlpkit.graph import Value, draw, topological_order
from tests.strategies import floats


def slides_example():
    x, y = Value(1.0, name="x"), Value(4.0, name="y")
    return x, y, x**2 + 2 * x * y


def test_slides_example_forward_and_gradients():
    x, y, L = slides_example()
    assert L.data == 9.0
    L.backward()
    assert (x.grad, y.grad, L.grad) == (10.0, 2.0, 1.0)


def test_backward_twice_gives_the_same_gradients():
    x, y, L = slides_example()
    L.backward()
    L.backward()
    assert (x.grad, y.grad) == (10.0, 2.0)


def test_node_used_on_two_paths_sums_both():
    x = Value(3.0, name="x")
    L = x * x + x          # dL/dx = 2x + 1 = 7, through three edges
    L.backward()
    assert x.grad == 7.0


def numeric(f, x0, eps=1e-6):
    return (f(x0 + eps) - f(x0 - eps)) / (2 * eps)


UNARY = {
    "exp": (lambda v: v.exp(), math.exp),
    "log": (lambda v: v.log(), math.log),
    "sigmoid": (lambda v: v.sigmoid(), lambda t: 1 / (1 + math.exp(-t))),
    "relu": (lambda v: v.relu(), lambda t: max(0.0, t)),
    "neg": (lambda v: -v, lambda t: -t),
    "pow3": (lambda v: v**3, lambda t: t**3),
    "pow-0.5": (lambda v: v**-0.5, lambda t: t**-0.5),
}


@pytest.mark.parametrize("op", sorted(UNARY))
@given(t=floats(0.1, 3.0))
def test_unary_operations_match_finite_differences(op, t):
    build, plain = UNARY[op]
    for sign in ((1, -1) if op in ("sigmoid", "relu", "neg", "pow3", "exp") else (1,)):
        x = Value(sign * t)
        out = build(x)
        out.backward()
        assert out.data == pytest.approx(plain(sign * t))
        assert x.grad == pytest.approx(numeric(plain, sign * t), rel=1e-6, abs=1e-9)


BINARY = {
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b, "/": lambda a, b: a / b,
}


@pytest.mark.parametrize("op", sorted(BINARY))
@given(a=floats(0.5, 3.0), b=floats(-3.0, -0.5), c=floats(0.5, 2.0))
def test_binary_operations_with_values_and_numbers(op, a, b, c):
    f = BINARY[op]
    x, y = Value(a), Value(b)
    out = f(f(x, y), c) + f(c, x)           # number on both sides: __radd__ and friends
    out.backward()
    assert out.data == pytest.approx(f(f(a, b), c) + f(c, a))
    assert x.grad == pytest.approx(numeric(lambda t: f(f(t, b), c) + f(c, t), a), rel=1e-6, abs=1e-8)
    assert y.grad == pytest.approx(numeric(lambda t: f(f(a, t), c) + f(c, a), b), rel=1e-6, abs=1e-8)


def test_relu_local_gradient_at_zero_is_one_half():
    x = Value(0.0)
    out = x.relu()
    out.backward()
    assert (out.data, x.grad) == (0.0, 0.5)


def test_sigmoid_is_stable_for_large_inputs():
    assert Value(-1000.0).sigmoid().data == 0.0
    assert Value(1000.0).sigmoid().data == 1.0


def test_deep_graph_needs_no_recursion():
    x = Value(1.0, name="x")
    out = x
    for _ in range(5000):
        out = out + x * 0.0 + 0.0
    out.backward()
    assert x.grad == 1.0
    assert len(topological_order(out)) > 10000


@pytest.mark.parametrize("bad, message", [("a", "data must be a real number"), (True, "data must be a real number"),
                                          ([1.0], "data must be a real number")])
def test_value_rejects_non_numbers(bad, message):
    with pytest.raises(TypeError, match=message):
        Value(bad)
    with pytest.raises(ValueError, match=message):            # NotANumberError is both
        Value(bad)


def test_operation_errors_explain_the_fix():
    x = Value(2.0)
    with pytest.raises(TypeError, match="exponent must be a number"):
        x ** Value(2.0)
    with pytest.raises(TypeError, match="operand must be a real number"):
        x + "1"
    with pytest.raises(ValueError, match="log needs a positive number, got 0"):
        Value(0.0).log()
    with pytest.raises(ZeroDivisionError, match="divisor.s data is 0"):
        x / 0


def _texts(fig):
    return [t.get_text() for t in fig.axes[0].texts]


def test_draw_shows_values_and_gradients_without_graphviz(monkeypatch):
    monkeypatch.setenv("PATH", "")                # no `dot` (nor anything else) on the PATH
    x, y, L = slides_example()
    L.backward()
    fig = draw(L, show_local=True)
    assert isinstance(fig, matplotlib.figure.Figure)
    texts = _texts(fig)
    assert "x\n1\ngrad 10" in texts and "y\n4\ngrad 2" in texts and "+\n9\ngrad 1" in texts
    assert "2\n2" in texts                        # the constant 2: value only
    assert {"2", "4", "1"} <= set(texts)          # local gradients on the arrows
    arrows = [t for t in fig.axes[0].texts if isinstance(t, Annotation)]
    # one arrowhead per edge: x->x**2, x->2x, 2->2x, 2x->2xy, y->2xy, x**2->L, 2xy->L
    assert sum(a.arrowprops["arrowstyle"] == "-|>" for a in arrows) == 7
    assert len(texts) - len(arrows) == 7 + 7      # 7 node boxes and 7 local-gradient labels


def test_draw_without_gradients_shows_forward_values_only():
    _, _, L = slides_example()
    texts = _texts(draw(L, show_grad=False))
    assert "x\n1" in texts and not any("grad" in t for t in texts)


def test_draw_keeps_thirty_nodes_readable():
    weights = [Value(0.3 * i - 0.5, name=f"w{i}") for i in range(5)]
    inputs = [Value(0.2 * i, name=f"x{i}") for i in range(5)]
    z = sum((w * x for w, x in zip(weights, inputs)), Value(0.1, name="b"))
    L = (z.sigmoid() - 1.0) ** 2 + z.relu().exp().log()
    L.backward()
    n_nodes = len(topological_order(L))
    assert 28 <= n_nodes <= 40
    fig = draw(L)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    boxes = [t.get_bbox_patch().get_window_extent(renderer) for t in fig.axes[0].texts
             if not isinstance(t, Annotation)]
    assert len(boxes) == n_nodes
    figure_box = fig.bbox
    for i, a in enumerate(boxes):
        assert figure_box.x0 <= a.x0 and a.x1 <= figure_box.x1 and figure_box.y0 <= a.y0 and a.y1 <= figure_box.y1
        for b in boxes[i + 1:]:
            assert not a.overlaps(b), "two node boxes overlap"
    assert min(t.get_fontsize() for t in fig.axes[0].texts) >= 8


def test_draw_into_existing_axes_and_rejects_non_values():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    _, _, L = slides_example()
    assert draw(L, ax=ax) is fig
    plt.close(fig)
    with pytest.raises(ValueError, match="root: draw needs the Value at the end of a graph, got float"):
        draw(3.0)
    assert os.environ.get("PATH")


@pytest.mark.parametrize("build", [lambda x, y: x**2 + 2 * x * y, lambda x, y: x * x + x,
                                   lambda x, y: ((x * y).exp() + x).log() * y + x])
def test_arrows_that_skip_columns_bend_around_boxes(build):
    from coursekit.drawing import layout as _layout

    L = build(Value(1.0, name="x"), Value(4.0, name="y"))
    order = topological_order(L)
    position, waypoints, _, _ = _layout(order)
    for (child, parent), via in waypoints.items():
        path = [position[child], *via, position[parent]]
        assert [p[0] for p in path] == list(np.arange(path[0][0], path[-1][0] + 1)), "one waypoint per column"
        for node in order:
            if id(node) in (child, parent):
                continue
            x, y = position[id(node)]
            for xp, yp in path:
                if xp == x:                       # the arrow passes this node's column at height yp
                    assert abs(yp - y) >= 0.99, f"arrow {child}->{parent} runs through {node.label}"


def test_the_autodiff_imports_without_matplotlib_and_draw_lives_in_drawing():
    import subprocess
    import sys

    code = ("import sys, mlpkit.graph; "
            "assert 'matplotlib' not in sys.modules and 'coursekit.drawing' not in sys.modules, sorted(sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    from coursekit import drawing
    from mlpkit import graph

    L = Value(2.0, name="x") * 3
    L.backward()
    assert len(graph.draw(L).axes[0].texts) == len(drawing.draw(L).axes[0].texts) == 5   # 3 boxes, 2 arrows
