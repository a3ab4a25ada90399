"""Fixtures of the reliability suite: the pipeline tests' tiny demo archive and reference run.

Re-exported from ``tests/pipeline/conftest.py`` so both suites damage, kill and compare
against exactly the same archive and the same uninterrupted run.
"""

from __future__ import annotations

from tests.pipeline.conftest import demo, reference  # noqa: F401
