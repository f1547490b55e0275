"""Smoke tests of the benchmark scripts: each runs on a tiny input, exits cleanly and prints its table."""

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_train.py"
REQUIRED_ROWS = ("mlpkit", "numpy", "scikit-learn")


def table_rows(output: str) -> dict[str, list[str]]:
    """The Markdown table's body rows, keyed by the first cell (the contender)."""
    rows = {}
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) > 2 and cells[0] not in ("contender", "---"):
            rows[cells[0]] = cells[1:]
    return rows


def row_for(rows: dict[str, list[str]], prefix: str) -> list[str]:
    """The one row whose contender name starts with ``prefix``."""
    matches = [cells for name, cells in rows.items() if name.startswith(prefix)]
    assert len(matches) == 1, f"expected one row starting with {prefix!r}, got {sorted(rows)}"
    return matches[0]


@pytest.mark.slow
def test_quick_benchmark_prints_positive_samples_per_second():
    # One torch thread keeps the run short: with several OpenMP threads on a small VM an epoch can take seconds.
    result = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--torch-threads", "1"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "self-check" in result.stdout
    rows = table_rows(result.stdout)
    for prefix in REQUIRED_ROWS:
        median, best = row_for(rows, prefix)[:2]
        assert float(median) > 0 and float(best) > 0, (prefix, median, best)
    torch_row = row_for(rows, "torch")
    assert torch_row[0] == "not installed" or float(torch_row[0]) > 0


@pytest.mark.slow
def test_notebook_benchmark_measures_time_and_memory():
    script = SCRIPT.parent / "bench_notebooks.py"
    notebook = SCRIPT.parents[1] / "lectures" / "02_computational_graphs.ipynb"
    result = subprocess.run([sys.executable, str(script), str(notebook)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    row = table_rows(result.stdout)["lectures/02_computational_graphs.ipynb"]
    seconds, megabytes, verdict = float(row[0]), float(row[1]), row[2]
    assert 0 < seconds < 60 and 50 < megabytes < 2000 and verdict == "yes"
    text_words, answer_words, minutes, reading = int(row[3]), int(row[4]), float(row[5]), row[6]
    assert text_words > 500 and answer_words > 50 and minutes == round(text_words / 120) and reading == "yes"


@pytest.mark.slow
def test_grading_benchmark_grades_a_small_class():
    """Two students (both hand in the reference) through collect, autograde, feedback and CSV, with 2 workers."""
    script = SCRIPT.parent / "bench_grading.py"
    result = subprocess.run([sys.executable, str(script), "--sizes", "2", "--jobs", "2"], capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    row = table_rows(result.stdout)["2"]
    jobs, seconds, rate, speedup, memory, full = row
    assert jobs == "2" and float(seconds) > 0 and float(rate) > 0 and speedup == "1.00", row
    assert 200 < float(memory) < 8000 and full == "2", row
    assert "grades.csv identical for every --jobs: yes" in result.stdout
    assert "Warning" not in result.stderr, result.stderr       # nbgrader's SQLAlchemy noise is filtered
