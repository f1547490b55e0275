"""The hidden tests: what the grader checks for each graded cell, decided in the grading process.

Each test makes its trials (inputs drawn at random, from a seed fixed per student and cell) and judges what the
student's function returned in the referee's sandboxed process (tools/referee/child.py) against central finite
differences of mlpkit's forward functions or, for ``train_sgd``, against mlpkit's own training loop. Only the
inputs cross into the sandbox; the expected values never do. Verdicts are sentences a student may read: they
name the kind of input and the kind of mistake, never the inputs' values or the expected numbers.

``TESTS`` maps each test cell's grade_id to its test; ``REQUIREMENTS`` lists every requirement the exercise text
states and the check that enforces it (docs/instructors.md shows it as a table, and tests/test_referee.py
proves that an answer breaking any one of them loses that cell's points).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from coursekit import feedback
from coursekit.feedback import close
from mlpkit import MLP, losses, ops, train
from mlpkit.datasets import one_hot, spiral
from mlpkit.gradcheck import numerical_gradient
from mlpkit.graph import Value

from . import hidden_graph
from .base import RANDOM_TRIALS, CallTest, ReadTest, Requirement, Trial, _shapes, _sum_against, _values
from .plain import ModelSpec, Opaque


# -- the graph by hand -------------------------------------------------------------------------------------------
def graph(x: Value, y: Value, z: Value) -> Value:
    """The graph of part 1 (tests/test_referee.py proves the notebook builds the same one)."""
    return (x * y) * (x + z).sigmoid()


GRAPH_VALUES = {"x": 1.0, "y": 4.0, "z": -1.0}


def _judge_graph(values: dict) -> str | None:
    inputs = {name: Value(v, name=name) for name, v in GRAPH_VALUES.items()}
    graph(**inputs).backward()
    wrong = []
    for name, node in inputs.items():
        got = values.get(f"dL_d{name}")
        if isinstance(got, dict) and got.get("kind") == "missing":
            return f"dL_d{name} is not defined when the test cell runs"
        if isinstance(got, bool) or not isinstance(got, (int, float, np.floating)):
            kind = got.type if isinstance(got, Opaque) else type(got).__name__
            return f"dL_d{name} should be a number, got {kind}"
        if not abs(float(got) - node.grad) <= 1e-6 * max(1.0, abs(node.grad)):
            wrong.append(f"dL_d{name}")
    if wrong:
        return f"{', '.join(wrong)} {'is' if len(wrong) == 1 else 'are'} not right"
    return None


# -- layer functions ---------------------------------------------------------------------------------------------
def _matmul_trials(rng: np.random.Generator) -> list[Trial]:
    shapes = [(3, 4, 5)] + [tuple(_shapes(rng, 3)) for _ in range(RANDOM_TRIALS)]
    trials = []
    for number, (N, K, P) in enumerate(shapes):
        w, x, up = rng.normal(size=(N, K)), rng.normal(size=(K, P)), rng.normal(size=(N, P))
        dL_dw = numerical_gradient(_sum_against(up, lambda v, x=x: v @ x), w.copy())
        dL_dx = numerical_gradient(_sum_against(up, lambda v, w=w: w @ v), x.copy())
        dtype, note = (np.float32, " in float32") if number == 1 else (np.float64, "")
        trials.append(Trial((up.astype(dtype), w.astype(dtype), x.astype(dtype)),
                            f"w of shape {(N, K)} and x of shape {(K, P)}{note}", (dL_dw, dL_dx)))
    return trials


def _judge_matmul(trial: Trial, returned: Any, after: list) -> str | None:
    if not isinstance(returned, (tuple, list)) or len(returned) != 2:
        what = f"{len(returned)} values" if isinstance(returned, (tuple, list)) else (
            returned.type if isinstance(returned, Opaque) else type(returned).__name__)
        return f"matmul_backward should return the pair (dL_dw, dL_dx), got {what} (hidden test: {trial.about})"
    return (_values("dL_dw", returned[0], trial.expected[0], trial.about)
            or _values("dL_dx", returned[1], trial.expected[1], trial.about))


def _elementwise_trials(forward: Callable, zeros: bool) -> Callable[[np.random.Generator], list[Trial]]:
    def make(rng: np.random.Generator) -> list[Trial]:
        trials = []
        for _ in range(RANDOM_TRIALS + 1):
            N, B = _shapes(rng, 2)
            x, up = rng.normal(0, 2, size=(N, B)), rng.normal(size=(N, B))
            x[np.abs(x) < 1e-3] = 0.01                          # finite differences must not straddle a kink
            if zeros:
                x[rng.random((N, B)) < 0.3] = 0.0               # exact zeros: ReLU's kink, where it gives 0.5
            expected = numerical_gradient(_sum_against(up, forward), x.copy())
            trials.append(Trial((up, x), f"an input of shape {(N, B)}" + (" with exact zeros" if zeros else ""),
                                expected))
        return trials
    return make


def _judge_elementwise(trial: Trial, returned: Any, after: list) -> str | None:
    return _values("dL_dx", returned, trial.expected, trial.about)


# -- loss gradients ----------------------------------------------------------------------------------------------
def _bce_trials(rng: np.random.Generator) -> list[Trial]:
    trials = [Trial((np.array([[1.0, 0.0, 1.0, 0.0]]), np.array([[0.8, 0.3, 0.4, 0.9]])), "a batch of 4")]
    for _ in range(RANDOM_TRIALS):
        B = int(rng.integers(1, 9))
        trials.append(Trial((rng.integers(0, 2, size=(1, B)).astype(float), rng.uniform(0.05, 0.95, size=(1, B))),
                            f"a batch of {B}"))
    for trial in trials:
        y, y_hat = trial.args
        trial.expected = numerical_gradient(lambda p, y=y: losses.binary_cross_entropy(y, p), y_hat.copy())
    return trials


def _judge_bce(trial: Trial, returned: Any, after: list) -> str | None:
    y = trial.args[0]
    return _values("dL_dy_hat", returned, trial.expected, trial.about, B=y.shape[1],
                   mistakes=feedback.batch_size_mistakes(trial.expected, y))


def _softmax_trials(rng: np.random.Generator) -> list[Trial]:
    sizes = [(3, 4)] + [(int(rng.integers(2, 7)), int(rng.integers(1, 9))) for _ in range(RANDOM_TRIALS)]
    trials = []
    for K, B in sizes:
        z, y = rng.normal(0, 2, size=(K, B)), one_hot(rng.integers(0, K, size=B), K)
        expected = numerical_gradient(lambda v, y=y: losses.cross_entropy(y, ops.softmax(v)), z.copy())
        trials.append(Trial((y, ops.softmax(z)), f"K = {K} classes and a batch of {B}", expected))
    return trials


def _judge_softmax(trial: Trial, returned: Any, after: list) -> str | None:
    y = trial.args[0]
    return _values("dL_dz", returned, trial.expected, trial.about, B=y.shape[1],
                   mistakes=feedback.batch_size_mistakes(trial.expected, y))


# -- the MLP's backward ------------------------------------------------------------------------------------------
def _backward_trials(rng: np.random.Generator) -> list[Trial]:
    trials = []
    for number in range(6):
        if number == 0:                                          # the visible check's network and batch
            sizes, B, seed = [3, 5, 4, 3], 6, 3
        else:
            sizes, B, seed = [*_shapes(rng, 3), int(rng.integers(2, 6))], int(rng.integers(1, 8)), int(
                rng.integers(1000))
        model = MLP(sizes, seed=seed)
        for value in model.params.values():
            value += rng.normal(0, 0.1, size=value.shape)           # biases not 0, so their gradients matter
        X, y = rng.normal(size=(sizes[0], B)), one_hot(rng.integers(0, sizes[-1], size=B), sizes[-1])
        y_hat, buffer = model.forward(X)
        L = model.loss(y, y_hat)

        def loss(_: np.ndarray, model: MLP = model, X: np.ndarray = X, y: np.ndarray = y) -> float:
            return model.loss(y, model.forward(X)[0])

        expected = {key: numerical_gradient(loss, param) for key, param in model.params.items()}
        params = {key: value.copy() for key, value in model.params.items()}
        trials.append(Trial((L, y, y_hat, tuple(buffer), params), f"a network {sizes} and a batch of {B}", expected))
    return trials


def _network(params: dict[str, np.ndarray]) -> MLP:
    """An mlpkit MLP (ReLU, softmax output) with these parameters."""
    sizes = [params["W1"].shape[1]] + [params[f"W{l}"].shape[0] for l in range(1, len(params) // 2 + 1)]
    model = MLP(sizes, seed=0)
    model.params = {key: value.copy() for key, value in params.items()}
    return model


def _judge_backward(trial: Trial, returned: Any, after: list) -> str | None:
    expected, B = trial.expected, trial.args[1].shape[1]
    L, y, y_hat, buffer, params = trial.args
    model = _network(params)
    known_mistakes = feedback.relu_forgotten(lambda changed: model.backward(L, y, y_hat, changed), buffer)
    at_output = list(buffer)
    for l in range(1, len(buffer) // 2):                  # ReLU's derivative taken at a[l] instead of z[l]
        at_output[2 * l - 1] = buffer[2 * l]
    known_mistakes.append(("took ReLU's derivative at the layer's output a instead of its input z",
                           model.backward(L, y, y_hat, tuple(at_output))))
    if not isinstance(returned, dict):
        what = returned.type if isinstance(returned, Opaque) else type(returned).__name__
        return f"backward should return a dict of gradients like params, got {what} (hidden test: {trial.about})"
    if set(returned) != set(expected):
        return (f"grads should have exactly the keys of params ({', '.join(expected)}), got "
                f"{', '.join(map(str, returned)) or 'none'} (hidden test: {trial.about})")
    for key in sorted(expected, key=lambda k: (-int(k[1:]), k[0] != "W")):     # from the output back
        message = _values(f"grads['{key}']", returned[key], expected[key], trial.about, B=B,
                          mistakes=tuple((variant[key], explanation) for explanation, variant in known_mistakes))
        if message:
            return message
    return None


# -- the training loop -------------------------------------------------------------------------------------------
#: (samples per class, classes, hidden sizes, epochs, batch_size, lr, seed): N not a multiple of batch_size in the
#: first two (the last batch is shorter, so the weighted mean matters), one batch per epoch in the third.
TRAINING_RUNS = [(10, 5, [8, 8], 3, 16, 0.3, 7), (15, 3, [6, 4], 4, 10, 0.5, 11), (10, 2, [5, 5], 3, 32, 0.2, 3)]


def _train_trials(rng: np.random.Generator) -> list[Trial]:
    trials = []
    for per_class, K, hidden, epochs, batch_size, lr, seed in TRAINING_RUNS:
        seed = seed + int(rng.integers(100))
        X, labels = spiral(per_class, K=K, seed=seed)
        y = one_hot(labels, K)
        start = MLP([2, *hidden, K], seed=seed)
        initial = {key: value.copy() for key, value in start.params.items()}
        history = mlpkit_train(start, X, y, epochs, batch_size, lr, seed)
        about = f"{X.shape[1]} samples, batch_size {batch_size}, {epochs} epochs"
        trials.append(Trial((ModelSpec([2, *hidden, K], initial), X, y, epochs, batch_size, lr, seed), about,
                            (history, dict(start.params), initial)))
    return trials


def mlpkit_train(model: MLP, X: np.ndarray, y: np.ndarray, epochs: int, batch_size: int, lr: float,
                 seed: int) -> list[float]:
    """Mini-batch SGD exactly as the task describes it: mlpkit's own loop."""
    return train(model, X, y, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, progress=False)["loss"]


