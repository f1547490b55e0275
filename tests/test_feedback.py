"""The exercise feedback: each typical mistake is recognised and named, correct
answers written another way pass, hidden tests are not fooled and do not reveal
the answer, and the practised mlpkit function cannot be called."""

import numpy as np
import pytest

from mlpkit import MLP, feedback, losses, ops
from mlpkit.feedback import FeedbackError, _reference_backward


def fails_with(check, student, pattern):
    with pytest.raises(FeedbackError, match=pattern):
        check(student)


# -- correct answers, including ones written differently --------------------------------------------------------
def matmul_loops(dL_dz, w, x):
    dL_dw, dL_dx = np.zeros(w.shape), np.zeros(x.shape)
    for i in range(w.shape[0]):
        for k in range(w.shape[1]):
            for j in range(x.shape[1]):
                dL_dw[i, k] += dL_dz[i, j] * x[k, j]
                dL_dx[k, j] += w[i, k] * dL_dz[i, j]
    return dL_dw, dL_dx


def relu_float32(dL_dz, x):
    x32, up32 = np.asarray(x, np.float32), np.asarray(dL_dz, np.float32)
    return up32 * np.where(x32 > 0, 1.0, np.where(x32 == 0, 0.5, 0.0)).astype(np.float32)


def sigmoid_correct(dL_dz, x):
    s = 1 / (1 + np.exp(-x))
    return dL_dz * s * (1 - s)


def backward_correct(L, y, y_hat, buffer, params):
    return _reference_backward(params, buffer, y, y_hat)


def train_correct(model, X, y, epochs, batch_size, lr, seed):
    rng, history = np.random.default_rng(seed), []
    for _ in range(epochs):
        order, total = rng.permutation(X.shape[1]), 0.0
        for start in range(0, X.shape[1], batch_size):
            batch = order[start:start + batch_size]
            y_hat, buffer = model.forward(X[:, batch])
            L = model.loss(y[:, batch], y_hat)
            for key, g in backward_correct(L, y[:, batch], y_hat, buffer, model.params).items():
                model.params[key] -= lr * g
            total += L * batch.size
        history.append(total / X.shape[1])
    return history


CORRECT = [
    (feedback.check_matmul_backward, feedback.hidden_matmul_backward, lambda d, w, x: (d @ x.T, w.T @ d)),
    (feedback.check_matmul_backward, feedback.hidden_matmul_backward, matmul_loops),
    (feedback.check_sigmoid_backward, feedback.hidden_sigmoid_backward, sigmoid_correct),
    (feedback.check_relu_backward, feedback.hidden_relu_backward, lambda d, x: d * np.heaviside(x, 0.5)),
    (feedback.check_relu_backward, feedback.hidden_relu_backward, relu_float32),
    (feedback.check_binary_cross_entropy_backward, feedback.hidden_binary_cross_entropy_backward,
     lambda y, p: -(y / p - (1 - y) / (1 - p)) / y.shape[1]),
    (feedback.check_softmax_cross_entropy_backward, feedback.hidden_softmax_cross_entropy_backward,
     lambda y, p: (p - y) / y.shape[1]),
    (feedback.check_backward, feedback.hidden_backward, backward_correct),
]


@pytest.mark.parametrize("check, hidden, student", CORRECT)
def test_correct_answers_pass_visible_and_hidden_tests(check, hidden, student, capsys):
    check(student)
    assert capsys.readouterr().out.startswith("\N{CHECK MARK}")
    hidden(student)


def test_correct_training_loop_passes():
    feedback.check_train_sgd(train_correct)
    feedback.hidden_train_sgd(train_correct)


# -- typical mistakes and their diagnoses ------------------------------------------------------------------------
MISTAKES = [
    (feedback.check_matmul_backward, lambda d, w, x: (x @ d.T, w.T @ d), r"dL_dw has shape \(4, 3\), expected "
                                                                        r"\(3, 4\): did you forget a transpose"),
    (feedback.check_matmul_backward, lambda d, w, x: (w.T @ d, d @ x.T), r"returned \(dL_dx, dL_dw\)"),
    (feedback.check_matmul_backward, lambda d, w, x: (-(d @ x.T), w.T @ d), r"dL_dw has the opposite sign"),
    (feedback.check_matmul_backward, lambda d, w, x: (d @ x.T, None), r"dL_dx is None: did your function forget"),
    (feedback.check_sigmoid_backward, lambda d, x: d * ops.sigmoid(ops.sigmoid(x)) * (1 - ops.sigmoid(ops.sigmoid(x))),
     r"took the derivative at the output"),
    (feedback.check_sigmoid_backward, lambda d, x: d * x * (1 - x), r"used x \* \(1 - x\)"),
    (feedback.check_sigmoid_backward, lambda d, x: ops.sigmoid(x) * (1 - ops.sigmoid(x)),
     r"forgot to multiply by the upstream gradient"),
    (feedback.check_relu_backward, lambda d, x: d * (x > 0), r"is 0 where x == 0.*0\.5"),
    (feedback.check_relu_backward, lambda d, x: d * (x >= 0), r"passes all of dL_dz where x == 0"),
    (feedback.check_relu_backward, lambda d, x: d * ops.relu_derivative(np.maximum(x, 0)),
     r"derivative at the output relu\(x\)"),
    (feedback.check_binary_cross_entropy_backward, lambda y, p: (y / p - (1 - y) / (1 - p)) / y.shape[1],
     r"opposite sign. The slides print this formula without its minus sign"),
    (feedback.check_binary_cross_entropy_backward, lambda y, p: -(y / p - (1 - y) / (1 - p)),
     r"B = 4 times too large: the loss is the mean over the batch, so divide by B"),
    (feedback.check_softmax_cross_entropy_backward, lambda y, p: p - y, r"B = 4 times too large"),
    (feedback.check_softmax_cross_entropy_backward, lambda y, p: (p - y) / 16, r"B = 4 times too small"),
    (feedback.check_softmax_cross_entropy_backward, lambda y, p: (y - p) / 4, r"opposite sign"),
]


