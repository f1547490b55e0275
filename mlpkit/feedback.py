"""Feedback for the graded exercises.

``check_*`` functions are the *visible* tests: they run one small, fixed example
through the student's function and, when the answer is wrong, say in plain
words what kind of mistake it looks like (a wrong shape, a transposed result, a
factor of B, a flipped sign, an activation derivative taken at the output, the
value of ReLU's derivative at 0). ``hidden_*`` functions are the *hidden* tests:
random shapes and values, central finite differences as the referee, and the
mlpkit function being practised made uncallable (``forbidden``) while the
student's code runs. Their messages name the kind of input that failed, never
the expected numbers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from . import losses, ops
from .datasets import one_hot, spiral, train_test_split
from .gradcheck import numerical_gradient, rel_error
from .graph import Value
from .mlp import MLP
from .training import train

__all__ = [
    "FeedbackError", "diagnose", "forbidden", "check_graph_by_hand", "check_matmul_backward",
    "check_sigmoid_backward", "check_relu_backward", "check_binary_cross_entropy_backward",
    "check_softmax_cross_entropy_backward", "check_backward", "check_train_sgd", "hidden_matmul_backward",
    "hidden_sigmoid_backward", "hidden_relu_backward", "hidden_binary_cross_entropy_backward",
    "hidden_softmax_cross_entropy_backward", "hidden_backward", "hidden_train_sgd",
]

TOLERANCE = 1e-4          # generous enough for a correct answer computed in float32


class FeedbackError(AssertionError):
    """A wrong answer, explained in plain words."""


# -- comparing one answer -------------------------------------------------------------------------------------
def _close(a: np.ndarray, b: np.ndarray, tol: float = TOLERANCE) -> bool:
    if a.shape != b.shape:
        return False
    return rel_error(a, b) < tol or float(np.abs(a - b).max(initial=0.0)) < 1e-9


def _as_array(name: str, got: Any) -> np.ndarray:
    if got is None:
        raise FeedbackError(f"{name} is None: did your function forget to `return` it?")
    try:
        array = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        raise FeedbackError(f"{name} should be a numpy array of numbers, got {type(got).__name__}") from None
    if not np.isfinite(array).all():
        raise FeedbackError(f"{name} contains nan or inf: look for a division by zero or a log of 0")
    return array


def diagnose(name: str, got: Any, expected: np.ndarray, *, B: int | None = None,
             mistakes: tuple[tuple[np.ndarray, str], ...] = ()) -> str | None:
    """None if ``got`` matches ``expected``; otherwise a sentence saying what looks wrong.

    Recognised: None or non-arrays, a wrong shape (a transposed one, or a bias
    gradient not summed over the batch), a transposed result, a flipped sign, a
    factor of ``B`` (sum instead of mean, or dividing twice) and any of the
    ``mistakes`` given as (value that mistake produces, explanation).
    """
    got = _as_array(name, got)
    expected = np.asarray(expected, dtype=np.float64)
    if got.shape != expected.shape:
        message = f"{name} has shape {got.shape}, expected {expected.shape}"
        if got.shape == expected.shape[::-1]:
            return message + ": did you forget a transpose?"
        if B and expected.ndim == 2 and expected.shape[1] == 1 and got.shape == (expected.shape[0], B):
            return message + ": a bias is added to every sample, so sum its gradient over the batch " \
                             "(axis=1, keepdims=True)"
        return message + ": a gradient always has the shape of its variable"
    if _close(got, expected):
        return None
    if expected.ndim == 2 and expected.shape[0] == expected.shape[1] and _close(got, expected.T):
        return f"{name} is transposed: check the order of the matrix product and where the .T goes"
    for value, explanation in mistakes:
        if _close(got, np.asarray(value, dtype=np.float64)):
            return f"{name}: {explanation}"
    if _close(got, -expected):
        return f"{name} has the opposite sign: check the sign of each factor (a finite difference tells you)"
    if B and B > 1 and _close(got, expected * B):
        return f"{name} is B = {B} times too large: the loss is the mean over the batch, so divide by B"
    if B and B > 1 and _close(got, expected / B):
        return f"{name} is B = {B} times too small: did you divide by B twice?"
    return (f"{name} has the right shape but wrong values (relative error {rel_error(got, expected):.2g}); "
            "compare with a finite difference from mlpkit.gradcheck.numerical_gradient")


def _check(name: str, got: Any, expected: np.ndarray, **kwargs: Any) -> None:
    message = diagnose(name, got, expected, **kwargs)
    if message:
        raise FeedbackError(message)


def _call(fn: Callable, name: str, *args: Any) -> Any:
    """Call the student's function, turning 'not written yet' into a clear message."""
    try:
        return fn(*args)
    except NotImplementedError:
        raise FeedbackError(f"{name} is not written yet: replace `raise NotImplementedError()` "
                            "with your code") from None


