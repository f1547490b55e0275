"""What Binder builds, rehearsed without Docker.

- The repository Binder serves is the student edition (`tools.publish.publish` writes it into a fresh folder), so
  nothing runs on or writes into the real checkout.
- `repo2docker_dockerfile`: `repo2docker --no-build --debug` on it prints the Dockerfile Binder would build.
- `build_binder_env`: the environment made from `binder/`, the way repo2docker does it: a fresh Python 3.11
  environment, optionally the Jupyter versions of repo2docker's base environment (`repo2docker_base_pins`),
  `pip install -r binder/requirements.txt` run from the repository root, then `./binder/postBuild` with the
  environment first on PATH.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

BINDER_PYTHON = "3.11"

# Variables of the test session that must not leak into the rehearsed environment (conftest.py's kernel sandbox,
# the outer virtual environment, a developer's Jupyter configuration).
_LEAKY = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "IPYTHONDIR", "COURSE_SANDBOX_ROOT", "MPLBACKEND", "MPLCONFIGDIR",
          "JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_PATH", "JUPYTER_CONFIG_PATH", "JUPYTER_RUNTIME_DIR",
          "JUPYTER_PLATFORM_DIRS", "PYTEST_CURRENT_TEST", "PYTEST_XDIST_WORKER", "PYTEST_XDIST_TESTRUNUID")


def clean_env(venv: Path | None = None, **overrides: str) -> dict[str, str]:
    """os.environ without the test session's Python/Jupyter settings; `venv`'s bin first on PATH."""
    env = {k: v for k, v in os.environ.items() if k not in _LEAKY}
    outer_bin = os.path.dirname(sys.executable)
    path = [p for p in env.get("PATH", "/usr/bin:/bin").split(os.pathsep) if p and p != outer_bin]
    if venv is not None:
        path.insert(0, str(venv / "bin"))
    env["PATH"] = os.pathsep.join(path)
    env.update(overrides)
    return env


def repo2docker_dockerfile(repo: Path, cwd: Path, timeout: float = 120) -> tuple[str, str]:
    """(Dockerfile, log) of what repo2docker would build for `repo` (no Docker engine needed)."""
    result = subprocess.run([sys.executable, "-m", "repo2docker", "--no-build", "--debug", str(repo)], cwd=cwd,
                            capture_output=True, text=True, timeout=timeout, env=clean_env())
    assert result.returncode == 0, f"repo2docker failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result.stdout, result.stderr


def escapism(name: str) -> str:
    """How repo2docker names the build files it copies into the image: "-2e" for ".", "-2d" for "-", ..."""
    return re.sub(r"[^A-Za-z0-9]", lambda m: f"-{ord(m.group()):02x}", name)


# Jupyter packages that repo2docker's base environment already has (conda); when their versions satisfy
# requirements.txt, pip keeps them, so a Binder session runs those versions, not the newest.
BASE_PACKAGES = {"jupyterlab", "notebook", "ipywidgets", "jupyterlab_widgets", "widgetsnbextension", "ipykernel",
                 "jupyter_server", "jupyterlab_server", "jupyter_client", "jupyter-resource-usage",
                 "jupyter-offlinenotebook"}


def repo2docker_base_pins(python: str = BINDER_PYTHON) -> list[str]:
    """name==version of BASE_PACKAGES in repo2docker's base environment for `python` (its conda lock file)."""
    import repo2docker

    lock = Path(repo2docker.__file__).parent / "buildpacks" / "conda" / f"environment.py-{python}-linux-64.lock"
    pins = []
    for line in lock.read_text().splitlines():
        if line.startswith("http"):
            filename = line.split("#")[0].rsplit("/", 1)[1].removesuffix(".conda").removesuffix(".tar.bz2")
            name, version, _build = filename.rsplit("-", 2)
            if name in BASE_PACKAGES:
                pins.append(f"{name}=={version}")
    return sorted(pins)


def find_python() -> str:
    """The interpreter Binder uses (python3.11); otherwise this one, so CI without 3.11 still rehearses."""
    found = shutil.which(f"python{BINDER_PYTHON}")
    if found and subprocess.run([found, "-c", "1"], capture_output=True).returncode == 0:
        return found
    return sys.executable


def _run(cmd: list[str], log, timeout: float, **kwargs) -> float:
    """Run cmd with its output appended to the open file `log`; return seconds; fail with the log's tail."""
    log.write(f"\n$ {' '.join(map(str, cmd))}\n")
    log.flush()
    start = time.perf_counter()
    try:
        result = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, timeout=timeout, **kwargs)
    except subprocess.TimeoutExpired as error:
        raise AssertionError(f"{cmd} took more than {timeout:.0f} s (see {log.name})") from error
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        log.flush()
        tail = Path(log.name).read_text()[-3000:]
        raise AssertionError(f"{' '.join(map(str, cmd))} exited with {result.returncode}:\n{tail}")
    return seconds


def _uv() -> str:
    """The uv next to this Python (requirements-dev.txt installs it), or on PATH."""
    here = Path(sys.executable).with_name("uv")
    found = str(here) if here.exists() else shutil.which("uv")
    if not found:
        raise AssertionError("uv is missing: pip install -r requirements-dev.txt")
    return found


def build_binder_env(repo: Path, venv: Path, log_path: Path, python: str | None = None,
                     preinstall: list[str] = ()) -> dict[str, float]:
    """Build the student environment in `venv` from `repo`'s binder/ files; return the seconds per step.

    The packages are installed by uv (`uv pip install`, from requirements-dev.txt), not by pip as on Binder: every
    version is pinned (the lock), so both install the same files, and uv does it in a fraction of pip's time
    (measured here: 97 s with pip for the two steps on a loaded machine). `preinstall` (e.g.
    repo2docker_base_pins()) is installed first, as repo2docker's base environment is."""
    python = python or find_python()
    times: dict[str, float] = {}
    with open(log_path, "w") as log:
        times["venv"] = _run([python, "-m", "venv", str(venv)], log, 180, env=clean_env())
        env = clean_env(venv)
        install = [_uv(), "pip", "install", "--python", str(venv / "bin" / "python")]
        if preinstall:
            times["uv pip install (base environment)"] = _run([*install, *preinstall], log, 1200, cwd=repo, env=env)
        times["uv pip install -r binder/requirements.txt"] = _run(
            [*install, "-r", "binder/requirements.txt"], log, 1200, cwd=repo, env=env)
        post_build = repo / "binder" / "postBuild"
        post_build.chmod(post_build.stat().st_mode | 0o111)       # repo2docker: RUN chmod +x binder/postBuild
        times["binder/postBuild"] = _run(["./binder/postBuild"], log, 600, cwd=repo, env=env)
    return times