def _sgd(initial: dict, X: np.ndarray, y: np.ndarray, epochs: int, batch_size: int, step: float,
         seed: int) -> dict[str, np.ndarray]:
    """The parameters after mini-batch SGD as the task describes it with W -= step * dL/dW; a negative step
    gives what a training loop that adds the gradient computes."""
    model, rng, N = _network(initial), np.random.default_rng(seed), X.shape[1]
    with np.errstate(all="ignore"):
        for _ in range(epochs):
            order = rng.permutation(N)
            for first in range(0, N, batch_size):
                cols = order[first:first + batch_size]
                y_hat, buffer = model.forward(X[:, cols])
                grads = model.backward(model.loss(y[:, cols], y_hat), y[:, cols], y_hat, buffer)
                for key in model.params:
                    model.params[key] = model.params[key] - step * grads[key]
    return model.params


def _judge_train(trial: Trial, returned: Any, after: list) -> str | None:
    history, trained, initial = trial.expected
    epochs, about = trial.args[3], trial.about
    if not isinstance(returned, list):
        what = returned.type if isinstance(returned, Opaque) else type(returned).__name__
        return f"train_sgd should return a list with one loss per epoch, got {what} (hidden test: {about})"
    if len(returned) != epochs:
        return f"train_sgd returned {len(returned)} losses for {epochs} epochs (hidden test: {about})"
    if not all(isinstance(v, (int, float, np.floating)) and not isinstance(v, bool) for v in returned):
        return f"train_sgd should return the epoch losses as numbers (hidden test: {about})"
    model = after[0]
    if not isinstance(model, ModelSpec) or set(model.params) != set(trained) or any(
            not isinstance(model.params[k], np.ndarray) or model.params[k].shape != trained[k].shape
            for k in trained):
        return f"after train_sgd, model.params should still hold one array per parameter (hidden test: {about})"
    if all(np.array_equal(model.params[k], initial[k]) for k in initial):
        return f"model.params did not change: update them in place (hidden test: {about})"
    got = {k: np.asarray(model.params[k], dtype=np.float64) for k in trained}
    if not all(close(got[k], trained[k]) for k in trained):
        spec, X, y, _, batch_size, lr, seed = trial.args
        try:
            uphill = _sgd(initial, X, y, epochs, batch_size, -lr, seed)
        except (ValueError, ArithmeticError):           # diverged: mlpkit refuses non-finite numbers
            uphill = {}
        if uphill and all(close(got[k], uphill[k]) for k in trained):
            return ("the updates went uphill, W = W + lr * dL/dW: step against the gradient, W -= lr * dL/dW "
                    f"(hidden test: {about})")
        return ("after training, model.params differ from mini-batch SGD as the task describes it (one generator "
                "rng = np.random.default_rng(seed) made once, order = rng.permutation(N) at the start of every "
                f"epoch, consecutive mini-batches of batch_size, W -= lr * dL/dW) (hidden test: {about})")
    if not close(np.asarray(returned, dtype=np.float64), np.asarray(history)):
        return ("the returned losses are not each epoch's mean training loss (the batch losses weighted by the "
                f"batch sizes) (hidden test: {about})")
    return None


