"""Submissions for testing the graded exercises: correct answers written another way, and typical mistakes.

``VARIANTS[variant][grade_id]`` is the whole new source of that answer cell (signature and body). To build a
submission, start from the reference solution (every answer cell of ``solutions/backprop/*.ipynb``) and
replace the cells a variant names; the other answer cells keep the reference solution. Sources use only
what the notebooks' setup cells import (``np``, ``ops``, ``losses``, ...) and, for ``train_sgd``, the
notebook's own ``backward``.

``FAILS[variant]`` maps each test cell that such a submission must fail to a regular expression matching
the visible test's diagnosis; every other test cell must pass. ``POINTS`` gives each test cell's points, so a
submission's expected score is ``TOTAL_POINTS - sum(POINTS[t] for t in FAILS[variant])``.
"""

ASSIGNMENT = "backprop"

NOTEBOOK_OF = {
    "graph_by_hand": "0_graphs_and_autodiff.ipynb",
    "topological_order": "0_graphs_and_autodiff.ipynb",
    "graph_backward": "0_graphs_and_autodiff.ipynb",
    "matmul_backward": "1_layers_and_jacobian.ipynb",
    "sigmoid_backward": "1_layers_and_jacobian.ipynb",
    "relu_backward": "1_layers_and_jacobian.ipynb",
    "softmax_jacobian": "1_layers_and_jacobian.ipynb",
    "softmax_backward": "1_layers_and_jacobian.ipynb",
    "binary_cross_entropy_backward": "2_mlp_and_training.ipynb",
    "softmax_cross_entropy_backward": "2_mlp_and_training.ipynb",
    "backward": "2_mlp_and_training.ipynb",
    "train_sgd": "2_mlp_and_training.ipynb",
}

POINTS = {
    "test_graph_by_hand": 3,
    "test_topological_order": 3,
    "test_graph_backward": 3,
    "test_matmul_backward": 3,
    "test_sigmoid_backward": 2,
    "test_relu_backward": 3,
    "test_softmax_jacobian": 2,
    "test_softmax_backward": 3,
    "test_binary_cross_entropy_backward": 2,
    "test_softmax_cross_entropy_backward": 2,
    "test_backward": 5,
    "test_train_sgd": 3,
}
TOTAL_POINTS = sum(POINTS.values())

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

#: The reference's depth-first search and walk back, the sources the graph mistakes (here and in
#: tests/test_referee.py) are made from by one edit each.
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