def _passed(message: str) -> None:
    print(f"\N{CHECK MARK} {message}")


# -- making the practised function uncallable ----------------------------------------------------------------
def _forbidden_stub(*args: Any, **kwargs: Any) -> None:
    # This code runs with the globals of the function it replaces, so it imports what it needs itself.
    feedback = __import__("mlpkit.feedback", fromlist=["FeedbackError"])
    name = __import__("sys")._getframe().f_code.co_name
    raise feedback.FeedbackError(f"you may not call mlpkit's {name} in this exercise: write the computation "
                                 "yourself with numpy")


@contextlib.contextmanager
def forbidden(*functions: Callable) -> Iterator[None]:
    """While active, calling any of ``functions`` raises FeedbackError.

    The functions' code is swapped, so this also catches a student who imported
    the function under another name (``from mlpkit.ops import relu_backward as rb``).
    """
    originals = [(f, f.__code__) for f in functions]
    try:
        for f, _ in originals:
            f.__code__ = _forbidden_stub.__code__.replace(co_name=f.__name__)
        yield
    finally:
        for f, code in originals:
            f.__code__ = code


# -- the graph by hand ---------------------------------------------------------------------------------------
def check_graph_by_hand(build: Callable[..., Value], values: dict[str, float], answers: dict[str, Any]) -> None:
    """Compare hand-computed gradients with the graph engine.

    ``build(**values)`` builds the graph from Values; ``answers`` maps each input
    name to the student's dL/d(input). Says which one is wrong, not what it should be.
    """
    inputs = {name: Value(v, name=name) for name, v in values.items()}
    L = build(**inputs)
    L.backward()
    wrong = []
    for name, got in answers.items():
        if got is None or isinstance(got, bool) or not isinstance(got, (int, float, np.floating, np.integer)):
            raise FeedbackError(f"dL_d{name} should be a number, got {got!r}")
        if abs(float(got) - inputs[name].grad) > 1e-6 * max(1.0, abs(inputs[name].grad)):
            wrong.append(f"dL_d{name}")
    if wrong:
        raise FeedbackError(f"{', '.join(wrong)} {'is' if len(wrong) == 1 else 'are'} not right. Multiply the local "
                            "gradients along each path from L to the input, and add up the paths when an input "
                            "is used more than once.")
    _passed("all three gradients are right")


# -- layer functions -----------------------------------------------------------------------------------------
def _layer_example(seed: int = 7) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(3, 4)), rng.normal(size=(4, 5)), rng.normal(size=(3, 5))


def check_matmul_backward(matmul_backward: Callable) -> None:
    """Visible test for ``matmul_backward(dL_dz, w, x) -> (dL_dw, dL_dx)`` with w (3, 4), x (4, 5)."""
    w, x, dL_dz = _layer_example()
    out = _call(matmul_backward, "matmul_backward", dL_dz, w, x)
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise FeedbackError(f"matmul_backward should return two arrays (dL_dw, dL_dx), got {type(out).__name__}")
    dL_dw, dL_dx = (np.asarray(o) if o is not None else None for o in out)
    if dL_dw is not None and dL_dx is not None and dL_dw.shape == x.shape and dL_dx.shape == w.shape:
        raise FeedbackError("matmul_backward returned (dL_dx, dL_dw): return them in the order (dL_dw, dL_dx)")
    _check("dL_dw", dL_dw, dL_dz @ x.T, mistakes=((x @ dL_dz.T, "is transposed: dL_dw = dL_dz @ x.T"),))
    _check("dL_dx", dL_dx, w.T @ dL_dz)
    _passed("matmul_backward is right for w of shape (3, 4) and x of shape (4, 5)")


