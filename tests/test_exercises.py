"""The graded exercises (nbgrader source in solutions/backprop): every reference answer passes its visible check
and agrees with mlpkit; correct answers written another way pass and typical mistakes are named and fail; the
notebooks are well-formed nbgrader sources whose test cells hold visible checks only; and they run top to bottom
in seconds.

The hidden tests (tools/referee) are tested in test_referee.py, the nbgrader pipeline in test_grading_pipeline.py.
"""

from __future__ import annotations

import ast
import copy
import re
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest

import mlpkit
from coursekit import feedback
from mlpkit import MLP, losses, ops
from mlpkit.datasets import one_hot
from mlpkit.graph import Value, topological_order
from tests.exercise_variants import FAILS, NOTEBOOK_OF, POINTS, TOTAL_POINTS, VARIANTS
from tools.referee.hidden import TESTS

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "solutions" / "backprop"
NOTEBOOKS = sorted(set(NOTEBOOK_OF.values()))
FUNCTIONS = [g for g in NOTEBOOK_OF if g != "graph_by_hand"]      # graded functions (all but the typed numbers)


def read(name: str):
    return nbformat.read(SOURCE / name, as_version=4)


def nbgrader(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def cells_by_id(nb) -> dict:
    return {nbgrader(c)["grade_id"]: c for c in nb.cells}


def namespace(notebook: str, replacements: dict[str, str] | None = None) -> dict:
    """Run the notebook's setup and graph cells and all its answer cells (reference or replaced) in one dict."""
    replacements = replacements or {}
    ns: dict = {}
    for cell in read(notebook).cells:
        meta = nbgrader(cell)
        if meta["grade_id"] in ("setup", "graph_definition"):
            exec(cell.source, ns)
        elif meta["solution"]:
            exec(replacements.get(meta["grade_id"], cell.source), ns)
    return ns


def visible(grade_id: str, ns: dict) -> None:
    if grade_id == "graph_by_hand":
        feedback.check_graph_by_hand(ns["build"], ns["values"], {"x": ns["dL_dx"], "y": ns["dL_dy"],
                                                                 "z": ns["dL_dz"]})
    else:
        getattr(feedback, f"check_{grade_id}")(ns[grade_id])


# -- (1) the reference answers -------------------------------------------------------------------------------
@pytest.mark.parametrize("grade_id", list(NOTEBOOK_OF))
def test_reference_answer_passes_its_visible_check(grade_id, capsys):
    ns = namespace(NOTEBOOK_OF[grade_id])
    visible(grade_id, ns)
    assert capsys.readouterr().out.startswith("\N{CHECK MARK}")


def test_graph_by_hand_is_a_new_graph_with_a_shared_input_and_exact_answers():
    ns = namespace(NOTEBOOK_OF["graph_by_hand"])
    inputs = {name: Value(v, name=name) for name, v in ns["values"].items()}
    L = ns["build"](**inputs)
    L.backward()
    nodes = topological_order(L)
    uses = {name: sum(child is node for n in nodes for child in n.children) for name, node in inputs.items()}
    assert sorted(uses.values()) == [1, 1, 2], "exactly one input should be used on two paths"
    assert {n.op for n in nodes} & {"sigmoid", "relu", "exp", "log"}, "the graph needs a non-linearity"
    answers = {name: ns[f"dL_d{name}"] for name in inputs}
    for name, node in inputs.items():
        assert answers[name] == node.grad                       # exact, not just close
        assert round(answers[name], 2) == answers[name]         # a short decimal


def test_layer_answers_agree_with_mlpkit_on_random_inputs():
    ns = namespace("1_layers_and_jacobian.ipynb")
    rng = np.random.default_rng(0)
    for _ in range(10):
        N, K, P = rng.integers(1, 8, size=3)
        w, x, dL_dz = rng.normal(size=(N, K)), rng.normal(size=(K, P)), rng.normal(size=(N, P))
        for got, expected in zip(ns["matmul_backward"](dL_dz, w, x), ops.matmul_backward(dL_dz, w, x)):
            np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)
        t, up = rng.normal(0, 3, size=(K, P)), rng.normal(size=(K, P))
        np.testing.assert_allclose(ns["sigmoid_backward"](up, t), ops.sigmoid_backward(up, t), rtol=1e-12)
        t[rng.random(t.shape) < 0.3] = 0.0                     # exact zeros: ReLU's kink
        np.testing.assert_array_equal(ns["relu_backward"](up, t), ops.relu_backward(up, t))


