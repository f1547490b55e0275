"""IPython start-up file that keeps a notebook kernel inside the repository.

conftest.py installs it into a private IPYTHONDIR for every kernel the test run
starts (nbval, nbclient). An audit hook refuses network access and opening
files outside the repository, the Python installation, the system folders
libraries read (fonts, locale, /proc) and the kernel's own config/cache
folders, so a notebook that downloads or reads a stray file fails in CI.
"""

import os
import sys
import tempfile

from jupyter_core.paths import jupyter_runtime_dir

_ROOT = os.environ.get("COURSE_SANDBOX_ROOT")
_CACHE = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
_CONFIG = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
if _ROOT:
    _allowed = tuple(os.path.join(os.path.realpath(p), "") for p in filter(None, [
        _ROOT, sys.prefix, sys.base_prefix, sys.exec_prefix, "/usr", "/etc", "/proc", "/sys", "/dev",
        "/var/cache/fontconfig", os.path.join(_CACHE, "fontconfig"), os.path.join(_CACHE, "matplotlib"),
        os.path.join(_CONFIG, "matplotlib"), os.environ.get("MPLCONFIGDIR"), os.environ.get("IPYTHONDIR"),
        jupyter_runtime_dir(), tempfile.gettempdir(),
    ]))
    _network = {"socket.connect", "socket.getaddrinfo", "socket.gethostbyname", "urllib.Request"}

    def _sandbox(event: str, args: tuple, _network=_network, _allowed=_allowed, os=os) -> None:
        # Defaults bind what the hook needs: it still runs while Python clears module globals at exit.
        if event in _network:
            raise PermissionError(f"course sandbox: notebooks must not use the network ({event} {args[1:]!r})")
        if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
            path = os.path.realpath(os.fsdecode(args[0]))
            if not (path + os.sep).startswith(_allowed) and not path.startswith(_allowed):
                raise PermissionError(f"course sandbox: notebooks must not open files outside the repository: {path}")

    sys.addaudithook(_sandbox)