def check_sigmoid_backward(sigmoid_backward: Callable) -> None:
    """Visible test for ``sigmoid_backward(dL_dz, x) -> dL_dx``, x being the sigmoid's input."""
    x = np.array([[-2.0, -0.5, 0.0], [0.5, 1.0, 3.0]])
    dL_dz = np.array([[1.0, -2.0, 0.5], [3.0, -1.0, 2.0]])
    s = ops.sigmoid(x)
    a = ops.sigmoid(s)
    mistakes = (
        (dL_dz * a * (1 - a), "took the derivative at the output: sigma'(x) = sigma(x) * (1 - sigma(x)) uses the "
                              "input x, and you applied it to sigma(x)"),
        (dL_dz * x * (1 - x), "used x * (1 - x): x is the sigmoid's input, so the derivative is "
                              "sigma(x) * (1 - sigma(x))"),
        (s * (1 - s), "forgot to multiply by the upstream gradient dL_dz"),
    )
    _check("dL_dx", _call(sigmoid_backward, "sigmoid_backward", dL_dz, x), dL_dz * s * (1 - s), mistakes=mistakes)
    _passed("sigmoid_backward is right on a 2x3 example")


def check_relu_backward(relu_backward: Callable) -> None:
    """Visible test for ``relu_backward(dL_dz, x) -> dL_dx`` with exact zeros in x."""
    x = np.array([[-2.0, 0.0, 1.5], [0.0, 3.0, -0.5]])
    dL_dz = np.array([[4.0, 2.0, -1.0], [-6.0, 5.0, 3.0]])
    at_zero = x == 0
    expected = dL_dz * ops.relu_derivative(x)
    mistakes = (
        (np.where(at_zero, 0.0, expected), "is 0 where x == 0. The course (like the slides) takes the derivative "
                                           "of ReLU at exactly 0 to be 0.5, so pass half of dL_dz there"),
        (np.where(at_zero, dL_dz, expected), "passes all of dL_dz where x == 0. The course (like the slides) takes "
                                             "the derivative of ReLU at exactly 0 to be 0.5: pass half of it"),
        (dL_dz * ops.relu_derivative(ops.relu(x)), "took the derivative at the output relu(x) instead of the "
                                                   "input x (look at the entries where x < 0)"),
        (ops.relu_derivative(x), "forgot to multiply by the upstream gradient dL_dz"),
    )
    _check("dL_dx", _call(relu_backward, "relu_backward", dL_dz, x), expected, mistakes=mistakes)
    _passed("relu_backward is right, including 0.5 where x == 0")


# -- loss gradients ------------------------------------------------------------------------------------------
def check_binary_cross_entropy_backward(binary_cross_entropy_backward: Callable) -> None:
    """Visible test for ``binary_cross_entropy_backward(y, y_hat) -> dL/dy_hat`` with B = 4."""
    y, y_hat = np.array([[1.0, 0.0, 1.0, 0.0]]), np.array([[0.8, 0.3, 0.4, 0.9]])
    B = y.shape[1]
    expected = losses.binary_cross_entropy_backward(y, y_hat)
    mistakes = ((-expected, "has the opposite sign. The slides print this formula without its minus sign; "
                            "a finite difference shows dL/dy_hat = -(1/B) * (y / y_hat - (1 - y) / (1 - y_hat))"),)
    got = _call(binary_cross_entropy_backward, "binary_cross_entropy_backward", y, y_hat)
    _check("dL_dy_hat", got, expected, B=B, mistakes=mistakes)
    _passed("binary_cross_entropy_backward is right for a batch of 4")


