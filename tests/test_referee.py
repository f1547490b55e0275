"""The referee (tools/referee): the hidden tests run in a separate, sandboxed process and are decided here.

Answers are submitted as replacement answer cells of the real assignment (solutions/backprop) and go through
``run.referee_notebook`` exactly as the autograder calls it: the notebook's cells are replayed in a forked child
with the practised mlpkit functions removed, the graded function is called on hidden inputs, plain data comes
back. Proved here: the reference passes for any student, the blank release fails everywhere, correct answers
written differently pass, every typical mistake and every requirement the exercise text states makes its cell
fail, every practised function is gone in the child, and the plain-data protocol refuses what is not plain data.
The same attacks through the whole instructor command are in test_adversarial.py.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

from coursekit.feedback import PRACTISED
from mlpkit.graph import Value
from tests.exercise_variants import FAILS, NOTEBOOK_OF, SIGNATURES, VARIANTS, VIOLATIONS, train
from tools.referee import hidden, plain, run

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "solutions" / "backprop"
RELEASE = ROOT / "exercises" / "backprop"
#: seconds per cell, as nbgrader_config.py's Execute.timeout: no test here waits for it, and a correct answer written
#: with loops (LOOPS's softmax_backward builds 600 Jacobians of 1024 x 1024 for the memory trial: 3-5 s on a quiet
#: 2-core machine, 20 s at a load of 6) must pass on a busy machine too.
TIMEOUT = 60


def notebook(name: str, replacements: dict[str, str] | None = None, folder: Path = SOURCE):
    nb = nbformat.read(folder / name, as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata["nbgrader"]["grade_id"]
        if replacements and grade_id in replacements:
            cell.source = replacements[grade_id]
    return nb


def decide(replacements: dict[str, str], only: set[str] | None = None, student: str = "student",
           folder: Path = SOURCE, names: set[str] | None = None) -> dict[str, run.Verdict]:
    """grade_id -> verdict for the notebooks the replacements touch (all notebooks without replacements)."""
    names = names or {NOTEBOOK_OF[g] for g in replacements if g in NOTEBOOK_OF} or set(NOTEBOOK_OF.values())
    verdicts = {}
    for name in sorted(names):
        nb = notebook(name, replacements, folder)
        for verdict in run.referee_notebook(nb, student=student, assignment="backprop", notebook=Path(name).stem,
                                            timeout=TIMEOUT, memory_mb=4096, file_mb=100, protected=[str(ROOT)],
                                            only=only):
            verdicts[verdict.grade_id] = verdict
    return verdicts


@pytest.fixture(scope="module", autouse=True)
def _one_host():
    yield
    run.shutdown()


# -- the reference, the blank release ------------------------------------------------------------------------
@pytest.mark.parametrize("student", ["ada", "bob", "0042"])
def test_reference_passes_every_hidden_test_whatever_the_students_inputs(student):
    verdicts = decide({}, student=student)
    assert set(verdicts) == set(hidden.TESTS)
    assert all(v.passed for v in verdicts.values()), {g: v.reason for g, v in verdicts.items() if not v.passed}


def test_blank_release_fails_every_hidden_test():
    verdicts = decide({}, folder=RELEASE)
    assert set(verdicts) == set(hidden.TESTS)
    for grade_id, verdict in verdicts.items():
        assert not verdict.passed, grade_id
        assert re.search(r"is not written yet|is not defined", verdict.reason), verdict.reason


def test_students_get_different_inputs_and_a_regrade_the_same():
    def shapes(student: str) -> list:
        rng = np.random.default_rng(run.seed_for("backprop", student, "1_layers_and_jacobian", "test_matmul_backward"))
        return [t.about for t in hidden.TESTS["test_matmul_backward"].make_trials(rng)]

    assert shapes("ada") == shapes("ada") != shapes("bob")


# -- answers written differently, typical mistakes -------------------------------------------------------------
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_variant_fails_exactly_the_cells_it_gets_wrong(variant):
    cells = VARIANTS[variant]
    touched = {f"test_{g}" for g in cells}
    verdicts = decide(cells, only=touched)
    failing = {g for g, v in verdicts.items() if not v.passed}
    assert failing == set(FAILS[variant]), {g: v.reason for g, v in verdicts.items()}
    for grade_id in failing:
        assert "(hidden test: " in verdicts[grade_id].reason
        words = re.sub(r"relative error [-+.\de]+", "", verdicts[grade_id].reason)
        assert not re.search(r"array\(|\d\.\d{3,}", words), "a verdict must not show values"


#: What the hidden test's verdict says for the mistakes it names (as the visible checks do).
NAMED_MISTAKES = {
    "softmax_B_from_rows": ("test_softmax_cross_entropy_backward", r"divided by y\.shape\[0\] = \d, the number"),
    "bce_B_from_rows": ("test_binary_cross_entropy_backward", r"so divide by B = y\.shape\[1\], the number of columns"),
    "backward_no_keepdims": ("test_backward", r"dropped the second axis; keep the column with .*keepdims=True"),
    "backward_relu_forgotten_at_layer_1": ("test_backward", r"grads\['W1'\]: forgot ReLU's derivative at layer 1"),
    "backward_at_output": ("test_backward", r"took ReLU's derivative at the layer's output a"),
    "train_gradient_ascent": ("test_train_sgd", r"the updates went uphill, W = W \+ lr \* dL/dW"),
}


@pytest.mark.parametrize("variant", list(NAMED_MISTAKES))
def test_the_hidden_verdict_names_the_typical_mistake(variant):
    grade_id, pattern = NAMED_MISTAKES[variant]
    verdict = decide(VARIANTS[variant], only={grade_id})[grade_id]
    assert not verdict.passed and re.search(pattern, verdict.reason), verdict.reason


# -- every stated requirement: an answer that breaks it loses the cell -------------------------------------------
# VIOLATIONS (requirement id -> an answer that breaks it) and ``train`` (sources of train_sgd) are in
# tests/exercise_variants.py.

#: More ways to break train_sgd's rules, each caught by the same comparison with mlpkit's loop.
TRAINING_MISTAKES = {
    "shuffles once": train(before_loop="    once = rng.permutation(X.shape[1])\n", order="once"),
    "a new generator every epoch": train(order="np.random.default_rng(seed).permutation(N)"),
    "another seed every epoch": train(order="np.random.default_rng(seed + epoch).permutation(N)"),
    "last batch's loss": train(epoch_loss="L"),
    "sum of batch losses": train(epoch_loss="loss_sum"),
    "gradient ascent": train(update="model.params[key] += lr * grads[key]"),
    "updates only the weights": train(update="if key.startswith('W'): model.params[key] -= lr * grads[key]"),
}


def test_every_requirement_has_a_violation():
    assert {r.id for r in hidden.REQUIREMENTS} == set(VIOLATIONS)


@pytest.mark.parametrize("requirement", list(VIOLATIONS))
def test_an_answer_that_breaks_a_requirement_loses_that_cells_points(requirement):
    cells, grade_id, message = VIOLATIONS[requirement]
    verdict = decide(cells, only={grade_id})[grade_id]
    assert not verdict.passed and re.search(message, verdict.reason), verdict.reason


@pytest.mark.parametrize("mistake", list(TRAINING_MISTAKES))
def test_every_deviation_from_the_stated_training_loop_loses_the_points(mistake):
    verdict = decide({"train_sgd": TRAINING_MISTAKES[mistake]}, only={"test_train_sgd"})["test_train_sgd"]
    assert not verdict.passed, mistake


def test_the_correct_loop_template_passes_and_a_wrong_backward_does_not_cost_train_sgd_its_points():
    wrong_backward = {"backward": "def backward(L, y, y_hat, buffer, params):\n"
                                  "    return {k: np.zeros(v.shape) for k, v in params.items()}"}
    verdicts = decide({"train_sgd": train(), **wrong_backward}, only={"test_train_sgd", "test_backward"})
    assert verdicts["test_train_sgd"].passed, verdicts["test_train_sgd"].reason
    assert not verdicts["test_backward"].passed


# -- the practised functions are gone in the referee's process ---------------------------------------------------
PRACTISED_CASES = [(function, dotted) for function, names in PRACTISED.items() for dotted in names
                   if function != "graph_by_hand"]


@pytest.mark.parametrize("function, dotted", PRACTISED_CASES, ids=[f"{f}-{d}" for f, d in PRACTISED_CASES])
def test_each_practised_function_is_unavailable_to_its_exercise(function, dotted):
    owner = ".".join(p for p in dotted.split(".")[:-1] if not p[:1].isupper())    # mlpkit.mlp for MLP.backward
    source = f"def {function}({SIGNATURES[function]}):\n    import {owner}\n    return {dotted}()"
    verdict = decide({function: source}, only={f"test_{function}"})[f"test_{function}"]
    assert not verdict.passed
    assert f"calls mlpkit's {dotted.removeprefix('mlpkit.')}, which this exercise does not allow" in verdict.reason


def test_graph_by_hand_cannot_ask_the_graph_engine():
    source = ("x, y, z = Value(1.0), Value(4.0), Value(-1.0)\nL = build(x, y, z)\nL.backward()\n"
              "dL_dx, dL_dy, dL_dz = x.grad, y.grad, z.grad")
    verdict = decide({"graph_by_hand": source}, only={"test_graph_by_hand"})["test_graph_by_hand"]
    assert not verdict.passed and "is not defined" in verdict.reason


def test_the_hidden_tests_graph_is_the_notebooks():
    cells = {c.metadata["nbgrader"]["grade_id"]: c.source for c in notebook("0_graphs_and_autodiff.ipynb").cells}
    namespace: dict = {"Value": Value}
    exec(cells["graph_definition"], namespace)
    assert namespace["values"] == hidden.GRAPH_VALUES
    rng = np.random.default_rng(0)
    for _ in range(5):
        point = dict(zip("xyz", rng.normal(size=3)))
        ours, theirs = ({k: Value(v) for k, v in point.items()} for _ in range(2))
        L1, L2 = hidden.graph(**ours), namespace["build"](**theirs)
        L1.backward()
        L2.backward()
        assert L1.data == L2.data and all(ours[k].grad == theirs[k].grad for k in point)


# -- the plain-data protocol -----------------------------------------------------------------------------------
def test_plain_data_round_trip(tmp_path):
    value = (np.arange(6.0).reshape(2, 3), [1, 2.5, np.float32(1.5), None, True], {"W1": np.eye(2)},
             plain.ModelSpec([2, 3], {"W1": np.ones((3, 2))}))
    tree = plain.Dumper(tmp_path).dump(value)
    back = plain.load(json.loads(json.dumps(tree)), tmp_path)
    assert isinstance(back, tuple) and np.array_equal(back[0], value[0])
    assert back[1] == [1, 2.5, 1.5, None, True] and isinstance(back[1][2], np.float32)
    assert np.array_equal(back[2]["W1"], np.eye(2)) and back[3].sizes == [2, 3]


def test_the_hidden_graph_gradients_are_the_graph_engines():
    """The finite differences that judge graph_backward agree with mlpkit's backward on many random graphs."""
    from tools.referee.hidden_graph import _run, finite_differences, random_program

    rng = np.random.default_rng(0)
    for _ in range(100):
        program = random_program(rng, int(rng.integers(3, 60)))
        nodes = _run(program)
        nodes[-1].backward()
        assert len(nodes) == len(mlpkit_order(nodes[-1]))          # every node of the program reaches L
        exact = np.array([n.grad for n in nodes])
        assert np.abs(np.array(finite_differences(program)) - exact).max() <= 1e-6 * max(1, np.abs(exact).max())


