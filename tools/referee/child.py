"""The referee's sandboxed process: it replays a submission's notebook and calls one graded function.

tools/referee/run.py starts this file as a script (a "host"), with a scrubbed environment. The host imports
numpy, matplotlib and mlpkit once and never runs student code itself. It reads tasks from stdin, one JSON line
each, ``{"task": FOLDER, "deadline": SECONDS}``; for each it forks a child, kills it if it is still running
after ``deadline`` seconds, and answers on stdout ``{"exit": CODE, "signal": N, "timed_out": BOOL, "seconds": S}``.

The child, in this order:

1. sets resource limits (memory, file size, CPU time), points stdin/stdout/stderr at /dev/null and closes every
   other file descriptor (so nothing it runs can talk to the host or the grader);
2. replaces the practised mlpkit functions (``task.json: remove``) with stubs everywhere mlpkit refers to them,
   replaces ``coursekit.feedback`` with an empty module, and checks that the originals are gone from memory;
3. installs the grading sandbox (tools/grading_sandbox.py) with reads allowed only inside the Python
   installation and the task folder (never the course, never mlpkit's or coursekit's source), writes only in
   ``work/``, no processes, no network, no new third-party imports;
4. runs the notebook's code cells up to the test cell, in order, in one namespace (an error in a cell does not
   stop the next, as in Jupyter), within a time budget;
5. runs the probe: calls the function on each hidden input (read from the task folder with
   allow_pickle=False), or reads the named variables, and writes what came back, and the arguments after the
   call, as plain data (tools/referee/plain.py) into ``work/result.json`` and ``work/r*.npy``.

The expected answers never enter this process: the grader compares the plain data with its own
finite-difference referee (tools/referee/hidden.py).
"""

from __future__ import annotations

import gc
import json
import linecache
import os
import resource
import signal
import site
import sys
import time
import types
import weakref
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[2]
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

import matplotlib  # noqa: E402 - the host's imports are what every child starts with

matplotlib.use("Agg")
import matplotlib.pyplot  # noqa: E402,F401
import numpy as np  # noqa: E402
from IPython.core.inputtransformer2 import TransformerManager  # noqa: E402

import coursekit  # noqa: E402 - the package alone, none of its modules: coursekit.feedback is replaced
import mlpkit  # noqa: E402
import mlpkit.datasets  # noqa: E402,F401
import mlpkit.gradcheck  # noqa: E402,F401
import mlpkit.graph  # noqa: E402,F401
import mlpkit.losses  # noqa: E402,F401
import mlpkit.mlp  # noqa: E402,F401
import mlpkit.ops  # noqa: E402,F401
import mlpkit.plots  # noqa: E402,F401
import mlpkit.training  # noqa: E402,F401
from tools import grading_sandbox  # noqa: E402
from tools.referee import plain  # noqa: E402


class CellTimeout(BaseException):
    """The time budget ran out while a cell or a call was running."""


class SetupError(RuntimeError):
    """The referee could not prepare the process (a maintainer's bug, never the student's)."""


# -- 2. removing the practised functions ------------------------------------------------------------------------
def _stub(dotted: str):
    def unavailable(*args, **kwargs):
        raise PermissionError(f"calling mlpkit's {dotted.removeprefix('mlpkit.')} is not allowed in this exercise")
    unavailable.__name__ = unavailable.__qualname__ = dotted.rpartition(".")[2]
    return unavailable


def _resolve(dotted: str):
    """(owner, attribute name, function) for a dotted name such as mlpkit.mlp.MLP.backward."""
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        owner = sys.modules.get(".".join(parts[:cut]))
        if owner is None:
            continue
        for attribute in parts[cut:-1]:
            owner = getattr(owner, attribute)
        return owner, parts[-1], getattr(owner, parts[-1])
    raise SetupError(f"{dotted} names no function of the loaded mlpkit")


def _mlpkit_namespaces() -> list[dict]:
    """Every place mlpkit keeps references: module dicts, class dicts, and dicts at module level."""
    spaces = []
    for name, module in list(sys.modules.items()):
        if name != "mlpkit" and not name.startswith("mlpkit."):
            continue
        spaces.append(vars(module))
        for value in list(vars(module).values()):
            if isinstance(value, type) and value.__module__.startswith("mlpkit"):
                spaces.append(value)
            elif isinstance(value, dict):
                spaces.append(value)
    return spaces


