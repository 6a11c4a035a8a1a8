"""The `interfacegan` command line: a thin layer over the Python API (one module per command group)."""

from __future__ import annotations

import logging
import sys
from typing import Annotated, Optional

import typer

app = typer.Typer(
    name="interfacegan",
    help="Find the semantics a GAN learned in its latent space (InterFaceGAN, SeFa) and edit images with them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def global_options(
    threads: Annotated[
        Optional[int],
        typer.Option(min=1, help="Threads for torch, onnxruntime and OpenMP (default: $INTERFACEGAN_THREADS, "
                                 "else the cores this process may use).", show_default=False),  # fmt: skip
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log what the library does.")] = False,
) -> None:
    """Options of every command, applied before the command loads any model."""
    from interfacegan.threads import configure_threads

    _configure_logging(logging.INFO if verbose else logging.WARNING)
    configure_threads(threads)


def _configure_logging(level: int) -> None:
    """The library logs through the `interfacegan` logger hierarchy; the CLI shows it on stderr."""
    from rich.console import Console
    from rich.logging import RichHandler

    logger = logging.getLogger("interfacegan")
    if not any(getattr(h, "_interfacegan_cli", False) for h in logger.handlers):
        handler = RichHandler(console=Console(stderr=True), show_time=False, show_path=False)
        handler._interfacegan_cli = True
        logger.addHandler(handler)
    logger.setLevel(level)


def _is_usage_error(exc: BaseException) -> bool:
    """A command-line usage error of click or typer (either's own classes): it has `exit_code` and
    `format_message`. Recognised by behaviour, so a typer release that moves its exception classes changes nothing."""
    return isinstance(getattr(exc, "exit_code", None), int) and callable(getattr(exc, "format_message", None))


def _usage_error_line(exc: BaseException) -> str | None:
    """'MESSAGE (see `COMMAND --help`)' for a usage error, or None for a command run without arguments, whose help
    page typer has printed already (or returned as the message, which is then printed as it is)."""
    message = exc.format_message().strip()
    if not message or "\n" in message:
        return None
    return f"{message} (see `{_command_path(exc)} --help`)"


def _command_path(exc: BaseException) -> str:
    """'interfacegan edit' for an error of `edit`: the failing context's path, else (an option's values missing,
    found by the parser before the command has a context: `--range 1`) the command the arguments name."""
    from interfacegan.cli.flags import invoked_context

    ctx = getattr(exc, "ctx", None)
    if ctx is not None:
        return ctx.command_path
    try:
        return invoked_context(typer.main.get_command(app), sys.argv[1:]).command_path
    except Exception:  # the path only helps the message: never lose the message for it
        return "interfacegan"


def _in_option_words(message: str) -> str:
    """A library message with the invoked command's parameters written as its options (`cli.flags`)."""
    from interfacegan.cli.flags import invoked_command, with_option_names

    try:
        command = invoked_command(typer.main.get_command(app), sys.argv[1:])
    except Exception:  # the message itself matters more than its wording: never lose it
        return message
    return with_option_names(message, command)


def main() -> None:
    """Console entry point: user errors and usage errors become one red line and exit code 2, never a traceback."""
    from rich.console import Console
    from rich.markup import escape

    from interfacegan.cli.options import printable
    from interfacegan.errors import InterfaceGANError

    stderr = Console(stderr=True, soft_wrap=True)
    try:
        status = app(standalone_mode=False)
    except InterfaceGANError as exc:
        stderr.print(f"[bold red]error:[/] {escape(printable(_in_option_words(str(exc))))}", highlight=False)
        sys.exit(2)
    except KeyboardInterrupt:
        status = 130
    except Exception as exc:
        if not _is_usage_error(exc):
            raise
        line = _usage_error_line(exc)
        if line is not None:
            stderr.print(f"[bold red]error:[/] {escape(line)}", highlight=False)
        elif exc.format_message().strip():  # a help page handed over as the message
            print(exc.format_message().strip(), file=sys.stderr)
        sys.exit(2)
    if status == 130:  # typer turns Ctrl-C into exit code 130
        stderr.print("[yellow]interrupted[/]: run the same command again to resume")
    if isinstance(status, int) and status:
        sys.exit(status)


# Each command module adds its commands to `app` when imported (kept at the bottom: they import `app`).
from interfacegan.cli import store_commands  # noqa: E402,F401
from interfacegan.cli import semantics  # noqa: E402,F401
from interfacegan.cli import ganspace  # noqa: E402,F401
from interfacegan.cli import analyze  # noqa: E402,F401
from interfacegan.cli import demo  # noqa: E402,F401
from interfacegan.cli import ui  # noqa: E402,F401
from interfacegan.cli import invert  # noqa: E402,F401
from interfacegan.cli import translate  # noqa: E402,F401
from interfacegan.cli import face  # noqa: E402,F401
