"""The student set-up of a Jupyter environment: what Binder (binder/postBuild) and a local launch both apply.

Run it with the Python of the environment to set up, from anywhere (it changes only that environment's
sys.prefix, nothing in the user's home):

    .venv/bin/python binder/student_setup.py

- nbgrader's instructor tools are switched off and locked, so JupyterLab's plugin manager cannot switch them back
  on: the Create Assignment sidebar, the Formgrader and the Nbgrader menu (its items open those two, or the
  assignment and course lists of an nbgrader exchange, which students do not have); and the formgrader's server
  extension. The Validate button (plugin validate-assignment, server extension validate_assignment) stays.
- JupyterLab's question "Would you like to get notified about official Jupyter news?" is answered "never" for
  everyone: `fetchNews` "false" in share/jupyter/lab/settings/overrides.d/ (JupyterLab's defaults for this
  environment; a student can still change the setting).

An environment made from requirements-dev.txt (it has jupyter-repo2docker) is the instructor's and keeps its
tools: the script leaves it as it is (and says so), so the README's launch command works there too.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

INSTRUCTOR_PLUGINS = ["@jupyter/nbgrader:create-assignment", "@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:menu"]
FORMGRADER = "nbgrader.server_extensions.formgrader"
NEWS_SETTINGS = {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false"}}
NEWS_OVERRIDES = Path("share", "jupyter", "lab", "settings", "overrides.d", "course-student.json")


def jupyter(*args: str) -> None:
    """Run `jupyter ARGS` of this environment (python -m jupyter: no PATH needed, on Windows too)."""
    subprocess.run([sys.executable, "-m", "jupyter", *args], check=True)


def switch_off_instructor_tools() -> None:
    jupyter("labextension", "disable", "--level=sys_prefix", *INSTRUCTOR_PLUGINS)
    jupyter("labextension", "lock", "--level=sys_prefix", *INSTRUCTOR_PLUGINS)
    jupyter("server", "extension", "disable", "--sys-prefix", FORMGRADER)


def switch_off_news(prefix: Path) -> Path:
    """Write JupyterLab's default "never fetch news" for the environment at `prefix`; return the file."""
    path = prefix / NEWS_OVERRIDES
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(NEWS_SETTINGS, indent=2) + "\n")
    return path


def main() -> None:
    if importlib.util.find_spec("repo2docker") is not None:
        print(f"{sys.prefix} has jupyter-repo2docker: it was made from requirements-dev.txt, the instructor's "
              f"set-up, which keeps nbgrader's instructor tools; nothing changed. To see the course as a student "
              f"does, use a separate environment made from requirements.txt, e.g. python3.11 -m venv .venv-student "
              f"&& .venv-student/bin/pip install -r requirements.txt && .venv-student/bin/python "
              f"binder/student_setup.py")
        return
    switch_off_instructor_tools()
    print(f"JupyterLab will not ask about Jupyter news: {switch_off_news(Path(sys.prefix))}")


if __name__ == "__main__":
    main()
