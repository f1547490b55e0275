"""Shared test settings: hypothesis profile and headless matplotlib."""

import matplotlib
from hypothesis import settings

matplotlib.use("Agg")
settings.register_profile("course", deadline=None, max_examples=40, derandomize=True)
settings.load_profile("course")
