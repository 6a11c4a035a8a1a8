"""The analyses `analyze_run` knows, in report order: every `Analysis` subclass imported below, one line each.

Adding an analysis is one new module in `analysis/steps/` (an `Analysis` subclass, see `analysis.base`) and one
import line here; `interfacegan analyze NAME` and `analyze_run(analyses=[NAME])` pick it up from this registry.
"""

# ruff: noqa: F401  (the analyses below are used through the module's namespace, in import order)
from __future__ import annotations

from typing import Sequence

from interfacegan.analysis.base import Analysis
from interfacegan.errors import InterfaceGANError

# ---- one line per analysis, in the order they run and appear in the report ----
# isort: off
from interfacegan.analysis.steps.separability import Separability
from interfacegan.analysis.steps.correlation import AttributeCorrelation
from interfacegan.analysis.steps.boundaries import BoundaryCorrelation
from interfacegan.analysis.steps.rescore import Rescoring
from interfacegan.analysis.steps.layers import LayerwiseRescoring
from interfacegan.analysis.steps.identity import IdentityDiscrepancy
from interfacegan.analysis.steps.distance import DistanceEffect
from interfacegan.analysis.steps.sefa_levels import SefaLevels
from interfacegan.analysis.steps.sefa import MethodComparison
# isort: on
# ---- end of the list ----

# Every Analysis subclass imported above, in import order (module globals keep it); nothing else is registered.
REGISTRY: tuple[Analysis, ...] = tuple(
    value() for value in list(globals().values())
    if isinstance(value, type) and issubclass(value, Analysis) and value is not Analysis
)  # fmt: skip
ANALYSES: tuple[str, ...] = tuple(a.name for a in REGISTRY)


def get_analyses(names: Sequence[str] | None = None) -> list[Analysis]:
    """The registered analyses named (all when `names` is None or empty), in registry order; a one-line error
    for an unknown name."""
    unknown = [n for n in names or () if n not in ANALYSES]
    if unknown:
        raise InterfaceGANError(f"unknown analysis {unknown[0]!r}: choose from {', '.join(ANALYSES)}")
    return [a for a in REGISTRY if not names or a.name in names]
