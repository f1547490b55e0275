"""Grading a class in parallel, through ``python -m tools.grading``: the number of workers changes nothing in
gradebook.db's grades, grades.csv, cells.csv or the feedback; a worker that crashes or hangs costs only its
student; regrading one student leaves every other line of grades.csv as it was, byte for byte; grades.csv has
one column per graded cell and cells.csv says what the class got wrong; progress and --quiet."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_grading_pipeline import (
    ASSIGNMENT,
    BCE_KILLS_KERNEL,
    LOOPS,
    RELU_ZERO_AT_KINK,
    digest,
    make_course,
    notebook_of,
    points,
    submission,
    write_folder,
)

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 10
CLASS = {
    "ada": {},
    "bob": dict(LOOPS),
    "cyd": {"relu_backward": RELU_ZERO_AT_KINK},
    "dan": {"relu_backward": RELU_ZERO_AT_KINK},
    "fay": {"binary_cross_entropy_backward": BCE_KILLS_KERNEL},
}


def cli(course, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "tools.grading", "--course", str(course.root), "--timeout", str(TIMEOUT), *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env={**os.environ, **(env or {})})


def a_class(tmp_path_factory, name: str, students: dict):
    course = make_course(tmp_path_factory.mktemp(name), timeout=TIMEOUT)
    inbox = tmp_path_factory.mktemp(f"{name}-inbox")
    for student, replacements in students.items():
        write_folder(inbox, student, submission(course, replacements))
    return course, inbox


def full_marks(course) -> float:
    return sum(points(course).values())


def without_relu(course) -> str:
    """The score of an answer that loses only relu_backward's points."""
    return f"{full_marks(course) - points(course)['test_relu_backward']:g}"


def grades(course) -> dict[str, dict]:
    with open(course.grades_csv, newline="") as f:
        return {line["student"]: line for line in csv.DictReader(f)}


def outputs(course) -> dict[str, str]:
    """Digest of everything a run produces that must not depend on the number of workers."""
    files = [course.grades_csv, course.work / ASSIGNMENT / "cells.csv", *sorted(course.feedback.rglob("*.html"))]
    return {path.relative_to(course.root).as_posix(): digest(path) for path in files}


@pytest.fixture(scope="module")
def one_and_three(tmp_path_factory):
    """The same class graded with one worker and with three."""
    runs = {}
    for jobs in (1, 3):
        course, inbox = a_class(tmp_path_factory, f"jobs{jobs}", CLASS)
        runs[jobs] = (course, cli(course, "all", str(inbox), "--jobs", str(jobs)))
    return runs


def test_the_number_of_workers_changes_no_grade_no_csv_line_and_no_feedback(one_and_three):
    (one, first), (three, second) = one_and_three[1], one_and_three[3]
    assert first.returncode == 0 and second.returncode == 0, first.stderr[-2000:] + second.stderr[-2000:]
    assert "1 worker(s)" in first.stdout and "3 worker(s)" in second.stdout
    assert grades(one)["ada"]["score"] == f"{full_marks(one):g}" and grades(one)["cyd"]["score"] == without_relu(one)
    assert outputs(one) == outputs(three)
    assert len([name for name in outputs(one) if name.endswith(".html")]) == 3 * len(CLASS)


def test_grades_csv_has_one_column_per_graded_cell_and_they_add_up(one_and_three):
    course, _ = one_and_three[3]
    where = notebook_of(course)
    with open(course.grades_csv, newline="") as f:
        reader = csv.DictReader(f)
        header, lines = reader.fieldnames, list(reader)
    assert header[:5] == ["student", "assignment", "score", "max_score", "problems"]
    assert header[5:] == [f"{where[gid]}/{gid}" for gid in points(course)]
    for line in lines:
        assert sum(float(line[c]) for c in header[5:]) == float(line["score"]), line
    cyd = grades(course)["cyd"]
    assert cyd["1_layers_and_jacobian/test_relu_backward"] == "0" and cyd["2_mlp_and_training/test_backward"] == "5"


