"""Grading kernels forked from a warm process instead of booted from scratch.

Booting an IPython kernel costs about 1 CPU-second, nearly all of it importing ipykernel, IPython, NumPy and
matplotlib; a student's two notebooks need two kernels, so booting was a third of the CPU spent per student.
Here each grading process starts one *zygote* (this file run as a script), which imports those libraries once and
then forks a kernel per request. A forked kernel is what ``python -m ipykernel_launcher -f FILE ...`` would be:
the same interpreter, arguments (so the same sandbox start-up line), environment, working directory and
``sys.path[0]``, its own session and process group; it starts in about 0.1 s and shares the libraries' memory.

``ForkProvisioner`` is the jupyter_client provisioner that asks the zygote instead of starting a process; it
falls back to jupyter_client's own launch for any other kernel command. Signals (interrupt, kill) go to the
kernel's process group as jupyter_client's own provisioner sends them; the zygote reaps its children and reports
their exit codes.

What the zygote holds is only imported libraries: no course file, key or grade. A kernel cannot talk to it (every
inherited descriptor beyond stdin/stdout/stderr is closed, stdin is /dev/null) and the sandbox applies in the
kernel exactly as in a booted one. If the zygote dies it is started again at the next request.

Protocol (JSON lines on the zygote's stdin/stdout): ``{"fork": {"args": [...], "env": {...}, "cwd": DIR}}`` ->
``{"pid": N}``; ``{"poll": N}`` -> ``{"returncode": CODE or null}``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading

LAUNCHER = ["-m", "ipykernel_launcher"]
#: What the zygote imports before forking (the kernel's own start-up imports, which then cost nothing).
WARM_IMPORTS = ("ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell", "IPython", "numpy",
                "matplotlib", "matplotlib.pyplot", "matplotlib_inline.backend_inline")


# -- in the grading process ------------------------------------------------------------------------------------
class _Zygote:
    """The grading process's connection to its zygote (started on first use, again if it died)."""

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None
        self.env: dict | None = None
        self.lock = threading.Lock()

    def request(self, message: dict, env: dict) -> dict:
        with self.lock:
            if self.process is None or self.process.poll() is not None or env != self.env:
                self._start(env)
            self.process.stdin.write(json.dumps(message) + "\n")
            self.process.stdin.flush()
            line = self.process.stdout.readline()
            if not line:
                self.stop()
                raise OSError("the kernel zygote stopped")
            return json.loads(line)

    def _start(self, env: dict) -> None:
        self.stop()
        self.process = subprocess.Popen([sys.executable, __file__], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        env=env, cwd="/", text=True, start_new_session=True)
        self.env = env

    def stop(self) -> None:
        from tools.processes import stop  # here, not at the top: this file also runs as the zygote's script

        stop(self.process, grace=5)
        self.process = None


ZYGOTE = _Zygote()


def zygote_environment(env: dict) -> dict:
    """The environment the zygote imports under: the kernel's, without what differs per kernel (temp folders,
    the sandbox's settings, IPython's folder), so one zygote serves every kernel of a grading run."""
    return {k: v for k, v in env.items()
            if not k.startswith(("COURSE_GRADING_", "JPY_")) and k not in ("TMPDIR", "TEMP", "TMP", "IPYTHONDIR")}


