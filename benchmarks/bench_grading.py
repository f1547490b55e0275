"""Time and memory to grade a class with tools/grading.py, one student at a time and in parallel.

For each class size, a temporary course (the repository's nbgrader_config.py and solutions/backprop, released)
gets generated submissions: mostly the reference answers, and in every ten one of: correct answers written as
loops, in float32, five typical mistakes (tests/exercise_variants.py), an answer right only on the visible
example, a kernel that dies, a notebook that is not JSON. The class is collected and graded as
`python -m tools.grading all INBOX --jobs N` would, once per N, and the grades.csv of every N must be identical.
Printed: wall time, students per minute, the speed-up over one worker and the peak memory of the whole process
tree (grader, workers, zygotes, kernels, referees: the sum of their PSS, sampled every second; reading PSS costs
about 6 ms per process, so sampling more often would slow down what it measures).

    python benchmarks/bench_grading.py                       # 50 and 300 students, --jobs 1 and the default
    python benchmarks/bench_grading.py --sizes 20 --jobs 1 2 --keep /tmp/bench-course

Targets on a 2-core machine: 50 students in at most 120 s with the default, and a speed-up of at least 1.7 at 2.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests import exercise_variants  # noqa: E402 - after the path set-up
from tests.test_grading_pipeline import (  # noqa: E402
    ASSIGNMENT,
    BCE_KILLS_KERNEL,
    RELU_RIGHT_ONLY_ON_SMALL_INPUTS,
    make_course,
    submission,
    write_folder,
)
from tools.collect import collect  # noqa: E402
from tools.course import Course  # noqa: E402
from tools.grade import grade  # noqa: E402
from tools.workers import default_jobs  # noqa: E402

TARGET_50_S = 120.0
TARGET_SPEEDUP = 1.7
MISTAKES = ["matmul_transposed", "softmax_sum_not_mean", "bce_slides_sign", "relu_zero_at_kink", "backward_at_output"]
#: One student in ten hands in one of these (cycling); the others the reference answers.
VARIANTS = [exercise_variants.VARIANTS["loops"], exercise_variants.VARIANTS["float32"],
            *[exercise_variants.VARIANTS[m] for m in MISTAKES], {"relu_backward": RELU_RIGHT_ONLY_ON_SMALL_INPUTS},
            {"binary_cross_entropy_backward": BCE_KILLS_KERNEL}, "not JSON"]


class PeakMemory:
    """The largest sum of the memory of this process and all its descendants, sampled in a thread: proportional
    set size (PSS: a page shared by n processes counts 1/n to each, so the kernels forked from one zygote are not
    counted n times), or resident size where PSS is not available."""

    def __init__(self, every: float = 1.0) -> None:
        import psutil

        self.process, self.every, self.peak, self._stop = psutil.Process(), every, 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        import psutil

        while not self._stop.is_set():
            total = 0
            for proc in [self.process, *self.process.children(recursive=True)]:
                try:
                    total += getattr(proc.memory_full_info(), "pss", None) or proc.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            self._stop.wait(self.every)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def write_class(course, inbox: Path, students: int) -> None:
    reference = submission(course, {})
    made = {}
    for i in range(students):
        student = f"student{i:03d}"
        variant = VARIANTS[(i // 10) % len(VARIANTS)] if i % 10 == 9 else None
        if variant == "not JSON":
            (inbox / student).mkdir(parents=True)
            (inbox / student / f"{course.notebooks(ASSIGNMENT)[0]}.ipynb").write_text("{ this is not JSON")
            continue
        key = id(variant)
        if key not in made:
            made[key] = submission(course, variant) if variant else reference
        write_folder(inbox, student, made[key])


def run(root: Path, students: int, jobs: int) -> dict:
    course = make_course(root / "course", timeout=int(Course(ROOT).config.Execute.timeout))
    inbox = root / "inbox"
    write_class(course, inbox, students)
    start = time.perf_counter()
    with PeakMemory() as memory:
        collect(course, inbox, ASSIGNMENT)
        rows = grade(course, ASSIGNMENT, jobs=jobs, quiet=True, echo=lambda *_: None)
    seconds = time.perf_counter() - start
    return {"students": len(rows), "jobs": jobs, "seconds": seconds, "peak_mb": memory.peak / 2**20,
            "full": sum(r.score == r.max_score for r in rows), "csv": course.grades_csv.read_bytes()}


def main(argv: list[str] | None = None) -> int:
    warnings.filterwarnings("ignore", module="nbgrader")   # as `python -m tools.grading` does
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 300], help="class sizes (default: 50 300)")
    parser.add_argument("--jobs", type=int, nargs="+", help=f"worker counts (default: 1 and {default_jobs()})")
    parser.add_argument("--keep", type=Path, help="keep the courses here (default: a temp dir)")
    args = parser.parse_args(argv)
    jobs = args.jobs or sorted({1, default_jobs()})
    base = args.keep or Path(tempfile.mkdtemp(prefix="bench-grading-"))
    if args.keep and base.exists():
        shutil.rmtree(base)
    base.mkdir(parents=True, exist_ok=True)
    print(f"{os.cpu_count()} CPUs ({default_jobs()} usable); Execute.timeout = "
          f"{Course(ROOT).config.Execute.timeout} s; load average {os.getloadavg()[0]:.1f}; "
          f"sizes {args.sizes}; jobs {jobs}", flush=True)
    results = []
    try:
        for size in args.sizes:
            for n in jobs:
                results.append(run(base / f"{size}-jobs{n}", size, n))
                r = results[-1]
                print(f"  {size} students, --jobs {n}: {r['seconds']:.1f} s, peak {r['peak_mb']:.0f} MB", flush=True)
                if not args.keep:
                    shutil.rmtree(base / f"{size}-jobs{n}", ignore_errors=True)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    print("\n| students | --jobs | wall time (s) | students per minute | speed-up | peak memory (MB) | full marks |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    ok = True
    for r in results:
        one = next(x for x in results if x["students"] == r["students"] and x["jobs"] == min(jobs))
        speedup = one["seconds"] / r["seconds"]
        print(f"| {r['students']} | {r['jobs']} | {r['seconds']:.1f} | {r['students'] / r['seconds'] * 60:.1f} | "
              f"{speedup:.2f} | {r['peak_mb']:.0f} | {r['full']} |")
        ok &= r["csv"] == one["csv"]
    print(f"\ngrades.csv identical for every --jobs: {'yes' if ok else 'NO'}")
    checks = []
    for r in results:
        if r["students"] == 50 and r["jobs"] == default_jobs():
            checks.append(f"50 students with the default --jobs in {r['seconds']:.0f} s (target {TARGET_50_S:.0f} s): "
                          f"{'met' if r['seconds'] <= TARGET_50_S else 'NOT met'}")
        if r["jobs"] == 2 and 1 in jobs:
            one = next(x for x in results if x["students"] == r["students"] and x["jobs"] == 1)
            speedup = one["seconds"] / r["seconds"]
            checks.append(f"speed-up at 2 jobs, {r['students']} students: {speedup:.2f} (target {TARGET_SPEEDUP}): "
                          f"{'met' if speedup >= TARGET_SPEEDUP else 'NOT met'}")
    for line in checks:
        print(line)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
