"""The instructors' command line: one command per step of the course's nbgrader workflow.

    python -m tools.grading release              # solutions/ -> exercises/ (student version) + gradebook
    python -m tools.grading collect INBOX        # student files -> submitted/<student>/<assignment>/
    python -m tools.grading grade [--jobs N]     # autograde everyone in parallel, feedback, grades.csv, cells.csv
    python -m tools.grading grade --student ID   # regrade some students; the others' grades stay as they are
    python -m tools.grading all INBOX [--jobs N] # collect + grade
    python -m tools.grading points               # the graded cells and their points, from the notebooks
    python -m tools.grading validate             # reference passes / blank fails, visible tests only
    python -m tools.grading publish DEST         # the student edition (no answers, no grader) into DEST

Options: --assignment NAME (default: backprop for collect/grade, every assignment for
release/validate), --course DIR (default: the repository), --timeout SECONDS (overrides
Execute.timeout of nbgrader_config.py). docs/instructors.md explains the workflow.

Each step is a module of its own: tools/course.py (nbgrader's CourseDirectory and API), tools/release.py,
tools/collect.py (the INBOX layouts it understands), tools/grade.py (in parallel, tools/workers.py),
tools/export.py (grades.csv, cells.csv), tools/publish.py. Autograding runs each notebook in a sandboxed kernel
(the visible checks) and then lets the referee (tools/referee) decide the hidden tests in a separate process.
Everything goes through nbgrader's Python API (NbGraderAPI, Gradebook): one nbgrader CLI call costs ~3 s of
start-up, which a class of 50 students would pay 100 times.
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from pathlib import Path

from tools.course import DEFAULT_ASSIGNMENT, ROOT, Course


def _parser() -> argparse.ArgumentParser:
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
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
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
    if args.command in ("release", "points", "validate"):
        from tools import release

    if args.command == "release":
        for path in release.release(course, args.assignment):
            print(path.relative_to(course.root))
        return 0
    if args.command == "points":
        print(release.points_table(course, args.assignment))
        return 0
    if args.command == "validate":
        return 0 if release.validate(course, args.assignment) else 1
    if args.command == "publish":
        from tools import publish

        return publish.main(course, args.dest, github=args.github, force=args.force)
    if args.command in ("collect", "all"):
        if not args.inbox.is_dir():
            parser.error(f"{args.inbox} is not a folder")
        from tools.collect import collect

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
        from tools.grade import grade

        grade(course, args.assignment, getattr(args, "student", None), not getattr(args, "no_feedback", False),
              jobs=args.jobs, quiet=args.quiet, student_seconds=args.student_timeout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
