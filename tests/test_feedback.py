"""The visible checks of coursekit.feedback, as the exercise notebooks' test cells run them.

Correct answers written in other ways pass; each typical mistake is named; every
function listed in PRACTISED is uncallable while a student's function runs (also
under another name) and callable again afterwards; what a student's function writes
to stderr is shown on stdout and costs nothing; a function that changes its
arguments fails; check_train_sgd judges the loop with a correct ``backward`` in
place of the student's, and names each mistake of the loop.

The graded functions and their checks come from the notebooks (``GRADED_FUNCTIONS``); the tables every exercise
needs, a right answer per graded function (``RIGHT``) and a call per practised function (``CALLS``), are in
tests/exercise_variants.py.
"""

import re
import sys
import types
import warnings

import numpy as np
import pytest

import mlpkit
from coursekit import feedback
from coursekit.checks import graph as graph_checks
from coursekit.feedback import PRACTISED, FeedbackError
from mlpkit import MLP, gradcheck, graph, losses, ops
from mlpkit.graph import Value
from mlpkit.losses import binary_cross_entropy_backward as bce_backward_alias
from mlpkit.losses import softmax_cross_entropy_backward as sce_backward_alias
from mlpkit.ops import matmul_backward as matmul_backward_alias
from mlpkit.ops import relu_backward as relu_backward_alias
from mlpkit.ops import relu_derivative as relu_derivative_alias
from mlpkit.ops import sigmoid_backward as sigmoid_backward_alias
from tests import exercise_variants
from tests.exercise_variants import (
    CALLS,
    GRADED_FUNCTIONS,
    NOTEBOOK_OF,
    RIGHT,
    backward_numpy,
    graph_backward_right,
    order_right,
    right_but_calling,
    softmax_jacobian_right,
    tiny_backward,
)

#: graded function -> its visible check: every answer cell of the notebooks that defines a function (all but
#: graph_by_hand, a cell of numbers whose check takes the graph and the numbers).
CHECKS = {name: getattr(feedback, f"check_{name}", None) for name in GRADED_FUNCTIONS}


def fails_with(check, student, pattern):
    with pytest.raises(FeedbackError, match=pattern):
        check(student)


def passes(check, student, capsys):
    check(student)
    out = capsys.readouterr().out
    assert out.startswith("\N{CHECK MARK}"), out


# -- right answers in plain numpy --------------------------------------------------------------------------------
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


