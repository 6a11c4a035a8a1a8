"""Layer selections such as 'all', '0-3,6' or '8-17' for W+ codes and style layers (the official SeFa syntax)."""

from __future__ import annotations

from interfacegan.errors import InterfaceGANError


def parse_layers(selection: str | int | list[int] | tuple[int, ...] | None, num_layers: int) -> tuple[int, ...]:
    """Turn a layer selection into sorted unique indices in [0, num_layers); None or 'all' selects every layer."""
    if selection is None or (isinstance(selection, str) and selection.strip().lower() in ("", "all")):
        return tuple(range(num_layers))
    if isinstance(selection, int):
        indices = [selection]
    elif isinstance(selection, (list, tuple)):
        indices = [int(i) for i in selection]
    else:
        indices = []
        for part in str(selection).split(","):
            part = part.strip()
            try:
                if "-" in part:
                    lo, hi = (int(p) for p in part.split("-", 1))
                    if hi < lo:
                        raise ValueError
                    indices.extend(range(lo, hi + 1))
                else:
                    indices.append(int(part))
            except ValueError:
                raise InterfaceGANError(
                    f"bad layer selection {selection!r}: use 'all' or indices and ranges like '0-3,6'"
                ) from None
    bad = [i for i in indices if not 0 <= i < num_layers]
    if bad:
        raise InterfaceGANError(
            f"layer(s) {bad} out of range in {selection!r}: this model has layers 0-{num_layers - 1}"
        )
    return tuple(sorted(set(indices)))


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
