"""A grading kernel forked from the zygote (tools/kernel_fork.py) is the kernel a fresh boot would give.

The sandbox, timeouts and dying kernels are tested through the whole pipeline (test_grading_pipeline.py), which
forks its kernels; here: what the kernel sees of itself, what it can reach of the zygote, and that a dead zygote
is replaced.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output
from traitlets.config import Config

from tools import grading_sandbox, kernel_fork
from tools.nbgrader_plugins import SandboxedExecute, _merge_streams, shutdown_spare_kernel

FACTS = r'''
import json, os, sys
zygote_pipe = os.environ.get("COURSE_GRADING_TEST_PIPE", "")
fds = {}
for fd in os.listdir("/proc/self/fd"):
    try:
        fds[fd] = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        pass
print(json.dumps({
    "argv0": os.path.basename(sys.argv[0]), "path": [p.replace(os.environ["TMPDIR"], "<tmp>") for p in sys.path],
    "session_leader": os.getsid(0) == os.getpid(), "group_leader": os.getpgid(0) == os.getpid(),
    "env": sorted(k for k in os.environ if not k.startswith(("JPY_PARENT_PID", "COURSE_GRADING_TEST_"))),
    "stdin": fds.get("0"), "modules_main": type(sys.modules["__main__"]).__name__,
    "cwd_is_folder": os.getcwd() == os.path.realpath(os.environ["COURSE_GRADING_TEST_FOLDER"]),
    "parent_is_grader": os.getppid() in (int(os.environ["COURSE_GRADING_TEST_GRADER"]),
                                         int(os.environ.get("COURSE_GRADING_TEST_ZYGOTE", 0))),
    "sees_zygote_pipe": bool(zygote_pipe) and zygote_pipe in fds.values(),
}))
'''


def run(tmp_path, fork: bool, env: dict, source: str = FACTS) -> dict:
    folder = tmp_path / ("forked" if fork else "booted")
    folder.mkdir()
    kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb = new_notebook(cells=[new_code_cell(source)], metadata={"kernelspec": kernelspec})
    executor = SandboxedExecute(config=Config(), timeout=60, fork_kernels=fork, start_ahead=False,
                                protected_paths=[str(tmp_path / "course")])
    old = dict(os.environ)
    os.environ.update(env, COURSE_GRADING_TEST_FOLDER=str(folder), COURSE_GRADING_TEST_GRADER=str(os.getpid()))
    try:
        executor.preprocess(nb, {"metadata": {"path": str(folder)}})
    finally:
        os.environ.clear()
        os.environ.update(old)
    texts = [o.get("text", "") for o in nb.cells[0].outputs if o.output_type == "stream"]
    errors = [o for o in nb.cells[0].outputs if o.output_type == "error"]
    assert not errors, errors
    return json.loads("".join(texts))


@pytest.fixture
def keep_env(monkeypatch):
    # the test's variables must reach the kernel: the scrubbed environment keeps only listed variables
    monkeypatch.setattr("tools.grading_sandbox.KEPT_ENVIRONMENT",
                        (*grading_sandbox.KEPT_ENVIRONMENT, "COURSE_GRADING_TEST_FOLDER", "COURSE_GRADING_TEST_GRADER",
                         "COURSE_GRADING_TEST_ZYGOTE", "COURSE_GRADING_TEST_PIPE"))
    yield
    shutdown_spare_kernel()


def test_a_forked_kernel_sees_what_a_booted_one_sees(tmp_path, keep_env):
    booted = run(tmp_path, fork=False, env={})
    (tmp_path / "warm").mkdir()
    run(tmp_path / "warm", fork=True, env={})                 # starts the zygote
    zygote = kernel_fork.ZYGOTE.process
    pipe = os.readlink(f"/proc/{zygote.pid}/fd/0")
    forked = run(tmp_path, fork=True, env={"COURSE_GRADING_TEST_ZYGOTE": str(zygote.pid),
                                           "COURSE_GRADING_TEST_PIPE": pipe})
    assert kernel_fork.ZYGOTE.process is zygote, "the zygote was started again: the kernels' environments differ"
    assert booted["argv0"] == forked["argv0"] == "ipykernel_launcher.py"
    assert forked["path"] == booted["path"] and str(Path(kernel_fork.__file__).parent) not in forked["path"]
    for fact in ("session_leader", "group_leader", "cwd_is_folder", "parent_is_grader"):
        assert booted[fact] and forked[fact], fact
    assert forked["env"] == booted["env"]
    assert forked["modules_main"] == booted["modules_main"]
    assert forked["stdin"] == "/dev/null" and not forked["sees_zygote_pipe"]


def test_a_dead_zygote_is_replaced_and_a_killed_kernel_reports_it(tmp_path, keep_env):
    (tmp_path / "first").mkdir()
    run(tmp_path / "first", fork=True, env={})
    old = kernel_fork.ZYGOTE.process
    os.kill(old.pid, signal.SIGKILL)
    old.wait()
    (tmp_path / "second").mkdir()
    facts = run(tmp_path / "second", fork=True, env={})
    assert kernel_fork.ZYGOTE.process.pid != old.pid and facts["cwd_is_folder"]
    # a kernel killed from outside is seen as dead (nbclient's DeadKernelError relies on it)
    env = kernel_fork.ZYGOTE.env
    pid = kernel_fork.ZYGOTE.request({"fork": {"args": ["-f", str(tmp_path / "kernel.json")], "env": env,
                                               "cwd": str(tmp_path)}}, env)["pid"]
    kernel = kernel_fork.Forked(pid, env)
    assert kernel.poll() is None
    kernel.kill()
    assert kernel.wait(timeout=10) == -signal.SIGKILL
    for number in range(20):        # killed at once, before the new kernel has made its own process group
        pid = kernel_fork.ZYGOTE.request({"fork": {"args": ["-f", str(tmp_path / f"k{number}.json")], "env": env,
                                                   "cwd": str(tmp_path)}}, env)["pid"]
        kernel = kernel_fork.Forked(pid, env)
        kernel.kill()
        assert kernel.wait(timeout=10) == -signal.SIGKILL


def test_consecutive_prints_become_one_output_whatever_the_timing():
    cell = new_code_cell("", outputs=[new_output("stream", name="stdout", text="a\n"),
                                      new_output("stream", name="stdout", text="b\n"),
                                      new_output("stream", name="stderr", text="w\n"),
                                      new_output("display_data", data={"text/plain": "x"}),
                                      new_output("stream", name="stdout", text="c\n")])
    _merge_streams(cell)
    assert [(o.output_type, o.get("text")) for o in cell.outputs] == [
        ("stream", "a\nb\n"), ("stream", "w\n"), ("display_data", None), ("stream", "c\n")]
    nbformat.validate(new_notebook(cells=[cell]))
