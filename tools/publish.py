"""Write the student edition: the public repository students clone and Binder serves, without answers or grader.

    python -m tools.grading publish DEST [--github OWNER/REPO] [--force]

The edition holds what a student needs and nothing else: mlpkit, the lectures, the blank exercises (exercises/),
binder/, the requirements, mlpkit's own tests, a student README rendered from docs/student-readme.md and an
nbgrader_config.py for the Validate button. solutions/, tools/, the instructor docs and everything grading
produces stay here. After writing, `leaks` scans the edition for answers and grader code; publishing fails if it
finds any. Commit and push DEST yourself.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import nbformat
from nbgrader import utils

RELEASE = "exercises"                       # the blank notebooks, exercises/<assignment>/*.ipynb
SOURCE = "solutions"                        # the nbgrader source with the reference answers
README_TEMPLATE = "docs/student-readme.md"
MARKER = ".course-edition"                  # marks DEST as written by publish (so it may be replaced)
PLACEHOLDER_REPOSITORY = "OWNER/REPO"
GITHUB_REPOSITORY = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?/(?!\.\.?$)[A-Za-z0-9._-]{1,100}")

COPIED_FILES = ["requirements.txt", "pyproject.toml", "conftest.py"]
#: The tests students get: mlpkit's own, and what they need. Not test_lectures.py (it imports a maintainer tool;
#: nbval runs the lectures anyway, pyproject.toml's testpaths), and no test that holds correct answers to the
#: exercises, however reworded: test_feedback.py, test_exercises.py, test_referee.py, test_adversarial.py...
STUDENT_TESTS = ["tests/conftest.py", "tests/kernel_sandbox.py", "tests/strategies.py", "tests/test_graph.py",
                 "tests/test_ops.py", "tests/test_losses.py", "tests/test_mlp.py", "tests/test_training.py",
                 "tests/test_gradcheck.py", "tests/test_datasets.py", "tests/test_plots.py"]
OPTIONAL_TESTS = ["tests/__init__.py"]
DEV_REQUIREMENTS = {"pytest", "hypothesis"}  # of requirements-dev.txt; not ruff, repo2docker, playwright, psutil
JUNK = {"__pycache__", ".ipynb_checkpoints"}

GITIGNORE = """\
.venv/
__pycache__/
*.py[cod]
*.egg-info/
.ipynb_checkpoints/
.pytest_cache/
.hypothesis/
"""

STUDENT_CONFIG = '''\
"""Settings of nbgrader's Validate button (and of `nbgrader validate`), read when Jupyter is started from this
folder, as on Binder. Validate runs a notebook from the top and stops a cell that runs longer than the limit below,
the same limit as when the exercises are graded."""

c = get_config()  # noqa: F821 - provided by nbgrader when it reads this file
c.Execute.timeout = {timeout}  # seconds per cell
c.Execute.interrupt_on_timeout = True
'''

# What `leaks` looks for.
FORBIDDEN_PATHS = {SOURCE, "tools", "gradebook.db", "gradebook.db-journal", "grades.csv", "submitted", "autograded",
                   "feedback", "grading", "instructors.md"}     # a file or folder of one of these names, anywhere
FORBIDDEN_TEXT = ["### BEGIN SOLUTION", "### END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS",
                  "tools.referee", "tools.nbgrader_plugins", "tools.grading", "tools.course", "tools.release",
                  "tools.collect"]
BY_DESIGN = ("mlpkit", "coursekit", "lectures")  # published on purpose: the library, its course kit, the lectures
MIN_LINE = 25                               # shorter answer lines are too common to report on their own
SOLUTION_BLOCK = re.compile(r"^[ \t]*### BEGIN SOLUTION[^\n]*\n(.*?)^[ \t]*### END SOLUTION", re.S | re.M)


# ---- DEST ---------------------------------------------------------------------------------------------------------

def _check_location(root: Path, dest: Path) -> None:
    if dest.is_relative_to(root):
        raise SystemExit(f"{dest} is inside the instructor repository {root}: publishing there would put the edition "
                         f"into this repository. Choose a folder outside it, e.g. a clone of the student repository.")
    if root.is_relative_to(dest):
        raise SystemExit(f"{dest} contains the instructor repository {root}: choose a folder outside it, e.g. a "
                         f"clone of the student repository.")


def _prepare(root: Path, dest: Path, force: bool) -> str:
    """Check that DEST may be written and empty it (all but .git); return what was done, in words."""
    _check_location(root, dest)
    if not dest.exists():
        dest.mkdir(parents=True)
        return "created"
    if not dest.is_dir():
        raise SystemExit(f"{dest} is a file, not a folder: choose a folder (it is created if missing).")
    entries = [p for p in dest.iterdir() if p.name != ".git"]
    if not entries:
        return "filled the empty folder" if not (dest / ".git").exists() else "filled the folder (it held only .git)"
    previous = (dest / MARKER).is_file()
    if not previous and not force:
        raise SystemExit(f"{dest} is not empty and is not a student edition (it has no {MARKER} file): choose an empty "
                         f"or new folder, or pass --force to replace its contents (everything but .git).")
    if not previous and (dest == Path.home().resolve() or len(dest.parts) <= 2):
        raise SystemExit(f"{dest} is your home folder or a top-level folder: --force would delete everything in it. "
                         f"Choose a folder of its own, e.g. a clone of the student repository.")
    for entry in entries:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    kept = ", kept .git" if (dest / ".git").exists() else ""
    return f"replaced the previous edition{kept}" if previous else f"replaced its contents (--force){kept}"


# ---- writing the edition ------------------------------------------------------------------------------------------

def _copy(root: Path, dest: Path, relative: str) -> None:
    target = dest / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(root / relative, target)


def _files(folder: Path, pattern: str) -> list[Path]:
    return sorted(p for p in folder.rglob(pattern) if p.is_file() and not JUNK & set(p.relative_to(folder).parts))


def release_notebooks(root: Path) -> dict[str, list[Path]]:
    """The blank notebooks of every assignment: {assignment: [exercises/<assignment>/*.ipynb]}."""
    release = root / RELEASE
    found = {folder.name: sorted(folder.glob("*.ipynb")) for folder in sorted(release.glob("*")) if folder.is_dir()}
    found = {name: notebooks for name, notebooks in found.items() if notebooks}
    if not found:
        raise SystemExit(f"{release} has no assignment notebooks: run `python -m tools.grading release` first.")
    return found


def _title(notebook: Path) -> str:
    """The notebook's first heading, without the '#'."""
    for cell in json.loads(notebook.read_text())["cells"]:
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return notebook.stem


def _link(path: str, title: str) -> str:
    return f"- [`{path}`]({path}): {title}"


def render_readme(root: Path, github: str | None, timeout: int) -> str:
    """The student README: docs/student-readme.md with its {{placeholders}} filled (and its leading comment out)."""
    template = (root / README_TEMPLATE).read_text()
    if template.startswith("<!--"):
        template = template.split("-->", 1)[1].lstrip("\n")
    lectures = sorted((root / "lectures").glob("*.ipynb"))
    assignments = release_notebooks(root)
    exercises = [_link(nb.relative_to(root).as_posix(), _title(nb)) for nbs in assignments.values() for nb in nbs]
    hand_in = [f"- `{nb.name}` (in `{nb.parent.relative_to(root).as_posix()}/`)" for nbs in assignments.values()
               for nb in nbs]
    values = {"repository": github or PLACEHOLDER_REPOSITORY,
              "lectures": "\n".join(_link(nb.relative_to(root).as_posix(), _title(nb)) for nb in lectures),
              "exercises": "\n".join(exercises), "hand_in": "\n".join(hand_in), "timeout": str(timeout)}
    used = set(re.findall(r"\{\{(\w+)\}\}", template))
    if used - values.keys():
        raise SystemExit(f"{README_TEMPLATE} uses unknown placeholders {sorted(used - values.keys())}; "
                         f"known: {sorted(values)}")
    return re.sub(r"\{\{(\w+)\}\}", lambda m: values[m.group(1)], template)


def _dev_requirements(root: Path) -> str:
    lines = ["# What mlpkit's tests need on top of the course:  pip install -r requirements-dev.txt",
             "-r requirements.txt"]
    found = set()
    for line in (root / "requirements-dev.txt").read_text().splitlines():
        name = re.split(r"[\s<>=!~;\[]", line.strip(), maxsplit=1)[0].lower()
        if name in DEV_REQUIREMENTS:
            lines.append(line.strip())
            found.add(name)
    if found != DEV_REQUIREMENTS:
        raise SystemExit(f"requirements-dev.txt has no line for {sorted(DEV_REQUIREMENTS - found)}: the student "
                         f"edition's tests need it.")
    return "\n".join(lines) + "\n"


def _git(root: Path, *args: str) -> str | None:
    try:
        result = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def _marker(root: Path, warnings: list[str]) -> str:
    commit = _git(root, "rev-parse", "HEAD")
    if commit is None:
        source = "an instructor repository that is not a git checkout"
        warnings.append(f"{root} is not a git checkout: {MARKER} cannot name the commit this edition comes from")
    else:
        source = f"instructor commit {commit}"
        if _git(root, "status", "--porcelain"):
            source += " plus uncommitted changes"
            warnings.append("the instructor repository has uncommitted changes: the edition includes them, and "
                            f"{MARKER} names commit {commit[:12]} plus changes")
    date = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (f"Student edition of the course, written by its publish command from {source} on {date}.\n"
            f"Do not edit here: change the instructor repository and publish again (this folder is replaced).\n")


def _config_timeout(root: Path) -> int:
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    if "timeout" not in config.Execute:
        raise SystemExit(f"{root / 'nbgrader_config.py'} sets no c.Execute.timeout: set it (seconds per cell); "
                         f"the student edition's Validate button uses the same limit.")
    return config.Execute.timeout


def publish(root: Path, dest: Path, github: str | None = None, force: bool = False,
            timeout: int | None = None) -> list[str]:
    """Write the student edition of the course at `root` into `dest`; return warnings for the user.

    `github` ("owner/name", the student repository) goes into the README's Binder badge; `timeout` (seconds per
    cell, default: Execute.timeout of root/nbgrader_config.py) into the edition's nbgrader_config.py. `dest` must
    be new, empty (a .git is fine), or a previous edition; `force` also replaces anything else (all but .git).
    Raises SystemExit with what to do when that does not hold, or when the edition leaks (see `leaks`)."""
    root, dest = Path(root).resolve(), Path(dest).expanduser().resolve()
    if github is not None and not GITHUB_REPOSITORY.fullmatch(github):
        raise SystemExit(f"--github must be the student repository as OWNER/REPO, e.g. someone/backprop-course "
                         f"(got {github!r}).")
    _check_location(root, dest)
    warnings: list[str] = []
    if github is None:
        warnings.append(f"no --github OWNER/REPO given: the README's Binder badge points at the placeholder "
                        f"{PLACEHOLDER_REPOSITORY}; publish again with --github, or fix the badge in README.md")
    if not reference_answers(root):
        warnings.append(f"no reference answers in {root / SOURCE}: the leak scan cannot look for them in the edition")
    timeout = _config_timeout(root) if timeout is None else timeout
    assignments = release_notebooks(root)           # fails before DEST is touched when there is nothing to publish
    readme = render_readme(root, github, timeout)
    missing = [name for name in COPIED_FILES + STUDENT_TESTS if not (root / name).is_file()]
    if missing:
        raise SystemExit(f"the student edition needs {', '.join(missing)}, missing in {root}.")
    action = _prepare(root, dest, force)

    for name in COPIED_FILES + STUDENT_TESTS + [t for t in OPTIONAL_TESTS if (root / t).is_file()]:
        _copy(root, dest, name)
    for folder, pattern in [("mlpkit", "*.py"), ("mlpkit/data", "*"), ("coursekit", "*.py"), ("lectures", "*.ipynb"),
                            ("binder", "*")]:
        for path in _files(root / folder, pattern):
            _copy(root, dest, path.relative_to(root).as_posix())
    for notebooks in assignments.values():
        for notebook in notebooks:
            _copy(root, dest, notebook.relative_to(root).as_posix())
    (dest / "README.md").write_text(readme)
    (dest / "requirements-dev.txt").write_text(_dev_requirements(root))
    (dest / "nbgrader_config.py").write_text(STUDENT_CONFIG.format(timeout=timeout))
    (dest / ".gitignore").write_text(GITIGNORE)
    (dest / MARKER).write_text(_marker(root, warnings))

    problems = leaks(dest, root)
    if problems:
        raise SystemExit(f"the edition written to {dest} leaks answers or grader code: do not push it (it is left "
                         f"there to inspect). Fix each in the instructor repository and publish again:\n  "
                         + "\n  ".join(problems))
    lectures = len(list((dest / "lectures").glob("*.ipynb")))
    notebooks = sum(len(nbs) for nbs in assignments.values())
    print(f"student edition in {dest} ({action}):\n"
          f"  {lectures} lectures, {notebooks} exercise notebooks ({', '.join(assignments)}), mlpkit/, binder/, "
          f"{len(STUDENT_TESTS)} test files\n"
          f"  README.md (Binder badge: {github or PLACEHOLDER_REPOSITORY}), nbgrader_config.py ({timeout} s per cell), "
          f"requirements.txt, requirements-dev.txt, pyproject.toml, .gitignore, {MARKER}\n"
          f"  leak scan: nothing found. Commit and push from {dest}.")
    return warnings


def main(course, dest: Path, github: str | None = None, force: bool = False) -> int:
    """`python -m tools.grading publish`: publish `course` (a tools.course.Course) into `dest`; print warnings."""
    if course.release_dir != course.root / RELEASE or course.source != course.root / SOURCE:
        raise SystemExit(f"publish expects the nbgrader source in {SOURCE}/ and the release in {RELEASE}/ (the "
                         f"edition's README and lectures link there); nbgrader_config.py says "
                         f"{course.source} and {course.release_dir}.")
    for warning in publish(course.root, dest, github=github, force=force, timeout=course.config.Execute.timeout):
        print(f"warning: {warning}")
    return 0


# ---- the leak scan ------------------------------------------------------------------------------------------------

def _code_part(line: str) -> str:
    """`line` without a trailing comment (a '#' inside quotes stays; good enough for the reference answers)."""
    quote = None
    for i, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#":
            return line[:i]
    return line


def normalise(text: str, comments: bool = True) -> str:
    """Each line stripped, empty lines dropped, joined with newlines; `comments=False` also drops comments."""
    lines = (line if comments else _code_part(line) for line in text.splitlines())
    return "\n".join(s for s in (line.strip() for line in lines) if s)


def _text(path: Path) -> str | None:
    """A file's text for the scan (a notebook: its JSON and, unescaped, its cells and outputs); None if binary."""
    data = path.read_bytes()
    if b"\0" in data[:8192]:
        return None
    text = data.decode("utf-8", errors="replace")
    if path.suffix == ".ipynb":
        try:
            cells = json.loads(text).get("cells", [])
        except (ValueError, AttributeError):
            return text
        parts = [text]
        for cell in cells:
            parts.append("".join(cell.get("source", "")))
            for output in cell.get("outputs", []):
                parts.append("".join(output.get("text", "")))
                parts += ["".join(v) for v in output.get("data", {}).values() if isinstance(v, (str, list))]
        text = "\n".join(parts)
    return text


def _sources(notebook: Path) -> str:
    return "\n".join("".join(c.get("source", "")) for c in json.loads(notebook.read_text()).get("cells", []))


def reference_answers(root: Path) -> list[tuple[str, str]]:
    """(where, code) of every reference answer: the code between the markers of each answer cell (nbgrader
    metadata `solution: true`) of root/solutions/<assignment>/*.ipynb; `where` is "notebook: grade_id"."""
    answers = []
    for notebook in sorted((root / SOURCE).glob("*/*.ipynb")):
        for cell in nbformat.read(notebook, as_version=4).cells:
            if utils.is_solution(cell):
                for block in SOLUTION_BLOCK.findall(cell.source):
                    where = f"{notebook.relative_to(root).as_posix()}: {cell.metadata.nbgrader.get('grade_id', '?')}"
                    answers.append((where, block))
    return answers


def graded_functions(root: Path) -> set[str]:
    """The names of the functions the answer cells of root/solutions define (relu_backward, train_sgd, ...)."""
    names = set()
    for notebook in sorted((root / SOURCE).glob("*/*.ipynb")):
        for cell in nbformat.read(notebook, as_version=4).cells:
            if utils.is_solution(cell):
                names |= set(re.findall(r"^def (\w+)\(", cell.source, re.M))
    return names


def leaks(dest: Path, root: Path) -> list[str]:
    """What in the written edition `dest` gives away answers or grader code of the course at `root` ([] if nothing).

    - a file or folder named solutions, tools, gradebook.db, grades.csv, submitted, autograded, feedback, grading
      or instructors.md, anywhere (reported once, not for each file inside);
    - in any text file: the nbgrader solution or hidden-test markers, or tools.referee / tools.nbgrader_plugins /
      tools.grading;
    - a whole reference answer (`reference_answers`), compared line by line with whitespace normalised, with and
      without its comments, in any file;
    - one line of a reference answer, with or without its trailing comment, if it is longer than MIN_LINE (25)
      characters, is not a comment, is not in the blank release notebooks (given code such as
      `rng = np.random.default_rng(seed)` and `model.params[key] -= lr * grads[key]`), and is not in the edition's
      mlpkit/, coursekit/ or lectures/, in any other file.

    The last exception is by design and a known limit: mlpkit is the library the course teaches (its practised
    functions exist there and are removed only while grading) and the lectures derive the same formulas, so lines
    found there reveal nothing the edition does not publish on purpose, and are not reported anywhere. Measured
    when this was written, that excludes six lines: `X, z1, a1, z2, a2, z3 = buffer` (lectures/05, in backward);
    in train_sgd, `order = rng.permutation(N)  # a new shuffle every epoch` and
    `for start in range(0, N, batch_size):` (mlpkit/training.py), `y_hat, buffer = model.forward(X_batch)`
    (lectures/00 and 01), `for epoch in range(epochs):` and `loss_sum += L * len(batch)`
    (coursekit/checks/training.py).
    Short lines (e.g. graph_by_hand's `dL_dx = 3.0`) are only found as part of their whole answer.
    - a definition of a graded function (`def relu_backward(`...) outside mlpkit/, lectures/ and the blank
      exercises: a test that checks the checks holds correct answers, however reworded (tests/test_feedback.py,
      which is therefore not published).
    """
    dest, root = Path(dest), Path(root)
    problems: list[str] = []
    texts: dict[str, str] = {}
    for path in sorted(dest.rglob("*")):
        relative = path.relative_to(dest)
        if ".git" in relative.parts:
            continue
        name = relative.as_posix()
        forbidden = [i for i, part in enumerate(relative.parts) if part in FORBIDDEN_PATHS]
        if forbidden and forbidden[0] == len(relative.parts) - 1:          # reported once, where it starts
            problems.append(f"{name}{'/' if path.is_dir() else ''}: instructor-only path")
        if path.is_file() and not path.is_symlink():
            text = _text(path)
            if text is not None:
                texts[name] = text
    for name, text in texts.items():
        for marker in FORBIDDEN_TEXT:
            if marker in text:
                problems.append(f"{name}: contains {marker!r}")

    normalised = {name: (normalise(text), normalise(text, comments=False)) for name, text in texts.items()}
    by_design = [forms for name, forms in normalised.items() if name.split("/", 1)[0] in BY_DESIGN]
    release = [normalise(_sources(nb), comments) for nb in sorted((root / RELEASE).glob("*/*.ipynb"))
               for comments in (True, False)]
    graded = graded_functions(root)
    for name, text in texts.items():
        if name.split("/", 1)[0] not in (*BY_DESIGN, RELEASE):
            for function in sorted(graded):
                if re.search(rf"^\s*def {function}\(", text, re.M):
                    problems.append(f"{name}: defines {function}, a graded function: a correct version, however "
                                    "written, is an answer")
    for where, block in reference_answers(root):
        blocks = {b for b in (normalise(block), normalise(block, comments=False)) if b}
        for name, forms in normalised.items():
            if any(f"\n{b}\n" in f"\n{form}\n" for b in blocks for form in forms):
                problems.append(f"{name}: contains the whole reference answer {where}")
        for line in block.splitlines():
            stripped = line.strip()
            if stripped.startswith("#"):
                continue
            variants = {v for v in (stripped, _code_part(stripped).strip()) if len(v) > MIN_LINE}
            variants = {v for v in variants if not any(v in text for text in release)
                        and not any(v in form for forms in by_design for form in forms)}
            for name, forms in normalised.items():
                if name.split("/", 1)[0] not in BY_DESIGN and any(v in form for v in variants for form in forms):
                    problems.append(f"{name}: contains a line of the reference answer {where}: {stripped!r}")
    return list(dict.fromkeys(problems))
