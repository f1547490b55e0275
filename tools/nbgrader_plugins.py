"""nbgrader plug-ins for this course, named in nbgrader_config.py.

* ``SandboxedExecute`` runs a submission for ``autograde``: each notebook in a fresh
  kernel that starts with tools/grading_sandbox.py (no writes outside the student's
  folder, no reading the course's files, no processes, no network), a scrubbed
  environment, a private temp directory, memory and file-size limits, a cap on the
  output each cell may produce, and recovery from a kernel that dies or ignores
  the timeout: the cell is marked as failed, a fresh kernel re-runs the cells
  before it and grading goes on with the next cell. Kernels are forked from a
  process that has imported ipykernel, numpy and matplotlib (tools/kernel_fork.py),
  and the next notebook's kernel is started while the current one runs (in its
  own temp folder; it is moved into the student's folder only when its notebook
  starts).
* ``RunHiddenTests`` (``autograde``, right after execution): decides each graded cell's hidden
  tests in the referee's separate, sandboxed process (tools/referee) and turns a failure into an
  error output of that cell; a warning on stderr or a number returned by the cell no longer
  changes the score.
* ``OneLineFailures`` (``generate_feedback``): a failed test cell shows one line saying why
  instead of a traceback.
"""

from __future__ import annotations

import atexit
import contextlib
import copy
import importlib.util
import os
import re
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.util import run_sync
from nbconvert.preprocessors.execute import NotebookClient
from nbformat.v4 import new_output
from nbgrader import utils
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from traitlets import Bool, Integer, List, Unicode

from tools import kernel_fork
from tools.grading_sandbox import scrubbed_environment

SANDBOX_FILE = Path(__file__).resolve().with_name("grading_sandbox.py")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class GradingAborted(RuntimeError):
    """A notebook could not be graded (its kernel kept dying or would not start)."""


def _startup_line(path: Path) -> str:
    """The kernel's start-up code: run the sandbox, or exit if that fails (fail closed)."""
    return "\n".join([
        "try:",
        "    import runpy as _runpy",
        f"    _runpy.run_path({str(path)!r}, run_name='__course_grading_sandbox__')",
        "    del _runpy",
        "except BaseException as _error:",
        "    import os as _os, sys as _sys",
        "    _sys.__stderr__.write('course grading sandbox failed: %r\\n' % (_error,))",
        "    _os._exit(70)",
    ])


def _package_dir(name: str) -> str | None:
    spec = importlib.util.find_spec(name)
    return str(Path(spec.origin).parent) if spec and spec.origin else None


class _Kernel:
    """A grading kernel started ahead of time in its own temp directory, not yet bound to a notebook."""

    def __init__(self, km, tmp: str, key: tuple):
        self.km, self.tmp, self.key = km, tmp, key

    def discard(self) -> None:
        with contextlib.suppress(Exception):
            if run_sync(self.km.is_alive)():
                run_sync(self.km.shutdown_kernel)(now=True)
        with contextlib.suppress(Exception):
            run_sync(self.km.cleanup_resources)()
        shutil.rmtree(self.tmp, ignore_errors=True)


_spare: list[_Kernel] = []          # at most one kernel booting for the next notebook
_base: list[str] = []               # this process's folder of kernel folders


def _kernels_folder() -> str:
    """One private folder for all grading kernels of this process (protected: a kernel may not look into the
    others', e.g. to read the spare kernel's connection file and key)."""
    if not _base or not os.path.isdir(_base[0]):
        _base[:] = [tempfile.mkdtemp(prefix="course-grading-")]
    return _base[0]


def shutdown_spare_kernel() -> None:
    """Stop the kernel started ahead for a next notebook, and the zygote kernels are forked from (tools/grade.py
    calls this after a batch)."""
    while _spare:
        _spare.pop().discard()
    kernel_fork.shutdown()


@atexit.register
def _clean_up() -> None:
    shutdown_spare_kernel()
    if _base:
        shutil.rmtree(_base[0], ignore_errors=True)


