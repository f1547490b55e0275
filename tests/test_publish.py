"""The student edition (tools/publish.py, `python -m tools.grading publish DEST`): what it holds, that it holds
no answers or grader code (and that the leak scan would notice if it did), what DEST may be, and that the edition
works on its own: its tests pass with its own mlpkit, and repo2docker accepts it."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

from tests.browser.binder_env import BINDER_PYTHON, clean_env, escapism, repo2docker_dockerfile
from tools.publish import STUDENT_TESTS, leaks, publish, reference_answers

ROOT = Path(__file__).resolve().parents[1]
GITHUB = "someone/backprop-course"
EXERCISES = sorted((ROOT / "exercises").glob("*/*.ipynb"))
LECTURES = sorted((ROOT / "lectures").glob("*.ipynb"))
TOP_LEVEL = {".course-edition", ".gitignore", "README.md", "binder", "conftest.py", "exercises", "lectures", "mlpkit",
             "coursekit",
             "nbgrader_config.py", "pyproject.toml", "requirements-dev.txt", "requirements.txt", "tests"}
NEVER = {"solutions", "tools", "docs", "benchmarks", ".ci", "gradebook.db", "grades.csv", "submitted", "autograded",
         "feedback", "grading", "test-artifacts", ".venv", "__pycache__", ".ipynb_checkpoints", "instructors.md"}
COURSE_COMMAND = ("python3.11 -m venv .venv && .venv/bin/pip install -r requirements.txt && "
                  ".venv/bin/python binder/student_setup.py && "
                  ".venv/bin/jupyter lab --ServerApp.root_dir=. lectures/00_index.ipynb")
TEST_COMMAND = ("python3.11 -m venv .venv && .venv/bin/pip install -r requirements-dev.txt && "
                ".venv/bin/python -m pytest")


def run_publish(dest: Path, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tools.grading", "publish", str(dest), *options], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def markdown_section(text: str, heading: str) -> str:
    return text.split(f"\n{heading}\n", 1)[1].split("\n## ", 1)[0]


@pytest.fixture(scope="module")
def edition(tmp_path_factory) -> SimpleNamespace:
    """The edition as the CLI writes it into a new folder."""
    dest = tmp_path_factory.mktemp("edition") / "student-repo"
    result = run_publish(dest, "--github", GITHUB)
    assert result.returncode == 0, result.stdout + result.stderr
    return SimpleNamespace(dest=dest, stdout=result.stdout)


@pytest.fixture
def edition_copy(edition, tmp_path) -> Path:
    """A copy of the edition this test may change."""
    return Path(shutil.copytree(edition.dest, tmp_path / "copy"))


# ---- what the edition holds ---------------------------------------------------------------------------------------

def test_edition_holds_the_student_files_and_nothing_else(edition):
    dest = edition.dest
    assert {p.name for p in dest.iterdir()} == TOP_LEVEL
    forbidden = [p for p in files(dest) | {p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_dir()}
                 if NEVER & set(p.split("/")) or p.endswith(".pyc")]
    assert not forbidden
    assert len(EXERCISES) >= 2 and len(LECTURES) >= 7
    for notebook in EXERCISES + LECTURES:
        assert (dest / notebook.relative_to(ROOT)).read_bytes() == notebook.read_bytes(), notebook
    assert files(dest / "exercises") == {p.relative_to(ROOT / "exercises").as_posix() for p in EXERCISES}
    assert files(dest / "lectures") == {p.name for p in LECTURES}
    assert files(dest / "coursekit") == {p.relative_to(ROOT / "coursekit").as_posix()
                                         for p in (ROOT / "coursekit").rglob("*.py")}
    shipped = [*(ROOT / "mlpkit").glob("*.py"), *(ROOT / "mlpkit" / "data").glob("*")]
    assert files(dest / "mlpkit") == {p.relative_to(ROOT / "mlpkit").as_posix() for p in shipped}
    assert files(dest / "binder") == files(ROOT / "binder")
    assert os.stat(dest / "binder" / "postBuild").st_mode & stat.S_IXUSR
    assert {f"tests/{name}" for name in files(dest / "tests")} == set(STUDENT_TESTS)
    assert not {"tests/test_feedback.py", "tests/test_lectures.py", "tests/test_exercises.py"} & set(STUDENT_TESTS)
    for name in ["requirements.txt", "pyproject.toml", "conftest.py", *STUDENT_TESTS]:
        assert (dest / name).read_bytes() == (ROOT / name).read_bytes(), name
    dev = [line for line in (dest / "requirements-dev.txt").read_text().splitlines() if not line.startswith("#")]
    assert dev[0] == "-r requirements.txt"
    assert {re.split(r"[<>=]", line)[0] for line in dev[1:]} == {"pytest", "hypothesis"}
    assert ".venv/" in (dest / ".gitignore").read_text()
    marker = (dest / ".course-edition").read_text()
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    assert commit and commit in marker
    assert str(dest.resolve()) in edition.stdout and "leak scan: nothing found" in edition.stdout
    assert leaks(dest, ROOT) == []


def test_no_file_of_the_edition_holds_the_graph_by_hand_answer(edition):
    # One concrete check, independent of the leak scan: the reference answer dL_dx = 3.0 appears nowhere.
    found = [name for name in files(edition.dest)
             if re.search(r"dL_dx\s*=\s*3(\.0*)?(?![\d.])", (edition.dest / name).read_text(errors="replace"))]
    assert found == []


def test_student_readme_has_the_badge_the_commands_the_notebooks_and_what_to_hand_in(edition):
    readme = (edition.dest / "README.md").read_text()
    assert f"[![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/{GITHUB}/HEAD?urlpath=lab/" \
           f"tree/lectures/00_index.ipynb)" in readme
    assert "{{" not in readme and not re.search(r"\btools[./]|solutions", readme)
    quick_start = markdown_section(readme, "## Quick start")
    assert re.findall(r"```bash\n(.+?)\n```", quick_start) == [COURSE_COMMAND]
    index = "\n".join(c.source for c in nbformat.read(ROOT / "lectures" / "00_index.ipynb", 4).cells)
    assert f"```bash\n{COURSE_COMMAND}\n```" in index, "the lecture index shows another command than the README"
    assert ".venv\\Scripts\\" in readme
    assert f"```bash\n{TEST_COMMAND}\n```" in readme
    contents = markdown_section(readme, "## What the course contains")
    positions = [contents.index(f"({p.relative_to(ROOT).as_posix()})") for p in LECTURES + EXERCISES]
    assert positions == sorted(positions), "lectures in order, then the exercises"
    hand_in = markdown_section(readme, "## What to hand in")
    assert all(f"`{p.name}`" in hand_in for p in EXERCISES)
    assert "names unchanged" in hand_in and "Restart Kernel and Run All Cells" in hand_in and "Validate" in hand_in
    graded = markdown_section(readme, "## How your work is graded")
    assert "hidden tests" in graded and "NumPy" in graded and "Warnings" in graded


def test_student_nbgrader_config_sets_only_the_time_limit(edition):
    from traitlets.config.loader import PyFileConfigLoader

    text = (edition.dest / "nbgrader_config.py").read_text()
    assert "tools" not in text and "Validate" in text
    instructor = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    student = PyFileConfigLoader("nbgrader_config.py", path=str(edition.dest)).load_config()
    assert student.Execute.timeout == instructor.Execute.timeout
    assert f"c.Execute.timeout = {instructor.Execute.timeout}" in text
    assert student.Execute.interrupt_on_timeout is True
    assert set(student) == {"Execute"} and set(student.Execute) == {"timeout", "interrupt_on_timeout"}


# ---- the leak scan ------------------------------------------------------------------------------------------------

def _solution_block(grade_id: str) -> str:
    """The reference answer of one cell, read here independently of tools.publish."""
    for notebook in sorted((ROOT / "solutions").glob("*/*.ipynb")):
        for cell in nbformat.read(notebook, 4).cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
                return re.search(r"### BEGIN SOLUTION\n(.*?)\n\s*### END SOLUTION", cell.source, re.S).group(1)
    raise LookupError(grade_id)


def test_reference_answers_cover_every_answer_cell():
    cells = [cell for notebook in sorted((ROOT / "solutions").glob("*/*.ipynb"))
             for cell in nbformat.read(notebook, 4).cells if cell.metadata.get("nbgrader", {}).get("solution")]
    answers = reference_answers(ROOT)
    assert len(cells) >= 8 and len(answers) == len(cells)
    assert all(code.strip() for _, code in answers)
    assert any("backward" in where and "grads" in code for where, code in answers)


def _fill_in_answers(dest: Path) -> str:
    """Put the reference answers into the edition's blank notebooks, as a release by mistake would."""
    solutions = sorted((ROOT / "solutions").glob("*/*.ipynb"))
    for source in solutions:
        blank = dest / "exercises" / source.relative_to(ROOT / "solutions")
        nb = nbformat.read(source, 4)
        for cell in nb.cells:
            cell.source = re.sub(r"^\s*### (BEGIN|END) SOLUTION\n", "", cell.source, flags=re.M)
        nbformat.write(nb, blank)
    return "exercises"


