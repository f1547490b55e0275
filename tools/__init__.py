"""The instructors' and maintainers' tools (never published); ``python -m tools.grading`` is their command line.

Every tools process (the command, each grading worker, the referee) imports nbformat through nbgrader, and
nbformat imports jsonschema, whose format checkers import rfc3987-syntax, which builds about 35 Lark parsers for
the IRI formats at import: 3.1 s per process on this project's machine (jsonschema issue #1428). No schema these
tools validate (notebooks, nbgrader's, Jupyter's events) uses an IRI format, so they import jsonschema without
that checker (it is then skipped, as when the package is not installed): the import of nbformat takes 0.3 s.
"""

import sys

sys.modules.setdefault("rfc3987_syntax", None)
