"""Time to grade one submission and a class of 50 with tools/grading.py (target: 50 in under 5 minutes).

A temporary course gets the repository's nbgrader_config.py and the assignment (solutions/backprop); the
class is made of copies of the reference answers plus a few variants (loops instead of NumPy, a typical
mistake, an answer right only on the visible example, a kernel that dies). Grading runs as
`python -m tools.grading all INBOX` would: collect, autograde one by one, feedback, grades.csv.
Execute.timeout is the one in nbgrader_config.py.

    python benchmarks/bench_grading.py                  # 1 submission, then 50
    python benchmarks/bench_grading.py --students 20 --keep /tmp/bench-course
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.test_grading_pipeline import (  # noqa: E402 - after the path set-up
    ASSIGNMENT,
    BCE_KILLS_KERNEL,
    LOOPS,
    RELU_RIGHT_ONLY_ON_SMALL_INPUTS,
    RELU_ZERO_AT_KINK,
    SOURCE_DIR,
    make_course,
    submission,
    write_folder,
)
from tools import grading  # noqa: E402

TARGET_S = 300.0
#: Every tenth student is one of these; the others hand in the reference answers.
VARIANTS = [LOOPS, {"relu_backward": RELU_ZERO_AT_KINK}, {"relu_backward": RELU_RIGHT_ONLY_ON_SMALL_INPUTS},
            {"binary_cross_entropy_backward": BCE_KILLS_KERNEL}]


def timeout_from_config() -> int:
    """Execute.timeout as nbgrader_config.py sets it."""
    return int(grading.Course(ROOT).config.Execute.timeout)


def run_class(root: Path, students: int) -> dict:
    course = make_course(root / "course", timeout=timeout_from_config())
    inbox = root / "inbox"
    inbox.mkdir()
    reference = submission(course, {})
    variants = [submission(course, v) for v in VARIANTS]
    for i in range(students):
        write_folder(inbox, f"student{i:03d}", variants[(i // 10) % len(variants)] if i % 10 == 9 else reference)
    start = time.perf_counter()
    grading.collect(course, inbox, ASSIGNMENT)
    collected = time.perf_counter()
    rows = grading.grade(course, ASSIGNMENT, echo=lambda *_: None)
    done = time.perf_counter()
    return {"collect": collected - start, "total": done - start, "per_student": [r.seconds for r in rows],
            "full_marks": sum(r.score == r.max_score for r in rows), "graded": len(rows)}


def main(argv: list[str] | None = None) -> int:
    warnings.filterwarnings("ignore", module="nbgrader")   # as `python -m tools.grading` does
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=50)
    parser.add_argument("--keep", type=Path, help="keep the course directory here (default: a temp dir)")
    args = parser.parse_args(argv)
    base = args.keep or Path(tempfile.mkdtemp(prefix="bench-grading-"))
    if base.exists() and args.keep:
        shutil.rmtree(base)
    base.mkdir(parents=True, exist_ok=True)
    assignment = SOURCE_DIR.relative_to(ROOT).as_posix() + "/" + ASSIGNMENT
    print(f"assignment: {assignment}; Execute.timeout = {timeout_from_config()} s per cell; "
          f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}")
    try:
        one = run_class(base / "one", 1)
        batch = run_class(base / "batch", args.students)
    finally:
        grading.shutdown_spare_kernel()
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    per = batch["per_student"]
    print("| run | students | collect (s) | collect + grade + feedback + CSV (s) | per student median / max (s) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    print(f"| one submission | 1 | {one['collect']:.1f} | {one['total']:.1f} | {one['per_student'][0]:.1f} |")
    print(f"| class | {batch['graded']} | {batch['collect']:.1f} | {batch['total']:.1f} | "
          f"{statistics.median(per):.1f} / {max(per):.1f} |")
    ok = batch["total"] < TARGET_S * args.students / 50
    print(f"\n{batch['full_marks']} of {batch['graded']} with full marks (the variants lose points on purpose); "
          f"{args.students} in {batch['total']:.0f} s: {'within' if ok else 'ABOVE'} the target of "
          f"{TARGET_S * args.students / 50:.0f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
