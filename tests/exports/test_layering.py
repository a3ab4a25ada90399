"""The import rules of exports/ (DESIGN.md "Layout"), checked on the source text.

One subpackage per imagery source: neither imports the other (what both need lives at the
top of exports/), and exports/ never imports pipeline/ or benchmark/.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

EXPORTS = Path(__file__).resolve().parents[2] / "exports"
FORBIDDEN = {
    "gee": ("exports.stac", "pipeline", "benchmark"),
    "stac": ("exports.gee", "pipeline", "benchmark"),
    "": ("pipeline", "benchmark"),
}


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside a function."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.add(node.module)
    return out


@pytest.mark.parametrize("subpackage", sorted(FORBIDDEN))
def test_no_import_across_sources_or_upwards(subpackage: str) -> None:
    root = EXPORTS / subpackage if subpackage else EXPORTS
    files = sorted(root.rglob("*.py"))
    assert files
    bad = [
        f"{path.relative_to(EXPORTS.parent)} imports {module}"
        for path in files
        for module in sorted(imported_modules(path))
        if any(module == f or module.startswith(f + ".") for f in FORBIDDEN[subpackage])
    ]
    assert bad == []
