"""Data sets: shapes (columns are samples), determinism, labels, the split, errors."""

import numpy as np
import pytest

from mlpkit import datasets


def test_spiral_defaults_to_five_classes_columns_are_samples():
    X, labels = datasets.spiral()
    assert X.shape == (2, 500) and labels.shape == (500,)
    np.testing.assert_array_equal(np.bincount(labels), [100] * 5)
    X2, _ = datasets.spiral(seed=0)
    np.testing.assert_array_equal(X, X2)
    assert not np.array_equal(X, datasets.spiral(seed=1)[0])
    assert datasets.spiral(n_per_class=10, K=3)[0].shape == (2, 30)


def test_moons_is_binary():
    X, labels = datasets.moons(50)
    assert X.shape == (2, 100) and set(labels) == {0, 1}


def test_digits_ship_with_scikit_learn_and_are_scaled():
    X, labels = datasets.digits()
    assert X.shape == (64, 1797) and labels.shape == (1797,)
    assert X.min() == 0.0 and X.max() == 1.0
    assert set(labels) == set(range(10))


def test_one_hot():
    Y = datasets.one_hot(np.array([2, 0, 1, 2]), 3)
    np.testing.assert_array_equal(Y, [[0, 1, 0, 0], [0, 0, 1, 0], [1, 0, 0, 1]])
    with pytest.raises(ValueError, match=r"labels: expected values in 0\.\.2 for K=3, got values from 0 to 3"):
        datasets.one_hot(np.array([0, 3]), 3)
    with pytest.raises(ValueError, match=r"labels: expected a 1-D array of integer class labels, got shape \(2, 1\)"):
        datasets.one_hot(np.zeros((2, 1), dtype=int), 3)
    with pytest.raises(ValueError, match=r"dtype float64"):
        datasets.one_hot(np.array([0.5]), 3)


def test_train_test_split_is_seeded_stratified_and_disjoint():
    X, labels = datasets.spiral(100, 5)
    X_tr, X_te, y_tr, y_te = datasets.train_test_split(X, labels, 0.2, seed=0)
    assert X_tr.shape == (2, 400) and X_te.shape == (2, 100)
    np.testing.assert_array_equal(np.bincount(y_te), [20] * 5)
    both = np.concatenate([X_tr, X_te], axis=1)
    assert np.unique(both, axis=1).shape[1] == 500                     # every sample exactly once
    again = datasets.train_test_split(X, labels, 0.2, seed=0)
    np.testing.assert_array_equal(again[1], X_te)
    assert not np.array_equal(datasets.train_test_split(X, labels, 0.2, seed=1)[1], X_te)
    pairs = {tuple(col) + (lab,) for col, lab in zip(X.T, labels)}
    assert all(tuple(col) + (lab,) in pairs for col, lab in zip(X_te.T, y_te))    # labels follow samples


def test_dataset_errors():
    with pytest.raises(ValueError, match=r"K: expected an integer >= 2, got 1"):
        datasets.spiral(K=1)
    with pytest.raises(ValueError, match=r"labels has shape \(3,\), expected \(4,\)"):
        datasets.train_test_split(np.ones((2, 4)), np.zeros(3))
    with pytest.raises(ValueError, match=r"test_fraction: expected a number between 0 and 1, got 1.5"):
        datasets.train_test_split(np.ones((2, 4)), np.zeros(4), 1.5)
