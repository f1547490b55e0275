"""Stopping a helper process that grading started (a grading worker, the referee, the kernel zygote): one way."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess


def stop(process: subprocess.Popen | None, grace: float = 0.0, group: bool = False) -> None:
    """Close ``process``'s pipes, give it ``grace`` seconds to exit on its own, then kill it and reap it.

    With ``group`` the whole process group is killed (a worker's kernels go with it). Safe to call on a process
    that has already ended, or on None.
    """
    if process is None:
        return
    for stream in (process.stdin, process.stdout):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        if group:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
        process.wait()
