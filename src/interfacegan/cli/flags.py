"""Library messages in the command line's words: the API names its parameters (`batch_size`, `sefa_layers`);
printed by a command, those names become that command's options (`--batch-size`, `--sefa-layers`)."""

from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

# Commands and options are recognised by behaviour (`get_command`, `param_type_name`), not by class: typer may build
# them from its own copy of click, whose classes are not the `click` package's.


def invoked_context(root: Any, argv: Sequence[str]) -> Any:
    """A context of the command `argv` names below `root` (the deepest group or command reached; options and values
    skipped): its `.command`, and its `.command_path` such as 'interfacegan edit'. Nothing is parsed or run."""
    command, ctx = root, root.context_class(root, info_name="interfacegan")
    for word in argv:
        if word.startswith("-") or not hasattr(command, "get_command"):
            continue
        sub = command.get_command(ctx, word)
        if sub is not None:
            command, ctx = sub, sub.context_class(sub, parent=ctx, info_name=word)
    return ctx


def invoked_command(root: Any, argv: Sequence[str]) -> Any:
    """The command `argv` names below `root` (`invoked_context`)."""
    return invoked_context(root, argv).command


# API parameters that every command having the option passes under its own name: {API parameter: its parameter}
# (`load_model`'s `format` is `sample`'s --format, held as `checkpoint_format`).
COMMON_API_NAMES = {"format": "checkpoint_format"}


def option_flags(command: Any, api_names: Mapping[str, str] | None = None) -> dict[str, str]:
    """{parameter: its option} for `command`'s options (the longest spelling), plus each API parameter of
    `api_names` and COMMON_API_NAMES ({API parameter: the command's parameter}) that the command passes under
    another name."""
    options = [p for p in getattr(command, "params", []) if getattr(p, "param_type_name", "") == "option"]
    flags = {p.name: max(p.opts, key=len) for p in options if p.name and p.opts}
    renamed = {**COMMON_API_NAMES, **(api_names or {})}
    flags.update({api: flags[own] for api, own in renamed.items() if own in flags})
    return flags


def with_option_names(message: str, command: Any, api_names: Mapping[str, str] | None = None) -> str:
    """`message` with the parameters of `command`'s options (and the API parameters of `api_names` and
    COMMON_API_NAMES, see `option_flags`) written as the options: a name in backquotes or with an underscore wherever
    it stands alone as a word, any other name where it opens 'NAME must ...' or reads 'leave NAME unset' (plain words
    such as 'layers' or 'num' stay words elsewhere in a sentence). Paths are left alone."""
    flags = option_flags(command, api_names)
    if not flags:
        return message

    def flag(match: re.Match) -> str:
        return flags[match.group(1)]

    message = re.sub(r"`(\w+)`", lambda m: flags.get(m.group(1), m.group(0)), message)
    underscored = sorted((n for n in flags if "_" in n), key=len, reverse=True)
    plain = sorted((n for n in flags if "_" not in n), key=len, reverse=True)
    if underscored:
        message = re.sub(rf"(?<![\w./-])({'|'.join(map(re.escape, underscored))})(?![\w./-])", flag, message)
    if plain:
        names = "|".join(map(re.escape, plain))
        message = re.sub(rf"(?<![\w./-])({names})(?= must\b)", flag, message)
        message = re.sub(rf"(?<=\bleave )({names})(?= unset\b)", flag, message)
    return message
