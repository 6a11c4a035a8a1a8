"""Checks of the numbers that enter the API: finite, in range, whole; each failure is one line naming the parameter.

Public functions that take a number or an array of codes from a user check it here on entry, before any work,
so NaN, inf, negative counts or seeds never reach the math or a file. Messages name the API's parameter (e.g.
"lr must be positive, got nan"); the command line may add its flag. Each check returns the value as the type the
caller computes with (float, int, float array).

    finite(name, x)            a finite real number
    positive(name, x)          finite and > 0          non_negative(name, x)   finite and >= 0
    in_range(name, x, lo, hi)  finite and in [lo, hi] (either end open with low_open / high_open)
    integer(name, x, lo, hi)   a whole number in [lo, hi] (either bound None: unbounded)
    positive_int(name, x, hi)  a whole number >= 1 (and <= hi)
    seed(x)                    a whole number in [0, MAX_SEED] (what numpy and torch both accept)
    finite_array(name, a)      a numeric array without NaN or inf (cast to a float dtype within its range)
    UNSET                      the default of a checker's argument that was not given (None given is checked)
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from interfacegan.errors import InterfaceGANError

MAX_SEED = 2**63 - 1  # numpy takes any seed >= 0, torch.manual_seed at most 2**64 - 1; int64 holds this one
MAX_BATCH = 4096  # images of one training batch, held in memory with their activations and gradients
MAX_PAIRS = 100_000  # translator training pairs, held in memory as image pairs


class _Unset:
    """The type of UNSET: a checker's argument that was not given (None given is a bad value, not an absent one)."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


def finite(name: str, value) -> float:
    """`value` as a float; one line unless it is a finite real number (bool is not a number; a 0-d array is)."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InterfaceGANError(f"{name} must be a number, got {value!r:.60}")
    value = float(value)
    if not math.isfinite(value):
        raise InterfaceGANError(f"{name} must be a finite number, got {value}")
    return value


def positive(name: str, value) -> float:
    """`value` as a float; one line unless it is finite and > 0."""
    value = finite(name, value)
    if not value > 0:
        raise InterfaceGANError(f"{name} must be positive, got {value:g}")
    return value


def non_negative(name: str, value) -> float:
    """`value` as a float; one line unless it is finite and >= 0."""
    value = finite(name, value)
    if value < 0:
        raise InterfaceGANError(f"{name} must be >= 0, got {value:g}")
    return value


def in_range(name: str, value, low: float, high: float, low_open: bool = False, high_open: bool = False) -> float:
    """`value` as a float; one line unless it is finite and within [low, high] (open ends as asked)."""
    value = finite(name, value)
    too_low = value <= low if low_open else value < low
    too_high = value >= high if high_open else value > high
    if too_low or too_high:
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise InterfaceGANError(f"{name} must be in {interval}, got {value:g}")
    return value


def integer(name: str, value, low: int | None = None, high: int | None = None) -> int:
    """`value` as an int; one line unless it is a whole number (an integral float counts) within [low, high]."""
    whole = isinstance(value, numbers.Integral) or (isinstance(value, numbers.Real) and float(value).is_integer())
    if isinstance(value, bool) or not whole:
        raise InterfaceGANError(f"{name} must be a whole number, got {value!r:.60}")
    value = int(value)
    if low is not None and high is not None and not low <= value <= high:
        raise InterfaceGANError(f"{name} must be in [{low}, {high}], got {value}")
    if low is not None and value < low:
        raise InterfaceGANError(f"{name} must be {'positive' if low == 1 else f'>= {low}'}, got {value}")
    if high is not None and value > high:
        raise InterfaceGANError(f"{name} must be <= {high}, got {value}")
    return value


def positive_int(name: str, value, high: int | None = None) -> int:
    """`value` as an int; one line unless it is a whole number >= 1 (and <= `high`, when given: 'must be <= high')."""
    return integer(name, integer(name, value, low=1), high=high)


def seed(value, name: str = "seed") -> int:
    """`value` as an int; one line unless it is a whole number in [0, MAX_SEED]."""
    value = integer(name, value)
    if not 0 <= value <= MAX_SEED:
        raise InterfaceGANError(f"{name} must be a whole number from 0 to 2**63 - 1, got {value}")
    return value


def finite_array(name: str, array, dtype=None) -> np.ndarray:
    """`array` as a numpy array; one line unless it holds numbers, none of them NaN or inf. With a float `dtype`, the
    array is returned cast to it, and values beyond its range (1e300 as float32) are refused too, not made inf."""
    array = np.asarray(array)
    if array.dtype.kind not in "biuf":
        raise InterfaceGANError(f"{name} must hold numbers, got {array.dtype} values")
    if array.dtype.kind == "f":
        bad = int(array.size - np.count_nonzero(np.isfinite(array)))
        if bad:
            raise InterfaceGANError(f"{name} must be finite: {bad} of {array.size} values are NaN or inf")
    if dtype is not None:
        with np.errstate(over="ignore"):
            cast = array.astype(dtype, copy=False)
        bad = int(cast.size - np.count_nonzero(np.isfinite(cast)))
        if bad:
            raise InterfaceGANError(f"{name} must be within +-{np.finfo(dtype).max:.3g} ({np.dtype(dtype).name}): "
                                    f"{bad} of {array.size} values are beyond it")  # fmt: skip
        array = cast
    return array
