"""Grade the course's exercises with nbgrader: one command for instructors.

    python -m tools.grading release              # solutions/ -> exercises/ (student version) + gradebook
    python -m tools.grading collect INBOX        # student files -> submitted/<student>/<assignment>/
    python -m tools.grading grade [--jobs N]     # autograde everyone in parallel, feedback, grades.csv, cells.csv
    python -m tools.grading grade --student ID   # regrade some students; the others' grades stay as they are
    python -m tools.grading all INBOX [--jobs N] # collect + grade
    python -m tools.grading validate             # reference passes / blank fails, visible tests only
    python -m tools.grading publish DEST         # the student edition (no answers, no grader) into DEST

Options: --assignment NAME (default: backprop for collect/grade, every assignment for
release/validate), --course DIR (default: the repository), --timeout SECONDS (overrides
Execute.timeout of nbgrader_config.py). docs/instructors.md explains the workflow.

INBOX layouts understood by collect (they may be mixed):

    INBOX/<student>/<notebook>.ipynb          a folder per student (sub-folders are searched)
    INBOX/<student>.zip                       a zip per student (notebooks anywhere inside)
    INBOX/<student>_<notebook>.ipynb          flat files, e.g. an LMS bulk download

A notebook is recognised by its name; copies such as "1_layers_and_jacobian (1).ipynb" or
"1_layers_and_jacobian-Copy1.ipynb" count when the exact name is absent. Everything else
(other files, notebooks of other names, files that are not JSON notebooks) is reported per
student and left out; nothing stops the batch.

Autograding runs each notebook in a sandboxed kernel (the visible checks) and then lets the referee
(tools/referee) decide the hidden tests in a separate process; docs/instructors.md explains both.
Uses nbgrader's Python API (NbGraderAPI, Gradebook): one nbgrader CLI call costs ~3 s of
start-up, which a class of 50 students would pay 100 times.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import warnings
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_ASSIGNMENT = "backprop"
MAX_NOTEBOOK_BYTES = 20 * 2**20          # a notebook larger than this is not collected (outputs full of images...)
MAX_ZIP_BYTES = 200 * 2**20              # total uncompressed size read from one student's zip
IGNORED_PARTS = {".ipynb_checkpoints", "__MACOSX", ".DS_Store", "Thumbs.db", "__pycache__"}
COPY_SUFFIX = re.compile(r"(?: \(\d+\)|-Copy\d+|-\d+|_\d+)$")



# ---------------------------------------------------------------------------------------------------------------
# The course: config, nbgrader API, paths
# ---------------------------------------------------------------------------------------------------------------

class Course:
    """A course directory with an nbgrader_config.py; nbgrader is driven through its Python API."""

    def __init__(self, root: Path = ROOT, overrides=None):
        from traitlets.config import Config
        from traitlets.config.loader import PyFileConfigLoader

        self.root = Path(root).resolve()
        # nbgrader runs the `alembic` script when it creates a gradebook: make the one next to this Python
        # findable even when the virtual environment is not activated.
        scripts = str(Path(sys.executable).parent)
        if shutil.which("alembic") is None and scripts not in os.environ.get("PATH", "").split(os.pathsep):
            os.environ["PATH"] = scripts + os.pathsep + os.environ.get("PATH", "")
        config = PyFileConfigLoader("nbgrader_config.py", path=str(self.root)).load_config()
        config.CourseDirectory.root = str(self.root)
        self.overrides = overrides or Config()
        config.merge(self.overrides)
        self.config = config
        self._api = None
        self._database: Path | None = None

    @property
    def api(self):
        if self._api is None:
            from nbgrader.apps import NbGraderAPI
            from traitlets.log import get_logger

            # NbGraderAPI looks for nbgrader's exchange (not used by this course) and logs an error without one.
            def no_exchange_error(record: logging.LogRecord) -> bool:
                return "Unwritable directory" not in record.getMessage()

            logger = get_logger()
            logger.addFilter(no_exchange_error)
            try:
                self._api = NbGraderAPI(config=self.config)
            finally:
                logger.removeFilter(no_exchange_error)
            self._api.log.setLevel(logging.WARNING)
        return self._api

    def _dir(self, name: str) -> Path:
        value = self.config.CourseDirectory.get(name) or {"submitted_directory": "submitted",
                                                          "autograded_directory": "autograded",
                                                          "feedback_directory": "feedback"}[name]
        return self.root / value

    @property
    def source(self) -> Path:
        return self._dir("source_directory")

    @property
    def release_dir(self) -> Path:
        return self._dir("release_directory")

    @property
    def submitted(self) -> Path:
        return self._dir("submitted_directory")

    @property
    def autograded(self) -> Path:
        return self._dir("autograded_directory")

    @property
    def feedback(self) -> Path:
        return self._dir("feedback_directory")

    @property
    def gradebook_path(self) -> Path:
        return self._database or self.root / "gradebook.db"

    @contextlib.contextmanager
    def database(self, path: Path):
        """Use another gradebook file for a while (a worker grades each student against a private one)."""
        url = f"sqlite:///{path}"
        with _temporary(self, _database=Path(path)), _temporary(self.api.coursedir, db_url=url):
            yield

    @property
    def work(self) -> Path:
        """Instructor-local bookkeeping: collect reports, logs, gradebook backups."""
        return self.root / "grading"

    @property
    def grades_csv(self) -> Path:
        return self.root / "grades.csv"

    def assignments(self) -> list[str]:
        return sorted(p.name for p in self.source.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))

    def notebooks(self, assignment: str) -> list[str]:
        return sorted(p.stem for p in (self.source / assignment).glob("*.ipynb"))

    def gradebook(self):
        from nbgrader.api import Gradebook

        return Gradebook(f"sqlite:///{self.gradebook_path}")


def _check(result: dict, what: str) -> str:
    if not result.get("success"):
        raise RuntimeError(f"{what} failed:\n{result.get('log', '')}\n{result.get('error', '')}")
    return result.get("log", "")


# ---------------------------------------------------------------------------------------------------------------
# release
# ---------------------------------------------------------------------------------------------------------------

def release(course: Course, assignments: list[str] | None = None) -> list[Path]:
    """generate_assignment for each assignment (gradebook updated), then copy the result into exercises/.

    nbgrader writes into a temporary release folder first, so a failing generation never
    deletes the committed student version.
    """
    written = []
    for assignment in assignments or course.assignments():
        check_assignment(course, assignment)
        with tempfile.TemporaryDirectory(prefix="course-release-") as tmp:
            with _temporary(course.api.coursedir, release_directory=tmp):
                _check(course.api.generate_assignment(assignment, force=True, create=True),
                       f"generate_assignment {assignment}")
            target = course.release_dir / assignment
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(Path(tmp) / assignment, target)
            written += sorted(target.glob("*.ipynb"))
    return written


@contextlib.contextmanager
def _temporary(obj, **values):
    """Like nbgrader.utils.temp_attrs, but restores the attributes on an exception too (temp_attrs has no finally)."""
    old = {k: getattr(obj, k) for k in values}
    try:
        for k, v in values.items():
            setattr(obj, k, v)
        yield
    finally:
        for k, v in old.items():
            setattr(obj, k, v)


def check_assignment(course: Course, assignment: str) -> None:
    """Refuse an assignment the referee could not grade safely (fail closed, before anyone is graded).

    Every test cell needs a hidden test in tools/referee/hidden.py TESTS, and no notebook may hold hidden test
    code: code in a notebook runs in the student's kernel, where the student's code can reach it.
    """
    from tools.referee.hidden import TESTS

    problems = []
    for name in course.notebooks(assignment):
        nb = nbformat.read(course.source / assignment / f"{name}.ipynb", as_version=4)
        for cell in nb.cells:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if "BEGIN HIDDEN TESTS" in cell.source:
                problems.append(f"{name}/{meta.get('grade_id')}: has a '### BEGIN HIDDEN TESTS' block; hidden tests "
                                "belong in tools/referee/hidden.py, never in a notebook")
            if meta.get("grade") and cell.cell_type == "code" and meta.get("grade_id") not in TESTS:
                problems.append(f"{name}/{meta.get('grade_id')}: a test cell without a hidden test in "
                                "tools/referee/hidden.py TESTS")
    if problems:
        raise SystemExit(f"{assignment} cannot be graded safely:\n  " + "\n  ".join(problems)
                         + "\n(docs/instructors.md, 'Adding an exercise')")


def _ensure_in_gradebook(course: Course, assignment: str) -> None:
    """Autograde needs the assignment's source cells in the gradebook: generate them if missing."""
    from nbgrader.api import MissingEntry

    with course.gradebook() as gb:
        try:
            known = {nb.name for nb in gb.find_assignment(assignment).notebooks}
        except MissingEntry:
            known = set()
    if known != set(course.notebooks(assignment)):
        with tempfile.TemporaryDirectory(prefix="course-release-") as tmp, \
                _temporary(course.api.coursedir, release_directory=tmp):
            _check(course.api.generate_assignment(assignment, force=True, create=True),
                   f"generate_assignment {assignment}")