def backward_with_ops(L, y, y_hat, buffer, params):
    """Uses the library's layer functions, which backward may."""
    grads, dL_dz = {}, losses.softmax_cross_entropy_backward(y, y_hat)
    for l in range(len(params) // 2, 0, -1):
        grads[f"W{l}"], dL_da = ops.matmul_backward(dL_dz, params[f"W{l}"], buffer[2 * l - 2])
        grads[f"b{l}"] = ops.bias_backward(dL_dz)
        if l > 1:
            dL_dz = ops.relu_backward(dL_da, buffer[2 * l - 3])
    return grads


# -- training loops ------------------------------------------------------------------------------------------------
def backward(L, y, y_hat, buffer, params):
    """The global ``backward`` the training loops below call, deliberately wrong (gradient ascent): check_train_sgd
    must put a correct one in its place while it runs, as the grader does, so these loops pass all the same."""
    return {key: -g for key, g in backward_numpy(L, y, y_hat, buffer, params).items()}


WRONG_BACKWARD = backward


ORDERS = {                                                     # (rng, N, seed, epoch) -> the epoch's order
    "task": lambda rng, N, seed, epoch: rng.permutation(N),
    "never shuffled": lambda rng, N, seed, epoch: np.arange(N),
    "new generator every epoch": lambda rng, N, seed, epoch: np.random.default_rng(seed).permutation(N),
    "seed + epoch": lambda rng, N, seed, epoch: np.random.default_rng(seed + epoch).permutation(N),
}
EPOCH_LOSSES = {                                               # [(L, batch size), ...] -> the epoch's loss
    "weighted mean": lambda batches: sum(L * B for L, B in batches) / sum(B for _, B in batches),
    "unweighted mean": lambda batches: float(np.mean([L for L, _ in batches])),
    "last batch": lambda batches: batches[-1][0],
    "sum": lambda batches: sum(L * B for L, B in batches),
}


def sgd(model, X, y, epochs, batch_size, lr, seed, order="task", epoch_loss="weighted mean", update=True):
    """Mini-batch SGD as the task describes it (the defaults), or with one of its typical mistakes (``order`` may
    also be one fixed order for every epoch)."""
    N, history = X.shape[1], []
    rng = np.random.default_rng(seed)                          # one generator, made once
    for epoch in range(epochs):
        permutation = order if isinstance(order, np.ndarray) else ORDERS[order](rng, N, seed, epoch)
        batches = []
        for start in range(0, N, batch_size):                  # consecutive pieces of the order
            batch = permutation[start:start + batch_size]
            y_hat, buffer = model.forward(X[:, batch])
            L = model.loss(y[:, batch], y_hat)
            grads = backward(L, y[:, batch], y_hat, buffer, model.params)
            if update:
                for key in model.params:
                    model.params[key] -= lr * grads[key]
            batches.append((L, len(batch)))
        history.append(EPOCH_LOSSES[epoch_loss](batches))
    return history


def train_correct(model, X, y, epochs, batch_size, lr, seed):
    return sgd(model, X, y, epochs, batch_size, lr, seed)


def train_with(**mistake):
    def train_sgd(model, X, y, epochs, batch_size, lr, seed):
        return sgd(model, X, y, epochs, batch_size, lr, seed, **mistake)
    return train_sgd


def train_with_model_backward(model, X, y, epochs, batch_size, lr, seed):
    """Calls the model's own backward, which train_sgd may."""
    rng, history = np.random.default_rng(seed), []
    for _ in range(epochs):
        order, total = rng.permutation(X.shape[1]), 0.0
        for start in range(0, X.shape[1], batch_size):
            batch = order[start:start + batch_size]
            y_hat, buffer = model.forward(X[:, batch])
            L = model.loss(y[:, batch], y_hat)
            for key, g in model.backward(L, y[:, batch], y_hat, buffer).items():
                model.params[key] -= lr * g
            total += L * batch.size
        history.append(total / X.shape[1])
    return history


# -- correct answers, including ones written differently --------------------------------------------------------
CORRECT = [
    *RIGHT.items(),
    ("matmul_backward", matmul_loops),
    ("relu_backward", relu_float32),
    ("relu_backward", lambda d, x: np.where(x > 0, d, np.where(x == 0, d / 2, 0.0))),
    ("backward", backward_with_ops),
    ("train_sgd", train_with_model_backward),
    ("train_sgd", train_correct),
]


@pytest.mark.parametrize("name, student", CORRECT, ids=[f"{name}-{i}" for i, (name, _) in enumerate(CORRECT)])
def test_correct_answers_pass(name, student, capsys):
    passes(CHECKS[name], student, capsys)


# -- typical mistakes and their diagnoses ------------------------------------------------------------------------
MISTAKES = [
    ("matmul_backward", lambda d, w, x: (x @ d.T, w.T @ d),
     r"dL_dw has shape \(4, 3\), expected \(3, 4\): did you forget a transpose"),
    ("matmul_backward", lambda d, w, x: (w.T @ d, d @ x.T), r"returned \(dL_dx, dL_dw\)"),
    ("matmul_backward", lambda d, w, x: (-(d @ x.T), w.T @ d), r"dL_dw has the opposite sign"),
    ("matmul_backward", lambda d, w, x: (d @ x.T, None), r"dL_dx is None: did your function forget"),
    ("matmul_backward", lambda d, w, x: d @ x.T, r"should return two arrays \(dL_dw, dL_dx\), got ndarray"),
    ("matmul_backward", lambda d, w, x: (d @ x.T, w.T @ d, d), r"two arrays \(dL_dw, dL_dx\), got tuple of 3"),
    ("sigmoid_backward", lambda d, x: d * ops.sigmoid(ops.sigmoid(x)) * (1 - ops.sigmoid(ops.sigmoid(x))),
     r"took the derivative at the output"),
    ("sigmoid_backward", lambda d, x: d * x * (1 - x), r"used x \* \(1 - x\)"),
    ("sigmoid_backward", lambda d, x: ops.sigmoid(x) * (1 - ops.sigmoid(x)),
     r"forgot to multiply by the upstream gradient"),
    ("relu_backward", lambda d, x: d * (x > 0), r"is 0 where x == 0.*0\.5"),
    ("relu_backward", lambda d, x: d * (x >= 0), r"passes all of dL_dz where x == 0"),
    ("relu_backward", lambda d, x: d * np.heaviside(np.maximum(x, 0), 0.5), r"derivative at the output relu\(x\)"),
    ("relu_backward", lambda d, x: np.heaviside(x, 0.5), r"forgot to multiply by the upstream gradient dL_dz"),
    ("relu_backward", lambda d, x: "no", r"dL_dx should be a numpy array of numbers, got str"),
    ("relu_backward", lambda d, x: d * np.nan, r"dL_dx contains nan or inf"),
    ("relu_backward", lambda d, x: d[:, :2], r"dL_dx has shape \(2, 2\), expected \(2, 3\): a gradient always"),
    ("relu_backward", lambda d, x: d + 1.0, r"right shape but wrong values \(relative error"),
    ("binary_cross_entropy_backward", lambda y, p: (y / p - (1 - y) / (1 - p)) / y.shape[1],
     r"opposite sign. The slides print this formula without its minus sign"),
    ("binary_cross_entropy_backward", lambda y, p: -(y / p - (1 - y) / (1 - p)),
     r"B = 4 times too large: the loss is the mean over the batch, so divide by B"),
    ("softmax_cross_entropy_backward", lambda y, p: p - y, r"dL_dz is B = 4 times too large"),
    ("softmax_cross_entropy_backward", lambda y, p: (p - y) / 16, r"dL_dz is B = 4 times too small"),
    ("softmax_cross_entropy_backward", lambda y, p: (y - p) / 4, r"dL_dz has the opposite sign"),
]


@pytest.mark.parametrize("name, student, message", MISTAKES, ids=[f"{m[0]}-{i}" for i, m in enumerate(MISTAKES)])
def test_typical_mistakes_are_named(name, student, message):
    fails_with(CHECKS[name], student, message)


BACKWARD_MISTAKES = {
    "returns a list": (lambda *a: list(backward_numpy(*a).values()),
                       r"backward should return a dict of gradients like params, got list"),
    "missing key": (lambda *a: {k: g for k, g in backward_numpy(*a).items() if k != "b1"},
                    r"the gradients for b1 are missing: return one per parameter"),
    "extra key": (lambda *a: {**backward_numpy(*a), "X": a[3][0]},
                  r"grads has keys params does not have \('X'\): use exactly the keys of params"),
    "at the output": (lambda *a: backward_numpy(*a, relu_at="a"),
                      r"grads\['W2'\]: took ReLU's derivative at the layer's output a instead of its input z"),
    "sum over the batch": (lambda *a: {k: 6 * g for k, g in backward_numpy(*a).items()},
                           r"grads\['W3'\] is B = 6 times too large"),
    "bias not summed": (lambda *a: backward_numpy(*a, sum_bias=False),
                        r"grads\['b3'\] has shape \(3, 6\), expected \(3, 1\): a bias is added to every sample, "
                        r"so sum its gradient over the batch"),
    "transposed W2": (lambda *a: {**backward_numpy(*a), "W2": backward_numpy(*a)["W2"].T},
                      r"grads\['W2'\] has shape \(5, 4\), expected \(4, 5\): did you forget a transpose"),
}


@pytest.mark.parametrize("student, message", BACKWARD_MISTAKES.values(), ids=BACKWARD_MISTAKES)
def test_backward_mistakes_are_named(student, message):
    fails_with(feedback.check_backward, student, message)


@pytest.mark.parametrize("name", CHECKS)
def test_unwritten_answers(name):
    def blank(*args):
        raise NotImplementedError()
    fails_with(CHECKS[name], blank, rf"^{name} is not written yet: replace `raise NotImplementedError\(\)`")


# -- the practised functions are uncallable while the student's function runs ------------------------------------
def numerically(f, x):
    return gradcheck.numerical_gradient(f, np.array(x, dtype=np.float64))


def sigmoid_by_graph(dL_dz, x):
    def grad(v):
        node = Value(float(v))
        (1 / (1 + (-node).exp())).backward()
        return node.grad
    return dL_dz * np.vectorize(grad)(x)


def backward_numerically(L, y, y_hat, buffer, params):
    model = MLP([buffer[0].shape[0]] + [params[f"W{l}"].shape[0] for l in range(1, len(params) // 2 + 1)])
    model.params = {key: value.copy() for key, value in params.items()}

    def loss(_):
        return model.loss(y, model.forward(buffer[0])[0])
    return {key: gradcheck.numerical_gradient(loss, value) for key, value in model.params.items()}


def backward_by_model(L, y, y_hat, buffer, params, private=False):
    model = MLP([buffer[0].shape[0]] + [params[f"W{l}"].shape[0] for l in range(1, len(params) // 2 + 1)])
    model.params = params
    return model._backward(y, y_hat, buffer) if private else model.backward(L, y, y_hat, buffer)


#: Students whose call of the practised function gives the right answer; any other pair uses "call, then answer".
SHORTCUTS = {
    ("topological_order", "mlpkit.graph.topological_order"): lambda L: graph.topological_order(L),
    ("graph_backward", "mlpkit.graph.Value.backward"): lambda L: L.backward(),
    ("softmax_jacobian", "mlpkit.gradcheck.jacobian"):
        lambda z: gradcheck.jacobian(ops.softmax, z).reshape(z.shape[0], z.shape[0]),
    ("softmax_backward", "mlpkit.gradcheck.numerical_gradient"):
        lambda u, z: numerically(lambda v: float((ops.softmax(v) * u).sum()), z),
    ("matmul_backward", "mlpkit.ops.matmul_backward"): lambda d, w, x: matmul_backward_alias(d, w, x),
    ("matmul_backward", "mlpkit.gradcheck.numerical_gradient"): lambda d, w, x: (
        numerically(lambda w_: float((d * (w_ @ x)).sum()), w), numerically(lambda x_: float((d * (w @ x_)).sum()), x)),
    ("sigmoid_backward", "mlpkit.ops.sigmoid_backward"): lambda d, x: sigmoid_backward_alias(d, x),
    ("sigmoid_backward", "mlpkit.graph.Value.sigmoid"):
        lambda d, x: d * np.vectorize(lambda v: Value(float(v)).sigmoid().local_grads[0])(x),
    ("sigmoid_backward", "mlpkit.graph.Value.backward"): sigmoid_by_graph,
    ("sigmoid_backward", "mlpkit.gradcheck.numerical_gradient"):
        lambda d, x: numerically(lambda x_: float((d * ops.sigmoid(x_)).sum()), x),
    ("relu_backward", "mlpkit.ops.relu_backward"): lambda d, x: relu_backward_alias(d, x),
    ("relu_backward", "mlpkit.ops.relu_derivative"): lambda d, x: d * relu_derivative_alias(x),
    ("relu_backward", "mlpkit.graph.Value.relu"):
        lambda d, x: d * np.vectorize(lambda v: Value(float(v)).relu().local_grads[0])(x),
    ("relu_backward", "mlpkit.gradcheck.numerical_gradient"):       # a central difference gives 1/2 at 0
        lambda d, x: numerically(lambda x_: float((d * np.maximum(x_, 0)).sum()), x),
    ("binary_cross_entropy_backward", "mlpkit.losses.binary_cross_entropy_backward"):
        lambda y, p: bce_backward_alias(y, p),
    ("binary_cross_entropy_backward", "mlpkit.gradcheck.numerical_gradient"):
        lambda y, p: numerically(lambda p_: losses.binary_cross_entropy(y, p_), p),
    ("softmax_cross_entropy_backward", "mlpkit.losses.softmax_cross_entropy_backward"):
        lambda y, p: sce_backward_alias(y, p),
    ("softmax_cross_entropy_backward", "mlpkit.gradcheck.numerical_gradient"):      # log(softmax(z)) = z + const
        lambda y, p: numerically(lambda z: losses.cross_entropy(y, ops.softmax(z)), np.log(p)),
    ("backward", "mlpkit.mlp.MLP.backward"): backward_by_model,
    ("backward", "mlpkit.mlp.MLP._backward"): lambda *a: backward_by_model(*a, private=True),
    ("backward", "mlpkit.gradcheck.numerical_gradient"): backward_numerically,
    ("train_sgd", "mlpkit.training.train"): lambda model, X, y, epochs, batch_size, lr, seed: mlpkit.train(
        model, X, y, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, progress=False)["loss"],
}


def calling(name, dotted):
    """A student's ``name`` that calls ``dotted``, right but for that call."""
    if (name, dotted) in SHORTCUTS:
        return SHORTCUTS[name, dotted]
    return right_but_calling(name, dotted)


# graph_by_hand is a cell of numbers, not a function the check could run: the grader removes its entries.
PRACTISED_CASES = [(name, dotted) for name, names in PRACTISED.items() if name != "graph_by_hand" for dotted in names]


def test_every_practised_function_has_a_call_and_every_graded_function_a_check():
    assert {dotted for names in PRACTISED.values() for dotted in names} == set(CALLS)
    assert set(PRACTISED) == {"graph_by_hand", *CHECKS}
    assert set(SHORTCUTS) <= set(PRACTISED_CASES)
    # the graded functions: the notebooks' answer cells but graph_by_hand, each with a check and a right answer
    assert list(CHECKS) == [name for name in NOTEBOOK_OF if name != "graph_by_hand"]
    assert {a for a in dir(feedback) if a.startswith("check_")} == {f"check_{name}" for name in NOTEBOOK_OF}
    assert all(callable(check) for check in CHECKS.values())
    assert set(RIGHT) == set(CHECKS)


@pytest.mark.parametrize("name, dotted", PRACTISED_CASES, ids=[f"{n}-{d}" for n, d in PRACTISED_CASES])
def test_a_practised_function_cannot_be_called(name, dotted, monkeypatch, capsys):
    student = calling(name, dotted)
    qualname = feedback.resolve(dotted).__qualname__
    fails_with(CHECKS[name], student, rf"^you may not call mlpkit's {re.escape(qualname)} in this exercise: write")
    CALLS[dotted]()                                            # callable again afterwards
    monkeypatch.setitem(PRACTISED, name, ())
    passes(CHECKS[name], student, capsys)                      # and the student is right but for that call


def test_forbidden_catches_aliases_and_restores_afterwards():
    x = np.array([[0.0, 1.0]])
    with feedback.forbidden(ops.relu_backward):
        with pytest.raises(FeedbackError, match=r"you may not call mlpkit's relu_backward"):
            relu_backward_alias(x, x)
        ops.relu(x)                                            # the others still work
    np.testing.assert_array_equal(relu_backward_alias(x, x), [[0.0, 1.0]])
    with pytest.raises(RuntimeError):
        with feedback.forbidden(ops.relu_backward, MLP.backward):
            raise RuntimeError("student code crashed")
    np.testing.assert_array_equal(ops.relu_backward(x, x), [[0.0, 1.0]])
    tiny_backward()


def test_resolve_names_functions_methods_and_rejects_unknown_names():
    assert feedback.resolve("mlpkit.mlp.MLP._backward") is MLP._backward
    assert feedback.resolve("mlpkit.training.train") is mlpkit.train
    with pytest.raises(AttributeError):
        feedback.resolve("mlpkit.ops.no_such_function")


# -- stderr, warnings and arguments --------------------------------------------------------------------------------
NOISE = {
    "warnings.warn": (lambda: warnings.warn("only a warning", stacklevel=1), "UserWarning: only a warning"),
    "numpy RuntimeWarning": (lambda: np.float64(1) / 0, "RuntimeWarning: divide by zero"),
    "print to stderr": (lambda: print("a note on stderr", file=sys.stderr), "a note on stderr"),
}


@pytest.mark.parametrize("noise, shown", NOISE.values(), ids=NOISE)
def test_what_a_right_answer_writes_to_stderr_is_shown_on_stdout(noise, shown, capfd):
    def relu_backward(dL_dz, x):
        noise()
        return dL_dz * np.heaviside(x, 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                         # a warning never costs points, even so
        feedback.check_relu_backward(relu_backward)
    out, err = capfd.readouterr()
    assert err == ""
    assert out.startswith("(your relu_backward wrote this to stderr; warnings do not cost points)\n")
    assert shown in out
    assert out.endswith("\N{CHECK MARK} relu_backward is right, including 0.5 where x == 0\n")


def test_stderr_is_shown_when_the_function_fails_too(capfd):
    def relu_backward(dL_dz, x):
        print("about to fail", file=sys.stderr)
        return dL_dz * (x > 0)
    fails_with(feedback.check_relu_backward, relu_backward, r"is 0 where x == 0")
    out, err = capfd.readouterr()
    assert err == "" and "about to fail" in out


def relu_zeroing_x(dL_dz, x):
    dL_dx = dL_dz * np.heaviside(x, 0.5)
    x[...] = 0
    return dL_dx


def relu_masking_dL_dz(dL_dz, x):
    dL_dz *= np.heaviside(x, 0.5)
    return dL_dz


def softmax_in_place(y, y_hat):
    y_hat -= y
    return y_hat / y.shape[1]


def backward_updating_params(L, y, y_hat, buffer, params):
    grads = backward_numpy(L, y, y_hat, buffer, params)
    params["W1"] -= 0.1 * grads["W1"]
    return grads


def backward_relu_on_buffer(L, y, y_hat, buffer, params):
    grads = backward_numpy(L, y, y_hat, buffer, params)
    np.maximum(buffer[1], 0, out=buffer[1])
    return grads


def train_standardising_X(model, X, y, epochs, batch_size, lr, seed):
    X -= X.mean(axis=1, keepdims=True)
    return train_correct(model, X, y, epochs, batch_size, lr, seed)


ARGUMENT_CHANGES = [
    ("relu_backward", relu_zeroing_x, r"relu_backward changed its argument number 2 \(an array of shape \(2, 3\)\)"),
    ("relu_backward", relu_masking_dL_dz, r"relu_backward changed its argument number 1 "),
    ("softmax_cross_entropy_backward", softmax_in_place,
     r"softmax_cross_entropy_backward changed its argument number 2 \(an array of shape \(3, 4\)\): a function "
     r"must not modify the arrays it receives; .* not y_hat -= y"),
    ("backward", backward_updating_params, r"backward changed its argument number 5 \(a dict\)"),
    ("backward", backward_relu_on_buffer, r"backward changed its argument number 4 \(a tuple\)"),
    ("train_sgd", train_standardising_X, r"train_sgd changed its argument number 2 \(an array of shape \(2, 240\)\)"),
]


@pytest.mark.parametrize("name, student, message", ARGUMENT_CHANGES, ids=[s.__name__ for _, s, _ in ARGUMENT_CHANGES])
def test_a_function_must_not_change_its_arguments(name, student, message):
    fails_with(CHECKS[name], student, message)


def test_an_in_place_operation_that_changes_nothing_is_no_change(capsys):
    def relu_backward(dL_dz, x):
        x *= 1.0
        return dL_dz * np.heaviside(x, 0.5)
    passes(feedback.check_relu_backward, relu_backward, capsys)


# -- the training loop ---------------------------------------------------------------------------------------------
def test_train_sgd_runs_with_a_correct_backward_and_the_global_is_restored(capsys):
    passes(feedback.check_train_sgd, train_correct, capsys)    # its global backward is the wrong one above
    assert globals()["backward"] is WRONG_BACKWARD
    fails_with(feedback.check_train_sgd, train_with(update=False), r"model.params did not change")
    assert globals()["backward"] is WRONG_BACKWARD
    passes(feedback.check_train_sgd, RIGHT["train_sgd"], capsys)     # exercise_variants' global backward is wrong too
    assert exercise_variants.backward is exercise_variants.WRONG_BACKWARD


def test_a_backward_put_in_a_module_without_one_is_removed_again(capsys):
    namespace = {"__builtins__": __builtins__, "np": np, "ORDERS": ORDERS, "EPOCH_LOSSES": EPOCH_LOSSES}
    detached = types.FunctionType(sgd.__code__, namespace, "sgd", sgd.__defaults__)    # sgd in a module of its own
    with pytest.raises(NameError, match="'backward' is not defined"):
        detached(MLP([2, 3, 2]), np.ones((2, 4)), np.eye(2)[:, [0, 1, 0, 1]], 1, 2, 0.1, 0)
    passes(feedback.check_train_sgd, detached, capsys)
    assert "backward" not in namespace


def shuffled_once(model, X, y, epochs, batch_size, lr, seed):
    order = np.random.default_rng(seed).permutation(X.shape[1])      # before the epoch loop, kept for every epoch
    return sgd(model, X, y, epochs, batch_size, lr, seed, order=order)


def whole_batch(model, X, y, epochs, batch_size, lr, seed):
    return train_correct(model, X, y, epochs, X.shape[1], lr, seed)


TRAINING_MISTAKES = {
    "returns an array": (lambda *a: np.array(train_correct(*a)),
                         r"train_sgd should return a list with one loss per epoch .*got ndarray"),
    "too few losses": (lambda *a: train_correct(*a)[:2], r"train_sgd returned 2 losses for 3 epochs: append one per"),
    "words for losses": (lambda *a: ["loss"] * len(train_correct(*a)), r"epoch losses as numbers"),
    "negative losses": (lambda *a: [-v for v in train_correct(*a)], r"finite, non-negative numbers"),
    "no update": (train_with(update=False), r"model.params did not change: update them in place"),
    "never shuffled": (train_with(order="never shuffled"),
                       r"the samples are never shuffled: start every epoch with order = rng.permutation\(N\)"),
    "new generator every epoch": (train_with(order="new generator every epoch"), r"every epoch uses the same order"),
    "seed + epoch": (train_with(order="seed + epoch"), r"the mini-batches are not the ones the task describes"),
    "unweighted mean": (train_with(epoch_loss="unweighted mean"), r"weight each batch's loss by its size"),
    "last batch": (train_with(epoch_loss="last batch"), r"you returned the last batch's loss"),
    "sum": (train_with(epoch_loss="sum"), r"you returned a sum: the epoch's loss is the mean over its samples"),
    "shuffled once before the loop": (shuffled_once, r"every epoch uses the same order: make one generator"),
    "one batch per epoch": (whole_batch, r"train_sgd made 3 forward passes over 3 epochs; with N = 240 samples and "
                                         r"batch_size = 32 an epoch has 8 mini-batches"),
}


@pytest.mark.parametrize("student, message", TRAINING_MISTAKES.values(), ids=TRAINING_MISTAKES)
def test_training_mistakes_are_named(student, message):
    fails_with(feedback.check_train_sgd, student, message)


# -- the graph by hand, and diagnose directly ----------------------------------------------------------------------
def test_graph_by_hand():
    def build(x, y, z):
        return (x * y + z) * x
    at = {"x": 2.0, "y": -1.0, "z": 3.0}                  # L = x**2 y + z x: dL/dx = 2xy + z, dL/dy = x**2, dL/dz = x
    feedback.check_graph_by_hand(build, at, {"x": -1.0, "y": 4.0, "z": 2.0})
    feedback.check_graph_by_hand(build, at, {"x": np.float32(-1.0), "y": 4, "z": np.int64(2)})
    with pytest.raises(FeedbackError, match=r"^dL_dx is not right\. .*add up the paths"):
        feedback.check_graph_by_hand(build, at, {"x": -4.0, "y": 4.0, "z": 2.0})     # only the path through x*y
    with pytest.raises(FeedbackError, match=r"^dL_dx, dL_dz are not right"):
        feedback.check_graph_by_hand(build, at, {"x": -4.0, "y": 4.0, "z": 3.0})
    with pytest.raises(FeedbackError, match=r"dL_dy should be a number, got None"):
        feedback.check_graph_by_hand(build, at, {"x": -1.0, "y": None, "z": 2.0})
    with pytest.raises(FeedbackError, match=r"dL_dz should be a number, got True"):
        feedback.check_graph_by_hand(build, at, {"x": -1.0, "y": 4.0, "z": True})


def test_diagnose_directly():
    expected = np.arange(6.0).reshape(2, 3)
    square = np.arange(4.0).reshape(2, 2)
    assert feedback.diagnose("g", expected.copy(), expected) is None
    assert feedback.diagnose("g", expected + 1e-7, expected) is None
    cases = [
        (None, expected, {}, "g is None: did your function forget to `return` it?"),
        ("text", expected, {}, "g should be a numpy array of numbers, got str"),
        (expected.T, expected, {}, "g has shape (3, 2), expected (2, 3): did you forget a transpose?"),
        (square.T, square, {}, "g is transposed"),
        (-expected, expected, {}, "g has the opposite sign"),
        (expected * 3, expected, {"B": 3}, "g is B = 3 times too large"),
        (expected / 3, expected, {"B": 3}, "g is B = 3 times too small"),
        (expected * 3, expected, {}, "g has the right shape but wrong values"),
        (expected + 1, expected, {"mistakes": ((expected + 1, "added one"),)}, "g: added one"),
    ]
    for got, right, kwargs, message in cases:
        assert feedback.diagnose("g", got, right, **kwargs).startswith(message)
    column = np.ones((4, 1))
    assert "sum its gradient over the batch" in feedback.diagnose("b", np.ones((4, 6)), column, B=6)
    assert "a gradient always has the shape of its variable" in feedback.diagnose("b", np.ones((4, 6)), column)


def test_close_uses_a_relative_and_an_absolute_tolerance():
    a = np.array([1.0, 2.0])
    assert feedback.close(a, a * (1 + feedback.TOLERANCE / 10)) and not feedback.close(a, a * 1.01)
    assert not feedback.close(a, a.reshape(2, 1))
    assert feedback.close(np.zeros(2), np.full(2, 1e-12))


# -- the autodiff engine and the softmax Jacobian: each typical mistake is named ---------------------------------
def _backward_with(**switches):
    """A graph_backward with one of the typical mistakes switched on (the switches of graph_checks._simulate)."""
    return lambda L: graph_checks._simulate(L, order_right(L), **switches)


ENGINE_MISTAKES = [
    (feedback.check_topological_order, lambda L: order_right(L)[::-1], r"starts with L.*did you reverse it"),
    (feedback.check_topological_order, lambda L: order_right(L)[:-1], r"misses 1 of the 3 nodes.*\(graph b = a \+ a"),
    (feedback.check_topological_order, lambda L: [*order_right(L), L], r"contains a '\+' node more than once"),
    (feedback.check_topological_order, lambda L: [Value(n.data) for n in order_right(L)],
     r"not a node of L's graph: return the Value objects themselves"),
    (feedback.check_topological_order, lambda L: (n for n in order_right(L)), r"should return a list of nodes, got "
                                                                              r"generator"),
    (feedback.check_graph_backward, _backward_with(accumulate=False), r"keeps only the last path's gradient"),
    (feedback.check_graph_backward, _backward_with(reset=False), r"left from an earlier pass"),
    (feedback.check_graph_backward, _backward_with(seed=False), r"set L\.grad = 1"),
    (feedback.check_graph_backward, _backward_with(backwards=False), r"walks the order from the inputs to L"),
    (feedback.check_graph_backward, lambda L: graph_backward_right(L) or setattr(L.children[0], "grad", "1"),
     r"is not a number \(str\)"),
    (feedback.check_softmax_jacobian, lambda z: np.diag(ops.softmax(z)), r"shape \(1,\).*np\.diag of a \(K, 1\)"),
    (feedback.check_softmax_jacobian, lambda z: -np.outer(ops.softmax(z), ops.softmax(z)), r"misses the diagonal"),
    (feedback.check_softmax_jacobian, lambda z: -softmax_jacobian_right(z), r"opposite sign"),
    (feedback.check_softmax_jacobian, lambda z: np.diagflat(z) - z @ z.T, r"uses z where the formula needs y_hat"),
    (feedback.check_softmax_backward, lambda u, z: ops.softmax(z) * u, r"misses the sum term"),
    (feedback.check_softmax_backward, lambda u, z: ops.softmax(z) * (1 - ops.softmax(z)) * u, r"only the diagonal"),
    (feedback.check_softmax_backward, lambda u, z: ops.softmax(z) * (u - u.sum(axis=0, keepdims=True)),
     r"weight each entry of the column by y_hat_j"),
]


@pytest.mark.parametrize("check, student, pattern", ENGINE_MISTAKES, ids=[m[2][:40] for m in ENGINE_MISTAKES])
def test_each_mistake_in_the_engine_and_the_jacobian_is_named(check, student, pattern):
    fails_with(check, student, pattern)
