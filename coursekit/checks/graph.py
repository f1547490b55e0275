"""Visible checks for the graph exercises: the graph by hand, ``topological_order(L)`` and ``graph_backward(L)``.

Both work on graphs of ``mlpkit.graph.Value`` (``.children``, ``.local_grads``, ``.grad``). The diagnoses are
written on plain data (node indices and lists of numbers), so the grader's hidden tests (tools/referee/hidden_graph.py)
word their verdicts with the same functions: ``order_mistake`` and ``grads_mistake``, with the typical mistakes
of a backward pass computed by ``backward_mistakes``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from mlpkit.graph import Value

from .calling import GRADIENT_MACHINERY, _call, practises
from .diagnosis import TOLERANCE, FeedbackError, _passed

__all__ = ["check_graph_by_hand", "check_topological_order", "check_graph_backward", "order_mistake", "grads_mistake",
           "backward_mistakes", "correct_topological_order", "example_graphs"]


def correct_topological_order(L):
    """Every node L depends on, each once, after all of its children, L last (put in place of the student's
    own while graph_backward is checked, so that a mistake in topological_order costs only its own points)."""
    order, seen, stack = [], set(), [(L, False)]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            order.append(node)
        elif id(node) not in seen:
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((child, False) for child in reversed(node.children) if id(child) not in seen)
    return order


# -- the examples --------------------------------------------------------------------------------------------
def example_graphs() -> list[tuple[str, Value]]:
    """The graphs the visible checks use, each with a few words about it: a reused node, the lecture's graph
    (with constants) and two paths of unequal length from x to L."""
    a = Value(3.0, name="a")
    b = a + a
    c = b + b
    x, y = Value(1.0, name="x"), Value(4.0, name="y")
    lecture = x**2 + 2 * x * y
    p, q = Value(0.5, name="p"), Value(-1.5, name="q")
    u = p * q
    v = u.sigmoid() * p
    unequal = (v + u).exp() * q
    return [("b = a + a; c = b + b", c), ("L = x**2 + 2*x*y", lecture),
            ("p reaches L along paths of one, two and four operations", unequal)]


def _describe(node: Value) -> str:
    if node.is_constant:
        return f"the constant {node.label}"
    if not node.children:
        return f"the input {node.label!r}"
    return f"a {node.op!r} node"


# -- diagnoses on plain data ----------------------------------------------------------------------------------
def order_mistake(order: Sequence[int | None], children: Sequence[Sequence[int]], root: int,
                  describe: Callable[[int], str]) -> str | None:
    """What is wrong with a topological order given as node indices (None: something that is not a node of the
    graph); ``children[i]`` are the indices of node i's children, ``root`` is L. None if it is right."""
    reachable, stack = set(), [root]
    while stack:
        i = stack.pop()
        if i not in reachable:
            reachable.add(i)
            stack.extend(children[i])
    if any(i is None for i in order):
        return ("contains something that is not a node of L's graph: return the Value objects themselves "
                "(not copies, names or numbers)")
    repeated = [i for position, i in enumerate(order) if i in order[:position]]
    if repeated:
        return (f"contains {describe(repeated[0])} more than once: a node reached along two paths must appear "
                "once; remember the nodes you have visited (a set) and skip them")
    missing = [i for i in sorted(reachable) if i not in order]
    if missing:
        return (f"misses {len(missing)} of the {len(reachable)} nodes L depends on, e.g. {describe(missing[0])}: "
                "visit every child of every node")
    position = {i: k for k, i in enumerate(order)}
    if order and order[0] == root and len(order) > 1:
        return "starts with L: every node must come after its children, so L is last (did you reverse it?)"
    for i in order:
        early = [c for c in children[i] if position[c] > position[i]]
        if early:
            return (f"puts {describe(i)} before its child {describe(early[0])}: append a node only after all of "
                    "its children")
    if order[-1] != root:
        return "does not end with L"
    return None


