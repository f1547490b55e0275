"""Grading a class: every student in isolation, in parallel, with one writer for the gradebook.

``grade_student`` (run in a worker process, tools/workers.py) grades one student against a private copy of a
template gradebook that holds only the assignment: nbgrader's autograde (the sandboxed kernel, then the
referee), generate_feedback, then everything the instructor needs as plain JSON: each cell's points, each failed
cell's diagnosis, the problems worth a look, the log. ``grade`` hands the students to the workers and alone
writes their results into gradebook.db, grades.csv and cells.csv. No student can reach another's grades, workers
never contend for SQLite, and a result depends only on the submission, not on the number of workers.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import nbformat
from nbgrader import utils

from tools import export
from tools.workers import Pool, default_jobs

KEEP_BACKUPS = 20
#: Answer code that deserves a look: it can reach the tests, the grader or the machine. A hint for review only:
#: no score depends on it.
SUSPICIOUS = re.compile(r"coursekit\.feedback|from\s+coursekit\s+import\s+feedback|showtraceback|sys\.modules|"
                        r"__builtins__|\bbuiltins\b|__code__|\bctypes\b|\bgc\.|\binspect\.|\bimportlib\b|\bsubprocess\b|"
                        r"os\.system|\bsocket\b|\burllib\b|\brequests\b|sys\.exit|os\._exit|os\.kill|\bsignal\b")
SANDBOX_MESSAGE = re.compile(r"course grading sandbox: ([^:\n]+) is not allowed while grading")
#: Seconds a worker may spend on one student beyond what the time limits allow (kernel starts, nbgrader, feedback).
STUDENT_MARGIN_S = 180


@dataclass
class Row:
    """One student's line of grades.csv."""

    student: str
    assignment: str
    score: float
    max_score: float
    problems: list = field(default_factory=list)
    seconds: float = 0.0
    cells: dict = field(default_factory=dict)          # "<notebook>/<grade_id>" -> points
    diagnoses: dict = field(default_factory=dict)      # "<notebook>/<grade_id>" -> why it lost points


# -- one student, in a worker ------------------------------------------------------------------------------------
def grade_student(course, assignment: str, student: str, scratch: Path, feedback: bool) -> dict:
    """Autograde and give feedback to one student against a private gradebook; the result as plain data."""
    start = time.perf_counter()
    database = scratch / "gradebooks" / f"{student}.db"
    database.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(scratch / "template.db", database)
    result = {"student": student, "assignment": assignment, "submission": None, "problems": [], "log": "",
              "diagnoses": {}}
    notebooks = sorted((course.submitted / student / assignment).glob("*.ipynb"))
    try:
        if not notebooks:
            result["problems"].append("nothing gradable was submitted (scored 0)")
        else:
            with course.database(database):
                _autograde(course, assignment, student, feedback, result)
    except Exception as error:  # one student's failure must not stop the batch
        result["log"] += f"--- {student}: {type(error).__name__}: {error}\n"
        result["problems"].append(f"could not be graded (scored 0): {type(error).__name__}: {str(error)[:200]}")
        result["submission"] = None
    finally:
        database.unlink(missing_ok=True)
    result["seconds"] = time.perf_counter() - start
    return result


def _autograde(course, assignment: str, student: str, feedback: bool, result: dict) -> None:
    graded = course.api.autograde(assignment, student, force=True, create=True)
    result["log"] += f"--- autograde {student}\n{graded.get('log', '')}{graded.get('error', '')}\n"
    result["problems"] += _log_findings(graded.get("log", ""))
    if not graded.get("success"):
        reason = (graded.get("error") or "").strip().splitlines()[-1:] or ["unknown error"]
        result["problems"].append(f"could not be graded (scored 0): {reason[0][:200]}; see the grading log")
        return
    for path in sorted((course.autograded / student / assignment).glob("*.ipynb")):
        findings, diagnoses = _notebook_findings(path)
        result["problems"] += findings
        result["diagnoses"].update(diagnoses)
    if feedback:
        given = course.api.generate_feedback(assignment, student, force=True)
        result["log"] += f"--- feedback {student}\n{given.get('log', '')}{given.get('error', '')}\n"
        if not given.get("success"):
            result["problems"].append("feedback could not be generated; see the grading log")
    result["submission"] = _export_submission(course, assignment, student)