class SandboxedExecute(Execute):
    """nbgrader's Execute, hardened for running untrusted student notebooks."""

    sandbox = Bool(True, help="Start kernels with tools/grading_sandbox.py.").tag(config=True)
    protected_paths = List(Unicode(), help=(
        "Folders student code may not read or write (the course directory). The gradebook's folder is "
        "always protected.")).tag(config=True)
    readable_paths = List(Unicode(), help=(
        "Folders inside a protected one that student code may read; default: the mlpkit and coursekit "
        "packages.")).tag(config=True)
    memory_limit_mb = Integer(4096, help="Address-space limit of a grading kernel in MB (0: none).").tag(config=True)
    file_limit_mb = Integer(100, help="Largest file a grading kernel may write, in MB (0: none).").tag(config=True)
    max_output_chars = Integer(200_000, help=(
        "Output kept per cell (text and data, characters); the rest is dropped with a note. Errors are "
        "always kept.")).tag(config=True)
    max_restarts = Integer(3, help=(
        "Kernel restarts per notebook after a cell killed the kernel or ignored the timeout.")).tag(config=True)
    fork_kernels = Bool(True, help=(
        "Fork kernels from a process that has imported ipykernel, NumPy and matplotlib (tools/kernel_fork.py) "
        "instead of booting each: about 0.1 s instead of 1 CPU-second per notebook.")).tag(config=True)
    start_ahead = Bool(True, help=(
        "Start the next notebook's kernel while this one runs (it starts and imports mlpkit in parallel)."
        )).tag(config=True)

    # ---- kernels ------------------------------------------------------------------------------------------------
    def _settings(self, resources) -> tuple:
        db_url = ((resources or {}).get("nbgrader") or {}).get("db_url", "")
        protected = [str(Path(p).resolve()) for p in self.protected_paths]
        if db_url.startswith("sqlite:///"):
            protected.append(str(Path(db_url[len("sqlite:///"):]).resolve().parent))
        protected.append(str(Path(_kernels_folder()).resolve()))
        readable = list(self.readable_paths) or [p for p in [_package_dir("mlpkit"), _package_dir("coursekit")] if p]
        kernel_name = self.kernel_name or self.nb.metadata.get("kernelspec", {}).get("name", "python3")
        return (kernel_name, tuple(protected), tuple(readable), self.memory_limit_mb, self.file_limit_mb,
                tuple(self.extra_arguments), self.sandbox)

    def _start(self, key: tuple) -> _Kernel:
        kernel_name, protected, readable, memory_mb, file_mb, extra_arguments, sandbox = key
        tmp = tempfile.mkdtemp(prefix="kernel-", dir=_kernels_folder())
        env = scrubbed_environment()
        Path(tmp, "ipython").mkdir()
        env.update({
            "TMPDIR": tmp, "TEMP": tmp, "TMP": tmp, "IPYTHONDIR": str(Path(tmp, "ipython")),
            "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "module://matplotlib_inline.backend_inline",
            "COURSE_GRADING_PROTECTED": os.pathsep.join(protected),
            "COURSE_GRADING_READABLE": os.pathsep.join(readable),
            "COURSE_GRADING_TMP": tmp, "COURSE_GRADING_MEMORY_MB": str(memory_mb),
            "COURSE_GRADING_FILE_MB": str(file_mb),
        })
        arguments = list(extra_arguments) + ["--HistoryManager.hist_file=:memory:"]
        if sandbox:
            arguments.append(f"--IPKernelApp.exec_lines={_startup_line(SANDBOX_FILE)}")
        # The connection file (with the kernel's key) and IPC sockets live in the kernel's own folder, which
        # other grading kernels may not read; no TCP ports on localhost.
        km = self.kernel_manager_class(kernel_name=kernel_name, config=self.config, transport="ipc",
                                       ip=str(Path(tmp, "kernel")), connection_file=str(Path(tmp, "kernel.json")))
        if self.fork_kernels:
            km.kernel_id = str(uuid.uuid4())
            km.provisioner = kernel_fork.provisioner_class()(kernel_id=km.kernel_id, kernel_spec=km.kernel_spec,
                                                             parent=km)
        try:
            run_sync(km.start_kernel)(extra_arguments=arguments, cwd=tmp, env=env)
        except Exception:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return _Kernel(km, tmp, key)

    def _kernel_for(self, key: tuple) -> _Kernel:
        while _spare:
            kernel = _spare.pop()
            if kernel.key == key and run_sync(kernel.km.is_alive)():
                return kernel
            kernel.discard()
        return self._start(key)

    def _start_spare(self, key: tuple) -> None:
        if self.start_ahead and not _spare:
            with contextlib.suppress(Exception):
                _spare.append(self._start(key))

    def _bind(self, folder: str) -> None:
        """Move the fresh kernel into the notebook's folder (the sandbox allows writing there from now on)."""
        code = f"__course_grading_bind__({folder!r})" if self.sandbox else f"import os; os.chdir({folder!r})"
        msg_id = self.kc.execute(code, silent=True, store_history=False)
        reply = self.wait_for_reply(msg_id)
        if not reply or reply["content"]["status"] != "ok":
            raise GradingAborted(f"the grading kernel could not be prepared: {reply and reply['content']}")

    # ---- one notebook ---------------------------------------------------------------------------------------------
    def preprocess(self, nb, resources=None, km=None):
        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        self.shutdown_kernel = "immediate"          # nothing to save in a grading kernel
        key = self._settings(resources)
        folder = str(Path((resources or {}).get("metadata", {}).get("path") or os.getcwd()).resolve())
        cells = self.nb.cells
        done, restarts, not_replayed = 0, 0, set()
        while True:
            kernel = self._kernel_for(key)
            self.km, self.kc, self.owns_km, self._running = kernel.km, None, True, None
            try:
                with self.setup_kernel(cleanup_kc=True):
                    self._start_spare(key)
                    info = self.wait_for_reply(self.kc.kernel_info())
                    self.nb.metadata["language_info"] = info["content"]["language_info"]
                    self._bind(folder)
                    if restarts:
                        self._replay(done, not_replayed)
                    for index in range(done, len(cells)):
                        self._running = index
                        self.preprocess_cell(cells[index], resources, index)
                        done = index + 1
                break
            except (DeadKernelError, CellTimeoutError, RuntimeError) as error:
                index = self._running
                if index is None or isinstance(error, GradingAborted):
                    raise GradingAborted(f"the grading kernel could not run this notebook: {error}") from error
                self._mark_killed(cells[index], error)
                not_replayed.add(index)
                done = index + 1
                restarts += 1
                self.log.warning("Cell %d %s; starting a fresh kernel (%d/%d)", index,
                                 "ignored the time limit" if isinstance(error, CellTimeoutError)
                                 else "killed the kernel", restarts, self.max_restarts)
                if restarts > self.max_restarts:
                    raise GradingAborted(f"the kernel died or hung {restarts} times") from error
            finally:
                kernel.km = self.km = self.kc = None
                shutil.rmtree(kernel.tmp, ignore_errors=True)
        self.set_widgets_metadata()
        return self.nb, self.resources

    def _replay(self, upto: int, skip: set) -> None:
        """Re-run cells [0, upto) in a fresh kernel to rebuild its state; their recorded outputs stay."""
        for index in range(upto):
            cell = self.nb.cells[index]
            if index in skip or cell.cell_type != "code" or _timed_out(cell):
                continue
            try:
                self.execute_cell(copy.deepcopy(cell), index, store_history=False)
            except (DeadKernelError, CellTimeoutError) as error:
                raise GradingAborted(f"cell {index} failed again while re-running the notebook: {error}") from error
            finally:
                self.nb.cells[index] = cell

    @staticmethod
    def _mark_killed(cell, error) -> None:
        if isinstance(error, CellTimeoutError):
            ename, evalue = "CellTimeoutError", ("the cell did not stop when it was interrupted after the time "
                                                 "limit; a fresh kernel re-ran the cells above it and grading "
                                                 "continued")
        else:
            ename, evalue = "DeadKernelError", ("the kernel died while running this cell (os._exit, a crash or "
                                                "running out of memory); a fresh kernel re-ran the cells above it "
                                                "and grading continued")
        cell.outputs.append(new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"]))
        cell.execution_count = None         # whether the kernel had counted it before it died is a race

    # ---- per cell ---------------------------------------------------------------------------------------------
    def preprocess_cell(self, cell, resources, index):
        self._check_assign_resources(resources)
        self._budget = self.max_output_chars
        self._truncated = self._stderr_kept = False
        # store_history=False: the kernel's In/Out history would let later cells print a test cell's source.
        cell = self.execute_cell(cell, index, store_history=False)
        _merge_streams(cell)
        return cell, self.resources

    def output(self, outs, msg, display_id, cell_index):
        """Keep at most max_output_chars per cell, but never drop what grading reads.

        nbgrader fails a test cell that has an error output or any stderr output and reads partial
        credit from an execute_result: those are always kept (shortened); other output beyond the
        budget is dropped, with one note on stdout.
        """
        content, kind = msg.get("content", {}), msg.get("msg_type")
        if self.max_output_chars <= 0:
            return super().output(outs, msg, display_id, cell_index)
        if kind == "error":
            content["traceback"] = [line[:5000] for line in content.get("traceback", [])[:200]]
            content["evalue"] = str(content.get("evalue", ""))[:5000]
            return super().output(outs, msg, display_id, cell_index)
        budget = getattr(self, "_budget", self.max_output_chars)
        if kind == "stream":
            size = len(content.get("text", ""))
        else:
            size = sum(len(v) if isinstance(v, str) else len(str(v)) for v in content.get("data", {}).values())
        if size <= budget:
            self._budget = budget - size
            return super().output(outs, msg, display_id, cell_index)
        self._budget = 0
        if not getattr(self, "_truncated", False):
            self._truncated = True
            outs.append(new_output("stream", name="stdout", text=(
                f"\n[grader: output truncated, a cell may print at most {self.max_output_chars} characters]\n")))
        if kind == "stream" and content.get("name") == "stderr":
            if getattr(self, "_stderr_kept", False):
                return None
            self._stderr_kept = True
            content["text"] = content["text"][:max(budget, 2000)] + "\n[grader: more stderr output truncated]\n"
            return super().output(outs, msg, display_id, cell_index)
        if kind == "stream" and budget > 0:
            content["text"] = content["text"][:budget]
            return super().output(outs, msg, display_id, cell_index)
        if kind == "execute_result":
            content["data"] = {"text/plain": str(content.get("data", {}).get("text/plain", ""))[:2000]}
            return super().output(outs, msg, display_id, cell_index)
        return None


def _merge_streams(cell) -> None:
    """Consecutive stream outputs of one name as one: how the kernel batched a cell's prints into messages
    depends on timing (on the machine's load), and the feedback must not."""
    merged = []
    for out in cell.get("outputs", []):
        last = merged[-1] if merged else None
        if last and out.output_type == last.output_type == "stream" and out.name == last.name:
            last.text += out.text
        else:
            merged.append(out)
    cell.outputs = merged


def _timed_out(cell) -> bool:
    return any(o.get("output_type") == "error" and o.get("ename") in ("CellTimeoutError", "DeadKernelError")
               for o in cell.get("outputs", []))


class RunHiddenTests(NbGraderPreprocessor):
    """Autograde: decide every graded cell's hidden tests outside the student's kernel (tools/referee).

    Runs right after the notebook was executed, before SaveAutoGrades reads the scores. In every graded (test)
    cell, output that nbgrader would score although it is no error is neutralised: stderr becomes stdout (a
    warning never costs points) and an execute_result becomes display data (nbgrader would read a number there as
    partial credit). A failed hidden test then appends an error output with its plain-words reason, so the cell
    scores 0; the verdict and the referee's notes for the instructor go into the cell's metadata ("referee").
    """

    timeout = Integer(0, help="Seconds for the replayed notebook cells, and again for the calls of the graded "
                              "function; 0: Execute.timeout.").tag(config=True)
    memory_limit_mb = Integer(4096, help="Address-space limit of the referee's process in MB.").tag(config=True)
    file_limit_mb = Integer(100, help="Largest file the referee's process may write, in MB.").tag(config=True)
    protected_paths = List(Unicode(), help="Folders the referee's process may not read (the course directory; "
                                           "it reads only the Python installation anyway).").tag(config=True)

    def preprocess(self, nb, resources):
        from tools.referee import run

        info = resources["nbgrader"]
        db_url = info.get("db_url", "")
        protected = [str(Path(p).resolve()) for p in self.protected_paths]
        if db_url.startswith("sqlite:///"):
            protected.append(str(Path(db_url[len("sqlite:///"):]).resolve().parent))
        verdicts = run.referee_notebook(
            nb, student=info["student"], assignment=info["assignment"], notebook=info["notebook"],
            timeout=self.timeout or Execute(parent=self).timeout, memory_mb=self.memory_limit_mb,
            file_mb=self.file_limit_mb, protected=protected)
        by_id = {v.grade_id: v for v in verdicts}
        for cell in nb.cells:
            if cell.cell_type == "code" and utils.is_grade(cell):
                neutralise_outputs(cell)
                verdict = by_id[cell.metadata.nbgrader["grade_id"]]
                cell.metadata["referee"] = {"passed": verdict.passed, "reason": verdict.reason,
                                            "notes": list(verdict.notes)}
                if not verdict.passed and not any(o.output_type == "error" for o in cell.outputs):
                    cell.outputs.append(new_output("error", ename="HiddenTestFailed", evalue=verdict.reason,
                                                   traceback=[f"A hidden test failed: {verdict.reason}"]))
        return nb, resources


def neutralise_outputs(cell) -> None:
    """stderr -> stdout and execute_result -> display_data: only an error may decide a test cell's score."""
    for index, output in enumerate(cell.outputs):
        if output.output_type == "stream" and output.get("name") == "stderr":
            output["name"] = "stdout"
        elif output.output_type == "execute_result":
            cell.outputs[index] = new_output("display_data", data=output.get("data", {}),
                                             metadata=output.get("metadata", {}))


class OneLineFailures(NbGraderPreprocessor):
    """Feedback: a failed test cell shows one line saying why instead of a traceback; other output stays."""

    max_message_chars = Integer(1000, help="Longest message shown to the student.").tag(config=True)
    prefixes = {"HiddenTestFailed": "A hidden test failed", "FeedbackError": "A test failed",
                "AssertionError": "A test failed"}

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type != "code" or not utils.is_grade(cell):
            return cell, resources
        outputs = []
        for output in cell.get("outputs", []):
            if output.get("output_type") != "error":
                outputs.append(output)
                continue
            ename, evalue = output.get("ename", "Error"), _ANSI.sub("", str(output.get("evalue", ""))).strip()
            message = evalue if ename in self.prefixes and evalue else (f"{ename}: {evalue}" if evalue else ename)
            if len(message) > self.max_message_chars:
                message = message[: self.max_message_chars] + " ..."
            text = f"{self.prefixes.get(ename, 'This test cell failed')}: {message}"
            outputs.append(new_output("error", ename=ename, evalue=text, traceback=[text]))
        cell.outputs = outputs
        return cell, resources


if __name__ == "__main__":  # pragma: no cover - a reminder, not a tool
    sys.exit("tools/nbgrader_plugins.py is loaded by nbgrader_config.py; use `python -m tools.grading`.")
