"""The import rules of DESIGN.md, read from the source (function-local and TYPE_CHECKING
imports included, and the registry's ``"module:function"`` references): ``benchmark``
imports only ``lucas``, ``exports`` and itself, without cycles, and ``pipeline`` never
imports ``benchmark``."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
_REFERENCE = re.compile(r"benchmark(\.\w+)+:\w+")


def _modules(package: str) -> dict[str, Path]:
    out = {}
    for path in (REPO / package).rglob("*.py"):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and (
            _REFERENCE.fullmatch(node.value)
        ):
            names.add(node.value.partition(":")[0])
    return names


def _graph() -> dict[str, set[str]]:
    """Module → the benchmark modules it imports, packages' ``__init__`` included (importing
    ``a.b.c`` runs ``a/__init__`` and ``a/b/__init__``)."""
    modules = _modules("benchmark")
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        for name in _imported(path):
            parts = name.split(".")
            for i in range(1, len(parts) + 1):
                target = ".".join(parts[:i])
                if target in modules and target != module:
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


def test_benchmark_has_no_import_cycle() -> None:
    assert _cycle(_graph()) is None


def test_benchmark_imports_only_lucas_exports_and_itself() -> None:
    first_party = {"lucas", "exports", "pipeline", "benchmark", "tests", "bench"}
    offenders = {
        module: sorted(n for n in _imported(path) if n.split(".")[0] in first_party - {
            "lucas", "exports", "benchmark"})
        for module, path in _modules("benchmark").items()
    }
    assert {m: n for m, n in offenders.items() if n} == {}


def test_pipeline_never_imports_benchmark() -> None:
    offenders = [module for module, path in _modules("pipeline").items()
                 if any(n.split(".")[0] == "benchmark" for n in _imported(path))]
    assert offenders == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
