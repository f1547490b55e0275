"""The lecture plots draw what they claim to draw."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from mlpkit import MLP, datasets, ops, plots


def test_plot_history_draws_train_and_validation_curves():
    history = {"loss": [1.0, 0.5], "accuracy": [0.5, 0.8], "val_loss": [1.1, 0.7], "val_accuracy": [0.4, 0.7]}
    loss_ax, acc_ax = plots.plot_history(history)
    assert len(loss_ax.lines) == 2 and len(acc_ax.lines) == 2
    np.testing.assert_array_equal(acc_ax.lines[1].get_ydata(), [0.4, 0.7])
    assert loss_ax.get_xlabel() == "epoch"
    plt.close("all")
    with pytest.raises(ValueError, match="history: expected the dict returned by mlpkit.train"):
        plots.plot_history({})


def test_decision_boundary_colours_the_plane_by_prediction():
    X, labels = datasets.spiral(20, K=3)
    model = MLP([2, 8, 3], seed=0)
    ax = plots.plot_decision_boundary(model.predict, X, labels, resolution=50, title="spiral")
    assert len(ax.collections) >= 2                          # filled contours and the scatter of samples
    assert ax.collections[-1].get_offsets().shape == (60, 2)
    assert ax.get_title() == "spiral"
    plt.close("all")
    with pytest.raises(ValueError, match=r"X has shape \(60, 2\), expected \(2, N\)"):
        plots.plot_decision_boundary(model.predict, X.T, labels)


def test_plot_activation_draws_function_and_derivative():
    ax = plots.plot_activation(ops.relu, ops.relu_derivative, "relu")
    f, d = ax.lines[:2]
    assert f.get_ydata().max() == pytest.approx(5.0) and set(np.unique(d.get_ydata())) == {0.0, 0.5, 1.0}
    plt.close("all")
