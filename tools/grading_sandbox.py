"""Kernel-side guard for autograding: the grading variant of tests/kernel_sandbox.py.

The autograder (tools/nbgrader_plugins.py, ``SandboxedExecute``) starts every
grading kernel with a start-up line that runs this file before any student
code; if it fails, the kernel exits (fail closed). Kernels are started ahead of
time in their private temp directory; the grader's first request,
``__course_grading_bind__(folder)``, moves the kernel into the student's folder
and makes it writable (once: the function then removes itself). Configuration
comes from environment variables the grader sets for that one kernel:

    COURSE_GRADING_PROTECTED  directories (os.pathsep-separated) that student code may
                              neither read nor write: the course directory (gradebook.db,
                              solutions/, submitted/, autograded/, feedback/, backups) and the
                              folder holding every grading kernel's own folder (connection keys)
    COURSE_GRADING_READABLE   directories inside a protected one that may be read (the
                              mlpkit package when it lives in the course directory)
    COURSE_GRADING_TMP        the kernel's private temporary directory (also TMPDIR)
    COURSE_GRADING_MEMORY_MB  address-space limit of the kernel (0: none)
    COURSE_GRADING_FILE_MB    largest file the kernel may write (0: none)

It installs a ``sys.addaudithook`` hook that refuses, with PermissionError:
writing, creating, deleting, renaming or changing anything outside the kernel's
working directory (the student's own autograded folder) and its private temp
directory; reading or listing the protected directories; opening a database
(sqlite3) outside; starting processes (subprocess, os.system, os.exec*, fork,
spawn), sending signals, changing resource limits, loading native code with
ctypes, walking the garbage collector (to reach this hook); and every network
call. Paths are resolved (symlinks, "..") with functions captured at start-up, so
monkeypatching ``os.path`` later does not fool it.

The referee's process (tools/referee/child.py) installs the same hook through ``_make_hook``, stricter:
reads only inside the Python installation and its task folder, never mlpkit's source, and no third-party
imports beyond those loaded before the hook.

This is a guard rail inside the student's own Python process, not a container:
code that reaches native code another way (a C extension, a bug in CPython) or
races the checks can get around it. See docs/instructors.md.
"""

import builtins
import os
import posix
import resource
import stat
import sys

#: Environment variables a grading kernel or the referee inherits; everything else (tokens, keys) is dropped.
KEPT_ENVIRONMENT = ("PATH", "HOME", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ", "VIRTUAL_ENV", "PYTHONPATH",
                    "PYTHONHASHSEED", "MPLBACKEND", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                    "OPENBLAS_CORETYPE", "JUPYTER_PATH", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR",
                    "JUPYTER_CONFIG_DIR", "SYSTEMROOT")


def scrubbed_environment() -> dict:
    """The grader's environment reduced to KEPT_ENVIRONMENT (and LC_*, XDG_* locale and base folders)."""
    env = {k: v for k, v in os.environ.items() if k in KEPT_ENVIRONMENT or k.startswith(("LC_", "XDG_"))}
    env.setdefault("PATH", os.defpath)
    return env


def _split(value: str) -> tuple:
    return tuple(p for p in value.split(os.pathsep) if p)


