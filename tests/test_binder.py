"""What Binder builds and what a student then sees, on Binder and with the README's local launch.

- The files in binder/ (Python 3.11; requirements.txt, the lock: every package pinned exactly and within the
  ranges of the top-level requirements.txt; a postBuild that applies binder/student_setup.py, which switches
  nbgrader's instructor tools and JupyterLab's news question off) and the README's Binder badge and launch command.
- What repo2docker would build from them (`repo2docker --no-build --debug` prints the Dockerfile; no Docker).
- A rehearsal in a real browser: a virtual environment built as Binder builds it (the Jupyter versions of
  repo2docker's base environment, then binder/'s files: the locked versions), JupyterLab started from it on a
  freshly published student edition (what Binder serves: no answers, no grader),
  headless Chromium (Playwright) opens the index, every lecture and an exercise, runs every cell and checks what
  a student sees; the server and its kernels must stay under Binder's 2 GB. Then the local launch in the same
  venv: JupyterLab at the repository root, the exercises reachable from the file browser, no Nbgrader menu, no news
  toast. Screenshots, logs and a summary go to
  test-artifacts/browser/. It needs /usr/bin/chromium (apt-get install chromium) and takes a few minutes; without
  Chromium it is skipped, except in CI (CI=true), where it fails.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

try:
    import tomllib
except ImportError:                       # Python 3.10: pytest's own dependency
    import tomli as tomllib

from tests.browser.binder_env import (
    BINDER_PYTHON,
    build_binder_env,
    clean_env,
    escapism,
    find_python,
    repo2docker_base_pins,
    repo2docker_dockerfile,
)

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
LOCK = BINDER / "requirements.txt"
# How the lock is made (from the repository root; docs/binder.md, "Refreshing the lock")
REFRESH = f"uv pip compile requirements.txt --python-version {BINDER_PYTHON} --python-platform linux " \
          "-o binder/requirements.txt"
# Binder's platform, for the markers of requirements (python_version, sys_platform, ...)
BINDER_MARKERS = {"python_version": BINDER_PYTHON, "python_full_version": f"{BINDER_PYTHON}.0", "sys_platform": "linux",
                  "platform_system": "Linux", "os_name": "posix", "platform_machine": "x86_64",
                  "implementation_name": "cpython", "platform_python_implementation": "CPython"}
LECTURES = [p.relative_to(ROOT).as_posix() for p in sorted((ROOT / "lectures").glob("*.ipynb"))]
EXERCISES = ["exercises/backprop/0_graphs_and_autodiff.ipynb", "exercises/backprop/1_layers_and_jacobian.ipynb"]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
MEMORY_LIMIT = 2_000_000_000          # mybinder.org gives a session about 2 GB
IN_CI = os.environ.get("CI", "").lower() not in ("", "0", "false", "no")
# What postBuild switches off: nbgrader's instructor tools (and the menu that opens them); Validate stays.
INSTRUCTOR_PLUGINS = {"@jupyter/nbgrader:create-assignment", "@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:menu"}
STUDENT_PLUGIN = "@jupyter/nbgrader:validate-assignment"
FORMGRADER = "nbgrader.server_extensions.formgrader"


# Run by the Binder environment's Python: its version, where mlpkit comes from, the versions students get.
PROBE = """import json, sys, importlib, importlib.metadata as md
print(json.dumps({"python": list(sys.version_info[:2]),
                  "packages": {p: importlib.import_module(p).__file__ for p in sys.argv[1:]},
                  "direct_url": md.distribution("mlpkit").read_text("direct_url.json"),
                  "installed": {d.metadata["Name"]: d.version for d in md.distributions()},
                  "versions": {n: md.version(n) for n in ["jupyterlab", "notebook", "nbgrader", "ipywidgets",
                                                          "ipykernel", "numpy", "matplotlib", "tqdm"]}}))"""
# The packages of the mlpkit distribution (pyproject.toml), installed editable from the repository.
PACKAGES = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]


# The README's command for students (Quick start): from a fresh clone, a venv made from requirements.txt, the
# student set-up (what Binder's postBuild applies), then JupyterLab at the repository root on the index.
LOCAL_LAUNCH = ("python3.11 -m venv .venv && .venv/bin/pip install -r requirements.txt && "
                ".venv/bin/python binder/student_setup.py && "
                ".venv/bin/jupyter lab --ServerApp.root_dir=. lectures/00_index.ipynb")


def requirement_lines(path: Path) -> list[str]:
    return [line.split("#")[0].strip() for line in path.read_text().splitlines() if line.split("#")[0].strip()]


# ---- the binder/ files -------------------------------------------------------------------------------------------

def test_binder_asks_for_python_311():
    assert (BINDER / "runtime.txt").read_text().strip() == f"python-{BINDER_PYTHON}"


# ---- the lock: binder/requirements.txt --------------------------------------------------------------------------

def locked_pins() -> dict[str, Version]:
    """{name: version} of binder/requirements.txt; fails on any line that is not an exact pin or the "-e ."."""
    pins: dict[str, Version] = {}
    for line in requirement_lines(LOCK):
        if line == "-e .":
            continue
        requirement = Requirement(line)
        (spec, *more) = list(requirement.specifier) or [None]
        assert spec is not None and not more and spec.operator == "==" and "*" not in spec.version \
            and requirement.url is None and not requirement.marker, (
            f"binder/requirements.txt: {line!r} is not an exact pin (name==version): regenerate the lock ({REFRESH})")
        name = canonicalize_name(requirement.name)
        assert name not in pins, f"binder/requirements.txt pins {name} twice: regenerate the lock ({REFRESH})"
        pins[name] = Version(spec.version)
    return pins


def wanted_ranges() -> list[Requirement]:
    """What the lock must satisfy: the requirements of requirements.txt and of mlpkit itself (its "-e .":
    pyproject.toml's dependencies), for Binder's Python 3.11 on Linux."""
    lines = requirement_lines(ROOT / "requirements.txt")
    nested = [line for line in lines if line.startswith("-") and line != "-e ."]
    assert not nested, f"requirements.txt has {nested}: the lock test reads only plain requirements and '-e .'"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [Requirement(line) for line in lines if line != "-e ."] + [Requirement(d) for d in project["dependencies"]]
    return [r for r in wanted if r.marker is None or r.marker.evaluate(BINDER_MARKERS)]


def test_binder_requirements_pin_every_package_exactly():
    assert "-e ." in requirement_lines(ROOT / "requirements.txt")
    assert requirement_lines(LOCK)[0] == "-e .", "the lock keeps requirements.txt's '-e .' (mlpkit from the repository)"
    pins = locked_pins()
    # transitive packages too: what JupyterLab and nbgrader need, not only what requirements.txt names
    assert {"jupyter-server", "tornado", "traitlets", "pyzmq", "sqlalchemy", "nbformat"} <= set(pins), sorted(pins)
    # the student environment stays light: no scikit-learn (nor SciPy), no PyTorch
    assert not {"scikit-learn", "scipy", "torch"} & set(pins)
    assert not {"environment.yml", "Pipfile", "setup.py", "install.R"} & {p.name for p in BINDER.iterdir()}


def test_binder_lock_satisfies_the_ranges_of_requirements_txt():
    pins, problems = locked_pins(), []
    for requirement in wanted_ranges():
        name = canonicalize_name(requirement.name)
        if name not in pins:
            problems.append(f"{requirement} is not in the lock")
        elif not requirement.specifier.contains(pins[name], prereleases=True):
            problems.append(f"the lock pins {name}=={pins[name]}, outside {requirement}")
    assert not problems, "binder/requirements.txt no longer fits requirements.txt: " + "; ".join(problems) + \
        f". Regenerate it: {REFRESH} (docs/binder.md, 'Refreshing the lock')"


def test_binder_lock_says_how_it_was_made():
    header = LOCK.read_text().split("\n-e .", 1)[0]
    command = re.search(r"^#\s+(uv pip compile .*)$", header, re.M)
    assert command, f"binder/requirements.txt must start with the command that made it: {REFRESH}"
    words = command.group(1).split()
    assert words[3] == "requirements.txt" and f"--python-version {BINDER_PYTHON}" in command.group(1)
    assert "--python-platform linux" in command.group(1) and words[-2:] == ["-o", "binder/requirements.txt"], words


def test_binder_replaces_the_base_images_front_end_with_the_versions_we_test():
    # repo2docker's base environment already has a JupyterLab; pip keeps it if requirements.txt allows it, and
    # Binder students would then run an older front end than a fresh install (and the browser test) does.
    from packaging.requirements import Requirement

    wanted = {Requirement(line).name: Requirement(line).specifier
              for line in requirement_lines(ROOT / "requirements.txt") if not line.startswith("-")}
    base = dict(pin.split("==") for pin in repo2docker_base_pins())
    for name in ("jupyterlab", "notebook", "ipywidgets", "ipykernel"):
        assert name in base, f"{name} is no longer in repo2docker's base environment: {sorted(base)}"
        assert base[name] not in wanted[name], (
            f"Binder would keep the base image's {name} {base[name]}: raise the lower bound in requirements.txt "
            f"above it (now {wanted[name]})")


def student_setup():
    """binder/student_setup.py as a module (binder/ is not a package)."""
    spec = importlib.util.spec_from_file_location("student_setup", BINDER / "student_setup.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_postbuild_applies_the_student_setup_that_switches_off_the_instructor_tools_and_keeps_validate():
    text = (BINDER / "postBuild").read_text()
    assert text.startswith("#!/bin/bash")
    script = [line for line in text.splitlines()[1:] if line.strip() and not line.lstrip().startswith("#")]
    # python is the environment's (repo2docker puts ${NB_PYTHON_PREFIX}/bin first on PATH)
    assert script == ["set -euo pipefail", "python binder/student_setup.py"], script
    assert os.access(BINDER / "postBuild", os.X_OK)
    subprocess.run(["bash", "-n", str(BINDER / "postBuild")], check=True)
    setup = student_setup()
    assert set(setup.INSTRUCTOR_PLUGINS) == INSTRUCTOR_PLUGINS and setup.FORMGRADER == FORMGRADER
    code = (BINDER / "student_setup.py").read_text()
    assert STUDENT_PLUGIN not in code and "validate_assignment\"" not in code
    assert re.search(r'jupyter\("labextension", "disable", "--level=sys_prefix", \*INSTRUCTOR_PLUGINS\)', code)
    assert re.search(r'jupyter\("labextension", "lock", "--level=sys_prefix", \*INSTRUCTOR_PLUGINS\)', code)
    assert re.search(r'jupyter\("server", "extension", "disable", "--sys-prefix", FORMGRADER\)', code)


def test_student_setup_turns_off_the_news_question_for_the_environment(tmp_path):
    written = student_setup().switch_off_news(tmp_path)
    assert written == tmp_path / "share" / "jupyter" / "lab" / "settings" / "overrides.d" / "course-student.json"
    assert json.loads(written.read_text()) == {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false"}}
    schema = Path(sys.prefix) / "share/jupyter/lab/schemas/@jupyterlab/apputils-extension/notification.json"
    if schema.exists():          # the value is one JupyterLab's schema allows ("Never")
        options = json.loads(schema.read_text())["properties"]["fetchNews"]["oneOf"]
        assert {"const": "false", "title": "Never"} in options


def test_student_setup_leaves_the_instructor_environment_alone(monkeypatch, capsys):
    # This environment (requirements-dev.txt) has repo2docker: the instructor set-up keeps nbgrader's tools.
    pytest.importorskip("repo2docker", reason="pip install -r requirements-dev.txt (jupyter-repo2docker)")
    setup, changed = student_setup(), []
    monkeypatch.setattr(setup, "switch_off_instructor_tools", lambda: changed.append("tools"))
    monkeypatch.setattr(setup, "switch_off_news", lambda prefix: changed.append("news"))
    setup.main()                                  # no error: the README's launch command goes on to `jupyter lab`
    assert changed == []
    assert "requirements-dev.txt" in capsys.readouterr().out


def test_postbuild_names_plugins_the_installed_nbgrader_has():
    # The plugin ids are compiled into nbgrader's prebuilt JupyterLab extension; a renamed plugin would make
    # `jupyter labextension disable` silently do nothing.
    package = Path(sys.prefix) / "share" / "jupyter" / "labextensions" / "@jupyter" / "nbgrader"
    if not package.exists():
        pytest.skip("nbgrader's JupyterLab extension is not installed in this environment")
    code = "".join(p.read_text(errors="replace") for p in (package / "static").glob("*.js"))
    plugins = set(re.findall(r'"(@jupyter/nbgrader:[\w-]+)"', code))
    assert INSTRUCTOR_PLUGINS | {STUDENT_PLUGIN} <= plugins, plugins


def test_readme_badge_opens_the_course_index_in_jupyterlab_on_binder():
    readme = (ROOT / "README.md").read_text()
    badge = re.search(r"\[!\[[^\]]*\]\((https://mybinder\.org/badge_logo\.svg)\)\]\(([^)]+)\)", readme)
    assert badge, "README has no Binder badge"
    url = badge.group(2)
    assert re.fullmatch(r"https://mybinder\.org/v2/gh/[\w.-]+/[\w.-]+/HEAD\?urlpath=lab/tree/lectures/00_index\.ipynb",
                        url), url
    assert (ROOT / "lectures" / "00_index.ipynb").exists()


def test_readme_launch_command_is_the_local_launch_the_rehearsal_runs():
    quick_start = (ROOT / "README.md").read_text().split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```(?:bash|sh)\n(.+?)\n```", quick_start)
    assert commands and commands[0] == LOCAL_LAUNCH, f"README: {commands[:1]}; the rehearsal runs {LOCAL_LAUNCH}"
    index = LOCAL_LAUNCH.rsplit(" ", 1)[1]
    assert (ROOT / index).exists() and (ROOT / "binder" / "student_setup.py").exists()


def test_ci_installs_chromium_and_never_skips_the_rehearsal():
    ci = (ROOT / ".ci" / "run").read_text()
    install = ci.index("apt-get install -y chromium chromium-driver")
    assert ci.index("apt-get update") < install < ci.index('bash -c "${TEST_COMMAND')
    assert 'export CI="${CI:-true}"' in ci


# ---- what repo2docker would build --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def clean_copy(tmp_path_factory) -> Path:
    """What Binder serves: a freshly published student edition (python -m tools.grading publish)."""
    from tools.publish import publish

    dest = tmp_path_factory.mktemp("binder") / "edition"
    publish(ROOT, dest, github="someone/backprop-course")
    return dest


def test_repo2docker_builds_python_311_from_the_binder_files(clean_copy, tmp_path):
    pytest.importorskip("repo2docker", reason="pip install -r requirements-dev.txt (jupyter-repo2docker)")
    dockerfile, log = repo2docker_dockerfile(clean_copy, cwd=tmp_path)
    # Python 3.11, from binder/runtime.txt
    assert f"Building conda environment for python={BINDER_PYTHON}" in log
    assert escapism(f"environment.py-{BINDER_PYTHON}-linux-64.lock") in dockerfile
    # binder/requirements.txt is what pip installs, after the whole repository is in place and from its root
    # (WORKDIR ${REPO_DIR}), so the lock's "-e ." finds the repository; the top-level
    # requirements.txt is not installed on its own.
    installs = re.findall(r"^RUN .*pip install .*$", dockerfile, re.M)
    assert installs == ['RUN ${KERNEL_PYTHON_PREFIX}/bin/pip install --no-cache-dir -r "binder/requirements.txt"'], \
        installs
    order = [dockerfile.index(s) for s in ("WORKDIR ${REPO_DIR}", "COPY --chown=0:0 src/ ${REPO_DIR}/", installs[0],
                                           "RUN ./binder/postBuild")]
    assert order == sorted(order), "expected: WORKDIR repo, copy the repository, pip install, postBuild"
    assert "setup.py" not in dockerfile and "environment.yml" not in dockerfile


# ---- the rehearsal in a browser ----------------------------------------------------------------------------------

def _require_browser() -> None:
    """Skip without Chromium or Playwright, except in CI, where the rehearsal must run."""
    from tests.browser.lab import chromium_path

    missing = []
    if chromium_path() is None:
        missing.append("Chromium (apt-get install chromium chromium-driver)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package (pip install -r requirements-dev.txt)")
    if missing:
        message = "the Binder rehearsal needs " + " and ".join(missing)
        if IN_CI:
            pytest.fail(message + "; CI must install it (.ci/run)")
        pytest.skip(message)


@pytest.fixture(scope="module")
def binder_env():
    """A fresh student edition (what Binder serves) and a venv built from its binder/ files as Binder does
    (deleted afterwards)."""
    from tools.publish import publish

    _require_browser()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="binder-rehearsal-"))
    try:
        repo = work / "repo"
        publish(ROOT, repo, github="someone/backprop-course")
        assert not (repo / "solutions").exists() and not (repo / "tools").exists()
        for exercise in EXERCISES:
            assert (repo / exercise).exists(), f"{exercise} is missing: generate the student version (nbgrader)"
        venv = work / "venv"
        python = find_python()
        # As on Binder, the Jupyter versions of repo2docker's base environment are installed first and pip keeps
        # those that requirements.txt allows. BINDER_REHEARSAL_BASE=0: a fresh venv (the newest versions) instead.
        base = [] if os.environ.get("BINDER_REHEARSAL_BASE", "1") == "0" else repo2docker_base_pins()
        start = time.perf_counter()
        steps = build_binder_env(repo, venv, ARTIFACTS / "binder-build.log", python, preinstall=base)
        build_s = time.perf_counter() - start
        probe = subprocess.run([str(venv / "bin" / "python"), "-c", PROBE, *PACKAGES], capture_output=True, text=True,
                               env=clean_env(venv), cwd="/", timeout=120)
        assert probe.returncode == 0, probe.stderr
        yield {"repo": repo, "venv": venv, "python": python, "build_s": build_s, "build_steps_s": steps,
               "base_pins": base, "info": json.loads(probe.stdout)}
    finally:
        shutil.rmtree(work, ignore_errors=True)


@pytest.mark.slow
def test_binder_environment_has_mlpkit_from_the_repository_and_no_instructor_tools(binder_env):
    repo, venv, info = binder_env["repo"], binder_env["venv"], binder_env["info"]
    if binder_env["python"] != sys.executable or sys.version_info[:2] == (3, 11):   # not CI's fallback
        assert info["python"] == [3, 11]
    # "-e ." resolved against the repository root: an editable mlpkit (and coursekit) living in the repository
    assert "mlpkit" in PACKAGES
    for package in PACKAGES:
        assert Path(info["packages"][package]).resolve() == (repo / package / "__init__.py").resolve()
    assert json.loads(info["direct_url"]).get("dir_info", {}).get("editable") is True
    # the locked versions, every one of them (the base environment's extras, e.g. jupyter-resource-usage, stay)
    installed = {canonicalize_name(name): Version(version) for name, version in info["installed"].items()}
    wrong = {name: str(installed.get(name)) for name, pin in locked_pins().items() if installed.get(name) != pin}
    assert not wrong, f"the Binder environment does not have the locked versions (installed: {wrong})"
    news = json.loads((venv / student_setup().NEWS_OVERRIDES).read_text())
    assert news["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"
    page_config = json.loads((venv / "etc" / "jupyter" / "labconfig" / "page_config.json").read_text())
    assert {k for k, v in page_config["disabledExtensions"].items() if v} == INSTRUCTOR_PLUGINS
    assert {k for k, v in page_config.get("lockedExtensions", {}).items() if v} == INSTRUCTOR_PLUGINS
    listing = subprocess.run([str(venv / "bin" / "jupyter"), "server", "extension", "list"], capture_output=True,
                             text=True, env=clean_env(venv, HOME=str(repo)), cwd=repo, timeout=120)
    states = dict(re.findall(r"^\s*(\S+) \x1b\[\d+m(enabled|disabled)", listing.stdout + listing.stderr, re.M))
    assert states.get(FORMGRADER) == "disabled" and states.get("nbgrader.server_extensions.validate_assignment") \
        == "enabled", states
    print(f"Binder environment: Python {info['python']}, {info['versions']}")


def _errors(nb) -> list[tuple[int, str, str, str]]:
    """(cell index, nbgrader id, ename, evalue) of every error output of a saved notebook."""
    return [(i, c.metadata.get("nbgrader", {}).get("grade_id", ""), o.get("ename", ""), o.get("evalue", "")[:200])
            for i, c in enumerate(nb.cells) if c.cell_type == "code"
            for o in c.get("outputs", []) if o.get("output_type") == "error"]


def _png_outputs(nb) -> int:
    return sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def check_images(notebook, saved, problems: list[str], timeout: float = 15) -> float:
    """Every plot of the saved notebook is an image the browser decoded (and there is at least one). The page may
    still be rendering the last outputs when the kernel is idle and the notebook saved (seen with 8 notebooks open
    on a busy machine): wait for them, bounded. Returns how long that took."""
    pngs, start = _png_outputs(saved), time.monotonic()
    rendered = lambda images: (images["decoded"] - images["in_widgets"] >= pngs  # noqa: E731
                               and images["decoded"] == images["total"])
    while not rendered(images := notebook.images()) and time.monotonic() < start + timeout:
        notebook.page.wait_for_timeout(250)
    if pngs == 0 or not rendered(images):
        problems.append(f"{notebook.path}: {pngs} image outputs saved, {images} in the page after {timeout:.0f} s")
    return round(time.monotonic() - start, 1)


def check_lecture(notebook, repo: Path, problems: list[str]) -> dict:
    """Run all cells, save, then: no error output, every cell ran, every plot rendered."""
    start = time.perf_counter()
    finished = notebook.run_all()
    seconds = time.perf_counter() - start
    notebook.save()
    saved = nbformat.read(repo / notebook.path, as_version=4)
    if not finished or _errors(saved):
        problems.append(f"{notebook.path}: Run All stopped or cells raised: {_errors(saved)}")
    not_run = [i for i, c in enumerate(saved.cells) if c.cell_type == "code" and c.source.strip()
               and c.execution_count is None]
    if not_run:
        problems.append(f"{notebook.path}: cells {not_run} did not run")
    images_wait_s = check_images(notebook, saved, problems)
    return {"run_all_s": round(seconds, 1), "images": notebook.images(), "images_wait_s": images_wait_s}


def drag_slider(page, slider, fraction: float) -> None:
    """Drag a slider's handle with the mouse to `fraction` of its track (0: the left end, 1: the right end)."""
    handle = slider.locator(".noUi-handle").bounding_box()
    track = slider.locator(".noUi-base").bounding_box()
    middle = handle["y"] + handle["height"] / 2
    page.mouse.move(handle["x"] + handle["width"] / 2, middle)
    page.mouse.down()
    page.mouse.move(track["x"] + fraction * track["width"], middle, steps=12)
    page.mouse.up()


def type_into_readout(page, slider, text: str) -> None:
    """Type a value into a slider's readout (it is editable) and press Enter, as a student can."""
    slider.locator(".widget-readout").click()
    page.keyboard.press("Control+A")
    page.keyboard.type(text)
    page.keyboard.press("Enter")


def wait_for_text(page, element, pattern: str, timeout: float = 30_000) -> str | None:
    """The element's text once it matches the regular expression `pattern`; None if it does not within timeout."""
    try:
        page.wait_for_function("([el, pattern]) => new RegExp(pattern).test(el.textContent)",
                               arg=[element.element_handle(), pattern], timeout=timeout)
    except Exception:
        return None
    return element.text_content()


def check_graph_widget(notebook, problems: list[str]) -> None:
    """Lecture 02: the interact widget shows sliders x and y; dragging x redraws the graph and the gradients."""
    page = notebook.page
    interact = notebook.locator(".widget-interact").first
    slider_x = interact.locator(".widget-slider", has=page.locator(".widget-label", has_text="x")).first
    output = interact.locator(".widget-output").first
    output.locator("img").first.wait_for(state="attached", timeout=30_000)
    assert interact.locator(".widget-slider").count() == 2, "expected two sliders, x and y"
    before_text, before_img = output.text_content(), output.locator("img").first.get_attribute("src")
    assert "dL/dx = 10, dL/dy = 2" in before_text, before_text
    notebook.shot("02_computational_graphs-widget-before", interact)
    drag_slider(page, slider_x, 0.8)
    x = float(slider_x.locator(".widget-readout").text_content())
    expected = f"dL/dx = {2 * x + 8:.4g}, dL/dy = {2 * x:.4g}"
    if wait_for_text(page, output, re.escape(expected)) is None:
        problems.append(f"02: after dragging x to {x:g} the output is {output.text_content()!r}, expected {expected!r}")
    after_img = output.locator("img").first.get_attribute("src")
    if x == 1.0 or after_img == before_img:
        problems.append(f"02: dragging the x slider did not change the picture (x = {x:g})")
    notebook.shot("02_computational_graphs-widget-after", interact)


class Explorer:
    """A widget of coursekit.widgets in the page: its box, controls, picture and caption; `expect` waits until the
    caption matches and records a problem if it does not."""

    def __init__(self, notebook, name: str, problems: list[str]):
        self.notebook, self.page, self.name, self.problems = notebook, notebook.page, name, problems
        self.box = notebook.locator(".widget-vbox", has=self.page.locator(".widget-image")).first
        self.box.locator(".widget-image").wait_for(state="attached", timeout=30_000)
        self.caption = self.box.locator(".widget-html-content").first
        self.sliders = self.box.locator(".widget-slider")
        notebook.scroll_to(self.box)
        self.first_picture = self.picture()

    def picture(self) -> str | None:
        return self.box.locator(".widget-image").get_attribute("src")

    def expect(self, pattern: str, after: str) -> str:
        text = wait_for_text(self.page, self.caption, pattern)
        if text is None:
            self.problems.append(f"{self.name}: after {after} the widget says {self.caption.text_content()!r}, "
                                 f"expected {pattern!r}")
        return text or ""

    def readout(self, index: int) -> str:
        """The value a slider shows (ipywidgets writes a minus sign as U+2212)."""
        return self.sliders.nth(index).locator(".widget-readout").text_content().strip().replace("\u2212", "-")

    def finish(self) -> None:
        """The picture must have changed since the widget appeared; screenshot."""
        if self.picture() == self.first_picture:
            self.problems.append(f"{self.name}: moving the controls did not change the picture")
        self.notebook.shot(f"{self.name}-widget-after", self.box)


def check_activation_widget(notebook, problems: list[str]) -> None:
    """Lecture 04: choosing ReLU or sigmoid and moving t prints the local gradient at t (ReLU: 1 / 0.5 / 0) and
    says where the sigmoid saturates; the picture follows."""
    widget = Explorer(notebook, "04_backward_one_layer", problems)
    widget.expect(r"sigmoid at t = 1\.0: value 0\.7311, local gradient sigmoid'\(t\) = 0\.1966", "opening")
    notebook.shot("04_backward_one_layer-widget-before", widget.box)
    widget.box.locator(".widget-toggle-button", has_text="ReLU").click()
    widget.expect(r"relu at t = 1\.0: .*relu'\(t\) = 1 ", "choosing ReLU")
    drag_slider(widget.page, widget.sliders.first, 0.2)
    t = float(widget.readout(0))
    gradient = 1 if t > 0 else 0.5 if t == 0 else 0
    widget.expect(rf"relu at t = {re.escape(f'{t:.1f}')}: .*relu'\(t\) = {gradient:g} ", f"dragging t to {t:g}")
    type_into_readout(widget.page, widget.sliders.first, "0")
    widget.expect(r"relu at t = 0\.0: .*relu'\(t\) = 0\.5  \(t = 0: the slides' convention", "typing t = 0")
    widget.box.locator(".widget-toggle-button", has_text="sigmoid").click()
    type_into_readout(widget.page, widget.sliders.first, "5")
    widget.expect(r"sigmoid at t = 5\.0: .*sigmoid'\(t\) = 0\.006648\s+saturated", "choosing sigmoid, t = 5")
    widget.finish()


def check_backward_walk(notebook, problems: list[str]) -> None:
    """Lecture 05: each step of the slider reveals one more gradient of the backward loop, with its shape."""
    widget = Explorer(notebook, "05_backprop_mlp", problems)
    widget.expect(r"step 0 of 11: no gradient yet", "opening")
    notebook.shot("05_backprop_mlp-widget-before", widget.box)
    for move, target in ((lambda: drag_slider(widget.page, widget.sliders.first, 0.4), None),
                         (lambda: type_into_readout(widget.page, widget.sliders.first, "11"), 11)):
        move()
        step = int(widget.readout(0))
        text = widget.expect(rf"step {step} of 11, level [123]: dL_d\w+ = ", f"moving the slider to step {step}")
        revealed = re.findall(r"dL_d\w+ \(\d+, \d+\)", text.split("so far:", 1)[-1])
        if step == 0 or (target and step != target) or len(revealed) != step:
            problems.append(f"05: at step {step} (wanted {target or 'not 0'}) the walk lists {len(revealed)} "
                            f"gradients: {text!r}")
    if "dL_db1 = bias_backward(dL_dz1)" not in widget.caption.text_content():
        problems.append(f"05: the last step is not dL/db1: {widget.caption.text_content()!r}")
    widget.finish()


def check_lr_batch_explorer(notebook, problems: list[str]) -> None:
    """Lecture 06: the learning-rate and batch-size sliders switch the loss curve to the chosen run at once."""
    widget = Explorer(notebook, "06_minibatch_sgd", problems)
    widget.expect(r"learning rate 0\.1, batch size 32, 13 updates per epoch: training loss", "opening")
    notebook.shot("06_minibatch_sgd-widget-before", widget.box)
    drag_slider(widget.page, widget.sliders.nth(0), 1.1)
    widget.expect(rf"learning rate {re.escape(widget.readout(0))}, batch size 32, ", "dragging the learning rate")
    drag_slider(widget.page, widget.sliders.nth(1), -0.1)
    lr, batch_size = widget.readout(0), widget.readout(1)
    if (lr, batch_size) != ("0.5", "8"):
        problems.append(f"06: the sliders ended at learning rate {lr}, batch size {batch_size}, expected 0.5 and 8")
    widget.expect(rf"learning rate {re.escape(lr)}, batch size {batch_size}, 50 updates per epoch: training loss "
                  r"\d\.\d{3} in epoch 1, \d\.\d{3} in epoch 30", "dragging the batch size")
    widget.finish()


WIDGET_CHECKS = {"04_backward_one_layer": check_activation_widget, "05_backprop_mlp": check_backward_walk}


def check_student_plugins(notebook, problems: list[str]) -> None:
    """In the page: nbgrader's instructor plugins are not loaded, Validate is; no Nbgrader menu."""
    plugins = notebook.student.plugins(sorted(INSTRUCTOR_PLUGINS | {STUDENT_PLUGIN}))
    loaded = {name for name, state in plugins.items() if state["registered"]}
    if loaded & INSTRUCTOR_PLUGINS or not plugins[STUDENT_PLUGIN]["activated"]:
        problems.append(f"JupyterLab plugins as a student sees them: {plugins}")
    if notebook.page.locator("#jp-mainmenu-nbgrader, .lm-MenuBar-itemLabel:text-is('Nbgrader')").count():
        problems.append("the Nbgrader menu is shown")
    if not notebook.locator(".jp-NotebookPanel-toolbar .validate-button").count():
        problems.append("no Validate button in the notebook toolbar")
    if notebook.student.news_toasts():          # asked right after start unless the set-up answered
        problems.append("JupyterLab asks about Jupyter news (a toast over the page)")


def check_news_setting(lab, problems: list[str]) -> None:
    """The server hands JupyterLab "never fetch news" as the environment's default (overrides.d)."""
    status, settings = lab.get("/lab/api/settings/@jupyterlab/apputils-extension:notification")
    default = settings["schema"]["properties"]["fetchNews"].get("default") if status == 200 else status
    if default != "false":
        problems.append(f"JupyterLab's default for fetchNews is {default!r}, not 'false' (the student set-up)")


def check_progress_bars(notebook, problems: list[str]) -> None:
    """Lecture 06: tqdm's progress bars render as widgets and reach their total (200/200 epochs)."""
    bars = notebook.locator(".widget-hprogress")
    bar_rows = notebook.locator(".widget-hbox", has=notebook.page.locator(".widget-hprogress"))
    texts = [row.text_content() for row in bar_rows.all()]
    if bars.count() < 3 or not any("200/200" in t for t in texts):
        problems.append(f"06: expected 3 finished progress bars, found {bars.count()}: {texts}")
    if bars.count():
        notebook.shot("06_minibatch_sgd-progress", bars.first)


def check_exercise(notebook, repo: Path, problems: list[str]) -> dict:
    """The blank exercise: run every cell as a student would; only answer cells (NotImplementedError) and the
    tests of those answers fail; its pictures render; Validate reports the failing tests."""
    page = notebook.page
    start = time.perf_counter()
    notebook.run_each_cell()
    seconds = time.perf_counter() - start
    notebook.save()
    saved = nbformat.read(repo / notebook.path, as_version=4)
    graded = {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"] for c in saved.cells
              if "nbgrader" in c.metadata}
    errors = _errors(saved)
    unexpected = [e for e in errors if not (graded.get(e[1], {}).get("solution") and e[2] == "NotImplementedError")
                  and not graded.get(e[1], {}).get("grade")]
    if not errors or unexpected:
        problems.append(f"{notebook.path}: errors outside the answer/test cells: {unexpected or 'none at all'}")
    check_images(notebook, saved, problems)
    first_error = notebook.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").first
    notebook.shot(f"exercise-{Path(notebook.path).stem}", first_error if first_error.count() else None)

    notebook.locator(".validate-button").get_by_text("Validate").click()
    dialog = page.locator(".jp-Dialog")
    start = time.perf_counter()
    try:
        dialog.wait_for(timeout=240_000)
        message = dialog.locator("#validation-message")
        message.wait_for(timeout=5_000)
        title, classes = dialog.locator(".jp-Dialog-header").inner_text(), message.get_attribute("class")
        failed = message.get_by_text("The following cell failed:").count()
        notebook.shot(f"exercise-{Path(notebook.path).stem}-validate")
        if "Validation Results" not in title or "validation-failed" not in classes or failed < 1:
            problems.append(f"Validate: dialog {title!r} {classes!r} with {failed} failed cells: "
                            f"{message.inner_text()[:500]!r}")
        dialog.get_by_role("button", name=re.compile("Ok", re.I)).click()
    except Exception as error:
        problems.append(f"Validate: no validation result ({type(error).__name__}: {str(error)[:300]})")
    return {"run_cells_s": round(seconds, 1), "validate_s": round(time.perf_counter() - start, 1),
            "errors": len(errors)}


def rehearse(repo: Path, venv: Path, shots: Path) -> tuple[dict, list[str]]:
    """Start JupyterLab of `venv` on `repo` and go through the course in Chromium; return (summary, problems)."""
    import psutil

    from tests.browser.lab import JupyterLab, MemorySampler, Student, chromium, tree_pss

    for old in shots.glob("*.png"):
        old.unlink()
    problems: list[str] = []
    summary: dict = {"notebooks": {}}
    training = "course open + training"
    start = time.perf_counter()
    env = clean_env(venv, HOME=str(repo))       # on Binder the repository is the home folder
    with JupyterLab(venv, repo, shots / "jupyterlab.log", env) as lab, chromium() as browser:
        sampler = MemorySampler(lab.proc.pid)
        sampler.start()
        student = Student(browser, lab, shots)
        try:
            # the server: formgrader off, Validate's handler on
            if lab.status("/formgrader") != 404:
                problems.append("the formgrader answers on /formgrader")
            status, version = lab.get("/nbgrader_version?version=0.9.6")
            if status != 200 or not version.get("success"):
                problems.append(f"Validate's server extension: {status} {version}")
            check_news_setting(lab, problems)

            def visit(path: str, check):
                """Open path in the student's tab (it stays open) and check it; record problems, go on."""
                sampler.phase = path
                errors_before, began, notebook = len(student.errors), time.perf_counter(), None
                try:
                    notebook = student.open(path)
                    opened = time.perf_counter() - began
                    summary["notebooks"][path] = check(notebook) or {}
                    summary["notebooks"][path].update(open_s=round(opened, 1),
                                                      total_s=round(time.perf_counter() - began, 1))
                except Exception as error:
                    problems.append(f"{path}: {type(error).__name__}: {str(error)[:600]}")
                    student.shot(f"FAILED-{Path(path).stem}")
                    student.page.keyboard.press("Escape")          # a dialog left open would block the rest
                finally:
                    summary["notebooks"].setdefault(path, {})["peak_mb"] = round(sampler.peak(path)["rss"] / 1e6)
                    if student.errors[errors_before:]:
                        problems.append(f"{path}: JavaScript errors {student.errors[errors_before:][:3]}")
                return notebook

            def lecture(notebook):
                result = check_lecture(notebook, repo, problems)
                stem = Path(notebook.path).stem
                if stem == "00_index":
                    check_student_plugins(notebook, problems)
                    notebook.shot(stem, notebook.locator(".jp-Cell").first)
                elif stem == "02_computational_graphs":
                    notebook.shot(f"{stem}-graph", notebook.locator(".jp-OutputArea-output img").first)
                    check_graph_widget(notebook, problems)
                elif stem == "06_minibatch_sgd":
                    check_progress_bars(notebook, problems)
                    check_lr_batch_explorer(notebook, problems)
                else:
                    notebook.shot(stem, notebook.locator(".jp-OutputArea-output img").first)
                    if stem in WIDGET_CHECKS:
                        WIDGET_CHECKS[stem](notebook, problems)
                return result

            opened = {path: visit(path, lecture) for path in LECTURES}
            for exercise in EXERCISES:
                visit(exercise, lambda notebook: check_exercise(notebook, repo, problems))

            # the whole course open (every notebook in a tab, every kernel running) while lecture 06 trains again
            sampler.phase = training
            summary["kernels_open"] = kernels = len(lab.get("/api/kernels")[1])
            if kernels < len(LECTURES) + len(EXERCISES):
                problems.append(f"only {kernels} kernels were running during the training run")
            try:
                notebook = opened[LECTURES[-1]] or student.open(LECTURES[-1])
                notebook.focus()
                # the 200-epoch training is watched from before Run All: on a fast machine it takes a few
                # seconds, too short to be caught by polling the page
                student.show_running_sessions()
                notebook.watch_progress(200)
                notebook.start_run_all()
                deadline, seen = time.monotonic() + 120, []
                while not seen and time.monotonic() < deadline:
                    notebook.page.wait_for_timeout(100)
                    seen = notebook.progress_seen()
                if not seen:
                    raise AssertionError(f"no progress bar showed 1-199 of 200 epochs within 120 s of Run All; "
                                         f"the notebook: {notebook.state()}")
                running = sampler.sample()
                kernel_pythons = {p.cmdline()[0] for p in psutil.Process(lab.proc.pid).children(recursive=True)
                                  if "ipykernel_launcher" in " ".join(p.cmdline())}
                if {str(Path(python).parent) for python in kernel_pythons} != {str(venv / "bin")}:
                    problems.append(f"kernels do not run the Binder environment's Python: {kernel_pythons}")
                summary["during_training_pss_mb"] = round(tree_pss(lab.proc.pid) / 1e6)
                with contextlib.suppress(Exception):     # Run All scrolled to the last cell: back to the bar
                    notebook.scroll_to(notebook.locator(".widget-hbox", has=notebook.page.locator(
                        ".widget-hprogress"), has_text=re.compile(r"\b\d+/200\b")).first)
                student.shot("06_minibatch_sgd-training-with-the-course-open")
                summary["during_training"] = {"rss_mb": round(running[0] / 1e6), "kernels": running[2]}
                if not notebook.wait_run_all():
                    problems.append("lecture 06 failed when run again with the whole course open")
                seen = notebook.progress_seen()
                summary["during_training"]["progress_values_seen"] = len(seen)
                if len(seen) < 2 or seen != sorted(seen):
                    problems.append(f"the training's progress bar did not move forward: the kernel sent {seen}")
            except Exception as error:
                problems.append(f"training with the course open: {type(error).__name__}: {str(error)[:600]}")
                student.shot("FAILED-training-again")
        finally:
            sampler.stop()
            student.close()
        summary["memory_mb"] = {name: {**p, "rss": round(p["rss"] / 1e6)} for name, p in sampler.peaks.items()}
        summary["peak_mb_course_open_training"] = round(sampler.peaks.get(training, {"rss": 0})["rss"] / 1e6)
        summary["peak_mb"] = round(sampler.peak()["rss"] / 1e6)
    summary["browser_s"] = round(time.perf_counter() - start, 1)
    summary["screenshots"] = sorted(p.name for p in shots.glob("*.png"))
    return summary, problems


@pytest.mark.slow
def test_the_course_runs_in_a_browser_on_the_binder_environment(binder_env, capsys):
    start = time.perf_counter()
    summary, problems = rehearse(binder_env["repo"], binder_env["venv"], ARTIFACTS)
    summary.update(venv_build_s=round(binder_env["build_s"], 1),
                   venv_build_steps_s={k: round(v, 1) for k, v in binder_env["build_steps_s"].items()},
                   python=binder_env["python"], versions=binder_env["info"]["versions"],
                   base_pins=binder_env["base_pins"], rehearsal_s=round(time.perf_counter() - start, 1))
    (ARTIFACTS / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    with capsys.disabled():
        print(f"\nBinder rehearsal ({summary['versions']})\n"
              f"  venv built in {summary['venv_build_s']} s {summary['venv_build_steps_s']}; browser part "
              f"{summary['browser_s']} s\n"
              f"  memory of the server and its kernels (sum of RSS): peak {summary['peak_mb']} MB; "
              f"{summary['peak_mb_course_open_training']} MB with the whole course open "
              f"({summary.get('kernels_open')} kernels) and lecture 06 training (sum of PSS then "
              f"{summary.get('during_training_pss_mb')} MB); limit {MEMORY_LIMIT / 1e6:.0f} MB\n"
              f"  screenshots, logs and summary.json in {ARTIFACTS.relative_to(ROOT)}/")
    assert not problems, "\n".join(problems)
    assert summary["peak_mb"] * 1e6 < MEMORY_LIMIT, summary["memory_mb"]


@pytest.mark.slow
def test_the_local_launch_reaches_the_exercises_without_instructor_tools_or_news(binder_env, tmp_path, capsys):
    """The README's command for students (LOCAL_LAUNCH) on the edition, in the rehearsal's venv (made from the lock,
    so installing requirements.txt only reinstalls mlpkit), with a fresh HOME (no earlier answer to the news
    question). Chromium opens the page `jupyter lab` opens for the student; there the file browser reaches
    lectures/ and exercises/backprop/, there is no Nbgrader menu and no news toast, Validate is there."""
    from tests.browser.lab import JupyterLab, Student, chromium

    repo, venv, problems, times = binder_env["repo"], binder_env["venv"], [], {}
    home = tmp_path / "home"
    home.mkdir()
    env = clean_env(venv, HOME=str(home))
    create, install, setup, launch = [shlex.split(step.replace(".venv/", f"{venv}/").replace(".venv", str(venv)))
                                      for step in LOCAL_LAUNCH.split(" && ")]
    # The venv and the student set-up are the rehearsal's build's own steps (`python -m venv`; binder/postBuild is
    # `python binder/student_setup.py`), so only requirements.txt's install runs again, on top of the lock.
    assert create[1:] == ["-m", "venv", str(venv)], create
    assert setup == [str(venv / "bin" / "python"), "binder/student_setup.py"], setup
    assert install == [str(venv / "bin" / "pip"), "install", "-r", "requirements.txt"], install
    start = time.perf_counter()
    result = subprocess.run(install, cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{install} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
    times["pip install -r requirements.txt"] = round(time.perf_counter() - start, 1)
    changed = " ".join(re.findall(r"^Successfully installed (.*)$", result.stdout, re.M)).split()
    assert all(name.startswith("mlpkit-") for name in changed), f"requirements.txt changed the lock: {changed}"
    assert launch[:2] == [str(venv / "bin" / "jupyter"), "lab"], launch
    index = launch[-1]
    start = time.perf_counter()
    with JupyterLab(venv, repo, ARTIFACTS / "jupyterlab-local.log", env, launch=launch[2:]) as lab, \
            chromium() as browser:
        if f"Serving notebooks from local directory: {repo}" not in lab.log_tail(20_000):
            problems.append(f"the server does not serve the repository root:\n{lab.log_tail(1500)}")
        check_news_setting(lab, problems)
        url = lab.browser_url()
        if f"/lab/tree/{index}?" not in url:
            problems.append(f"jupyter lab opens {url}, not the index {index}")
        student = Student(browser, lab, ARTIFACTS)
        try:
            notebook = student.open(index, url=url.replace("localhost", "127.0.0.1"))
            notebook.page.wait_for_timeout(1000)
            check_student_plugins(notebook, problems)
            menus = student.menu_bar()
            if "File" not in menus or "Nbgrader" in menus:
                problems.append(f"the menu bar: {menus}")
            root = student.browse("")
            if not {"lectures", "exercises"} <= set(root):
                problems.append(f"the file browser's root lists {root}")
            exercises = student.browse("exercises/backprop")
            if not {Path(e).name for e in EXERCISES} <= set(exercises):
                problems.append(f"exercises/backprop in the file browser lists {exercises}")
            student.shot("local-launch-exercises")
        except Exception:
            student.shot("FAILED-local-launch")
            raise
        finally:
            student.close()
    times["browser"] = round(time.perf_counter() - start, 1)
    with capsys.disabled():
        print(f"\nlocal launch (README's command, in the rehearsal's venv): seconds per step {times}")
    assert not problems, "\n".join(problems)
