"""coursekit: the course's visible checks (feedback), diagrams (pictures) and ipywidgets (widgets), built on mlpkit.

``mlpkit`` is the small library the slides teach; this package is the course's furniture around it. Import each
module on its own: ``from coursekit import feedback`` (the exercises' test cells), ``from coursekit import pictures``
(the lectures' diagrams) and ``import coursekit.widgets`` (the lectures' explorers; it needs ipywidgets).
Importing ``coursekit`` itself loads none of them, so the grader can replace ``coursekit.feedback`` before a
notebook imports it (tools/referee/child.py).
"""
