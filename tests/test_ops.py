"""Layer functions: every backward against central differences in float64 on random
shapes and values (hypothesis), the slides' ReLU convention, stability, errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlpkit import ops
from mlpkit.gradcheck import numerical_gradient, rel_error
from tests.strategies import away_from_zero, dims, matrices

TOL = 1e-6


def check(backward_value, f, x, upstream):
    """Compare an analytic gradient with d/dx of sum(f(x) * upstream)."""
    numeric = numerical_gradient(lambda _: float((f() * upstream).sum()), x)
    assert backward_value.shape == x.shape
    # When the true gradient is exactly 0 (e.g. a constant upstream through softmax) the
    # relative error of two tiny numbers means nothing: then they must agree to 1e-8.
    assert rel_error(backward_value, numeric) < TOL or np.abs(backward_value - numeric).max() < 1e-8


@given(st.data(), dims, dims, dims)
def test_matmul_backward_matches_finite_differences(data, N, K, P):
    w, x, up = data.draw(matrices((N, K))), data.draw(matrices((K, P))), data.draw(matrices((N, P)))
    dL_dw, dL_dx = ops.matmul_backward(up, w, x)
    check(dL_dw, lambda: ops.matmul(w, x), w, up)
    check(dL_dx, lambda: ops.matmul(w, x), x, up)
    np.testing.assert_allclose(dL_dw, up @ x.T)       # the slides' rules
    np.testing.assert_allclose(dL_dx, w.T @ up)


@given(st.data(), dims, dims)
def test_sigmoid_backward_matches_finite_differences(data, N, B):
    x, up = data.draw(matrices((N, B), -6, 6)), data.draw(matrices((N, B)))
    check(ops.sigmoid_backward(up, x), lambda: ops.sigmoid(x), x, up)


@given(st.data(), dims, dims)
def test_relu_backward_matches_finite_differences_including_exact_zeros(data, N, B):
    x, up = away_from_zero(data.draw, (N, B)), data.draw(matrices((N, B)))
    x.flat[0] = 0.0                                    # always at least one exact zero
    # A central difference at exactly 0 is (relu(eps) - relu(-eps)) / 2eps = 0.5: the slides' value.
    check(ops.relu_backward(up, x), lambda: ops.relu(x), x, up)


@given(st.data(), dims, dims)
def test_bias_backward_matches_finite_differences(data, N, B):
    b, up = data.draw(matrices((N, 1))), data.draw(matrices((N, B)))
    base = data.draw(matrices((N, B)))
    check(ops.bias_backward(up), lambda: base + b, b, up)


@given(st.data(), st.integers(2, 6), dims)
def test_softmax_jacobian_backward_matches_finite_differences(data, K, B):
    z, up = data.draw(matrices((K, B))), data.draw(matrices((K, B)))
    s = ops.softmax(z)
    analytic = s * (up - (s * up).sum(axis=0, keepdims=True))     # J.T @ upstream, per column
    check(analytic, lambda: ops.softmax(z), z, up)


def test_relu_backward_passes_half_at_exactly_zero():
    x = np.array([[-2.0, 0.0, 3.0]])
    np.testing.assert_array_equal(ops.relu_backward(np.array([[4.0, 4.0, 4.0]]), x), [[0.0, 2.0, 4.0]])
    np.testing.assert_array_equal(ops.relu_derivative(x), [[0.0, 0.5, 1.0]])


def test_softmax_is_stable_for_huge_logits():
    z = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 0.0], [0.0, 0.0, 0.0]])
    p = ops.softmax(z)
    assert np.isfinite(p).all()
    np.testing.assert_allclose(p[:, 0], [1.0, 0.0, 0.0], atol=1e-300)
    np.testing.assert_allclose(p[:, 2], [1 / 3] * 3)
    np.testing.assert_allclose(p.sum(axis=0), 1.0)


def test_sigmoid_is_stable_for_huge_inputs():
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        np.testing.assert_array_equal(ops.sigmoid(np.array([-1000.0, 0.0, 1000.0])), [0.0, 0.5, 1.0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept(dtype):
    rng = np.random.default_rng(0)
    w, x = rng.standard_normal((3, 4)).astype(dtype), rng.standard_normal((4, 5)).astype(dtype)
    up = rng.standard_normal((3, 5)).astype(dtype)
    assert all(g.dtype == dtype for g in ops.matmul_backward(up, w, x))
    for f in (ops.sigmoid, ops.relu, ops.softmax):
        assert f(x).dtype == dtype
    x[0, 0] = 0
    assert ops.relu_backward(x, x).dtype == dtype and ops.sigmoid_backward(x, x).dtype == dtype


def test_integer_input_becomes_float64():
    assert ops.relu(np.array([[1, -2]])).dtype == np.float64


def test_shape_errors_name_argument_expected_and_received():
    w, x = np.ones((3, 4)), np.ones((4, 5))
    with pytest.raises(ValueError, match=r"dL_dz has shape \(5, 3\), expected \(3, 5\): did you forget a transpose"):
        ops.matmul_backward(np.ones((5, 3)), w, x)
    with pytest.raises(ValueError, match=r"dL_dz has shape \(3, 4\), expected \(3, 5\)"):
        ops.matmul_backward(np.ones((3, 4)), w, x)
    with pytest.raises(ValueError, match=r"x has shape \(5, 4\), expected \(4, P\)"):
        ops.matmul(w, np.ones((5, 4)))
    with pytest.raises(ValueError, match=r"dL_dz has shape \(2, 2\), expected \(4, 5\) \(the shape of x\)"):
        ops.relu_backward(np.ones((2, 2)), x)
    with pytest.raises(ValueError, match=r"dL_dz has shape \(5,\), expected \(4, 5\)"):
        ops.sigmoid_backward(np.ones(5), x)
    with pytest.raises(ValueError, match=r"w: expected a 2-D array .* got shape \(3,\)"):
        ops.matmul(np.ones(3), x)


def test_dtype_errors_name_argument():
    with pytest.raises(ValueError, match=r"x: expected an array of real numbers .* got dtype <U1"):
        ops.relu(np.array(["a"]))
    with pytest.raises(ValueError, match=r"dL_dz: expected an array of real numbers .* got dtype complex128"):
        ops.relu_backward(np.ones((2, 2)) * 1j, np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"z: expected an array of real numbers .* got dtype object"):
        ops.softmax(np.array([[None]]))
