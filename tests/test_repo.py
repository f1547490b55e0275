"""The repository itself: the README's two commands, CI running the same test
command, the package layout, and lint."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    quick_start = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```(?:bash|sh)\n(.+?)\n```", quick_start)


def test_readme_quick_start_has_two_commands_one_course_one_tests():
    commands = readme_commands()
    assert len(commands) == 2 and all("\n" not in c for c in commands)
    course, tests = commands
    assert "pip install -r requirements.txt" in course and "jupyter lab" in course
    assert "pip install --python .venv/bin/python -r requirements-dev.txt" in tests and "pytest" in tests


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    test_command = re.search(r"^TEST_COMMAND='(.+)'$", ci, re.M).group(1)
    assert test_command == readme_commands()[1]


def test_design_card_layout_exists():
    for name in ["README.md", "requirements.txt", "lectures", "exercises", "solutions", "mlpkit", "tests", "binder"]:
        assert (ROOT / name).exists(), name


def test_requirements_install_every_student_dependency_and_mlpkit():
    lines = [line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    names = {re.split(r"[<>=!~ ]", line)[0].lower() for line in lines if line}
    assert {"-e", "jupyterlab", "numpy", "matplotlib", "ipywidgets", "nbval", "nbgrader"} <= names
    assert "-e ." in lines
    assert not any(line.startswith("torch") for line in lines)
    assert all(re.search(r"[<>=]", line) for line in lines if line and not line.startswith("-"))


def test_every_module_has_a_docstring():
    import mlpkit

    for path in (ROOT / "mlpkit").glob("*.py"):
        text = path.read_text().lstrip()
        assert text.startswith('"""'), f"{path.name} has no module docstring"
    assert mlpkit.__doc__


def test_ruff_lint_is_clean():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", str(ROOT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_readme_points_table_is_what_the_points_command_prints():
    from tools.course import Course
    from tools.release import points_table

    table = points_table(Course(ROOT))
    assert table in (ROOT / "README.md").read_text()


def test_release_writes_the_derived_tables_between_their_markers(tmp_path):
    from tools.course import Course
    from tools.release import points_table, table_markers, write_tables

    shutil.copy(ROOT / "nbgrader_config.py", tmp_path)
    shutil.copytree(ROOT / "solutions", tmp_path / "solutions")
    begin, end = table_markers("points")
    (tmp_path / "README.md").write_text(f"intro\n{begin}\n| a stale table |\n{end}\nthe rest\n")
    course = Course(tmp_path)
    assert write_tables(course) == [tmp_path / "README.md"]
    assert (tmp_path / "README.md").read_text() == f"intro\n{begin}\n{points_table(course)}\n{end}\nthe rest\n"
    assert write_tables(course) == []                   # nothing to change: nothing written
