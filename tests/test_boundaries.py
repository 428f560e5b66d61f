"""Package boundaries: consent/ stands alone and never imports idp (STYLE.md §1)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONSENT_FILES = sorted((ROOT / "consent").rglob("*.py"))


def idp_imports(source: str) -> list[str]:
    """Every import of idp in a module's source: `import idp...`, `from idp... import`,
    and `importlib.import_module("idp...")` / `__import__("idp...")` with a literal name."""
    found = []
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            if called in ("import_module", "__import__") and isinstance(first, ast.Constant):
                names = [str(first.value)]
        found += [name for name in names if name == "idp" or name.startswith("idp.")]
    return found


def test_consent_package_has_modules() -> None:
    names = {path.name for path in CONSENT_FILES}
    assert {"api.py", "models.py", "service.py"} <= names


@pytest.mark.parametrize("path", CONSENT_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_consent_never_imports_idp(path: Path) -> None:
    assert idp_imports(path.read_text("utf-8")) == []


@pytest.mark.parametrize(
    "source",
    [
        "import idp",
        "import idp.db as db",
        "import os, idp.oidc",
        "from idp import db",
        "from idp.errors import IdpError",
        "def f():\n    from idp.db import utcnow\n",
        "import importlib\nimportlib.import_module('idp.db')",
        "__import__('idp')",
    ],
)
def test_the_check_finds_idp_imports(source: str) -> None:
    assert idp_imports(source)


@pytest.mark.parametrize(
    "source",
    ["import idpx", "from consent import api", "from . import models", "import sqlalchemy"],
)
def test_the_check_ignores_other_imports(source: str) -> None:
    assert idp_imports(source) == []


def test_idp_uses_only_the_consent_api() -> None:
    """idp calls consent through consent.api alone (STYLE.md §1)."""
    offenders = []
    for path in sorted((ROOT / "idp").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            offenders += [
                f"{path.relative_to(ROOT)}: {name}"
                for name in names
                if name.startswith("consent") and not name.startswith("consent.api")
            ]
    assert offenders == []
