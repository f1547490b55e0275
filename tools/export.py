"""What grading hands the instructor: grades.csv, grading/<assignment>/cells.csv and the summary.

grades.csv has one line per student and assignment: ``student, assignment, score, max_score, problems``, then
one column per graded cell, ``<notebook stem>/<grade_id>``, with its points (they add up to ``score``).
Regrading some students rewrites their lines only; every other line stays byte for byte.
cells.csv gives, per graded cell, the class's mean points, the share with full points and the most common
diagnosis among the students who lost points there (the visible check's or the hidden test's verdict, with
shapes and relative errors blanked so that equal mistakes count together). ``GradesCsv`` is the same grades.csv as
an nbgrader export plugin.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from pathlib import Path

from nbgrader.plugins import ExportPlugin

BASE_COLUMNS = ["student", "assignment", "score", "max_score", "problems"]
CELL_COLUMNS = ["cell", "points", "students", "mean", "full_marks", "most_common_diagnosis", "students_with_it"]


def cell_columns(course, assignment: str) -> list[tuple[str, float]]:
    """("<notebook stem>/<grade_id>", points) of every graded cell, in notebook and cell order."""
    from tools.release import graded_cells

    return [(f"{name}/{grade_id}", points) for name, grade_id, points in graded_cells(course, assignment)]


def _read(path: Path) -> tuple[list[str], list[dict]]:
    if not path.exists():
        return [], []
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def write_grades(course, assignment: str, rows: list, path: Path | None = None) -> Path:
    """grades.csv (or ``path``) with ``rows`` (of ``assignment``) replacing those students' lines; all other lines
    kept."""
    path = Path(path or course.grades_csv)
    fields, existing = _read(path)
    columns = [name for name, _ in cell_columns(course, assignment)]
    graded = {row.student for row in rows}
    new = [{"student": r.student, "assignment": r.assignment, "score": f"{r.score:g}",
            "max_score": f"{r.max_score:g}", "problems": "; ".join(r.problems),
            **{c: f"{r.cells.get(c, 0.0):g}" for c in columns}} for r in rows]
    kept = [line for line in existing if line.get("assignment") != assignment or line.get("student") not in graded]
    lines = sorted(kept + new, key=lambda line: (line.get("assignment", ""), line.get("student", "")))
    fieldnames = BASE_COLUMNS + [f for f in fields if f not in BASE_COLUMNS] + [
        c for c in columns if c not in fields]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fieldnames, restval="")
        writer.writeheader()
        writer.writerows(lines)
    return path


class GradesCsv(ExportPlugin):
    """grades.csv as nbgrader's export plugin: ``nbgrader export --exporter=tools.export.GradesCsv [--to FILE]``
    writes, from the gradebook, the file ``python -m tools.grading grade`` writes (per-cell columns, the problems
    collect and grading noted), for a course graded with plain nbgrader too."""

    def export(self, gradebook) -> None:
        from tools.collect import load_report
        from tools.course import Course
        from tools.grade import Row, scores

        course = Course(Path(self.parent.coursedir.root))
        path = Path(self.to) if self.to else course.grades_csv
        for assignment in self.assignment or sorted(a.name for a in gradebook.assignments):
            notes = load_report(course, assignment)["students"]
            rows = []
            for submission in gradebook.find_assignment(assignment).submissions:
                student = submission.student.id
                if self.student and student not in self.student:
                    continue
                kept = results_folder(course, assignment) / f"{student}.json"
                problems = json.loads(kept.read_text()).get("problems", []) if kept.exists() else []
                score, max_score, cells = scores(course, assignment, student)
                rows.append(Row(student, assignment, score, max_score,
                                list(notes.get(student, {}).get("problems", [])) + problems, cells=cells))
            write_grades(course, assignment, sorted(rows, key=lambda row: row.student), path)


def results_folder(course, assignment: str) -> Path:
    return course.work / assignment / "results"


def save_result(course, row) -> None:
    """Keep a student's points, diagnoses and problems for cells.csv (grading/<assignment>/results/<id>.json)."""
    folder = results_folder(course, row.assignment)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{row.student}.json").write_text(json.dumps(
        {"student": row.student, "score": row.score, "max_score": row.max_score, "cells": row.cells,
         "diagnoses": row.diagnoses, "problems": row.problems}, indent=1, sort_keys=True))


def cells_path(course, assignment: str) -> Path:
    return course.work / assignment / "cells.csv"


def normalise_diagnosis(text: str) -> str:
    """A diagnosis without what varies between students: the hidden test's inputs, shapes, relative errors."""
    text = re.sub(r" \(hidden test: (?:[^()]|\([^()]*\))*\)", "", text)
    text = re.sub(r"relative error [-+.\de]+", "relative error ...", text)
    return re.sub(r"\(\d+(?:, \d+)*\)", "(...)", text).strip()


def write_cells(course, assignment: str) -> Path:
    """cells.csv from the lines of ``assignment`` in grades.csv and the kept diagnoses."""
    _, lines = _read(course.grades_csv)
    lines = [line for line in lines if line.get("assignment") == assignment]
    kept = {}
    for line in lines:
        path = results_folder(course, assignment) / f"{line['student']}.json"
        kept[line["student"]] = json.loads(path.read_text()) if path.exists() else {}
    path = cells_path(course, assignment)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CELL_COLUMNS)
        writer.writeheader()
        for column, points in cell_columns(course, assignment):
            values = [float(line.get(column) or 0) for line in lines]
            below = [line["student"] for line, value in zip(lines, values) if value < points]
            counts = Counter(normalise_diagnosis(kept[s].get("diagnoses", {}).get(column, "no diagnosis recorded"))
                             for s in below)
            common, count = (counts.most_common(1)[0] if counts else ("", 0))
            writer.writerow({"cell": column, "points": f"{points:g}", "students": len(values),
                             "mean": f"{sum(values) / len(values):.2f}" if values else "",
                             "full_marks": f"{sum(v >= points for v in values) / len(values):.2f}" if values else "",
                             "most_common_diagnosis": common, "students_with_it": count})
    return path


def summary_table(rows: list) -> str:
    lines = ["| student | score | max | problems |", "| --- | ---: | ---: | --- |"]
    for r in rows:
        problems = "; ".join(r.problems).replace("|", "/") or "-"
        lines.append(f"| {r.student} | {r.score:g} | {r.max_score:g} | {problems} |")
    return "\n".join(lines)


def summary_line(rows: list, seconds: float, jobs: int) -> str:
    full = sum(r.score == r.max_score for r in rows)
    zero = sum(r.score == 0 and any("scored 0" in p for p in r.problems) for r in rows)
    flagged = sum(bool(r.problems) for r in rows)
    rate = len(rows) / seconds * 60 if seconds else 0.0
    return (f"graded {len(rows)} student(s) in {seconds:.0f} s ({rate:.1f} per minute, {jobs} worker(s)): "
            f"{full} with full marks, {zero} scored 0 with a reason, {flagged} flagged for review")
