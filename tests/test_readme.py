"""The README's Python example runs as printed (at a smaller sample count) and does what it says."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
# Dotted names in the README that are not Python: an ONNX metadata key and an entry-point group.
NOT_CODE = {"interfacegan.names", "interfacegan.scorers"}


def python_example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) == 1, "the README has one Python example"
    return blocks[0]


def test_readme_python_example_runs(tmp_path, monkeypatch, capsys):
    code = python_example()
    assert "num=20000" in code
    monkeypatch.chdir(tmp_path)
    exec(compile(code.replace("num=20000", "num=600"), "README.md", "exec"), {})
    accuracies = [float(x) for x in capsys.readouterr().out.strip().splitlines()[-1].split()]
    assert len(accuracies) == 2 and all(0.5 < a <= 1.0 for a in accuracies)
    assert sorted(p.name for p in (tmp_path / "runs/faces-boundaries").iterdir()) == ["eye_open_z.npz", "smile_z.npz"]
    assert (tmp_path / "edits/smile-given-eyes/grid.png").stat().st_size > 0


def test_readme_names_only_modules_and_functions_that_exist():
    """Every dotted `interfacegan.x.y` name in the README imports (a module, or an attribute of one)."""
    names = set(re.findall(r"`(interfacegan(?:\.\w+)+)", README.read_text(encoding="utf-8")))
    assert len(names) >= 5
    missing = []
    for name in sorted(names - NOT_CODE):
        try:
            importlib.import_module(name)
        except ModuleNotFoundError:
            module, _, attr = name.rpartition(".")
            if not hasattr(importlib.import_module(module), attr):
                missing.append(name)
    assert not missing, f"README names what does not exist: {missing}"
