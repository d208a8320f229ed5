"""`shared/` is what the services share; the front door (`carecoord/`) sits above both. An import
of `services` or `carecoord` from `shared/`, even one inside a function, turns that upside down."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
    return modules


def test_shared_imports_neither_the_services_nor_the_front_door():
    upward = {
        f"{path.relative_to(ROOT)}: {module}"
        for path in sorted((ROOT / "shared").rglob("*.py"))
        for module in imported_modules(path)
        if module.split(".")[0] in {"services", "carecoord"}
    }
    assert upward == set()


def test_the_services_do_not_import_the_front_door():
    upward = {
        f"{path.relative_to(ROOT)}: {module}"
        for path in sorted((ROOT / "services").rglob("*.py"))
        for module in imported_modules(path)
        if module.split(".")[0] == "carecoord"
    }
    assert upward == set()
