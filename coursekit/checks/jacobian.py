"""Visible checks for the Jacobian exercise: ``softmax_jacobian(z)`` and ``softmax_backward(dL_dy_hat, z)``.

``jacobian_mistakes`` and ``softmax_backward_mistakes`` give what each typical mistake computes; the grader's
hidden tests (tools/referee/hidden_graph.py) name the same mistakes with them.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np

from mlpkit import ops

from .calling import GRADIENT_MACHINERY, MLP_MACHINERY, _call, practises
from .diagnosis import FeedbackError, _check, _passed

__all__ = ["check_softmax_jacobian", "check_softmax_backward", "jacobian_mistakes", "softmax_backward_mistakes",
           "diag_of_column", "DIAG_OF_COLUMN"]


#: np.diag of a (K, 1) column returns its diagonal: one number, not a diagonal matrix.
DIAG_OF_COLUMN = ("np.diag of a (K, 1) column returns its diagonal, one number: build the diagonal matrix from "
                  "a flat vector, np.diag(y_hat[:, 0]) or np.diagflat(y_hat)")


def jacobian_mistakes(z: np.ndarray) -> tuple[tuple[np.ndarray, str], ...]:
    """(what the mistake computes, explanation) for softmax_jacobian at one sample z of shape (K, 1)."""
    y = ops.softmax(z)[:, 0]
    return (
        (y[0] - np.outer(y, y), DIAG_OF_COLUMN),
        (np.diag(y * (1 - y)), "has only the diagonal: softmax_i depends on every z_j, so J[i, j] = -y_i * y_j "
                               "for i != j"),
        (-np.outer(y, y), "misses the diagonal term: J[i, j] = y_i * (delta_ij - y_j), the delta_ij adds y_i on "
                          "the diagonal"),
        (np.diag(z[:, 0]) - np.outer(z[:, 0], z[:, 0]), "uses z where the formula needs y_hat = softmax(z)"),
    )


def diag_of_column(name: str, got: Any, K: int) -> str | None:
    """The message for np.diag applied to a (K, 1) column, which returns its diagonal (one number)."""
    if isinstance(got, np.ndarray) and got.shape == (1,) and K > 1:
        return f"{name} has shape (1,), expected ({K}, {K}): {DIAG_OF_COLUMN}"
    return None


def softmax_backward_mistakes(dL_dy_hat: np.ndarray, z: np.ndarray) -> tuple[tuple[np.ndarray, str], ...]:
    """(what the mistake computes, explanation) for softmax_backward on a batch (columns are samples)."""
    y = ops.softmax(z)
    weighted = y * dL_dy_hat
    return (
        (y * (1 - y) * dL_dy_hat, "used only the diagonal of the Jacobian, y_hat * (1 - y_hat): every output of "
                                  "softmax depends on every input, so each column needs its whole Jacobian"),
        (weighted, "misses the sum term: J.T @ u = y_hat * (u - sum_j y_hat_j u_j) for each column u"),
        (y * (dL_dy_hat - weighted.sum(axis=1, keepdims=True)), "summed over the batch (axis=1): the sum runs over "
                                                                "the classes of one sample, axis=0"),
        (y * (dL_dy_hat - dL_dy_hat.sum(axis=0, keepdims=True)), "the sum term is sum_j y_hat_j * u_j: weight each "
                                                                 "entry of the column by y_hat_j"),
    )


@practises(*MLP_MACHINERY, *GRADIENT_MACHINERY)
def check_softmax_jacobian(softmax_jacobian: Callable) -> None:
    """Visible test for ``softmax_jacobian(z) -> J`` with z of shape (4, 1)."""
    z = np.array([[1.0], [2.0], [0.5], [-1.0]])
    y = ops.softmax(z)[:, 0]
    got = _call(softmax_jacobian, "softmax_jacobian", z)
    message = diag_of_column("J", got, 4)
    if message:
        raise FeedbackError(message)
    _check("J", got, np.diag(y) - np.outer(y, y), mistakes=jacobian_mistakes(z))
    _passed("softmax_jacobian is right for K = 4 (each column sums to 0, as it should: the outputs sum to 1)")


@practises("mlpkit.losses.softmax_cross_entropy_backward", *MLP_MACHINERY, *GRADIENT_MACHINERY)
def check_softmax_backward(softmax_backward: Callable) -> None:
    """Visible test for ``softmax_backward(dL_dy_hat, z) -> dL_dz`` with K = 3, B = 4, then K = B = 64 while
    numpy's allocations are traced: building a (K, B, K) tensor of Jacobians is reported."""
    rng = np.random.default_rng(5)
    z, dL_dy_hat = rng.normal(0, 2, size=(3, 4)), rng.normal(size=(3, 4))
    y = ops.softmax(z)
    expected = y * (dL_dy_hat - (y * dL_dy_hat).sum(axis=0, keepdims=True))
    got = _call(softmax_backward, "softmax_backward", dL_dy_hat, z)
    _check("dL_dz", got, expected, mistakes=softmax_backward_mistakes(dL_dy_hat, z))
    K = B = 64
    z, dL_dy_hat = rng.normal(size=(K, B)), rng.normal(size=(K, B))
    tracemalloc.start()
    try:
        _call(softmax_backward, "softmax_backward", dL_dy_hat, z)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    if peak >= K * B * K * 8:
        raise FeedbackError(f"softmax_backward allocated {peak / 2**20:.1f} MB for K = B = {K}: that is a (K, B, K) "
                            "tensor of Jacobians, too large for real batches (the grader's K = 1024, B = 600 would "
                            "need 5 GB); compute each column's J.T @ u = y_hat * (u - sum_j y_hat_j u_j) directly")
    _passed("softmax_backward is right for K = 3 classes and a batch of 4, and builds no (K, B, K) tensor")
