"""The visible checks of the graded exercises: what the test cells run when you press Validate.

Each ``check_*`` function runs one small, fixed example through your function and,
when the answer is wrong, says in plain words what kind of mistake it looks like
(a wrong shape, a transposed result, a factor of B, a flipped sign, an activation
derivative taken at the output, the value of ReLU's derivative at 0, a missing
shuffle...). While your function runs, the mlpkit functions that would do the
exercise's work (``PRACTISED``) are uncallable, your function's warnings are shown
on stdout instead of stderr (a warning never costs points), and its arguments are
checked afterwards: a function must not change the arrays it receives.

A check that passes is a good sign, not the grade. The grade comes from hidden
tests that the grader runs on random inputs, in a separate process, with the
practised functions removed (docs/instructors.md); nothing in this module grades.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from . import losses, ops
from .datasets import one_hot, spiral, train_test_split
from .gradcheck import rel_error
from .graph import Value
from .mlp import MLP
from .training import train

__all__ = [
    "FeedbackError", "PRACTISED", "TOLERANCE", "close", "diagnose", "batch_size_mistakes", "relu_forgotten",
    "forbidden", "check_graph_by_hand",
    "check_matmul_backward", "check_sigmoid_backward", "check_relu_backward",
    "check_binary_cross_entropy_backward", "check_softmax_cross_entropy_backward", "check_backward",
    "check_train_sgd",
]

#: Largest relative error (mlpkit.gradcheck.rel_error) of a right answer: a correct answer computed in float32
#: is far below it, every typical mistake far above. The hidden tests use the same tolerance.
TOLERANCE = 1e-4
#: Entries this small count as equal whatever their relative error (a gradient of exactly 0 against 1e-12).
ABSOLUTE_TOLERANCE = 1e-9

#: Library code that computes gradients for you: no graded function may call it.
_GRADIENT_MACHINERY = ("mlpkit.gradcheck.numerical_gradient", "mlpkit.gradcheck.jacobian",
                       "mlpkit.graph.Value.backward", "mlpkit.graph.topological_order")
#: The library's backward pass of a whole MLP and its training loop.
_MLP_MACHINERY = ("mlpkit.mlp.MLP.backward", "mlpkit.mlp.MLP._backward", "mlpkit.training.train")

#: For each graded function, the mlpkit functions that would do its work, public and private. The visible checks
#: make them uncallable while your function runs; the grader removes them before it runs your notebook.
PRACTISED: dict[str, tuple[str, ...]] = {
    "graph_by_hand": _GRADIENT_MACHINERY,
    "topological_order": _GRADIENT_MACHINERY,
    "graph_backward": _GRADIENT_MACHINERY,
    "matmul_backward": ("mlpkit.ops.matmul_backward", *_MLP_MACHINERY, *_GRADIENT_MACHINERY),
    "sigmoid_backward": ("mlpkit.ops.sigmoid_backward", "mlpkit.graph.Value.sigmoid", *_MLP_MACHINERY,
                         *_GRADIENT_MACHINERY),
    "relu_backward": ("mlpkit.ops.relu_backward", "mlpkit.ops.relu_derivative", "mlpkit.graph.Value.relu",
                      *_MLP_MACHINERY, *_GRADIENT_MACHINERY),
    "softmax_jacobian": (*_MLP_MACHINERY, *_GRADIENT_MACHINERY),
    "softmax_backward": ("mlpkit.losses.softmax_cross_entropy_backward", *_MLP_MACHINERY, *_GRADIENT_MACHINERY),
    "binary_cross_entropy_backward": ("mlpkit.losses.binary_cross_entropy_backward", *_MLP_MACHINERY,
                                      *_GRADIENT_MACHINERY),
    "softmax_cross_entropy_backward": ("mlpkit.losses.softmax_cross_entropy_backward", *_MLP_MACHINERY,
                                       *_GRADIENT_MACHINERY),
    "backward": (*_MLP_MACHINERY, *_GRADIENT_MACHINERY),
    "train_sgd": ("mlpkit.training.train", *_GRADIENT_MACHINERY),
}


class FeedbackError(AssertionError):
    """A wrong answer, explained in plain words."""


# -- comparing one answer -------------------------------------------------------------------------------------
def close(a: np.ndarray, b: np.ndarray, tol: float = TOLERANCE) -> bool:
    """Whether two arrays have the same shape and agree to ``tol`` (relative error, see gradcheck.rel_error)."""
    if a.shape != b.shape:
        return False
    return rel_error(a, b) < tol or float(np.abs(a - b).max(initial=0.0)) < ABSOLUTE_TOLERANCE


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
    ``mistakes`` given as (value that mistake produces, explanation). The grader's
    hidden tests word their verdicts with it too.
    """
    try:
        got = _as_array(name, got)
    except FeedbackError as error:
        return str(error)
    expected = np.asarray(expected, dtype=np.float64)
    if got.shape != expected.shape:
        message = f"{name} has shape {got.shape}, expected {expected.shape}"
        if got.shape == expected.shape[::-1]:
            return message + ": did you forget a transpose?"
        if expected.ndim == 2 and expected.shape[1] == 1 and got.shape == (expected.shape[0],):
            return message + ": the sum over the batch dropped the second axis; keep the column with " \
                             ".sum(axis=1, keepdims=True)"
        if B and expected.ndim == 2 and expected.shape[1] == 1 and got.shape == (expected.shape[0], B):
            return message + ": a bias is added to every sample, so sum its gradient over the batch " \
                             "(axis=1, keepdims=True)"
        return message + ": a gradient always has the shape of its variable"
    if close(got, expected):
        return None
    if expected.ndim == 2 and expected.shape[0] == expected.shape[1] and close(got, expected.T):
        return f"{name} is transposed: check the order of the matrix product and where the .T goes"
    for value, explanation in mistakes:
        if close(got, np.asarray(value, dtype=np.float64)):
            return f"{name}: {explanation}"
    if close(got, -expected):
        return f"{name} has the opposite sign: check the sign of each factor (a finite difference tells you)"
    if B and B > 1 and close(got, expected * B):
        return f"{name} is B = {B} times too large: the loss is the mean over the batch, so divide by B"
    if B and B > 1 and close(got, expected / B):
        return f"{name} is B = {B} times too small: did you divide by B twice?"
    return (f"{name} has the right shape but wrong values (relative error {rel_error(got, expected):.2g}); "
            "compare with a finite difference from mlpkit.gradcheck.numerical_gradient")


