"""Visible checks of the layer functions (matmul, sigmoid, ReLU) and of the two loss gradients."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mlpkit import losses, ops
from mlpkit.datasets import one_hot

from .calling import GRADIENT_MACHINERY, MLP_MACHINERY, _call, practises
from .diagnosis import FeedbackError, _check, _passed, batch_size_mistakes

__all__ = ["check_matmul_backward", "check_sigmoid_backward", "check_relu_backward",
           "check_binary_cross_entropy_backward", "check_softmax_cross_entropy_backward"]


def _layer_example(seed: int = 7) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(3, 4)), rng.normal(size=(4, 5)), rng.normal(size=(3, 5))


@practises("mlpkit.ops.matmul_backward", *MLP_MACHINERY, *GRADIENT_MACHINERY)
def check_matmul_backward(matmul_backward: Callable) -> None:
    """Visible test for ``matmul_backward(dL_dz, w, x) -> (dL_dw, dL_dx)`` with w (3, 4), x (4, 5)."""
    w, x, dL_dz = _layer_example()
    out = _call(matmul_backward, "matmul_backward", dL_dz, w, x)
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise FeedbackError(f"matmul_backward should return two arrays (dL_dw, dL_dx), got {type(out).__name__}"
                            + (f" of {len(out)}" if isinstance(out, (tuple, list)) else ""))
    dL_dw, dL_dx = (np.asarray(o) if o is not None else None for o in out)
    if dL_dw is not None and dL_dx is not None and dL_dw.shape == x.shape and dL_dx.shape == w.shape:
        raise FeedbackError("matmul_backward returned (dL_dx, dL_dw): return them in the order (dL_dw, dL_dx)")
    _check("dL_dw", dL_dw, dL_dz @ x.T, mistakes=((x @ dL_dz.T, "is transposed: dL_dw = dL_dz @ x.T"),))
    _check("dL_dx", dL_dx, w.T @ dL_dz)
    _passed("matmul_backward is right for w of shape (3, 4) and x of shape (4, 5)")


@practises("mlpkit.ops.sigmoid_backward", "mlpkit.graph.Value.sigmoid", *MLP_MACHINERY, *GRADIENT_MACHINERY)
def check_sigmoid_backward(sigmoid_backward: Callable) -> None:
    """Visible test for ``sigmoid_backward(dL_dz, x) -> dL_dx``, x being the sigmoid's input."""
    x = np.array([[-2.0, -0.5, 0.0], [0.5, 1.0, 3.0]])
    dL_dz = np.array([[1.0, -2.0, 0.5], [3.0, -1.0, 2.0]])
    s = ops.sigmoid(x)
    a = ops.sigmoid(s)
    mistakes = (
        (dL_dz * a * (1 - a), "took the derivative at the output: sigma'(x) = sigma(x) * (1 - sigma(x)) uses the "
                              "input x, and you applied it to sigma(x)"),
        (dL_dz * x * (1 - x), "used x * (1 - x): x is the sigmoid's input, so the derivative is "
                              "sigma(x) * (1 - sigma(x))"),
        (s * (1 - s), "forgot to multiply by the upstream gradient dL_dz"),
    )
    got = _call(sigmoid_backward, "sigmoid_backward", dL_dz, x)
    _check("dL_dx", got, dL_dz * s * (1 - s), mistakes=mistakes)
    _passed("sigmoid_backward is right on a 2x3 example")


@practises("mlpkit.ops.relu_backward", "mlpkit.ops.relu_derivative", "mlpkit.graph.Value.relu", *MLP_MACHINERY,
           *GRADIENT_MACHINERY)
def check_relu_backward(relu_backward: Callable) -> None:
    """Visible test for ``relu_backward(dL_dz, x) -> dL_dx`` with exact zeros in x."""
    x = np.array([[-2.0, 0.0, 1.5], [0.0, 3.0, -0.5]])
    dL_dz = np.array([[4.0, 2.0, -1.0], [-6.0, 5.0, 3.0]])
    at_zero = x == 0
    expected = dL_dz * ops.relu_derivative(x)
    mistakes = (
        (np.where(at_zero, 0.0, expected), "is 0 where x == 0. The course (like the slides) takes the derivative "
                                           "of ReLU at exactly 0 to be 0.5, so pass half of dL_dz there"),
        (np.where(at_zero, dL_dz, expected), "passes all of dL_dz where x == 0. The course (like the slides) takes "
                                             "the derivative of ReLU at exactly 0 to be 0.5: pass half of it"),
        (dL_dz * ops.relu_derivative(ops.relu(x)), "took the derivative at the output relu(x) instead of the "
                                                   "input x (look at the entries where x < 0)"),
        (ops.relu_derivative(x), "forgot to multiply by the upstream gradient dL_dz"),
    )
    _check("dL_dx", _call(relu_backward, "relu_backward", dL_dz, x), expected, mistakes=mistakes)
    _passed("relu_backward is right, including 0.5 where x == 0")


# -- loss gradients ------------------------------------------------------------------------------------------
@practises("mlpkit.losses.binary_cross_entropy_backward", *MLP_MACHINERY, *GRADIENT_MACHINERY)
def check_binary_cross_entropy_backward(binary_cross_entropy_backward: Callable) -> None:
    """Visible test for ``binary_cross_entropy_backward(y, y_hat) -> dL/dy_hat`` with B = 4."""
    y, y_hat = np.array([[1.0, 0.0, 1.0, 0.0]]), np.array([[0.8, 0.3, 0.4, 0.9]])
    B = y.shape[1]
    expected = losses.binary_cross_entropy_backward(y, y_hat)
    mistakes = ((-expected, "has the opposite sign. The slides print this formula without its minus sign; "
                            "a finite difference shows dL/dy_hat = -(1/B) * (y / y_hat - (1 - y) / (1 - y_hat))"),
                *batch_size_mistakes(expected, y))
    got = _call(binary_cross_entropy_backward, "binary_cross_entropy_backward", y, y_hat)
    _check("dL_dy_hat", got, expected, B=B, mistakes=mistakes)
    _passed("binary_cross_entropy_backward is right for a batch of 4")


@practises("mlpkit.losses.softmax_cross_entropy_backward", *MLP_MACHINERY, *GRADIENT_MACHINERY)
def check_softmax_cross_entropy_backward(softmax_cross_entropy_backward: Callable) -> None:
    """Visible test for ``softmax_cross_entropy_backward(y, y_hat) -> dL/dz`` with K = 3, B = 4."""
    y_hat = ops.softmax(np.array([[1.0, -1.0, 0.5, 2.0], [0.0, 2.0, 0.5, -1.0], [-1.0, 0.0, 1.5, 0.0]]))
    y = one_hot(np.array([0, 1, 1, 2]), 3)
    got = _call(softmax_cross_entropy_backward, "softmax_cross_entropy_backward", y, y_hat)
    _check("dL_dz", got, (y_hat - y) / 4, B=4, mistakes=batch_size_mistakes((y_hat - y) / 4, y))
    _passed("softmax_cross_entropy_backward is right for K = 3 classes and a batch of 4")