def _plant(dest: Path, relative: str, text: str, append: bool = False) -> str:
    path = dest / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a" if append else "w") as out:
        out.write(text)
    return relative


PLANTS = {
    "a file under solutions/": lambda c: _plant(c, "solutions/backprop/README.md", "answers\n"),
    "a tools/referee folder": lambda c: _plant(c, "tools/referee/hidden.py", "x = 1\n"),
    "a gradebook": lambda c: _plant(c, "gradebook.db", ""),
    "a solution marker": lambda c: _plant(c, "mlpkit/ops.py", "\n# ### BEGIN SOLUTION\n", append=True),
    "a hidden-test marker in a notebook": lambda c: _plant(
        c, "lectures/99_extra.ipynb", json.dumps({"cells": [{"cell_type": "code", "source": [
            "### BEGIN HIDDEN TESTS\n", "assert True\n"]}]})),
    "an import of the referee": lambda c: _plant(c, "README.md", "\n    from tools.referee import hidden\n",
                                                append=True),
    "the whole backward answer, re-indented": lambda c: _plant(
        c, "notes/backward.py", "def mine():\n" + textwrap.indent(_solution_block("backward"), "        ") + "\n"),
    "the graph_by_hand answer without its comments": lambda c: _plant(
        c, "notes.md", "\n".join(line.split("#")[0] for line in _solution_block("graph_by_hand").splitlines())),
    "one answer line in a test file": lambda c: _plant(c, "tests/test_extra.py",
                                                       'grads[f"W{l}"] = dL_dz @ a[l - 1].T\n'),
    "the answers filled into the exercises": _fill_in_answers,
    "a reworded correct answer in a test file": lambda c: _plant(
        c, "tests/test_more.py", "def relu_backward(dL_dz, x):\n    return dL_dz * np.heaviside(x, 0.5)\n"),
}