def test_cells_csv_says_what_the_class_got_wrong(one_and_three):
    course, _ = one_and_three[3]
    with open(course.work / ASSIGNMENT / "cells.csv", newline="") as f:
        cells = {line["cell"]: line for line in csv.DictReader(f)}
    relu = cells["1_layers_and_jacobian/test_relu_backward"]
    assert relu["points"] == "3" and relu["students"] == str(len(CLASS))
    assert relu["full_marks"] == f"{3 / len(CLASS):.2f}" and float(relu["mean"]) == 3 * 3 / len(CLASS)
    assert relu["most_common_diagnosis"].startswith("dL_dx: is 0 where x == 0") and relu["students_with_it"] == "2"
    bce = cells["2_mlp_and_training/test_binary_cross_entropy_backward"]
    assert "DeadKernelError" in bce["most_common_diagnosis"] and bce["students_with_it"] == "1"
    assert cells["1_layers_and_jacobian/test_matmul_backward"]["full_marks"] == "1.00"


def test_progress_bar_and_summary_line(one_and_three):
    _, run = one_and_three[3]
    assert "grading backprop" in run.stderr and f"{len(CLASS)}/{len(CLASS)}" in run.stderr
    summary = run.stdout.strip().splitlines()[-1]
    assert summary.startswith(f"graded {len(CLASS)} student(s) in ") and "per minute, 3 worker(s)" in summary
    assert "2 with full marks" in summary and "flagged for review" in summary


def test_a_crashing_or_hanging_worker_costs_only_its_student(tmp_path_factory):
    course, inbox = a_class(tmp_path_factory, "faults", {"ada": {}, "bob": {}, "cyd": {}})
    # 45 s: ada takes about 10 s on a quiet machine; at a load of 7 she took longer than the 25 s this had
    run = cli(course, "all", str(inbox), "--jobs", "2", "--student-timeout", "45",
              env={"COURSE_GRADING_TEST_FAULT": "bob:crash,cyd:hang"})
    assert run.returncode == 0, run.stderr[-3000:]
    lines = grades(course)
    assert lines["ada"]["score"] == f"{full_marks(course):g}"
    assert lines["bob"]["score"] == lines["cyd"]["score"] == "0"
    assert "the grading worker stopped (exit code 3)" in lines["bob"]["problems"]
    assert "grading took longer than 45 s" in lines["cyd"]["problems"]
    assert "2 scored 0 with a reason" in run.stdout


def test_regrading_one_student_leaves_the_others_untouched(tmp_path_factory):
    students = {"ada": {}, "bob": {}}
    course, inbox = a_class(tmp_path_factory, "regrade", students)
    assert cli(course, "all", str(inbox), "--quiet").returncode == 0
    before = {line.split(",", 1)[0]: line for line in course.grades_csv.read_text().splitlines()}
    feedback = {p: digest(p) for p in (course.feedback / "ada").rglob("*.html")}
    # bob hands in again, with a mistake; only bob is regraded
    shutil.rmtree(inbox)
    inbox.mkdir()
    write_folder(inbox, "bob", submission(course, {"relu_backward": RELU_ZERO_AT_KINK}))
    assert cli(course, "collect", str(inbox)).returncode == 0
    run = cli(course, "grade", "--student", "bob", "--quiet")
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip().splitlines()[-1].startswith("graded 1 student(s)")
    assert "grading backprop" not in run.stderr                          # --quiet: no progress bar
    after = {line.split(",", 1)[0]: line for line in course.grades_csv.read_text().splitlines()}
    assert set(after) == set(before)
    assert {k: v for k, v in after.items() if k != "bob"} == {k: v for k, v in before.items() if k != "bob"}
    assert after["bob"] != before["bob"] and f",{without_relu(course)},{full_marks(course):g}," in after["bob"]
    assert {p: digest(p) for p in (course.feedback / "ada").rglob("*.html")} == feedback
    unknown = cli(course, "grade", "--student", "zoe")
    assert unknown.returncode != 0 and "not collected: zoe" in unknown.stderr


def test_jobs_must_be_positive(one_and_three):
    course, _ = one_and_three[1]
    run = cli(course, "grade", "--jobs", "0")
    assert run.returncode == 2 and "--jobs must be at least 1" in run.stderr


def test_nbgraders_export_with_the_course_plugin_writes_the_same_grades_csv(one_and_three, tmp_path):
    """`nbgrader export --exporter=tools.export.GradesCsv` (plain nbgrader, from the gradebook) writes byte for byte
    the grades.csv the grade command wrote: per-cell columns and the problems collect and grading noted."""
    course, _ = one_and_three[3]
    exported = tmp_path / "exported.csv"
    run = subprocess.run([sys.executable, "-m", "nbgrader", "export", "--exporter=tools.export.GradesCsv",
                          f"--to={exported}"], cwd=course.root, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert exported.read_bytes() == course.grades_csv.read_bytes()
    assert grades(course)["fay"]["problems"]        # so the problems are exported too, not only the points
