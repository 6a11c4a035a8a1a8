"""Rules of the test suite itself: test modules do not import each other (helpers live in non-test modules)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).parent
# Imports between test modules that predate the rule, to be moved into helper modules by the modules' owners.
KNOWN: set[tuple[str, str]] = set()


def _imported_test_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {name.split(".")[-1] for name in names if name.split(".")[-1].startswith(("test_", "conftest"))}


def test_no_test_module_imports_another():
    found = set()
    for path in sorted(TESTS.glob("test_*.py")):
        for other in _imported_test_modules(path) - {"conftest"}:
            found.add((path.stem, other))
    assert found <= KNOWN, f"move what these share into a helper module (like tests/helpers.py): {found - KNOWN}"
