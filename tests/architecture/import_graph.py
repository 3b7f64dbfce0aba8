"""The project's import graph read from source with `ast` (nothing is imported or executed).

Every `import x` and `from x import y` counts, at module level or inside a function: a lazy
import is still a dependency. Edges are kept per module with the line, so a failing check can
say where the offending import is.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ImportEdge:
    importer: str
    imported: str
    line: int

    def __str__(self) -> str:
        return f"{self.importer}:{self.line} imports {self.imported}"


def top_level_packages(root: Path) -> list[str]:
    """The installable packages at the repository root (tests excluded)."""
    return sorted(
        p.name for p in root.iterdir() if (p / "__init__.py").is_file() and p.name != "tests"
    )


def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    keep = len(base) - node.level + (1 if is_package else 0)
    return ".".join(base[:keep] + ([node.module] if node.module else []))


def module_edges(root: Path, packages: Iterable[str]) -> list[ImportEdge]:
    """Every import of one of `packages` made by a module of `packages`."""
    wanted = set(packages)
    edges = []
    for package in sorted(wanted):
        for path in sorted((root / package).rglob("*.py")):
            module = _module_name(root, path)
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    targets = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom):
                    targets = [_resolve(module, path.name == "__init__.py", node)]
                else:
                    continue
                edges += [
                    ImportEdge(module, t, node.lineno) for t in targets if t.split(".")[0] in wanted
                ]
    return edges


def unit_graph(
    edges: Iterable[ImportEdge], unit_of: Callable[[str], str | None]
) -> dict[tuple[str, str], list[ImportEdge]]:
    """Edges grouped by (importer unit, imported unit); modules outside any unit are dropped."""
    grouped: dict[tuple[str, str], list[ImportEdge]] = defaultdict(list)
    for edge in edges:
        source, target = unit_of(edge.importer), unit_of(edge.imported)
        if source is not None and target is not None and source != target:
            grouped[(source, target)].append(edge)
    return dict(grouped)


def cycles(graph: Iterable[tuple[str, str]]) -> list[frozenset[str]]:
    """The strongly connected components with more than one unit (Tarjan)."""
    successors: dict[str, set[str]] = defaultdict(set)
    for source, target in graph:
        successors[source].add(target)
        successors.setdefault(target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(successors[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for node in sorted(successors):
        if node not in index:
            visit(node)
    return found
