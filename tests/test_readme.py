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


def _readme_commands() -> list[list[str]]:
    """Every `interfacegan ...` command line of the README (code blocks and inline code), as argument lists."""
    import shlex

    text = README.read_text(encoding="utf-8")
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        lines += [line.split(" #")[0] for line in block.replace("\\\n", " ").splitlines()]
    lines += re.findall(r"`(interfacegan [^`]*)`", text)
    commands = []
    for line in lines:
        if "interfacegan " in line and not line.lstrip().startswith("#"):
            words = shlex.split(line[line.index("interfacegan "):])
            commands.append(words[1:])
    return commands


def test_readme_commands_use_options_that_exist():
    """A newcomer types the README's commands as printed: every command, subcommand and option in them exists."""
    import typer

    from interfacegan.cli import app

    commands = _readme_commands()
    assert len(commands) >= 25
    top = typer.main.get_command(app)
    wrong = []
    for args in commands:
        command, words = top, list(args)
        while words and hasattr(command, "commands"):  # a group (typer vendors its own click)
            word = words.pop(0)
            if word.startswith("-"):  # an option of the group (--threads N): skip its value
                option = _option(command, word)
                wrong += [] if option else [f"{' '.join(args)}: {word}"]
                words = words[1:] if option and not option.is_flag else words
                continue
            if word.isupper():  # a placeholder: `interfacegan --threads N COMMAND ...`
                break
            sub = command.get_command(None, word)
            if sub is None and command.name == "analyze":  # `analyze RUN ...` is `analyze all RUN ...`
                sub = command.get_command(None, "all")
            elif sub is None:
                wrong.append(f"{' '.join(args)}: {word}")
                break
            command = sub
        wrong += [f"{' '.join(args)}: {w}" for w in words if re.match(r"--?[a-zA-Z]", w) and not _option(command, w)]
    assert not wrong, f"the README types what the commands do not take: {wrong}"


def _option(command, word: str):
    flag = word.split("=")[0]
    return next((p for p in command.params if flag in p.opts or flag in p.secondary_opts), None)
