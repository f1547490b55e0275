"""The hidden tests of the autodiff exercise (``topological_order``, ``graph_backward``) and of the softmax
Jacobian (``softmax_jacobian``, ``softmax_backward``); tools/referee/hidden.py adds them to its TESTS.

The graphs are random expressions over a few inputs: every operation takes its operands from earlier nodes,
mostly recent ones and sometimes any (so paths from an input to L have unequal lengths), sometimes the same node
twice (``a + a``); L adds up every node nothing else uses, so each node reaches L. The expected gradient of each
node is a central finite difference: the expression evaluated again with that node's value moved by +-h.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from coursekit.checks.graph import backward_mistakes, correct_topological_order, grads_mistake, order_mistake
from coursekit.checks.jacobian import diag_of_column, jacobian_mistakes, softmax_backward_mistakes
from mlpkit import ops
from mlpkit.gradcheck import jacobian, numerical_gradient
from mlpkit.graph import Value

from .base import RANDOM_TRIALS, CallTest, Requirement, Trial, _sum_against, _values
from .plain import GraphSpec, Node, NodeRef, Opaque, graph_values

GRAPH_TRIALS = 12                   # random graphs per test, on top of the two fixed ones

_APPLY: dict[str, Callable[..., Value]] = {
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b, "neg": lambda a: -a,
    "square": lambda a: a**2, "inverse": lambda a: a**-1, "exp": Value.exp, "log": Value.log,
    "sigmoid": Value.sigmoid, "relu": Value.relu,
}
#: Where finite differences are accurate: away from ReLU's kink, log's and 1/x's pole, exp's growth.
_SAFE: dict[str, Callable[[float], bool]] = {
    "exp": lambda a: abs(a) < 2.5, "log": lambda a: a > 0.2, "inverse": lambda a: abs(a) > 0.3,
    "relu": lambda a: abs(a) > 0.05,
}

Program = list[tuple[str, tuple]]     # ("input", (value, name)) | ("const", (value,)) | (op, child indices)


def _run(program: Program, shift: tuple[int, float] | None = None) -> list[Value]:
    """The expression's nodes, in program order; ``shift = (k, h)`` adds h to node k's value."""
    nodes: list[Value] = []
    for k, (op, args) in enumerate(program):
        if op in ("input", "const"):
            node = Value(args[0], name=args[1] if op == "input" else f"{args[0]:g}")
            node.is_constant = op == "const"
        else:
            node = _APPLY[op](*(nodes[i] for i in args))
        if shift is not None and shift[0] == k:
            node = Value(node.data + shift[1])
        nodes.append(node)
    return nodes


def _operand(rng: np.random.Generator, count: int) -> int:
    if rng.random() < 0.3:
        return int(rng.integers(count))                     # any earlier node: a shortcut
    return max(0, count - int(rng.geometric(0.5)))         # mostly the last few


def random_program(rng: np.random.Generator, n_ops: int) -> Program:
    """A random expression with 2 to 4 inputs and about ``n_ops`` operations, L last."""
    program: Program = [("input", (float(np.round(rng.choice([-1, 1]) * rng.uniform(0.3, 2.0), 3)), name))
                        for name in "abcd"[:int(rng.integers(2, 5))]]
    values = [args[0] for _, args in program]
    while len(program) < n_ops:
        op = str(rng.choice(list(_APPLY) + ["const"]))
        if op == "const":
            program.append(("const", (float(np.round(rng.uniform(-2, 2), 2)) or 1.0,)))
            values.append(program[-1][1][0])
            op = str(rng.choice(["+", "*"]))
            args: tuple = (len(program) - 1, _operand(rng, len(program) - 1))
        elif op in ("+", "-", "*"):
            first = _operand(rng, len(program))
            args = (first, first if rng.random() < 0.15 else _operand(rng, len(program)))
        else:
            args = (_operand(rng, len(program)),)
        if op in _SAFE and not _SAFE[op](values[args[0]]):
            continue
        data = _APPLY[op](*(Value(values[i]) for i in args)).data
        if abs(data) > 20 or (data != 0 and abs(data) < 1e-3):
            continue
        program.append((op, args))
        values.append(data)
    used = {i for op, args in program if op not in ("input", "const") for i in args}
    unused = [k for k in range(len(program)) if k not in used]
    total = unused[0]
    for k in unused[1:]:
        program.append(("+", (total, k)))
        total = len(program) - 1
    return program


def reused_program() -> Program:
    """b = a + a; c = b + b (dc/da = 4): the example in the exercise text."""
    return [("input", (3.0, "a")), ("+", (0, 0)), ("+", (1, 1))]


def chain_program(length: int = 120) -> Program:
    """x reaches L directly and through a chain of ``length`` operations: paths of length 1 and length + 1."""
    program: Program = [("input", (0.7, "x"))]
    for k in range(length):
        program.append(("sigmoid", (k,)) if k % 2 == 0 else ("+", (k, 0)))
    program.append(("*", (len(program) - 1, 0)))
    return program


def spec_of(program: Program, grads: np.ndarray, shuffle: np.ndarray | None = None) -> GraphSpec:
    """The program's graph as plain data, every node's ``.grad`` set to ``grads``; node ``shuffle[p]`` of the
    program at position p (default: the program's order)."""
    nodes = _run(program)
    shuffle = np.arange(len(nodes)) if shuffle is None else shuffle
    position = {id(nodes[k]): p for p, k in enumerate(shuffle)}
    return GraphSpec([Node(n.data, float(grads[k]), n.op, tuple(position[id(c)] for c in n.children),
                           tuple(n.local_grads), n.name, n.is_constant) for n, k in ((nodes[k], k) for k in shuffle)],
                     position[id(nodes[-1])])


def finite_differences(program: Program) -> list[float]:
    """dL/d(node) for every node: L evaluated with that node's value moved by +-h."""
    nodes = _run(program)
    gradients = []
    for k, node in enumerate(nodes):
        h = 1e-6 * max(1.0, abs(node.data))
        gradients.append((_run(program, (k, h))[-1].data - _run(program, (k, -h))[-1].data) / (2 * h))
    return gradients


def _about(program: Program) -> str:
    uses: dict[int, int] = {}
    for op, args in program:
        if op not in ("input", "const"):
            for i in set(args):
                uses[i] = uses.get(i, 0) + 1
    return (f"a graph of {len(program)} nodes, {sum(1 for n in uses.values() if n > 1)} of them used by more than "
            "one operation")


def _graph_trials(gradients: bool) -> Callable[[np.random.Generator], list[Trial]]:
    """The graphs of both tests (the same for a student and cell seed); ``gradients``: with the expected .grad."""
    def make(rng: np.random.Generator) -> list[Trial]:
        programs = [reused_program(), chain_program()] + [random_program(rng, int(rng.integers(6, 46)))
                                                          for _ in range(GRAPH_TRIALS)]
        trials = []
        for program in programs:
            garbage = rng.normal(0, 3, size=len(program)).round(3)   # .grad left over from an earlier pass
            shuffle = rng.permutation(len(program))                  # the sandbox's list of nodes: no useful order
            expected = np.asarray(finite_differences(program))[shuffle].tolist() if gradients else None
            trials.append(Trial((spec_of(program, garbage, shuffle),), _about(program), expected))
        return trials
    return make


def _describer(spec: GraphSpec) -> Callable[[int], str]:
    def describe(i: int) -> str:
        node = spec.nodes[i]
        if node.constant:
            return f"the constant {node.name}"
        if not node.children:
            return f"the input {node.name!r}"
        return "L" if i == spec.root else f"a {node.op!r} node"
    return describe


def _changed(spec: GraphSpec, after: Any, name: str, about: str) -> str | None:
    if not isinstance(after, GraphSpec) or len(after.nodes) != len(spec.nodes) or after.root != spec.root:
        return f"{name} broke the graph it was given (hidden test: {about})"
    if any((a.data, a.children, a.local_grads) != (n.data, n.children, n.local_grads)
           for a, n in zip(after.nodes, spec.nodes)):
        return (f"{name} changed the graph (a node's .data, .children or .local_grads): only .grad may change "
                f"(hidden test: {about})")
    return None


def _judge_order(trial: Trial, returned: Any, after: list) -> str | None:
    spec, about = trial.args[0], trial.about
    if isinstance(returned, Opaque) and returned.type.startswith("list of more than"):
        return (f"topological_order returned more Values than the graph has nodes: a node reached along several "
                f"paths must appear once (hidden test: {about})")
    if not isinstance(returned, (list, tuple)):
        what = returned.type if isinstance(returned, Opaque) else type(returned).__name__
        return f"topological_order should return a list of nodes, got {what} (hidden test: {about})"
    indices = [r.index if isinstance(r, NodeRef) and r.index >= 0 else None for r in returned]
    message = order_mistake(indices, [n.children for n in spec.nodes], spec.root, _describer(spec))
    if message:
        return f"topological_order {message} (hidden test: {about})"
    return _changed(spec, after[0], "topological_order", about)


def _judge_backward(trial: Trial, returned: Any, after: list) -> str | None:
    spec, about = trial.args[0], trial.about
    message = _changed(spec, after[0], "graph_backward", about)
    if message:
        return message

    def make_graph() -> tuple[Value, list[Value]]:
        nodes = graph_values(spec)
        return nodes[spec.root], nodes

    mistake = grads_mistake([n.grad for n in after[0].nodes], trial.expected, _describer(spec),
                            backward_mistakes(make_graph))
    return f"graph_backward: {mistake} (hidden test: {about})" if mistake else None


CORRECT_TOPOLOGICAL_ORDER = inspect.getsource(correct_topological_order) + (
    "\ntopological_order = correct_topological_order\n")


# -- the softmax Jacobian ------------------------------------------------------------------------------------
def _jacobian_trials(rng: np.random.Generator) -> list[Trial]:
    trials = []
    for number in range(RANDOM_TRIALS + 1):
        K = 4 if number == 0 else int(rng.integers(2, 10))
        z = rng.normal(0, 2, size=(K, 1))
        trials.append(Trial((z,), f"z of shape ({K}, 1)", jacobian(ops.softmax, z.copy()).reshape(K, K)))
    return trials


def _judge_jacobian(trial: Trial, returned: Any, after: list) -> str | None:
    z = trial.args[0]
    message = diag_of_column("J", returned, z.shape[0])
    if message:
        return f"{message} (hidden test: {trial.about})"
    return _values("J", returned, trial.expected, trial.about, mistakes=jacobian_mistakes(z))


#: A batch whose (K, B, K) tensor of Jacobians (5 GB) does not fit in the referee's memory limit (4 GB).
LARGE_BATCH = (1024, 600)


def _softmax_backward_trials(rng: np.random.Generator) -> list[Trial]:
    trials = []
    for number in range(RANDOM_TRIALS + 1):
        K, B = (3, 4) if number == 0 else (int(rng.integers(2, 8)), int(rng.integers(1, 9)))
        z, up = rng.normal(0, 2, size=(K, B)), rng.normal(size=(K, B))
        trials.append(Trial((up, z), f"K = {K} classes and a batch of {B}",
                            numerical_gradient(_sum_against(up, ops.softmax), z.copy())))
    K, B = LARGE_BATCH
    z, up = rng.normal(0, 2, size=(K, B)), rng.normal(size=(K, B))
    y = ops.softmax(z)                  # the formula the small trials check against finite differences
    trials.append(Trial((up, z), f"K = {K} classes and a batch of {B}: a (K, B, K) tensor of Jacobians would "
                                 f"need {K * B * K * 8 / 1e9:.0f} GB", y * (up - (y * up).sum(axis=0, keepdims=True))))
    return trials


def _judge_softmax_backward(trial: Trial, returned: Any, after: list) -> str | None:
    up, z = trial.args
    return _values("dL_dz", returned, trial.expected, trial.about, mistakes=softmax_backward_mistakes(up, z))


TESTS: dict[str, CallTest] = {
    "test_topological_order": CallTest("topological_order", _graph_trials(gradients=False), _judge_order),
    "test_graph_backward": CallTest("graph_backward", _graph_trials(gradients=True), _judge_backward,
                                    may_change=frozenset({0}), define=(CORRECT_TOPOLOGICAL_ORDER,)),
    "test_softmax_jacobian": CallTest("softmax_jacobian", _jacobian_trials, _judge_jacobian),
    "test_softmax_backward": CallTest("softmax_backward", _softmax_backward_trials, _judge_softmax_backward),
}

REQUIREMENTS = [
    Requirement("order-nodes", "topological_order", "returns a list of the graph's own Value nodes, every node L "
                "depends on, each once", "order_mistake, 14 graphs with reused nodes"),
    Requirement("order-children-first", "topological_order", "every node after all of its children, L last",
                "order_mistake"),
    Requirement("order-untouched", "topological_order", "does not change the graph", "_changed"),
    Requirement("graph-backward-values", "graph_backward", "every node's .grad is dL/d(node), paths added up",
                "grads_mistake against finite differences that move each node, 14 graphs, one a 120-step chain "
                "beside a direct path"),
    Requirement("graph-backward-reset", "graph_backward", "resets every .grad first (the same result when called "
                "twice)", "every graph starts with leftover .grad"),
    Requirement("graph-backward-only-grad", "graph_backward", "changes only .grad", "_changed"),
    Requirement("jacobian-values", "softmax_jacobian", "J[i, j] = d softmax(z)_i / d z_j, shape (K, K), for z of "
                "shape (K, 1)", "diagnose against mlpkit.gradcheck.jacobian, K = 2 to 9"),
    Requirement("softmax-backward-values", "softmax_backward", "each column is J(z_col).T @ dL_dy_hat_col, any K "
                "and B", "diagnose against finite differences, K = 2 to 7, B = 1 to 8"),
    Requirement("softmax-backward-memory", "softmax_backward", "builds no (K, B, K) tensor",
                f"K = {LARGE_BATCH[0]}, B = {LARGE_BATCH[1]}: such a tensor exceeds the memory limit"),
]

__all__ = ["TESTS", "REQUIREMENTS", "random_program", "finite_differences", "spec_of",
           "correct_topological_order"]
