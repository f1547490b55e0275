"""Release: the student version of each assignment, checked before anyone is graded.

``release`` runs nbgrader's generate_assignment (which also records the assignment's cells in the gradebook) and
copies the result into exercises/; ``check_assignment`` refuses an assignment the referee could not grade safely;
``validate`` proves the reference answers pass nbgrader's Validate button and the blank release fails every
graded cell. ``release`` also rewrites the tables derived from the notebooks and the referee (``TABLES``: the
README's points and the instructors' guide's requirements) between their markers, so that nobody types them.
"""

from __future__ import annotations

import copy
import shutil
import tempfile
from pathlib import Path

import nbformat
from nbgrader import utils

from tools.course import DEFAULT_ASSIGNMENT, Course, checked, temporary


def release(course: Course, assignments: list[str] | None = None) -> list[Path]:
    """generate_assignment for each assignment (gradebook updated), then copy the result into exercises/.

    nbgrader writes into a temporary release folder first, so a failing generation never
    deletes the committed student version.
    """
    written = []
    for assignment in assignments or course.assignments():
        check_assignment(course, assignment)
        with tempfile.TemporaryDirectory(prefix="course-release-") as tmp:
            _generate(course, assignment, tmp)
            target = course.release_dir / assignment
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(Path(tmp) / assignment, target)
            written += sorted(target.glob("*.ipynb"))
    return written + write_tables(course)


def _generate(course: Course, assignment: str, folder: str) -> None:
    with temporary(course.coursedir, release_directory=folder):
        result = course.api.generate_assignment(assignment, force=True, create=True)
    checked(result, f"generate_assignment {assignment}")


def check_assignment(course: Course, assignment: str) -> None:
    """Refuse an assignment the referee could not grade safely (fail closed, before anyone is graded).

    Every test cell needs a hidden test in tools/referee/hidden.py TESTS whose function declares what it must not
    call (``@practises`` on its visible check, coursekit.feedback.PRACTISED), and no notebook may hold hidden test
    code: code in a notebook runs in the student's kernel, where the student's code can reach it.
    """
    from coursekit.feedback import PRACTISED
    from tools.referee.hidden import TESTS

    problems = []
    for name in course.notebooks(assignment):
        nb = nbformat.read(course.source / assignment / f"{name}.ipynb", as_version=4)
        for cell in nb.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if "BEGIN HIDDEN TESTS" in cell.source:
                problems.append(f"{name}/{grade_id}: has a '### BEGIN HIDDEN TESTS' block; hidden tests "
                                "belong in tools/referee/hidden.py, never in a notebook")
            if utils.is_grade(cell) and cell.cell_type == "code" and grade_id not in TESTS:
                problems.append(f"{name}/{grade_id}: a test cell without a hidden test in "
                                "tools/referee/hidden.py TESTS")
            elif utils.is_grade(cell) and cell.cell_type == "code" and TESTS[grade_id].function not in PRACTISED:
                problems.append(f"{name}/{grade_id}: {TESTS[grade_id].function} has no PRACTISED entry (put "
                                "@practises(...) on its visible check in coursekit/checks)")
    if problems:
        raise SystemExit(f"{assignment} cannot be graded safely:\n  " + "\n  ".join(problems)
                         + "\n(docs/instructors.md, 'Adding an exercise')")


def ensure_in_gradebook(course: Course, assignment: str) -> None:
    """Autograde needs the assignment's source cells in the gradebook: generate them if missing."""
    from nbgrader.api import MissingEntry

    with course.gradebook() as gb:
        try:
            known = {nb.name for nb in gb.find_assignment(assignment).notebooks}
        except MissingEntry:
            known = set()
    if known != set(course.notebooks(assignment)):
        with tempfile.TemporaryDirectory(prefix="course-release-") as tmp:
            _generate(course, assignment, tmp)


def student_copy_with_answers(source_nb, release_nb):
    """The release notebook with each answer cell's source taken from the source notebook.

    This is what a student who wrote the reference answers submits: no hidden tests.
    """
    answers = {c.metadata.nbgrader.grade_id: c.source for c in source_nb.cells if utils.is_solution(c)}
    nb = copy.deepcopy(release_nb)
    for cell in nb.cells:
        if utils.is_solution(cell) and cell.metadata.nbgrader.get("grade_id") in answers:
            cell.source = answers[cell.metadata.nbgrader.grade_id]
    return nb


