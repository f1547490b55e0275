"""Deciding a notebook's hidden tests: send each graded cell's trial inputs to the referee's sandboxed process
(tools/referee/child.py), read back plain data, judge it here with tools/referee/hidden.py.

One ``Host`` process per grading process is started on first use and reused (it never runs student code; every
task runs in a fresh child it forks). ``referee_notebook`` is what the autograder's ``RunHiddenTests``
preprocessor (tools/nbgrader_plugins.py) calls for every notebook of every student.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import selectors
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from nbgrader import utils

from tools.grading_sandbox import scrubbed_environment
from tools.processes import stop

from . import hidden, plain

HOST_FILE = Path(__file__).resolve().with_name("child.py")
STARTUP_SECONDS = 60            # the host imports numpy, matplotlib and mlpkit once
#: Outputs of the kernel run that mark a cell the kernel could not finish: the referee does not replay those
#: (SandboxedExecute's markers, and nbclient's interrupt after the time limit).
UNFINISHED = {"CellTimeoutError", "DeadKernelError", "KeyboardInterrupt"}


class RefereeError(RuntimeError):
    """The referee itself failed (never the student's fault): the submission cannot be graded."""


@dataclass
class Verdict:
    """The hidden tests' decision on one graded cell."""

    grade_id: str
    passed: bool
    reason: str | None = None          # for the student: plain words, no hidden values
    notes: tuple[str, ...] = ()        # for the instructor: cells that failed while replaying, ...


class Host:
    """The referee's process: started on first use, restarted if it dies, stopped at exit."""

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None
        self.folder = Path(tempfile.mkdtemp(prefix="course-referee-"))
        atexit.register(self.close)

    def _start(self) -> None:
        env = scrubbed_environment()
        env.update({"MPLBACKEND": "Agg", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
                    "MKL_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"})
        self.process = subprocess.Popen([sys.executable, "-s", str(HOST_FILE)], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=self.folder,
                                        env=env, text=True)
        ready = self._read_line(STARTUP_SECONDS)
        if not ready or not json.loads(ready).get("ready"):
            self.close()
            raise RefereeError("the referee's process did not start (run tools/referee/child.py by hand to see "
                               "why: it needs numpy, matplotlib, IPython and mlpkit)")

    def _read_line(self, seconds: float) -> str | None:
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            if not selector.select(seconds):
                return None
        return self.process.stdout.readline() or None

    def run(self, task: Path, deadline: float) -> dict:
        """Run one task folder; the host's report (exit code, signal, timed_out, seconds)."""
        if self.process is None or self.process.poll() is not None:
            self._start()
        try:
            self.process.stdin.write(json.dumps({"task": str(task), "deadline": deadline}) + "\n")
            self.process.stdin.flush()
        except OSError as error:
            self.close()
            raise RefereeError(f"the referee's process stopped: {error}") from error
        line = self._read_line(deadline + 30)
        if not line:
            self.close()
            raise RefereeError("the referee's process did not answer")
        return json.loads(line)

    def close(self) -> None:
        stop(self.process)
        self.process = None
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True, exist_ok=True)


_host: list[Host] = []


def host() -> Host:
    """This process's referee host."""
    if not _host:
        _host.append(Host())
    return _host[0]


def shutdown() -> None:
    """Stop this process's referee host (tools/grade.py calls it after a batch)."""
    while _host:
        _host.pop().close()


def seed_for(*parts: str) -> int:
    """A seed fixed by the student, notebook and cell: regrading gives the same inputs, students get different ones."""
    return int.from_bytes(hashlib.sha256("/".join(parts).encode()).digest()[:8], "big")


def _grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _unfinished(cell) -> bool:
    return any(o.get("output_type") == "error" and o.get("ename") in UNFINISHED for o in cell.get("outputs", []))


def cells_before(nb, index: int) -> list[dict]:
    """The code cells the kernel ran before cell ``index``, as the referee replays them: test cells and cells the
    kernel could not finish are left out (their absence can only cost the student)."""
    return [{"index": i + 1, "source": cell.source, "locked": bool(utils.is_locked(cell))}
            for i, cell in enumerate(nb.cells[:index])
            if cell.cell_type == "code" and not utils.is_grade(cell) and not _unfinished(cell)]