def _replace(space, stub_of: dict) -> None:
    """In one namespace (a dict or a class), put the stub in place of each practised function."""
    items = list(vars(space).items()) if isinstance(space, type) else list(space.items())
    for key, value in items:
        if id(value) in stub_of:
            replacement = stub_of[id(value)]
        elif isinstance(value, tuple) and any(id(v) in stub_of for v in value):
            replacement = tuple(stub_of.get(id(v), v) for v in value)
        else:
            continue
        if isinstance(space, type):
            setattr(space, key, replacement)
        else:
            space[key] = replacement


def _replace_everywhere(originals: list) -> list:
    """Replace every reference mlpkit holds to the ``(dotted, function)`` pairs; weak references to them."""
    stub_of = {id(function): _stub(dotted) for dotted, function in originals}     # ids: the originals are alive
    for space in _mlpkit_namespaces():
        _replace(space, stub_of)
    return [(dotted, weakref.ref(function)) for dotted, function in originals]


def remove_practised(names: list[str]) -> None:
    """Replace each named function by a stub wherever mlpkit refers to it, then prove the original is gone."""
    originals = [(dotted, getattr(_resolve(dotted)[2], "__func__", _resolve(dotted)[2])) for dotted in names]
    references = _replace_everywhere(originals)
    originals.clear()
    if any(reference() is not None for _, reference in references):
        gc.collect()                                 # only if a cycle holds one (50 ms in a fresh child)
    alive = [dotted for dotted, reference in references if reference() is not None]
    if alive:
        raise SetupError(f"still reachable after removal: {', '.join(alive)} (add the place that refers to them "
                         "to tools/referee/child.py _mlpkit_namespaces)")
    feedback = types.ModuleType("coursekit.feedback", "Not available while grading.")
    sys.modules["coursekit.feedback"] = coursekit.feedback = feedback


# -- 4. replaying the notebook ----------------------------------------------------------------------------------
class _Shell:
    """The little of IPython's get_ipython() that notebook code uses; magics do nothing, except that cell magics
    which run their cell (%%time, %%capture, ...) run it."""

    def __init__(self, namespace: dict) -> None:
        self.user_ns = namespace

    def run_line_magic(self, *args, **kwargs):
        return None

    def run_cell_magic(self, name: str, line: str, cell: str):
        if name in ("time", "timeit", "capture", "prun"):
            exec(compile(TransformerManager().transform_cell(cell), "<cell magic>", "exec"), self.user_ns)

    def system(self, *args, **kwargs):
        return None

    getoutput = system


def _alarm(signum, frame):
    raise CellTimeout()


def _within(seconds: float, action):
    """Run ``action()`` with a timer; CellTimeout if it does not finish within ``seconds``."""
    if seconds <= 0:
        raise CellTimeout()
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return action()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _error_text(error: BaseException) -> str:
    if isinstance(error, CellTimeout):
        return "CellTimeout"
    return f"{type(error).__name__}: {str(error)[:300]}"


def replay(cells: list[dict], namespace: dict, budget: float) -> list[dict]:
    """Run each cell's source in ``namespace``; returns one record per cell that failed."""
    transformer, failed, deadline = TransformerManager(), [], time.monotonic() + budget
    for cell in cells:
        try:
            code = compile(transformer.transform_cell(cell["source"]), f"<cell {cell['index']}>", "exec")
            _within(deadline - time.monotonic(), lambda code=code: exec(code, namespace))
        except BaseException as error:  # noqa: B036 - a cell's SystemExit or KeyboardInterrupt stops only that cell
            failed.append({"index": cell["index"], "error": _error_text(error)})
    return failed


# -- 5. the probe -----------------------------------------------------------------------------------------------
def _argument(value, nodes: list):
    """Inputs as the function receives them: ModelSpecs become fresh mlpkit MLPs with those parameters, GraphSpecs
    graphs of Values (collected in ``nodes``)."""
    if isinstance(value, plain.ModelSpec):
        model = mlpkit.MLP(value.sizes, seed=0)
        for key, array in value.params.items():
            model.params[key] = np.array(array)
        return model
    if isinstance(value, plain.GraphSpec):
        graph = plain.graph_values(value)
        nodes.extend(graph)
        return graph[value.root]
    if isinstance(value, (tuple, list)):
        return type(value)(_argument(v, nodes) for v in value)
    if isinstance(value, dict):
        return {k: _argument(v, nodes) for k, v in value.items()}
    return value