def _export_submission(course, assignment: str, student: str) -> dict:
    """Every grade and comment of the student's submission in the (private) gradebook, as plain data."""
    with course.gradebook() as gb:
        submission = gb.find_submission(assignment, student)
        return {"timestamp": submission.timestamp.isoformat() if submission.timestamp else None,
                "notebooks": {nb.name: {
                    "grades": {g.name: {"auto_score": g.auto_score, "manual_score": g.manual_score,
                                        "extra_credit": g.extra_credit, "needs_manual_grade": g.needs_manual_grade}
                               for g in nb.grades},
                    "comments": {c.name: c.auto_comment for c in nb.comments}} for nb in submission.notebooks}}


def _notebook_findings(path: Path) -> tuple[list[str], dict[str, str]]:
    """What the instructor should know about an autograded notebook (timeouts, dead kernels, sandbox refusals,
    the referee's notes, answers worth a look), and why each failed test cell failed."""
    findings, diagnoses = [], {}
    nb = nbformat.read(path, as_version=4)
    for number, cell in enumerate(nb.cells, 1):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        name = meta.get("grade_id") or f"cell {number}"
        for out in cell.get("outputs", []):
            text = json.dumps(out)
            if out.get("output_type") == "error" and out.get("ename") == "CellTimeoutError":
                findings.append(f"{path.stem}/{name}: time limit exceeded")
            elif out.get("output_type") == "error" and out.get("ename") == "DeadKernelError":
                findings.append(f"{path.stem}/{name}: the kernel died")
            for refused in sorted(set(SANDBOX_MESSAGE.findall(text))):
                findings.append(f"{path.stem}/{name}: sandbox refused {refused}")
            if "output truncated" in text and "[grader:" in text:
                findings.append(f"{path.stem}/{name}: output truncated")
        referee = cell.get("metadata", {}).get("referee") or {}
        findings += [f"{path.stem}/{name}: {note}" for note in referee.get("notes", [])]
        reason = referee.get("reason") or ""
        if "which this exercise does not allow" in reason or "stopped by the grading sandbox" in reason:
            findings.append(f"{path.stem}/{name}: {reason}")
        if cell.cell_type == "code" and utils.is_solution(cell):
            hits = sorted(set(m.group(0) for m in SUSPICIOUS.finditer(cell.source)))
            if hits:
                findings.append(f"{path.stem}/{name}: review the answer (uses {', '.join(hits)})")
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if utils.is_grade(cell) and errors:
            ename, evalue = errors[0].get("ename", ""), str(errors[0].get("evalue", ""))
            diagnoses[f"{path.stem}/{name}"] = evalue if ename in ("FeedbackError", "HiddenTestFailed") else (
                f"{ename}: {evalue}".strip(": "))
    return list(dict.fromkeys(findings)), diagnoses


def _log_findings(log_text: str) -> list[str]:
    # (edited locked cells are reported by collect, which compares them with the student version.)
    found = [f"graded cell {m} was missing; put back by nbgrader"
             for m in re.findall(r"Missing grade cell (\S+) encountered", log_text)]
    return list(dict.fromkeys(found))


def shutdown_kernels() -> None:
    """Stop the kernel the autograder started ahead for a next notebook, and the referee's process."""
    from tools.nbgrader_plugins import shutdown_spare_kernel
    from tools.referee import run

    shutdown_spare_kernel()
    run.shutdown()