def check_softmax_cross_entropy_backward(softmax_cross_entropy_backward: Callable) -> None:
    """Visible test for ``softmax_cross_entropy_backward(y, y_hat) -> dL/dz`` with K = 3, B = 4."""
    y_hat = ops.softmax(np.array([[1.0, -1.0, 0.5, 2.0], [0.0, 2.0, 0.5, -1.0], [-1.0, 0.0, 1.5, 0.0]]))
    y = one_hot(np.array([0, 1, 1, 2]), 3)
    got = _call(softmax_cross_entropy_backward, "softmax_cross_entropy_backward", y, y_hat)
    _check("dL_dz", got, (y_hat - y) / 4, B=4)
    _passed("softmax_cross_entropy_backward is right for K = 3 classes and a batch of 4")


# -- the MLP's backward --------------------------------------------------------------------------------------
def _reference_backward(params: dict, buffer: tuple, y: np.ndarray, y_hat: np.ndarray, *,
                        at_output: bool = False) -> dict[str, np.ndarray]:
    """The slides' loop for a ReLU MLP with softmax + cross-entropy (``at_output``: a typical mistake)."""
    n_layers = len(params) // 2
    grads: dict[str, np.ndarray] = {}
    dL_dz = (y_hat - y) / y.shape[1]
    for l in range(n_layers, 0, -1):
        grads[f"W{l}"] = dL_dz @ buffer[2 * l - 2].T
        grads[f"b{l}"] = dL_dz.sum(axis=1, keepdims=True)
        if l > 1:
            dL_da = params[f"W{l}"].T @ dL_dz
            dL_dz = dL_da * ops.relu_derivative(buffer[2 * l - 2] if at_output else buffer[2 * l - 3])
    return grads


def check_backward(backward: Callable) -> None:
    """Visible test for ``backward(L, y, y_hat, buffer, params) -> grads`` on an MLP([3, 5, 4, 3]), B = 6."""
    model = MLP([3, 5, 4, 3], seed=3)
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(3, 6)), one_hot(np.array([0, 1, 2, 0, 1, 2]), 3)
    y_hat, buffer = model.forward(X)
    L = model.loss(y, y_hat)
    params = {k: v.copy() for k, v in model.params.items()}
    grads = _call(backward, "backward", L, y, y_hat, buffer, params)
    if not isinstance(grads, dict):
        raise FeedbackError(f"backward should return a dict of gradients like params, got {type(grads).__name__}")
    missing = [k for k in model.params if k not in grads]
    if missing:
        raise FeedbackError(f"the gradients for {', '.join(missing)} are missing: return one per parameter")
    expected = model.backward(L, y, y_hat, buffer)
    at_output = _reference_backward(model.params, buffer, y, y_hat, at_output=True)
    for key in ("W3", "b3", "W2", "b2", "W1", "b1"):          # from the output back: the first wrong one matters
        mistakes = ((at_output[key], "took ReLU's derivative at the layer's output a instead of its input z"),)
        _check(f"grads['{key}']", grads[key], expected[key], B=6, mistakes=mistakes)
    _passed("backward gives all six gradients right for a 3-5-4-3 network and a batch of 6")


# -- the training loop ---------------------------------------------------------------------------------------
def _spiral_task(seed: int = 0):
    X, labels = spiral(60, K=5, seed=seed)
    X_tr, X_te, l_tr, l_te = train_test_split(X, labels, 0.2, seed=seed)
    return X_tr, one_hot(l_tr, 5), X_te, l_te


def _check_losses(history: Any) -> None:
    try:
        values = np.asarray(history, dtype=np.float64)
    except (TypeError, ValueError):
        raise FeedbackError("train_sgd should return the epoch losses as numbers (floats)") from None
    if not np.isfinite(values).all() or (values < 0).any():
        raise FeedbackError("the epoch losses should be finite, non-negative numbers (the mean cross-entropy)")


