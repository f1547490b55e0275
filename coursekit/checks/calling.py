"""Running the student's function as the grader will: the practised mlpkit functions uncallable, warnings on
stdout, and the arguments checked afterwards (a function must not change the arrays it receives).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .diagnosis import FeedbackError

__all__ = ["PRACTISED", "practises", "resolve", "forbidden", "GRADIENT_MACHINERY", "MLP_MACHINERY"]

#: Library code that computes gradients for you: no graded function may call it.
GRADIENT_MACHINERY = ("mlpkit.gradcheck.numerical_gradient", "mlpkit.gradcheck.jacobian",
                      "mlpkit.graph.Value.backward", "mlpkit.graph.topological_order")
#: The library's backward pass of a whole MLP and its training loop.
MLP_MACHINERY = ("mlpkit.mlp.MLP.backward", "mlpkit.mlp.MLP._backward", "mlpkit.training.train")

#: For each graded function, the mlpkit functions that would do its work, public and private. The visible checks
#: make them uncallable while your function runs; the grader removes them before it runs your notebook. Each
#: visible check declares its exercise's entry with ``@practises(...)``, right above it; ``coursekit.feedback``
#: imports every check, so ``feedback.PRACTISED`` has them all.
PRACTISED: dict[str, tuple[str, ...]] = {}


def practises(*dotted: str) -> Callable[[Callable], Callable]:
    """Declare, on the visible check ``check_<name>``, the mlpkit functions the graded function <name> must not
    call (``PRACTISED[<name>]``)."""
    def declare(check: Callable) -> Callable:
        name = check.__name__.removeprefix("check_")
        if name in PRACTISED:
            raise RuntimeError(f"PRACTISED[{name!r}] is declared twice")
        PRACTISED[name] = dotted
        return check
    return declare


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
    feedback = __import__("coursekit.feedback", fromlist=["FeedbackError"])
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

