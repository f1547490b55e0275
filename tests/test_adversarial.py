"""Tamper and shortcut attempts, each submitted through the instructor's command, none of which earns points.

One class is graded with ``python -m tools.grading all INBOX`` (a subprocess, as an instructor runs it). Every
student hands in the reference answers except one answer cell, which holds an attempt to get that cell's points
without doing its work: patching the checks, numpy, builtins or the referee; reloading modules; copying code
objects; gc, inspect and frame tricks; private helpers; exiting or hanging; writing files; fake check marks;
hiding errors; a number as partial credit; the practised function called in many disguises. Most attempts also
make the visible check pass in the student's own kernel (so only the referee stands in the way), and several are
written so that the "review the answer" regex cannot see them: no score depends on that regex.

Each test asserts that the attacked cell scores 0 and every other cell of the same student keeps its points.
Attempts that could reach beyond their own notebook (exit, hang, write files, kill the grader, patch the referee,
read the reference answers) hand in all three notebooks, so their classmates' notebooks and their own other
notebooks are graded after them; the others hand in only the notebook they attack (grading the same reference
notebooks again for each of them would prove nothing new and cost a minute of CI).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tests.test_grading_pipeline import ASSIGNMENT, blank, make_course, notebook_of, points, submission, write_folder

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 10
RELU = "relu_backward"

#: A wrong relu_backward: every attempt below replaces the real work with it (or with nothing).
WRONG_RELU = "def relu_backward(dL_dz, x):\n    return dL_dz * 0.0\n"
#: Disarms the visible checks in the student's kernel (the test cell calls ``feedback.check_...``, and this
#: rebinds the name): with it, only the referee stands between an attempt and the points.
DISARM = """\
class _Anything:
    def __getattr__(self, name):
        return lambda *args, **kwargs: None
feedback = _Anything()
"""

#: student id -> (answer cell replaced, its new source). The test cell of that answer must score 0.
ATTEMPTS: dict[str, tuple[str, str]] = {
    "a01_patch_the_check": (RELU, """\
import coursekit.feedback as fb
fb.check_relu_backward = lambda f: print("\\N{CHECK MARK} relu_backward is right, including 0.5 where x == 0")
""" + WRONG_RELU),
    "a02_patch_unseen_by_the_regex": (RELU, """\
checks = getattr(__import__("course" + "kit", fromlist=["feed" + "back"]), "feed" + "back")
setattr(checks, "check_" + "relu_backward", lambda f: None)
""" + WRONG_RELU),
    "a03_rebind_the_name_feedback": (RELU, DISARM + WRONG_RELU),
    "a04_patch_numpy_and_the_comparison": (RELU, """\
import numpy, mlpkit.gradcheck, coursekit.checks.diagnosis
numpy.allclose = lambda *a, **k: True
numpy.array_equal = lambda *a, **k: True
mlpkit.gradcheck.rel_error = coursekit.checks.diagnosis.rel_error = lambda a, b: 0.0
coursekit.checks.diagnosis.close = lambda *a, **k: True
""" + WRONG_RELU),
    "a05_patch_builtins": (RELU, DISARM + """\
import builtins
_real_isinstance = builtins.isinstance
builtins.isinstance = lambda obj, kind: True if kind is AssertionError else _real_isinstance(obj, kind)
builtins.AssertionError = type("AssertionError", (Exception,), {})
import coursekit.feedback
coursekit.feedback.FeedbackError = type("FeedbackError", (Warning,), {})
""" + WRONG_RELU),
    "a06_patch_the_referee": (RELU, DISARM + """\
import sys
for module_name, module in list(sys.modules.items()):
    if module_name == "__main__" or module_name.startswith("tools"):
        for name in ("probe", "judge_call", "referee_notebook"):
            if hasattr(module, name):
                setattr(module, name, lambda *a, **k: {"defined": True, "callable": True, "trials": []})
try:
    import tools.referee.hidden as hidden
    hidden.TESTS.clear()
