"""Comparing one answer with the right one and saying in plain words what kind of mistake it looks like.

``diagnose`` recognises a wrong shape, a transposed result, a flipped sign, a factor of B and any typical mistake
given to it; the grader's hidden tests (tools/referee) word their verdicts with it too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from mlpkit.gradcheck import rel_error

__all__ = ["TOLERANCE", "ABSOLUTE_TOLERANCE", "FeedbackError", "close", "diagnose", "batch_size_mistakes",
           "relu_forgotten"]

#: is far below it, every typical mistake far above. The hidden tests use the same tolerance.
TOLERANCE = 1e-4
#: Entries this small count as equal whatever their relative error (a gradient of exactly 0 against 1e-12).
ABSOLUTE_TOLERANCE = 1e-9


class FeedbackError(AssertionError):
    """A wrong answer, explained in plain words."""



def close(a: np.ndarray, b: np.ndarray, tol: float = TOLERANCE) -> bool:
    """Whether two arrays have the same shape and agree to ``tol`` (relative error, see gradcheck.rel_error)."""
    if a.shape != b.shape:
        return False
    return rel_error(a, b) < tol or float(np.abs(a - b).max(initial=0.0)) < ABSOLUTE_TOLERANCE


def _as_array(name: str, got: Any) -> np.ndarray:
    if got is None:
        raise FeedbackError(f"{name} is None: did your function forget to `return` it?")
    try:
        array = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        raise FeedbackError(f"{name} should be a numpy array of numbers, got {type(got).__name__}") from None
    if not np.isfinite(array).all():
        raise FeedbackError(f"{name} contains nan or inf: look for a division by zero or a log of 0")
    return array


def diagnose(name: str, got: Any, expected: np.ndarray, *, B: int | None = None,
             mistakes: tuple[tuple[np.ndarray, str], ...] = ()) -> str | None:
    """None if ``got`` matches ``expected``; otherwise a sentence saying what looks wrong.

    Recognised: None or non-arrays, a wrong shape (a transposed one, or a bias
    gradient not summed over the batch), a transposed result, a flipped sign, a
    factor of ``B`` (sum instead of mean, or dividing twice) and any of the
    ``mistakes`` given as (value that mistake produces, explanation). The grader's
    hidden tests word their verdicts with it too.
    """
    try:
        got = _as_array(name, got)
    except FeedbackError as error:
        return str(error)
    expected = np.asarray(expected, dtype=np.float64)
    if got.shape != expected.shape:
        message = f"{name} has shape {got.shape}, expected {expected.shape}"
        if got.shape == expected.shape[::-1]:
            return message + ": did you forget a transpose?"
        if expected.ndim == 2 and expected.shape[1] == 1 and got.shape == (expected.shape[0],):
            return message + ": the sum over the batch dropped the second axis; keep the column with " \
                             ".sum(axis=1, keepdims=True)"
        if B and expected.ndim == 2 and expected.shape[1] == 1 and got.shape == (expected.shape[0], B):
            return message + ": a bias is added to every sample, so sum its gradient over the batch " \
                             "(axis=1, keepdims=True)"
        return message + ": a gradient always has the shape of its variable"
    if close(got, expected):
        return None
    if expected.ndim == 2 and expected.shape[0] == expected.shape[1] and close(got, expected.T):
        return f"{name} is transposed: check the order of the matrix product and where the .T goes"
    for value, explanation in mistakes:
        if close(got, np.asarray(value, dtype=np.float64)):
            return f"{name}: {explanation}"
    if close(got, -expected):
        return f"{name} has the opposite sign: check the sign of each factor (a finite difference tells you)"
    if B and B > 1 and close(got, expected * B):
        return f"{name} is B = {B} times too large: the loss is the mean over the batch, so divide by B"
    if B and B > 1 and close(got, expected / B):
        return f"{name} is B = {B} times too small: did you divide by B twice?"
    return (f"{name} has the right shape but wrong values (relative error {rel_error(got, expected):.2g}); "
            "compare with a finite difference from mlpkit.gradcheck.numerical_gradient")


def batch_size_mistakes(expected: np.ndarray, y: np.ndarray) -> tuple[tuple[np.ndarray, str], ...]:
    """The gradient a loss function returns when it takes the batch size from ``y.shape[0]`` (the number of
    rows: 1 for BCE, K for softmax) instead of ``y.shape[1]``, and how to say so."""
    rows, B = y.shape
    if rows == B:
        return ()
    if rows == 1:                   # the same as not dividing at all
        return ((expected * B, f"is B = {B} times too large: the loss is the mean over the batch, so divide by "
                               "B = y.shape[1], the number of columns of y (y.shape[0] is 1)"),)
    return ((expected * B / rows, f"divided by y.shape[0] = {rows}, the number of rows of y, instead of the batch "
                                  f"size B: the batch size is the number of columns, B = y.shape[1]"),)


def relu_forgotten(backward_of: Callable[[tuple], dict], buffer: tuple) -> list[tuple[str, dict]]:
    """For each hidden layer l, the gradients of an MLP backward pass that skips ReLU's derivative at layer l.

    ``backward_of(buffer)`` is a correct backward pass; a buffer whose z[l] is all ones makes ReLU's derivative 1
    there, which is what forgetting it computes."""
    variants = []
    for l in range(1, len(buffer) // 2):
        changed = list(buffer)
        changed[2 * l - 1] = np.ones_like(np.asarray(buffer[2 * l - 1], dtype=np.float64))
        variants.append((f"forgot ReLU's derivative at layer {l}: dL/dz{l} = dL/da{l} * relu'(z{l}) "
                         f"(1 where z{l} > 0, 0.5 where z{l} == 0, 0 below)", backward_of(tuple(changed))))
    return variants


def _check(name: str, got: Any, expected: np.ndarray, **kwargs: Any) -> None:
    message = diagnose(name, got, expected, **kwargs)
    if message:
        raise FeedbackError(message)


def _passed(message: str) -> None:
    print(f"\N{CHECK MARK} {message}")