# ---------------------------------------------------------------------------------------------------------------
# collect
# ---------------------------------------------------------------------------------------------------------------

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
                from tools.nbgrader_plugins import edited_locked_cells, restore_locked_cells

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


# ---------------------------------------------------------------------------------------------------------------
# grade
# ---------------------------------------------------------------------------------------------------------------

def grade(course: Course, assignment: str = DEFAULT_ASSIGNMENT, students: list[str] | None = None,
          feedback: bool = True, echo=print, jobs: int | None = None, quiet: bool = False,
          student_seconds: float | None = None):
    """Grade the collected students in parallel (tools/grade.py); return their rows."""
    from tools import grade as grading_run

    return grading_run.grade(course, assignment, students, feedback=feedback, jobs=jobs, quiet=quiet,
                             student_seconds=student_seconds, echo=echo)


def shutdown_spare_kernel() -> None:
    """Stop this process's spare grading kernel and referee (tools/grade.py grades in worker processes)."""
    from tools.grade import shutdown_kernels

    shutdown_kernels()


# ---------------------------------------------------------------------------------------------------------------
# validate: what students see with the Validate button
# ---------------------------------------------------------------------------------------------------------------

def student_copy_with_answers(source_nb, release_nb):
    """The release notebook with each answer cell's source taken from the source notebook.

    This is what a student who wrote the reference answers submits: no hidden tests.
    """
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source_nb.cells
               if c.get("metadata", {}).get("nbgrader", {}).get("solution")}
    nb = copy.deepcopy(release_nb)
    for cell in nb.cells:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell.source = answers[gid]
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
            graded = sum(1 for c in release_nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade"))
            good = not reference and len(blank.get("failed", [])) == graded
            ok &= good
            echo(f"{assignment}/{name}: reference {'passes' if not reference else 'FAILS: ' + str(reference)[:300]}; "
                 f"blank fails {len(blank.get('failed', []))}/{graded} graded cells {'ok' if good else 'NOT OK'}")
    return ok


# ---------------------------------------------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------------------------------------------

def points_table(course: Course, assignment: str = DEFAULT_ASSIGNMENT) -> str:
    """The assignment's graded cells as a Markdown table: notebook, function, points, and the total."""
    from nbgrader import utils

    rows, total = ["| notebook | graded function | points |", "| --- | --- | ---: |"], 0.0
    for name in course.notebooks(assignment):
        for cell in nbformat.read(course.source / assignment / f"{name}.ipynb", as_version=4).cells:
            if utils.is_grade(cell):
                points = float(cell.metadata["nbgrader"]["points"])
                rows.append(f"| `{name}.ipynb` | `{cell.metadata['nbgrader']['grade_id'].removeprefix('test_')}` | "
                            f"{points:g} |")
                total += points
    return "\n".join([*rows, f"| | total | {total:g} |"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.grading", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="See docs/instructors.md.")
    parser.add_argument("--course", type=Path, default=ROOT, help="course directory (default: this repository)")
    parser.add_argument("--timeout", type=int, help="seconds per cell (default: Execute.timeout in the config)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("release", help="generate the student version into exercises/")
    p.add_argument("--assignment", action="append")
    p = sub.add_parser("collect", help="put student files into submitted/")
    p.add_argument("inbox", type=Path)
    p.add_argument("--assignment", default=DEFAULT_ASSIGNMENT)
    def grading_options(p) -> None:
        p.add_argument("--jobs", type=int, metavar="N", help="students graded at once (default: the number of CPUs "
                                                             "this process may use; 1: one at a time)")
        p.add_argument("--quiet", action="store_true", help="no progress bar and no table, only the summary line")
        p.add_argument("--student-timeout", type=float, metavar="SECONDS", help="stop grading a student after this "
                       "long (default: what the time limits allow, plus a margin)")

    p = sub.add_parser("grade", help="autograde, feedback, grades.csv")
    p.add_argument("--assignment", default=DEFAULT_ASSIGNMENT)
    p.add_argument("--student", action="append", help="grade only this student (repeatable); the others' grades "
                                                      "stay as they are")
    p.add_argument("--no-feedback", action="store_true")
    grading_options(p)
    p = sub.add_parser("all", help="collect INBOX, then grade")
    p.add_argument("inbox", type=Path)
    p.add_argument("--assignment", default=DEFAULT_ASSIGNMENT)
    grading_options(p)
    p = sub.add_parser("points", help="print the graded cells and their points as a Markdown table")
    p.add_argument("--assignment", default=DEFAULT_ASSIGNMENT)
    p = sub.add_parser("validate", help="reference passes and blank fails, with visible tests only")
    p.add_argument("--assignment", action="append")
    p = sub.add_parser("publish", help="write the student edition (no answers, no grader) into DEST")
    p.add_argument("dest", type=Path)
    p.add_argument("--github", metavar="OWNER/REPO", help="the student repository, for its Binder badge")
    p.add_argument("--force", action="store_true", help="replace DEST's contents (all but .git) even if DEST is not "
                                                        "a student edition written by publish")
    args = parser.parse_args(argv)
    # nbgrader's and nbconvert's own warnings (e.g. "checksum ... has changed" for every cell with hidden
    # tests) go to grading/<assignment>/grade.log, not to the screen.
    console = logging.StreamHandler()
    console.setLevel(logging.ERROR)         # a handler's level also applies to records propagated to it
    logging.getLogger().addHandler(console)
    warnings.filterwarnings("ignore", module="nbgrader")

    from traitlets.config import Config

    overrides = Config()
    if args.timeout:
        overrides.Execute.timeout = args.timeout
    course = Course(args.course, overrides)
    if args.command == "release":
        for path in release(course, args.assignment):
            print(path.relative_to(course.root))
        return 0
    if args.command == "points":
        print(points_table(course, args.assignment))
        return 0
    if args.command == "validate":
        return 0 if validate(course, args.assignment) else 1
    if args.command == "publish":
        from tools import publish

        return publish.main(course, args.dest, github=args.github, force=args.force)
    if args.command in ("collect", "all"):
        if not args.inbox.is_dir():
            parser.error(f"{args.inbox} is not a folder")
        report = collect(course, args.inbox, args.assignment)
        print(f"collected {len(report.students)} student(s) into {course.submitted.relative_to(course.root)}/")
        if not getattr(args, "quiet", False):
            for student, info in sorted(report.students.items()):
                for problem in info["problems"]:
                    print(f"  {student}: {problem}")
            for item in report.unassigned:
                print(f"  (no student): {item}")
    if args.command in ("grade", "all"):
        if args.jobs is not None and args.jobs < 1:
            parser.error("--jobs must be at least 1")
        grade(course, args.assignment, getattr(args, "student", None), not getattr(args, "no_feedback", False),
              jobs=args.jobs, quiet=args.quiet, student_seconds=args.student_timeout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
