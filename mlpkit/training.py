"""Mini-batch stochastic gradient descent, as on the slides.

    for epoch in range(E):
        shuffle the data
        for each batch of B samples:
            1. forward pass and loss    2. backward pass    3. W -= lr * dL/dW
"""

from __future__ import annotations

import math

import numpy as np

from ._checks import as_float_array
from .datasets import one_hot
from .mlp import MLP

__all__ = ["train", "TrainingDiverged"]


class TrainingDiverged(FloatingPointError):
    """The loss became nan or infinite: the step size was too large for this model."""


def _targets(name: str, y: np.ndarray, model: MLP, n_samples: int) -> np.ndarray:
    """Accept one-hot / (1, N) targets, or integer labels of shape (N,) which are converted."""
    y = np.asarray(y)
    n_out = model.sizes[-1]
    if y.ndim == 1 and y.dtype.kind in "iu":
        y = one_hot(y, n_out) if model.output == "softmax" else y.reshape(1, -1)
    y = as_float_array(name, y, ndim=2)
    if y.shape != (n_out, n_samples):
        raise ValueError(f"{name} has shape {y.shape}, expected ({n_out}, {n_samples}): one column per sample "
                         f"of X, {n_out} row(s) for the model's output")
    return y


def _check_settings(model: MLP, epochs: int, batch_size: int, lr: float) -> None:
    if not isinstance(model, MLP):
        raise ValueError(f"model: expected an mlpkit.MLP, got {type(model).__name__}")
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    if isinstance(lr, bool) or not isinstance(lr, (int, float, np.number)) or not np.isfinite(lr) or lr <= 0:
        raise ValueError(f"lr: expected a positive learning rate such as 0.1, got {lr!r}")


def _inputs(name: str, X: np.ndarray, model: MLP, n: str) -> np.ndarray:
    """X as an array of the model's dtype, one column per sample."""
    X = as_float_array(name, X, ndim=2).astype(model.params["W1"].dtype, copy=False)
    if X.shape[0] != model.sizes[0]:
        raise ValueError(f"{name} has shape {X.shape}, expected ({model.sizes[0]}, {n}): the model takes "
                         f"{model.sizes[0]} features per column (columns are samples)")
    return X


def _progress_bar(epochs: int):
    from tqdm.auto import tqdm  # imported here: training without a progress bar does not need tqdm

    return tqdm(total=epochs, desc="training", unit="epoch")


def _epoch(model: MLP, X: np.ndarray, Y: np.ndarray, labels: np.ndarray, batch_size: int, lr: float,
           rng: np.random.Generator, epoch: int) -> tuple[float, float]:
    """One pass over the data in a fresh random order; returns the mean loss and the accuracy of its batches."""
    N = X.shape[1]
    order = rng.permutation(N)                               # a new shuffle every epoch
    X_epoch, Y_epoch, labels_epoch = X[:, order], Y[:, order], labels[order]
    loss_sum, correct = 0.0, 0
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for start in range(0, N, batch_size):
            X_b, Y_b = X_epoch[:, start:start + batch_size], Y_epoch[:, start:start + batch_size]
            y_hat, buffer = model.forward(X_b)               # 1. forward pass and loss
            L = model.loss(Y_b, y_hat)
            if not math.isfinite(L):
                raise TrainingDiverged(
                    f"the loss became {L} at epoch {epoch} (batch starting at sample {start}) with lr={lr:g}: "
                    f"the steps are too large; try a smaller learning rate, e.g. lr={lr / 10:g}")
            grads = model.backward(L, Y_b, y_hat, buffer)     # 2. backward pass
            model.step(grads, lr)                             # 3. W -= lr * dL/dW
            loss_sum += L * X_b.shape[1]
            correct += np.count_nonzero(model.labels(y_hat) == labels_epoch[start:start + batch_size])
    return loss_sum / N, correct / N


def train(model: MLP, X: np.ndarray, y: np.ndarray, epochs: int = 50, batch_size: int = 32,
          lr: float = 0.1, seed: int | None = 0, X_val: np.ndarray | None = None,
          y_val: np.ndarray | None = None, progress: bool = True) -> dict[str, list[float]]:
    """Train ``model`` in place with mini-batch SGD and return the per-epoch history.

    Every epoch visits every sample exactly once, in a fresh random order, in
    batches of ``batch_size`` (the last batch may be smaller). ``y`` is one-hot
    (K, N), (1, N) for a sigmoid output, or integer labels (N,).

    Returns a dict of lists, one entry per epoch: ``loss`` and ``accuracy`` on the
    training batches (averaged over the epoch, measured before each update, so
    free to compute), and ``val_loss`` / ``val_accuracy`` on the whole validation
    set after the epoch when ``X_val`` is given. Raises ``TrainingDiverged``
    naming the epoch if the loss becomes nan or infinite.
    """
    _check_settings(model, epochs, batch_size, lr)
    X = _inputs("X", X, model, "N")
    Y = _targets("y", y, model, X.shape[1]).astype(X.dtype, copy=False)
    labels = model.labels(Y)
    validate = X_val is not None
    if validate:
        if y_val is None:
            raise ValueError("y_val: X_val was given without y_val; pass both or neither")
        X_val = _inputs("X_val", X_val, model, "N_val")
        Y_val = _targets("y_val", y_val, model, X_val.shape[1]).astype(X.dtype, copy=False)
    history: dict[str, list[float]] = {"loss": [], "accuracy": []}
    if validate:
        history.update(val_loss=[], val_accuracy=[])
    rng = np.random.default_rng(seed)
    bar = _progress_bar(epochs) if progress else None
    try:
        for epoch in range(1, epochs + 1):
            loss, accuracy = _epoch(model, X, Y, labels, batch_size, lr, rng, epoch)
            history["loss"].append(loss)
            history["accuracy"].append(accuracy)
            shown = {"loss": f"{loss:.4f}", "acc": f"{accuracy:.3f}"}
            if validate:
                y_hat_val, _ = model.forward(X_val)
                history["val_loss"].append(model.loss(Y_val, y_hat_val))
                history["val_accuracy"].append(float((model.labels(y_hat_val) == model.labels(Y_val)).mean()))
                shown["val_acc"] = f"{history['val_accuracy'][-1]:.3f}"
            if bar is not None:
                bar.set_postfix(shown, refresh=False)
                bar.update()
    finally:
        if bar is not None:
            bar.close()
    return history
