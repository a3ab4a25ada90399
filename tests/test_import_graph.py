"""The import rules of ARCHITECTURE.md, read from the source with ``ast``.

Every import counts: at the top, inside functions, under ``TYPE_CHECKING``, and the
registries' lazy ``"module:function"`` references. The flow is one-way (lucas → exports →
pipeline; benchmark imports lucas and exports only), there is no cycle anywhere in the four
packages, the two source subpackages never import each other, and the demo generator is a
leaf that only ``etl demo`` imports.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("lucas", "exports", "pipeline", "benchmark")
ALLOWED = {
    "lucas": {"lucas"},
    "exports": {"lucas", "exports"},
    "pipeline": {"lucas", "exports", "pipeline"},
    "benchmark": {"lucas", "exports", "benchmark"},
}
_REFERENCE = re.compile(r"(lucas|exports|pipeline|benchmark)(\.\w+)+:\w+")


def _modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


MODULES = _modules()


def _imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and (
            _REFERENCE.fullmatch(node.value)
        ):
            names.add(node.value.partition(":")[0])
    return names


def _graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module → first-party modules it imports. Importing ``a.b.c`` also runs ``a.b``'s
    ``__init__``, an edge unless ``a.b`` is a package the importer itself lives in (Python
    has run that ``__init__`` already, so it is no dependency of the importer's)."""
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        own = {".".join(module.split(".")[:i]) for i in range(1, module.count(".") + 1)}
        for name in _imported(path):
            parts = name.split(".")
            for i in range(1, len(parts) + 1):
                target = ".".join(parts[:i])
                if target in modules and target != module and target not in own:
                    graph[module].add(target)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycle_in_the_four_packages() -> None:
    assert _cycle(_graph(MODULES)) is None


def test_the_flow_is_one_way() -> None:
    reversed_edges = [
        f"{module} imports {name}"
        for module, path in sorted(MODULES.items())
        for name in sorted(_imported(path))
        if name.split(".")[0] in PACKAGES
        and name.split(".")[0] not in ALLOWED[module.split(".")[0]]
    ]
    assert reversed_edges == []


@pytest.mark.parametrize(("subpackage", "other"), [
    ("exports.gee", "exports.stac"), ("exports.stac", "exports.gee"),
    # Radar sources reuse their Sentinel-2 sibling's machinery, never the other family's.
    ("exports.s1stac", "exports.s1gee"), ("exports.s1gee", "exports.s1stac"),
    ("exports.s1stac", "exports.gee"), ("exports.s1gee", "exports.stac"),
    # The Sentinel-2 sources know nothing of radar.
    ("exports.stac", "exports.s1"), ("exports.gee", "exports.s1"),
])
def test_a_source_never_imports_another_source(subpackage: str, other: str) -> None:
    bad = [f"{m} imports {n}" for m, p in MODULES.items() if m.startswith(subpackage + ".")
           for n in _imported(p) if n == other or n.startswith(other + ".")]
    assert bad == []


def test_the_demo_generator_is_a_leaf() -> None:
    users = sorted(m for m, p in MODULES.items() if not m.startswith("pipeline.demo")
                   and any(n.startswith("pipeline.demo") for n in _imported(p)))
    assert users == ["pipeline.cli.demo"]


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
