"""Widgets for the lectures (ipywidgets): move a control, and the picture and the numbers under it follow.

- ``activation_explorer()`` (lecture 04): sigmoid or ReLU and an input t; the function, its local gradient at t
  (ReLU: 1 / 0.5 / 0 for t > 0, t = 0, t < 0, as on the slides) and where the sigmoid saturates.
- ``backward_walk(model, X, y)`` (lecture 05): the slides' backward loop one gradient per step on the MLP's graph,
  each with its shape.
- ``lr_batch_explorer(runs)`` (lecture 06): the loss curves of a grid of training runs (computed beforehand with
  ``mlpkit.train``), one learning rate and one batch size at a time.

Each returns an ``Explorer``: an ipywidgets VBox of the controls, the picture (a PNG drawn on a matplotlib Figure
of its own, no pyplot) and a caption with the numbers. It keeps ``controls``, ``figure`` and ``caption``, so that a
test can set a control's ``.value`` and read what changed. Nothing is random; a step redraws one small figure.
``Explorer`` is in ``coursekit.explorer``. Needs ipywidgets (in requirements.txt).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from mlpkit import losses, ops
from mlpkit.mlp import MLP

from . import pictures
from .explorer import Explorer

__all__ = ["Explorer", "activation_explorer", "saturation_point", "backward_walk", "backward_steps",
           "lr_batch_explorer", "SATURATED"]

SATURATED = 0.01                 # a sigmoid whose local gradient is below this is called saturated


# ---- lecture 04: an activation and its local gradient ------------------------------------------------------------

def _sigmoid_slope(t: np.ndarray) -> np.ndarray:
    return ops.sigmoid_backward(np.ones_like(t), t)


_ACTIVATIONS = {"sigmoid": (ops.sigmoid, _sigmoid_slope), "relu": (ops.relu, ops.relu_derivative)}
T_RANGE = 6.0


def saturation_point(threshold: float = SATURATED) -> float:
    """The |t| beyond which sigmoid'(t) = s(1 - s) is below ``threshold``: s = (1 + sqrt(1 - 4 threshold)) / 2."""
    s = (1 + np.sqrt(1 - 4 * threshold)) / 2
    return float(np.log(s / (1 - s)))


def _caption(name: str, t: float, value: float, gradient: float) -> str:
    """The numbers under the activation picture, with what the local gradient does to the upstream gradient."""
    caption = f"{name} at t = {t:.1f}: value {value:.4g}, local gradient {name}'(t) = {gradient:.4g}"
    if name == "relu":
        return caption + ("  (t > 0: the upstream gradient passes unchanged)" if t > 0 else
                          "  (t = 0: the slides' convention at the corner)" if t == 0 else
                          "  (t < 0: no gradient passes)")
    edge = saturation_point()
    if gradient < SATURATED:
        return caption + (f"\nsaturated (local gradient < {SATURATED}, |t| > {edge:.2f}): the upstream gradient is "
                          f"multiplied by {gradient:.2g}, almost nothing passes")
    return caption + f"\nnot saturated: the sigmoid's local gradient is below {SATURATED} only for |t| > {edge:.2f}"


def _draw_activation(figure: Figure, activation: str, t: float) -> str:
    """Left: the function and its tangent at t. Right: the local gradient, the sigmoid's saturated zones shaded."""
    f, slope = _ACTIVATIONS[activation]
    t = round(float(t), 6) + 0.0                     # the slider's 0.1 steps: exactly 0 at the corner, never -0.0
    value, gradient = float(f(np.array([t]))[0]), float(slope(np.array([t]))[0])
    grid = np.linspace(-T_RANGE, T_RANGE, 600)       # 600 points: 0 is not one of them, ReLU's jump stays a jump
    left, right = figure.subplots(1, 2)
    left.plot(grid, f(grid), color="tab:blue", label=f"{activation}(t)")
    near = np.array([t - 1.5, t + 1.5])
    left.plot(near, value + gradient * (near - t), ":", color="0.3", label="tangent: slope = local gradient")
    left.plot([t], [value], "o", color="tab:blue", ms=8)
    left.set_title(f"{activation}(t) = {value:.4g}")
    left.set_ylim(*((-0.1, 1.1) if activation == "sigmoid" else (-0.5, T_RANGE)))
    left.legend(loc="upper left", fontsize=8)
    right.plot(grid, slope(grid), color="tab:red")
    right.plot([t], [gradient], "o", color="tab:red", ms=8)
    right.set_title(f"local gradient {activation}'(t) = {gradient:.4g}")
    right.set_ylim(-0.05, 0.3 if activation == "sigmoid" else 1.1)
    if activation == "sigmoid":
        edge = saturation_point()
        right.axvspan(-T_RANGE, -edge, color="0.88", zorder=0, label=f"saturated: sigmoid'(t) < {SATURATED}")
        right.axvspan(edge, T_RANGE, color="0.88", zorder=0)
        right.legend(loc="upper right", fontsize=8)
    for ax in (left, right):
        ax.axvline(t, color="0.6", lw=0.8)
        ax.set_xlabel("t")
        ax.grid(alpha=0.3)
    return _caption(activation, t, value, gradient)