@pytest.mark.parametrize("plant", PLANTS.values(), ids=PLANTS.keys())
def test_leak_scan_reports_a_planted_leak(edition_copy, plant):
    planted = plant(edition_copy)
    problems = leaks(edition_copy, ROOT)
    assert problems, f"the leak scan missed {planted}"
    reported = {problem.split(":", 1)[0].rstrip("/") for problem in problems}
    assert all(path.startswith(planted) or planted.startswith(path + "/") for path in reported), problems


def test_leak_scan_leaves_mlpkit_and_the_lectures_alone(edition_copy):
    # mlpkit is the library the course teaches: a line of a reference answer there is there by design.
    _plant(edition_copy, "mlpkit/extra.py", 'grads[f"W{l}"] = dL_dz @ a[l - 1].T\n')
    assert leaks(edition_copy, ROOT) == []


# ---- DEST ---------------------------------------------------------------------------------------------------------

def test_refuses_a_folder_that_is_not_an_edition(tmp_path):
    dest = tmp_path / "foreign"
    dest.mkdir()
    (dest / "notes.txt").write_text("mine\n")
    result = run_publish(dest, "--github", GITHUB)
    assert result.returncode != 0
    assert "not empty" in result.stderr and "--force" in result.stderr
    assert files(dest) == {"notes.txt"}


