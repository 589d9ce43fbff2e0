"""Figures of the engine's shape: modules at the top of explorer/, the largest module, public names without a docstring.

    .venv/bin/python scripts/code_figures.py [FOLDER]     (default: explorer)
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path


def main(folder: str = "explorer") -> None:
    """Prints the figures for the package in ``folder``."""
    root = Path(folder)
    files = sorted(root.rglob("*.py"))
    lines = {path: len(path.read_text(encoding="utf-8").splitlines()) for path in files}
    counts = {"functions": [0, 0], "classes": [0, 0], "methods": [0, 0]}  # [public, without a docstring]
    for path in files:
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("_"):
                _count(counts["functions"], node)
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                _count(counts["classes"], node)
                for member in node.body:
                    if isinstance(member, (ast.FunctionDef, ast.AsyncFunctionDef)) and not member.name.startswith("_"):
                        _count(counts["methods"], member)
    largest = max(files, key=lambda path: lines[path])
    print(f"{len(files)} modules, {sum(lines.values())} lines; {len(list(root.glob('*.py')))} at the top of {root}/")
    print(f"largest: {largest} ({lines[largest]} lines)")
    for kind, (public, undocumented) in counts.items():
        print(f"public {kind}: {public}, without a docstring: {undocumented}")


def _count(tally: list[int], node: ast.AST) -> None:
    tally[0] += 1
    tally[1] += ast.get_docstring(node) is None  # type: ignore[arg-type]


if __name__ == "__main__":
    main(*sys.argv[1:2])
