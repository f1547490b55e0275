"""Visible check of the MLP's backward pass, ``backward(L, y, y_hat, buffer, params) -> grads``."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mlpkit.datasets import one_hot
from mlpkit.mlp import MLP

from .calling import GRADIENT_MACHINERY, MLP_MACHINERY, _call, practises
from .diagnosis import FeedbackError, _check, _passed, relu_forgotten

__all__ = ["check_backward"]


@practises(*MLP_MACHINERY, *GRADIENT_MACHINERY)
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

