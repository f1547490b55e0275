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
    if not isinstance(model, MLP):
        raise ValueError(f"model: expected an mlpkit.MLP, got {type(model).__name__}")
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    if isinstance(lr, bool) or not isinstance(lr, (int, float, np.number)) or not np.isfinite(lr) or lr <= 0:
        raise ValueError(f"lr: expected a positive learning rate such as 0.1, got {lr!r}")
    dtype = model.params["W1"].dtype
    X = as_float_array("X", X, ndim=2).astype(dtype, copy=False)
    if X.shape[0] != model.sizes[0]:
        raise ValueError(f"X has shape {X.shape}, expected ({model.sizes[0]}, N): the model takes "
                         f"{model.sizes[0]} features per column (columns are samples)")
    N = X.shape[1]
    Y = _targets("y", y, model, N).astype(dtype, copy=False)
    labels = model._labels(Y) if model.output == "softmax" else Y[0].astype(np.int64)
    validate = X_val is not None
    if validate:
        if y_val is None:
            raise ValueError("y_val: X_val was given without y_val; pass both or neither")
        X_val = as_float_array("X_val", X_val, ndim=2).astype(dtype, copy=False)
        if X_val.shape[0] != model.sizes[0]:
            raise ValueError(f"X_val has shape {X_val.shape}, expected ({model.sizes[0]}, N_val)")
        Y_val = _targets("y_val", y_val, model, X_val.shape[1]).astype(dtype, copy=False)
        labels_val = model._labels(Y_val) if model.output == "softmax" else Y_val[0].astype(np.int64)

    history: dict[str, list[float]] = {"loss": [], "accuracy": []}
    if validate:
        history.update(val_loss=[], val_accuracy=[])
    rng = np.random.default_rng(seed)
    params = model.params
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=epochs, desc="training", unit="epoch")
    try:
        for epoch in range(1, epochs + 1):
            order = rng.permutation(N)                       # a new shuffle every epoch
            X_epoch, Y_epoch, labels_epoch = X[:, order], Y[:, order], labels[order]
            loss_sum, correct = 0.0, 0
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                for start in range(0, N, batch_size):
                    X_b = X_epoch[:, start:start + batch_size]
                    Y_b = Y_epoch[:, start:start + batch_size]
                    y_hat, buffer = model._forward(X_b)                       # 1. forward
                    L = model._loss(Y_b, y_hat)
                    if not math.isfinite(L):
                        raise TrainingDiverged(
                            f"the loss became {L} at epoch {epoch} (batch starting at sample {start}) "
                            f"with lr={lr:g}: the steps are too large; try a smaller learning rate, "
                            f"e.g. lr={lr / 10:g}")
                    grads = model._backward(Y_b, y_hat, buffer)              # 2. backward
                    for key, gradient in grads.items():                      # 3. update
                        gradient *= lr                                       # in place: grads are fresh arrays
                        params[key] -= gradient
                    B = X_b.shape[1]
                    loss_sum += L * B
                    correct += np.count_nonzero(model._labels(y_hat) == labels_epoch[start:start + B])
            history["loss"].append(loss_sum / N)
            history["accuracy"].append(correct / N)
            if validate:
                y_hat_val, _ = model._forward(X_val)
                history["val_loss"].append(model._loss(Y_val, y_hat_val))
                history["val_accuracy"].append(float((model._labels(y_hat_val) == labels_val).mean()))
            if bar is not None:
                shown = {"loss": f"{history['loss'][-1]:.4f}", "acc": f"{history['accuracy'][-1]:.3f}"}
                if validate:
                    shown["val_acc"] = f"{history['val_accuracy'][-1]:.3f}"
                bar.set_postfix(shown, refresh=False)
                bar.update()
    finally:
        if bar is not None:
            bar.close()
    return history