def _make_hook(tmp: str, protected: tuple, readable: tuple, read_only_in: tuple = (),  # noqa: C901 - one table
               unreadable: tuple = (), imports_from: frozenset | None = None):
    """The audit hook and the one-shot ``bind(folder)`` that sets the student's folder.

    Reading is refused inside ``protected`` except inside ``readable``. The referee's process
    (tools/referee/child.py) also gives ``read_only_in`` (reading anywhere else is refused), ``unreadable``
    (refused even inside ``readable``: mlpkit's source) and ``imports_from`` (importing a module whose top-level
    package is not in it is refused).
    """
    # Everything the hook calls is captured here, so later monkeypatching of os, os.path or
    # builtins by the student's code does not change its decisions.
    _lstat, _readlink, _getcwd, _stat, _chdir = posix.lstat, posix.readlink, posix.getcwd, posix.stat, posix.chdir
    _fspath, _fsdecode, _is_link, _is_dir = posix.fspath, os.fsdecode, stat.S_ISLNK, stat.S_ISDIR
    _isinstance, _str, _bytes, _int, _tuple, _hasattr = isinstance, str, bytes, int, tuple, hasattr
    _len, _enumerate = len, enumerate
    _PermissionError, _OSError, _ImportError = PermissionError, OSError, ImportError
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    sep = "/"

    def realpath(path: str, depth: int = 0) -> str:
        """os.path.realpath with captured primitives (POSIX paths only)."""
        if depth > 40:
            raise _PermissionError("course grading sandbox: too many symbolic links")
        if not path.startswith(sep):
            path = _getcwd() + sep + path
        parts, resolved = path.split(sep), ""
        for i, part in _enumerate(parts):
            if part in ("", "."):
                continue
            if part == "..":
                resolved = resolved[: resolved.rfind(sep)] if resolved else ""
                continue
            candidate = resolved + sep + part
            try:
                st = _lstat(candidate)
            except _OSError:
                return candidate + "".join(sep + p for p in parts[i + 1:] if p not in ("", "."))
            if _is_link(st.st_mode):
                target = _readlink(candidate)
                base = target if target.startswith(sep) else resolved + sep + target
                resolved = realpath(base, depth + 1)
            else:
                resolved = candidate
        return resolved or sep

    def inside(path: str, roots: tuple) -> bool:
        for root in roots:
            if path == root or path.startswith(root + sep):
                return True
        return False

    writable = (tmp,)
    bound = []

    def bind(folder: str) -> None:
        nonlocal writable
        if bound:
            raise _PermissionError("course grading sandbox: the kernel is already bound to a folder")
        bound.append(True)
        folder = realpath(folder)
        writable = (folder, tmp)
        _chdir(folder)

    def resolve(path, dir_fd=None) -> str:
        if _isinstance(path, _int):                      # an open file descriptor
            return realpath(_readlink("/proc/self/fd/" + _str(path)))
        if path is None:
            return _getcwd()
        path = _fsdecode(_fspath(path))
        if dir_fd is not None and dir_fd != -1 and not path.startswith(sep):
            return realpath(_readlink("/proc/self/fd/" + _str(dir_fd)) + sep + path)
        return realpath(path)

    def refuse(what: str, path: str = "") -> None:
        detail = f": {path}" if path else ""
        raise _PermissionError(f"course grading sandbox: {what} is not allowed while grading{detail}")

    def check_read(path: str) -> None:
        if inside(path, writable):
            return
        if inside(path, unreadable):
            refuse("reading the library's source", path)
        if inside(path, protected) and not inside(path, readable):
            refuse("reading the course's files", path)
        if read_only_in and not inside(path, read_only_in) and path != "/dev/null":
            refuse("reading files outside the Python installation", path)

    def check_write(path: str) -> None:
        if path == "/dev/null":
            return
        if not inside(path, writable):
            refuse("changing files outside your own folder", path)

    refused = {
        # processes, signals, limits, native code, reaching this hook through the garbage collector
        "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
        "os.startfile", "pty.spawn", "os.kill", "os.killpg", "signal.pthread_kill", "resource.setrlimit",
        "resource.prlimit", "ctypes.dlopen", "ctypes.dlsym", "ctypes.dlsym/handle", "ctypes.cdata",
        "gc.get_objects", "gc.get_referrers", "gc.get_referents", "os.link", "os.symlink",
        "sys._current_frames", "webbrowser.open",
        # network
        "socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg", "socket.getaddrinfo",
        "socket.gethostbyname", "socket.gethostbyname_ex", "socket.gethostbyaddr", "urllib.Request",
        "http.client.connect", "ftplib.connect", "smtplib.connect", "telnetlib.Telnet.open", "poplib.connect",
        "imaplib.open", "nntplib.connect",
    }
    path_writes = {  # event -> index of the dir_fd argument (None: no dir_fd)
        "os.remove": 1, "os.rmdir": 1, "os.mkdir": 2, "os.chmod": 2, "os.chown": 3, "os.utime": 4,
        "os.truncate": None, "os.chflags": None, "os.lchflags": None, "os.lchmod": None, "os.lchown": None,
        "os.setxattr": None, "os.removexattr": None, "shutil.rmtree": 1, "os.mkfifo": 2, "os.mknod": 2,
        "sqlite3.connect": None, "sqlite3.connect/handle": None, "shutil.chown": None,
    }

    def hook(event: str, args: _tuple) -> None:
        if event == "import" and imports_from is not None:
            top = args[0].partition(".")[0] if _isinstance(args[0], _str) else ""
            if top not in imports_from:
                raise _ImportError(f"course grading sandbox: importing {top} is not available while grading; use "
                                   "numpy and Python's standard library")
        elif event == "open":
            path, mode, flags = args[0], args[1], args[2]
            if _isinstance(path, _int) or path is None:  # wrapping an fd that was already checked
                return
            if not _isinstance(path, (_str, _bytes)) and not _hasattr(path, "__fspath__"):
                return
            if mode is None and not _fsdecode(_fspath(path)).startswith(sep):
                # os.open(relative, dir_fd=...) cannot be resolved from the audit event
                refuse("os.open with a relative path", _fsdecode(_fspath(path)))
            target = resolve(path)
            if (flags or 0) & write_flags:
                check_write(target)
            else:
                check_read(target)
                if mode is None and not inside(target, writable):
                    try:
                        is_dir = _is_dir(_stat(target).st_mode)
                    except _OSError:
                        is_dir = False
                    if is_dir:                           # a directory fd would allow dir_fd-relative tricks
                        refuse("opening a directory outside your own folder", target)
        elif event in refused:
            refuse(event)
        elif event in path_writes:
            fd_index = path_writes[event]
            dir_fd = args[fd_index] if fd_index is not None and _len(args) > fd_index else None
            if event.startswith("sqlite3") and args[0] in (":memory:", b":memory:", ""):
                return
            check_write(resolve(args[0], dir_fd))
        elif event == "os.rename":
            check_write(resolve(args[0], args[2]))
            check_write(resolve(args[1], args[3]))
        elif event in ("os.listdir", "os.scandir", "os.chdir", "os.chroot"):
            target = resolve(args[0] if args else None)
            if event == "os.chdir" and not inside(target, writable):
                refuse("changing to a folder outside your own folder", target)
            check_read(target)

    return hook, bind


