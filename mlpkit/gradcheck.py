"""Numerical derivatives by central differences: the referee for every backward pass.

    df/dx[i] ~ (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)

The error of a central difference shrinks like eps**2, so in float64 with
eps = 1e-6 a correct analytic gradient agrees to about 1e-8 or better.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from ._checks import as_float_array, same_shape

__all__ = ["numerical_gradient", "jacobian", "rel_error", "EPS"]

#: The default step of the central differences: small enough for an error of ~1e-8 (it goes like EPS**2),
#: large enough that f(x + EPS) - f(x - EPS) keeps about ten significant digits in float64.
EPS = 1e-6


def _central_differences(f: Callable, x: np.ndarray, eps: float) -> Iterator[tuple[int, np.ndarray]]:
    """For each entry x[i] in turn: (i, (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)), with x restored after."""
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        raise ValueError(f"x: expected a float numpy array that can be nudged in place, got "
                         f"{type(x).__name__}{' of dtype ' + str(x.dtype) if isinstance(x, np.ndarray) else ''}; "
                         "use np.asarray(x, dtype=float)")
    flat = x.reshape(-1)                           # a view: writing to it writes to x
    if x.size and not np.shares_memory(flat, x):
        raise ValueError("x: expected a contiguous array (use np.ascontiguousarray(x))")
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        f_plus = np.array(f(x), dtype=np.float64)
        flat[i] = old - eps
        f_minus = np.array(f(x), dtype=np.float64)
        flat[i] = old
        yield i, (f_plus - f_minus) / (2 * eps)


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = EPS) -> np.ndarray:
    """dF/dx for a scalar function ``f``, same shape as ``x``.

    ``x`` is nudged in place one entry at a time (and restored), so ``f`` may read
    ``x`` through a closure, e.g. a weight matrix inside a model.
    """
    grad = np.zeros(np.shape(x), dtype=np.float64)
    for i, slope in _central_differences(lambda x: float(f(x)), x, eps):
        grad.reshape(-1)[i] = slope
    return grad


def jacobian(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, eps: float = EPS) -> np.ndarray:
    """The Jacobian of ``f`` at ``x`` by central differences, shape ``f(x).shape + x.shape``.

    For vectors y = f(x) of length M and x of length N this is the M x N matrix
    [dy_i/dx_j]: output length by input length.
    """
    columns = dict(_central_differences(f, x, eps))
    out_shape = np.shape(f(x))
    J = np.zeros(out_shape + (np.size(x),))
    for j, column in columns.items():
        J[..., j] = column
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
