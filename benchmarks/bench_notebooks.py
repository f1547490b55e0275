"""Time, memory and length of every lecture notebook, run top to bottom as a student would.

Each notebook runs in a fresh process (nbclient, a fresh kernel); the script
prints a Markdown table of wall time (kernel start included), the kernel's
peak resident memory (ru_maxrss of the finished kernel process), the words of
its text (markdown cells, without the collapsed answers) and of its collapsed
answers, and a reading time for the text at READING_WPM words per minute (a
pace for technical text with formulas; the code cells' run time is extra).
Targets from the course: under 20 s, under 500 MB and 35 minutes per lecture.

    python benchmarks/bench_notebooks.py                 # every lectures/*.ipynb
    python benchmarks/bench_notebooks.py path/to/a.ipynb
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TIME_LIMIT_S, MEMORY_LIMIT_MB, READING_LIMIT_MIN = 20.0, 500.0, 35.0
READING_WPM = 120
ANSWER = re.compile(r"<details>.*?</details>", re.S)


def words(path: Path) -> tuple[int, int]:
    """(words of the text, words of the collapsed answers) in the notebook's markdown cells."""
    import nbformat

    markdown = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown")
    answers = " ".join(ANSWER.findall(markdown))
    count = lambda text: len(re.findall(r"[A-Za-z0-9][\w'-]*", re.sub(r"<[^>]+>", " ", text)))  # noqa: E731
    return count(ANSWER.sub(" ", markdown)), count(answers)

RUN_ONE = r"""
import json, resource, sys, time
from pathlib import Path
import nbformat
from nbclient import NotebookClient
path = Path(sys.argv[1])
nb = nbformat.read(path, as_version=4)
start = time.perf_counter()
NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
seconds = time.perf_counter() - start
errors = sum(o.get("output_type") == "error" for c in nb.cells for o in c.get("outputs", []))
kernel_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"seconds": seconds, "kernel_mb": kernel_kb / 1024, "errors": errors}))
"""


def measure(path: Path) -> dict:
    """Run one notebook in a fresh interpreter and kernel; return seconds, kernel MB and error count."""
    result = subprocess.run([sys.executable, "-c", RUN_ONE, str(path)], capture_output=True, text=True, cwd=ROOT)
    if result.returncode != 0:
        return {"seconds": float("nan"), "kernel_mb": float("nan"), "errors": 1, "detail": result.stderr[-500:]}
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "lectures").glob("*.ipynb"))
    print(f"| notebook | time (s) | kernel peak memory (MB) | within {TIME_LIMIT_S:.0f} s / {MEMORY_LIMIT_MB:.0f} MB "
          f"| words (text) | words (answers) | reading time at {READING_WPM} words/min (min) "
          f"| within {READING_LIMIT_MIN:.0f} min |")
    print("| --- | ---: | ---: | --- | ---: | ---: | ---: | --- |")
    failed = False
    for path in paths:
        m = measure(path)
        ok = m["errors"] == 0 and m["seconds"] < TIME_LIMIT_S and m["kernel_mb"] < MEMORY_LIMIT_MB
        failed |= not ok
        name = path.resolve().relative_to(ROOT) if path.resolve().is_relative_to(ROOT) else path
        note = "yes" if ok else ("ERROR " + m.get("detail", f"{m['errors']} error output(s)")[-200:] if m["errors"]
                                 else "NO")
        text, answers = words(path)
        minutes = text / READING_WPM
        print(f"| {name} | {m['seconds']:.1f} | {m['kernel_mb']:.0f} | {note} | {text} | {answers} | {minutes:.0f} "
              f"| {'yes' if minutes <= READING_LIMIT_MIN else 'NO'} |", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