def install() -> None:
    tmp = os.path.realpath(os.environ.get("COURSE_GRADING_TMP") or os.getcwd())
    protected = tuple(os.path.realpath(p) for p in _split(os.environ.get("COURSE_GRADING_PROTECTED", "")))
    readable = tuple(os.path.realpath(p) for p in _split(os.environ.get("COURSE_GRADING_READABLE", "")))
    memory_mb = int(os.environ.get("COURSE_GRADING_MEMORY_MB", "0") or 0)
    file_mb = int(os.environ.get("COURSE_GRADING_FILE_MB", "0") or 0)
    if memory_mb > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory_mb << 20, memory_mb << 20))
    if file_mb > 0:
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_mb << 20, file_mb << 20))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    sys.dont_write_bytecode = True
    # The libraries the exercises use are imported before the hook exists (their start-up, native libraries
    # and caches are not second-guessed) and while the kernel waits for its notebook (faster grading).
    import matplotlib.pyplot  # noqa: F401
    import numpy  # noqa: F401

    for name in ("mlpkit", "coursekit", "coursekit.feedback"):
        try:
            __import__(name)
        except ImportError:
            pass
    hook, bind = _make_hook(tmp, protected, readable)
    sys.addaudithook(hook)

    def __course_grading_bind__(folder: str) -> None:
        del builtins.__course_grading_bind__
        bind(folder)

    builtins.__course_grading_bind__ = __course_grading_bind__


if __name__ == "__course_grading_sandbox__":       # the grading kernel's start-up line runs this file under that name
    install()
