"""The lectures' widgets (coursekit.widgets), driven from Python: set a control's value, and the caption and the
picture show what they claim (the browser rehearsal, tests/test_binder.py, moves the same controls in JupyterLab)."""

import re

import numpy as np
import pytest

import mlpkit
from coursekit import widgets
from mlpkit import ops
from mlpkit.datasets import one_hot, spiral


def local_gradient(caption: str) -> float:
    return float(re.search(r"local gradient \w+'\(t\) = (\S+)", caption).group(1))


def marker(ax) -> tuple[float, float]:
    """(t, value) of the moving point in one panel of the activation explorer."""
    (point,) = [line for line in ax.lines if line.get_marker() == "o"]
    return float(point.get_xdata()[0]), float(point.get_ydata()[0])


# ---- lecture 04 --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("t, expected", [(2.0, 1.0), (0.1, 1.0), (0.0, 0.5), (-0.1, 0.0), (-3.0, 0.0)])
def test_relu_slider_prints_the_slides_local_gradient(t, expected):
    explorer = widgets.activation_explorer(activation="relu", t=1.0)
    before = explorer.image.value
    explorer.controls["t"].value = t
    assert local_gradient(explorer.caption) == expected == ops.relu_derivative(np.array([t]))[0]
    assert marker(explorer.figure.axes[1]) == (t, expected)             # the point on the gradient's curve
    assert explorer.image.value != before                                # a new picture was sent
    assert ("t = 0: the slides' convention" in explorer.caption) == (t == 0)


def test_activation_slider_switches_between_sigmoid_and_relu():
    explorer = widgets.activation_explorer(t=0.0)
    assert explorer.controls["activation"].value == "sigmoid" and local_gradient(explorer.caption) == 0.25
    explorer.controls["activation"].value = "relu"
    assert explorer.caption.startswith("relu at t = 0.0") and local_gradient(explorer.caption) == 0.5
    assert explorer.figure.axes[0].get_title() == "relu(t) = 0"


@pytest.mark.parametrize("t", [-6.0, -4.6, -4.5, 0.0, 1.0, 4.5, 4.6, 6.0])
def test_sigmoid_slider_shows_the_local_gradient_and_where_it_saturates(t):
    explorer = widgets.activation_explorer(activation="sigmoid", t=0.5)
    explorer.controls["t"].value = t
    slope = float(ops.sigmoid_backward(np.ones(1), np.array([t]))[0])
    assert local_gradient(explorer.caption) == pytest.approx(slope, rel=1e-3)
    assert explorer.caption.split("\n")[1].startswith("saturated" if slope < widgets.SATURATED else "not saturated")
    assert marker(explorer.figure.axes[1]) == pytest.approx((t, slope))
    # the shaded zones start where sigma'(t) = 0.01
    edge = widgets.saturation_point()
    assert float(ops.sigmoid_backward(np.ones(1), np.array([edge]))[0]) == pytest.approx(widgets.SATURATED)
    assert len(explorer.figure.axes[1].patches) == 2


def test_activation_explorer_rejects_unknown_activations_and_inputs_off_the_slider():
    with pytest.raises(ValueError, match="activation: expected 'sigmoid' or 'relu', got 'tanh'"):
        widgets.activation_explorer(activation="tanh")
    with pytest.raises(ValueError, match=r"t: expected a number in \[-6, 6\], got 7"):
        widgets.activation_explorer(t=7)


# ---- lecture 05 --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def batch():
    """Lecture 05's model and batch: MLP([2, 4, 3, 5]) on six points of the spiral."""
    X_all, labels_all = spiral(100, K=5, seed=0)
    pick = np.random.default_rng(0).choice(X_all.shape[1], size=6, replace=False)
    return mlpkit.MLP([2, 4, 3, 5], seed=0), X_all[:, pick], one_hot(labels_all[pick], 5)


ORDER = ["z3", "W3", "b3", "a2", "z2", "W2", "b2", "a1", "z1", "W1", "b1"]


def test_backward_steps_follow_the_slides_loop_and_match_model_backward(batch):
    model, X, y = batch
    steps = widgets.backward_steps(model, X, y)
    assert [box for box, *_ in steps] == ORDER
    assert [level for _, level, *_ in steps] == [3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1]
    y_hat, buffer = model.forward(X)
    arrays = dict(zip(["X", "z1", "a1", "z2", "a2", "z3"], buffer), **model.params)
    grads = model.backward(model.loss(y, y_hat), y, y_hat, buffer)
    for box, _, _, gradient in steps:
        assert gradient.shape == arrays[box].shape                      # a gradient has the shape of its variable
        if box in grads:
            np.testing.assert_array_equal(gradient, grads[box])         # bit for bit, as in lecture 05