def batch_size_mistakes(expected: np.ndarray, y: np.ndarray) -> tuple[tuple[np.ndarray, str], ...]:
    """The gradient a loss function returns when it takes the batch size from ``y.shape[0]`` (the number of
    rows: 1 for BCE, K for softmax) instead of ``y.shape[1]``, and how to say so."""
    rows, B = y.shape
    if rows == B:
        return ()
    if rows == 1:                   # the same as not dividing at all
        return ((expected * B, f"is B = {B} times too large: the loss is the mean over the batch, so divide by "
                               "B = y.shape[1], the number of columns of y (y.shape[0] is 1)"),)
    return ((expected * B / rows, f"divided by y.shape[0] = {rows}, the number of rows of y, instead of the batch "
                                  f"size B: the batch size is the number of columns, B = y.shape[1]"),)


def relu_forgotten(backward_of: Callable[[tuple], dict], buffer: tuple) -> list[tuple[str, dict]]:
    """For each hidden layer l, the gradients of an MLP backward pass that skips ReLU's derivative at layer l.

    ``backward_of(buffer)`` is a correct backward pass; a buffer whose z[l] is all ones makes ReLU's derivative 1
    there, which is what forgetting it computes."""
    variants = []
    for l in range(1, len(buffer) // 2):
        changed = list(buffer)
        changed[2 * l - 1] = np.ones_like(np.asarray(buffer[2 * l - 1], dtype=np.float64))
        variants.append((f"forgot ReLU's derivative at layer {l}: dL/dz{l} = dL/da{l} * relu'(z{l}) "
                         f"(1 where z{l} > 0, 0.5 where z{l} == 0, 0 below)", backward_of(tuple(changed))))
    return variants


def _check(name: str, got: Any, expected: np.ndarray, **kwargs: Any) -> None:
    message = diagnose(name, got, expected, **kwargs)
    if message:
        raise FeedbackError(message)


def _passed(message: str) -> None:
    print(f"\N{CHECK MARK} {message}")


# -- making the practised functions uncallable -----------------------------------------------------------------
def resolve(dotted: str) -> Callable:
    """The function a dotted name such as ``"mlpkit.mlp.MLP.backward"`` names."""
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            obj = getattr(obj, attribute)
        return obj
    raise ImportError(f"cannot resolve {dotted}")


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
    It is a courtesy for Validate, not a guard: the grader does not rely on it.
    """
    originals = [(f, f.__code__) for f in functions]
    try:
        for f, _ in originals:
            f.__code__ = _forbidden_stub.__code__.replace(co_name=f.__qualname__)
        yield
    finally:
        for f, code in originals:
            f.__code__ = code


def _call(fn: Callable, name: str, *args: Any) -> Any:
    """Run the student's ``fn(*args)`` as the grader will: its practised functions uncallable, its warnings shown
    on stdout (they never cost points), 'not written yet' turned into a clear message, and its arguments unchanged."""
    before = [_snapshot(a) for a in args]
    captured = io.StringIO()
    try:
        with forbidden(*(resolve(n) for n in PRACTISED[name])), contextlib.redirect_stderr(captured), \
                warnings.catch_warnings():
            warnings.simplefilter("always")
            # Our own display: pytest, logging.captureWarnings or a record=True catch_warnings replace the default
            # one, which would then never write to the redirected stderr.
            warnings.showwarning = lambda message, category, filename, lineno, file=None, line=None: \
                captured.write(warnings.formatwarning(message, category, filename, lineno, line))
            result = fn(*args)
    except NotImplementedError:
        raise FeedbackError(f"{name} is not written yet: replace `raise NotImplementedError()` "
                            "with your code") from None
    finally:
        if captured.getvalue().strip():
            print(f"(your {name} wrote this to stderr; warnings do not cost points)\n{captured.getvalue().rstrip()}")
    for position, (arg, old) in enumerate(zip(args, before)):
        if old is not None and not _same(old, _snapshot(arg)):
            raise FeedbackError(f"{name} changed its argument number {position + 1} ({_describe(arg)}): a function "
                                "must not modify the arrays it receives; compute new arrays instead (e.g. "
                                "dL_dz = y_hat - y, not y_hat -= y)")
    return result


def _snapshot(value: Any) -> Any:
    """Copies of the arrays inside an argument (arrays, tuples/lists of arrays, dicts of arrays); None otherwise."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, (tuple, list)) and all(isinstance(v, np.ndarray) for v in value):
        return [v.copy() for v in value]
    if isinstance(value, dict) and all(isinstance(v, np.ndarray) for v in value.values()):
        return {k: v.copy() for k, v in value.items()}
    return None


def _same(old: Any, new: Any) -> bool:
    if isinstance(old, np.ndarray):
        return isinstance(new, np.ndarray) and old.shape == new.shape and np.array_equal(old, new, equal_nan=True)
    if isinstance(old, list):
        return isinstance(new, list) and len(old) == len(new) and all(map(_same, old, new))
    return isinstance(new, dict) and old.keys() == new.keys() and all(_same(old[k], new[k]) for k in old)


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    return f"a {type(value).__name__}"


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
        raise FeedbackError(f"matmul_backward should return two arrays (dL_dw, dL_dx), got {type(out).__name__}"
                            + (f" of {len(out)}" if isinstance(out, (tuple, list)) else ""))
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
    got = _call(sigmoid_backward, "sigmoid_backward", dL_dz, x)
    _check("dL_dx", got, dL_dz * s * (1 - s), mistakes=mistakes)
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
                            "a finite difference shows dL/dy_hat = -(1/B) * (y / y_hat - (1 - y) / (1 - y_hat))"),
                *batch_size_mistakes(expected, y))
    got = _call(binary_cross_entropy_backward, "binary_cross_entropy_backward", y, y_hat)
    _check("dL_dy_hat", got, expected, B=B, mistakes=mistakes)
    _passed("binary_cross_entropy_backward is right for a batch of 4")


