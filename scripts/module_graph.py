"""Print the shape of a package: modules, largest module, longest functions, import circles.

Usage: python scripts/module_graph.py [src/sie/core]

Imports inside functions count as edges too (marked "hidden"): a circle that only closes through
one is still a circle. Used for the before/after figures of refactors and kept honest by CI's
import-linter contract.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path


def import_root(root: Path) -> Path:
    """The folder on sys.path that holds the package (the first parent without `__init__.py`)."""
    while (root / "__init__.py").exists():
        root = root.parent
    return root


def module_name(path: Path, base: Path) -> str:
    parts = list(path.relative_to(base).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def resolve(node: ast.ImportFrom, current: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = current.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imports_of(tree: ast.Module, current: str, is_package: bool, known: set[str]) -> list[tuple[str, bool]]:
    """(imported module, hidden inside a function) for each import of a known module."""
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, hidden: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inside = hidden or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                found.extend((alias.name, inside) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                target = resolve(child, current, is_package)
                for alias in child.names:
                    candidate = f"{target}.{alias.name}"
                    found.append((candidate if candidate in known else target, inside))
            visit(child, inside)

    visit(tree, False)
    return [(name, hidden) for name, hidden in found if name in known and name != current]


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in list(graph):
        if node not in index:
            connect(node)
    return found


def main(root: Path) -> None:
    files = sorted(root.rglob("*.py"))
    base = import_root(root)
    names = {module_name(path, base): path for path in files}
    known = set(names)
    graph: dict[str, set[str]] = defaultdict(set)
    hidden: list[str] = []
    functions: list[tuple[int, str]] = []
    for name, path in names.items():
        tree = ast.parse(path.read_text())
        graph[name]
        for target, inside in imports_of(tree, name, path.name == "__init__.py", known):
            graph[name].add(target)
            if inside:
                hidden.append(f"{name} -> {target}")
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                functions.append((length, f"{name}.{node.name}"))
    sizes = sorted(((len(path.read_text().splitlines()), name) for name, path in names.items()), reverse=True)
    functions.sort(reverse=True)
    print(f"modules: {len(names)} ({sum(size for size, _ in sizes)} lines)")
    print("largest modules: " + ", ".join(f"{name} {size}" for size, name in sizes[:5]))
    print("longest functions: " + ", ".join(f"{name} {length}" for length, name in functions[:5]))
    print(f"modules over 300 lines: {sum(1 for size, _ in sizes if size > 300)}")
    print(f"functions over 40 lines: {sum(1 for length, _ in functions if length > 40)}")
    found = circles(graph)
    print(f"circles: {len(found)}")
    for component in found:
        print("  " + " <-> ".join(component))
    print(f"imports hidden inside functions: {len(hidden)}")
    for edge in sorted(hidden):
        print("  " + edge)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "src/sie/core"))
