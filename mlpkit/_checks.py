"""Argument checks shared by the public API: one place that turns bad input into
a ValueError naming the argument, what was expected and what was received."""

from __future__ import annotations

from typing import Any

import numpy as np


def as_float_array(name: str, value: Any, ndim: int | None = None) -> np.ndarray:
    """Return ``value`` as a real floating-point array (float32 stays float32).

    Integer input becomes float64. Anything else that is not a real number array
    (strings, objects, complex numbers, booleans) raises ValueError naming ``name``.
    """
    if type(value) is np.ndarray and value.dtype.kind == "f" and (ndim is None or value.ndim == ndim):
        return value                                # the common case, kept cheap for training loops
    array = np.asarray(value)
    if array.dtype.kind in "iu":
        array = array.astype(np.float64)
    elif array.dtype.kind != "f":
        raise ValueError(
            f"{name}: expected an array of real numbers (float32 or float64), "
            f"got dtype {array.dtype}; convert it with np.asarray({name}, dtype=float)"
        )
    if ndim is not None and array.ndim != ndim:
        kind = {1: "a 1-D array", 2: "a 2-D array (rows x columns; columns are samples)"}
        raise ValueError(
            f"{name}: expected {kind.get(ndim, f'{ndim} dimensions')}, "
            f"got shape {array.shape} ({array.ndim}-D)"
            + ("; reshape a single sample with x.reshape(-1, 1)" if array.ndim == 1 and ndim == 2 else "")
        )
    return array


def check_shape(name: str, array: np.ndarray, expected: tuple[int, ...], hint: str = "") -> None:
    """Raise ValueError unless ``array.shape == expected``; the message names both shapes."""
    if array.shape != tuple(expected):
        message = f"{name} has shape {array.shape}, expected {tuple(expected)}"
        if array.ndim == 2 and array.shape == tuple(expected)[::-1]:
            message += ": did you forget a transpose?"
        elif hint:
            message += f": {hint}"
        raise ValueError(message)


def same_shape(name: str, array: np.ndarray, other_name: str, other: np.ndarray) -> None:
    """Raise ValueError unless two arrays have the same shape."""
    if array.shape != other.shape:
        raise ValueError(
            f"{name} has shape {array.shape}, expected {other.shape} (the shape of {other_name})"
        )
