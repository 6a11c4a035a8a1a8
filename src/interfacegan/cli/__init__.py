"""The `interfacegan` command line: a thin layer over the Python API (one module per command group)."""

from __future__ import annotations

import sys

import typer

app = typer.Typer(
    name="interfacegan",
    help="Find the semantics a GAN learned in its latent space (InterFaceGAN, SeFa) and edit images with them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def main() -> None:
    """Console entry point: user errors become one red line and exit code 2, never a traceback."""
    from rich.console import Console

    from interfacegan.errors import InterfaceGANError

    try:
        app(standalone_mode=False)
    except InterfaceGANError as exc:
        from rich.markup import escape

        Console(stderr=True).print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        Console(stderr=True).print("[yellow]interrupted[/]: run the same command again to resume")
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:  # click's own usage errors
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(1)
        raise


# Each command module adds its commands to `app` when imported (kept at the bottom: they import `app`).
from interfacegan.cli import store_commands  # noqa: E402,F401
from interfacegan.cli import semantics  # noqa: E402,F401
from interfacegan.cli import analyze  # noqa: E402,F401
from interfacegan.cli import demo  # noqa: E402,F401
from interfacegan.cli import ui  # noqa: E402,F401
from interfacegan.cli import invert  # noqa: E402,F401
from interfacegan.cli import translate  # noqa: E402,F401
from interfacegan.cli import face  # noqa: E402,F401