def mlpkit_order(L):
    from mlpkit.graph import topological_order
    return topological_order(L)


def test_a_graph_goes_to_the_sandbox_and_comes_back_as_plain_data(tmp_path):
    from tools.referee.hidden_graph import reused_program, spec_of

    spec = spec_of(reused_program(), np.array([5.0, -1.0, 2.0]))                 # in the program's order
    tree = json.loads(json.dumps(plain.Dumper(tmp_path).dump((spec,))))
    (back,) = plain.load(tree, tmp_path)
    assert back == spec
    nodes = plain.graph_values(back)                                    # as the sandbox builds them
    assert nodes[1].children == (nodes[0], nodes[0]) and [n.grad for n in nodes] == [5.0, -1.0, 2.0]
    assert back.root == 2
    nodes[-1].backward()
    dumper = plain.Dumper(tmp_path)
    dumper.use_graph(nodes)
    returned = plain.load(json.loads(json.dumps(dumper.dump([nodes[0], Value(1.0), nodes[2]]))), tmp_path)
    assert returned == [plain.NodeRef(0), plain.NodeRef(-1), plain.NodeRef(2)]
    after = plain.load(json.loads(json.dumps(dumper.dump_after(nodes[-1]))), tmp_path)
    assert [n.grad for n in after.nodes] == [4.0, 2.0, 1.0] and after.nodes[1].children == (0, 0)
    assert dumper.dump([nodes[0]] * (plain.MAX_NODES + 1)) == {
        "kind": "opaque", "type": f"list of more than {plain.MAX_NODES} Values"}
    nodes[1].children = 5                                                  # broken by the function
    assert dumper.dump_after(nodes[-1])["kind"] == "opaque"
    shuffled = spec_of(reused_program(), np.zeros(3), np.array([2, 0, 1]))      # c, a, b
    assert shuffled.root == 0 and shuffled.nodes[2].children == (1, 1) and shuffled.nodes[0].children == (2, 2)
    c, a, b = plain.graph_values(shuffled)
    assert c.children == (b, b) and b.children == (a, a) and c.data == 12.0
    for rows, root in (([], 0), ([[1.0, 0.0, "", [3], [], "a", False]], 0), ([[1.0, 0.0, "", [], [], "a", "yes"]], 0),
                       ("x", 0), ([[True, 0.0, "", [], [], "a", False]], 0), ([[1.0, 0.0, "", [], [], "a", False]], 1),
                       ([[1.0, 0.0, "", [], [], "a", False]], None)):
        assert isinstance(plain.load({"kind": "graph", "root": root, "nodes": rows}, tmp_path), plain.Opaque), rows