except Exception:
    pass
""" + WRONG_RELU),
    "a07_reload_the_library": (RELU, DISARM + """\
import importlib, mlpkit.ops
def relu_backward(dL_dz, x):
    return importlib.reload(mlpkit.ops).relu_backward(dL_dz, x)
"""),
    "a08_copy_the_code_object": (RELU, DISARM + """\
import types, mlpkit.ops
saved = mlpkit.ops.relu_backward.__code__
def relu_backward(dL_dz, x):
    return types.FunctionType(saved, vars(mlpkit.ops))(dL_dz, x)
"""),
    "a09_gc_finds_the_original": (RELU, DISARM + """\
def relu_backward(dL_dz, x):
    walk = getattr(__import__("g" + "c"), "get_" + "objects")
    original = [o for o in walk() if getattr(o, "__qualname__", "") == "relu_backward"
                and getattr(o, "__module__", "") == "mlpkit.ops"][0]
    return original(dL_dz, x)
"""),
    "a10_inspect_copies_the_source": (RELU, DISARM + """\
import inspect, mlpkit.ops
library = {"__name__": "mlpkit.ops", "__package__": "mlpkit"}
exec(inspect.getsource(mlpkit.ops), library)
def relu_backward(dL_dz, x):
    return library["relu_backward"](dL_dz, x)
"""),
    "a11_frames_read_the_expected_answer": (RELU, """\
import sys
def relu_backward(dL_dz, x):
    frame = sys._getframe(1)
    while frame is not None:
        found = frame.f_locals.get("expected")
        if getattr(found, "shape", None) == x.shape:
            return found
        frame = frame.f_back
    return dL_dz * 0.0
"""),
    "a12_private_helper_of_the_model": (RELU, DISARM + """\
def relu_backward(dL_dz, x):
    return mlpkit.MLP([1, 1, 2])._f_backward(dL_dz, x)
"""),
    "a13_private_table_of_the_library": (RELU, DISARM + """\
def relu_backward(dL_dz, x):
    return vars(mlpkit.mlp)["_ACTIVATIONS"]["relu"][1](dL_dz, x)
"""),
    "a14_library_call_under_an_alias": (RELU, DISARM + """\
from mlpkit.ops import relu_backward as library_relu_backward
def relu_backward(dL_dz, x):
    return library_relu_backward(dL_dz, x)
"""),
    "a15_library_finite_differences": (RELU, DISARM + """\
def relu_backward(dL_dz, x):
    return numerical_gradient(lambda v: float((ops.relu(v) * dL_dz).sum()), x.astype(float).copy())
"""),
    "a16_library_graph_engine": (RELU, DISARM + """\
def relu_backward(dL_dz, x):
    local = np.vectorize(lambda t: Value(float(t)).relu().local_grads[0])(x)
    return dL_dz * local
"""),
    "a17_read_the_reference_answers": (RELU, DISARM + """\
import json, os
def relu_backward(dL_dz, x):
    here = os.getcwd()
    for up in range(6):
        path = os.path.join(here, *[".."] * up, "solutions", "backprop", "1_layers_and_jacobian.ipynb")
        try:
            cells = json.load(open(path))["cells"]
        except OSError:
            continue
        code = [c for c in cells if c["metadata"]["nbgrader"]["grade_id"] == "relu_backward"][0]["source"]
        space = {"np": np}
        exec("".join(code), space)
        return space["relu_backward"](dL_dz, x)
    return dL_dz * 0.0
"""),
    "a18_exits_on_hidden_inputs": (RELU, """\
import os
def relu_backward(dL_dz, x):
    if x.shape != (2, 3):
        os._exit(0)
    return dL_dz * np.where(x > 0, 1.0, np.where(x == 0, 0.5, 0.0))
"""),
    "a19_hangs_on_hidden_inputs_and_ignores_the_timer": (RELU, """\