def check_train_sgd(train_sgd: Callable) -> None:
    """Visible test for ``train_sgd(model, X, y, epochs, batch_size, lr, seed) -> list of epoch losses``."""
    X, y, _, _ = _spiral_task()
    model = MLP([2, 16, 16, 5], seed=0)
    before = {k: v.copy() for k, v in model.params.items()}
    history = _call(train_sgd, "train_sgd", model, X, y, 3, 32, 0.1, 0)
    if history is None or not hasattr(history, "__len__"):
        raise FeedbackError("train_sgd should return the list of epoch losses (one number per epoch)")
    if len(history) != 3:
        raise FeedbackError(f"train_sgd returned {len(history)} losses for 3 epochs: append one per epoch")
    _check_losses(history)
    if all(np.array_equal(before[k], model.params[k]) for k in before):
        raise FeedbackError("model.params did not change: update them in place, e.g. "
                            "model.params[key] -= lr * grads[key] (writing W = W - lr * dW only renames W)")
    _passed("train_sgd runs, returns one loss per epoch and updates model.params")


# -- hidden tests: random inputs, finite differences, the practised function forbidden -------------------------
def _random_shapes(rng: np.random.Generator, n: int) -> list[int]:
    return [int(v) for v in rng.integers(1, 7, size=n)]


def _matches(got: Any, expected: np.ndarray) -> bool:
    """Whether a student's result equals the finite-difference referee (False for None or non-numbers)."""
    try:
        return got is not None and _close(np.asarray(got, dtype=np.float64), expected, 1e-3)
    except (TypeError, ValueError):
        return False


def _hidden_fail(what: str) -> FeedbackError:
    return FeedbackError(f"hidden test: {what}")


def _sum_against(upstream: np.ndarray, forward: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], float]:
    return lambda v: float((forward(v) * upstream).sum())


def hidden_matmul_backward(matmul_backward: Callable, trials: int = 20, seed: int = 12345) -> None:
    """Random shapes and values (and one float32 case), checked against finite differences."""
    rng = np.random.default_rng(seed)
    for trial in range(trials):
        N, K, P = _random_shapes(rng, 3)
        w, x, up = rng.normal(size=(N, K)), rng.normal(size=(K, P)), rng.normal(size=(N, P))
        dtype = np.float32 if trial == 0 else np.float64
        with forbidden(ops.matmul_backward):
            out = matmul_backward(up.astype(dtype), w.astype(dtype), x.astype(dtype))
        dL_dw = numerical_gradient(_sum_against(up, lambda v, x=x: v @ x), w)
        dL_dx = numerical_gradient(_sum_against(up, lambda v, w=w: w @ v), x)
        if not (isinstance(out, (tuple, list)) and len(out) == 2 and _matches(out[0], dL_dw) and
                _matches(out[1], dL_dx)):
            raise _hidden_fail(f"matmul_backward is wrong for w of shape {(N, K)} and x of shape {(K, P)}")


def _hidden_elementwise(fn: Callable, name: str, forward: Callable, practised: tuple[Callable, ...], trials: int,
                        seed: int, zeros: bool) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(trials):
        N, B = _random_shapes(rng, 2)
        x, up = rng.normal(0, 2, size=(N, B)), rng.normal(size=(N, B))
        x[np.abs(x) < 1e-3] = 0.01
        if zeros:
            x[rng.random((N, B)) < 0.3] = 0.0                   # exact zeros: the kink of ReLU
        with forbidden(*practised):
            got = fn(up, x)
        expected = numerical_gradient(_sum_against(up, forward), x)    # at x == 0 this gives exactly 0.5 for ReLU
        if not _matches(got, expected):
            where = " (the input has exact zeros)" if zeros else ""
            raise _hidden_fail(f"{name} is wrong for an input of shape {(N, B)}{where}")


def hidden_sigmoid_backward(sigmoid_backward: Callable, trials: int = 20, seed: int = 2024) -> None:
    """Random shapes and values, checked against finite differences of mlpkit's forward sigmoid."""
    _hidden_elementwise(sigmoid_backward, "sigmoid_backward", ops.sigmoid, (ops.sigmoid_backward,), trials, seed,
                        False)


def hidden_relu_backward(relu_backward: Callable, trials: int = 20, seed: int = 4242) -> None:
    """Random shapes and values with exact zeros, checked against finite differences."""
    _hidden_elementwise(relu_backward, "relu_backward", ops.relu, (ops.relu_backward, ops.relu_derivative), trials,
                        seed, True)