def activation_explorer(activation: str = "sigmoid", t: float = 1.0) -> Explorer:
    """Choose sigmoid or ReLU and move t: the function with its tangent at t, the local gradient f'(t) (ReLU:
    1 / 0.5 / 0 for t > 0, t = 0, t < 0) and, for the sigmoid, where it saturates (f'(t) < 0.01)."""
    if activation not in _ACTIVATIONS:
        raise ValueError(f"activation: expected 'sigmoid' or 'relu', got {activation!r}")
    if not -T_RANGE <= t <= T_RANGE:
        raise ValueError(f"t: expected a number in [{-T_RANGE:g}, {T_RANGE:g}], got {t!r}")
    controls = {
        "activation": widgets.ToggleButtons(options=[("sigmoid", "sigmoid"), ("ReLU", "relu")], value=activation,
                                            description="activation"),
        "t": widgets.FloatSlider(value=t, min=-T_RANGE, max=T_RANGE, step=0.1, description="t",
                                 continuous_update=False, readout_format=".1f"),
    }
    return Explorer(controls, _draw_activation, figsize=(10, 3.4))


# ---- lecture 05: the backward loop, one gradient at a time -------------------------------------------------------

def backward_steps(model: MLP, X: np.ndarray, y: np.ndarray) -> list[tuple[str, int, str, np.ndarray]]:
    """The gradients of the slides' backward loop in the order it computes them, for a 3-layer ``model`` on the
    batch ``X`` with one-hot labels ``y``: ``(box, level, how, gradient)``, e.g. ``("W3", 3, "dL_dz3 @ a2.T", ...)``.
    dL/dX is left out, as in the loop (nothing uses it)."""
    if not isinstance(model, MLP) or model.n_layers != 3:
        raise ValueError(f"model: expected a 3-layer mlpkit.MLP (the slides' graph), got {model!r}")
    y_hat, buffer = model.forward(X)
    f_backward = ops.relu_backward if model.activation == "relu" else ops.sigmoid_backward
    steps = []
    dL_da = None
    for l in (3, 2, 1):
        z, a_prev, a_name = buffer[2 * l - 1], buffer[2 * l - 2], "X" if l == 1 else f"a{l - 1}"
        if l == 3:
            dL_dz, how = losses.softmax_cross_entropy_backward(y, y_hat), "(y_hat - y) / B: where backprop starts"
        else:
            dL_dz, how = f_backward(dL_da, z), f"{model.activation}_backward(dL_da{l}, z{l})"
        dL_dW, dL_da = ops.matmul_backward(dL_dz, model.params[f"W{l}"], a_prev)
        steps += [(f"z{l}", l, how, dL_dz), (f"W{l}", l, f"dL_dz{l} @ {a_name}.T", dL_dW),
                  (f"b{l}", l, f"bias_backward(dL_dz{l}): the sum over the samples", ops.bias_backward(dL_dz))]
        if l > 1:
            steps.append((a_name, l, f"W{l}.T @ dL_dz{l}", dL_da))
    return steps


def _walk_drawer(steps: list[tuple[str, int, str, np.ndarray]]) -> Callable[..., str]:
    def draw(figure: Figure, step: int) -> str:
        shown = steps[:step]
        shapes = {box: gradient.shape for box, _, _, gradient in shown}
        title = "step 0: the forward pass has filled the buffer" if not shown else \
            f"step {step} of {len(steps)}, level {shown[-1][1]}: dL/d{shown[-1][0]}"
        pictures.draw_mlp_graph(figure.add_subplot(), gradients=list(shapes), shapes=shapes,
                                newest=shown[-1][0] if shown else None, title=title)
        if not shown:
            return f"step 0 of {len(steps)}: no gradient yet; move the slider to walk backwards from the loss"
        box, level, how, gradient = shown[-1]
        lines = [f"step {step} of {len(steps)}, level {level}: dL_d{box} = {how}, shape {gradient.shape} "
                 f"(the shape of {box})", f"{len(shown)} gradients so far:"]
        for lv in sorted({lv for _, lv, _, _ in shown}, reverse=True):
            lines.append(f"  level {lv}: " + ", ".join(f"dL_d{b} {g.shape}" for b, at, _, g in shown if at == lv))
        return "\n".join(lines)

    return draw


