"""The package layering of docs/architecture.md, checked statically and at import time."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _imports(package: str) -> dict[str, set[str]]:
    """Top-level module names imported by each file of ``package``."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


def test_grammar_imports_no_project_package():
    bad = {f: n & {"omrformer", "synth"} for f, n in _imports("grammar").items() if n & {"omrformer", "synth"}}
    assert not bad, f"grammar must not import project packages: {bad}"


def test_grammar_imports_torch_only_in_its_torch_modules():
    allowed = {"grammar/logits.py", "grammar/loss.py"}
    bad = [f for f, n in _imports("grammar").items() if "torch" in n and f not in allowed]
    assert not bad, f"torch imported outside grammar/logits.py and grammar/loss.py: {bad}"


def test_synth_imports_neither_omrformer_nor_torch():
    forbidden = {"omrformer", "torch", "lightning", "transformers", "timm"}
    bad = {f: n & forbidden for f, n in _imports("synth").items() if n & forbidden}
    assert not bad, f"synth must stay torch-free and must not import omrformer: {bad}"


@pytest.mark.parametrize(
    "module, absent",
    [
        ("grammar", {"torch", "lightning"}),
        ("synth", {"torch"}),
        ("omrformer.cli", {"torch", "lightning"}),
    ],
)
def test_light_entry_points_do_not_import_heavy_packages(module, absent):
    code = (
        f"import sys, importlib; importlib.import_module({module!r}); "
        f"print(','.join(sorted(m for m in {sorted(absent)!r} if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"importing {module} pulled in {out.stdout.strip()}"


def _grammar_graph() -> dict[str, set[str]]:
    """grammar module -> the grammar modules it imports (any level, lazy imports included)."""
    graph: dict[str, set[str]] = {}
    for path in sorted((ROOT / "grammar").rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        name = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name.startswith("grammar")}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                if node.module == "grammar":  # ``from grammar import classes``: submodules by name
                    deps |= {f"grammar.{a.name}" for a in node.names}
                elif node.module.startswith("grammar."):
                    deps.add(node.module)
        graph[name] = deps
    # ``from grammar import X`` names a submodule or a re-export of the package; keep modules only.
    return {m: {d for d in deps if d in graph and d != m} for m, deps in graph.items()}


def test_grammar_modules_import_each_other_without_a_cycle():
    graph = _grammar_graph()
    graph.pop("grammar", None)  # the package facade re-exports; nothing inside imports it as a module
    assert {"grammar.state", "grammar.rules", "grammar.automaton"} <= set(graph)
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            cycle = path[path.index(module):] + [module]
            raise AssertionError("import cycle in grammar: " + " -> ".join(cycle))
        if module in done:
            return
        for dep in sorted(graph.get(module, ())):
            visit(dep, [*path, module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])


def test_automaton_layers_read_top_down():
    """state <- lookahead <- rules <- automaton: no layer imports one that builds on it."""
    graph = _grammar_graph()
    layers = ["grammar.state", "grammar.lookahead", "grammar.rules", "grammar.automaton"]
    for i, module in enumerate(layers):
        later = set(layers[i + 1:])
        assert not graph[module] & later, f"{module} imports {graph[module] & later}, which build on it"


def test_every_imported_grammar_module_is_in_this_checkout():
    """An editable install of another checkout would otherwise supply a module deleted here."""
    grammar_modules = set(_grammar_graph())
    stale: set[tuple[str, str]] = set()
    for package in ("grammar", "omrformer", "synth", "tests", "experiments"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                names: list[str] = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                    if node.module == "grammar":  # ``from grammar import masks``: maybe a module
                        names += [f"grammar.{a.name}" for a in node.names if a.name.islower()]
                for name in names:
                    if name.startswith("grammar.") and name not in grammar_modules:
                        if name.count(".") == 1 and name.split(".")[1] in _grammar_exports():
                            continue  # a name the package re-exports, not a module
                        stale.add((str(path.relative_to(ROOT)), name))
    assert not stale, f"imports of grammar modules that do not exist here: {sorted(stale)}"


def _grammar_exports() -> set[str]:
    """Names ``grammar/__init__.py`` defines or re-exports (``from grammar import validate``)."""
    tree = ast.parse((ROOT / "grammar" / "__init__.py").read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            names |= {a.asname or a.name for a in node.names}
        elif isinstance(node, (ast.FunctionDef, ast.Assign)):
            names |= {t.id for t in getattr(node, "targets", []) if isinstance(t, ast.Name)}
            if isinstance(node, ast.FunctionDef):
                names.add(node.name)
    return names
