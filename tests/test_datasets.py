"""Data sets: shapes (columns are samples), determinism, labels, the split, errors.

Only test_shipped_digits_equal_scikit_learns_copy needs scikit-learn (requirements-dev.txt): it imports it
itself, so the rest of this file runs without it.
"""

import sys
from pathlib import Path

import numpy as np
import pytest

from mlpkit import datasets

#: tools/publish.py writes this marker into the student edition, whose requirements-dev.txt has no scikit-learn.
IN_STUDENT_EDITION = (Path(__file__).resolve().parents[1] / ".course-edition").is_file()


def test_spiral_defaults_to_five_classes_columns_are_samples():
    X, labels = datasets.spiral()
    assert X.shape == (2, 500) and labels.shape == (500,)
    np.testing.assert_array_equal(np.bincount(labels), [100] * 5)
    X2, _ = datasets.spiral(seed=0)
    np.testing.assert_array_equal(X, X2)
    assert not np.array_equal(X, datasets.spiral(seed=1)[0])
    assert datasets.spiral(n_per_class=10, K=3)[0].shape == (2, 30)


def test_digits_ship_inside_mlpkit_and_are_scaled(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)                  # `import sklearn` now fails
    X, labels = datasets.digits()
    assert X.shape == (64, 1797) and labels.shape == (1797,)
    assert X.dtype == np.float64 and labels.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    np.testing.assert_array_equal(np.unique(X * 16), np.arange(17))    # the counts 0..16, divided by 16
    assert set(labels) == set(range(10))
    np.testing.assert_array_equal(np.bincount(labels), [178, 182, 177, 183, 181, 182, 181, 179, 174, 180])


def test_shipped_digits_equal_scikit_learns_copy():
    if IN_STUDENT_EDITION:
        pytest.importorskip("sklearn", reason="the student edition does not install scikit-learn")
    from sklearn.datasets import load_digits

    data = load_digits()
    X, labels = datasets.digits()
    expected_X = data.data.T / 16.0                                    # what digits() returned with scikit-learn
    np.testing.assert_array_equal(X, expected_X)
    assert X.dtype == expected_X.dtype and X.strides == expected_X.strides     # the same layout (Fortran order)
    np.testing.assert_array_equal(labels, data.target)
    assert labels.dtype == data.target.dtype == np.int64


def test_digits_without_the_data_file_say_how_to_fix_it(monkeypatch, tmp_path):
    monkeypatch.setattr(datasets.resources, "files", lambda package: tmp_path)    # a package without data/
    with pytest.raises(FileNotFoundError, match=r"digits\.npz is missing: mlpkit's package data was not installed"):
        datasets.digits()


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