def test_plain_data_refuses_what_is_not_plain(tmp_path):
    dump = plain.Dumper(tmp_path).dump
    assert dump(np.array([object()])) == {"kind": "opaque", "type": "object array"}
    assert dump(np.array([1j])) == {"kind": "opaque", "type": "complex128 array"}
    assert dump(lambda: 0)["kind"] == "opaque"
    assert dump({1: 2})["kind"] == "opaque"                           # keys must be strings
    assert dump([[[[[[1]]]]]])["items"][0]["items"][0]["items"][0]["items"][0]["kind"] == "opaque"   # too deep
    np.save(tmp_path / "p.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)     # a pickle inside
    (tmp_path / "link.npy").symlink_to(tmp_path / "p.npy")
    for name in ("p.npy", "link.npy", "../p.npy", "missing.npy", "x.txt"):
        assert isinstance(plain.load({"kind": "array", "file": name}, tmp_path), plain.Opaque), name
    for tree in (None, [], {"kind": "int", "value": "1"}, {"kind": "int", "value": True}, {"kind": "float"},
                 {"kind": "list", "items": "x"}, {"kind": "dict", "items": [[1, 2]]}, {"kind": "eval"}):
        assert isinstance(plain.load(tree, tmp_path), plain.Opaque), tree
    (tmp_path / "big.json").write_text("[" + "1," * plain.MAX_JSON_BYTES + "1]")
    assert plain.read_json(tmp_path / "big.json") is None


def test_a_failing_cell_of_the_student_is_noted_for_the_instructor():
    cells = {"matmul_backward": "def matmul_backward(dL_dz, w, x):\n    return dL_dz @ x.T, w.T @ dL_dz\n1 / 0"}
    verdict = decide(cells, only={"test_matmul_backward"})["test_matmul_backward"]
    assert verdict.passed
    assert any("ZeroDivisionError" in note for note in verdict.notes), verdict.notes


def test_a_missing_hidden_test_is_refused_before_anything_runs():
    nb = notebook("1_layers_and_jacobian.ipynb")
    cell = copy.deepcopy(next(c for c in nb.cells if c.metadata["nbgrader"]["grade_id"] == "test_relu_backward"))
    cell.metadata["nbgrader"]["grade_id"] = "test_something_new"
    nb.cells.append(cell)
    with pytest.raises(run.RefereeError, match="test_something_new .* has no hidden test"):
        run.referee_notebook(nb, student="s", assignment="backprop", notebook="1_layers_and_jacobian", timeout=TIMEOUT,
                             memory_mb=4096, file_mb=100, protected=[str(ROOT)], only={"test_something_new"})


def test_the_instructors_guide_lists_every_requirement_with_its_check():
    guide = (ROOT / "docs" / "instructors.md").read_text()
    table = guide.split("## What the hidden tests require", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    assert rows == [f"| `{r.function}` | {r.text} | {r.check} | `{r.id}` |" for r in hidden.REQUIREMENTS]


@pytest.mark.parametrize("grade_id, source", [
    ("topological_order", "from coursekit.checks.graph import correct_topological_order\n"
                          "def topological_order(L):\n    return correct_topological_order(L)\n"),
    ("graph_backward", "import coursekit.checks.graph as checks\n"
                       "def graph_backward(L):\n    checks._simulate(L, topological_order(L))\n"),
])
def test_the_visible_checks_own_answers_are_not_there_when_grading(grade_id, source):
    verdict = decide({grade_id: source}, only={f"test_{grade_id}"})[f"test_{grade_id}"]
    assert not verdict.passed and "is not defined" in verdict.reason, verdict.reason
