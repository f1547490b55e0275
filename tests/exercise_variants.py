"""Test data for the graded exercises: the one test file to extend when an exercise is added.

What the notebooks already say is read from the reference solutions (``solutions/backprop/*.ipynb``, with
nbformat and nbgrader's cell metadata), not written here: ``NOTEBOOK_OF`` (answer cell's grade_id -> notebook
file), ``POINTS`` (test cell's grade_id -> points), ``TOTAL_POINTS``, ``SIGNATURES`` (graded function -> the
parameters of its ``def``) and ``GRADED_FUNCTIONS`` (the answer cells that define a function: all but answers
typed as numbers, such as ``graph_by_hand``).

To add an exercise, add here:

- correct answers written differently: ``RIGHT[name]``, a Python function that the visible check
  ``coursekit.feedback.check_<name>`` must accept (tests/test_feedback.py), and, as whole answer-cell sources,
  entries in ``LOOPS`` or ``FLOAT32``;
- a harmless call of every mlpkit function the exercise newly practises (``coursekit.feedback.PRACTISED``):
  ``CALLS[dotted name]``, with which tests/test_feedback.py proves the function uncallable while a student's
  function runs;
- a violating answer for every new requirement id of ``tools.referee.hidden.REQUIREMENTS``: ``VIOLATIONS[id]``
  (tests/test_referee.py);
- typical mistakes: a variant in ``VARIANTS`` with, in ``FAILS``, the diagnosis of each test cell it fails.

Lists of further typical mistakes of one exercise (MISTAKES, BACKWARD_MISTAKES, ENGINE_MISTAKES,
TRAINING_MISTAKES, ARGUMENT_CHANGES, SHORTCUTS in tests/test_feedback.py; NAMED_MISTAKES, TRAINING_MISTAKES in
tests/test_referee.py) are optional and stay next to their tests.

``VARIANTS[variant][grade_id]`` is the whole new source of that answer cell (signature and body). To build a
submission, start from the reference solution (every answer cell of ``solutions/backprop/*.ipynb``) and
replace the cells a variant names; the other answer cells keep the reference solution. Sources use only
what the notebooks' setup cells import (``np``, ``ops``, ``losses``, ...) and, for ``train_sgd``, the
notebook's own ``backward``.

``FAILS[variant]`` maps each test cell that such a submission must fail to a regular expression matching
the visible test's diagnosis; every other test cell must pass. ``POINTS`` gives each test cell's points, so a
submission's expected score is ``TOTAL_POINTS - sum(POINTS[t] for t in FAILS[variant])``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import numpy as np
from nbgrader.utils import is_grade, is_solution

import mlpkit
from coursekit.checks import graph as graph_checks
from mlpkit import MLP, gradcheck, graph, losses, ops
from mlpkit.datasets import one_hot
from mlpkit.graph import Value

ASSIGNMENT = "backprop"
SOURCE = Path(__file__).resolve().parents[1] / "solutions" / ASSIGNMENT


def _nbgrader_cells() -> list[tuple[str, nbformat.NotebookNode]]:
    """(notebook file, cell) for every cell of the reference solutions, the notebooks in the order of their names."""
    return [(path.name, cell) for path in sorted(SOURCE.glob("*.ipynb"))
            for cell in nbformat.read(path, as_version=4).cells]


def _grade_id(cell) -> str:
    return cell.metadata["nbgrader"]["grade_id"]


def _own_def(cell) -> ast.FunctionDef | None:
    """The top-level ``def`` of the function an answer cell is named after, if it has one."""
    return next((node for node in ast.parse(cell.source).body
                 if isinstance(node, ast.FunctionDef) and node.name == _grade_id(cell)), None)


_CELLS = _nbgrader_cells()
#: answer cell (nbgrader ``solution: true``) -> its notebook, in the notebooks' order.
NOTEBOOK_OF = {_grade_id(cell): name for name, cell in _CELLS if is_solution(cell)}
#: test cell (nbgrader ``grade: true``) -> its points.
POINTS = {_grade_id(cell): cell.metadata["nbgrader"]["points"] for _, cell in _CELLS if is_grade(cell)}
TOTAL_POINTS = sum(POINTS.values())
#: graded function -> its parameters, as its answer cell's ``def`` has them.
SIGNATURES = {_grade_id(cell): ast.unparse(_own_def(cell).args) for _, cell in _CELLS
              if is_solution(cell) and _own_def(cell) is not None}
#: The answer cells that define their function (graph_by_hand's answer is three numbers).
GRADED_FUNCTIONS = list(SIGNATURES)
del _CELLS

# -- correct answers, written with explicit Python loops -----------------------------------------------------
LOOPS = {
    "topological_order": '''
def topological_order(L):
    # Kahn's algorithm: count each node's parents, then peel off the nodes no remaining parent needs.
    nodes, stack = {id(L): L}, [L]
    while stack:
        for child in stack.pop().children:
            if id(child) not in nodes:
                nodes[id(child)] = child
                stack.append(child)
    parents = {key: 0 for key in nodes}
    for node in nodes.values():
        for child in set(map(id, node.children)):
            parents[child] += 1
    ready, reversed_order = [L], []
    while ready:
        node = ready.pop()
        reversed_order.append(node)
        for key in set(map(id, node.children)):
            parents[key] -= 1
            if parents[key] == 0:
                ready.append(nodes[key])
    return reversed_order[::-1]
''',
    "graph_backward": '''
def graph_backward(L):
    # The gradients collected in a dict first, written into .grad at the end.
    order = topological_order(L)
    gradient = {id(node): 0.0 for node in order}
    gradient[id(L)] = 1.0
    for node in order[::-1]:
        for i in range(len(node.children)):
            gradient[id(node.children[i])] += node.local_grads[i] * gradient[id(node)]
    for node in order:
        node.grad = gradient[id(node)]
''',
    "softmax_jacobian": '''
import math


def softmax_jacobian(z):
    K = z.shape[0]
    exps = [math.exp(z[k, 0] - z.max()) for k in range(K)]
    y = [e / sum(exps) for e in exps]
    J = np.zeros((K, K))
    for i in range(K):
        for j in range(K):
            J[i, j] = y[i] * ((1.0 if i == j else 0.0) - y[j])
    return J
''',
    "softmax_backward": '''
def softmax_backward(dL_dy_hat, z):
    # One (K, K) Jacobian per column: right, and slow for large K.
    dL_dz = np.zeros(z.shape)
    for b in range(z.shape[1]):
        y = ops.softmax(z[:, b:b + 1])
        J = np.diagflat(y) - y @ y.T
        dL_dz[:, b:b + 1] = J.T @ dL_dy_hat[:, b:b + 1]
    return dL_dz
''',
    "matmul_backward": '''
def matmul_backward(dL_dz, w, x):
    N, K = w.shape
    P = x.shape[1]
    dL_dw = np.zeros((N, K))
    dL_dx = np.zeros((K, P))
    for i in range(N):
        for k in range(K):
            for j in range(P):
                dL_dw[i, k] += dL_dz[i, j] * x[k, j]
                dL_dx[k, j] += w[i, k] * dL_dz[i, j]
    return dL_dw, dL_dx
''',
    "sigmoid_backward": '''
import math


def sigmoid_backward(dL_dz, x):
    dL_dx = np.zeros(x.shape)
    for index in np.ndindex(x.shape):
        s = 1.0 / (1.0 + math.exp(-x[index]))
        dL_dx[index] = s * (1.0 - s) * dL_dz[index]
    return dL_dx
''',
    "relu_backward": '''
def relu_backward(dL_dz, x):
    dL_dx = np.zeros(x.shape)
    for index in np.ndindex(x.shape):
        if x[index] > 0:
            dL_dx[index] = dL_dz[index]
        elif x[index] == 0:
            dL_dx[index] = 0.5 * dL_dz[index]
    return dL_dx
''',
    "binary_cross_entropy_backward": '''
def binary_cross_entropy_backward(y, y_hat):
    B = y.shape[1]
    dL_dy_hat = np.zeros(y_hat.shape)
    for i in range(B):
        dL_dy_hat[0, i] = -(y[0, i] / y_hat[0, i] - (1 - y[0, i]) / (1 - y_hat[0, i])) / B
    return dL_dy_hat
''',
    "softmax_cross_entropy_backward": '''
def softmax_cross_entropy_backward(y, y_hat):
    K, B = y.shape
    dL_dz = np.zeros((K, B))
    for i in range(B):
        for k in range(K):
            dL_dz[k, i] = (y_hat[k, i] - y[k, i]) / B
    return dL_dz
''',
}

# -- correct answers, computed in float32 ---------------------------------------------------------------------
FLOAT32 = {
    "softmax_jacobian": '''
def softmax_jacobian(z):
    y = ops.softmax(np.asarray(z, dtype=np.float32))[:, 0]
    return np.diag(y) - np.outer(y, y)
''',
    "softmax_backward": '''
def softmax_backward(dL_dy_hat, z):
    y, u = ops.softmax(np.asarray(z, dtype=np.float32)), np.asarray(dL_dy_hat, dtype=np.float32)
    return y * u - y * np.einsum("kb,kb->b", y, u)
''',
    "matmul_backward": '''
def matmul_backward(dL_dz, w, x):
    dL_dz, w, x = (np.asarray(a, dtype=np.float32) for a in (dL_dz, w, x))
    return dL_dz @ x.T, w.T @ dL_dz
''',
    "sigmoid_backward": '''
def sigmoid_backward(dL_dz, x):
    x, dL_dz = np.asarray(x, dtype=np.float32), np.asarray(dL_dz, dtype=np.float32)
    s = np.float32(1) / (np.float32(1) + np.exp(-x))
    return dL_dz * s * (np.float32(1) - s)
''',
    "relu_backward": '''
def relu_backward(dL_dz, x):
    x, dL_dz = np.asarray(x, dtype=np.float32), np.asarray(dL_dz, dtype=np.float32)
    return dL_dz * np.where(x > 0, np.float32(1), np.where(x == 0, np.float32(0.5), np.float32(0)))
''',
    "binary_cross_entropy_backward": '''
def binary_cross_entropy_backward(y, y_hat):
    y, y_hat = np.asarray(y, dtype=np.float32), np.asarray(y_hat, dtype=np.float32)
    return -(y / y_hat - (1 - y) / (1 - y_hat)) / np.float32(y.shape[1])
''',
    "softmax_cross_entropy_backward": '''
def softmax_cross_entropy_backward(y, y_hat):
    y, y_hat = np.asarray(y, dtype=np.float32), np.asarray(y_hat, dtype=np.float32)
    return (y_hat - y) / np.float32(y.shape[1])
''',
    "backward": '''
def backward(L, y, y_hat, buffer, params):
    f32 = np.float32
    X, z1, a1, z2, a2, z3 = (np.asarray(array, dtype=f32) for array in buffer)
    z, a = {1: z1, 2: z2, 3: z3}, {0: X, 1: a1, 2: a2}
    grads = {}
    for l in range(3, 0, -1):
        if l == 3:
            dL_dz = (np.asarray(y_hat, dtype=f32) - np.asarray(y, dtype=f32)) / f32(y.shape[1])
        else:
            dL_dz = dL_da * np.where(z[l] > 0, f32(1), np.where(z[l] == 0, f32(0.5), f32(0)))
        grads[f"W{l}"] = dL_dz @ a[l - 1].T
        grads[f"b{l}"] = dL_dz.sum(axis=1, keepdims=True)
        dL_da = np.asarray(params[f"W{l}"], dtype=f32).T @ dL_dz
    return grads
''',
}

# -- typical mistakes, one per variant ------------------------------------------------------------------------
MATMUL_TRANSPOSED = '''
def matmul_backward(dL_dz, w, x):
    dL_dw = x @ dL_dz.T          # the factors in the wrong order: the transpose of dL/dw
    dL_dx = w.T @ dL_dz
    return dL_dw, dL_dx
'''

SIGMOID_AT_OUTPUT = '''
def sigmoid_backward(dL_dz, x):
    a = ops.sigmoid(x)                                         # the output ...
    return dL_dz * ops.sigmoid(a) * (1 - ops.sigmoid(a))      # ... used where the input belongs
'''

RELU_ZERO_AT_KINK = '''
def relu_backward(dL_dz, x):
    return dL_dz * (x > 0)       # 0 at x == 0 (PyTorch's choice), not the course's 0.5
'''

BCE_SLIDES_SIGN = '''
def binary_cross_entropy_backward(y, y_hat):
    B = y.shape[1]
    return (y / y_hat - (1 - y) / (1 - y_hat)) / B      # as printed on the slides: no minus sign
'''

SOFTMAX_SUM_NOT_MEAN = '''
def softmax_cross_entropy_backward(y, y_hat):
    return y_hat - y             # one sample's gradient: the batch mean's 1/B is missing
'''

BACKWARD_AT_OUTPUT = '''
def backward(L, y, y_hat, buffer, params):
    X, z1, a1, z2, a2, z3 = buffer
    a = {0: X, 1: a1, 2: a2}
    grads = {}
    for l in range(3, 0, -1):
        if l == 3:
            dL_dz = losses.softmax_cross_entropy_backward(y, y_hat)
        else:
            dL_dz = ops.relu_backward(dL_da, a[l])      # ReLU's derivative at its output a, not its input z
        grads[f"W{l}"] = dL_dz @ a[l - 1].T
        grads[f"b{l}"] = dL_dz.sum(axis=1, keepdims=True)
        dL_da = params[f"W{l}"].T @ dL_dz
    return grads
'''

TRAIN_NOT_IN_PLACE = '''
def train_sgd(model, X, y, epochs, batch_size, lr, seed):
    rng = np.random.default_rng(seed)
    N = X.shape[1]
    history = []
    for epoch in range(epochs):
        order = rng.permutation(N)
        loss_sum = 0.0
        for start in range(0, N, batch_size):
            batch = order[start:start + batch_size]
            y_hat, buffer = model.forward(X[:, batch])
            L = model.loss(y[:, batch], y_hat)
            grads = backward(L, y[:, batch], y_hat, buffer, model.params)
            for key, param in model.params.items():
                param = param - lr * grads[key]      # a new array named param: model.params never changes
            loss_sum += L * len(batch)
        history.append(loss_sum / N)
    return history
'''

SOFTMAX_B_FROM_ROWS = '''
def softmax_cross_entropy_backward(y, y_hat):
    B = y.shape[0]               # the number of classes K, not the batch size (y is (K, B))
    return (y_hat - y) / B
'''

BCE_B_FROM_ROWS = '''
def binary_cross_entropy_backward(y, y_hat):
    B = y.shape[0]               # 1: y is (1, B)
    return -(y / y_hat - (1 - y) / (1 - y_hat)) / B
'''

BACKWARD_NO_KEEPDIMS = '''
def backward(L, y, y_hat, buffer, params):
    X, z1, a1, z2, a2, z3 = buffer
    z, a = {1: z1, 2: z2, 3: z3}, {0: X, 1: a1, 2: a2}
    grads = {}
    for l in range(3, 0, -1):
        dL_dz = losses.softmax_cross_entropy_backward(y, y_hat) if l == 3 else ops.relu_backward(dL_da, z[l])
        grads[f"W{l}"] = dL_dz @ a[l - 1].T
        grads[f"b{l}"] = dL_dz.sum(axis=1)          # shape (n,): keepdims=True is missing
        dL_da = params[f"W{l}"].T @ dL_dz
    return grads
'''

BACKWARD_RELU_FORGOTTEN_AT_LAYER_1 = '''
def backward(L, y, y_hat, buffer, params):
    X, z1, a1, z2, a2, z3 = buffer
    a = {0: X, 1: a1, 2: a2}
    dL_dz = losses.softmax_cross_entropy_backward(y, y_hat)
    grads = {}
    for l in range(3, 0, -1):
        grads[f"W{l}"] = dL_dz @ a[l - 1].T
        grads[f"b{l}"] = dL_dz.sum(axis=1, keepdims=True)
        dL_da = params[f"W{l}"].T @ dL_dz
        if l == 3:
            dL_dz = ops.relu_backward(dL_da, z2)
        else:
            dL_dz = dL_da                            # layer 1's ReLU forgotten
    return grads
'''

TRAIN_GRADIENT_ASCENT = TRAIN_NOT_IN_PLACE.replace(
    "            for key, param in model.params.items():\n"
    "                param = param - lr * grads[key]      # a new array named param: model.params never changes\n",
    "            for key in model.params:\n"
    "                model.params[key] += lr * grads[key]       # uphill: the sign of the step is wrong\n")
assert TRAIN_GRADIENT_ASCENT != TRAIN_NOT_IN_PLACE

#: The reference's depth-first search and walk back, the sources the graph mistakes (in VARIANTS and
#: VIOLATIONS) are made from by one edit each.
TOPOLOGICAL_ORDER = '''
def topological_order(L):
    order, seen = [], set()

    def visit(node):
        if node not in seen:
            seen.add(node)
            for child in node.children:
                visit(child)
            order.append(node)

    visit(L)
    return order
'''

GRAPH_BACKWARD = '''
def graph_backward(L):
    order = topological_order(L)
    for node in order:
        node.grad = 0.0
    L.grad = 1.0
    for node in reversed(order):
        for child, local in zip(node.children, node.local_grads):
            child.grad += local * node.grad
'''


def edited(source: str, old: str, new: str) -> str:
    """``source`` with ``old`` replaced by ``new`` (which must be there)."""
    assert old in source, old
    return source.replace(old, new)


ORDER_DUPLICATES = edited(TOPOLOGICAL_ORDER, "        if node not in seen:\n",
                          "        if True:    # nothing skipped: a node reached along two paths comes twice\n")
BACKWARD_ASSIGNS = edited(GRAPH_BACKWARD, "child.grad += local * node.grad",
                          "child.grad = local * node.grad          # = instead of +=: only the last path counts")
BACKWARD_NO_RESET = edited(GRAPH_BACKWARD, "    for node in order:\n        node.grad = 0.0\n", "")

JACOBIAN_DIAGONAL = '''
def softmax_jacobian(z):
    y_hat = ops.softmax(z)
    return np.diagflat(y_hat * (1 - y_hat))       # as if softmax acted entry by entry
'''

SOFTMAX_BACKWARD_WRONG_AXIS = '''
def softmax_backward(dL_dy_hat, z):
    y_hat = ops.softmax(z)
    return y_hat * (dL_dy_hat - (y_hat * dL_dy_hat).sum(axis=1, keepdims=True))
'''

SOFTMAX_BACKWARD_TENSOR = '''
def softmax_backward(dL_dy_hat, z):
    # Every column's Jacobian at once: a (B, K, K) tensor, right but far too large for a big batch.
    y_hat = ops.softmax(z)
    K = z.shape[0]
    J = np.einsum("kb,kj->bkj", y_hat, np.eye(K)) - np.einsum("kb,jb->bkj", y_hat, y_hat)
    return np.einsum("bkj,kb->jb", J, dL_dy_hat)
'''

VARIANTS = {
    "loops": LOOPS,
    "float32": FLOAT32,
    "matmul_transposed": {"matmul_backward": MATMUL_TRANSPOSED},
    "softmax_sum_not_mean": {"softmax_cross_entropy_backward": SOFTMAX_SUM_NOT_MEAN},
    "bce_slides_sign": {"binary_cross_entropy_backward": BCE_SLIDES_SIGN},
    "sigmoid_at_output": {"sigmoid_backward": SIGMOID_AT_OUTPUT},
    "relu_zero_at_kink": {"relu_backward": RELU_ZERO_AT_KINK},
    "backward_at_output": {"backward": BACKWARD_AT_OUTPUT},
    "train_not_in_place": {"train_sgd": TRAIN_NOT_IN_PLACE},
    "softmax_B_from_rows": {"softmax_cross_entropy_backward": SOFTMAX_B_FROM_ROWS},
    "bce_B_from_rows": {"binary_cross_entropy_backward": BCE_B_FROM_ROWS},
    "backward_no_keepdims": {"backward": BACKWARD_NO_KEEPDIMS},
    "backward_relu_forgotten_at_layer_1": {"backward": BACKWARD_RELU_FORGOTTEN_AT_LAYER_1},
    "train_gradient_ascent": {"train_sgd": TRAIN_GRADIENT_ASCENT},
    "graph_duplicates_and_assign": {"topological_order": ORDER_DUPLICATES, "graph_backward": BACKWARD_ASSIGNS},
    "graph_no_reset_jacobian_diagonal_wrong_axis": {"graph_backward": BACKWARD_NO_RESET,
                                                    "softmax_jacobian": JACOBIAN_DIAGONAL,
                                                    "softmax_backward": SOFTMAX_BACKWARD_WRONG_AXIS},
    "softmax_backward_tensor": {"softmax_backward": SOFTMAX_BACKWARD_TENSOR},
}
VARIANTS = {name: {grade_id: source.strip("\n") + "\n" for grade_id, source in cells.items()}
            for name, cells in VARIANTS.items()}

FAILS = {
    "loops": {},
    "float32": {},
    "matmul_transposed": {
        "test_matmul_backward": r"dL_dw has shape \(4, 3\), expected \(3, 4\): did you forget a transpose"},
    "softmax_sum_not_mean": {
        "test_softmax_cross_entropy_backward": r"B = 4 times too large: the loss is the mean over the batch"},
    "bce_slides_sign": {
        "test_binary_cross_entropy_backward": r"opposite sign\. The slides print this formula without its minus"},
    "sigmoid_at_output": {"test_sigmoid_backward": r"took the derivative at the output"},
    "relu_zero_at_kink": {"test_relu_backward": r"is 0 where x == 0\. .*0\.5"},
    "backward_at_output": {
        "test_backward": r"grads\['W2'\]: took ReLU's derivative at the layer's output a instead of its input z"},
    "train_not_in_place": {"test_train_sgd": r"model\.params did not change: update them in place"},
    "softmax_B_from_rows": {"test_softmax_cross_entropy_backward":
                            r"divided by y\.shape\[0\] = 3, the number of rows of y.*B = y\.shape\[1\]"},
    "bce_B_from_rows": {"test_binary_cross_entropy_backward":
                        r"B = 4 times too large: the loss is the mean .* divide by B = y\.shape\[1\]"},
    "backward_no_keepdims": {"test_backward": r"grads\['b3'\] has shape \(3,\), expected \(3, 1\): the sum over "
                                              r"the batch dropped the second axis.*keepdims=True"},
    "backward_relu_forgotten_at_layer_1": {"test_backward": r"grads\['W1'\]: forgot ReLU's derivative at layer 1"},
    "train_gradient_ascent": {"test_train_sgd": r"the first update went uphill.*W -= lr \* dL/dW"},
    "graph_duplicates_and_assign": {
        "test_topological_order": r"contains the input 'a' more than once.*a set",
        "test_graph_backward": r"keeps only the last path's gradient.*child\.grad \+= local \* node\.grad"},
    "graph_no_reset_jacobian_diagonal_wrong_axis": {
        "test_graph_backward": r"left from an earlier pass.*set every node's \.grad to 0",
        "test_softmax_jacobian": r"J: has only the diagonal",
        "test_softmax_backward": r"summed over the batch \(axis=1\)"},
    "softmax_backward_tensor": {"test_softmax_backward": r"a \(K, B, K\) tensor of Jacobians"},
}


# == the visible checks (tests/test_feedback.py): a right answer per graded function, a call per practised one ==
def order_right(L):
    return graph_checks.correct_topological_order(L)


def graph_backward_right(L):
    graph_checks._simulate(L, order_right(L))


def softmax_jacobian_right(z):
    y = ops.softmax(z)
    return np.diagflat(y) - y @ y.T


def softmax_backward_right(u, z):
    y = ops.softmax(z)
    return y * (u - (y * u).sum(axis=0, keepdims=True))


def sigmoid_correct(dL_dz, x):
    s = 1 / (1 + np.exp(-x))
    return dL_dz * s * (1 - s)


def backward_numpy(L, y, y_hat, buffer, params, relu_at="z", sum_bias=True):
    """The MLP's backward for buffer = (X, z1, a1, ..., zL); relu_at="a" and sum_bias=False are two mistakes."""
    grads, dL_dz = {}, (y_hat - y) / y.shape[1]
    for l in range(len(params) // 2, 0, -1):
        grads[f"W{l}"] = dL_dz @ buffer[2 * l - 2].T
        grads[f"b{l}"] = dL_dz.sum(axis=1, keepdims=True) if sum_bias else dL_dz
        if l > 1:
            relu_input = buffer[2 * l - 3] if relu_at == "z" else buffer[2 * l - 2]
            dL_dz = (params[f"W{l}"].T @ dL_dz) * np.heaviside(relu_input, 0.5)
    return grads


def backward(L, y, y_hat, buffer, params):
    """The global ``backward`` that ``train_sgd_right`` calls, as a notebook's train_sgd calls the notebook's,
    deliberately wrong (gradient ascent): check_train_sgd must put a correct one in its place while it runs, as the
    grader does, so the loop passes all the same."""
    return {key: -g for key, g in backward_numpy(L, y, y_hat, buffer, params).items()}


WRONG_BACKWARD = backward


def train_sgd_right(model, X, y, epochs, batch_size, lr, seed):
    """Mini-batch SGD as the task describes it, calling this module's global ``backward``."""
    rng, N, history = np.random.default_rng(seed), X.shape[1], []
    for _ in range(epochs):
        order, loss_sum = rng.permutation(N), 0.0
        for start in range(0, N, batch_size):
            batch = order[start:start + batch_size]
            y_hat, buffer = model.forward(X[:, batch])
            L = model.loss(y[:, batch], y_hat)
            grads = backward(L, y[:, batch], y_hat, buffer, model.params)
            for key in model.params:
                model.params[key] -= lr * grads[key]
            loss_sum += L * len(batch)
        history.append(loss_sum / N)
    return history


#: graded function -> a right answer, which its visible check must accept (one for every graded function).
RIGHT = {
    "topological_order": order_right,
    "graph_backward": graph_backward_right,
    "softmax_jacobian": softmax_jacobian_right,
    "softmax_backward": softmax_backward_right,
    "matmul_backward": lambda d, w, x: (d @ x.T, w.T @ d),
    "sigmoid_backward": sigmoid_correct,
    "relu_backward": lambda d, x: d * np.heaviside(x, 0.5),
    "binary_cross_entropy_backward": lambda y, p: -(y / p - (1 - y) / (1 - p)) / y.shape[1],
    "softmax_cross_entropy_backward": lambda y, p: (p - y) / y.shape[1],
    "backward": backward_numpy,
    "train_sgd": train_sgd_right,
}


def tiny_network():
    model = MLP([2, 3, 2], seed=0)
    X, y = np.ones((2, 4)), one_hot(np.array([0, 1, 0, 1]), 2)
    y_hat, buffer = model.forward(X)
    return model, X, y, y_hat, buffer


def tiny_backward():
    model, _, y, y_hat, buffer = tiny_network()
    return model.backward(0.0, y, y_hat, buffer)


def tiny_private_backward():
    model, _, y, y_hat, buffer = tiny_network()
    return model._backward(y, y_hat, buffer)


def tiny_step():
    model, _, y, y_hat, buffer = tiny_network()
    model.step({key: np.zeros_like(W) for key, W in model.params.items()}, 0.1)


def tiny_training():
    model, X, y, _, _ = tiny_network()
    return mlpkit.train(model, X, y, epochs=1, progress=False)


#: A harmless call of each practised function (one for every name in coursekit.feedback.PRACTISED).
CALLS = {
    "mlpkit.ops.matmul_backward": lambda: ops.matmul_backward(np.ones((1, 1)), np.ones((1, 1)), np.ones((1, 1))),
    "mlpkit.ops.sigmoid_backward": lambda: ops.sigmoid_backward(np.ones(2), np.zeros(2)),
    "mlpkit.ops.relu_backward": lambda: ops.relu_backward(np.ones(2), np.zeros(2)),
    "mlpkit.ops.relu_derivative": lambda: ops.relu_derivative(np.zeros(2)),
    "mlpkit.losses.binary_cross_entropy_backward":
        lambda: losses.binary_cross_entropy_backward(np.ones((1, 2)), np.full((1, 2), 0.5)),
    "mlpkit.losses.softmax_cross_entropy_backward":
        lambda: losses.softmax_cross_entropy_backward(np.eye(2), np.full((2, 2), 0.5)),
    "mlpkit.graph.Value.sigmoid": lambda: Value(0.0).sigmoid(),
    "mlpkit.graph.Value.relu": lambda: Value(0.0).relu(),
    "mlpkit.graph.Value.backward": lambda: (Value(2.0) * Value(3.0)).backward(),
    "mlpkit.graph.topological_order": lambda: graph.topological_order(Value(1.0)),
    "mlpkit.gradcheck.numerical_gradient": lambda: gradcheck.numerical_gradient(lambda v: float(v @ v), np.ones(2)),
    "mlpkit.gradcheck.jacobian": lambda: gradcheck.jacobian(lambda v: 2 * v, np.ones(2)),
    "mlpkit.mlp.MLP.backward": tiny_backward,
    "mlpkit.mlp.MLP._backward": tiny_private_backward,
    "mlpkit.mlp.MLP.step": tiny_step,
    "mlpkit.training.train": tiny_training,
}


def right_but_calling(name, dotted):
    """A student's ``name`` that makes the call ``CALLS[dotted]`` and is otherwise ``RIGHT[name]``. It is made in
    this module because check_train_sgd puts its correct ``backward`` into the globals of the function it checks,
    and ``RIGHT["train_sgd"]`` calls this module's ``backward``."""
    def student(*args):
        CALLS[dotted]()
        return RIGHT[name](*args)
    return student


# == the hidden tests (tests/test_referee.py): an answer that breaks each stated requirement ===================
CORRECT_TRAIN = '''
def train_sgd(model, X, y, epochs, batch_size, lr, seed):
    rng = np.random.default_rng(seed)
    N = X.shape[1]
    history = []
    for epoch in range(epochs):
        order = {order}
        loss_sum, losses_ = 0.0, []
        for start in range(0, N, batch_size):
            batch = order[start:start + batch_size]
            y_hat, buffer = model.forward(X[:, batch])
            L = model.loss(y[:, batch], y_hat)
            grads = backward(L, y[:, batch], y_hat, buffer, model.params)
            for key in model.params:
                {update}
            loss_sum += L * len(batch)
            losses_.append(L)
        history.append({epoch_loss})
    return {returned}
'''


def train(order="rng.permutation(N)", update="model.params[key] -= lr * grads[key]", epoch_loss="loss_sum / N",
          returned="history", before_loop="") -> str:
    """The source of a train_sgd answer cell: correct with the defaults, one requirement broken by each change."""
    source = CORRECT_TRAIN.format(order=order, update=update, epoch_loss=epoch_loss, returned=returned)
    first = "    rng = np.random.default_rng(seed)\n"
    return source.replace(first, first + before_loop)


BACKWARD_MUTATES_Y_HAT = '''
def backward(L, y, y_hat, buffer, params):
    X, z1, a1, z2, a2, z3 = buffer
    dL_dz = y_hat
    dL_dz -= y                  # changes the caller's y_hat
    dL_dz /= y.shape[1]
    a = {0: X, 1: a1, 2: a2}
    z = {1: z1, 2: z2}
    grads = {}
    for l in range(3, 0, -1):
        if l < 3:
            dL_dz = ops.relu_backward(dL_da, z[l])
        grads[f"W{l}"] = dL_dz @ a[l - 1].T
        grads[f"b{l}"] = dL_dz.sum(axis=1, keepdims=True)
        dL_da = params[f"W{l}"].T @ dL_dz
    return grads
'''

ORDER_FIRST_CHILD_ONLY = edited(TOPOLOGICAL_ORDER, "in node.children:", "in node.children[:1]:   # the first only")
ORDER_REVERSED_BREADTH_FIRST = """
def topological_order(L):
    order, seen, queue = [], {L}, [L]
    while queue:
        node = queue.pop(0)
        order.append(node)
        for child in node.children:
            if child not in seen:
                seen.add(child)
                queue.append(child)
    return order[::-1]      # a node reached early by a short path may still be used by a later one
"""
ORDER_CLEARS_LOCAL_GRADS = edited(TOPOLOGICAL_ORDER, "            order.append(node)\n",
                                  "            order.append(node)\n"
                                  "            node.local_grads = tuple(0.0 for _ in node.children)\n")
BACKWARD_IGNORES_LOCAL_GRADS = edited(GRAPH_BACKWARD, "local * node.grad", "node.grad")
BACKWARD_ZEROES_DATA = GRAPH_BACKWARD + "    for node in order:\n        node.data = 0.0\n"
NO_RESET = VARIANTS["graph_no_reset_jacobian_diagonal_wrong_axis"]["graph_backward"]

#: requirement id -> (replacement answer cells, the test cell that must fail, what its verdict must say)
VIOLATIONS = {
    "graph-numbers": ({"graph_by_hand": 'dL_dx, dL_dy, dL_dz = "3.0", 0.5, 1.0'}, "test_graph_by_hand",
                      r"dL_dx should be a number"),
    "graph-values": ({"graph_by_hand": "dL_dx, dL_dy, dL_dz = 2.0, 0.5, 1.0"}, "test_graph_by_hand",
                     r"dL_dx is not right"),
    "matmul-pair": ({"matmul_backward": "def matmul_backward(dL_dz, w, x):\n    return [dL_dz @ x.T, w.T @ dL_dz, 0]"},
                    "test_matmul_backward", r"should return the pair \(dL_dw, dL_dx\), got 3 values"),
    "matmul-shapes": ({"matmul_backward": "def matmul_backward(dL_dz, w, x):\n    return x @ dL_dz.T, w.T @ dL_dz"},
                      "test_matmul_backward", r"dL_dw has shape .*(transpose|shape of its variable)"),
    "matmul-values": ({"matmul_backward": "def matmul_backward(dL_dz, w, x):\n"
                       "    if w.dtype == np.float32:\n        return np.zeros(w.shape), np.zeros(x.shape)\n"
                       "    return dL_dz @ x.T, w.T @ dL_dz"}, "test_matmul_backward", r"in float32"),
    "sigmoid-values": ({"sigmoid_backward": "def sigmoid_backward(dL_dz, x):\n    s = ops.sigmoid(x)\n"
                        "    return dL_dz * s * (1 - s) if x.shape == (2, 3) else dL_dz * s"},
                       "test_sigmoid_backward", r"wrong values"),
    "relu-half": ({"relu_backward": "def relu_backward(dL_dz, x):\n    return dL_dz * (x >= 0)"},
                  "test_relu_backward", r"with exact zeros"),
    "bce-values": ({"binary_cross_entropy_backward": "def binary_cross_entropy_backward(y, y_hat):\n"
                    "    return -(y / y_hat - (1 - y) / (1 - y_hat)) / y.shape[0]"},
                   "test_binary_cross_entropy_backward", r"B = \d+ times too large"),
    "softmax-values": ({"softmax_cross_entropy_backward": "def softmax_cross_entropy_backward(y, y_hat):\n"
                        "    return -y / y_hat / y.shape[1]"}, "test_softmax_cross_entropy_backward",
                       r"dL_dz has the right shape but wrong values"),
    "backward-keys": ({"backward": "def backward(L, y, y_hat, buffer, params):\n"
                       "    return {'W1': np.zeros(params['W1'].shape)}"}, "test_backward",
                      r"exactly the keys of params"),
    "backward-values": ({"backward": VARIANTS["backward_at_output"]["backward"]}, "test_backward",
                        r"grads\['W2'\]"),
    "train-list": ({"train_sgd": train(returned="np.array(history)")}, "test_train_sgd",
                   r"should return a list with one loss per epoch, got ndarray"),
    "train-updates": ({"train_sgd": train(update="param = model.params[key] - lr * grads[key]")}, "test_train_sgd",
                      r"model\.params did not change"),
    "train-sgd": ({"train_sgd": train(order="np.arange(N)")}, "test_train_sgd",
                  r"model\.params differ from mini-batch SGD"),
    "train-mean": ({"train_sgd": train(epoch_loss="float(np.mean(losses_))")}, "test_train_sgd",
                   r"not each epoch's mean training loss"),
    "arguments": ({"backward": BACKWARD_MUTATES_Y_HAT}, "test_backward", r"changed its argument number 3"),
    "practised": ({"relu_backward": "def relu_backward(dL_dz, x):\n    return ops.relu_backward(dL_dz, x)"},
                  "test_relu_backward", r"calls mlpkit's ops\.relu_backward, which this exercise does not allow"),
    "defined": ({"sigmoid_backward": "raise ValueError('oops')\ndef sigmoid_backward(dL_dz, x):\n    pass"},
                "test_sigmoid_backward", r"is not defined when its test cell runs"),
    "order-nodes": ({"topological_order": ORDER_FIRST_CHILD_ONLY}, "test_topological_order",
                    r"misses \d+ of the \d+ nodes L depends on"),
    "order-children-first": ({"topological_order": ORDER_REVERSED_BREADTH_FIRST}, "test_topological_order",
                             r"puts .* before its child"),
    "order-untouched": ({"topological_order": ORDER_CLEARS_LOCAL_GRADS}, "test_topological_order",
                        r"changed the graph"),
    "graph-backward-values": ({"graph_backward": BACKWARD_IGNORES_LOCAL_GRADS}, "test_graph_backward",
                        r"the \.grad of .* is wrong"),
    "graph-backward-reset": ({"graph_backward": NO_RESET}, "test_graph_backward", r"left from an earlier pass"),
    "graph-backward-only-grad": ({"graph_backward": BACKWARD_ZEROES_DATA}, "test_graph_backward",
                                 r"changed the graph"),
    "jacobian-values": ({"softmax_jacobian": "def softmax_jacobian(z):\n    y = ops.softmax(z)\n"
                         "    return np.eye(len(y)) - y @ y.T"}, "test_softmax_jacobian", r"J has the right shape"),
    "softmax-backward-values": ({"softmax_backward": "def softmax_backward(dL_dy_hat, z):\n"
                                 "    return ops.softmax(z) * dL_dy_hat"}, "test_softmax_backward",
                                r"misses the sum term"),
    "softmax-backward-memory": ({"softmax_backward": VARIANTS["softmax_backward_tensor"]["softmax_backward"]},
                                "test_softmax_backward", r"MemoryError.*\(K, B, K\) tensor of Jacobians would need"),
}