CORRECT_BACKWARD = inspect.getsource(feedback._correct_backward) + "\nbackward = _correct_backward\n"

TESTS: dict[str, CallTest | ReadTest] = {
    "test_graph_by_hand": ReadTest("graph_by_hand", ("dL_dx", "dL_dy", "dL_dz"), _judge_graph),
    "test_matmul_backward": CallTest("matmul_backward", _matmul_trials, _judge_matmul),
    "test_sigmoid_backward": CallTest("sigmoid_backward", _elementwise_trials(ops.sigmoid, zeros=False),
                                      _judge_elementwise),
    "test_relu_backward": CallTest("relu_backward", _elementwise_trials(ops.relu, zeros=True), _judge_elementwise),
    "test_binary_cross_entropy_backward": CallTest("binary_cross_entropy_backward", _bce_trials, _judge_bce),
    "test_softmax_cross_entropy_backward": CallTest("softmax_cross_entropy_backward", _softmax_trials,
                                                    _judge_softmax),
    "test_backward": CallTest("backward", _backward_trials, _judge_backward),
    "test_train_sgd": CallTest("train_sgd", _train_trials, _judge_train, may_change=frozenset({0}),
                               define=(CORRECT_BACKWARD,)),
}


REQUIREMENTS = [
    Requirement("graph-numbers", "graph_by_hand", "dL_dx, dL_dy and dL_dz are numbers", "_judge_graph"),
    Requirement("graph-values", "graph_by_hand", "each is the gradient of L at x = 1, y = 4, z = -1",
                "_judge_graph, against mlpkit's graph engine"),
    Requirement("matmul-pair", "matmul_backward", "returns the pair (dL_dw, dL_dx), in this order", "_judge_matmul"),
    Requirement("matmul-shapes", "matmul_backward", "dL_dw has the shape of w and dL_dx the shape of x",
                "diagnose: shape"),
    Requirement("matmul-values", "matmul_backward", "right for any shapes, float32 inputs too",
                "diagnose against finite differences, 21 shapes, one in float32"),
    Requirement("sigmoid-values", "sigmoid_backward", "uses the sigmoid's input x; right for any shape",
                "diagnose against finite differences, 21 shapes"),
    Requirement("relu-half", "relu_backward", "passes half of dL_dz where x == 0 exactly, for any shape",
                "diagnose against finite differences, 21 shapes with exact zeros"),
    Requirement("bce-values", "binary_cross_entropy_backward", "dL/dy_hat of the batch-mean BCE, shape (1, B), "
                "any B", "diagnose against finite differences, B = 1 to 8"),
    Requirement("softmax-values", "softmax_cross_entropy_backward", "dL/dz (not dL/dy_hat) of the batch mean, "
                "shape (K, B)", "diagnose against finite differences through softmax"),
    Requirement("backward-keys", "backward", "returns a dict with exactly the keys of params", "_judge_backward"),
    Requirement("backward-values", "backward", "each gradient shaped like its parameter; right for any layer sizes "
                "and batch size", "diagnose against finite differences of model.loss, 6 networks"),
    Requirement("train-list", "train_sgd", "returns a list with one number per epoch", "_judge_train"),
    Requirement("train-updates", "train_sgd", "updates model.params", "_judge_train: params changed"),
    Requirement("train-sgd", "train_sgd", "one generator default_rng(seed) made once, a new rng.permutation(N) "
                "every epoch, consecutive batches of batch_size, W -= lr * dL/dW",
                "_judge_train: trained params equal mlpkit.train's, 3 runs"),
    Requirement("train-mean", "train_sgd", "each epoch's loss is the mean over its samples (batch losses weighted "
                "by batch size)", "_judge_train: history equals mlpkit.train's"),
    Requirement("arguments", "every function", "does not change the arrays it receives (train_sgd: except "
                "model.params)", "judge_call: the arguments after each call"),
    Requirement("practised", "every function", "does not call the practised mlpkit functions "
                "(coursekit.feedback.PRACTISED)", "removed from the referee's process"),
    Requirement("defined", "every function", "is defined when its test cell runs and finishes within the time "
                "limit", "judge_call, the referee's timers"),
]