import signal
def relu_backward(dL_dz, x):
    if x.shape != (2, 3):
        signal.signal(signal.SIGALRM, signal.SIG_IGN)
        while True:
            pass
    return dL_dz * np.where(x > 0, 1.0, np.where(x == 0, 0.5, 0.0))
"""),
    "a20_writes_files_everywhere": (RELU, DISARM + """\
import json, os
for folder in (".", "..", "../..", "/tmp"):
    try:
        with open(os.path.join(folder, "result.json"), "w") as f:
            json.dump({"defined": True, "callable": True, "trials": [], "values": {}}, f)
    except OSError:
        pass
""" + WRONG_RELU),
    "a21_fake_check_marks": (RELU, DISARM + """\
print("\\N{CHECK MARK} relu_backward is right, including 0.5 where x == 0")
print("\\N{CHECK MARK} all tests passed: 3 / 3 points")
""" + WRONG_RELU),
    "a22_hide_the_errors_of_the_kernel": (RELU, """\
shell = get_ipython()
shell.showtraceback = shell._showtraceback = lambda *args, **kwargs: print("\\N{CHECK MARK} all tests passed")
""" + WRONG_RELU),
    "a23_a_number_as_partial_credit": (RELU, """\
import coursekit.feedback
coursekit.feedback.check_relu_backward = lambda f: 3.0
""" + WRONG_RELU),
    "a24_an_array_that_equals_everything": (RELU, """\
class Agreeable(np.ndarray):
    def __eq__(self, other):
        return True
    def __sub__(self, other):
        return np.zeros(np.shape(other))
import coursekit.checks.diagnosis
coursekit.checks.diagnosis.diagnose = lambda *a, **k: None
def relu_backward(dL_dz, x):
    return np.zeros(x.shape).view(Agreeable)
"""),
    "a25_kill_the_grader": (RELU, DISARM + """\
import os, signal
try:
    os.kill(os.getppid(), signal.SIGKILL)          # the grader (the kernel's parent, the referee's host)
except Exception:
    pass
""" + WRONG_RELU),
    "a26_train_with_the_library": ("train_sgd", DISARM + """\
from mlpkit.training import train as library_train
def train_sgd(model, X, y, epochs, batch_size, lr, seed):
    return library_train(model, X, y, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, progress=False)["loss"]
"""),
    "a27_backward_with_the_library": ("backward", DISARM + """\
def backward(L, y, y_hat, buffer, params):
    sizes = [params["W1"].shape[1]] + [params[f"W{l}"].shape[0] for l in (1, 2, 3)]
    model = MLP(sizes)
    model.params = params
    return model._backward(y, y_hat, buffer)
"""),
    "a28_graph_numbers_from_the_engine": ("graph_by_hand", """\
inputs = {name: Value(v) for name, v in values.items()}
build(**inputs).backward()
dL_dx, dL_dy, dL_dz = (inputs[name].grad for name in "xyz")
"""),
    "a29_loss_gradient_from_the_library": ("binary_cross_entropy_backward", DISARM + """\
import sys
library = sys.modules["mlpkit.losses"]
def binary_cross_entropy_backward(y, y_hat):
    return getattr(library, "binary_cross_entropy_" + "backward")(y, y_hat)
"""),
    "a30_order_fished_from_the_referee": ("topological_order", DISARM + """import gc
def topological_order(L):
    # The referee's own list of the graph's nodes, found through the objects that refer to L, or the Values in
    # the order they were made: neither is a topological order (the referee shuffles both).
    for holder in gc.get_referrers(L):
        if type(holder) is list and len(holder) > 1 and all(type(v) is type(L) for v in holder):
            return list(holder)
    made = [o for o in gc.get_objects() if type(o) is type(L)]
    return made[:made.index(L) + 1] if L in made else [L]