def check_softmax_cross_entropy_backward(softmax_cross_entropy_backward: Callable) -> None:
    """Visible test for ``softmax_cross_entropy_backward(y, y_hat) -> dL/dz`` with K = 3, B = 4."""
    y_hat = ops.softmax(np.array([[1.0, -1.0, 0.5, 2.0], [0.0, 2.0, 0.5, -1.0], [-1.0, 0.0, 1.5, 0.0]]))
    y = one_hot(np.array([0, 1, 1, 2]), 3)
    got = _call(softmax_cross_entropy_backward, "softmax_cross_entropy_backward", y, y_hat)
    _check("dL_dz", got, (y_hat - y) / 4, B=4, mistakes=batch_size_mistakes((y_hat - y) / 4, y))
    _passed("softmax_cross_entropy_backward is right for K = 3 classes and a batch of 4")


# -- the MLP's backward --------------------------------------------------------------------------------------
def check_backward(backward: Callable) -> None:
    """Visible test for ``backward(L, y, y_hat, buffer, params) -> grads`` on an MLP([3, 5, 4, 3]), B = 6."""
    model = MLP([3, 5, 4, 3], seed=3)
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(3, 6)), one_hot(np.array([0, 1, 2, 0, 1, 2]), 3)
    y_hat, buffer = model.forward(X)
    L = model.loss(y, y_hat)
    expected = model.backward(L, y, y_hat, buffer)
    # The typical mistake, ReLU's derivative taken at each layer's output a: the library's loop on a buffer whose
    # z's are replaced by the a's (its dL/dW use the a's as they should).
    X_, _, a1, _, a2, z3 = buffer
    at_output = model.backward(L, y, y_hat, (X_, a1, a1, a2, a2, z3))
    params = {k: v.copy() for k, v in model.params.items()}
    grads = _call(backward, "backward", L, y, y_hat, buffer, params)
    if not isinstance(grads, dict):
        raise FeedbackError(f"backward should return a dict of gradients like params, got {type(grads).__name__}")
    missing = [k for k in model.params if k not in grads]
    if missing:
        raise FeedbackError(f"the gradients for {', '.join(missing)} are missing: return one per parameter")
    extra = [repr(k) for k in grads if k not in model.params]
    if extra:
        raise FeedbackError(f"grads has keys params does not have ({', '.join(extra)}): use exactly the keys of "
                            "params")
    forgotten = relu_forgotten(lambda changed: model.backward(L, y, y_hat, changed), buffer)
    for key in ("W3", "b3", "W2", "b2", "W1", "b1"):          # from the output back: the first wrong one matters
        mistakes = ((at_output[key], "took ReLU's derivative at the layer's output a instead of its input z"),
                    *((variant[key], explanation) for explanation, variant in forgotten))
        _check(f"grads['{key}']", grads[key], expected[key], B=6, mistakes=mistakes)
    _passed("backward gives all six gradients right for a 3-5-4-3 network and a batch of 6")


