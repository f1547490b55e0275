"""The finite-difference referee itself."""

import numpy as np
import pytest

from mlpkit.gradcheck import jacobian, numerical_gradient, rel_error


def test_numerical_gradient_of_known_function_and_restores_x():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    original = x.copy()
    g = numerical_gradient(lambda v: float((v**3).sum()), x)
    np.testing.assert_allclose(g, 3 * original**2, rtol=1e-8)
    np.testing.assert_array_equal(x, original)


def test_jacobian_of_a_linear_map_is_the_matrix():
    A = np.arange(6.0).reshape(3, 2)
    J = jacobian(lambda v: A @ v, np.array([0.3, -0.7]))
    assert J.shape == (3, 2)                                   # output length x input length
    np.testing.assert_allclose(J, A, atol=1e-8)
    J4 = jacobian(lambda m: m * 2.0, np.ones((2, 3)))
    assert J4.shape == (2, 3, 2, 3)
    np.testing.assert_allclose(J4.reshape(6, 6), 2 * np.eye(6), atol=1e-8)


def test_rel_error():
    a = np.array([1.0, 2.0])
    assert rel_error(a, a) == 0.0
    assert rel_error(a, -a) == 1.0
    assert rel_error(np.zeros(2), np.zeros(2)) == 0.0
    assert rel_error(a, a * (1 + 1e-7)) == pytest.approx(5e-8, rel=1e-3)
    with pytest.raises(ValueError, match=r"a has shape \(2,\), expected \(3,\)"):
        rel_error(a, np.ones(3))


def test_gradcheck_errors():
    with pytest.raises(ValueError, match="x: expected a float numpy array .* got ndarray of dtype int64"):
        numerical_gradient(lambda v: 0.0, np.array([1, 2]))
    with pytest.raises(ValueError, match="x: expected a float numpy array .* got list"):
        jacobian(lambda v: v, [1.0])
    with pytest.raises(ValueError, match="x: expected a contiguous array"):
        numerical_gradient(lambda v: 0.0, np.ones((2, 3)).T)
