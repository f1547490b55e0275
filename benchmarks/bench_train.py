"""How fast is one epoch of ``mlpkit.train``? A Markdown table against a careful NumPy loop, scikit-learn and PyTorch.

The task: one epoch of mini-batch SGD on the digits data set (``mlpkit.datasets.digits()``, all 1797 samples,
64 features) with a 64-128-64-10 ReLU MLP, softmax output and mean cross-entropy, plain SGD with lr=0.1, batches of
32 (the last batch has 1797 % 32 = 5 samples), reshuffled every epoch, float64 throughout. Contenders:

1. ``mlpkit.train(model, X, labels, epochs=1, batch_size=32, lr=0.1, progress=False)``, one call per epoch
   (``train`` seeds its shuffle with its default ``seed=0``, so every call visits the samples in the same order;
   the shuffle is still done, and paid for, on every call).
2. A careful plain NumPy loop: the same column-major math, with every array it writes preallocated (one set of
   buffers per batch size), ``out=`` arguments and in-place updates, and one shuffle per epoch into preallocated
   arrays so that batches are slices. A start-up self-check compares its gradients with ``mlpkit.MLP.backward``.
3. scikit-learn's ``MLPClassifier(solver="sgd", ...)`` with ``partial_fit`` (rows are samples there). One
   ``partial_fit`` call is one full epoch over all samples in batches of ``batch_size``, shuffled first when
   ``shuffle=True``. ``partial_fit`` re-creates its random state from ``random_state`` on every call, so an integer
   seed would repeat the same order each epoch; a ``np.random.RandomState`` instance is passed so that it advances.
4. PyTorch on the CPU, if it imports: ``nn.Sequential`` of Linear/ReLU layers, ``CrossEntropyLoss`` and
   ``torch.optim.SGD``, float64, batches sliced from a ``randperm``-shuffled copy of the data, with
   ``torch.set_num_threads`` set to the number of threads NumPy's BLAS uses (``--torch-threads`` overrides it).
   With OpenMP threads on a small virtual machine, PyTorch's time per epoch can jump by 10-100x from one epoch to
   the next (threads spin-waiting for each other); compare with ``--torch-threads 1`` before drawing conclusions.

Every contender also accumulates the epoch's mean training loss (the last column is a sanity check that all of them
train). The contenders run interleaved: one uncounted warm-up round, then ``--rounds`` rounds of one epoch each,
contender after contender. The table gives the median and best of those rounds in samples per second, and their
ratio to the careful NumPy loop.

The numbers depend on the machine and on how the BLAS is set up: the number of threads (``OPENBLAS_NUM_THREADS``,
``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``), the kernel OpenBLAS picks (``OPENBLAS_CORETYPE``), other load on the
machine, and the library versions. The script prints them and changes none of them (apart from telling PyTorch to
use as many threads as NumPy's BLAS). With batches of 32 the matrices are small, so much of an epoch is per-call
Python and NumPy overhead rather than floating-point work.

Usage::

    python benchmarks/bench_train.py             # 7 rounds
    python benchmarks/bench_train.py --rounds 15
    python benchmarks/bench_train.py --quick     # a smoke run with few rounds
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType

import numpy as np
import sklearn
import threadpoolctl
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

import mlpkit

SIZES = (64, 128, 64, 10)
BATCH_SIZE = 32
LR = 0.1
QUICK_ROUNDS = 2
SELF_CHECK_TOLERANCE = 1e-10
NUMPY_NAME = "numpy (careful loop)"

EpochFn = Callable[[], float]
"""Runs one epoch of training and returns that epoch's mean training loss."""


# -- environment ---------------------------------------------------------------------------------------------------


