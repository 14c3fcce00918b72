"""The layers of crud/ import downwards only: config, model, sql, http, ops, then the entry points."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

LAYERS = ("config", "model", "sql", "http", "ops")
MODULES = sorted(path for path in (ROOT / "crud").rglob("*.py") if path.parent != ROOT / "crud")


def _layer(path: Path) -> str:
    return path.relative_to(ROOT / "crud").parts[0]


def _imported_layers(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = ([node.module] if isinstance(node, ast.ImportFrom) and node.module else
                 [alias.name for alias in node.names] if isinstance(node, ast.Import) else [])
        for name in names:
            parts = name.split(".")
            if parts[0] == "crud" and len(parts) > 1:
                found.add(parts[1])
    return found


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(ROOT)) for p in MODULES])
def test_a_module_imports_only_its_own_layer_and_those_below(path: Path) -> None:
    allowed = set(LAYERS[:LAYERS.index(_layer(path)) + 1])
    assert _imported_layers(path) <= allowed


def test_the_legacy_profile_does_not_import_the_router() -> None:
    # Profiles are peers built from the same steps: the legacy one never reaches into routing.
    check = ("import sys, crud.http.profiles.legacy; "
             "print('crud.http.routing' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True,
                            check=True, cwd=ROOT)
    assert result.stdout.strip() == "False"


DIALECT_NAMES = ("postgresql", "mysql", "mariadb", "sqlite")


def _dialect_comparisons(path: Path) -> list[int]:
    """Lines comparing a dialect's name with a string: the Backend's business alone."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        names_dialect = any(isinstance(part, ast.Attribute) and part.attr == "name"
                            and any(word in ast.unparse(part.value)
                                    for word in ("dialect", "backend"))
                            for part in operands)
        literals = {constant.value for part in operands for constant in ast.walk(part)
                    if isinstance(constant, ast.Constant) and isinstance(constant.value, str)}
        if names_dialect or (literals & set(DIALECT_NAMES) and "dialect" in ast.unparse(node)):
            lines.append(node.lineno)
    return lines


OUTSIDE_BACKENDS = [path for path in MODULES if path.parent.name != "backends"]


@pytest.mark.parametrize("path", OUTSIDE_BACKENDS,
                         ids=[str(p.relative_to(ROOT)) for p in OUTSIDE_BACKENDS])
def test_only_the_backends_compare_dialect_names(path: Path) -> None:
    assert _dialect_comparisons(path) == []
