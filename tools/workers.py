"""Grading students in parallel: a pool of worker processes, each grading one student at a time.

The main process (tools/grade.py) hands out students in a fixed order; each worker runs
``python -m tools.workers`` with the course's configuration, grades the student it is given with
``grade.grade_student`` (against a private copy of the template gradebook, so workers never share a database)
and writes the result as JSON into the scratch folder. A worker that crashes, or takes longer than the
per-student limit, is killed and replaced: it costs only the student it was grading, who gets 0 and a note.

Protocol: the main process writes one JSON line per student to the worker's stdin,
``{"student": ID, "assignment": NAME, "feedback": BOOL}``; the worker answers ``{"done": ID}`` on its stdout
when ``<scratch>/results/<ID>.json`` is complete. Everything else a worker prints goes to its log file.

Test hook: ``COURSE_GRADING_TEST_FAULT="<student>:crash"`` (or ``:hang``) makes a worker exit (or sleep) when it
is handed that student, so tests can prove that a broken worker costs only its student.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tools.processes import stop

ROOT = Path(__file__).resolve().parents[1]
FAULT_VARIABLE = "COURSE_GRADING_TEST_FAULT"


def default_jobs() -> int:
    """The number of CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:                                  # not Linux
        return max(1, os.cpu_count() or 1)


@dataclass
class Worker:
    process: subprocess.Popen
    log: Path
    task: dict | None = None
    started: float = 0.0
    done: int = field(default=0)


class Pool:
    """Up to ``jobs`` workers for one course; ``run`` yields every student's outcome as it finishes."""

    def __init__(self, course_root: Path, overrides: dict, jobs: int, scratch: Path, student_seconds: float) -> None:
        self.course_root, self.overrides, self.jobs = Path(course_root), overrides, max(1, jobs)
        self.scratch, self.student_seconds = Path(scratch), student_seconds
        (self.scratch / "results").mkdir(parents=True, exist_ok=True)
        (self.scratch / "logs").mkdir(parents=True, exist_ok=True)
        self.workers: list[Worker] = []
        self.started = 0

    def _start(self) -> Worker:
        self.started += 1
        log = self.scratch / "logs" / f"worker-{self.started}.log"
        init = {"course": str(self.course_root), "overrides": self.overrides, "scratch": str(self.scratch)}
        process = subprocess.Popen([sys.executable, "-m", "tools.workers", json.dumps(init)], cwd=ROOT,
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=open(log, "ab"),
                                   text=True, start_new_session=True)
        worker = Worker(process, log)
        self.workers.append(worker)
        return worker

    def _stop(self, worker: Worker) -> None:
        stop(worker.process, group=True)
        self.workers.remove(worker)

    def _give(self, worker: Worker, task: dict) -> bool:
        worker.task, worker.started = task, time.monotonic()
        try:
            worker.process.stdin.write(json.dumps(task) + "\n")
            worker.process.stdin.flush()
            return True
        except OSError:
            return False

    def run(self, tasks: list[dict]) -> Iterator[tuple[dict, dict | None, str | None]]:
        """Yield ``(task, result, failure)`` per student as it finishes: the result dict, or None and a note."""
        pending = deque(tasks)
        try:
            while pending or any(w.task for w in self.workers):
                while pending and (len(self.workers) < self.jobs or any(w.task is None for w in self.workers)):
                    idle = next((w for w in self.workers if w.task is None), None) or self._start()
                    task = pending.popleft()
                    if not self._give(idle, task):
                        yield task, None, self._failure(idle, "could not be started")
                yield from self._wait()
        finally:
            for worker in list(self.workers):
                self._stop(worker)

    def _wait(self) -> Iterator[tuple[dict, dict | None, str | None]]:
        busy = [w for w in self.workers if w.task is not None]
        if not busy:
            return
        deadline = min(w.started + self.student_seconds for w in busy)
        with selectors.DefaultSelector() as selector:
            for worker in busy:
                selector.register(worker.process.stdout, selectors.EVENT_READ, worker)
            ready = selector.select(max(0.0, deadline - time.monotonic()))
        for key, _ in ready:
            worker: Worker = key.data
            task, line = worker.task, worker.process.stdout.readline()
            if not line:
                code = worker.process.wait()
                yield task, None, self._failure(worker, f"the grading worker stopped (exit code {code})")
                continue
            reply = json.loads(line)
            path = self.scratch / "results" / f"{task['student']}.json"
            worker.task, worker.done = None, worker.done + 1
            if reply.get("done") != task["student"] or not path.is_file():
                yield task, None, self._failure(worker, "the grading worker answered out of turn")
                continue
            yield task, json.loads(path.read_text()), None
        now = time.monotonic()
        for worker in [w for w in self.workers if w.task is not None and now - w.started > self.student_seconds]:
            task = worker.task
            yield task, None, self._failure(worker, f"grading took longer than {self.student_seconds:.0f} s "
                                                    "(the limit per student)")

    def _failure(self, worker: Worker, what: str) -> str:
        self._stop(worker)
        return f"could not be graded (scored 0): {what}; see the grading log"


# -- the worker process -----------------------------------------------------------------------------------------
def _fault(student: str) -> None:
    """The test hook (see the module docstring)."""
    for item in os.environ.get(FAULT_VARIABLE, "").split(","):
        name, _, fault = item.partition(":")
        if name == student and fault == "crash":
            os._exit(3)
        if name == student and fault == "hang":
            time.sleep(10**6)


def serve(init: dict) -> None:
    """Grade the students the main process sends, one at a time, until stdin closes."""
    from traitlets.config import Config

    from tools import grade
    from tools.course import Course

    protocol = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)                                   # anything else printed (nbgrader, kernels) goes to the log
    sys.stdout = sys.stderr
    scratch = Path(init["scratch"])
    course = Course(Path(init["course"]), Config(init["overrides"]))
    for section in ("SandboxedExecute", "RunHiddenTests"):        # student code may not look into the scratch
        paths = list(course.config[section].get("protected_paths", []))
        course.config[section].protected_paths = paths + [str(scratch)]
    try:
        for line in sys.stdin:
            task = json.loads(line)
            _fault(task["student"])
            result = grade.grade_student(course, task["assignment"], task["student"], scratch, task["feedback"])
            path = scratch / "results" / f"{task['student']}.json"
            path.with_suffix(".part").write_text(json.dumps(result))
            os.replace(path.with_suffix(".part"), path)
            protocol.write(json.dumps({"done": task["student"]}) + "\n")
            protocol.flush()
    finally:
        grade.shutdown_kernels()


if __name__ == "__main__":
    serve(json.loads(sys.argv[1]))
