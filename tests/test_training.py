"""Mini-batch SGD: accuracy on the spiral and the digits, what an epoch visits,
history, the progress bar, divergence and argument errors."""

import numpy as np
import pytest

import mlpkit
from mlpkit import MLP, datasets


@pytest.mark.slow
def test_spiral_five_classes_reaches_95_percent_test_accuracy():
    X, labels = datasets.spiral(100, K=5, seed=0)
    X_tr, X_te, y_tr, y_te = datasets.train_test_split(X, labels, 0.2, seed=0)
    model = MLP([2, 100, 100, 5], seed=0)
    history = mlpkit.train(model, X_tr, y_tr, epochs=200, batch_size=32, lr=0.5, seed=0,
                           X_val=X_te, y_val=y_te, progress=False)
    accuracy = (model.predict(X_te) == y_te).mean()
    assert accuracy >= 0.95
    assert history["val_accuracy"][-1] == pytest.approx(accuracy)


@pytest.mark.slow
def test_digits_reach_95_percent_test_accuracy():
    X, labels = datasets.digits()
    X_tr, X_te, y_tr, y_te = datasets.train_test_split(X, labels, 0.2, seed=0)
    model = MLP([64, 128, 64, 10], seed=0)
    mlpkit.train(model, X_tr, y_tr, epochs=40, batch_size=32, lr=0.1, seed=0, progress=False)
    assert (model.predict(X_te) == y_te).mean() >= 0.95


def test_binary_sigmoid_output_learns_two_spiral_arms():
    X, labels = datasets.spiral(100, K=2, seed=0)
    model = MLP([2, 16, 16, 1], output="sigmoid", seed=0)
    history = mlpkit.train(model, X, labels, epochs=60, lr=0.5, progress=False)
    assert history["accuracy"][-1] >= 0.95 and history["loss"][-1] < history["loss"][0]


class Recording(MLP):
    """An MLP that records the columns of every batch it is trained on."""

    def forward(self, X):
        self.seen.append(X[0].copy())
        return super().forward(X)


def test_every_epoch_shuffles_and_visits_every_sample_once_in_batches():
    N, B, epochs = 70, 32, 3
    X = np.stack([np.arange(N, dtype=float), np.zeros(N)])          # row 0 identifies each sample
    model = Recording([2, 3, 2], seed=0)
    model.seen = []
    mlpkit.train(model, X, np.arange(N) % 2, epochs=epochs, batch_size=B, lr=0.01, progress=False)
    assert [len(b) for b in model.seen] == [32, 32, 6] * epochs    # the last batch is smaller
    orders = [np.concatenate(model.seen[3 * e:3 * e + 3]) for e in range(epochs)]
    for order in orders:
        np.testing.assert_array_equal(np.sort(order), np.arange(N))   # each sample exactly once
    assert not np.array_equal(orders[0], np.arange(N))
    assert not np.array_equal(orders[0], orders[1]) and not np.array_equal(orders[1], orders[2])


def test_same_seed_same_training():
    X, labels = datasets.spiral(20, K=3)
    a, b = MLP([2, 8, 3], seed=0), MLP([2, 8, 3], seed=0)
    ha = mlpkit.train(a, X, labels, epochs=3, progress=False, seed=5)
    hb = mlpkit.train(b, X, labels, epochs=3, progress=False, seed=5)
    assert ha == hb
    np.testing.assert_array_equal(a.params["W1"], b.params["W1"])


def test_history_has_one_entry_per_epoch_and_matches_a_manual_evaluation():
    X, labels = datasets.spiral(30, K=3)
    model = MLP([2, 16, 3], seed=0)
    history = mlpkit.train(model, X, datasets.one_hot(labels, 3), epochs=4, X_val=X, y_val=labels, progress=False)
    assert set(history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 4 for v in history.values())
    y_hat, _ = model.forward(X)
    assert history["val_loss"][-1] == pytest.approx(model.loss(datasets.one_hot(labels, 3), y_hat))
    assert history["val_accuracy"][-1] == pytest.approx((model.predict(X) == labels).mean())
    assert set(mlpkit.train(model, X, labels, epochs=2, progress=False)) == {"loss", "accuracy"}


def test_progress_bar_is_shown_and_can_be_switched_off(capsys):
    X, labels = datasets.spiral(10, K=2)
    mlpkit.train(MLP([2, 4, 2]), X, labels, epochs=3, progress=True)
    err = capsys.readouterr().err
    assert "training" in err and "3/3" in err and "epoch" in err and "loss=" in err
    mlpkit.train(MLP([2, 4, 2]), X, labels, epochs=3, progress=False)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_diverging_loss_stops_with_a_clear_error():
    X, labels = datasets.spiral(50, K=5)
    with pytest.raises(mlpkit.TrainingDiverged, match=r"became (nan|inf) at epoch \d+ .*lr=1e\+06.*smaller learning "
                                                      r"rate, e\.g\. lr=100000"):
        mlpkit.train(MLP([2, 100, 100, 5], seed=0), X * 1e3, labels, epochs=20, lr=1e6, progress=False)
    assert issubclass(mlpkit.TrainingDiverged, FloatingPointError)


@pytest.mark.parametrize("kwargs, message", [
    (dict(epochs=0), r"epochs: expected a positive integer, got 0"),
    (dict(batch_size=2.5), r"batch_size: expected a positive integer, got 2.5"),
    (dict(lr=-1.0), r"lr: expected a positive learning rate such as 0.1, got -1.0"),
    (dict(lr="0.1"), r"lr: expected a positive learning rate such as 0.1, got '0.1'"),
    (dict(X_val=np.ones((2, 3))), r"y_val: X_val was given without y_val"),
    (dict(X_val=np.ones((3, 3)), y_val=np.zeros(3, dtype=int)), r"X_val has shape \(3, 3\), expected \(2, N_val\)"),
    (dict(X_val=np.ones((2, 3)), y_val=np.zeros(4, dtype=int)), r"y_val has shape \(2, 4\), expected \(2, 3\)"),
])
def test_argument_errors(kwargs, message):
    X, labels = datasets.spiral(5, K=2)
    with pytest.raises(ValueError, match=message):
        mlpkit.train(MLP([2, 3, 2]), X, labels, progress=False, **kwargs)


def test_data_errors_name_shapes():
    X, labels = datasets.spiral(5, K=2)
    with pytest.raises(ValueError, match=r"X has shape \(10, 2\), expected \(2, N\)"):
        mlpkit.train(MLP([2, 3, 2]), X.T, labels, progress=False)
    with pytest.raises(ValueError, match=r"y has shape \(2, 9\), expected \(2, 10\)"):
        mlpkit.train(MLP([2, 3, 2]), X, labels[:9], progress=False)
    with pytest.raises(ValueError, match=r"model: expected an mlpkit.MLP, got str"):
        mlpkit.train("model", X, labels, progress=False)
