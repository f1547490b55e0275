"""The MLP: every parameter gradient against finite differences for random
architectures (hypothesis), the buffer, the slides' BCE route, and errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlpkit import MLP, losses, ops
from mlpkit.datasets import one_hot
from mlpkit.gradcheck import numerical_gradient, rel_error


def batch(model: MLP, B: int, seed: int):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((model.sizes[0], B))
    if model.output == "softmax":
        y = one_hot(rng.integers(0, model.sizes[-1], B), model.sizes[-1])
    else:
        y = rng.integers(0, 2, (1, B)).astype(float)
    return X, y


@given(hidden=st.lists(st.integers(1, 6), min_size=0, max_size=3), n_in=st.integers(1, 5),
       n_out=st.integers(2, 5), B=st.integers(1, 6), activation=st.sampled_from(["relu", "sigmoid"]),
       output=st.sampled_from(["softmax", "sigmoid"]), seed=st.integers(0, 10_000))
def test_every_parameter_gradient_matches_finite_differences(hidden, n_in, n_out, B, activation, output, seed):
    sizes = [n_in, *hidden, n_out if output == "softmax" else 1]
    model = MLP(sizes, activation=activation, output=output, seed=seed)
    for key in model.params:                               # non-zero biases exercise b too
        model.params[key] += np.random.default_rng(seed + 1).normal(0, 0.1, model.params[key].shape)
    X, y = batch(model, B, seed)
    y_hat, buffer = model.forward(X)
    grads = model.backward(model.loss(y, y_hat), y, y_hat, buffer)
    assert grads.keys() == model.params.keys()
    for key, param in model.params.items():
        numeric = numerical_gradient(lambda _: model.loss(y, model.forward(X)[0]), param)
        assert grads[key].shape == param.shape
        assert rel_error(grads[key], numeric) < 1e-6 or np.abs(grads[key] - numeric).max() < 1e-9, key


def test_buffer_holds_X_and_every_z_and_a():
    model = MLP([2, 4, 3, 5], seed=0)
    X, _ = batch(model, 7, 0)
    y_hat, buffer = model.forward(X)
    assert [b.shape for b in buffer] == [(2, 7), (4, 7), (4, 7), (3, 7), (3, 7), (5, 7)]
    X_, z1, a1, z2, a2, z3 = buffer
    np.testing.assert_array_equal(X_, X)
    np.testing.assert_allclose(z1, model.params["W1"] @ X + model.params["b1"])
    np.testing.assert_allclose(a1, np.maximum(z1, 0))
    np.testing.assert_allclose(z3, model.params["W3"] @ a2 + model.params["b3"])
    np.testing.assert_allclose(y_hat, ops.softmax(z3))


def test_bce_route_of_the_slides_gives_the_same_gradients():
    model = MLP([3, 5, 1], activation="sigmoid", output="sigmoid", seed=1)
    X, y = batch(model, 8, 1)
    y_hat, buffer = model.forward(X)
    dL_dz3_slides = ops.sigmoid_backward(losses.binary_cross_entropy_backward(y, y_hat), buffer[-1])
    np.testing.assert_allclose(dL_dz3_slides, losses.softmax_cross_entropy_backward(y, y_hat), rtol=1e-9)


def test_saturated_sigmoid_output_still_has_the_right_gradient():
    model = MLP([1, 1], output="sigmoid", seed=0)
    model.params["W1"][:] = 100.0
    X, y = np.array([[1.0]]), np.array([[0.0]])            # y_hat rounds to exactly 1.0, label 0
    y_hat, buffer = model.forward(X)
    assert y_hat[0, 0] == 1.0
    grads = model.backward(model.loss(y, y_hat), y, y_hat, buffer)
    np.testing.assert_allclose(grads["W1"], [[1.0]])       # (y_hat - y) * x, not 0


def test_same_seed_same_model_and_initial_scale():
    a, b, c = MLP([64, 128, 10], seed=3), MLP([64, 128, 10], seed=3), MLP([64, 128, 10], seed=4)
    np.testing.assert_array_equal(a.params["W1"], b.params["W1"])
    assert not np.array_equal(a.params["W1"], c.params["W1"])
    assert a.params["W1"].std() == pytest.approx(np.sqrt(2 / 64), rel=0.1)      # He for ReLU
    assert not a.params["b1"].any()
    assert MLP([64, 128, 10], activation="sigmoid").params["W1"].std() == pytest.approx(np.sqrt(1 / 64), rel=0.1)


def test_predict_returns_integer_labels():
    model = MLP([2, 8, 3], seed=0)
    X, _ = batch(model, 11, 0)
    labels = model.predict(X)
    assert labels.shape == (11,) and labels.dtype.kind == "i"
    np.testing.assert_array_equal(labels, model.forward(X)[0].argmax(axis=0))
    binary = MLP([2, 8, 1], output="sigmoid", seed=0)
    assert set(binary.predict(X)) <= {0, 1}


def test_float32_model_stays_float32():
    model = MLP([2, 4, 3], seed=0, dtype=np.float32)
    X, y = batch(model, 5, 0)
    y_hat, buffer = model.forward(X.astype(np.float32))
    grads = model.backward(0.0, y.astype(np.float32), y_hat, buffer)
    assert y_hat.dtype == np.float32 and all(g.dtype == np.float32 for g in grads.values())


@pytest.mark.parametrize("kwargs, message", [
    (dict(sizes=[3]), r"sizes: expected at least two positive integers"),
    (dict(sizes=[3, 0, 2]), r"sizes: expected at least two positive integers"),
    (dict(sizes=[3, 2], activation="tanh"), r"activation: expected 'relu' or 'sigmoid', got 'tanh'"),
    (dict(sizes=[3, 2], output="linear"), r"output: expected 'softmax' or 'sigmoid', got 'linear'"),
    (dict(sizes=[3, 1]), r"softmax output needs at least 2 classes"),
    (dict(sizes=[3, 4], output="sigmoid"), r"sigmoid output has one unit"),
    (dict(sizes=[3, 2], dtype=np.int32), r"dtype: expected float32 or float64, got int32"),
])
def test_constructor_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MLP(**kwargs)


def test_forward_and_backward_errors_name_argument_and_shapes():
    model = MLP([3, 4, 2], seed=0)
    with pytest.raises(ValueError, match=r"X has shape \(5, 3\), expected \(3, 5\): did you forget a transpose"):
        model.forward(np.ones((5, 3)))
    with pytest.raises(ValueError, match=r"X has shape \(4, 10\), expected \(3, 10\): the model expects 3 features"):
        model.forward(np.ones((4, 10)))
    X = np.ones((3, 6))
    y_hat, buffer = model.forward(X)
    y = one_hot(np.zeros(6, dtype=int), 2)
    with pytest.raises(ValueError, match=r"y has shape \(6,\), expected \(2, 6\): pass one-hot labels"):
        model.backward(0.0, np.zeros(6, dtype=int), y_hat, buffer)
    with pytest.raises(ValueError, match=r"buffer: expected the 4 arrays \(X, z1, a1, \.\.\., z2\)"):
        model.backward(0.0, y, y_hat, buffer[1:])
    with pytest.raises(ValueError, match=r"buffer\[1\] \(z1\) has shape \(4, 5\), expected \(4, 6\)"):
        model.backward(0.0, y, y_hat, (X, buffer[1][:, :5], buffer[2], buffer[3]))
    with pytest.raises(ValueError, match=r"y_hat has shape \(3, 6\), expected \(2, 6\)"):
        model.loss(y, np.ones((3, 6)) / 3)
    with pytest.raises(ValueError, match=r"X: expected an array of real numbers"):
        model.predict(np.array([["a"]]))


def test_step_moves_every_parameter_against_its_gradient_and_checks_the_grads():
    model = MLP([2, 3, 2], seed=0)
    before = {key: W.copy() for key, W in model.params.items()}
    grads = {key: np.full_like(W, 2.0) for key, W in model.params.items()}
    model.step(grads, 0.25)
    for key, W in model.params.items():
        np.testing.assert_allclose(W, before[key] - 0.5)
    with pytest.raises(ValueError, match=r"grads: expected the keys \['W1', 'b1', 'W2', 'b2'\]"):
        model.step({"W1": grads["W1"]}, 0.1)
    with pytest.raises(ValueError, match=r"grads\['b1'\] has shape \(1, 3\), expected \(3, 1\)"):
        model.step({**grads, "b1": np.zeros((1, 3))}, 0.1)


def test_labels_are_the_most_probable_class_or_the_thresholded_sigmoid():
    softmax_model, sigmoid_model = MLP([2, 3, 3], seed=0), MLP([2, 3, 1], output="sigmoid", seed=0)
    np.testing.assert_array_equal(softmax_model.labels(np.array([[0.1, 0.7], [0.6, 0.2], [0.3, 0.1]])), [1, 0])
    np.testing.assert_array_equal(sigmoid_model.labels(np.array([[0.49, 0.5, 0.9]])), [0, 1, 1])
