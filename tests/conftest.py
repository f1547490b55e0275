"""Shared test settings: hypothesis profile and headless matplotlib."""

import matplotlib
from hypothesis import settings

matplotlib.use("Agg")
settings.register_profile("course", deadline=None, max_examples=40, derandomize=True)
settings.load_profile("course")


#: The test files with the longest module fixtures (a Binder build, graded classes), slowest first. pytest-xdist
#: hands whole files to its workers (--dist loadfile) in collection order (--no-loadscope-reorder), so these start
#: first and the many short files fill the gaps; otherwise a long file picked up last would finish alone.
SLOWEST_FIRST = ["test_binder.py", "test_grading_pipeline.py", "test_parallel_grading.py", "test_adversarial.py",
                 "test_benchmark_smoke.py", "test_publish.py"]


def pytest_collection_modifyitems(items):
    def rank(item) -> int:
        name = item.path.name
        return SLOWEST_FIRST.index(name) if name in SLOWEST_FIRST else len(SLOWEST_FIRST)

    items.sort(key=rank)                 # stable: every file keeps its own order