@pytest.mark.parametrize("check, student, message", MISTAKES)
def test_typical_mistakes_are_named(check, student, message):
    fails_with(check, student, message)


def backward_with(mistake):
    def backward(L, y, y_hat, buffer, params):
        grads = _reference_backward(params, buffer, y, y_hat, at_output=(mistake == "at_output"))
        if mistake == "sum":
            grads = {k: v * y.shape[1] for k, v in grads.items()}
        if mistake == "bias_not_summed":
            grads["b2"] = np.repeat(grads["b2"], y.shape[1], axis=1) / y.shape[1]
        if mistake == "transposed":
            grads["W2"] = grads["W2"].T
        return grads
    return backward


@pytest.mark.parametrize("mistake, message", [
    ("at_output", r"grads\['W2'\]: took ReLU's derivative at the layer's output a instead of its input z"),
    ("sum", r"grads\['W3'\] is B = 6 times too large"),
    ("bias_not_summed", r"grads\['b2'\] has shape \(4, 6\), expected \(4, 1\): .* sum its gradient over the batch"),
    ("transposed", r"grads\['W2'\] has shape \(5, 4\), expected \(4, 5\): did you forget a transpose"),
])
def test_backward_mistakes_are_named(mistake, message):
    fails_with(feedback.check_backward, backward_with(mistake), message)
    with pytest.raises(FeedbackError, match="hidden test: backward gives a wrong"):
        feedback.hidden_backward(backward_with(mistake))


def test_unwritten_and_wrong_type_answers():
    def blank(*args):
        raise NotImplementedError()
    fails_with(feedback.check_relu_backward, blank, r"relu_backward is not written yet")
    fails_with(feedback.check_backward, lambda *a: [1, 2], r"backward should return a dict of gradients")
    fails_with(feedback.check_relu_backward, lambda d, x: "no", r"dL_dx should be a numpy array of numbers, got str")
    fails_with(feedback.check_relu_backward, lambda d, x: d * np.nan, r"contains nan or inf")


def test_training_mistakes():
    def not_in_place(model, X, y, epochs, batch_size, lr, seed):
        for _ in range(epochs):
            y_hat, buffer = model.forward(X)
            W1 = model.params["W1"]
            W1 = W1 - lr * backward_correct(0.0, y, y_hat, buffer, model.params)["W1"]  # noqa: F841
        return [0.0] * epochs

    fails_with(feedback.check_train_sgd, not_in_place, r"model.params did not change: update them in place")
    fails_with(feedback.check_train_sgd, lambda *a: [1.0], r"returned 1 losses for 3 epochs")

    def flat_loss(model, X, y, epochs, batch_size, lr, seed):
        train_correct(model, X, y, epochs, batch_size, lr, seed)
        return [1.0] * epochs
    with pytest.raises(FeedbackError, match=r"hidden test: the returned loss did not go down"):
        feedback.hidden_train_sgd(flat_loss)

    def too_few_epochs(model, X, y, epochs, batch_size, lr, seed):
        train_correct(model, X, y, 1, batch_size, lr, seed)
        return list(np.linspace(1.0, 0.5, epochs))
    with pytest.raises(FeedbackError, match=r"hidden test: after training, the test accuracy is .*below the required"):
        feedback.hidden_train_sgd(too_few_epochs)


def test_graph_by_hand():
    def build(x, y, z):
        return (x * y + z) * x
    at = {"x": 2.0, "y": -1.0, "z": 3.0}                  # L = x**2 y + z x: dL/dx = 2xy + z, dL/dy = x**2, dL/dz = x
    feedback.check_graph_by_hand(build, at, {"x": -1.0, "y": 4.0, "z": 2.0})
    with pytest.raises(FeedbackError, match=r"dL_dx is not right\. .*add up the paths"):
        feedback.check_graph_by_hand(build, at, {"x": -4.0, "y": 4.0, "z": 2.0})     # only the path through x*y
    with pytest.raises(FeedbackError, match=r"dL_dy should be a number, got None"):
        feedback.check_graph_by_hand(build, at, {"x": -1.0, "y": None, "z": 2.0})