def grads_mistake(got: Sequence[Any], expected: Sequence[float], describe: Callable[[int], str],
                  mistakes: Sequence[tuple[str, Sequence[float]]] = ()) -> str | None:
    """What is wrong with the ``.grad`` of every node (in the same order as ``expected``); None if right.
    ``mistakes`` are (explanation, the gradients that mistake produces)."""
    bad = [i for i, g in enumerate(got) if isinstance(g, bool) or not isinstance(g, (int, float, np.floating))]
    if bad:
        return (f"the .grad of {describe(bad[0])} is not a number ({type(got[bad[0]]).__name__}): add numbers, "
                "e.g. child.grad += local * node.grad")
    got_array, want = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if not np.isfinite(got_array).all():
        return "some .grad are nan or inf"

    def agrees(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.abs(a - b) <= TOLERANCE * np.maximum(1.0, np.abs(b))

    if agrees(got_array, want).all():
        return None
    for explanation, values in mistakes:
        if agrees(got_array, np.asarray(values, dtype=np.float64)).all():
            return explanation
    first = int(np.flatnonzero(~agrees(got_array, want))[0])
    return (f"the .grad of {describe(first)} is wrong: each child gets local gradient x upstream gradient, added "
            "up over every path from L")


def _simulate(L: Value, order: list[Value], *, reset: bool = True, seed: bool = True, accumulate: bool = True,
              backwards: bool = True) -> None:
    """A backward pass with the switches of the typical mistakes (all True: the right one)."""
    if reset:
        for node in order:
            node.grad = 0.0
    if seed:
        L.grad = 1.0
    for node in (reversed(order) if backwards else order):
        for child, local in zip(node.children, node.local_grads):
            child.grad = child.grad + local * node.grad if accumulate else local * node.grad


MISTAKES = [
    ({"accumulate": False}, "a node reached along several paths keeps only the last path's gradient: add what "
                            "each path brings, child.grad += local * node.grad, not child.grad = ..."),
    ({"reset": False}, "the .grad left from an earlier pass are still in there: set every node's .grad to 0 "
                       "before the walk, so that calling graph_backward twice gives the same result"),
    ({"seed": False}, "the walk starts from L.grad = 0, so nothing flows back: set L.grad = 1 (dL/dL) first"),
    ({"backwards": False}, "walks the order from the inputs to L: go through it backwards, from L to the inputs, "
                           "so that a node's .grad is complete before it is passed on"),
]


def backward_mistakes(make_graph: Callable[[], tuple[Value, list[Value]]]) -> list[tuple[str, list[float]]]:
    """The ``.grad`` of every node after each typical mistake; ``make_graph()`` builds a fresh copy of the graph
    with its initial ``.grad`` and returns (L, every node in the order the gradients are compared)."""
    variants = []
    for switches, explanation in MISTAKES:
        L, nodes = make_graph()
        _simulate(L, correct_topological_order(L), **switches)
        variants.append((explanation, [node.grad for node in nodes]))
    return variants


# -- the visible checks ---------------------------------------------------------------------------------------
@practises(*GRADIENT_MACHINERY)
def check_graph_by_hand(build: Callable[..., Value], values: dict[str, float], answers: dict[str, Any]) -> None:
    """Compare hand-computed gradients with the graph engine.

    ``build(**values)`` builds the graph from Values; ``answers`` maps each input
    name to the student's dL/d(input). Says which one is wrong, not what it should be.
    """
    inputs = {name: Value(v, name=name) for name, v in values.items()}
    L = build(**inputs)
    L.backward()
    wrong = []
    for name, got in answers.items():
        if got is None or isinstance(got, bool) or not isinstance(got, (int, float, np.floating, np.integer)):
            raise FeedbackError(f"dL_d{name} should be a number, got {got!r}")
        if abs(float(got) - inputs[name].grad) > 1e-6 * max(1.0, abs(inputs[name].grad)):
            wrong.append(f"dL_d{name}")
    if wrong:
        raise FeedbackError(f"{', '.join(wrong)} {'is' if len(wrong) == 1 else 'are'} not right. Multiply the local "
                            "gradients along each path from L to the input, and add up the paths when an input "
                            "is used more than once.")
    _passed("all three gradients are right")


@practises(*GRADIENT_MACHINERY)
def check_topological_order(topological_order: Callable) -> None:
    """Visible test for ``topological_order(L) -> list`` on three graphs (a reused node, the lecture's graph,
    paths of unequal length)."""
    for about, L in example_graphs():
        nodes = correct_topological_order(L)
        index = {id(node): i for i, node in enumerate(nodes)}
        order = _call(topological_order, "topological_order", L)
        if not isinstance(order, (list, tuple)):
            raise FeedbackError(f"topological_order should return a list of nodes, got {type(order).__name__} "
                                f"(graph {about})")
        message = order_mistake([index.get(id(n)) for n in order], [[index[id(c)] for c in n.children]
                                                                   for n in nodes], index[id(L)],
                                lambda i, nodes=nodes: _describe(nodes[i]))
        if message:
            raise FeedbackError(f"topological_order {message} (graph {about})")
    _passed("topological_order lists every node once, children first, L last, on all three graphs")


@practises(*GRADIENT_MACHINERY)
def check_graph_backward(graph_backward: Callable) -> None:
    """Visible test for ``graph_backward(L)``: the gradients of three graphs whose ``.grad`` start at 5, after
    one call and after a second call; a correct topological_order is used while it runs, as in the grader."""
    namespace = getattr(graph_backward, "__globals__", {})
    had_order, own_order = "topological_order" in namespace, namespace.get("topological_order")
    namespace["topological_order"] = correct_topological_order
    try:
        for number, (about, _) in enumerate(example_graphs()):
            def make_graph(number: int = number) -> tuple[Value, list[Value]]:
                L = example_graphs()[number][1]
                nodes = correct_topological_order(L)
                for node in nodes:
                    node.grad = 5.0
                return L, nodes

            L, nodes = make_graph()
            reference, reference_nodes = make_graph()
            _simulate(reference, reference_nodes)
            expected = [node.grad for node in reference_nodes]
            mistakes = backward_mistakes(make_graph)
            for call in ("", " (second call)"):
                _call(graph_backward, "graph_backward", L)
                message = grads_mistake([node.grad for node in nodes], expected,
                                        lambda i, nodes=nodes: _describe(nodes[i]), mistakes)
                if message:
                    raise FeedbackError(f"graph_backward: {message} (graph {about}{call})")
    finally:
        if had_order:
            namespace["topological_order"] = own_order
        else:
            namespace.pop("topological_order", None)
    _passed("graph_backward fills every .grad right on all three graphs, and again when called twice")
