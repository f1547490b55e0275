"""Losses and their gradients: the formulas, the batch mean, probabilities of 0 and 1."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlpkit import losses, ops
from mlpkit.datasets import one_hot
from mlpkit.gradcheck import numerical_gradient, rel_error
from tests.strategies import dims, matrices


def test_cross_entropy_is_the_batch_mean_of_minus_log_true_class():
    y_hat = np.array([[0.7, 0.2], [0.2, 0.5], [0.1, 0.3]])
    y = one_hot(np.array([0, 2]), 3)
    assert losses.cross_entropy(y, y_hat) == pytest.approx(-(np.log(0.7) + np.log(0.3)) / 2)


def test_binary_cross_entropy_formula():
    y, y_hat = np.array([[1.0, 0.0, 1.0]]), np.array([[0.9, 0.2, 0.4]])
    expected = -(np.log(0.9) + np.log(0.8) + np.log(0.4)) / 3
    assert losses.binary_cross_entropy(y, y_hat) == pytest.approx(expected)


def test_losses_stay_finite_and_correct_at_exact_zero_and_one():
    y = np.array([[1.0, 0.0]])
    assert losses.binary_cross_entropy(y, np.array([[1.0, 0.0]])) == pytest.approx(0.0, abs=1e-11)
    wrong = losses.binary_cross_entropy(y, np.array([[0.0, 1.0]]))
    assert np.isfinite(wrong) and wrong == pytest.approx(-np.log(1e-12))
    Y = one_hot(np.array([0, 1]), 2)
    assert losses.cross_entropy(Y, np.array([[1.0, 0.0], [0.0, 1.0]])) == pytest.approx(0.0, abs=1e-11)
    assert np.isfinite(losses.cross_entropy(Y, np.array([[0.0, 1.0], [1.0, 0.0]])))
    assert np.isfinite(losses.binary_cross_entropy_backward(y, np.array([[0.0, 1.0]]))).all()


def test_logits_of_plus_minus_1000_give_finite_correct_loss_and_gradient():
    z = np.array([[1000.0, -1000.0], [-1000.0, 1000.0]])
    Y = one_hot(np.array([0, 0]), 2)                  # first sample right, second confidently wrong
    y_hat = ops.softmax(z)
    L = losses.cross_entropy(Y, y_hat)
    assert np.isfinite(L) and L == pytest.approx(-np.log(1e-12) / 2)
    np.testing.assert_allclose(losses.softmax_cross_entropy_backward(Y, y_hat), [[0.0, -0.5], [0.0, 0.5]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float32_probabilities_of_one_stay_finite(dtype):
    y = np.array([[0.0]], dtype=dtype)
    assert np.isfinite(losses.binary_cross_entropy(y, np.array([[1.0]], dtype=dtype)))
    assert np.isfinite(losses.binary_cross_entropy_backward(y, np.array([[1.0]], dtype=dtype))).all()


@given(st.data(), dims)
def test_binary_cross_entropy_backward_matches_finite_differences(data, B):
    y = (data.draw(matrices((1, B))) > 0).astype(float)
    y_hat = data.draw(matrices((1, B), 0.05, 0.95))
    analytic = losses.binary_cross_entropy_backward(y, y_hat)
    numeric = numerical_gradient(lambda p: losses.binary_cross_entropy(y, p), y_hat)
    assert rel_error(analytic, numeric) < 1e-6


def test_slides_bce_gradient_has_the_wrong_sign():
    y, y_hat = np.array([[1.0]]), np.array([[0.3]])
    slides = (y / y_hat - (1 - y) / (1 - y_hat)) / 1      # as printed on the slides
    numeric = numerical_gradient(lambda p: losses.binary_cross_entropy(y, p), y_hat.copy())
    assert rel_error(-slides, numeric) < 1e-8 and rel_error(slides, numeric) == pytest.approx(1.0)


@given(st.data(), st.integers(2, 6), dims)
def test_softmax_cross_entropy_backward_matches_finite_differences(data, K, B):
    z = data.draw(matrices((K, B)))
    labels = data.draw(st.lists(st.integers(0, K - 1), min_size=B, max_size=B))
    Y = one_hot(np.array(labels), K)
    analytic = losses.softmax_cross_entropy_backward(Y, ops.softmax(z))
    numeric = numerical_gradient(lambda v: losses.cross_entropy(Y, ops.softmax(v)), z)
    assert rel_error(analytic, numeric) < 1e-6


def test_loss_errors_name_argument_and_shapes():
    with pytest.raises(ValueError, match=r"y has shape \(2, 3\), expected \(3, 2\) .*y_hat"):
        losses.cross_entropy(np.ones((2, 3)), np.ones((3, 2)) / 3)
    with pytest.raises(ValueError, match=r"y_hat: expected a 2-D array .* got shape \(4,\)"):
        losses.binary_cross_entropy(np.ones((1, 4)), np.ones(4) / 2)
    with pytest.raises(ValueError, match=r"y: expected an array of real numbers .* got dtype <U1"):
        losses.softmax_cross_entropy_backward(np.array([["a"]]), np.ones((1, 1)))
