"""Helpers that test modules import (not tests themselves): running the command line and checking its errors.

Fixtures live in conftest.py; test modules import helpers from here, never from conftest or from each other.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def cli_error(monkeypatch, capsys, *args) -> str:
    """Run the real entry point in-process; assert a one-line error with exit code 2 and return it."""
    from interfacegan.cli import main

    monkeypatch.setattr(sys, "argv", ["interfacegan", *map(str, args)])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "Traceback" not in err and len(err.splitlines()) == 1, err
    return " ".join(err.split())


def cli_path() -> str:
    """The installed `interfacegan` console script next to this interpreter."""
    return str(BIN / "interfacegan")