def referee_notebook(nb, *, student: str, assignment: str, notebook: str, timeout: float, memory_mb: int,
                     file_mb: int, protected: list[str], only: set[str] | None = None) -> list[Verdict]:
    """The verdict on every graded cell of an executed notebook (in notebook order; ``only``: just those)."""
    verdicts = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not utils.is_grade(cell) or (only is not None and _grade_id(cell) not in only):
            continue
        grade_id = _grade_id(cell)
        test = hidden.TESTS.get(grade_id)
        if test is None:
            raise RefereeError(f"graded cell {grade_id} of {notebook} has no hidden test in "
                               "tools/referee/hidden.py TESTS (docs/instructors.md, 'Adding an exercise')")
        rng = np.random.default_rng(seed_for(assignment, student, notebook, grade_id))
        verdicts.append(_decide(grade_id, test, cells_before(nb, index), rng, timeout, memory_mb, file_mb, protected))
    return verdicts


def _decide(grade_id, test, cells, rng, timeout, memory_mb, file_mb, protected) -> Verdict:
    folder = Path(tempfile.mkdtemp(prefix=f"{grade_id}-", dir=host().folder))
    try:
        (folder / "work").mkdir()
        trials = test.make_trials(rng) if test.kind == "call" else []
        dumper = plain.Dumper(folder, prefix="i")
        probe = ({"kind": "read", "names": list(test.names)} if test.kind == "read" else
                 {"kind": "call", "function": test.function, "define": list(test.define),
                  "trials": [dumper.dump(trial.args) for trial in trials]})
        task = {"cells": cells, "probe": probe, "remove": list(test.practised), "cell_seconds": timeout,
                "call_seconds": timeout, "memory_mb": memory_mb, "file_mb": file_mb, "protected": protected}
        (folder / "task.json").write_text(json.dumps(task))
        report = host().run(folder, 2 * timeout + 10)
        result = plain.read_json(folder / "work" / "result.json")
        return _verdict(grade_id, test, cells, trials, report, result, folder / "work")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _verdict(grade_id, test, cells, trials, report: dict, result, work: Path) -> Verdict:
    name = test.function
    if isinstance(result, dict) and result.get("setup_error"):
        raise RefereeError(f"{grade_id}: {result['setup_error']}")
    if report.get("timed_out"):
        return Verdict(grade_id, False, f"{name}: the notebook's cells and the hidden tests did not finish within "
                                        "the time limit")
    if not isinstance(result, dict) or report.get("exit") not in (0, None) or report.get("signal"):
        how = f"signal {report['signal']}" if report.get("signal") else f"exit code {report.get('exit')}"
        return Verdict(grade_id, False, f"{name}: the process running your notebook for the hidden tests stopped "
                                        f"({how}): does your code exit, crash or use too much memory?")
    students = {c["index"] for c in cells if not c["locked"]}      # locked cells may fail there (drawing...)
    failed = result.get("cells_failed") if isinstance(result.get("cells_failed"), list) else []
    notes = tuple(f"referee: cell {c.get('index')} raised {str(c.get('error'))[:120]}" for c in failed
                  if isinstance(c, dict) and c.get("index") in students)[:5]
    if test.kind == "read":
        values = result.get("values") if isinstance(result.get("values"), dict) else {}
        loaded = {key: (tree if isinstance(tree, dict) and tree.get("kind") == "missing" else plain.load(tree, work))
                  for key, tree in values.items()}
        reason = test.judge_values(loaded)
    else:
        records = result.get("trials") if isinstance(result.get("trials"), list) else []
        for record in records:
            if isinstance(record, dict):
                record["returned_loaded"] = plain.load(record.get("returned"), work)
                record["after_loaded"] = plain.load({"kind": "list", "items": record.get("after") or []}, work)
        result["trials"] = [r for r in records if isinstance(r, dict)]
        reason = hidden.judge_call(test, trials, result)
    return Verdict(grade_id, reason is None, reason, notes)