def test_force_replaces_a_foreign_folder_but_keeps_git(tmp_path):
    dest = tmp_path / "foreign"
    (dest / ".git").mkdir(parents=True)
    (dest / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (dest / "old" / "deep").mkdir(parents=True)
    (dest / "old" / "deep" / "notes.txt").write_text("mine\n")
    result = run_publish(dest, "--github", GITHUB, "--force")
    assert result.returncode == 0, result.stderr
    assert not (dest / "old").exists()
    assert (dest / ".git" / "HEAD").read_text() == "ref: refs/heads/main\n"
    assert {p.name for p in dest.iterdir()} == TOP_LEVEL | {".git"}


def test_publishing_again_replaces_the_previous_edition_and_keeps_git(edition_copy):
    (edition_copy / ".git").mkdir()
    (edition_copy / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (edition_copy / "lectures" / "99_removed_since.ipynb").write_text("{}")
    result = run_publish(edition_copy)      # no --force: DEST is a previous edition; no --github: a warning
    assert result.returncode == 0, result.stderr
    assert not (edition_copy / "lectures" / "99_removed_since.ipynb").exists()
    assert (edition_copy / ".git" / "HEAD").read_text() == "ref: refs/heads/main\n"
    assert {p.name for p in edition_copy.iterdir()} == TOP_LEVEL | {".git"}
    assert "warning" in result.stdout and "OWNER/REPO" in result.stdout
    assert "https://mybinder.org/v2/gh/OWNER/REPO/HEAD?" in (edition_copy / "README.md").read_text()
    assert leaks(edition_copy, ROOT) == []


def test_refuses_a_dest_inside_the_repository():
    dest = ROOT / "student-edition-test-must-not-exist"
    try:
        result = run_publish(dest, "--force")
        assert result.returncode != 0
        assert "inside the instructor repository" in result.stderr
        assert not dest.exists()
    finally:
        shutil.rmtree(dest, ignore_errors=True)


def test_refuses_a_dest_that_contains_the_repository(tmp_path):
    course = tmp_path / "outer" / "course"
    course.mkdir(parents=True)
    (course / "keep.txt").write_text("instructor\n")
    with pytest.raises(SystemExit, match="contains the instructor repository"):
        publish(course, tmp_path / "outer", force=True, timeout=60)
    assert (course / "keep.txt").read_text() == "instructor\n"


def test_force_refuses_to_empty_the_home_folder(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.tex").write_text("years of work\n")
    monkeypatch.setattr(Path, "home", lambda: home)
    with pytest.raises(SystemExit, match="home folder"):
        publish(ROOT, home, force=True, timeout=60)
    assert files(home) == {"thesis.tex"}


@pytest.mark.parametrize("github", ["someone", "someone/", "https://github.com/someone/repo", "a/b/c", "some one/r",
                                    "-someone/repo", "someone/.."])
def test_refuses_a_github_value_that_is_not_owner_slash_name(github, tmp_path):
    with pytest.raises(SystemExit, match="OWNER/REPO"):
        publish(ROOT, tmp_path / "dest", github=github)
    assert not (tmp_path / "dest").exists()


def test_cli_refuses_a_bad_github_value(tmp_path):
    result = run_publish(tmp_path / "dest", "--github", "github.com/someone/backprop-course")
    assert result.returncode != 0 and "OWNER/REPO" in result.stderr
    assert not (tmp_path / "dest").exists()


# ---- the edition on its own ---------------------------------------------------------------------------------------

@pytest.mark.slow
def test_edition_tests_pass_with_the_editions_own_mlpkit(edition_copy):
    env = clean_env(PYTHONPATH=str(edition_copy), PYTHONDONTWRITEBYTECODE="1")
    where = subprocess.run([sys.executable, "-c", "import mlpkit; print(mlpkit.__file__)"], cwd=edition_copy, env=env,
                           capture_output=True, text=True, timeout=120)
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).resolve().is_relative_to(edition_copy.resolve()), where.stdout
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=edition_copy,
                            env=env, capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0 and " passed" in result.stdout, result.stdout[-5000:] + result.stderr[-2000:]


def test_repo2docker_accepts_the_edition_and_installs_binder_requirements_on_python_311(edition_copy, tmp_path):
    pytest.importorskip("repo2docker", reason="pip install -r requirements-dev.txt (jupyter-repo2docker)")
    dockerfile, log = repo2docker_dockerfile(edition_copy, cwd=tmp_path)
    assert f"Building conda environment for python={BINDER_PYTHON}" in log
    assert escapism(f"environment.py-{BINDER_PYTHON}-linux-64.lock") in dockerfile
    installs = re.findall(r"^RUN .*pip install .*$", dockerfile, re.M)
    assert installs == ['RUN ${KERNEL_PYTHON_PREFIX}/bin/pip install --no-cache-dir -r "binder/requirements.txt"'], \
        installs
    order = [dockerfile.index(s) for s in ("COPY --chown=0:0 src/ ${REPO_DIR}/", installs[0], "RUN ./binder/postBuild")]
    assert order == sorted(order)
