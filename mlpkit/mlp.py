"""The multi-layer perceptron of the slides, any depth, with the slides' backward loop.

    Z[l] = W[l] @ A[l-1] + b[l],   A[l] = f(Z[l]),   A[0] = X,   y_hat = A[L]

``W[l]`` has shape (n_l, n_{l-1}), ``b[l]`` (n_l, 1); columns are samples.
Hidden layers use ReLU or sigmoid; the output is softmax (K >= 2 classes, with
cross-entropy) or sigmoid (one unit, with binary cross-entropy).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import losses, ops
from ._checks import as_float_array, check_shape

__all__ = ["MLP", "DECISION_THRESHOLD"]

#: A sigmoid output at or above this probability predicts class 1.
DECISION_THRESHOLD = 0.5

_ACTIVATIONS = {"relu": (ops.relu, ops.relu_backward), "sigmoid": (ops.sigmoid, ops.sigmoid_backward)}


class MLP:
    """A fully connected network ``sizes = [n_0, n_1, ..., n_L]``.

    Args:
        sizes: input size, hidden sizes, output size, e.g. [2, 100, 100, 5].
        activation: hidden-layer activation, "relu" or "sigmoid".
        output: "softmax" (cross-entropy loss) or "sigmoid" (binary cross-entropy, one unit).
        seed: seeds the weight initialisation, so the same seed gives the same model.
        dtype: float64 (default) or float32.

    Weights start at normal(0, sqrt(2 / n_{l-1})) for ReLU (He) and
    normal(0, sqrt(1 / n_{l-1})) for sigmoid; biases start at 0.
    """

    def __init__(self, sizes: Sequence[int], activation: str = "relu", output: str = "softmax",
                 seed: int | None = 0, dtype: type = np.float64) -> None:
        sizes = list(sizes)
        if len(sizes) < 2 or not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 1
                                     for n in sizes):
            raise ValueError(f"sizes: expected at least two positive integers [n_0, ..., n_L], got {sizes}")
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation: expected 'relu' or 'sigmoid', got {activation!r}")
        if output not in ("softmax", "sigmoid"):
            raise ValueError(f"output: expected 'softmax' or 'sigmoid', got {output!r}")
        if output == "softmax" and sizes[-1] < 2:
            raise ValueError(f"sizes: a softmax output needs at least 2 classes, got n_L = {sizes[-1]}; "
                             "use output='sigmoid' for a single binary output")
        if output == "sigmoid" and sizes[-1] != 1:
            raise ValueError(f"sizes: a sigmoid output has one unit (binary classification), got n_L = "
                             f"{sizes[-1]}; use output='softmax' for {sizes[-1]} classes")
        if np.dtype(dtype) not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise ValueError(f"dtype: expected float32 or float64, got {np.dtype(dtype)}")
        self.sizes, self.activation, self.output = sizes, activation, output
        self.n_layers = len(sizes) - 1
        self._f, self._f_backward = _ACTIVATIONS[activation]
        rng = np.random.default_rng(seed)
        gain = 2.0 if activation == "relu" else 1.0
        self.params: dict[str, np.ndarray] = {}
        for l in range(1, self.n_layers + 1):
            n_in, n_out = sizes[l - 1], sizes[l]
            self.params[f"W{l}"] = (rng.standard_normal((n_out, n_in)) * np.sqrt(gain / n_in)).astype(dtype)
            self.params[f"b{l}"] = np.zeros((n_out, 1), dtype=dtype)

    def __repr__(self) -> str:
        return f"MLP({self.sizes}, activation={self.activation!r}, output={self.output!r})"

    # -- forward -----------------------------------------------------------
    def forward(self, X: np.ndarray) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        """Returns ``(y_hat, buffer)``; ``buffer = (X, z1, a1, ..., z_{L-1}, a_{L-1}, zL)``.

        The slides' buffer is ``(z1, a1, z2, a2, z3)``; it also needs ``X``,
        because dL/dW1 = dL/dz1 @ X.T.
        """
        X = as_float_array("X", X, ndim=2)
        n_0 = self.sizes[0]
        if X.shape[0] != n_0:
            expected = (n_0, X.shape[0]) if X.shape[1] == n_0 else (n_0, X.shape[1])
            check_shape("X", X, expected, f"the model expects {n_0} features per column (columns are samples)")
        buffer = [X]
        a = X
        for l in range(1, self.n_layers + 1):
            z = self.params[f"W{l}"] @ a + self.params[f"b{l}"]      # Z[l] = W[l] @ A[l-1] + b[l]
            buffer.append(z)
            if l < self.n_layers:
                a = self._f(z)
                buffer.append(a)
        y_hat = ops.softmax(z) if self.output == "softmax" else ops.sigmoid(z)
        return y_hat, tuple(buffer)

    def loss(self, y: np.ndarray, y_hat: np.ndarray) -> float:
        """Mean cross-entropy (softmax output) or binary cross-entropy (sigmoid output)."""
        self._check_targets(y, y_hat)
        return losses.cross_entropy(y, y_hat) if self.output == "softmax" else losses.binary_cross_entropy(y, y_hat)

    # -- backward ----------------------------------------------------------
    def backward(self, L: float, y: np.ndarray, y_hat: np.ndarray,
                 buffer: tuple[np.ndarray, ...]) -> dict[str, np.ndarray]:
        """Gradients of the batch-mean loss; same keys and shapes as ``params``.

        ``L`` is accepted to follow the slides' signature; backprop starts from
        dL/dL = 1 and does not need its value.
        """
        self._check_targets(y, y_hat)
        if not isinstance(buffer, (tuple, list)) or len(buffer) != 2 * self.n_layers:
            got = len(buffer) if isinstance(buffer, (tuple, list)) else type(buffer).__name__
            raise ValueError(f"buffer: expected the {2 * self.n_layers} arrays (X, z1, a1, ..., z{self.n_layers}) "
                             f"returned by forward(), got {got}")
        B = y_hat.shape[1]
        for i, array in enumerate(buffer):
            name = "X" if i == 0 else (f"z{(i + 1) // 2}" if i % 2 else f"a{i // 2}")
            check_shape(f"buffer[{i}] ({name})", np.asarray(array), (self.sizes[(i + 1) // 2], B))
        return self._backward(y, y_hat, buffer)

    def _backward(self, y: np.ndarray, y_hat: np.ndarray,
                  buffer: tuple[np.ndarray, ...]) -> dict[str, np.ndarray]:
        # Where backprop starts: dL/dz[L]. For softmax + cross-entropy it is (y_hat - y)/B.
        # For sigmoid + BCE the slides start at dL/dy_hat and multiply by sigma'(z[L]);
        # the product simplifies to the same (y_hat - y)/B, which stays exact when the
        # sigmoid saturates at 0 or 1 (the two-step route then gives 0 instead).
        dL_dzL = losses.softmax_cross_entropy_backward(y, y_hat)
        grads: dict[str, np.ndarray] = dict.fromkeys(self.params)      # same key order as params
        dL_da = dL_dzL                                    # replaced by each layer for the one below
        for l in range(self.n_layers, 0, -1):            # from the last layer to the first
            z, a_prev = buffer[2 * l - 1], buffer[2 * l - 2]                  # z[l]; X for l = 1, else a[l-1]
            # The slides: 1. dL/dz[l]   2. dL/dW[l], dL/db[l]   3. the new dL/da, for a[l-1]
            dL_dz = dL_dzL if l == self.n_layers else self._f_backward(dL_da, z)      # 1
            if l > 1:
                grads[f"W{l}"], dL_da = ops.matmul_backward(dL_dz, self.params[f"W{l}"], a_prev)  # 2, 3
            else:                                        # nobody needs dL/dX: skip the product w.T @ dL_dz
                grads["W1"] = dL_dz @ a_prev.T
            grads[f"b{l}"] = ops.bias_backward(dL_dz)                                          # 2. dL/db[l]
        return grads

    def step(self, grads: dict[str, np.ndarray], lr: float) -> None:
        """One step of gradient descent, in place: ``W -= lr * dL/dW`` for every parameter."""
        if grads.keys() != self.params.keys():
            raise ValueError(f"grads: expected the keys {list(self.params)} (those of params), got {list(grads)}")
        for key, W in self.params.items():
            check_shape(f"grads[{key!r}]", grads[key], W.shape, f"the shape of params[{key!r}]")
            W -= lr * grads[key]

    # -- using the model ---------------------------------------------------
    def predict(self, X: np.ndarray) -> np.ndarray:
        """Integer class labels, shape (B,)."""
        y_hat, _ = self.forward(X)
        return self.labels(y_hat)

    def labels(self, y_hat: np.ndarray) -> np.ndarray:
        """Integer class labels (B,) from outputs or one-hot targets: the most probable class, or
        y_hat >= DECISION_THRESHOLD for a sigmoid output."""
        if self.output == "softmax":
            return y_hat.argmax(axis=0)
        return (y_hat[0] >= DECISION_THRESHOLD).astype(np.int64)

    def _check_targets(self, y: np.ndarray, y_hat: np.ndarray) -> None:
        y_hat = as_float_array("y_hat", y_hat, ndim=2)
        check_shape("y_hat", y_hat, (self.sizes[-1], y_hat.shape[1]),
                    f"the model has {self.sizes[-1]} output unit(s)")
        y = np.asarray(y)
        if y.ndim == 1 and y.shape[0] == y_hat.shape[1]:
            raise ValueError(f"y has shape {y.shape}, expected {y_hat.shape}: pass one-hot labels, e.g. "
                             f"mlpkit.datasets.one_hot(labels, {self.sizes[-1]})"
                             if self.output == "softmax" else
                             f"y has shape {y.shape}, expected {y_hat.shape}: use labels.reshape(1, -1)")
        check_shape("y", y, y_hat.shape)
