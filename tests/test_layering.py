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
