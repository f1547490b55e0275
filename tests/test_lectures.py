"""The lecture notebooks as source code: storage policy, structure, links, no
re-implemented math, and the kernel sandbox. nbval itself runs every lecture
(`--nbval-lax` over lectures/, configured in pyproject.toml)."""

import re
from pathlib import Path

import nbformat
import pytest

from tools.clean_notebooks import CHECK_MARK, problems

ROOT = Path(__file__).resolve().parents[1]
LECTURES = sorted((ROOT / "lectures").glob("*.ipynb"))
EXPECTED = ["00_index", "01_mlp_and_loss", "02_computational_graphs", "03_derivatives_vectors_matrices",
            "04_backward_one_layer", "05_backprop_mlp", "05a_appendix_floating_point", "06_minibatch_sgd"]


def read(path: Path):
    return nbformat.read(path, as_version=4)


def text(nb, kind: str) -> str:
    return "\n".join(c.source for c in nb.cells if c.cell_type == kind)


def test_every_numbered_lecture_exists():
    assert [p.stem for p in LECTURES] == EXPECTED


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.stem)
def test_stored_without_outputs_except_checked_cells(path):
    assert problems(read(path)) == []


@pytest.mark.parametrize("path", [p for p in LECTURES if p.stem != "00_index"], ids=lambda p: p.stem)
def test_opens_with_goals_and_closes_with_recap_and_questions(path):
    nb = read(path)
    first = next(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "After this notebook" in first
    tail = "\n".join(c.source for c in nb.cells[-3:] if c.cell_type == "markdown")
    assert "Recap" in tail and "Questions" in tail


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.stem)
def test_relative_links_resolve(path):
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text(read(path), "markdown")):
        if "://" not in target:
            assert (path.parent / target).exists(), f"{path.name} links to missing {target}"


def test_index_links_every_lecture_the_appendix_and_the_exercises():
    index = text(read(ROOT / "lectures" / "00_index.ipynb"), "markdown")
    for name in EXPECTED[1:]:
        assert f"({name}.ipynb)" in index
    assert "../exercises/" in index


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.stem)
def test_math_comes_from_mlpkit_not_from_the_notebook(path):
    code = text(read(path), "code")
    assert "import mlpkit" in code or "from mlpkit" in code
    names = "matmul_backward|relu_backward|sigmoid_backward|softmax|cross_entropy|backward|train|numerical_gradient"
    redefined = re.findall(rf"^\s*def ({names})\(", code, re.M)
    assert not redefined, f"{path.name} re-implements {redefined}: import it from mlpkit"


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.stem)
def test_every_question_to_think_about_has_a_collapsed_answer(path):
    cell = next(c.source for c in read(path).cells
                if c.cell_type == "markdown" and "## Questions to think about" in c.source)
    questions = cell[cell.index("## Questions to think about"):]
    items = re.split(r"(?m)^\d+\. ", questions)[1:]
    assert items, f"{path.name}: no numbered questions"
    for number, item in enumerate(items, 1):
        # the answer under each question, collapsed; a blank line after <summary> lets its markdown render
        assert re.search(r"<details><summary>Answer</summary>\n\s*\n.+?</details>", item, re.S), (
            f"{path.name}, question {number}: no collapsed answer under it")


def test_slides_graph_numbers_are_checked_outputs():
    nb = read(ROOT / "lectures" / "02_computational_graphs.ipynb")
    checked = "\n".join(
        "".join(o.get("text", "") or o.get("data", {}).get("text/plain", "") for o in c.outputs)
        for c in nb.cells if c.cell_type == "code" and c.source.lstrip().startswith(CHECK_MARK))
    assert re.search(r"dL/dx\s*=\s*10(\.0+)?\b", checked) and re.search(r"dL/dy\s*=\s*2(\.0+)?\b", checked)


def _run(source: str):
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    try:
        NotebookClient(nb, timeout=60, kernel_name="python3").execute()
    except CellExecutionError as error:
        return str(error)
    return ""


def test_kernel_sandbox_blocks_network_and_files_outside_the_repository():
    assert "must not use the network" in _run("import urllib.request\nurllib.request.urlopen('http://192.0.2.1')")
    assert "must not open files outside the repository" in _run("open('/root/.profile')")
    assert _run(f"open({str(ROOT / 'README.md')!r}).read()\nimport mlpkit\nmlpkit.datasets.digits()") == ""


def test_index_shows_the_readme_command_to_open_the_course():
    from tests.test_repo import readme_commands

    assert readme_commands()[0] in text(read(ROOT / "lectures" / "00_index.ipynb"), "markdown")


def test_pictures_come_from_the_packages_not_from_the_notebook():
    # drawing helpers live in mlpkit.plots and coursekit.pictures (tested in tests/test_plots.py), once
    for path in LECTURES:
        code = text(read(path), "code")
        helpers = re.findall(r"^\s*def ((?:draw|show|plot)_\w+)\(", code, re.M)
        assert not helpers and "matplotlib.patches" not in code, (
            f"{path.name} draws with its own helpers {helpers}: use mlpkit.plots / coursekit.pictures")


def test_the_floating_point_appendix_is_linked_from_lecture_05_and_links_back():
    appendix = "05a_appendix_floating_point.ipynb"
    assert f"]({appendix})" in text(read(ROOT / "lectures" / "05_backprop_mlp.ipynb"), "markdown")
    assert "](05_backprop_mlp.ipynb)" in text(read(ROOT / "lectures" / appendix), "markdown")
