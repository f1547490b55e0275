"""Numerical derivatives by central differences: the referee for every backward pass.

    df/dx[i] ~ (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)

The error of a central difference shrinks like eps**2, so in float64 with
eps = 1e-6 a correct analytic gradient agrees to about 1e-8 or better.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._checks import as_float_array, same_shape

__all__ = ["numerical_gradient", "jacobian", "rel_error"]


def _perturbable(x: np.ndarray) -> None:
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        raise ValueError(f"x: expected a float numpy array that can be nudged in place, got "
                         f"{type(x).__name__}{' of dtype ' + str(x.dtype) if isinstance(x, np.ndarray) else ''}; "
                         "use np.asarray(x, dtype=float)")


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """dF/dx for a scalar function ``f``, same shape as ``x``.

    ``x`` is nudged in place one entry at a time (and restored), so ``f`` may read
    ``x`` through a closure, e.g. a weight matrix inside a model.
    """
    _perturbable(x)
    grad = np.zeros_like(x, dtype=np.float64)
    flat = x.reshape(-1)                           # a view: writing to it writes to x
    if x.size and not np.shares_memory(flat, x):
        raise ValueError("x: expected a contiguous array (use np.ascontiguousarray(x))")
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        f_plus = float(f(x))
        flat[i] = old - eps
        f_minus = float(f(x))
        flat[i] = old
        grad.reshape(-1)[i] = (f_plus - f_minus) / (2 * eps)
    return grad


def jacobian(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """The Jacobian of ``f`` at ``x`` by central differences, shape ``f(x).shape + x.shape``.

    For vectors y = f(x) of length M and x of length N this is the M x N matrix
    [dy_i/dx_j]: output length by input length.
    """
    _perturbable(x)
    out_shape = np.shape(f(x))
    J = np.zeros(out_shape + (x.size,))
    flat = x.reshape(-1)
    if x.size and not np.shares_memory(flat, x):
        raise ValueError("x: expected a contiguous array (use np.ascontiguousarray(x))")
    for j in range(flat.size):
        old = flat[j]
        flat[j] = old + eps
        f_plus = np.array(f(x), dtype=np.float64)
        flat[j] = old - eps
        f_minus = np.array(f(x), dtype=np.float64)
        flat[j] = old
        J[..., j] = (f_plus - f_minus) / (2 * eps)
    return J.reshape(out_shape + x.shape)


def rel_error(a: np.ndarray, b: np.ndarray) -> float:
    """Relative error ||a - b|| / (||a|| + ||b||): 0 when equal, 1 when one is zero or a == -b.

    A norm-based measure: one tiny entry cannot dominate it. Both zero gives 0.
    Roughly: < 1e-7 correct, 1e-4 suspicious, > 1e-2 wrong.
    """
    a = as_float_array("a", a)
    b = as_float_array("b", b)
    same_shape("a", a, "b", b)
    a, b = a.astype(np.float64), b.astype(np.float64)
    denominator = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if denominator == 0 else float(np.linalg.norm(a - b) / denominator)