TESTS.update(hidden_graph.TESTS)
_general = next(i for i, r in enumerate(REQUIREMENTS) if r.function == "every function")
REQUIREMENTS[_general:_general] = hidden_graph.REQUIREMENTS


def judge_call(test: CallTest, trials: list[Trial], result: dict) -> str | None:
    """The verdict on a call probe: None if every trial passed, otherwise the first failure in plain words."""
    name = test.function
    if not result.get("defined"):
        return f"{name} is not defined when its test cell runs (is its answer cell run without errors?)"
    if not result.get("callable"):
        return f"{name} is not a function"
    records = result.get("trials") or []
    for trial, record in zip(trials, records):
        if record.get("timed_out"):
            return f"{name} did not finish within the time limit (hidden test: {trial.about})"
        error = record.get("error")
        if error:
            return _error_verdict(name, error, trial.about)
        after = record.get("after_loaded", [])
        for position, (before, now) in enumerate(zip(trial.args, after)):
            if position not in test.may_change and not _unchanged(before, now):
                return (f"{name} changed its argument number {position + 1}: a function must not modify the arrays "
                        f"it receives (hidden test: {trial.about})")
        returned = record.get("returned_loaded")
        message = test.judge(trial, returned, after)
        if message:
            return message
    if len(records) < len(trials):
        return f"{name} did not finish all hidden tests within the time limit"
    return None


