"""The layering rule of docs/architecture.md, read from the package's own imports.

Every module belongs to a layer; a module may import from its own layer and the layers below,
never from a layer above, and no chain of imports between modules comes back to where it
started. Imports inside ``if __name__ == "__main__":`` count as the command layer's: they are
the old ``python -m`` names of commands handing over to ``musicgen.commands``.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "musicgen"

LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("foundation", ("musicgen", "musicgen.errors", "musicgen.paths", "musicgen.precision")),
    ("music", ("musicgen.music",)),
    ("data, models, metrics", ("musicgen.data", "musicgen.models", "musicgen.metrics")),
    ("sampling, render", ("musicgen.sampling", "musicgen.render")),
    ("callbacks", ("musicgen.callbacks",)),
    ("application", ("musicgen.training", "musicgen.resume", "musicgen.loggers",
                     "musicgen.evaluation", "musicgen.sweep", "musicgen.reward")),
    ("commands", ("musicgen.cli", "musicgen.commands", "musicgen.bench", "musicgen.evaluate",
                  "musicgen.demo")),
]  # fmt: skip
"""Bottom to top; a module's layer is the one naming its longest prefix."""


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> int:
    found = [
        (len(prefix), rank)
        for rank, (_, prefixes) in enumerate(LAYERS)
        for prefix in prefixes
        if module == prefix or module.startswith(prefix + ".")
    ]
    if not found:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS and docs/architecture.md")
    return max(found)[1]


def _is_main_block(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.If)
        and isinstance(node.test, ast.Compare)
        and isinstance(node.test.left, ast.Name)
        and node.test.left.id == "__name__"
    )


def imports_of(path: Path) -> list[tuple[str, int]]:
    """(musicgen module imported, line) for every import outside the ``__main__`` block,
    lazy ones inside functions included; ``from pkg import sub`` counts as ``pkg.sub``."""
    tree = ast.parse(path.read_text())
    skipped = {id(n) for block in tree.body if _is_main_block(block) for n in ast.walk(block)}
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names if a.name.startswith("musicgen")]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("musicgen"):
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.append((sub if sub in MODULES else node.module, node.lineno))
    return found


GRAPH = {module: imports_of(path) for module, path in MODULES.items()}


def test_every_module_belongs_to_a_layer():
    for module in MODULES:
        layer_of(module)


def test_no_module_imports_from_a_layer_above_its_own():
    upward = [
        f"{MODULES[module].relative_to(ROOT)}:{line}: {module} ({LAYERS[layer_of(module)][0]}) "
        f"imports {target} ({LAYERS[layer_of(target)][0]})"
        for module, imports in GRAPH.items()
        for target, line in imports
        if layer_of(target) > layer_of(module)
    ]
    assert upward == []


def find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """One chain of imports that comes back to its start, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for target in graph.get(module, []):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[module] = 2
        return None

    for module in graph:
        if module not in state and (cycle := visit(module)):
            return cycle
    return None


def test_no_chain_of_imports_comes_back_to_its_start():
    graph = {module: [target for target, _ in imports] for module, imports in GRAPH.items()}
    assert find_cycle(graph) is None


def test_the_cycle_finder_finds_a_cycle_and_passes_a_tree():
    assert find_cycle({"a": ["b"], "b": ["c"], "c": ["a"]}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": ["b", "c"], "b": ["c"], "c": []}) is None


def test_a_lazy_import_counts_and_an_old_command_name_does_not(tmp_path):
    module = tmp_path / "m.py"
    module.write_text(
        "def f():\n    from musicgen.commands.sample import sample\n"
        'if __name__ == "__main__":\n    from musicgen.commands.demo import main\n'
    )
    assert imports_of(module) == [("musicgen.commands.sample", 2)]


@pytest.mark.parametrize("name", ["evaluate", "demo", "sweep", "data/stats", "models/export", "render/curves"])
def test_each_old_command_name_hands_over_to_its_command(name):
    source = (PACKAGE / f"{name}.py").read_text()
    command = name.rsplit("/", 1)[-1]
    assert f"from musicgen.commands.{command} import main" in source


def test_test_modules_share_code_through_helpers_and_conftest_only():
    siblings = [
        f"{path.name}: imports {target}"
        for path in sorted((ROOT / "tests").rglob("test_*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom) and node.module
        for target in [node.module]
        if target.startswith("test_")
    ]
    assert siblings == []


def console_scripts() -> dict[str, str]:
    """``[project.scripts]`` of pyproject.toml (read by hand: tomllib is Python 3.11+)."""
    text = (ROOT / "pyproject.toml").read_text()
    section = text.split("[project.scripts]\n", 1)[1].split("\n[", 1)[0]
    return dict(re.findall(r'^([\w-]+) = "([^"]+)"$', section, flags=re.M))


def test_every_console_script_is_a_commands_main():
    scripts = console_scripts()
    commands = sorted(p.stem for p in (PACKAGE / "commands").glob("*.py") if p.stem != "__init__")
    assert sorted(name.removeprefix("musicgen-") for name in scripts) == commands
    for target in scripts.values():
        module, _, function = target.partition(":")
        assert module.startswith("musicgen.commands.") and function == "main"
        assert callable(getattr(importlib.import_module(module), function))
