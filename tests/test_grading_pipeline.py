"""The grading pipeline end to end, through nbgrader's Python API and tools/ (release, collect, grade).

A temporary course directory gets the repository's nbgrader_config.py and the assignment's
source notebooks, releases them, collects a class of made-up submissions (one per situation
an instructor meets: the reference, the blank release, a correct answer written differently,
a typical mistake, an infinite loop, a dying kernel, edited and deleted test cells, files that
are not notebooks, code that attacks the grader...) from the three inbox layouts, grades them
all in one batch and checks every student's score, the CSV, the feedback and Validate.

VARIANTS holds the submissions: per-cell replacement sources keyed by nbgrader grade_id, and the test cells each
one is expected to fail. The tamper and shortcut attempts are in test_adversarial.py.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import shutil
import zipfile
from pathlib import Path

import nbformat
import pytest
from traitlets.config import Config

from tools import release
from tools.collect import collect
from tools.course import Course
from tools.grade import grade, scores

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = "backprop"
SOURCE_DIR = ROOT / "solutions"
#: Execute.timeout for the tests (seconds per cell): well above the slowest reference cell (the training demo,
#: ~1.5 s here), short enough for the infinite-loop submissions to cost little.
TEST_TIMEOUT = 10
#: RunHiddenTests.timeout for the class graded here (seconds for the referee's replayed cells, and again for the calls
#: of a graded function): v_loops's softmax_backward builds 600 Jacobians of 1024 x 1024 for the memory trial, 6.3 s
#: alone on a slow 2-core machine and over 10 s there while CI ran, so TEST_TIMEOUT would fail a correct answer.
REFEREE_TIMEOUT = 30


# ---------------------------------------------------------------------------------------------------------------
# Submissions: per-cell replacement sources keyed by grade_id (None deletes the cell)
# ---------------------------------------------------------------------------------------------------------------

LOOPS = {
    "matmul_backward": '''def matmul_backward(dL_dz, w, x):
    import numpy as np
    dL_dw = np.zeros(w.shape, dtype=np.result_type(dL_dz, x))
    dL_dx = np.zeros(x.shape, dtype=np.result_type(dL_dz, w))
    for i in range(w.shape[0]):
        for j in range(w.shape[1]):
            for p in range(x.shape[1]):
                dL_dw[i, j] += dL_dz[i, p] * x[j, p]
                dL_dx[j, p] += w[i, j] * dL_dz[i, p]
    return dL_dw, dL_dx''',
    "relu_backward": '''def relu_backward(dL_dz, x):
    import numpy as np
    out = np.zeros_like(dL_dz)
    for index in np.ndindex(*x.shape):
        if x[index] > 0:
            out[index] = dL_dz[index]
        elif x[index] == 0:
            out[index] = dL_dz[index] / 2
    return out''',
    "softmax_cross_entropy_backward": '''def softmax_cross_entropy_backward(y, y_hat):
    import numpy as np
    B = y.shape[1]
    out = np.empty_like(y_hat)
    for k in range(y.shape[0]):
        for b in range(B):
            out[k, b] = (y_hat[k, b] - y[k, b]) / B
    return out''',
}
RELU_ZERO_AT_KINK = '''def relu_backward(dL_dz, x):
    return dL_dz * (x > 0)'''
RELU_WRONG = '''def relu_backward(dL_dz, x):
    return dL_dz * 0.0'''
RELU_LOOPS_FOREVER = '''def relu_backward(dL_dz, x):
    while True:
        pass'''
MATMUL_IGNORES_INTERRUPT = '''def matmul_backward(dL_dz, w, x):
    import time
    while True:
        try:
            time.sleep(1000)
        except KeyboardInterrupt:
            pass'''
BCE_KILLS_KERNEL = '''def binary_cross_entropy_backward(y, y_hat):
    import os
    os._exit(1)'''
MATMUL_THEN_SYS_EXIT = '''def matmul_backward(dL_dz, w, x):
    return dL_dz @ x.T, w.T @ dL_dz

import sys
sys.exit("done here")'''
RELU_PRINTS_A_LOT = '''printed = []

def relu_backward(dL_dz, x):
    if not printed:                      # the first call floods the output, then it is a correct answer
        printed.append(True)
        print("x" * 5_000_000)
        for i in range(20_000):
            print(i)
    return dL_dz * ((x > 0) + 0.5 * (x == 0))'''
RELU_RIGHT_ONLY_ON_SMALL_INPUTS = '''def relu_backward(dL_dz, x):
    if x.size > 6:                       # passes the visible check, fails the hidden random shapes
        return dL_dz * (x > 0)
    return dL_dz * ((x > 0) + 0.5 * (x == 0))'''
RELU_WARNS = '''def relu_backward(dL_dz, x):
    import numpy as np
    np.float64(1.0) / np.float64(0.0)       # a RuntimeWarning on stderr, then the right answer
    return dL_dz * ((x > 0) + 0.5 * (x == 0))'''
ATTACK = '''import os, shutil, socket, sqlite3, subprocess, urllib.request
course = os.path.abspath(os.path.join(os.getcwd(), "..", "..", ".."))

def fool_the_path_checks():
    real = os.path.realpath
    os.path.realpath = lambda path, **kwargs: os.getcwd()
    try:
        open(os.path.join(course, "gradebook.db"), "w").write("gone")
    finally:
        os.path.realpath = real

attempts = {
    "monkeypatched os.path": fool_the_path_checks,
    "delete gradebook": lambda: os.remove(os.path.join(course, "gradebook.db")),
    "overwrite gradebook": lambda: open(os.path.join(course, "gradebook.db"), "w").write("gone"),
    "sqlite gradebook": lambda: sqlite3.connect(os.path.join(course, "gradebook.db")).execute("DELETE FROM grade"),
    "write outside": lambda: open(os.path.join(course, "PWNED.txt"), "w").write("x"),
    "write /tmp": lambda: open("/tmp/course-grading-pwned.txt", "w").write("x"),
    "read solutions": lambda: print(open(os.path.join(course, "solutions", "backprop",
                                                      "1_layers_and_jacobian.ipynb")).read()[:100]),
    "list others": lambda: print(os.listdir(os.path.join(course, "submitted"))),
    "delete others": lambda: shutil.rmtree(os.path.join(course, "submitted")),
    "rename autograded": lambda: os.rename(os.path.join(course, "autograded"), os.path.join(course, "x")),
    "subprocess": lambda: subprocess.run(["rm", "-rf", course]),
    "os.system": lambda: os.system("rm -rf " + course),
    "kill the grader": lambda: os.kill(os.getppid(), 9),
    "network": lambda: urllib.request.urlopen("http://192.0.2.1", timeout=1),
    "socket": lambda: socket.create_connection(("192.0.2.1", 80), timeout=1),
    "symlink": lambda: os.symlink(os.path.join(course, "gradebook.db"), "gb"),
    "lift the memory limit": lambda: __import__("resource").setrlimit(__import__("resource").RLIMIT_AS, (-1, -1)),
    "look into the other kernels": lambda: print(os.listdir(os.path.dirname(os.environ["TMPDIR"]))),
}
for what, attempt in attempts.items():
    try:
        attempt()
        print("ATTACK SUCCEEDED:", what)
    except Exception as error:
        print("refused:", what, "-", type(error).__name__, error)
open("my-own-file.txt", "w").write("writing in my own folder is fine")

def matmul_backward(dL_dz, w, x):
    return dL_dz @ x.T, w.T @ dL_dz'''

#: student id -> (per-cell replacements, test cells expected to fail). The order of ids is the grading order.
VARIANTS: dict[str, tuple[dict, set]] = {
    "s01_reference": ({}, set()),
    "s02_loops": (dict(LOOPS), set()),
    "s03_typical_mistake": ({"relu_backward": RELU_ZERO_AT_KINK}, {"test_relu_backward"}),
    "s04_infinite_loop": ({"relu_backward": RELU_LOOPS_FOREVER}, {"test_relu_backward"}),
    "s05_after_the_loop": ({}, set()),
    "s06_ignores_interrupt": ({"matmul_backward": MATMUL_IGNORES_INTERRUPT}, {"test_matmul_backward"}),
    "s07_kernel_dies": ({"binary_cross_entropy_backward": BCE_KILLS_KERNEL}, {"test_binary_cross_entropy_backward"}),
    "s08_sys_exit": ({"matmul_backward": MATMUL_THEN_SYS_EXIT}, set()),
    "s09_huge_output": ({"relu_backward": RELU_PRINTS_A_LOT}, set()),
    "s10_edits_test": ({"relu_backward": RELU_WRONG, "test_relu_backward": "print('all tests passed')"},
                       {"test_relu_backward"}),
    "s11_deletes_test": ({"test_relu_backward": None}, set()),
    "s12_attacker": ({"matmul_backward": ATTACK}, set()),
    "s15_fails_only_hidden": ({"relu_backward": RELU_RIGHT_ONLY_ON_SMALL_INPUTS}, {"test_relu_backward"}),
    "s16_warns": ({"relu_backward": RELU_WARNS}, set()),
}
# Every variant of tests/exercise_variants.py is graded too: the typical mistakes of the feedback module must
# score more than zero and less than full marks, the correct answers written another way (loops, float32) full.
from tests import exercise_variants  # noqa: E402

for _name, _cells in exercise_variants.VARIANTS.items():
    VARIANTS[f"v_{_name}"] = (dict(_cells), set(exercise_variants.FAILS.get(_name, {})))
MISTAKES = [f"v_{name}" for name in exercise_variants.VARIANTS if exercise_variants.FAILS.get(name)]
#: A typical mistake hands in only the notebooks it changes (the others would be graded as the reference is,
#: 30 notebooks more per run); every other student hands in the whole assignment.
HANDED_IN: dict[str, set[str]] = {
    f"v_{name}": {Path(exercise_variants.NOTEBOOK_OF[gid]).stem for gid in exercise_variants.VARIANTS[name]}
    for name in exercise_variants.VARIANTS if exercise_variants.FAILS.get(name)}

#: Students whose submission is not (entirely) a notebook: id -> files written into their inbox folder.
BROKEN = {
    "s13_not_json": {"1_layers_and_jacobian.ipynb": b"this is not JSON {", "notes.txt": b"my notes"},
    "s14_only_a_pdf": {"answers.pdf": b"%PDF-1.4 not a notebook"},
}


# ---------------------------------------------------------------------------------------------------------------
# Helpers (shared with benchmarks/bench_grading.py)
# ---------------------------------------------------------------------------------------------------------------

def make_course(root: Path, source_dir: Path = SOURCE_DIR, timeout: int = TEST_TIMEOUT,
                referee_timeout: int | None = None) -> Course:
    """A temporary course: the repository's nbgrader_config.py, the assignment's sources, released.

    ``timeout`` is Execute.timeout; ``referee_timeout``, if given, RunHiddenTests.timeout (otherwise
    nbgrader_config.py decides).
    """
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "nbgrader_config.py", root / "nbgrader_config.py")
    shutil.copytree(source_dir / ASSIGNMENT, root / "solutions" / ASSIGNMENT)
    overrides = Config()
    overrides.Execute.timeout = timeout
    if referee_timeout is not None:
        overrides.RunHiddenTests.timeout = referee_timeout
    course = Course(root, overrides)
    release.release(course, [ASSIGNMENT])
    return course


def grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def submission(course: Course, replacements: dict) -> dict[str, nbformat.NotebookNode]:
    """What a student hands in: the release with the reference answers, then ``replacements`` applied."""
    notebooks = {}
    for name in course.notebooks(ASSIGNMENT):
        source = nbformat.read(course.source / ASSIGNMENT / f"{name}.ipynb", as_version=4)
        released = nbformat.read(course.release_dir / ASSIGNMENT / f"{name}.ipynb", as_version=4)
        nb = release.student_copy_with_answers(source, released)
        cells = []
        for cell in nb.cells:
            gid = grade_id(cell)
            if gid in replacements:
                if replacements[gid] is None:
                    continue
                cell.source = replacements[gid]
            cells.append(cell)
        nb.cells = cells
        notebooks[name] = nb
    return notebooks


def blank(course: Course) -> dict[str, nbformat.NotebookNode]:
    return {name: nbformat.read(course.release_dir / ASSIGNMENT / f"{name}.ipynb", as_version=4)
            for name in course.notebooks(ASSIGNMENT)}


def write_folder(inbox: Path, student: str, notebooks: dict) -> None:
    (inbox / student).mkdir(parents=True)
    for name, nb in notebooks.items():
        nbformat.write(nb, inbox / student / f"{name}.ipynb")


def write_zip(inbox: Path, student: str, notebooks: dict) -> None:
    with zipfile.ZipFile(inbox / f"{student}.zip", "w") as archive:
        for name, nb in notebooks.items():
            archive.writestr(f"{student}/backprop/{name}.ipynb", nbformat.writes(nb))
        archive.writestr("__MACOSX/._junk", b"ignored")


def write_flat(inbox: Path, student: str, notebooks: dict) -> None:
    inbox.mkdir(parents=True, exist_ok=True)
    for name, nb in notebooks.items():
        nbformat.write(nb, inbox / f"{student}_{name}.ipynb")


def points(course: Course) -> dict[str, float]:
    """grade_id -> points of every graded cell."""
    out = {}
    for name in course.notebooks(ASSIGNMENT):
        for cell in nbformat.read(course.source / ASSIGNMENT / f"{name}.ipynb", as_version=4).cells:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if meta.get("grade"):
                out[meta["grade_id"]] = float(meta.get("points", 0))
    return out


def notebook_of(course: Course) -> dict[str, str]:
    """grade_id -> notebook name."""
    return {grade_id(c): name for name in course.notebooks(ASSIGNMENT)
            for c in nbformat.read(course.source / ASSIGNMENT / f"{name}.ipynb", as_version=4).cells if grade_id(c)}


def referee_lines(course: Course) -> set[str]:
    """Telling lines of the hidden tests' code (tools/referee) that the student version does not show: none may
    appear in a student's feedback."""
    public = "\n".join(cell.source for nb in blank(course).values() for cell in nb.cells)
    lines = set()
    for path in (ROOT / "tools" / "referee").glob("*.py"):
        lines |= {line.strip() for line in path.read_text().splitlines()
                  if len(line.strip()) > 30 and not line.strip().startswith(("#", '"', "'", "def ", "class "))}
    return {line for line in lines if line not in public}