def _error_verdict(name: str, error: str, about: str) -> str:
    kind, _, message = error.partition(": ")
    if kind == "NotImplementedError":
        return f"{name} is not written yet"
    if kind == "PermissionError" and message.startswith("calling mlpkit's "):
        practised = message.removeprefix("calling ").partition(" is not allowed")[0]
        return f"{name} calls {practised}, which this exercise does not allow (hidden test: {about})"
    if kind in ("PermissionError", "ImportError") and message.startswith("course grading sandbox: "):
        return f"{name} was stopped by the grading sandbox: {message.removeprefix('course grading sandbox: ')}"
    return f"{name} raised {kind}{': ' + message[:160] if message else ''} (hidden test: {about})"


def _unchanged(before: Any, now: Any) -> bool:
    if isinstance(before, np.ndarray):
        return isinstance(now, np.ndarray) and now.shape == before.shape and np.array_equal(
            np.asarray(now, dtype=np.float64), before.astype(np.float64), equal_nan=True)
    if isinstance(before, (tuple, list)):
        return isinstance(now, (tuple, list)) and len(now) == len(before) and all(map(_unchanged, before, now))
    if isinstance(before, dict):
        return isinstance(now, dict) and now.keys() == before.keys() and all(
            _unchanged(before[k], now[k]) for k in before)
    return True