def test_autodiff_answers_agree_with_the_graph_engine_on_random_graphs():
    from tools.referee.hidden_graph import _run, random_program

    ns = namespace("0_graphs_and_autodiff.ipynb")
    rng = np.random.default_rng(3)
    for _ in range(20):
        program = random_program(rng, int(rng.integers(3, 60)))
        ours, theirs = _run(program), _run(program)
        order = ns["topological_order"](ours[-1])
        assert len(order) == len({id(n) for n in order}) == len(ours) and order[-1] is ours[-1]
        position = {id(n): k for k, n in enumerate(order)}
        assert all(position[id(c)] < position[id(n)] for n in order for c in n.children)
        for node in ours:
            node.grad = 7.0                                     # left over from an earlier pass
        ns["graph_backward"](ours[-1])
        ns["graph_backward"](ours[-1])                          # twice: the same result
        theirs[-1].backward()
        # the same sums, added up in another order
        np.testing.assert_allclose([n.grad for n in ours], [n.grad for n in theirs], rtol=1e-12)


def test_jacobian_answers_agree_with_finite_differences():
    ns = namespace("1_layers_and_jacobian.ipynb")
    rng = np.random.default_rng(4)
    for _ in range(10):
        K, B = int(rng.integers(1, 8)), int(rng.integers(1, 9))
        z = rng.normal(0, 3, size=(K, 1))
        np.testing.assert_allclose(ns["softmax_jacobian"](z), mlpkit.gradcheck.jacobian(ops.softmax, z).reshape(K, K),
                                   atol=1e-8)
        z, up = rng.normal(0, 3, size=(K, B)), rng.normal(size=(K, B))
        expected = mlpkit.gradcheck.numerical_gradient(lambda v, up=up: float((ops.softmax(v) * up).sum()), z)
        np.testing.assert_allclose(ns["softmax_backward"](up, z), expected, atol=1e-8)
        columns = np.hstack([ns["softmax_jacobian"](z[:, [b]]).T @ up[:, [b]] for b in range(B)])
        np.testing.assert_allclose(ns["softmax_backward"](up, z), columns, atol=1e-14)


def test_the_chain_softmax_backward_of_the_cross_entropy_gradient_is_y_hat_minus_y_over_B():
    ns = namespace("1_layers_and_jacobian.ipynb")
    rng = np.random.default_rng(5)
    z, y = rng.normal(size=(6, 5)), one_hot(rng.integers(0, 6, size=5), 6)
    y_hat = ops.softmax(z)
    chained = ns["softmax_backward"](-y / (5 * y_hat), z)
    np.testing.assert_allclose(chained, losses.softmax_cross_entropy_backward(y, y_hat), atol=1e-14)


def test_loss_answers_agree_with_mlpkit_on_random_inputs():
    ns = namespace("2_mlp_and_training.ipynb")
    rng = np.random.default_rng(1)
    for _ in range(10):
        K, B = int(rng.integers(2, 7)), int(rng.integers(1, 9))
        y, y_hat = rng.integers(0, 2, size=(1, B)).astype(float), rng.uniform(0.01, 0.99, size=(1, B))
        np.testing.assert_allclose(ns["binary_cross_entropy_backward"](y, y_hat),
                                   losses.binary_cross_entropy_backward(y, y_hat), rtol=1e-12)
        y, y_hat = one_hot(rng.integers(0, K, size=B), K), ops.softmax(rng.normal(0, 2, size=(K, B)))
        np.testing.assert_allclose(ns["softmax_cross_entropy_backward"](y, y_hat),
                                   losses.softmax_cross_entropy_backward(y, y_hat), rtol=1e-12)


def test_backward_answer_agrees_with_mlp_backward():
    ns = namespace("2_mlp_and_training.ipynb")
    rng = np.random.default_rng(2)
    for _ in range(5):
        sizes = [int(n) for n in rng.integers(1, 9, size=3)] + [int(rng.integers(2, 6))]
        B = int(rng.integers(1, 10))
        model = MLP(sizes, seed=int(rng.integers(1000)))
        X, y = rng.normal(size=(sizes[0], B)), one_hot(rng.integers(0, sizes[-1], size=B), sizes[-1])
        y_hat, buffer = model.forward(X)
        L = model.loss(y, y_hat)
        grads = ns["backward"](L, y, y_hat, buffer, model.params)
        expected = model.backward(L, y, y_hat, buffer)
        assert grads.keys() == expected.keys()
        for key in expected:
            np.testing.assert_allclose(grads[key], expected[key], rtol=1e-12, atol=1e-15)


