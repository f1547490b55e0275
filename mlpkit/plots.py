"""Pictures for the lectures: training curves, decision boundaries, activations."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["plot_history", "plot_decision_boundary", "plot_activation"]


def _axes(ax, figsize=(5, 4)):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=figsize)[1]


def plot_history(history: dict[str, list[float]], axes=None):
    """Loss and accuracy per epoch, training and (if present) validation. Returns the two axes."""
    if not history.get("loss"):
        raise ValueError("history: expected the dict returned by mlpkit.train, with a non-empty 'loss' list")
    if axes is None:
        import matplotlib.pyplot as plt

        axes = plt.subplots(1, 2, figsize=(10, 3.5))[1]
    epochs = np.arange(1, len(history["loss"]) + 1)
    for ax, key in zip(axes, ("loss", "accuracy")):
        ax.plot(epochs, history[key], label=f"train {key}")
        if f"val_{key}" in history:
            ax.plot(epochs, history[f"val_{key}"], label=f"validation {key}")
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend()
    return axes


def plot_decision_boundary(predict: Callable[[np.ndarray], np.ndarray], X: np.ndarray, labels: np.ndarray,
                           ax=None, resolution: int = 200, title: str | None = None):
    """Colour the plane by the class ``predict`` gives each point; overlay the 2-D samples X (2, N)."""
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[0] != 2:
        raise ValueError(f"X has shape {X.shape}, expected (2, N): decision boundaries are drawn for 2-D inputs")
    ax = _axes(ax)
    pad = 0.1 * (X.max(axis=1) - X.min(axis=1))
    lo, hi = X.min(axis=1) - pad, X.max(axis=1) + pad
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    grid_labels = np.asarray(predict(np.stack([gx.ravel(), gy.ravel()]))).reshape(gx.shape)
    K = int(max(labels.max(), grid_labels.max())) + 1
    ax.contourf(gx, gy, grid_labels, levels=np.arange(K + 1) - 0.5, cmap="tab10", vmin=-0.5, vmax=9.5, alpha=0.3)
    ax.scatter(X[0], X[1], c=labels, cmap="tab10", vmin=-0.5, vmax=9.5, s=12, edgecolors="k", linewidths=0.3)
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    return ax


def plot_activation(f: Callable[[np.ndarray], np.ndarray], derivative: Callable[[np.ndarray], np.ndarray],
                    name: str, ax=None, lo: float = -5.0, hi: float = 5.0):
    """An activation function and its derivative on [lo, hi]."""
    ax = _axes(ax, figsize=(4.5, 3))
    t = np.linspace(lo, hi, 401)
    ax.plot(t, f(t), label=name)
    ax.plot(t, derivative(t), "--", label=f"d {name} / dt")
    ax.axhline(0, color="k", lw=0.5)
    ax.axvline(0, color="k", lw=0.5)
    ax.grid(alpha=0.3)
    ax.legend()
    return ax
