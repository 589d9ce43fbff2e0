"""The engine's shape: it never imports streamlit, its layers import only downwards, every public name says
what it is."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENGINE = ROOT / "explorer"

# From the bottom up: a module may import its own layer and the layers below it, never one above.
LAYERS = (
    {"records", "errors", "settings", "sqlite_files", "hosts", "grades", "time_left", "process_end"},  # the basics
    {"loading"},  # data in
    {"inference"},  # running a model fast
    {"models", "remote"},  # which model, and where it came from (here, or behind a rerank API)
    {"retrieval", "rerank", "signals"},  # the two stages, and the signals mixed into the second
    {"pipeline", "spec", "milvus_pipeline"},  # both stages together, and the one way to open them
    {"evaluation", "attention", "explain", "views", "training", "judging", "export"},  # what is made of results
    {"bench", "serving", "integrations"},  # measuring; serving a pipeline; plugging it into other frameworks
    {"cli", "__main__"},  # a door
)


def engine_modules() -> list[str]:
    """Every module of the engine, subpackages included, by dotted name."""
    names = []
    for path in sorted(ENGINE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append(".".join(parts))
    return names


def layer_of(module: str) -> int:
    """The layer of ``explorer.X...`` (by its first part below ``explorer``)."""
    part = module.split(".")[1] if "." in module else "__init__"
    if part == "__init__":
        return 0
    for number, layer in enumerate(LAYERS):
        if part in layer:
            return number
    raise AssertionError(f"{module} belongs to no layer: add {part!r} to LAYERS in this test")


def imported_engine_modules(path: Path) -> set[str]:
    """Engine modules ``path`` imports, at the top or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("explorer"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("explorer")}
    return found


def test_engine_imports_no_streamlit():
    modules = [name for name in engine_modules() if not name.endswith("__main__")]
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "assert 'streamlit' not in sys.modules, 'explorer imported streamlit'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert len(modules) >= 60 and any(name.startswith("explorer.retrieval.") for name in modules)


def test_layers_import_only_downwards():
    upward = []
    for path in sorted(ENGINE.rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for target in imported_engine_modules(path):
            if target != "explorer" and layer_of(target) > layer_of(module):
                upward.append(f"{module} -> {target}")
    assert not upward, "imports from a lower layer up to a higher one:\n" + "\n".join(upward)


def test_a_higher_module_importing_a_lower_one_is_allowed_and_the_reverse_is_caught():
    assert layer_of("explorer.cli.search") > layer_of("explorer.spec") > layer_of("explorer.rerank.scoring")
    assert layer_of("explorer.inference.engine") < layer_of("explorer.evaluation.runner")


def test_every_public_function_and_class_of_the_engine_has_a_docstring():
    missing = []
    for path in sorted(ENGINE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            named = isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            if named and not node.name.startswith("_") and ast.get_docstring(node) is None:
                missing.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                for member in node.body:
                    method = isinstance(member, (ast.FunctionDef, ast.AsyncFunctionDef))
                    if method and not member.name.startswith("_") and ast.get_docstring(member) is None:
                        missing.append(f"{path.relative_to(ROOT)}:{member.lineno} {node.name}.{member.name}")
    assert not missing, f"{len(missing)} public names without a docstring:\n" + "\n".join(missing)
