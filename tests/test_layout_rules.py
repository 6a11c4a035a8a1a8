"""Rules of the package layout that CONTRIBUTING.md states: every module is listed there, starts with a docstring,
and stays under 400 lines."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "interfacegan"
MAX_LINES = 400


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_contributing_lists_every_module_once_under_its_package():
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    listed, package = set(), ""
    for line in text.splitlines():
        heading = re.match(r"### `(?:src/interfacegan/|(\w+)/)`", line)
        if heading:
            package = heading.group(1) or ""
        row = re.match(r"\| `([\w./]+\.py)` \|", line)
        if row:
            listed.add(f"{package}/{row.group(1)}" if package else row.group(1))
    actual = {str(p.relative_to(PACKAGE)) for p in _modules()}
    assert actual - listed == set(), "add these modules to CONTRIBUTING.md's layout"
    assert listed - actual == set(), "CONTRIBUTING.md lists modules that do not exist"


def test_every_module_has_a_docstring_and_stays_small():
    for path in _modules():
        source = path.read_text(encoding="utf-8")
        assert ast.get_docstring(ast.parse(source)), f"{path.relative_to(ROOT)} needs a docstring: what and why"
        assert source.count("\n") < MAX_LINES, f"{path.relative_to(ROOT)} has {source.count(chr(10))} lines"