class Forked:
    """A forked kernel, as much of :class:`subprocess.Popen` as jupyter_client uses."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int, env: dict) -> None:
        self.pid, self.env, self.returncode = pid, env, None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                self.returncode = ZYGOTE.request({"poll": self.pid}, self.env)["returncode"]
            except OSError:                     # the zygote is gone, and with it its children
                self.returncode = -signal.SIGKILL
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        import time

        end = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if end is not None and time.monotonic() > end:
                raise subprocess.TimeoutExpired(str(self.pid), timeout)
            time.sleep(0.02)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        """Signal the kernel's process group; right after the fork, before the kernel has made its own group,
        the kernel alone."""
        if self.poll() is not None:
            return
        try:
            os.killpg(self.pid, signum)
        except ProcessLookupError:
            try:
                os.kill(self.pid, signum)
            except ProcessLookupError:                  # gone in the meantime
                pass

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


def provisioner_class():
    """``ForkProvisioner`` (defined on first use: jupyter_client is imported only by the grading process)."""
    from jupyter_client.provisioning import LocalProvisioner

    class ForkProvisioner(LocalProvisioner):
        """LocalProvisioner that forks ``python -m ipykernel_launcher`` kernels from the zygote."""

        async def launch_kernel(self, cmd: list[str], **kwargs):
            if cmd[:3] != [sys.executable, *LAUNCHER] or not kwargs.get("env") or not kwargs.get("cwd"):
                return await super().launch_kernel(cmd, **kwargs)
            env = dict(kwargs["env"])
            reply = ZYGOTE.request({"fork": {"args": cmd[3:], "env": env, "cwd": str(kwargs["cwd"])}},
                                   zygote_environment(env))
            self.process = Forked(reply["pid"], zygote_environment(env))
            self.pid = self.pgid = reply["pid"]                 # the kernel leads its own process group
            self.cwd = kwargs["cwd"]
            return self.connection_info

    return ForkProvisioner


def shutdown() -> None:
    """Stop the zygote (its kernels have been shut down by then)."""
    ZYGOTE.stop()


# -- the zygote ------------------------------------------------------------------------------------------------
_LAUNCHER_FILE = ""          # ipykernel_launcher.py: sys.argv[0] of a kernel started with `python -m`


def _become_kernel(request: dict) -> None:
    """In the forked child: turn into ``python -m ipykernel_launcher ARGS`` run with ENV in CWD. Never returns."""
    code = 1
    try:
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0)
        os.dup2(2, 1)                                       # the kernel's own output goes to the grading log
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))
        for signum in (signal.SIGTERM, signal.SIGCHLD, signal.SIGHUP):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        os.environ["JPY_PARENT_PID"] = str(os.getppid())    # the kernel exits if the zygote dies
        import tempfile

        tempfile.tempdir = None                             # read TMPDIR again
        del sys.path[0]             # this file's folder; ipykernel_launcher removes its own (IPython adds '')
        sys.argv = [_LAUNCHER_FILE, *request["args"]]
        sys.stdin = open(0, closefd=False)
        sys.stdout = open(1, "w", closefd=False, buffering=1)
        from ipykernel import kernelapp

        kernelapp.launch_new_instance()
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except BaseException:                                   # noqa: BLE001 - report and exit, never return
        import traceback

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def serve() -> None:
    """The zygote's loop: import the libraries, then fork a kernel per request until stdin closes."""
    import importlib
    import importlib.util

    global _LAUNCHER_FILE
    _LAUNCHER_FILE = importlib.util.find_spec("ipykernel_launcher").origin
    for name in WARM_IMPORTS:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    protocol_in, protocol_out = sys.stdin, sys.stdout
    sys.stdout = sys.stderr
    exits: dict[int, int] = {}
    children: set[int] = set()

    def reap() -> None:
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            children.discard(pid)
            exits[pid] = os.waitstatus_to_exitcode(status)

    try:
        for line in protocol_in:
            message = json.loads(line)
            reap()
            if "fork" in message:
                sys.stderr.flush()
                pid = os.fork()
                if pid == 0:
                    _become_kernel(message["fork"])
                children.add(pid)
                reply = {"pid": pid}
            else:
                pid = message["poll"]
                # a pid this zygote never forked (or already reported) is gone: report it killed
                reply = {"returncode": None if pid in children else exits.pop(pid, -signal.SIGKILL)}
            protocol_out.write(json.dumps(reply) + "\n")
            protocol_out.flush()
    finally:
        for pid in children:
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass


if __name__ == "__main__":
    serve()
