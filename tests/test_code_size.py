"""Size budgets of the library code (issue 11): short modules and functions, so each reads in one sitting.

mlpkit as a whole at most PACKAGE_BUDGET lines, docstrings included; every module of mlpkit/ and coursekit/ at
most MODULE_BUDGET lines; every function or method at most FUNCTION_BUDGET lines (from ``def`` to its last line).
The README states the counts of the commit it belongs to.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_BUDGET = 1100
MODULE_BUDGET = 250
FUNCTION_BUDGET = 50


def modules(package: str) -> list[Path]:
    """Every Python file of a top-level package of the repository (none if it does not exist)."""
    return sorted((ROOT / package).rglob("*.py"))


def line_count(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def package_lines(package: str) -> int:
    return sum(line_count(path) for path in modules(package))


def long_functions(path: Path, budget: int) -> list[str]:
    """``module:function (n lines)`` for every function or method longer than ``budget`` lines."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            start = min([node.lineno] + [d.lineno for d in node.decorator_list])
            length = node.end_lineno - start + 1
            if length > budget:
                found.append(f"{path.relative_to(ROOT)}:{node.name} ({length} lines)")
    return found


def test_long_functions_are_found_and_named(tmp_path, monkeypatch):
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    module = tmp_path / "m.py"
    module.write_text("def short():\n    return 1\n\n\ndef long():\n" + "    x = 1\n" * 5 + "    return x\n")
    assert long_functions(module, 5) == ["m.py:long (7 lines)"]
    assert long_functions(module, 7) == []


def test_mlpkit_fits_its_line_budget():
    counts = {path.name: line_count(path) for path in modules("mlpkit")}
    assert counts, "no mlpkit modules found"
    assert package_lines("mlpkit") <= PACKAGE_BUDGET, (
        f"mlpkit has {package_lines('mlpkit')} lines, budget {PACKAGE_BUDGET}: {counts}")


def test_no_module_is_too_long():
    too_long = [f"{path.relative_to(ROOT)} ({line_count(path)} lines)"
                for package in ("mlpkit", "coursekit") for path in modules(package)
                if line_count(path) > MODULE_BUDGET]
    assert not too_long, f"modules over {MODULE_BUDGET} lines: {too_long}"


def test_no_function_is_too_long():
    too_long = [name for package in ("mlpkit", "coursekit") for path in modules(package)
                for name in long_functions(path, FUNCTION_BUDGET)]
    assert not too_long, f"functions over {FUNCTION_BUDGET} lines: {too_long}"


def stated(pattern: str) -> int:
    """The number the README's "Sizes and times" states where ``pattern`` (with one ``(\\S+)`` group) matches."""
    found = re.search(pattern, (ROOT / "README.md").read_text(encoding="utf-8"))
    assert found, f"README.md no longer states {pattern!r}: update the section 'Sizes and times'"
    return int(found.group(1).replace(",", ""))


def test_the_readme_states_the_line_counts_of_this_commit():
    for package, pattern in [("mlpkit", r"\*\*mlpkit: ([\d,]+) lines\*\*"),
                             ("coursekit", r"\(`coursekit/`, ([\d,]+) lines\)"),
                             ("tools", r"\(`tools/`, ([\d,]+) lines")]:
        assert stated(pattern) == package_lines(package), (
            f"README.md says {package}/ has {stated(pattern):,} lines, it has {package_lines(package):,}: "
            "update 'Sizes and times'")
    largest = max(modules("mlpkit"), key=line_count)
    assert stated(rf"`{largest.name}` at (\d+) lines") == line_count(largest), "update mlpkit's largest module"