def test_train_sgd_answer_matches_mlpkit_train():
    ns = namespace("2_mlp_and_training.ipynb")
    X, labels = mlpkit.datasets.spiral(30, K=3, seed=4)
    ours, theirs = MLP([2, 8, 8, 3], seed=4), MLP([2, 8, 8, 3], seed=4)
    history = ns["train_sgd"](ours, X, one_hot(labels, 3), 5, 16, 0.3, 7)
    expected = mlpkit.train(theirs, X, labels, epochs=5, batch_size=16, lr=0.3, seed=7, progress=False)
    assert isinstance(history, list) and len(history) == 5
    np.testing.assert_allclose(history, expected["loss"], rtol=1e-10)
    for key in theirs.params:
        np.testing.assert_allclose(ours.params[key], theirs.params[key], rtol=1e-10, atol=1e-12)


# -- (2) answers written another way, and typical mistakes ---------------------------------------------------
def test_variant_tables_are_consistent():
    assert set(FAILS) == set(VARIANTS)
    assert {"loops", "float32", "matmul_transposed", "softmax_sum_not_mean", "bce_slides_sign",
            "sigmoid_at_output", "relu_zero_at_kink", "backward_at_output", "train_not_in_place"} <= set(VARIANTS)
    for variant, cells in VARIANTS.items():
        assert cells and set(cells) <= set(FUNCTIONS), variant
        assert set(FAILS[variant]) <= {f"test_{g}" for g in cells}, variant     # a mistake fails its own test
        for grade_id, source in cells.items():
            tree = ast.parse(source)
            defined = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
            assert defined == [grade_id], f"{variant}: the cell must define exactly {grade_id}"
    # NOTEBOOK_OF and POINTS are read from the notebooks: every answer cell has a test cell, and each scores
    assert set(POINTS) == {f"test_{g}" for g in NOTEBOOK_OF}
    assert all(type(p) is int and p > 0 for p in POINTS.values())


VARIANT_CASES = [(variant, grade_id) for variant, cells in VARIANTS.items() for grade_id in FUNCTIONS
                 if NOTEBOOK_OF[grade_id] in {NOTEBOOK_OF[g] for g in cells}]


@pytest.mark.parametrize("variant, grade_id", VARIANT_CASES, ids=[f"{v}-{g}" for v, g in VARIANT_CASES])
def test_variant_passes_or_fails_with_its_diagnosis(variant, grade_id):
    """Every test of a notebook a variant touches: the expected ones fail with their diagnosis, the rest pass."""
    ns = namespace(NOTEBOOK_OF[grade_id], VARIANTS[variant])
    diagnosis = FAILS[variant].get(f"test_{grade_id}")
    if diagnosis is None:
        visible(grade_id, ns)
        return
    with pytest.raises(feedback.FeedbackError, match=diagnosis):
        visible(grade_id, ns)


# -- (3) the notebooks as nbgrader sources -------------------------------------------------------------------
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_cell_has_nbgrader_metadata_and_no_outputs(name):
    nb = read(name)
    assert nb.metadata.kernelspec.name == "python3"
    ids = []
    for cell in nb.cells:
        meta = nbgrader(cell)
        assert meta.get("schema_version") == 3 and meta.get("task") is False, meta
        assert set(meta) >= {"grade", "grade_id", "locked", "solution"}
        ids.append(meta["grade_id"])
        if not (meta["grade"] or meta["solution"]):
            assert meta["locked"] is True, f"{meta['grade_id']} should be read-only"
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{meta['grade_id']} has stored output"
    assert len(ids) == len(set(ids)), "grade_ids must be unique"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_each_graded_function_has_its_own_answer_cell_followed_by_its_test_cell(name):
    nb = read(name)
    answers = [nbgrader(c)["grade_id"] for c in nb.cells if nbgrader(c)["solution"]]
    assert answers == [g for g, n in NOTEBOOK_OF.items() if n == name]
    for i, cell in enumerate(nb.cells):
        meta = nbgrader(cell)
        if meta["solution"]:
            assert cell.cell_type == "code" and not meta["grade"] and not meta["locked"]
            assert cell.source.count("### BEGIN SOLUTION") == 1 and cell.source.count("### END SOLUTION") == 1
            test_cell = nb.cells[i + 1]
            test_meta = nbgrader(test_cell)
            assert test_meta["grade_id"] == "test_" + meta["grade_id"]
            assert test_meta["grade"] and test_meta["locked"] and not test_meta["solution"]
            assert type(test_meta["points"]) is int and test_meta["points"] > 0, test_meta
            # a visible check and nothing else: hidden tests live in tools/referee/hidden.py, never in a notebook
            # (code in a notebook runs in the student's kernel, where the student's code can reach it)
            assert re.fullmatch(rf"feedback\.check_{meta['grade_id']}\([^\n]*\)", test_cell.source), test_cell.source
            assert test_meta["grade_id"] in TESTS, f"{test_meta['grade_id']} has no hidden test"
        elif meta["grade"]:
            assert nbgrader(nb.cells[i - 1])["solution"], f"{meta['grade_id']} does not follow its answer cell"