def html_text(path: Path) -> str:
    """The visible text of an HTML file: tags removed, entities decoded (code is split into spans)."""
    text = path.read_text()
    text = re.sub(r"<style.*?</style>|<script.*?</script>", "", text, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------------------------------------------------------
# One class, graded once
# ---------------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = make_course(tmp_path_factory.mktemp("course"), referee_timeout=REFEREE_TIMEOUT)
    inbox = tmp_path_factory.mktemp("inbox")
    layouts = [write_folder, write_zip, write_flat]
    for number, (student, (replacements, _)) in enumerate(VARIANTS.items()):
        notebooks = submission(course, replacements)
        if student in HANDED_IN:
            notebooks = {name: nb for name, nb in notebooks.items() if name in HANDED_IN[student]}
        layouts[number % 3](inbox, student, notebooks)
    write_folder(inbox, "s00_blank", blank(course))
    for student, files in BROKEN.items():
        (inbox / student).mkdir()
        for name, data in files.items():
            (inbox / student / name).write_bytes(data)
    good = submission(course, {})
    last = course.notebooks(ASSIGNMENT)[-1]
    nbformat.write(good[last], inbox / "s13_not_json" / f"{last}.ipynb")
    (inbox / "README.txt").write_text("a stray file at the top of the inbox")
    # an unpacked archive may hold symbolic links; one to the reference answers must not be collected
    (inbox / "s14_only_a_pdf" / f"{last}.ipynb").symlink_to(course.source / ASSIGNMENT / f"{last}.ipynb")

    report = collect(course, inbox, ASSIGNMENT)
    reference_file = course.submitted / "s01_reference" / ASSIGNMENT / f"{course.notebooks(ASSIGNMENT)[0]}.ipynb"
    before = digest(reference_file)
    messages = []
    rows = grade(course, ASSIGNMENT, echo=messages.append)
    return {"course": course, "report": report, "rows": {r.student: r for r in rows}, "messages": messages,
            "reference_digest_before": before, "reference_file": reference_file}


def expected_score(course, failing: set, student: str | None = None) -> float:
    """The points of every graded cell but the failing ones, in the notebooks ``student`` handed in."""
    where, mine = notebook_of(course), HANDED_IN.get(student)
    return sum(p for gid, p in points(course).items() if gid not in failing and (mine is None or where[gid] in mine))


def test_collect_understands_the_three_layouts_and_reports_the_rest(graded):
    report = graded["report"]
    expected = set(VARIANTS) | set(BROKEN) | {"s00_blank"}
    assert set(report.students) == expected
    for student in VARIANTS:
        handed_in = HANDED_IN.get(student, graded["course"].notebooks(ASSIGNMENT))
        assert len(report.students[student]["notebooks"]) == len(handed_in), student
    problems = {s: " | ".join(info["problems"]) for s, info in report.students.items()}
    assert "notes.txt: not a notebook" in problems["s13_not_json"]
    assert "not JSON" in problems["s13_not_json"]
    assert "answers.pdf: not a notebook" in problems["s14_only_a_pdf"]
    assert "a symbolic link, left out" in problems["s14_only_a_pdf"]
    assert any("README.txt" in item for item in report.unassigned)
    assert "test_relu_backward put back" in problems["s11_deletes_test"]


def test_reference_scores_full_marks_and_blank_release_scores_zero(graded):
    rows, course = graded["rows"], graded["course"]
    full = sum(points(course).values())
    assert rows["s01_reference"].score == rows["s01_reference"].max_score == full > 0
    assert rows["s00_blank"].score == 0


@pytest.mark.parametrize("student", list(VARIANTS))
def test_every_submission_gets_the_expected_score(graded, student):
    _, failing = VARIANTS[student]
    row = graded["rows"][student]
    assert row.score == expected_score(graded["course"], failing, student), (student, row.problems)


def test_correct_answer_written_differently_scores_full_marks(graded):
    row = graded["rows"]["s02_loops"]
    assert row.score == row.max_score


@pytest.mark.parametrize("student", ["s03_typical_mistake", *MISTAKES])
def test_typical_mistake_scores_partial_marks(graded, student):
    row = graded["rows"][student]
    assert 0 < row.score < row.max_score, (student, row.score, row.problems)


@pytest.mark.parametrize("student", ["v_loops", "v_float32"])
def test_correct_answers_in_loops_or_float32_score_full_marks(graded, student):
    row = graded["rows"][student]
    assert row.score == row.max_score, (student, row.problems)


def test_infinite_loop_is_stopped_by_the_timeout_and_the_batch_goes_on(graded):
    rows = graded["rows"]
    assert any("test_relu_backward: time limit exceeded" in p for p in rows["s04_infinite_loop"].problems)
    assert rows["s05_after_the_loop"].score == rows["s05_after_the_loop"].max_score
    assert any("test_matmul_backward: time limit exceeded" in p for p in rows["s06_ignores_interrupt"].problems)
    assert rows["s04_infinite_loop"].seconds < 4 * TEST_TIMEOUT + 4 * REFEREE_TIMEOUT + 60


def test_a_dying_kernel_costs_only_its_own_cell(graded):
    row = graded["rows"]["s07_kernel_dies"]
    assert any("the kernel died" in p for p in row.problems)
    assert row.score == expected_score(graded["course"], {"test_binary_cross_entropy_backward"})


def test_edited_and_deleted_test_cells_are_graded_with_the_original(graded):
    rows = graded["rows"]
    assert any("locked cell test_relu_backward was edited" in p for p in rows["s10_edits_test"].problems)
    assert rows["s10_edits_test"].score < rows["s10_edits_test"].max_score   # the original test ran and failed
    assert rows["s11_deletes_test"].score == rows["s11_deletes_test"].max_score   # put back, ran and passed
    autograded = graded["course"].autograded / "s11_deletes_test" / ASSIGNMENT
    gids = {grade_id(c) for p in autograded.glob("*.ipynb") for c in nbformat.read(p, as_version=4).cells}
    assert "test_relu_backward" in gids


def test_files_that_are_not_notebooks_are_skipped_and_scored_zero(graded):
    rows, course = graded["rows"], graded["course"]
    handed_in = course.notebooks(ASSIGNMENT)[-1]            # the only notebook of s13 that is a notebook
    failing = {gid for gid, nb in notebook_of(course).items() if nb != handed_in}
    assert rows["s13_not_json"].score == expected_score(course, failing) > 0
    assert rows["s14_only_a_pdf"].score == 0
    assert any("nothing gradable" in p for p in rows["s14_only_a_pdf"].problems)


def test_an_attacker_cannot_touch_the_gradebook_or_other_students(graded):
    course, rows = graded["course"], graded["rows"]
    attacker = rows["s12_attacker"]
    assert attacker.score == attacker.max_score, attacker.problems
    assert course.gradebook_path.exists()
    assert not (course.root / "PWNED.txt").exists() and not Path("/tmp/course-grading-pwned.txt").exists()
    assert digest(graded["reference_file"]) == graded["reference_digest_before"]
    for student, (_, failing) in VARIANTS.items():
        assert scores(course, ASSIGNMENT, student)[0] == expected_score(course, failing, student), student
    attacked = notebook_of(course)["matmul_backward"]
    outputs = json.dumps([c.get("outputs", []) for c in nbformat.read(
        course.autograded / "s12_attacker" / ASSIGNMENT / f"{attacked}.ipynb", as_version=4).cells])
    assert "ATTACK SUCCEEDED" not in outputs
    assert outputs.count("refused:") == ATTACK.count('": lambda') + 1
    assert (course.autograded / "s12_attacker" / ASSIGNMENT / "my-own-file.txt").exists()
    assert any("sandbox refused" in p for p in attacker.problems)
    assert any("review the answer" in p for p in attacker.problems)


def test_huge_output_is_truncated(graded):
    course, row = graded["course"], graded["rows"]["s09_huge_output"]
    assert any("output truncated" in p for p in row.problems)
    for path in (course.autograded / "s09_huge_output" / ASSIGNMENT).glob("*.ipynb"):
        assert path.stat().st_size < 2_000_000


def test_csv_has_every_collected_student(graded):
    course = graded["course"]
    import csv

    with open(course.grades_csv, newline="") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    assert set(rows) == set(graded["report"].students)
    assert float(rows["s01_reference"]["score"]) == float(rows["s01_reference"]["max_score"])
    assert float(rows["s14_only_a_pdf"]["score"]) == 0 and rows["s14_only_a_pdf"]["problems"]


def test_summary_table_lists_every_student(graded):
    table = "\n".join(graded["messages"])
    for student in graded["report"].students:
        assert f"| {student} |" in table


def test_feedback_shows_verdicts_in_one_line_and_no_hidden_test_code(graded):
    course = graded["course"]
    secret = referee_lines(course)
    assert len(secret) > 50
    pages = sorted(course.feedback.glob(f"*/{ASSIGNMENT}/*.html"))
    handed_in = sum(len(HANDED_IN.get(student, course.notebooks(ASSIGNMENT))) for student in VARIANTS)
    assert len(pages) >= handed_in - 1
    for page in pages:
        text = html_text(page)
        leaked = [line for line in secret if line in text]
        assert not leaked, f"{page.relative_to(course.root)} shows hidden test code: {leaked[:3]}"
        assert "HIDDEN TESTS" not in text
    relu_page = f"{notebook_of(course)['test_relu_backward']}.html"
    hidden_failure = html_text(course.feedback / "s15_fails_only_hidden" / ASSIGNMENT / relu_page)
    assert re.search(r"A hidden test failed: dL_dx has the right shape but wrong values .*\(hidden test: an input "
                     r"of shape \(\d, \d\) with exact zeros\)", hidden_failure), hidden_failure[-2000:]
    visible_failure = html_text(course.feedback / "s03_typical_mistake" / ASSIGNMENT / relu_page)
    assert "A test failed: dL_dx: is 0 where x == 0" in visible_failure
    for text in (hidden_failure, visible_failure):      # (an answer cell's own error keeps its traceback)
        assert "Traceback (most recent call last)" not in text


def test_a_warning_on_stderr_costs_no_points(graded):
    row = graded["rows"]["s16_warns"]
    assert row.score == row.max_score, row.problems
    layers = notebook_of(graded["course"])["relu_backward"]
    nb = nbformat.read(graded["course"].autograded / "s16_warns" / ASSIGNMENT / f"{layers}.ipynb", as_version=4)
    test_cell = next(c for c in nb.cells if grade_id(c) == "test_relu_backward")
    text = "".join(o.get("text", "") for o in test_cell.outputs)
    assert "RuntimeWarning" in text and "do not cost points" in text
    assert not any(o.get("name") == "stderr" for o in test_cell.outputs)


def test_validate_passes_the_reference_and_fails_the_blank_release(graded, tmp_path):
    from nbgrader.validator import Validator

    course = graded["course"]
    validator = Validator(config=course.config)
    for name in course.notebooks(ASSIGNMENT):
        answered = tmp_path / f"{name}.ipynb"      # the reference answers in the student version: no hidden tests
        nbformat.write(submission(course, {})[name], answered)
        assert validator.validate(str(answered)) == {}
        failed = validator.validate(str(course.release_dir / ASSIGNMENT / f"{name}.ipynb")).get("failed", [])
        graded_cells = [c for c in blank(course)[name].cells if c.get("metadata", {}).get("nbgrader", {}).get("grade")]
        assert len(failed) == len(graded_cells) > 0


def test_validate_tells_the_truth_about_practised_functions_and_warnings(graded, tmp_path):
    """What the grader refuses, Validate refuses with the clear message; what costs no points there (a warning)
    passes Validate too."""
    from nbgrader.validator import Validator

    course = graded["course"]
    name = notebook_of(course)["test_relu_backward"]
    validator = Validator(config=course.config)
    for source, verdict in [("def relu_backward(dL_dz, x):\n    return ops.relu_backward(dL_dz, x)", "fails"),
                            (RELU_WARNS, "passes")]:
        path = tmp_path / f"{name}.ipynb"
        nbformat.write(submission(course, {"relu_backward": source})[name], path)
        result = validator.validate(str(path))
        if verdict == "passes":
            assert result == {}, result
        else:
            failed = result.get("failed", [])
            message = re.sub(r"\x1b\[[0-9;]*m", "", failed[0]["raw_error"]) if len(failed) == 1 else ""
            assert "you may not call mlpkit's relu_backward" in message, result


def test_every_released_test_cell_keeps_a_visible_check(graded):
    """Validate sees only visible tests: a test cell that is empty without its hidden part would always pass."""
    for name, nb in blank(graded["course"]).items():
        for cell in nb.cells:
            if cell.get("metadata", {}).get("nbgrader", {}).get("grade") and cell.cell_type == "code":
                code = [ln for ln in cell.source.splitlines() if ln.strip() and not ln.strip().startswith("#")]
                assert code, f"{name}/{grade_id(cell)} has no visible check"


def test_committed_student_version_matches_a_fresh_release(graded):
    """exercises/ is generated, committed for Binder users, and must equal what release produces now."""
    course, committed = graded["course"], ROOT / "exercises" / ASSIGNMENT
    assert committed.is_dir(), "exercises/backprop is missing: run `python -m tools.grading release`"

    def cells(path: Path) -> list:
        return [(c.cell_type, c.source, c.get("metadata", {}).get("nbgrader"))
                for c in nbformat.read(path, as_version=4).cells]

    assert sorted(p.name for p in committed.glob("*.ipynb")) == sorted(
        p.name for p in (course.release_dir / ASSIGNMENT).glob("*.ipynb"))
    for path in sorted((course.release_dir / ASSIGNMENT).glob("*.ipynb")):
        assert cells(committed / path.name) == cells(path), (
            f"exercises/{ASSIGNMENT}/{path.name} is out of date: run `python -m tools.grading release`")


def test_the_gradebook_lives_where_db_url_says(tmp_path):
    """Course takes its paths and its gradebook from nbgrader's CourseDirectory: a db_url in the config (here an
    override) moves the gradebook, and a database grading cannot copy per student is refused with the fix."""
    shutil.copy(ROOT / "nbgrader_config.py", tmp_path / "nbgrader_config.py")
    shutil.copytree(SOURCE_DIR / ASSIGNMENT, tmp_path / "solutions" / ASSIGNMENT)
    elsewhere = tmp_path / "books" / "term-1.db"
    elsewhere.parent.mkdir()
    overrides = Config()
    overrides.CourseDirectory.db_url = f"sqlite:///{elsewhere}"
    course = Course(tmp_path, overrides)
    release.release(course, [ASSIGNMENT])
    assert course.gradebook_path == elsewhere and elsewhere.exists()
    assert not (tmp_path / "gradebook.db").exists()
    with course.gradebook() as gb:
        assert {nb.name for nb in gb.find_assignment(ASSIGNMENT).notebooks} == set(course.notebooks(ASSIGNMENT))
    assert course.release_dir == tmp_path / "exercises" and course.submitted == tmp_path / "submitted"
    server = Config()
    server.CourseDirectory.db_url = "postgresql://db.example.org/grades"
    with pytest.raises(SystemExit, match=r"SQLite gradebook.*sqlite:///<file>"):
        _ = Course(tmp_path, server).gradebook_path


def test_an_assignment_the_referee_cannot_grade_safely_is_refused_before_anyone_is_graded(tmp_path, monkeypatch):
    from coursekit import feedback

    shutil.copy(ROOT / "nbgrader_config.py", tmp_path / "nbgrader_config.py")
    shutil.copytree(SOURCE_DIR / ASSIGNMENT, tmp_path / "solutions" / ASSIGNMENT)
    path = tmp_path / "solutions" / ASSIGNMENT / "1_layers_and_jacobian.ipynb"
    nb = nbformat.read(path, as_version=4)
    tests = {c.metadata.nbgrader.grade_id: c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")}
    tests["test_matmul_backward"].metadata.nbgrader.grade_id = "test_something_new"
    tests["test_sigmoid_backward"].source += "\n### BEGIN HIDDEN TESTS\nassert True\n### END HIDDEN TESTS\n"
    nbformat.write(nb, path)
    monkeypatch.delitem(feedback.PRACTISED, "relu_backward")
    with pytest.raises(SystemExit) as refused:
        release.check_assignment(Course(tmp_path), ASSIGNMENT)
    message = str(refused.value)
    assert "test_something_new: a test cell without a hidden test in tools/referee/hidden.py TESTS" in message
    assert "test_sigmoid_backward: has a '### BEGIN HIDDEN TESTS' block" in message
    assert "test_relu_backward: relu_backward has no PRACTISED entry (put @practises(...)" in message
    assert "'Adding an exercise'" in message
