"""Losses (mean over the batch) and their gradients, in the slides' notation.

``y`` and ``y_hat`` have the same shape: (K, B) one-hot labels and softmax
probabilities, or (1, B) labels in {0, 1} and sigmoid probabilities.

Probabilities of exactly 0 or 1: log(0) is -inf, so ``y_hat`` is clipped to
[eps, 1 - eps] before any log (eps = 1e-12 in float64, 1.2e-7 in float32). A
confident right answer still costs ~0 and a confident wrong one costs a large
but finite -log(eps) (27.6 in float64) instead of inf, and 0 * log(0) never
turns into nan.
"""

from __future__ import annotations

import numpy as np

from ._checks import as_float_array, same_shape

__all__ = [
    "cross_entropy", "binary_cross_entropy", "softmax_cross_entropy_backward",
    "binary_cross_entropy_backward", "clip_eps", "CLIP_FLOOR",
]


#: The smallest clipping margin (float64's): -log(CLIP_FLOOR) = 27.6 bounds the cost of one sample.
CLIP_FLOOR = 1e-12


def clip_eps(dtype: np.dtype) -> float:
    """The clipping margin for probabilities of this dtype: its machine epsilon, at least CLIP_FLOOR."""
    return max(CLIP_FLOOR, float(np.finfo(dtype).eps))


def _checked(y: np.ndarray, y_hat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(y, y_hat) as 2-D float arrays of the same shape, y in y_hat's dtype."""
    y_hat = as_float_array("y_hat", y_hat, ndim=2)
    y = as_float_array("y", y, ndim=2).astype(y_hat.dtype, copy=False)
    same_shape("y", y, "y_hat", y_hat)
    return y, y_hat


def _pair(y: np.ndarray, y_hat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(y, y_hat clipped to [eps, 1 - eps]), checked as by ``_checked``."""
    y, y_hat = _checked(y, y_hat)
    eps = clip_eps(y_hat.dtype)
    return y, np.clip(y_hat, eps, 1.0 - eps)


def cross_entropy(y: np.ndarray, y_hat: np.ndarray) -> float:
    """L = (1/B) * sum_i [ -sum_k y[k, i] * log(y_hat[k, i]) ], y one-hot (K, B)."""
    y, p = _pair(y, y_hat)
    return float(-(y * np.log(p)).sum() / y.shape[1])


def binary_cross_entropy(y: np.ndarray, y_hat: np.ndarray) -> float:
    """L = (1/B) * sum_i -[ y log(y_hat) + (1 - y) log(1 - y_hat) ], y in {0, 1}, shape (1, B)."""
    y, p = _pair(y, y_hat)
    return float(-(y * np.log(p) + (1.0 - y) * np.log(1.0 - p)).sum() / y.shape[1])


def binary_cross_entropy_backward(y: np.ndarray, y_hat: np.ndarray) -> np.ndarray:
    """dL/dy_hat for the batch-mean BCE: (1/B) * (y_hat - y) / (y_hat * (1 - y_hat)).

    That is -(1/B) * [y / y_hat - (1 - y) / (1 - y_hat)]. The slides print this
    without the leading minus sign, which is a typo: a finite-difference check
    shows the sign. ``y_hat`` is clipped as in the loss, so the result is finite.
    """
    y, p = _pair(y, y_hat)
    return (p - y) / (p * (1.0 - p)) / y.shape[1]


def softmax_cross_entropy_backward(y: np.ndarray, y_hat: np.ndarray) -> np.ndarray:
    """dL/dz for softmax followed by the batch-mean cross-entropy: (y_hat - y) / B.

    ``z`` are the logits that went into softmax. The slides give y_hat - y for one
    sample; averaging the loss over a batch of B samples divides by B. The same
    expression is dL/dz for a sigmoid output with binary cross-entropy.
    """
    y, y_hat = _checked(y, y_hat)
    return (y_hat - y) / y.shape[1]
