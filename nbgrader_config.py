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
# too. Worst case per submission = code cells x timeout: the two notebooks have 25 code cells, so a submission in
# which *every* cell hangs costs 25 min; a realistic broken one (one or two functions that never return, each hit
# by its test cell) costs 1-2 min. The Validate button uses the same limit.
c.Execute.timeout = 60
c.Execute.interrupt_on_timeout = True

# Autograde runs student notebooks with SandboxedExecute instead of Execute (same timeout): a fresh kernel per
# notebook behind tools/grading_sandbox.py (no writes outside the student's folder, no reading the course's files,
# no processes, no network; memory, file-size and output limits; a dying or hung kernel is restarted and grading
# goes on with the next cell). See docs/instructors.md for what that does and does not protect against.
c.Autograde.autograde_preprocessors = [
    "tools.nbgrader_plugins.SandboxedExecute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
c.SandboxedExecute.protected_paths = [_ROOT]
c.SandboxedExecute.memory_limit_mb = 4096
c.SandboxedExecute.file_limit_mb = 100
c.SandboxedExecute.max_output_chars = 200_000

# Edited locked cells are always restored from the gradebook; deleted graded cells are put back too
# (tools/grading.py collect already restores them at their place; this is nbgrader's own fallback).
c.OverwriteCells.add_missing_cells = True

# ---- feedback for students ----------------------------------------------------------------------------------------
# nbgrader's generate_feedback shows the hidden tests' source by default: ClearHiddenTests removes it.
# HideHiddenTestFailures runs first and replaces the outputs of a failed test cell that has hidden tests (the
# traceback would print the hidden lines) with one line that keeps the exception's own message.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "tools.nbgrader_plugins.HideHiddenTestFailures",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]

# ---- Validate button / `nbgrader validate` ---------------------------------------------------------------------
# Students validate their copy from exercises/, which has no hidden tests (generate_assignment removed them), so
# the verdict comes from the visible checks alone and nothing here depends on hidden tests: every test cell starts
# with a visible check, so a blank or wrong answer fails Validate, and passing Validate is a hint, not the grade.
# `python -m tools.grading validate` checks exactly that: the reference answers pass with the hidden tests removed
# and the blank student version fails every graded cell.
