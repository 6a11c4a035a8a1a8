"""Semantic directions: the `Boundary` value and its `.npz` format (`boundary`), THE reader of every direction
file (`files`: official `.npy`, stacks with `PATH:I`, GANSpace `.npz`, SeFa folders and their `names.json`), and
SeFa (`sefa`). Learning boundaries from scored samples is `interfacegan.learning`."""

from interfacegan.directions.boundary import Boundary
from interfacegan.directions.files import (
    direction_labels,
    load_direction,
    model_named_by,
    read_directions,
    read_names,
    write_names,
)
from interfacegan.directions.sefa import factorize, sefa_boundaries

__all__ = [
    "Boundary",
    "direction_labels",
    "factorize",
    "load_direction",
    "model_named_by",
    "read_directions",
    "read_names",
    "sefa_boundaries",
    "write_names",
]
