"""Run lecture notebooks and store them the way this repository keeps notebooks.

Policy (checked by tests/test_lectures.py): notebooks are stored without
outputs, except code cells whose first line is ``# NBVAL_CHECK_OUTPUT``; those
keep their plain-text output and execution count, which ``pytest --nbval-lax``
compares on every run (they show the slides' numbers). Execution counts, widget state and other
volatile metadata are removed so diffs stay small.

    python -m tools.clean_notebooks lectures/*.ipynb          # execute, then clean
    python -m tools.clean_notebooks --check lectures/*.ipynb  # only verify the policy
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

CHECK_MARK = "# NBVAL_CHECK_OUTPUT"
KEEP_METADATA = {"kernelspec", "language_info"}


def is_checked(cell) -> bool:
    """True for a code cell whose output nbval compares."""
    return cell.cell_type == "code" and cell.source.lstrip().startswith(CHECK_MARK)


def text_only(outputs: list) -> list:
    """Keep stream text and text/plain results; drop images, HTML and widgets."""
    kept = []
    for out in outputs:
        if out.output_type == "stream":
            kept.append(out)
        elif out.output_type in ("execute_result", "display_data") and "text/plain" in out.get("data", {}):
            out = nbformat.from_dict({**out, "data": {"text/plain": out.data["text/plain"]}, "metadata": {}})
            if out.output_type == "execute_result":
                out.execution_count = None
            kept.append(out)
    return kept


def clean(nb) -> None:
    """Apply the storage policy to a notebook in place."""
    nb.metadata = nbformat.from_dict({k: v for k, v in nb.metadata.items() if k in KEEP_METADATA})
    for cell in nb.cells:
        cell.metadata = nbformat.from_dict({k: v for k, v in cell.metadata.items() if k in ("tags", "nbgrader")})
        if cell.cell_type == "code":
            if is_checked(cell):                  # nbval needs an execution count next to stored outputs
                cell.outputs = text_only(cell.outputs)
            else:
                cell.execution_count, cell.outputs = None, []


def problems(nb) -> list[str]:
    """What breaks the policy in a stored notebook (empty when it follows it)."""
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if is_checked(cell):
            if cell.execution_count is None:
                found.append(f"cell {i}: marked {CHECK_MARK} but has no execution count (nbval needs one)")
            if not cell.outputs:
                found.append(f"cell {i}: marked {CHECK_MARK} but has no stored output to compare")
            if text_only(cell.outputs) != cell.outputs:
                found.append(f"cell {i}: checked output must be plain text only")
        elif cell.execution_count is not None:
            found.append(f"cell {i}: execution_count is {cell.execution_count}, expected None")
        elif cell.outputs:
            found.append(f"cell {i}: stored output in a cell nbval does not check (run tools.clean_notebooks)")
    extra = set(nb.metadata) - KEEP_METADATA
    if extra:
        found.append(f"notebook metadata has volatile keys {sorted(extra)}")
    return found


def execute(path: Path, timeout: int = 120):
    """Run a notebook top to bottom in its own folder; raises on the first error."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
                   ).execute()
    return nb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--check", action="store_true", help="only verify the storage policy")
    args = parser.parse_args(argv)
    status = 0
    for path in args.notebooks:
        if args.check:
            for problem in problems(nbformat.read(path, as_version=4)):
                print(f"{path}: {problem}")
                status = 1
            continue
        nb = execute(path)
        clean(nb)
        nbformat.write(nb, path)
        print(f"{path}: executed and cleaned")
    return status


if __name__ == "__main__":
    sys.exit(main())