@pytest.mark.parametrize("step", [1, 4, 11])
def test_backward_walk_reveals_one_more_gradient_per_step(batch, step):
    walk = widgets.backward_walk(*batch)
    assert walk.caption.startswith("step 0 of 11: no gradient yet")
    assert sum(r"\partial" in t.get_text() for t in walk.figure.axes[0].texts) == 0
    walk.controls["step"].value = step
    ax = walk.figure.axes[0]
    labels = [t.get_text() for t in ax.texts if r"\partial" in t.get_text()]
    assert len(labels) == step                                          # the gradients revealed so far
    listed = re.findall(r"dL_d(\w+) (\(\d+, \d+\))", walk.caption.split("\n", 1)[1])
    assert [box for box, _ in listed] == ORDER[:step]
    y_hat, buffer = batch[0].forward(batch[1])
    shapes = {name: a.shape for name, a in zip(["X", "z1", "a1", "z2", "a2", "z3"], buffer)}
    shapes.update({k: v.shape for k, v in batch[0].params.items()})
    assert [shape for _, shape in listed] == [str(shapes[box]) for box in ORDER[:step]]
    assert ax.get_title().startswith(f"step {step} of 11, level ")
    assert f"dL_d{ORDER[step - 1]} = " in walk.caption.splitlines()[0]


def test_backward_walk_needs_the_slides_three_layers_and_a_step_on_the_slider(batch):
    _, X, y = batch
    with pytest.raises(ValueError, match=r"model: expected a 3-layer mlpkit.MLP"):
        widgets.backward_walk(mlpkit.MLP([2, 5]), X, y)
    with pytest.raises(ValueError, match=r"step: expected 0 to 11, got 12"):
        widgets.backward_walk(*batch, step=12)


# ---- lecture 06 --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def runs():
    X, labels = spiral(30, K=5, seed=0)
    return {(lr, bs): mlpkit.train(mlpkit.MLP([2, 8, 5], seed=0), X, labels, epochs=4, batch_size=bs, lr=lr,
                                   seed=0, X_val=X, y_val=labels, progress=False)
            for lr in (0.05, 0.5) for bs in (10, 50)}


def selected(explorer):
    (line,) = [line for line in explorer.figure.axes[0].lines if line.get_label() == "training loss"]
    return line


@pytest.mark.parametrize("lr, batch_size", [(0.05, 10), (0.05, 50), (0.5, 10), (0.5, 50)])
def test_lr_batch_explorer_plots_the_chosen_runs_loss_curve(runs, lr, batch_size):
    explorer = widgets.lr_batch_explorer(runs, n_samples=150)
    assert explorer.controls["lr"].options == (0.05, 0.5) and explorer.controls["batch_size"].options == (10, 50)
    explorer.controls["lr"].value, explorer.controls["batch_size"].value = lr, batch_size
    np.testing.assert_array_equal(selected(explorer).get_ydata(), runs[lr, batch_size]["loss"])
    assert sum(line.get_label().startswith("_") for line in explorer.figure.axes[0].lines) == 4   # all runs, grey
    updates = int(np.ceil(150 / batch_size))
    assert explorer.caption.startswith(f"learning rate {lr:g}, batch size {batch_size}, {updates} updates per epoch")
    assert f"{runs[lr, batch_size]['loss'][-1]:.3f} in epoch 4" in explorer.caption


def test_lr_batch_explorer_needs_a_full_grid_of_training_histories(runs):
    with pytest.raises(ValueError, match=r"runs: the grid .* is incomplete, missing \[\(0.5, 50\)\]"):
        widgets.lr_batch_explorer({key: h for key, h in runs.items() if key != (0.5, 50)})
    with pytest.raises(ValueError, match=r"runs: \[\(0.1, 8\)\] have no 'loss' list"):
        widgets.lr_batch_explorer({(0.1, 8): {"loss": []}})
    with pytest.raises(ValueError, match=r"runs: expected a dict \{\(learning rate, batch size\)"):
        widgets.lr_batch_explorer({})
