"""Layer functions and their backward passes, in the slides' notation.

Every ``*_backward`` takes the upstream gradient ``dL_dz`` first and returns
gradients shaped like the inputs they belong to (a gradient always has the shape
of its variable). Columns are samples: ``x`` has shape (n_in, B).
"""

from __future__ import annotations

import numpy as np

from ._checks import as_float_array, check_shape, same_shape

__all__ = [
    "matmul", "matmul_backward", "bias_backward", "sigmoid", "sigmoid_backward",
    "relu", "relu_backward", "relu_derivative", "softmax", "RELU_SLOPE_AT_ZERO",
]

#: The value the slides give ReLU's derivative at exactly 0 (any value in [0, 1] is a subgradient there).
RELU_SLOPE_AT_ZERO = 0.5


def _operands(w: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    w, x = as_float_array("w", w, ndim=2), as_float_array("x", x, ndim=2)
    if w.shape[1] != x.shape[0]:
        raise ValueError(f"x has shape {x.shape}, expected ({w.shape[1]}, P) to match w of shape {w.shape}: "
                         "w @ x needs w's column count to equal x's row count")
    return w, x


def matmul(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    """z = w @ x for w of shape (N, K) and x of shape (K, P); z has shape (N, P)."""
    w, x = _operands(w, x)
    return w @ x


def matmul_backward(dL_dz: np.ndarray, w: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Backward of z = w @ x: returns (dL_dw, dL_dx) = (dL_dz @ x.T, w.T @ dL_dz).

    Shapes: w (N, K), x (K, P), dL_dz (N, P) -> dL_dw (N, K), dL_dx (K, P).
    """
    w, x = _operands(w, x)
    dL_dz = as_float_array("dL_dz", dL_dz, ndim=2)
    check_shape("dL_dz", dL_dz, (w.shape[0], x.shape[1]), "it must have the shape of z = w @ x")
    return dL_dz @ x.T, w.T @ dL_dz


def bias_backward(dL_dz: np.ndarray) -> np.ndarray:
    """Backward of z = ... + b with b of shape (N, 1) broadcast over the B columns.

    b was added to every sample, so its gradient sums the upstream gradient over
    the batch: returns dL_dz.sum(axis=1, keepdims=True), shape (N, 1).
    """
    dL_dz = as_float_array("dL_dz", dL_dz, ndim=2)
    return dL_dz.sum(axis=1, keepdims=True)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """sigma(x) = 1 / (1 + exp(-x)), element-wise, without overflow for large |x|."""
    x = as_float_array("x", x)
    e = np.exp(-np.abs(x))                       # never overflows: exponent <= 0
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)


def sigmoid_backward(dL_dz: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Backward of z = sigmoid(x): dL_dx = sigma(x) * (1 - sigma(x)) * dL_dz.

    ``x`` is the *input* of the sigmoid (what the forward pass received), not its output.
    """
    x = as_float_array("x", x)
    dL_dz = as_float_array("dL_dz", dL_dz)
    same_shape("dL_dz", dL_dz, "x", x)
    s = sigmoid(x)
    return dL_dz * s * (1.0 - s)


def relu(x: np.ndarray) -> np.ndarray:
    """max(0, x), element-wise."""
    x = as_float_array("x", x)
    return np.maximum(x, 0)


def relu_derivative(x: np.ndarray) -> np.ndarray:
    """d max(0, t)/dt as the slides define it: 1 for t > 0, 0.5 at t == 0, 0 for t < 0.

    ReLU has no derivative at 0; any value in [0, 1] is a valid subgradient. The
    slides take 0.5, which is also what a central finite difference gives at 0.
    PyTorch, TensorFlow and JAX take 0. It almost never matters in training,
    since an input is exactly 0.0 very rarely, but a test can tell them apart.
    """
    x = as_float_array("x", x)
    return np.where(x > 0, 1.0, np.where(x == 0, RELU_SLOPE_AT_ZERO, 0.0)).astype(x.dtype, copy=False)


def relu_backward(dL_dz: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Backward of z = relu(x): dL_dz * relu_derivative(x), so half of dL_dz passes where x == 0."""
    x = as_float_array("x", x)
    dL_dz = as_float_array("dL_dz", dL_dz)
    same_shape("dL_dz", dL_dz, "x", x)
    return dL_dz * relu_derivative(x)


def softmax(z: np.ndarray) -> np.ndarray:
    """Softmax over axis 0 (rows are classes, columns are samples).

    Subtracting each column's maximum first changes nothing mathematically
    (softmax(z) == softmax(z - c)) but keeps exp() from overflowing: logits of
    +-1000 give exact probabilities of 0 and 1 instead of nan.
    """
    z = as_float_array("z", z)
    if z.ndim == 0:
        raise ValueError("z: expected an array of logits (classes x batch), got a scalar")
    e = np.exp(z - z.max(axis=0, keepdims=True))      # z - (max of each column)
    return e / e.sum(axis=0, keepdims=True)            # divide by each column's sum
