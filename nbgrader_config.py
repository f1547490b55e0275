"""nbgrader configuration of the course (read by `nbgrader ...`, by tools/grading.py and by
JupyterLab's Validate button when Jupyter is started from the repository root).

Instructors: use `python -m tools.grading` (docs/instructors.md); it loads this file.
"""

import os
import sys

_ROOT = os.path.dirname(os.path.abspath(__file__))
if _ROOT not in sys.path:            # lets nbgrader import tools.nbgrader_plugins (named as strings below,
    sys.path.insert(0, _ROOT)        # so the Validate button never imports them)

c = get_config()  # noqa: F821 - provided by traitlets when it executes this file

# ---- where things live ------------------------------------------------------------------------------------------
# solutions/<assignment>/  answers + hidden tests (committed)      exercises/<assignment>/  student version (committed)
# submitted/ autograded/ feedback/ gradebook.db grades.csv grading/  instructor-local, git-ignored
c.CourseDirectory.root = _ROOT
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"

# ---- running student code ---------------------------------------------------------------------------------------
# Execute.timeout is per cell, in seconds; a cell that runs longer is interrupted and counts as failed.
# 60 s: the slowest reference cell (the demo that trains the MLP with the student's train_sgd) takes ~1.5 s on a
# 2-core machine, so a correct answer 10-40x slower (Python loops instead of NumPy) still passes, on a busy machine
# too. Worst case per submission = code cells x timeout: the three notebooks have 37 code cells, so a submission
# in which *every* cell hangs costs 37 min; a realistic broken one (one or two functions that never return, each hit
# by its test cell) costs 1-2 min. The Validate button uses the same limit.
c.Execute.timeout = 60
c.Execute.interrupt_on_timeout = True

# Autograde runs student notebooks with SandboxedExecute instead of Execute (same timeout): a fresh kernel per
# notebook behind tools/grading_sandbox.py (no writes outside the student's folder, no reading the course's files,
# no processes, no network; memory, file-size and output limits; a dying or hung kernel is restarted and grading
# goes on with the next cell). The visible checks run there, for the feedback.
# RunHiddenTests then decides every test cell in the referee's own process (tools/referee): the notebook's cells
# are replayed in a fresh, sandboxed child with the practised mlpkit functions removed, the graded function is
# called on hidden inputs, only plain arrays come back, and the grader compares them with finite differences. A
# failed hidden test becomes an error output of the test cell, so SaveAutoGrades scores it 0.
# See docs/instructors.md for what that does and does not protect against.
c.Autograde.autograde_preprocessors = [
    "tools.nbgrader_plugins.SandboxedExecute",
    "tools.nbgrader_plugins.RunHiddenTests",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
MEMORY_LIMIT_MB, FILE_LIMIT_MB = 4096, 100
c.SandboxedExecute.protected_paths = [_ROOT]
c.SandboxedExecute.memory_limit_mb = MEMORY_LIMIT_MB
c.SandboxedExecute.file_limit_mb = FILE_LIMIT_MB
# The one output limit: SandboxedExecute drops a cell's output beyond this while the cell runs, so a student
# printing gigabytes never fills the grader's memory or the feedback (nbgrader's LimitOutput trims only afterwards).
c.SandboxedExecute.max_output_chars = 200_000
c.RunHiddenTests.protected_paths = [_ROOT]
c.RunHiddenTests.memory_limit_mb = MEMORY_LIMIT_MB
c.RunHiddenTests.file_limit_mb = FILE_LIMIT_MB

# Edited locked cells are always restored from the gradebook; deleted graded cells are put back too
# (tools/grading.py collect already restores them at their place; this is nbgrader's own fallback).
c.OverwriteCells.add_missing_cells = True

# ---- feedback for students ----------------------------------------------------------------------------------------
# The test cells hold only visible checks (the hidden tests live in tools/referee/hidden.py, never in a notebook);
# ClearHiddenTests stays as nbgrader's own safety net. OneLineFailures shows a failed test cell as one line that
# says why (the visible check's diagnosis, or the hidden test's verdict) instead of a traceback.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "tools.nbgrader_plugins.OneLineFailures",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]

# ---- Validate button / `nbgrader validate` ---------------------------------------------------------------------
# Students validate their copy from exercises/ with the student edition's own nbgrader_config.py (tools/publish.py
# writes it: the same Execute.timeout). Validate runs the visible checks only: every test cell is one visible check,
# so a blank or wrong answer fails Validate, and passing it is a hint, not the grade. The visible checks make the
# practised functions uncallable and move the student function's stderr to stdout, as the grader does.
# `python -m tools.grading validate` checks that the reference answers pass and the blank student version fails
# every graded cell.
