"""The LUCAS survey: table readers, the canonical point record, code lists and legends.

This package is the bottom of the dependency graph (``lucas`` → ``exports`` → ``pipeline``),
so it also holds the project's exception hierarchy (:mod:`lucas.errors`).
"""