# -- the class, in the main process ----------------------------------------------------------------------------
def grade(course, assignment: str, students: list[str] | None = None, feedback: bool = True,
          jobs: int | None = None, quiet: bool = False, student_seconds: float | None = None,
          echo=print) -> list[Row]:
    """Grade the collected students (all, or ``students``) with ``jobs`` workers; write gradebook.db, grades.csv
    and cells.csv; return the rows of the students graded, sorted by id."""
    from tools.collect import load_report
    from tools.release import check_assignment, ensure_in_gradebook

    everyone = sorted(p.parent.name for p in course.submitted.glob(f"*/{assignment}") if p.is_dir())
    if students:
        missing = sorted(set(students) - set(everyone))
        if missing:
            raise SystemExit(f"not collected: {', '.join(missing)} (run collect first)")
    todo = [s for s in everyone if not students or s in students]
    if not todo:
        raise SystemExit(f"nobody to grade: {course.submitted.relative_to(course.root)}/*/{assignment} is empty "
                         "(run collect first)")
    check_assignment(course, assignment)
    ensure_in_gradebook(course, assignment)
    jobs = min(jobs or default_jobs(), len(todo))
    backup = backup_gradebook(course)
    if not quiet:
        echo(f"gradebook backed up to {backup.relative_to(course.root)}" if backup else "no gradebook to back up")
    notes = load_report(course, assignment)["students"]
    logfile = course.work / assignment / "grade.log"
    logfile.parent.mkdir(parents=True, exist_ok=True)
    rows, start = [], time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="course-grading-") as scratch, open(logfile, "a") as log:
        scratch = Path(scratch)
        log.write(f"\n===== grading {assignment} at {datetime.now():%Y-%m-%d %H:%M:%S} with {jobs} workers =====\n")
        make_template(course, scratch / "template.db")
        limit = student_seconds or seconds_per_student(course, assignment)
        pool = Pool(course.root, config_dict(course.overrides), jobs, scratch, limit)
        tasks = [{"student": s, "assignment": assignment, "feedback": feedback} for s in todo]
        with _progress(len(todo), assignment, quiet) as bar:
            for task, result, failure in pool.run(tasks):
                row = _record(course, assignment, task["student"], result, failure, log)
                row.problems = list(notes.get(row.student, {}).get("problems", [])) + row.problems
                rows.append(row)
                bar.set_postfix_str(f"{row.student}: {row.score:g}/{row.max_score:g}", refresh=False)
                bar.update()
        for path in sorted((scratch / "logs").glob("*.log")):
            if path.stat().st_size:
                log.write(f"--- {path.name}\n{path.read_text(errors='replace')}\n")
    rows.sort(key=lambda r: r.student)
    export.write_grades(course, assignment, rows)
    export.write_cells(course, assignment)
    seconds = time.perf_counter() - start
    if not quiet:
        echo("")
        echo(export.summary_table(rows))
        echo(f"\ngrades: {course.grades_csv}\nper cell: {export.cells_path(course, assignment)}"
             f"\nfeedback: {course.feedback}/<student>/{assignment}/*.html\nlog: {logfile}")
    echo(export.summary_line(rows, seconds, jobs))
    return rows


@contextlib.contextmanager
def _progress(total: int, assignment: str, quiet: bool):
    from tqdm import tqdm

    with tqdm(total=total, desc=f"grading {assignment}", unit="student", disable=quiet, file=sys.stderr,
              dynamic_ncols=True) as bar:
        yield bar


def _record(course, assignment: str, student: str, result: dict | None, failure: str | None, log) -> Row:
    """Write one student's result into the gradebook (the only writer) and keep it for cells.csv."""
    problems = [failure] if failure else list(result["problems"])
    if result is not None:
        log.write(result["log"])
    if failure:
        log.write(f"--- {student}: {failure}\n")
    submission = (result or {}).get("submission")
    try:
        if submission is None:
            zero(course, assignment, student)
        else:
            import_submission(course, assignment, student, submission)
    except Exception as error:      # a broken result must not stop the batch either
        problems.append(f"could not be recorded (scored 0): {type(error).__name__}: {str(error)[:200]}")
        with contextlib.suppress(Exception):
            zero(course, assignment, student)
    score, max_score, cells = scores(course, assignment, student)
    row = Row(student, assignment, score, max_score, problems, (result or {}).get("seconds", 0.0), cells,
              dict((result or {}).get("diagnoses", {})))
    export.save_result(course, row)
    return row