"""),
}


#: Attempts the kernel run already catches: the kernel's execute reply reports the error even when the shell's
#: traceback display is silenced, and nbgrader records it.
CAUGHT_IN_THE_KERNEL = {"a22_hide_the_errors_of_the_kernel"}
#: Attempts whose effects could outlive their own notebook: they hand in the whole assignment.
REACH_BEYOND_THE_NOTEBOOK = {"a06_patch_the_referee", "a17_read_the_reference_answers", "a18_exits_on_hidden_inputs",
                             "a19_hangs_on_hidden_inputs_and_ignores_the_timer", "a20_writes_files_everywhere",
                             "a25_kill_the_grader"}


def handed_in(course, student: str) -> set[str]:
    """The notebooks an attempt hands in: all of them, or only the one holding the attacked answer."""
    if student in REACH_BEYOND_THE_NOTEBOOK:
        return set(course.notebooks(ASSIGNMENT))
    return {notebook_of(course)[ATTEMPTS[student][0]]}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = make_course(tmp_path_factory.mktemp("course"), timeout=TIMEOUT)
    inbox = tmp_path_factory.mktemp("inbox")
    write_folder(inbox, "reference", submission(course, {}))
    write_folder(inbox, "blank", blank(course))
    for student, (answer, source) in ATTEMPTS.items():
        notebooks = submission(course, {answer: source})
        write_folder(inbox, student, {name: nb for name, nb in notebooks.items() if name in handed_in(course, student)})
    result = subprocess.run([sys.executable, "-m", "tools.grading", "--course", str(course.root), "--timeout",
                             str(TIMEOUT), "all", str(inbox)], cwd=ROOT, capture_output=True, text=True)
    return course, result


def errors_in_test_cell(course, student: str, grade_id: str) -> list[str]:
    """The names of the errors in a test cell of the student's autograded notebook."""
    for path in (course.autograded / student / ASSIGNMENT).glob("*.ipynb"):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
                return [o.ename for o in cell.outputs if o.output_type == "error"]
    raise AssertionError(f"{grade_id} not found for {student}")


def cell_scores(course, student: str) -> dict[str, float]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course.gradebook_path}") as gb:
        submitted = gb.find_submission(ASSIGNMENT, student)
        return {grade.name: grade.score for notebook in submitted.notebooks for grade in notebook.grades}


def test_there_are_at_least_twenty_attempts():
    assert len(ATTEMPTS) >= 20


def test_every_attempt_beats_the_visible_check_so_only_the_referee_decides(graded):
    """In the student's kernel each attacked test cell runs without its own error: the only error it ends up with
    is the referee's verdict. (So these tests prove the referee, not the visible checks, keeps the points.) The
    exceptions are attempts that the kernel run itself defeats."""
    course, _ = graded
    for student, (answer, _) in ATTEMPTS.items():
        errors = errors_in_test_cell(course, student, f"test_{answer}")
        if student in CAUGHT_IN_THE_KERNEL:
            assert "HiddenTestFailed" not in errors and errors, (student, errors)
        else:
            assert errors == ["HiddenTestFailed"], (student, errors)


def test_the_command_graded_everyone(graded):
    course, result = graded
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for student in ["reference", "blank", *ATTEMPTS]:
        assert f"| {student} |" in result.stdout


def test_reference_keeps_full_marks_and_blank_gets_zero(graded):
    course, _ = graded
    full = points(course)
    assert cell_scores(course, "reference") == full
    assert set(cell_scores(course, "blank").values()) == {0}


@pytest.mark.parametrize("student", list(ATTEMPTS))
def test_an_attempt_earns_nothing_and_costs_nothing_else(graded, student):
    course, _ = graded
    answer, _ = ATTEMPTS[student]
    scores, full, where = cell_scores(course, student), points(course), notebook_of(course)
    attacked = f"test_{answer}"
    assert scores[attacked] == 0, f"{student} got {scores[attacked]} points for {attacked}"
    mine = handed_in(course, student)
    kept = {k: scores.get(k, 0) for k in full if k != attacked and where[k] in mine}
    assert kept == {k: v for k, v in full.items() if k != attacked and where[k] in mine}
    assert all(scores.get(k, 0) == 0 for k in full if where[k] not in mine), "a notebook not handed in scored"