def hidden_binary_cross_entropy_backward(binary_cross_entropy_backward: Callable, trials: int = 20,
                                         seed: int = 77) -> None:
    """Random batch sizes, labels and probabilities, checked against finite differences of the mean BCE."""
    rng = np.random.default_rng(seed)
    for _ in range(trials):
        B = int(rng.integers(1, 9))
        y, y_hat = rng.integers(0, 2, size=(1, B)).astype(float), rng.uniform(0.05, 0.95, size=(1, B))
        with forbidden(losses.binary_cross_entropy_backward):
            got = binary_cross_entropy_backward(y, y_hat)
        expected = numerical_gradient(lambda p, y=y: losses.binary_cross_entropy(y, p), y_hat)
        if not _matches(got, expected):
            raise _hidden_fail(f"binary_cross_entropy_backward is wrong for a batch of {B}")


def hidden_softmax_cross_entropy_backward(softmax_cross_entropy_backward: Callable, trials: int = 20,
                                          seed: int = 78) -> None:
    """Random K, B and logits: dL/dz checked against finite differences of cross_entropy(softmax(z))."""
    rng = np.random.default_rng(seed)
    for _ in range(trials):
        K, B = int(rng.integers(2, 7)), int(rng.integers(1, 9))
        z, y = rng.normal(0, 2, size=(K, B)), one_hot(rng.integers(0, K, size=B), K)
        with forbidden(losses.softmax_cross_entropy_backward):
            got = softmax_cross_entropy_backward(y, ops.softmax(z))
        expected = numerical_gradient(lambda v, y=y: losses.cross_entropy(y, ops.softmax(v)), z)
        if not _matches(got, expected):
            raise _hidden_fail(f"softmax_cross_entropy_backward is wrong for K = {K} classes and a batch of {B}")


def hidden_backward(backward: Callable, trials: int = 5, seed: int = 99) -> None:
    """Random 3-layer ReLU networks and batches; every gradient checked against finite differences."""
    rng = np.random.default_rng(seed)
    for _ in range(trials):
        sizes = [*_random_shapes(rng, 3), int(rng.integers(2, 6))]
        B = int(rng.integers(1, 8))
        model = MLP(sizes, seed=int(rng.integers(1000)))
        for value in model.params.values():
            value += rng.normal(0, 0.1, size=value.shape)
        X, y = rng.normal(size=(sizes[0], B)), one_hot(rng.integers(0, sizes[-1], size=B), sizes[-1])
        y_hat, buffer = model.forward(X)
        params = {k: v.copy() for k, v in model.params.items()}
        with forbidden(MLP.backward, MLP._backward):
            grads = backward(model.loss(y, y_hat), y, y_hat, buffer, params)
        def loss(_: np.ndarray, model: MLP = model, X: np.ndarray = X, y: np.ndarray = y) -> float:
            return model.loss(y, model.forward(X)[0])

        for key, param in model.params.items():
            expected = numerical_gradient(loss, param)
            if not _matches(grads.get(key) if isinstance(grads, dict) else None, expected):
                raise _hidden_fail(f"backward gives a wrong {key} for a network {sizes} and a batch of {B}")


def hidden_train_sgd(train_sgd: Callable, min_accuracy: float = 0.9, seed: int = 5) -> None:
    """Train a fresh MLP([2, 64, 64, 5]) on a 5-class spiral; it must reach ``min_accuracy`` on held-out data."""
    X_tr, y_tr, X_te, labels_te = _spiral_task(seed)
    model = MLP([2, 64, 64, 5], seed=0)
    with forbidden(train, MLP.backward, MLP._backward):
        history = train_sgd(model, X_tr, y_tr, 150, 32, 0.5, 0)
    if history is None or not hasattr(history, "__len__") or len(history) != 150:
        raise _hidden_fail("train_sgd should return one loss per epoch")
    _check_losses(history)
    if not history[-1] < history[0]:
        raise _hidden_fail("the returned loss did not go down from the first epoch to the last")
    accuracy = float((model.predict(X_te) == labels_te).mean())
    if not accuracy >= min_accuracy:
        raise _hidden_fail(f"after training, the test accuracy is {accuracy:.1%}, below the required "
                           f"{min_accuracy:.0%}")
