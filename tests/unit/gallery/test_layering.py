"""Serving code (gallery, models) never imports training code: dependencies point one way."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import modiste

SRC = Path(modiste.__file__).parent


def _imported_modules(path: Path) -> set[str]:
    """Every module a file imports, including imports inside functions."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


def test_gallery_and_models_do_not_import_training() -> None:
    offenders = {
        str(p.relative_to(SRC)): sorted(m for m in _imported_modules(p) if "training" in m)
        for pkg in ("gallery", "models")
        for p in (SRC / pkg).rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_importing_the_classifier_loads_no_training_module() -> None:
    code = (
        "import sys, modiste.gallery.classifier as c; "
        "print(sorted(m for m in sys.modules if m.startswith('modiste.training')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]"
