"""Layer selections such as 'all', '0-3,6' or '8-17' for W+ codes and style layers (the official SeFa syntax)."""

from __future__ import annotations

from interfacegan.errors import InterfaceGANError


def _out_of_range(selection, num_layers: int, bad: str) -> InterfaceGANError:
    return InterfaceGANError(
        f"layer(s) {bad} out of range in {str(selection)[:80]!r}: this model has layers 0-{num_layers - 1}"
    )


def _bad_syntax(selection) -> InterfaceGANError:
    return InterfaceGANError(
        f"bad layer selection {str(selection)[:80]!r}: use 'all' or indices and ranges like '0-3,6'"
    )


def parse_layers(selection: str | int | list[int] | tuple[int, ...] | None, num_layers: int) -> tuple[int, ...]:
    """Turn a layer selection into sorted unique indices in [0, num_layers); None or 'all' selects every layer.

    Every index and range end is checked against `num_layers` before the range is expanded, so a selection
    such as '0-100000000' is refused at once instead of building a list of a hundred million indices.
    """
    num_layers = int(num_layers)
    if selection is None or (isinstance(selection, str) and selection.strip().lower() in ("", "all")):
        return tuple(range(num_layers))
    chosen: set[int] = set()
    if isinstance(selection, (int, list, tuple)) and not isinstance(selection, bool):
        items = [selection] if isinstance(selection, int) else list(selection)
        try:
            indices = [int(i) for i in items]
        except (TypeError, ValueError, OverflowError):
            raise _bad_syntax(selection) from None
        bad = [i for i in indices if not 0 <= i < num_layers]
        if bad:
            shown = ", ".join(str(i) for i in bad[:8]) + (f", ... ({len(bad)} in all)" if len(bad) > 8 else "")
            raise _out_of_range(selection, num_layers, f"[{shown}]")
        return tuple(sorted(set(indices)))
    for part in str(selection).split(","):
        part = part.strip()
        try:
            if "-" in part:
                lo, hi = (int(p) for p in part.split("-", 1))
                if hi < lo:
                    raise ValueError
            else:
                lo = hi = int(part)
        except ValueError:  # also digit strings too long to convert
            raise _bad_syntax(selection) from None
        if lo < 0 or hi >= num_layers:
            raise _out_of_range(selection, num_layers, part)
        chosen.update(range(lo, hi + 1))  # at most num_layers indices
    return tuple(sorted(chosen))


def format_layers(indices: tuple[int, ...] | list[int]) -> str:
    """Inverse of parse_layers for display and metadata: (0,1,2,3,6) -> '0-3,6'."""
    indices = sorted(set(indices))
    parts: list[str] = []
    start = prev = None
    for i in indices:
        if start is None:
            start = prev = i
        elif i == prev + 1:
            prev = i
        else:
            parts.append(f"{start}" if start == prev else f"{start}-{prev}")
            start = prev = i
    if start is not None:
        parts.append(f"{start}" if start == prev else f"{start}-{prev}")
    return ",".join(parts)
