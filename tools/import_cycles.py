"""Find import cycles among the project's own modules, and among its parts.

    python tools/import_cycles.py          # prints each cycle or wrong-way import; exit 1 if any

Every `import` and `from ... import` of a project module counts, at the top of a file or inside a
function (a function-level import still ties the two modules together). Tests are left out: they
import the package, the package never imports them.

A part is a top-level file or folder (`mlp_lm`, `nplm`, `lm`, ...). Parts are checked twice: their
graph has no cycle, and each part imports only parts of its own layer or the layers below it in
`LAYERS`, so that the course's files never import the runs, the command line or the extras built
on them.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SKIP = {".venv", "tests", "tools", ".git", "plots", "reference", "docs"}

# The parts from the bottom up. The course's files (mlp, mlp_lm) stand on utils and the pieces they
# are built from; the runs, extras and the command line stand on them.
LAYERS = (
    ("utils",),
    ("common",),
    ("nplm",),
    ("mlp", "mlp_lm"),
    ("sweeps", "lm", "sentiment", "written"),
    ("benchmarks", "cli"),
    ("main",),
)


def project_modules(root: Path = REPO) -> dict[str, Path]:
    """{dotted name: path} of every module of the project (packages by their __init__)."""
    modules = {}
    for path in root.rglob("*.py"):
        rel = path.relative_to(root)
        if rel.parts[0] in SKIP or any(part.startswith(".") for part in rel.parts):
            continue
        parts = list(rel.with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        if parts:
            modules[".".join(parts)] = path
    return modules


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules that module `name` imports, anywhere in its file."""
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package, up level - 1
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from pkg import mod` imports the module pkg.mod when there is one
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return out


def import_graph(root: Path = REPO) -> dict[str, set[str]]:
    modules = project_modules(root)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def part_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The modules' graph folded into parts (a module's part is its top-level name)."""
    parts: dict[str, set[str]] = {}
    for name, targets in graph.items():
        part = name.partition(".")[0]
        parts.setdefault(part, set()).update(t.partition(".")[0] for t in targets)
        parts[part].discard(part)
    return parts


def wrong_way(parts: dict[str, set[str]], layers=LAYERS) -> list[str]:
    """Each import of a part from a higher layer, and each part that no layer names."""
    layer_of = {part: i for i, layer in enumerate(layers) for part in layer}
    problems = [
        f"{p}: a part that tools/import_cycles.py's LAYERS does not place"
        for p in sorted(set(parts) - set(layer_of))
    ]
    for part in sorted(set(parts) & set(layer_of)):
        for target in sorted(parts[part] & set(layer_of)):
            if layer_of[target] > layer_of[part]:
                problems.append(f"{part} imports {target}, a part above it")
    return problems


def main() -> int:
    graph = import_graph()
    parts = part_graph(graph)
    found, part_cycles, upward = cycles(graph), cycles(parts), wrong_way(parts)
    for component in found:
        print("import cycle: " + " <-> ".join(component))
    for component in part_cycles:
        print("import cycle between parts: " + " <-> ".join(component))
    for problem in upward:
        print("wrong way: " + problem)
    print(
        f"{len(graph)} modules, {sum(map(len, graph.values()))} imports, {len(found)} cycle(s); "
        f"{len(parts)} parts, {len(part_cycles)} cycle(s), {len(upward)} wrong-way import(s)"
    )
    return 1 if found or part_cycles or upward else 0


if __name__ == "__main__":
    sys.exit(main())
