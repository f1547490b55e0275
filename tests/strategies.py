"""Hypothesis strategies: random shapes and float64 arrays in a range where
central differences are accurate."""

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

dims = st.integers(min_value=1, max_value=6)


def floats(lo: float = -3.0, hi: float = 3.0):
    return st.floats(min_value=lo, max_value=hi, allow_nan=False, allow_infinity=False, width=64)


def matrices(shape, lo: float = -3.0, hi: float = 3.0):
    return arrays(np.float64, shape, elements=floats(lo, hi))


def away_from_zero(draw, shape, gap: float = 1e-3):
    """Values with |x| >= gap or exactly 0: finite differences are exact for ReLU there."""
    x = draw(matrices(shape))
    x[np.abs(x) < gap] = 0.0
    return x
