"""The course as nbgrader sees it: nbgrader_config.py, nbgrader's CourseDirectory and its NbGraderAPI.

Every path (solutions/, exercises/, submitted/, autograded/, feedback/) and the gradebook's ``db_url`` come from
one ``nbgrader.coursedir.CourseDirectory``, which the API shares, so a setting in nbgrader_config.py (or
``--CourseDirectory.db_url``) reaches every step. Only what nbgrader has no name for is added here: ``work``
(grading/, the instructor's bookkeeping) and ``grades_csv``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SQLITE_PREFIX = "sqlite:///"
DEFAULT_ASSIGNMENT = "backprop"


class Course:
    """A course directory with an nbgrader_config.py; nbgrader is driven through its Python API."""

    def __init__(self, root: Path = ROOT, overrides=None):
        from nbgrader.coursedir import CourseDirectory
        from traitlets.config import Config
        from traitlets.config.loader import PyFileConfigLoader

        root = Path(root).resolve()
        # nbgrader runs the `alembic` script when it creates a gradebook: make the one next to this Python
        # findable even when the virtual environment is not activated.
        scripts = str(Path(sys.executable).parent)
        if shutil.which("alembic") is None and scripts not in os.environ.get("PATH", "").split(os.pathsep):
            os.environ["PATH"] = scripts + os.pathsep + os.environ.get("PATH", "")
        config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
        config.CourseDirectory.root = str(root)
        self.overrides = overrides or Config()
        config.merge(self.overrides)
        self.config = config
        self.coursedir = CourseDirectory(config=config)
        self._api = None

    @property
    def api(self):
        """nbgrader's NbGraderAPI on this course's CourseDirectory (made on first use: it costs ~0.5 s)."""
        if self._api is None:
            from nbgrader.apps import NbGraderAPI
            from traitlets.log import get_logger

            # NbGraderAPI looks for nbgrader's exchange (not used by this course) and logs an error without one.
            def no_exchange_error(record: logging.LogRecord) -> bool:
                return "Unwritable directory" not in record.getMessage()

            logger = get_logger()
            logger.addFilter(no_exchange_error)
            try:
                self._api = NbGraderAPI(coursedir=self.coursedir, config=self.config)
            finally:
                logger.removeFilter(no_exchange_error)
            self._api.log.setLevel(logging.WARNING)
        return self._api

    @property
    def root(self) -> Path:
        return Path(self.coursedir.root)

    def _folder(self, trait: str) -> Path:
        return self.root / getattr(self.coursedir, trait)

    @property
    def source(self) -> Path:
        return self._folder("source_directory")

    @property
    def release_dir(self) -> Path:
        return self._folder("release_directory")

    @property
    def submitted(self) -> Path:
        return self._folder("submitted_directory")

    @property
    def autograded(self) -> Path:
        return self._folder("autograded_directory")

    @property
    def feedback(self) -> Path:
        return self._folder("feedback_directory")

    @property
    def gradebook_path(self) -> Path:
        """The gradebook's file, from ``CourseDirectory.db_url`` (parallel grading copies it per student)."""
        url = self.coursedir.db_url
        if not url.startswith(SQLITE_PREFIX):
            raise SystemExit(f"CourseDirectory.db_url is {url!r}: tools.grading grades each student against a copy "
                             f"of a SQLite gradebook, so it needs a {SQLITE_PREFIX}<file> URL (set it in "
                             "nbgrader_config.py, or leave it out for <course>/gradebook.db)")
        return Path(url[len(SQLITE_PREFIX):])

    @contextlib.contextmanager
    def database(self, path: Path):
        """Use another gradebook file for a while (a worker grades each student against a private one)."""
        with temporary(self.coursedir, db_url=f"{SQLITE_PREFIX}{Path(path).resolve()}"):
            yield

    @property
    def work(self) -> Path:
        """Instructor-local bookkeeping: collect reports, logs, gradebook backups."""
        return self.root / "grading"

    @property
    def grades_csv(self) -> Path:
        return self.root / "grades.csv"

    def assignments(self) -> list[str]:
        return sorted(p.name for p in self.source.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))

    def notebooks(self, assignment: str) -> list[str]:
        return sorted(p.stem for p in (self.source / assignment).glob("*.ipynb"))

    def gradebook(self):
        """nbgrader's Gradebook on ``db_url`` (use it as a context manager)."""
        from nbgrader.api import Gradebook

        return Gradebook(self.coursedir.db_url)


@contextlib.contextmanager
def temporary(obj, **values):
    """Like nbgrader.utils.temp_attrs, but restores the attributes on an exception too (temp_attrs has no finally)."""
    old = {k: getattr(obj, k) for k in values}
    try:
        for k, v in values.items():
            setattr(obj, k, v)
        yield
    finally:
        for k, v in old.items():
            setattr(obj, k, v)


def checked(result: dict, what: str) -> str:
    """The log of an NbGraderAPI call, or a RuntimeError with its log and error when it failed."""
    if not result.get("success"):
        raise RuntimeError(f"{what} failed:\n{result.get('log', '')}\n{result.get('error', '')}")
    return result.get("log", "")