def import_torch() -> ModuleType | None:
    """PyTorch if it imports, else None (it is optional and never a dependency of mlpkit)."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def blas_threads() -> int:
    """The number of threads NumPy's BLAS uses (the first BLAS threadpoolctl reports, NumPy's if it can tell)."""
    blas = [info for info in threadpoolctl.threadpool_info() if info.get("user_api") == "blas"]
    if not blas:
        return 1
    numpy_own = [info for info in blas if "numpy" in info.get("filepath", "")]
    return int((numpy_own or blas)[0]["num_threads"])


def describe_pool(info: dict) -> str:
    """One thread pool from ``threadpoolctl.threadpool_info()`` on one line."""
    details = [f"{info.get('internal_api')} {info.get('version') or ''}".strip(),
               f"{info.get('num_threads')} threads"]
    for key in ("threading_layer", "architecture"):
        if info.get(key):
            details.append(f"{key}={info[key]}")
    return f"{info.get('user_api')}: " + ", ".join(details) + f" ({os.path.basename(info.get('filepath', '?'))})"


def environment_lines(torch: ModuleType | None) -> list[str]:
    """Markdown bullet lines describing what the numbers depend on."""
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    lines = [
        f"- Python {platform.python_version()} ({platform.python_implementation()}), {platform.platform()}",
        f"- CPU: {platform.processor() or platform.machine()}, os.cpu_count()={os.cpu_count()}, "
        f"usable by this process: {affinity}",
        f"- numpy {np.__version__}, scikit-learn {sklearn.__version__}, threadpoolctl {threadpoolctl.__version__}, "
        f"mlpkit {mlpkit.__version__}, torch {torch.__version__ if torch is not None else 'not installed'}",
    ]
    if hasattr(os, "getloadavg"):
        lines.append("- load average (1, 5, 15 min) at start: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())
                     + " (other work on the machine slows every contender, unevenly)")
    for name in ("OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        lines.append(f"- {name}={os.environ[name]}" if name in os.environ else f"- {name} not set")
    pools = threadpoolctl.threadpool_info()
    lines += [f"- {describe_pool(info)}" for info in pools] or ["- threadpoolctl found no BLAS / OpenMP pools"]
    return lines


# -- the data ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Data:
    """The digits: ``X`` (64, N), columns are samples, exactly as ``mlpkit.datasets.digits()`` returns it (a
    Fortran-ordered array); one-hot ``Y`` (10, N); ``rows`` = X.T as a C-contiguous (N, 64) array for sklearn / torch.
    """

    X: np.ndarray
    labels: np.ndarray
    Y: np.ndarray
    rows: np.ndarray

    @property
    def n(self) -> int:
        """Number of samples."""
        return self.X.shape[1]


def load_data() -> Data:
    """All 1797 digits in float64, prepared once, outside any timing."""
    X, labels = mlpkit.datasets.digits()
    Y = mlpkit.datasets.one_hot(labels, SIZES[-1])
    return Data(X=X, labels=labels, Y=Y, rows=np.ascontiguousarray(X.T))


# -- the careful NumPy loop ----------------------------------------------------------------------------------------


@dataclass
class BatchBuffers:
    """Every per-batch array of the careful loop, for one batch size ``B`` (the layer widths come from ``sizes``)."""

    B: int
    sizes: tuple[int, ...]
    z: list[np.ndarray] = field(init=False)      # z[l] (n_l, B); z[L] becomes y_hat in place (softmax)
    a: list[np.ndarray] = field(init=False)      # a[l] = relu(z[l]) for hidden layers
    mask: list[np.ndarray] = field(init=False)   # 1.0 where z[l] > 0, else 0.0 (float: faster than bool)
    grad_z: list[np.ndarray] = field(init=False)  # dL/dz[l] (and dL/da[l] before the mask is applied)
    col: np.ndarray = field(init=False)          # (B,) column max, then column sum, of the logits
    picked: np.ndarray = field(init=False)       # (B,) probability of the true class

    def __post_init__(self) -> None:
        L = len(self.sizes) - 1
        self.z = [np.empty((n, self.B)) for n in self.sizes[1:]]
        self.a = [np.empty((n, self.B)) for n in self.sizes[1:L]]
        self.mask = [np.empty((n, self.B)) for n in self.sizes[1:L]]
        self.grad_z = [np.empty((n, self.B)) for n in self.sizes[1:]]
        self.col = np.empty(self.B)
        self.picked = np.empty(self.B)


class CarefulLoop:
    """Mini-batch SGD for a ReLU MLP with softmax + cross-entropy, in plain NumPy, allocating almost nothing per step.

    ``W[l]`` (n_l, n_{l-1}), ``b[l]`` (n_l, 1), columns are samples, exactly as in ``mlpkit.MLP`` (0-based lists
    here: ``W[0]`` is the slides' W1). They are views into one flat array ``theta``, and ``dW`` / ``db`` views into
    one flat ``grad``, so the update is two ufunc calls instead of two per parameter. ``gradients`` fills ``dW`` /
    ``db`` for a batch; ``step`` applies ``W -= lr * dW`` to all of them at once.
    """

    def __init__(self, params: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray, lr: float = LR,
                 batch_size: int = BATCH_SIZE, seed: int = 0) -> None:
        n_layers = len(params) // 2
        keys = [f"{kind}{l}" for l in range(1, n_layers + 1) for kind in "Wb"]
        self.theta = np.empty(sum(params[key].size for key in keys))    # all parameters, one flat array ...
        self.grad = np.empty_like(self.theta)                           # ... and all gradients: a 2-call update
        views, grad_views, offset = {}, {}, 0
        for key in keys:
            shape, size = params[key].shape, params[key].size
            views[key] = self.theta[offset:offset + size].reshape(shape)   # C-contiguous views
            grad_views[key] = self.grad[offset:offset + size].reshape(shape)
            views[key][...] = params[key]
            offset += size
        self.W = [views[f"W{l}"] for l in range(1, n_layers + 1)]
        self.b = [views[f"b{l}"] for l in range(1, n_layers + 1)]
        self.dW = [grad_views[f"W{l}"] for l in range(1, n_layers + 1)]
        self.db = [grad_views[f"b{l}"] for l in range(1, n_layers + 1)]
        self.sizes = (self.W[0].shape[1], *(w.shape[0] for w in self.W))
        self.lr, self.batch_size = lr, batch_size
        self.X, self.Y = np.ascontiguousarray(X), np.ascontiguousarray(Y)   # np.take is fastest C to C
        self.X_epoch, self.Y_epoch = np.empty(X.shape), np.empty(Y.shape)
        self.order = np.arange(X.shape[1])
        self.rng = np.random.default_rng(seed)
        self.eps = mlpkit.losses.clip_eps(np.dtype(np.float64))
        self._buffers: dict[int, BatchBuffers] = {}

    def buffers(self, B: int) -> BatchBuffers:
        """The buffers for batch size ``B``, created the first time that size is seen."""
        buf = self._buffers.get(B)
        if buf is None:
            buf = self._buffers[B] = BatchBuffers(B, self.sizes)
        return buf

    def forward(self, X_b: np.ndarray, buf: BatchBuffers) -> np.ndarray:
        """z = W @ a + b, a = relu(z) for hidden layers, softmax on the last; returns y_hat (a view of buf.z[-1])."""
        a = X_b
        last = len(self.W) - 1
        for l, (W, b) in enumerate(zip(self.W, self.b, strict=True)):
            z = buf.z[l]
            np.matmul(W, a, out=z)
            np.add(z, b, out=z)
            if l < last:
                np.greater(z, 0.0, out=buf.mask[l])
                a = np.maximum(z, 0.0, out=buf.a[l])
        y_hat = buf.z[last]                                  # softmax in place, max-shifted like mlpkit.ops.softmax
        np.maximum.reduce(y_hat, axis=0, out=buf.col)        # ufunc.reduce: np.max / np.sum add ~1.5 us of Python
        np.subtract(y_hat, buf.col, out=y_hat)               # (B,) broadcasts over the rows: one value per column
        np.exp(y_hat, out=y_hat)
        np.add.reduce(y_hat, axis=0, out=buf.col)
        np.divide(y_hat, buf.col, out=y_hat)
        return y_hat

    def loss(self, y_hat: np.ndarray, Y_b: np.ndarray, buf: BatchBuffers) -> float:
        """Mean cross-entropy with one-hot ``Y_b``, probabilities clipped like ``mlpkit.losses.cross_entropy``."""
        scratch = buf.grad_z[-1]                             # free until backward() overwrites it
        np.multiply(y_hat, Y_b, out=scratch)
        np.add.reduce(scratch, axis=0, out=buf.picked)
        np.clip(buf.picked, self.eps, 1.0 - self.eps, out=buf.picked)
        np.log(buf.picked, out=buf.picked)
        return -float(np.add.reduce(buf.picked)) / buf.B

    def backward(self, X_b: np.ndarray, Y_b: np.ndarray, y_hat: np.ndarray, buf: BatchBuffers) -> None:
        """Fill dW, db: dL/dz[L] = (y_hat - y)/B, dW = dz @ a_prev.T, db = row sums, relu backward with the mask.

        The mask is 0 where z == 0 exactly, where mlpkit's relu_derivative takes 0.5; with these data such a z
        does not occur (the self-check would see it), and the gradient for the input X is not computed (unused).
        """
        last = len(self.W) - 1
        dz = buf.grad_z[last]
        np.subtract(y_hat, Y_b, out=dz)
        np.multiply(dz, 1.0 / buf.B, out=dz)
        for l in range(last, -1, -1):
            a_prev = X_b if l == 0 else buf.a[l - 1]
            np.matmul(dz, a_prev.T, out=self.dW[l])
            np.add.reduce(dz, axis=1, keepdims=True, out=self.db[l])
            if l > 0:
                da = buf.grad_z[l - 1]
                np.matmul(self.W[l].T, dz, out=da)
                dz = np.multiply(da, buf.mask[l - 1], out=da)

    def gradients(self, X_b: np.ndarray, Y_b: np.ndarray) -> float:
        """Forward, loss and backward for one batch; fills dW / db and returns the batch's mean loss."""
        buf = self.buffers(X_b.shape[1])
        y_hat = self.forward(X_b, buf)
        L = self.loss(y_hat, Y_b, buf)
        self.backward(X_b, Y_b, y_hat, buf)
        return L

    def step(self) -> None:
        """In-place SGD on the flat parameter array: theta -= lr * grad (grad is scaled in place)."""
        np.multiply(self.grad, self.lr, out=self.grad)
        np.subtract(self.theta, self.grad, out=self.theta)

    def epoch(self) -> float:
        """Shuffle once into the preallocated epoch arrays, then SGD over slices; returns the epoch's mean loss."""
        self.rng.shuffle(self.order)
        np.take(self.X, self.order, axis=1, out=self.X_epoch, mode="clip")  # "raise" would buffer
        np.take(self.Y, self.order, axis=1, out=self.Y_epoch, mode="clip")
        N, B = self.X.shape[1], self.batch_size
        loss_sum = 0.0
        for start in range(0, N, B):
            stop = min(start + B, N)
            loss_sum += self.gradients(self.X_epoch[:, start:stop], self.Y_epoch[:, start:stop]) * (stop - start)
            self.step()
        return loss_sum / N


def relative_error(got: np.ndarray, expected: np.ndarray) -> float:
    """max |got - expected| / max |expected| (or the absolute error if ``expected`` is all zeros)."""
    scale = float(np.max(np.abs(expected)))
    error = float(np.max(np.abs(got - expected)))
    return error / scale if scale > 0 else error


def self_check(data: Data) -> None:
    """Abort unless the careful loop's loss and gradients equal mlpkit's for one batch of each size used."""
    model = mlpkit.MLP(list(SIZES), seed=123)
    loop = CarefulLoop(model.params, data.X, data.Y)
    last_size = data.n % BATCH_SIZE or BATCH_SIZE
    for start, B in ((0, BATCH_SIZE), (data.n - last_size, last_size)):
        X_b, Y_b = data.X[:, start:start + B], data.Y[:, start:start + B]
        y_hat, buffer = model.forward(X_b)
        L = model.loss(Y_b, y_hat)
        expected = model.backward(L, Y_b, y_hat, buffer)
        loss = loop.gradients(X_b, Y_b)
        got = {f"W{l + 1}": w for l, w in enumerate(loop.dW)} | {f"b{l + 1}": b for l, b in enumerate(loop.db)}
        errors = {key: relative_error(got[key], expected[key]) for key in expected}
        errors["loss"] = abs(loss - L) / abs(L)
        bad = {key: err for key, err in errors.items() if not err <= SELF_CHECK_TOLERANCE}
        if bad:
            details = ", ".join(f"{key}: {err:.3g}" for key, err in bad.items())
            sys.exit(f"self-check failed: the careful NumPy loop disagrees with mlpkit.MLP.backward for a batch of "
                     f"{B} (relative errors {details}; tolerance {SELF_CHECK_TOLERANCE:g})")


# -- the contenders ------------------------------------------------------------------------------------------------


def mlpkit_contender(data: Data) -> EpochFn:
    """One ``mlpkit.train`` call with epochs=1 per epoch; the model is created once."""
    model = mlpkit.MLP(list(SIZES), seed=0)

    def run() -> float:
        history = mlpkit.train(model, data.X, data.labels, epochs=1, batch_size=BATCH_SIZE, lr=LR, progress=False)
        return history["loss"][-1]

    return run


def numpy_contender(data: Data) -> EpochFn:
    """The careful loop, starting from the same He-initialised weights as the mlpkit contender."""
    return CarefulLoop(mlpkit.MLP(list(SIZES), seed=0).params, data.X, data.Y).epoch


def sklearn_contender(data: Data) -> EpochFn:
    """``MLPClassifier.partial_fit``: one call is one shuffled epoch over all samples (see the module docstring)."""
    clf = MLPClassifier(hidden_layer_sizes=SIZES[1:-1], solver="sgd", batch_size=BATCH_SIZE, learning_rate_init=LR,
                        momentum=0, nesterovs_momentum=False, alpha=0, max_iter=1, shuffle=True,
                        random_state=np.random.RandomState(0))
    classes = np.arange(SIZES[-1])

    def run() -> float:
        seen_before = getattr(clf, "t_", 0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.partial_fit(data.rows, data.labels, classes=classes)
        if clf.t_ - seen_before != data.n:
            sys.exit(f"scikit-learn's partial_fit saw {clf.t_ - seen_before} samples, expected one epoch of {data.n}")
        return float(clf.loss_)

    return run


def torch_contender(torch: ModuleType, data: Data, threads: int) -> EpochFn:
    """PyTorch on the CPU in float64, with ``threads`` intra-op threads."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    nn = torch.nn
    model = nn.Sequential(nn.Linear(SIZES[0], SIZES[1]), nn.ReLU(), nn.Linear(SIZES[1], SIZES[2]), nn.ReLU(),
                          nn.Linear(SIZES[2], SIZES[3])).double()
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    X = torch.from_numpy(data.rows)
    y = torch.from_numpy(data.labels)
    generator = torch.Generator().manual_seed(0)

    def run() -> float:
        order = torch.randperm(data.n, generator=generator)
        X_epoch, y_epoch = X[order], y[order]
        loss_sum = 0.0
        for start in range(0, data.n, BATCH_SIZE):
            X_b, y_b = X_epoch[start:start + BATCH_SIZE], y_epoch[start:start + BATCH_SIZE]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(X_b), y_b)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * X_b.shape[0]
        return loss_sum / data.n

    return run


# -- timing and the table ------------------------------------------------------------------------------------------


@dataclass
class Result:
    """Per-round epoch times (seconds) of one contender, or why it did not run."""

    name: str
    times: list[float] = field(default_factory=list)
    last_loss: float = float("nan")
    skipped: str = ""


def time_epoch(run: EpochFn) -> tuple[float, float]:
    """Wall time of one epoch (after a garbage collection that is not timed) and the epoch's loss."""
    gc.collect()
    start = time.perf_counter()
    loss = run()
    return time.perf_counter() - start, loss


def run_rounds(contenders: dict[str, EpochFn], rounds: int) -> dict[str, Result]:
    """One uncounted warm-up round, then ``rounds`` round-robin rounds of one epoch per contender."""
    results = {name: Result(name) for name in contenders}
    for round_index in range(rounds + 1):
        for name, run in contenders.items():
            elapsed, loss = time_epoch(run)
            if round_index > 0:
                results[name].times.append(elapsed)
                results[name].last_loss = loss
    return results


def format_table(results: list[Result], n_samples: int) -> list[str]:
    """The Markdown table: median and best samples/s, ratio to the careful NumPy loop, last epoch's loss."""
    lines = ["| contender | median samples/s | best samples/s | median ms/epoch | median ratio to numpy | "
             "best ratio to numpy | last epoch loss |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    reference = next(r for r in results if r.name == NUMPY_NAME)
    ref_median, ref_best = n_samples / statistics.median(reference.times), n_samples / min(reference.times)
    for r in results:
        if r.skipped:
            lines.append(f"| {r.name} | {r.skipped} | – | – | – | – | – |")
            continue
        median, best = n_samples / statistics.median(r.times), n_samples / min(r.times)
        lines.append(f"| {r.name} | {median:.0f} | {best:.0f} | {1e3 * statistics.median(r.times):.2f} | "
                     f"{median / ref_median:.2f}x | {best / ref_best:.2f}x | {r.last_loss:.4f} |")
    return lines


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds (default 7), after one warm-up round")
    parser.add_argument("--quick", action="store_true", help=f"smoke run: at most {QUICK_ROUNDS} timed rounds")
    parser.add_argument("--torch-threads", type=int, default=None,
                        help="torch.set_num_threads value (default: as many as NumPy's BLAS uses)")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.torch_threads is not None and args.torch_threads < 1:
        parser.error("--torch-threads must be at least 1")
    if args.quick:
        args.rounds = min(args.rounds, QUICK_ROUNDS)
    return args


def torch_label(torch: ModuleType | None, threads: int) -> str:
    """The torch row's name, with the version and thread count when it is installed."""
    if torch is None:
        return "torch (CPU)"
    return f"torch {torch.__version__} (CPU, {threads} thread{'s' if threads != 1 else ''})"


def build_contenders(data: Data, torch: ModuleType | None, threads: int) -> dict[str, EpochFn]:
    """The epoch functions in table order; torch only when it is installed."""
    contenders = {
        "mlpkit.train": mlpkit_contender(data),
        NUMPY_NAME: numpy_contender(data),
        "scikit-learn MLPClassifier.partial_fit": sklearn_contender(data),
    }
    if torch is not None:
        contenders[torch_label(torch, threads)] = torch_contender(torch, data, threads)
    return contenders


def main(argv: list[str] | None = None) -> int:
    """Print the environment, run the self-check and the rounds, print the table."""
    args = parse_args(argv)
    torch = import_torch()
    threads = args.torch_threads or blas_threads()
    data = load_data()
    print("## Environment\n")
    print("\n".join(environment_lines(torch)))
    self_check(data)
    print(f"- self-check: the careful NumPy loop's loss and gradients match mlpkit.MLP.backward "
          f"(relative error <= {SELF_CHECK_TOLERANCE:g})")

    results = run_rounds(build_contenders(data, torch, threads), args.rounds)
    if torch is None:
        name = torch_label(None, threads)
        results[name] = Result(name, skipped="not installed")

    print(f"\n## One epoch: digits, N={data.n}, MLP {'-'.join(map(str, SIZES))} ReLU, softmax + cross-entropy, "
          f"SGD lr={LR}, batch {BATCH_SIZE}, float64\n")
    print(f"{args.rounds} timed rounds after 1 warm-up round, contenders interleaved; higher samples/s is faster.\n")
    print("\n".join(format_table(list(results.values()), data.n)))
    if hasattr(os, "getloadavg"):
        print("\nload average (1, 5, 15 min) at the end: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