# -- hidden tests: not fooled, not revealing, practised function forbidden --------------------------------------
@pytest.mark.parametrize("hidden, student", [
    (feedback.hidden_relu_backward, lambda d, x: d * (x > 0)),                       # 0 at the kink
    (feedback.hidden_relu_backward, lambda d, x: d * (x >= 0)),
    (feedback.hidden_sigmoid_backward, lambda d, x: d * x * (1 - x)),
    (feedback.hidden_matmul_backward, lambda d, w, x: (d @ x.T, np.zeros(x.shape))),
    (feedback.hidden_binary_cross_entropy_backward, lambda y, p: (y / p - (1 - y) / (1 - p)) / y.shape[1]),
    (feedback.hidden_softmax_cross_entropy_backward, lambda y, p: p - y),
    (feedback.hidden_matmul_backward, lambda d, w, x: None),
])
def test_hidden_tests_reject_wrong_answers_without_revealing_numbers(hidden, student):
    with pytest.raises(FeedbackError, match=r"^hidden test: ") as error:
        hidden(student)
    message = str(error.value)
    assert "[" not in message and "array" not in message and "expected" not in message


def test_hidden_relu_test_always_contains_exact_zeros():
    zeros_seen = []

    def student(dL_dz, x):
        zeros_seen.append(int((x == 0).sum()))
        return dL_dz * np.heaviside(x, 0.5)
    feedback.hidden_relu_backward(student)
    assert len(zeros_seen) == 20 and sum(zeros_seen) >= 10


@pytest.mark.parametrize("hidden, practised", [
    (feedback.hidden_matmul_backward, lambda: ops.matmul_backward),
    (feedback.hidden_relu_backward, lambda: ops.relu_backward),
    (feedback.hidden_sigmoid_backward, lambda: ops.sigmoid_backward),
    (feedback.hidden_binary_cross_entropy_backward, lambda: losses.binary_cross_entropy_backward),
    (feedback.hidden_softmax_cross_entropy_backward, lambda: losses.softmax_cross_entropy_backward),
])
def test_hidden_tests_cannot_be_passed_by_calling_mlpkit(hidden, practised):
    with pytest.raises(FeedbackError, match=r"you may not call mlpkit's \w+ in this exercise"):
        hidden(practised())


def test_hidden_backward_and_training_cannot_call_mlpkit():
    def uses_mlp(L, y, y_hat, buffer, params):
        model = MLP([buffer[0].shape[0], buffer[1].shape[0], buffer[3].shape[0], y.shape[0]])
        model.params = params
        return model.backward(L, y, y_hat, buffer)
    with pytest.raises(FeedbackError, match=r"you may not call mlpkit's backward"):
        feedback.hidden_backward(uses_mlp)

    def uses_train(model, X, y, epochs, batch_size, lr, seed):
        import mlpkit
        return mlpkit.train(model, X, y, epochs=epochs, progress=False)["loss"]
    with pytest.raises(FeedbackError, match=r"you may not call mlpkit's train"):
        feedback.hidden_train_sgd(uses_train)


def test_forbidden_catches_aliases_and_restores_afterwards():
    from mlpkit.ops import relu_backward as renamed

    x = np.array([[0.0, 1.0]])
    with feedback.forbidden(ops.relu_backward):
        with pytest.raises(FeedbackError, match="relu_backward"):
            renamed(x, x)
    np.testing.assert_array_equal(renamed(x, x), [[0.0, 1.0]])
    with pytest.raises(RuntimeError):
        with feedback.forbidden(ops.relu_backward):
            raise RuntimeError("student code crashed")
    np.testing.assert_array_equal(ops.relu_backward(x, x), [[0.0, 1.0]])


def test_diagnose_directly():
    expected = np.arange(6.0).reshape(2, 3)
    assert feedback.diagnose("g", expected.copy(), expected) is None
    assert "transposed" in feedback.diagnose("g", np.arange(4.0).reshape(2, 2).T, np.arange(4.0).reshape(2, 2))
    assert "wrong values" in feedback.diagnose("g", expected + 1, expected)


def test_relu_derivative_is_forbidden_too_and_loss_values_are_checked():
    with pytest.raises(FeedbackError, match=r"you may not call mlpkit's relu_derivative"):
        feedback.hidden_relu_backward(lambda d, x: d * ops.relu_derivative(x))

    def returns_words(model, X, y, epochs, batch_size, lr, seed):
        train_correct(model, X, y, epochs, batch_size, lr, seed)
        return ["loss"] * epochs
    fails_with(feedback.check_train_sgd, returns_words, r"epoch losses as numbers")
    with pytest.raises(FeedbackError, match=r"epoch losses as numbers"):
        feedback.hidden_train_sgd(returns_words)
