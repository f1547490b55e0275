"""Maintainer tools for the course notebooks (not imported by students)."""
