"""Visible check of the training loop, ``train_sgd(model, X, y, epochs, batch_size, lr, seed)``: the shuffle,
the epoch losses, the direction of the step and the trained parameters, against ``mlpkit.train``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from mlpkit.datasets import one_hot, spiral, train_test_split
from mlpkit.mlp import MLP
from mlpkit.training import train

from .calling import GRADIENT_MACHINERY, _call, practises
from .diagnosis import TOLERANCE, FeedbackError, _passed, close

__all__ = ["check_train_sgd"]


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


def _run_with_correct_backward(train_sgd: Callable, *args: Any) -> tuple[Any, list[dict]]:
    """``train_sgd(*args)`` with a correct ``backward`` in its namespace while it runs (the student's own is put
    back afterwards); returns what it returned and the gradients of its first mini-batch."""
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
        history = _call(train_sgd, "train_sgd", *args)
    finally:
        if had_backward:
            namespace["backward"] = own_backward
        else:
            namespace.pop("backward", None)
    return history, first_grads


def _check_history_type(history: Any, epochs: int) -> None:
    if not isinstance(history, list):
        raise FeedbackError(f"train_sgd should return a list with one loss per epoch (history.append(...)), got "
                            f"{type(history).__name__}")
    if len(history) != epochs:
        raise FeedbackError(f"train_sgd returned {len(history)} losses for {epochs} epochs: append one per epoch")
    if not all(isinstance(v, (int, float, np.floating, np.integer)) and not isinstance(v, bool) for v in history):
        raise FeedbackError("train_sgd should return the epoch losses as numbers (floats)")


@practises("mlpkit.training.train", "mlpkit.mlp.MLP.step", *GRADIENT_MACHINERY)
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
    history, first_grads = _run_with_correct_backward(train_sgd, model, X, y, epochs, batch_size, lr, seed)
    _check_history_type(history, epochs)
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