def probe(task: dict, folder: Path, namespace: dict, work: Path) -> dict:
    spec, dumper = task["probe"], plain.Dumper(work, prefix="r")
    if spec["kind"] == "read":
        return {"values": {name: dumper.dump(namespace[name]) if name in namespace else {"kind": "missing"}
                           for name in spec["names"]}}
    for source in spec.get("define", []):             # e.g. a correct backward for train_sgd's test
        exec(compile(source, "<referee>", "exec"), namespace)
    function = namespace.get(spec["function"])
    if function is None or not callable(function):
        return {"defined": function is not None, "callable": False, "trials": []}
    trials, deadline = [], time.monotonic() + task["call_seconds"]
    for raw in spec["trials"]:
        nodes: list = []
        args = _argument(plain.load(raw, folder), nodes)
        dumper.use_graph(nodes)
        record = {"error": None, "timed_out": False}
        start = time.perf_counter()
        try:
            returned = _within(deadline - time.monotonic(), lambda args=args: function(*args))
            record["returned"] = dumper.dump(returned)
        except CellTimeout:
            record["timed_out"] = True
        except BaseException as error:  # noqa: B036 - SystemExit from the student's function is a wrong answer
            record["error"] = _error_text(error)
        record["seconds"] = time.perf_counter() - start
        record["after"] = [dumper.dump_after(a) for a in args]
        trials.append(record)
        if record["timed_out"]:
            break
    return {"defined": True, "callable": True, "trials": trials}


# -- the child, start to end --------------------------------------------------------------------------------------
def _isolate(task: dict, work: Path) -> None:
    memory, file_size = task["memory_mb"] << 20, task["file_mb"] << 20
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    cpu = int(task["cell_seconds"] + task["call_seconds"]) + 10
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)          # a file too large fails with an OSError instead
    signal.signal(signal.SIGALRM, _alarm)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.closerange(3, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
    sys.stdin = open(0, closefd=False)
    sys.stdout = sys.stderr = open(1, "w", closefd=False)
    os.chdir(work)


def _install_sandbox(task: dict, folder: Path, work: Path) -> None:
    """Reads only inside the Python installation and the task folder, never the course's files or mlpkit's
    source; writes only in work/; no new third-party imports."""
    real = os.path.realpath
    protected = tuple(real(p) for p in [*task["protected"], str(_ROOT)])
    roots = {real(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
                               *site.getsitepackages())}
    inside_course = tuple(p for p in roots if any(p.startswith(c + os.sep) for c in protected))   # a venv there
    read_only_in = tuple(sorted(roots)) + (real(folder),)
    unreadable = (real(os.path.dirname(mlpkit.__file__)), real(os.path.dirname(coursekit.__file__)))
    imports = frozenset(name.partition(".")[0] for name in sys.modules) | frozenset(sys.stdlib_module_names)
    linecache.clearcache()
    sys.path[:] = [p for p in sys.path if p and not any(real(p) == c for c in protected)]
    hook, _ = grading_sandbox._make_hook(real(work), protected, inside_course, read_only_in, unreadable, imports)
    sys.addaudithook(hook)


def run_child(folder: Path) -> None:
    """Everything the child does; ends the process with os._exit."""
    code = 0
    work = folder / "work"
    try:
        task = json.loads((folder / "task.json").read_text())
        _isolate(task, work)
        remove_practised(task["remove"])
        _install_sandbox(task, folder, work)
        namespace = {"__name__": "__main__", "__builtins__": __builtins__}
        shell = _Shell(namespace)
        namespace["get_ipython"] = lambda: shell
        run_probe = probe               # bound before the notebook runs: a cell that replaces the module's probe
        failed = replay(task["cells"], namespace, task["cell_seconds"])     # only fools itself, not later cells
        result = {"cells_failed": failed, **run_probe(task, folder, namespace, work)}
    except SetupError as error:
        result, code = {"setup_error": str(error)}, 70
    except BaseException as error:  # noqa: B036 - whatever happens, write what is known
        result, code = {"setup_error": f"the referee failed: {_error_text(error)}"}, 71
    try:
        plain.write_json(work / "result.json", result)
    except BaseException:  # noqa: B036
        code = code or 72
    os._exit(code)


# -- the host -----------------------------------------------------------------------------------------------------
def run_task(folder: Path, deadline: float) -> dict:
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        run_child(folder)                       # never returns
    timed_out = False
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() - start > deadline:
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            timed_out = True
            break
        time.sleep(0.002)
    return {"exit": os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else None,
            "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
            "timed_out": timed_out, "seconds": time.monotonic() - start}


def main() -> None:
    gc.collect()
    gc.freeze()             # what the host imported is never collected in a child (no copy-on-write of it either)
    sys.stdout.write(json.dumps({"ready": True, "pid": os.getpid()}) + "\n")
    sys.stdout.flush()
    for line in sys.stdin:
        request = json.loads(line)
        reply = run_task(Path(request["task"]), float(request["deadline"]))
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
