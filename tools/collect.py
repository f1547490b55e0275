"""Collect: the student files of an LMS download or an inbox folder -> submitted/<student>/<assignment>/.

INBOX layouts understood (they may be mixed):

    INBOX/<student>/<notebook>.ipynb          a folder per student (sub-folders are searched)
    INBOX/<student>.zip                       a zip per student (notebooks anywhere inside)
    INBOX/<student>_<notebook>.ipynb          flat files, e.g. an LMS bulk download

A notebook is recognised by its name; copies such as "1_layers_and_jacobian (1).ipynb" or
"1_layers_and_jacobian-Copy1.ipynb" count when the exact name is absent. Everything else
(other files, notebooks of other names, files that are not JSON notebooks) is reported per
student and left out; nothing stops the batch. Locked cells a student edited or deleted are put back from the
student version and reported. The report is kept in grading/<assignment>/collect.json for the grade step.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import re
import shutil
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import nbformat
from nbgrader import utils

from tools.course import DEFAULT_ASSIGNMENT, Course

MAX_NOTEBOOK_BYTES = 20 * 2**20          # a notebook larger than this is not collected (outputs full of images...)
MAX_ZIP_BYTES = 200 * 2**20              # total uncompressed size read from one student's zip
IGNORED_PARTS = {".ipynb_checkpoints", "__MACOSX", ".DS_Store", "Thumbs.db", "__pycache__"}
COPY_SUFFIX = re.compile(r"(?: \(\d+\)|-Copy\d+|-\d+|_\d+)$")


@dataclass
class Candidate:
    student: str
    notebook: str
    exact: bool
    origin: str                       # shown in reports: path inside the inbox (and zip)
    read: object                      # () -> bytes
    mtime: float = 0.0


@dataclass
class CollectReport:
    assignment: str
    students: dict = field(default_factory=dict)       # student -> {"notebooks": [...], "problems": [...]}
    unassigned: list = field(default_factory=list)     # files that belong to no student

    def problem(self, student: str, text: str) -> None:
        self.students.setdefault(student, {"notebooks": [], "problems": []})["problems"].append(text)


def safe_student_id(raw: str) -> str:
    """A student id nbgrader can use as a folder and glob: letters, digits and . _ @ - only."""
    return re.sub(r"[^A-Za-z0-9._@-]+", "_", raw.strip()).strip("._-")


def _match_notebook(stem: str, notebooks: list[str]) -> tuple[str | None, bool]:
    if stem in notebooks:
        return stem, True
    base = COPY_SUFFIX.sub("", stem)
    while base != stem:
        if base in notebooks:
            return base, False
        stem, base = base, COPY_SUFFIX.sub("", base)
    return None, False


def _ignored(parts) -> bool:
    return any(p in IGNORED_PARTS or p.startswith("._") for p in parts)


def _scan_inbox(inbox: Path, notebooks: list[str], report: CollectReport) -> list[Candidate]:
    candidates = []
    for entry in sorted(inbox.iterdir()):
        if _ignored([entry.name]):
            continue
        if entry.is_symlink():
            # e.g. a link to solutions/ in an unpacked archive: never follow links out of the inbox
            report.unassigned.append(f"{entry.name}: a symbolic link, left out")
        elif entry.is_dir():
            student = safe_student_id(entry.name)
            if not student:
                report.unassigned.append(f"{entry.name}/: not a usable student id")
                continue
            report.students.setdefault(student, {"notebooks": [], "problems": []})
            for path in sorted(p for p in entry.rglob("*") if p.is_file()):
                rel = path.relative_to(entry)
                if _ignored(rel.parts):
                    continue
                if path.is_symlink():
                    report.problem(student, f"{entry.name}/{rel}: a symbolic link, left out")
                    continue
                _add_file(candidates, report, student, f"{entry.name}/{rel}", path.name,
                          path.read_bytes, path.stat().st_mtime, path.stat().st_size, notebooks)
        elif entry.suffix.lower() == ".zip" and entry.is_file():
            student = safe_student_id(entry.stem)
            if not student:
                report.unassigned.append(f"{entry.name}: not a usable student id")
                continue
            report.students.setdefault(student, {"notebooks": [], "problems": []})
            _scan_zip(entry, student, notebooks, candidates, report)
        elif entry.suffix.lower() == ".ipynb":
            stem = entry.stem
            for name in sorted(notebooks, key=len, reverse=True):
                m = re.fullmatch(rf"(.+?)[_ -]+({re.escape(name)}(?:{COPY_SUFFIX.pattern[:-1]})*)", stem)
                if m and safe_student_id(m.group(1)):
                    student = safe_student_id(m.group(1))
                    report.students.setdefault(student, {"notebooks": [], "problems": []})
                    _add_file(candidates, report, student, entry.name, m.group(2) + ".ipynb", entry.read_bytes,
                              entry.stat().st_mtime, entry.stat().st_size, notebooks)
                    break
            else:
                report.unassigned.append(f"{entry.name}: no student id / notebook name recognised "
                                         f"(expected <student>_<notebook>.ipynb)")
        else:
            report.unassigned.append(f"{entry.name}: not a notebook, a student folder or a .zip")
    return candidates


def _scan_zip(path: Path, student: str, notebooks, candidates, report) -> None:
    try:
        archive = zipfile.ZipFile(path)
        infos = [i for i in archive.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, OSError) as error:
        report.problem(student, f"{path.name}: not a readable zip ({error}); nothing collected from it")
        return
    if sum(i.file_size for i in infos) > MAX_ZIP_BYTES:
        report.problem(student, f"{path.name}: more than {MAX_ZIP_BYTES >> 20} MB uncompressed; not opened")
        return
    for info in infos:
        parts = Path(info.filename).parts
        if _ignored(parts):
            continue
        name = parts[-1] if parts else info.filename
        mtime = datetime(*info.date_time).timestamp()
        _add_file(candidates, report, student, f"{path.name}:{info.filename}", name,
                  lambda info=info: archive.read(info), mtime, info.file_size, notebooks)


def _add_file(candidates, report, student, origin, name, read, mtime, size, notebooks) -> None:
    if not name.lower().endswith(".ipynb"):
        report.problem(student, f"{origin}: not a notebook, left out")
        return
    notebook, exact = _match_notebook(name[: -len(".ipynb")], notebooks)
    if notebook is None:
        report.problem(student, f"{origin}: not a notebook of this assignment (expected {', '.join(notebooks)}), "
                                "left out")
        return
    if size > MAX_NOTEBOOK_BYTES:
        report.problem(student, f"{origin}: {size >> 20} MB, larger than {MAX_NOTEBOOK_BYTES >> 20} MB; left out "
                                "(scored 0)")
        return
    candidates.append(Candidate(student, notebook, exact, origin, read, mtime))


def _read_notebook(candidate: Candidate):
    """The notebook, or a reason why it cannot be graded."""
    try:
        text = candidate.read().decode("utf-8-sig")
        raw = json.loads(text)
    except (UnicodeDecodeError, ValueError) as error:
        return None, f"not a notebook (not JSON: {str(error)[:80]})"
    except OSError as error:
        return None, f"cannot be read ({error})"
    if not isinstance(raw, dict) or not isinstance(raw.get("cells", raw.get("worksheets")), list):
        return None, "not a notebook (JSON without cells)"
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            nb = nbformat.reads(text, as_version=4)
    except Exception as error:  # nbformat raises many kinds
        return None, f"not a valid notebook ({type(error).__name__}: {str(error)[:80]})"
    return nb, None


def collect(course: Course, inbox: Path, assignment: str = DEFAULT_ASSIGNMENT) -> CollectReport:
    """Put the notebooks found in ``inbox`` into submitted/<student>/<assignment>/ (replacing earlier ones)."""
    inbox = Path(inbox)
    notebooks = course.notebooks(assignment)
    if not notebooks:
        raise SystemExit(f"no notebooks in {course.source / assignment}")
    report = CollectReport(assignment)
    candidates = _scan_inbox(inbox, notebooks, report)
    release = {}
    for name in notebooks:
        released = course.release_dir / assignment / f"{name}.ipynb"
        release[name] = nbformat.read(released, as_version=4) if released.exists() else None

    chosen: dict[tuple[str, str], Candidate] = {}
    for cand in candidates:
        key = (cand.student, cand.notebook)
        other = chosen.get(key)
        if other is None or (cand.exact, cand.mtime) > (other.exact, other.mtime):
            chosen[key] = cand
        if other is not None:
            keep, drop = (chosen[key], other if chosen[key] is cand else cand)
            report.problem(cand.student, f"several files for {cand.notebook}.ipynb: used {keep.origin}, "
                                         f"left out {drop.origin}")
    for student in sorted(report.students):
        target = course.submitted / student / assignment
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        for name in notebooks:
            cand = chosen.get((student, name))
            if cand is None:
                report.problem(student, f"{name}.ipynb missing (scored 0)")
                continue
            nb, reason = _read_notebook(cand)
            if nb is None:
                report.problem(student, f"{cand.origin}: {reason}, left out ({name}.ipynb scored 0)")
                continue
            if release.get(name) is not None:
                for gid in edited_locked_cells(nb, release[name]):
                    report.problem(student, f"{name}.ipynb: locked cell {gid} was edited; graded with the original")
                restored = restore_locked_cells(nb, release[name])
                if restored:
                    report.problem(student, f"{name}.ipynb: deleted locked cell(s) {', '.join(restored)} put back")
            nbformat.write(nb, target / f"{name}.ipynb")
            report.students[student]["notebooks"].append(f"{name}.ipynb")
    _save_report(course, report)
    return report


def _report_path(course: Course, assignment: str) -> Path:
    return course.work / assignment / "collect.json"


def _save_report(course: Course, report: CollectReport) -> None:
    path = _report_path(course, report.assignment)
    path.parent.mkdir(parents=True, exist_ok=True)
    merged = load_report(course, report.assignment)
    merged["students"].update(report.students)
    merged["unassigned"] = report.unassigned
    path.write_text(json.dumps(merged, indent=1, sort_keys=True))


def load_report(course: Course, assignment: str) -> dict:
    path = _report_path(course, assignment)
    if path.exists():
        return json.loads(path.read_text())
    return {"assignment": assignment, "students": {}, "unassigned": []}


def _grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def edited_locked_cells(submitted, release) -> list[str]:
    """grade_ids of locked cells (nbgrader's ``utils.is_locked``) whose source or type the student changed
    (autograde restores them from the gradebook)."""
    original = {_grade_id(c): c for c in release.cells if _grade_id(c) and utils.is_locked(c)}
    return [gid for gid, cell in ((_grade_id(c), c) for c in submitted.cells) if gid in original and (
        cell.cell_type != original[gid].cell_type or cell.source.strip() != original[gid].source.strip())]


def restore_locked_cells(submitted, release) -> list[str]:
    """Put back, in place, the locked cells of ``release`` that ``submitted`` lacks; return their grade_ids.

    Both are nbformat notebooks. A cell counts as present when a cell with the same nbgrader
    grade_id exists. Missing answer (solution) cells are not restored: the student may have
    moved their code. Each restored cell goes right after the nearest earlier cell of the
    release that the submission still has (or first), so it is graded against the original test (nbgrader
    then restores its full source from the gradebook).
    """
    present = {_grade_id(c): i for i, c in enumerate(submitted.cells) if _grade_id(c)}
    after: dict[int, list] = {}
    anchor, restored = -1, []
    for cell in release.cells:
        gid = _grade_id(cell)
        if gid is None:
            continue
        if gid in present:
            anchor = present[gid]
        elif utils.is_locked(cell):
            after.setdefault(anchor, []).append(copy.deepcopy(cell))
            restored.append(gid)
    if restored:
        cells = after.get(-1, [])
        for i, cell in enumerate(submitted.cells):
            cells = cells + [cell] + after.get(i, [])
        submitted.cells = cells
    return restored