def test_points_add_up():
    points = [nbgrader(c).get("points", 0) for name in NOTEBOOKS for c in read(name).cells if nbgrader(c)["grade"]]
    assert sum(points) == TOTAL_POINTS


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_student_version_keeps_signatures_and_docstrings_and_says_not_written_yet(name):
    """Clear the solutions as nbgrader does: each function still has its signature and docstring, and its
    visible test says it is not written yet."""
    from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions

    nb, _ = ClearSolutions().preprocess(copy.deepcopy(read(name)), {})
    nb, _ = ClearHiddenTests().preprocess(nb, {})
    ns: dict = {}
    for cell in nb.cells:
        meta = nbgrader(cell)
        assert "BEGIN SOLUTION" not in cell.source and "HIDDEN TESTS" not in cell.source
        if meta["grade_id"] in ("setup", "graph_definition"):
            exec(cell.source, ns)
        elif meta["solution"] and meta["grade_id"] == "graph_by_hand":
            with pytest.raises(NotImplementedError):
                exec(cell.source, ns)
        elif meta["solution"]:
            exec(cell.source, ns)
            function = ns[meta["grade_id"]]
            assert function.__doc__ and len(function.__doc__.strip()) > 20
            with pytest.raises(feedback.FeedbackError, match="is not written yet"):
                visible(meta["grade_id"], ns)


# -- (4) running the notebooks -------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_source_notebook_runs_top_to_bottom_in_seconds_and_validates(name):
    from nbclient import NotebookClient
    from nbgrader.validator import Validator

    nb = read(name)
    start = time.perf_counter()
    NotebookClient(nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(SOURCE)}}).execute()
    seconds = time.perf_counter() - start
    print(f"{name}: {seconds:.1f} s including kernel start")
    # benchmarks/bench_notebooks.py measures the time (a few seconds each); this only catches a notebook that got
    # minutes slower, with room for a machine busy with the rest of the suite (22 s seen at a load of 7)
    assert seconds < 60, f"{name} took {seconds:.1f} s: it must run in a few seconds"
    for cell in nb.cells:
        if nbgrader(cell)["grade"]:
            text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
            assert text.startswith("\N{CHECK MARK}"), (nbgrader(cell)["grade_id"], text)
        if nbgrader(cell)["grade_id"] == "demo_training":
            text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
            accuracy = float(re.search(r"test accuracy: ([\d.]+)%", text).group(1))
            assert accuracy >= 90
            assert any("image/png" in o.get("data", {}) for o in cell.outputs)
    assert Validator().validate(str(SOURCE / name)) == {}


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_the_points_the_text_promises_are_the_points_the_test_cells_give(name):
    """Each notebook states its points twice, in the table of parts at its top and in each part's heading; both
    must be what its test cells' nbgrader metadata gives (the one source the grades, grades.csv and the README's
    table are derived from)."""
    cells = read(name).cells
    given = [nbgrader(c)["points"] for c in cells if nbgrader(c).get("grade")]
    table = next(c.source for c in cells if "| part | what you write | points |" in c.source)
    assert [int(row) for row in re.findall(r"^\|[^\n]*\|\s*(\d+)\s*\|$", table, re.M)] == given, table
    headings = [int(n) for c in cells if c.cell_type == "markdown"
                for n in re.findall(r"^#+ .*\((\d+) points?\)\s*$", c.source, re.M)]
    assert headings == given
