"""Small data sets, generated or shipped inside mlpkit: nothing is downloaded.

Every function returns ``X`` with columns as samples, shape (n_features, N),
and integer ``labels`` of shape (N,).

The digits in ``data/digits.npz`` are the test set of the UCI ML hand-written digits
data: E. Alpaydin and C. Kaynak (1998), "Optical Recognition of Handwritten Digits",
UCI Machine Learning Repository, https://doi.org/10.24432/C50P49, licensed CC BY 4.0.
They are the copy scikit-learn ships (``sklearn.datasets.load_digits``, BSD-3-Clause),
stored as uint8; ``data/README.md`` says how the file was made.
"""

from __future__ import annotations

from importlib import resources

import numpy as np

from ._checks import as_float_array

__all__ = ["spiral", "digits", "one_hot", "train_test_split"]


def _positive_int(name: str, value: int, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value!r}")
    return int(value)


def spiral(n_per_class: int = 100, K: int = 5, noise: float = 0.2, seed: int | None = 0
           ) -> tuple[np.ndarray, np.ndarray]:
    """K interleaved spiral arms in the plane (the slides' 5-class example).

    Returns ``X`` (2, K * n_per_class) and ``labels`` (K * n_per_class,). ``noise``
    is the standard deviation of the angle jitter, in radians.
    """
    n_per_class = _positive_int("n_per_class", n_per_class)
    K = _positive_int("K", K, 2)
    rng = np.random.default_rng(seed)
    radius = np.tile(np.linspace(0.05, 1.0, n_per_class), K)
    labels = np.repeat(np.arange(K), n_per_class)
    angle = labels * (2 * np.pi / K) + radius * 4.0 + rng.normal(0.0, noise, K * n_per_class)
    X = np.stack([radius * np.sin(angle), radius * np.cos(angle)])
    return X, labels


def digits() -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 8x8 handwritten digits that ship inside mlpkit (no download; origin in the module docstring).

    Returns ``X`` (64, 1797) with pixel values scaled to [0, 1] and ``labels`` (1797,) in 0..9.
    """
    path = resources.files("mlpkit") / "data" / "digits.npz"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: mlpkit's package data was not installed. Reinstall mlpkit "
                                f"from the repository root (pip install -e .) or copy mlpkit/data/ next to datasets.py")
    with path.open("rb") as file, np.load(file) as data:
        pixels, labels = data["pixels"], data["labels"]      # uint8: (1797, 64) counts 0..16, (1797,) digits 0..9
    return pixels.T.astype(np.float64) / 16.0, labels.astype(np.int64)


def one_hot(labels: np.ndarray, K: int) -> np.ndarray:
    """Integer labels (N,) -> one-hot matrix (K, N): column i has a 1 in row labels[i]."""
    K = _positive_int("K", K)
    labels = np.asarray(labels)
    if labels.ndim != 1 or (labels.size and labels.dtype.kind not in "iu"):
        raise ValueError(f"labels: expected a 1-D array of integer class labels, got shape {labels.shape} "
                         f"and dtype {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() >= K):
        raise ValueError(f"labels: expected values in 0..{K - 1} for K={K}, got values from "
                         f"{labels.min()} to {labels.max()}")
    Y = np.zeros((K, labels.size))
    Y[labels, np.arange(labels.size)] = 1.0
    return Y


def train_test_split(X: np.ndarray, labels: np.ndarray, test_fraction: float = 0.2, seed: int | None = 0
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Seeded, stratified split of the columns: returns X_train, X_test, labels_train, labels_test.

    Each class contributes ``round(test_fraction * its count)`` samples to the
    test set, so the class balance is the same in both parts.
    """
    X = as_float_array("X", X, ndim=2)
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] != X.shape[1]:
        raise ValueError(f"labels has shape {labels.shape}, expected ({X.shape[1]},): one label per column of X")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction: expected a number between 0 and 1, got {test_fraction!r}")
    rng = np.random.default_rng(seed)
    test = []
    for k in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == k))
        test.extend(members[: int(round(test_fraction * members.size))])
    is_test = np.zeros(labels.size, dtype=bool)
    is_test[test] = True
    train_idx, test_idx = rng.permutation(np.flatnonzero(~is_test)), rng.permutation(np.flatnonzero(is_test))
    return X[:, train_idx], X[:, test_idx], labels[train_idx], labels[test_idx]