# -- the training loop ---------------------------------------------------------------------------------------
def _spiral_task(seed: int = 0):
    X, labels = spiral(60, K=5, seed=seed)
    X_tr, X_te, l_tr, l_te = train_test_split(X, labels, 0.2, seed=seed)
    return X_tr, one_hot(l_tr, 5), X_te, l_te


class _Observed(MLP):
    """An MLP that remembers which samples each forward pass saw and which loss each batch had."""

    def __init__(self, *args: Any, columns: dict[bytes, int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.columns, self.batches, self.batch_losses, self.seen_params = columns, [], [], []

    def forward(self, X: np.ndarray):
        if len(self.seen_params) < 2:                         # the parameters before the first two batches
            self.seen_params.append({k: np.array(v, dtype=np.float64) for k, v in self.params.items()})
        X_array = np.asarray(X)
        if X_array.ndim == 2:
            self.batches.append([self.columns.get(np.ascontiguousarray(X_array[:, j]).tobytes(), -1)
                                 for j in range(X_array.shape[1])])
        return super().forward(X)

    def loss(self, y: np.ndarray, y_hat: np.ndarray) -> float:
        value = super().loss(y, y_hat)
        self.batch_losses.append((value, np.shape(y_hat)[1]))
        return value


def _correct_backward(L: float, y: np.ndarray, y_hat: np.ndarray, buffer: tuple, params: dict) -> dict:
    """A correct backward, put in place of the student's while train_sgd is checked (the grader does the same), so
    that train_sgd is judged on its own: a mistake in backward costs backward's points, not train_sgd's too."""
    from mlpkit.mlp import MLP as Network  # self-contained: the grader runs this source in the notebook

    sizes = [params["W1"].shape[1]] + [params[f"W{l}"].shape[0] for l in range(1, len(params) // 2 + 1)]
    network = Network(sizes)
    network.params = params
    return network.backward(L, y, y_hat, buffer)


def _diagnose_shuffle(batches: list[list[int]], N: int, epochs: int, batch_size: int, seed: int) -> str | None:
    per_epoch = -(-N // batch_size)
    if len(batches) != epochs * per_epoch:
        return (f"train_sgd made {len(batches)} forward passes over {epochs} epochs; with N = {N} samples and "
                f"batch_size = {batch_size} an epoch has {per_epoch} mini-batches (the last one may be shorter)")
    rng = np.random.default_rng(seed)
    orders = []
    for epoch in range(epochs):
        seen = [i for batch in batches[epoch * per_epoch:(epoch + 1) * per_epoch] for i in batch]
        if sorted(seen) != list(range(N)):
            return "every epoch must visit every sample exactly once: take the mini-batches from order = " \
                   "rng.permutation(N), batch_size at a time"
        orders.append(seen)
    expected = [list(rng.permutation(N)) for _ in range(epochs)]
    if orders == expected:
        return None
    if orders[0] == list(range(N)):
        return "the samples are never shuffled: start every epoch with order = rng.permutation(N)"
    if all(order == orders[0] for order in orders):
        return ("every epoch uses the same order: make one generator rng = np.random.default_rng(seed) before "
                "the epoch loop and draw a new order = rng.permutation(N) at the start of every epoch")
    return ("the mini-batches are not the ones the task describes: one generator rng = "
            "np.random.default_rng(seed), made once, order = rng.permutation(N) at the start of every epoch, "
            "then consecutive pieces of order, batch_size long")


def _diagnose_losses(history: list, batch_losses: list[tuple[float, int]], epochs: int) -> str | None:
    if len(batch_losses) % epochs:
        return None
    per_epoch = len(batch_losses) // epochs
    for epoch, value in enumerate(history):
        chunk = batch_losses[epoch * per_epoch:(epoch + 1) * per_epoch]
        weighted = sum(L * B for L, B in chunk) / sum(B for _, B in chunk)
        if abs(value - weighted) <= TOLERANCE * max(1.0, abs(weighted)):
            continue
        if abs(value - np.mean([L for L, _ in chunk])) < 1e-12:
            return ("the loss of an epoch is the mean over its samples: weight each batch's loss by its size "
                    "(the last batch is shorter), e.g. loss_sum += L * len(batch), then loss_sum / N")
        if abs(value - chunk[-1][0]) < 1e-12:
            return "you returned the last batch's loss: return the mean loss of the whole epoch"
        if abs(value - sum(L * B for L, B in chunk)) < 1e-9 or abs(value - sum(L for L, _ in chunk)) < 1e-12:
            return "you returned a sum: the epoch's loss is the mean over its samples, so divide by N"
        return "the returned losses are not each epoch's mean training loss"
    return None


def _stepped_uphill(seen: list[dict], grads: dict, lr: float) -> bool:
    """Whether the parameters moved by +lr * gradient between the first two forward passes."""
    before, after = seen
    return set(grads) == set(before) and all(
        close(after[k] - before[k], lr * grads[k]) and not close(after[k] - before[k], -lr * grads[k])
        for k in grads)


def check_train_sgd(train_sgd: Callable) -> None:
    """Visible test for ``train_sgd(model, X, y, epochs, batch_size, lr, seed) -> list of epoch losses``.

    240 samples in batches of 32 (so the last batch has 16), 3 epochs, compared with mini-batch SGD as the task
    describes it; ``backward`` is a correct one while it runs, as in the grader.
    """
    X, y, _, _ = _spiral_task()
    epochs, batch_size, lr, seed = 3, 32, 0.1, 0
    columns = {np.ascontiguousarray(X[:, j]).tobytes(): j for j in range(X.shape[1])}
    model = _Observed([2, 16, 16, 5], seed=0, columns=columns)
    reference = MLP([2, 16, 16, 5], seed=0)
    before = {k: v.copy() for k, v in model.params.items()}
    namespace = getattr(train_sgd, "__globals__", {})
    had_backward, own_backward = "backward" in namespace, namespace.get("backward")
    first_grads: list[dict] = []

    def recording_backward(*args: Any) -> dict:
        grads = _correct_backward(*args)
        if not first_grads:
            first_grads.append({k: np.array(v, dtype=np.float64) for k, v in grads.items()})
        return grads

    namespace["backward"] = recording_backward
    try:
        history = _call(train_sgd, "train_sgd", model, X, y, epochs, batch_size, lr, seed)
    finally:
        if had_backward:
            namespace["backward"] = own_backward
        else:
            namespace.pop("backward", None)
    if not isinstance(history, list):
        raise FeedbackError(f"train_sgd should return a list with one loss per epoch (history.append(...)), got "
                            f"{type(history).__name__}")
    if len(history) != epochs:
        raise FeedbackError(f"train_sgd returned {len(history)} losses for {epochs} epochs: append one per epoch")
    if not all(isinstance(v, (int, float, np.floating, np.integer)) and not isinstance(v, bool) for v in history):
        raise FeedbackError("train_sgd should return the epoch losses as numbers (floats)")
    if first_grads and len(model.seen_params) == 2 and _stepped_uphill(model.seen_params, first_grads[0], lr):
        raise FeedbackError("the first update went uphill, W = W + lr * dL/dW: step against the gradient, "
                            "W -= lr * dL/dW (the gradient points to where the loss grows)")
    if not np.isfinite(np.asarray(history, dtype=np.float64)).all() or min(history) < 0:
        raise FeedbackError("the epoch losses should be finite, non-negative numbers (the mean cross-entropy)")
    if all(np.array_equal(before[k], model.params[k]) for k in before):
        raise FeedbackError("model.params did not change: update them in place, e.g. "
                            "model.params[key] -= lr * grads[key] (writing W = W - lr * dW only renames W)")
    if model.batches:
        message = _diagnose_shuffle(model.batches, X.shape[1], epochs, batch_size, seed)
        if message:
            raise FeedbackError(message)
    message = _diagnose_losses(history, model.batch_losses, epochs) if model.batch_losses else None
    if message:
        raise FeedbackError(message)
    expected = train(reference, X, y, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, progress=False)
    if not close(np.asarray(history, dtype=np.float64), np.asarray(expected["loss"])):
        raise FeedbackError("the returned losses are not each epoch's mean training loss")
    for key in reference.params:
        if not close(np.asarray(model.params[key], dtype=np.float64), reference.params[key]):
            raise FeedbackError(f"after training, model.params['{key}'] differs from mini-batch SGD as the task "
                                "describes it: check the update W = W - lr * dL/dW for every parameter")
    _passed("train_sgd shuffles every epoch, returns the epoch losses and trains model.params as described")


_ELSEWHERE = {"check_topological_order": "feedback_graph", "check_graph_backward": "feedback_graph",
              "check_softmax_jacobian": "feedback_jacobian", "check_softmax_backward": "feedback_jacobian"}


def __getattr__(name: str) -> Any:
    """The checks of the autodiff and Jacobian exercises live in their own modules (they use the helpers above)."""
    if name in _ELSEWHERE:
        return getattr(importlib.import_module(f"mlpkit.{_ELSEWHERE[name]}"), name)
    raise AttributeError(f"module 'mlpkit.feedback' has no attribute {name!r}")
