"""Test-session set-up shared by pytest and nbval: every notebook kernel starts
with tests/kernel_sandbox.py (no network, no files outside the repository)."""

import os
import shutil
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def pytest_configure(config):
    ipython_dir = Path(tempfile.mkdtemp(prefix="course-ipython-"))
    startup = ipython_dir / "profile_default" / "startup"
    startup.mkdir(parents=True)
    shutil.copy(ROOT / "tests" / "kernel_sandbox.py", startup / "00-kernel-sandbox.py")
    os.environ["IPYTHONDIR"] = str(ipython_dir)
    os.environ["COURSE_SANDBOX_ROOT"] = str(ROOT)
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