def backward_walk(model: MLP, X: np.ndarray, y: np.ndarray, step: int = 0) -> Explorer:
    """A slider "step" from 0 to 11: step k reveals the k-th gradient of the backward loop (dL/dz3, dL/dW3, dL/db3,
    dL/da2, dL/dz2, ...) on the MLP's graph, with its shape and how it was computed (``backward_steps``)."""
    steps = backward_steps(model, X, y)
    if not 0 <= step <= len(steps):
        raise ValueError(f"step: expected 0 to {len(steps)}, got {step!r}")
    slider = widgets.IntSlider(value=step, min=0, max=len(steps), description="step", continuous_update=False)
    return Explorer({"step": slider}, _walk_drawer(steps), figsize=(14, 5.0), dpi=70)


# ---- lecture 06: learning rate x batch size ----------------------------------------------------------------------

def _grid(runs: Mapping[tuple[float, int], Mapping[str, list[float]]]) -> tuple[list[float], list[int]]:
    """The learning rates and batch sizes of a full grid of runs; ValueError if one is missing or has no loss."""
    if not runs or not all(isinstance(key, tuple) and len(key) == 2 for key in runs):
        raise ValueError("runs: expected a dict {(learning rate, batch size): history from mlpkit.train}")
    learning_rates, batch_sizes = sorted({lr for lr, _ in runs}), sorted({bs for _, bs in runs})
    missing = [(lr, bs) for lr in learning_rates for bs in batch_sizes if (lr, bs) not in runs]
    if missing:
        raise ValueError(f"runs: the grid of learning rates x batch sizes is incomplete, missing {missing}")
    empty = [key for key, history in runs.items() if not history.get("loss")]
    if empty:
        raise ValueError(f"runs: {empty} have no 'loss' list (expected the dicts returned by mlpkit.train)")
    return learning_rates, batch_sizes


def _runs_drawer(runs: Mapping[tuple[float, int], Mapping[str, list[float]]],
                 n_samples: int | None) -> Callable[..., str]:
    losses_all = np.concatenate([np.ravel(h.get(k, [])) for h in runs.values() for k in ("loss", "val_loss")])
    low, high = losses_all[np.isfinite(losses_all) & (losses_all > 0)].min(), np.nanmax(losses_all)

    def draw(figure: Figure, lr: float, batch_size: int) -> str:
        ax = figure.add_subplot()
        for history in runs.values():
            ax.plot(np.arange(1, len(history["loss"]) + 1), history["loss"], color="0.85", lw=1)
        run = runs[lr, batch_size]
        epochs = np.arange(1, len(run["loss"]) + 1)
        ax.plot(epochs, run["loss"], color="tab:blue", lw=2.5, label="training loss")
        if "val_loss" in run:
            ax.plot(epochs, run["val_loss"], "--", color="tab:orange", lw=1.5, label="validation loss")
        updates = f", {int(np.ceil(n_samples / batch_size))} updates per epoch" if n_samples else ""
        ax.set_title(f"learning rate {lr:g}, batch size {batch_size}{updates} (grey: the other runs)")
        ax.set_yscale("log")
        ax.set_ylim(low / 1.5, high * 1.5)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss (log scale)")
        ax.grid(alpha=0.3)
        ax.legend(loc="lower left")
        caption = (f"learning rate {lr:g}, batch size {batch_size}{updates}: training loss {run['loss'][0]:.3f} "
                   f"in epoch 1, {run['loss'][-1]:.3f} in epoch {len(run['loss'])}")
        if "val_accuracy" in run:
            caption += f"; validation accuracy {run['val_accuracy'][-1]:.0%}"
        return caption

    return draw


def lr_batch_explorer(runs: Mapping[tuple[float, int], Mapping[str, list[float]]],
                      n_samples: int | None = None) -> Explorer:
    """Two sliders, learning rate and batch size, over ``runs = {(lr, batch_size): mlpkit.train(...)}`` (a full
    grid, trained beforehand): the training loss of the chosen run per epoch (its validation loss too, if it has
    one), over the other runs in grey. ``n_samples`` (training set size) adds the number of updates per epoch."""
    learning_rates, batch_sizes = _grid(runs)
    controls = {
        "lr": widgets.SelectionSlider(options=learning_rates, value=learning_rates[len(learning_rates) // 2],
                                      description="learning rate", continuous_update=False),
        "batch_size": widgets.SelectionSlider(options=batch_sizes, value=batch_sizes[len(batch_sizes) // 2],
                                              description="batch size", continuous_update=False),
    }
    for control in controls.values():
        control.style.description_width = "initial"
    return Explorer(controls, _runs_drawer(runs, n_samples), figsize=(8, 3.6))
