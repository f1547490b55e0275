"""The lecture plots (mlpkit.plots) and pictures (coursekit.pictures) draw what they claim to draw."""

import matplotlib.colors
import matplotlib.patches
import matplotlib.pyplot as plt
import numpy as np
import pytest

from coursekit import pictures
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


# ---- coursekit.pictures ------------------------------------------------------------------------------------------

def red_labels(ax) -> list[str]:
    """The gradient labels dL/d(...) a picture writes in red."""
    return [t.get_text() for t in ax.texts if t.get_color() == "tab:red" and r"\partial" in t.get_text()]


def red_arrows(ax) -> int:
    red = matplotlib.colors.to_rgba("tab:red")
    return sum(1 for t in ax.texts if getattr(t, "arrow_patch", None) is not None
               and tuple(t.arrow_patch.get_edgecolor()) == red)


def test_draw_network_draws_every_neuron_and_weight_with_the_shapes():
    ax = pictures.draw_network([2, 4, 3, 5])
    assert [len(c.get_offsets()) for c in ax.collections] == [2, 4, 3, 5]       # one circle per neuron
    assert len(ax.lines) == 2 * 4 + 4 * 3 + 3 * 5                               # one line per weight
    texts = [t.get_text() for t in ax.texts]
    assert "W1 (4, 2)\nb1 (4, 1)" in texts and "W3 (5, 3)\nb3 (5, 1)" in texts and "y_hat\n(5, B)" in texts
    plt.close("all")
    with pytest.raises(ValueError, match=r"sizes: expected at least two positive layer sizes .* got \[2, 0\]"):
        pictures.draw_network([2, 0])


def test_draw_products_draws_a_box_per_matrix_and_refuses_products_that_do_not_exist():
    ax = pictures.draw_products([("forward", [("w", (2, 3)), "@", ("x", (3, 4)), "=", ("z", (2, 4))]),
                                 ("backward", [("w.T", (3, 2)), "@", ("dL_dz", (2, 4)), "=", ("dL_dx", (3, 4))])])
    boxes = [p for p in ax.patches if isinstance(p, matplotlib.patches.Rectangle)]
    assert [(b.get_height(), b.get_width()) for b in boxes] == [(2, 3), (3, 4), (2, 4), (3, 2), (2, 4), (3, 4)]
    texts = [t.get_text() for t in ax.texts]
    assert {"forward", "backward", "(2 x 3)", "(3 x 4)", "@", "="} <= set(texts)
    plt.close("all")
    with pytest.raises(ValueError, match=r"w \(2, 3\) @ x \(4, 4\): the inner sizes 3 and 4 differ"):
        pictures.draw_products([("bad", [("w", (2, 3)), "@", ("x", (4, 4)), "=", ("z", (2, 4))])])
    with pytest.raises(ValueError, match=r"w @ x has shape \(2, 4\), but z is drawn as \(4, 2\)"):
        pictures.draw_products([("bad", [("w", (2, 3)), "@", ("x", (3, 4)), "=", ("z", (4, 2))])])


def test_show_matrix_colours_each_entry_and_writes_it_in():
    M = np.array([[1.0, -2.0, 0.0], [0.5, 3.0, -1.0]])
    ax = pictures.show_matrix(M, "M", row_labels=["r0", "r1"], fmt="{:.1f}")
    image = ax.images[0]
    np.testing.assert_array_equal(image.get_array(), M)
    assert image.get_clim() == (-3.0, 3.0)                       # symmetric: white is zero
    assert [t.get_text() for t in ax.texts] == ["1.0", "-2.0", "0.0", "0.5", "3.0", "-1.0"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["r0", "r1"] and ax.get_title() == "M"
    plt.close("all")
    ax = pictures.show_matrix(np.zeros((2, 2)), numbers=False)
    assert len(ax.texts) == 0 and list(ax.get_xticks()) == [] and ax.images[0].get_clim() == (-1e-12, 1e-12)
    plt.close("all")
    with pytest.raises(ValueError, match=r"M has shape \(2, 2, 2\), expected a 2-D matrix"):
        pictures.show_matrix(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match=r"col_labels: 2 labels for 3 cols of a \(2, 3\) matrix"):
        pictures.show_matrix(M, col_labels=["a", "b"])


def test_draw_mlp_graph_shows_every_gradient_or_only_those_computed_so_far():
    ax = pictures.draw_mlp_graph()
    assert len(ax.patches) == 15                                   # X, z1, ..., L, y and the six parameters
    assert len(red_labels(ax)) == 12 and red_arrows(ax) == 12     # every box but X, y and L gets its gradient
    plt.close("all")
    ax = pictures.draw_mlp_graph(gradients=["z3", "W3"], shapes={"z3": (5, 6), "W3": (5, 3)}, newest="W3")
    assert sorted(red_labels(ax)) == [r"$\partial L/\partial W^{[3]}$", r"$\partial L/\partial z^{[3]}$"]
    assert red_arrows(ax) == 3                                     # L -> y_hat -> z3 and z3 -> W3
    assert {"(5, 6)", "(5, 3)"} <= {t.get_text() for t in ax.texts}
    newest = [t for t in ax.texts if t.get_bbox_patch() is not None]
    assert [t.get_text() for t in newest] == [r"$\partial L/\partial W^{[3]}$"]
    plt.close("all")
    with pytest.raises(ValueError, match=r"gradients: \['X'\] receive no gradient in the MLP graph"):
        pictures.draw_mlp_graph(gradients=["X"])
    with pytest.raises(ValueError, match=r"newest: 'b1' is not among the gradients drawn"):
        pictures.draw_mlp_graph(gradients=["z3"], newest="b1")