def import_submission(course, assignment: str, student: str, submission: dict) -> None:
    """Replace the student's submission in gradebook.db by the one a worker graded (as autograde --force does)."""
    from nbgrader.api import MissingEntry

    timestamp = datetime.fromisoformat(submission["timestamp"]) if submission.get("timestamp") else None
    with course.gradebook() as gb:
        gb.update_or_create_student(student)
        with contextlib.suppress(MissingEntry):
            gb.remove_submission(assignment, student)
        graded = gb.update_or_create_submission(assignment, student, timestamp=timestamp)
        for notebook in graded.notebooks:
            data = submission["notebooks"].get(notebook.name, {})
            for grade in notebook.grades:
                values = data.get("grades", {}).get(grade.name, {"auto_score": 0, "needs_manual_grade": False})
                for key, value in values.items():
                    setattr(grade, key, value)
            for comment in notebook.comments:
                comment.auto_comment = data.get("comments", {}).get(comment.name)
        gb.db.commit()


def zero(course, assignment: str, student: str) -> None:
    """Record the submission in the gradebook with every grade 0 (it could not be graded)."""
    with course.gradebook() as gb:
        gb.update_or_create_student(student)
        submission = gb.update_or_create_submission(assignment, student)
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                grade.auto_score = 0
                grade.manual_score = None
                grade.needs_manual_grade = False
        gb.db.commit()


def scores(course, assignment: str, student: str) -> tuple[float, float, dict[str, float]]:
    """(score, max score, points per "<notebook>/<grade_id>") of a student in gradebook.db."""
    from nbgrader.api import MissingEntry

    with course.gradebook() as gb:
        max_score = gb.find_assignment(assignment).max_score
        try:
            submission = gb.find_submission(assignment, student)
        except MissingEntry:
            return 0.0, max_score, {}
        cells = {f"{nb.name}/{g.name}": float(g.score or 0) for nb in submission.notebooks for g in nb.grades}
        return submission.score, max_score, cells


def seconds_per_student(course, assignment: str) -> float:
    """The longest a correct grading of one student can take: every code cell at the time limit in the kernel,
    every test cell twice at the limit in the referee, plus a margin."""
    timeout = float(course.config.Execute.get("timeout", 30))
    cells = tests = 0
    for name in course.notebooks(assignment):
        for cell in nbformat.read(course.source / assignment / f"{name}.ipynb", as_version=4).cells:
            if cell.cell_type == "code":
                cells += 1
                tests += bool(utils.is_grade(cell))
    return cells * timeout + tests * (2 * timeout + 10) + STUDENT_MARGIN_S


def make_template(course, target: Path) -> None:
    """A copy of gradebook.db without any student: what each student is graded against."""
    sqlite_copy(course.gradebook_path, target)
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{target}") as gb:
        for student in list(gb.students):
            gb.remove_student(student.id)


def config_dict(config) -> dict:
    """A traitlets Config as plain nested dicts (it crosses into the workers as JSON)."""
    return {key: config_dict(value) if isinstance(value, dict) else value for key, value in config.items()}


def backup_gradebook(course, directory: Path | None = None) -> Path | None:
    """A consistent copy of gradebook.db (sqlite backup API); keeps the newest KEEP_BACKUPS."""
    if not course.gradebook_path.exists():
        return None
    directory = directory or course.work / "backups"
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"gradebook-{datetime.now():%Y%m%d-%H%M%S-%f}.db"
    sqlite_copy(course.gradebook_path, target)
    for old in sorted(directory.glob("gradebook-*.db"))[:-KEEP_BACKUPS]:
        old.unlink()
    return target


def sqlite_copy(source: Path, target: Path) -> None:
    with contextlib.closing(sqlite3.connect(source)) as src, contextlib.closing(sqlite3.connect(target)) as dst:
        src.backup(dst)
