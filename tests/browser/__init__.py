"""Helpers of the Binder rehearsal (tests/test_binder.py): build the student environment from `binder/` alone,
run JupyterLab from it, and drive it with headless Chromium through Playwright (`lab.py`)."""