def validate(course: Course, assignments: list[str] | None = None, echo=print) -> bool:
    """The reference answers pass Validate without hidden tests; the blank release fails every graded cell."""
    from nbgrader.validator import Validator

    ok = True
    validator = Validator(config=course.config)
    for assignment in assignments or course.assignments():
        for name in course.notebooks(assignment):
            release_path = course.release_dir / assignment / f"{name}.ipynb"
            source_nb = nbformat.read(course.source / assignment / f"{name}.ipynb", as_version=4)
            release_nb = nbformat.read(release_path, as_version=4)
            with tempfile.TemporaryDirectory(prefix="course-validate-") as tmp:
                answered = Path(tmp) / f"{name}.ipynb"
                nbformat.write(student_copy_with_answers(source_nb, release_nb), answered)
                reference = validator.validate(str(answered))
                blank = validator.validate(str(release_path))
            graded = sum(1 for c in release_nb.cells if utils.is_grade(c))
            good = not reference and len(blank.get("failed", [])) == graded
            ok &= good
            echo(f"{assignment}/{name}: reference {'passes' if not reference else 'FAILS: ' + str(reference)[:300]}; "
                 f"blank fails {len(blank.get('failed', []))}/{graded} graded cells {'ok' if good else 'NOT OK'}")
    return ok


def graded_cells(course: Course, assignment: str) -> list[tuple[str, str, float]]:
    """(notebook, grade_id, points) of every graded cell of the source notebooks, in notebook and cell order."""
    cells = []
    for name in course.notebooks(assignment):
        for cell in nbformat.read(course.source / assignment / f"{name}.ipynb", as_version=4).cells:
            if utils.is_grade(cell):
                cells.append((name, cell.metadata.nbgrader.grade_id, float(cell.metadata.nbgrader.get("points", 0))))
    return cells


def points_table(course: Course, assignment: str = DEFAULT_ASSIGNMENT) -> str:
    """The assignment's graded cells as a Markdown table: notebook, function, points, and the total."""
    rows = ["| notebook | graded function | points |", "| --- | --- | ---: |"]
    cells = graded_cells(course, assignment)
    for name, grade_id, points in cells:
        rows.append(f"| `{name}.ipynb` | `{grade_id.removeprefix('test_')}` | {points:g} |")
    return "\n".join([*rows, f"| | total | {sum(points for *_, points in cells):g} |"])


def requirements_table(course: Course | None = None) -> str:
    """Every requirement the hidden tests check (tools/referee/hidden.py REQUIREMENTS) as a Markdown table."""
    from tools.referee.hidden import REQUIREMENTS

    rows = ["| function | requirement | checked by (tools/referee/hidden.py, hidden_graph.py) | id |",
            "| --- | --- | --- | --- |"]
    return "\n".join(rows + [f"| `{r.function}` | {r.text} | {r.check} | `{r.id}` |" for r in REQUIREMENTS])


#: file of the course -> (marker, the function that writes its table); ``write_tables`` fills them in.
TABLES = {"README.md": ("points", points_table), "docs/instructors.md": ("requirements", requirements_table)}


def table_markers(marker: str) -> tuple[str, str]:
    return f"<!-- {marker}: written by `python -m tools.grading release`, do not edit -->", f"<!-- end of {marker} -->"


def write_tables(course: Course) -> list[Path]:
    """Rewrite each of ``TABLES`` between its markers (a course without the file or the markers is left alone);
    return the files that changed."""
    changed = []
    for name, (marker, make) in TABLES.items():
        path = course.root / name
        begin, end = table_markers(marker)
        text = path.read_text() if path.exists() else ""
        if begin not in text or end not in text:
            continue
        head, rest = text.split(begin, 1)
        new = f"{head}{begin}\n{make(course)}\n{end}{rest.split(end, 1)[1]}"
        if new != text:
            path.write_text(new)
            changed.append(path)
    return changed
