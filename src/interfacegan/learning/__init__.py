"""Boundary learning: sample selection (`selection`), the linear SVM (`solver`), `BoundaryTrainer` and
`train_boundaries` (`trainer`), the one way every command learns boundaries from a scored run."""

from interfacegan.learning.selection import Selection, select_samples
from interfacegan.learning.solver import SOLVERS, SVMFit, fit_linear_svm
from interfacegan.learning.trainer import BoundaryTrainer, boundary_path, default_boundary_dir, train_boundaries

__all__ = [
    "SOLVERS",
    "BoundaryTrainer",
    "SVMFit",
    "Selection",
    "boundary_path",
    "default_boundary_dir",
    "fit_linear_svm",
    "select_samples",
    "train_boundaries",
]
